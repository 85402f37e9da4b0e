"""The computation graph of the notes' single neuron and the vector-Jacobian products backward() runs.

Notes 002 decompose the ridge loss of one sigmoid neuron as

    z = w x + b,  u = sigma(z),  l = 0.5 (y - u)^2,  r = w^2,  L = l + lambda r

and run BACKWARD from L: dL/du = u - y, dL/dz = dL/du sigma'(z),
dL/dw = dL/dz x + lambda 2 w, dL/db = dL/dz. chainrule records the same graph
while the forward runs; ``chainrule.viz.graph`` draws it (Graphviz DOT text,
rendered only where Graphviz's ``dot`` is installed).
"""

import math
import shutil

from _common import Tutorial

import chainrule as cr


def main():
    out = Tutorial("computation_graph")
    x, y, lam = 1.5, 0.25, 0.1
    w = cr.tensor(0.8, dtype=cr.float64, requires_grad=True)
    b = cr.tensor(-0.3, dtype=cr.float64, requires_grad=True)

    z = w * x + b
    u = cr.sigmoid(z)
    l = 0.5 * (y - u) ** 2
    r = w**2
    L = l + lam * r
    out.print(f"L = {L.item():.12f}   L.grad_fn = {L.grad_fn}")
    out.print("edges from L back to the leaves (grad_fn.next_functions):")
    out.print(f"  {L.grad_fn} -> {[str(fn) for fn, _ in L.grad_fn.next_functions]}")

    drawing = cr.viz.graph(L, params={"w": w, "b": b}, show_backward=True)
    dot_path = out.figure("neuron_graph.dot")
    dot_path.write_text(drawing.source)
    out.print(f"DOT source: {len(drawing.source.splitlines())} lines, written to images/tutorials/{dot_path.name}")
    if shutil.which("dot"):
        drawing.render(out.figure("neuron_graph.svg"))
        out.print("rendered images/tutorials/neuron_graph.svg with Graphviz")
    else:
        out.print("Graphviz's dot is not installed: the DOT source is shown instead of a picture")

    L.backward()
    # The notes' BACKWARD, written out: each line is one vector-Jacobian product.
    s = 1 / (1 + math.exp(-(0.8 * x - 0.3)))
    dL_du = s - y
    dL_dz = dL_du * s * (1 - s)
    dL_dw = dL_dz * x + lam * 2 * 0.8
    dL_db = dL_dz
    out.print(f"dL/dw: backward() {w.grad.item():.15f}   notes' formula {dL_dw:.15f}")
    out.print(f"dL/db: backward() {b.grad.item():.15f}   notes' formula {dL_db:.15f}")
    out.check(
        abs(w.grad.item() - dL_dw) < 1e-12 and abs(b.grad.item() - dL_db) < 1e-12,
        "backward() gives the notes' dL/dw and dL/db to 1e-12",
    )
    out.check(
        "digraph" in drawing.source and "Backward" in drawing.source,
        "the DOT source draws the forward graph and its backward pass",
    )
    out.finish()


if __name__ == "__main__":
    main()
