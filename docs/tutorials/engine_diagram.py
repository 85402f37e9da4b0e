"""Draw the figure of "How the engine works": a recorded graph, its sequence numbers and the backward order.

The graph is the one chainrule records for loss = sum(relu(x W1 + b1) W2); the
nodes, their ``sequence_nr`` and their edges (``next_functions``) are read from
it, and the backward order is the engine's: highest sequence number first.
Writes images/engine_graph.png (under --out DIR, default docs/).
"""

from _common import Tutorial, pyplot

import chainrule as cr


def record_graph():
    """Nodes (grad_fn or leaf) of a small MLP loss, each with its label and its inputs."""
    x = cr.randn(4, 3)
    W1 = cr.randn(3, 5, requires_grad=True)
    b1 = cr.zeros(5, requires_grad=True)
    W2 = cr.randn(5, 2, requires_grad=True)
    loss = ((x @ W1 + b1).relu() @ W2).sum()
    names = {id(W1): "W1", id(b1): "b1", id(W2): "W2"}
    found, queue = {}, [loss.grad_fn]
    while queue:
        node = queue.pop()
        if id(node) in found:
            continue
        is_leaf = isinstance(node, cr.Tensor)
        label = f"{names[id(node)]}\n(leaf: .grad)" if is_leaf else f"{type(node).__name__}\nseq {node.sequence_nr}"
        inputs = [] if is_leaf else [fn for fn, _ in node.next_functions if fn is not None]
        found[id(node)] = (node, label, inputs)
        queue.extend(inputs)
    return loss, found


def main():
    out = Tutorial("engine_diagram")
    cr.manual_seed(0)
    loss, found = record_graph()
    ops = sorted((n for n, _, _ in found.values() if not isinstance(n, cr.Tensor)), key=lambda n: n.sequence_nr)
    leaves = [n for n, _, _ in found.values() if isinstance(n, cr.Tensor)]
    # Ops left to right by recording order; leaves below the op that consumes them.
    position = {id(op): (2.2 * i, 2.0) for i, op in enumerate(ops)}
    for leaf in leaves:
        consumer = next(op for op in ops if any(fn is leaf for fn, _ in op.next_functions))
        cx, _ = position[id(consumer)]
        position[id(leaf)] = (cx - 0.9, 0.3)
    plt = pyplot()
    figure, ax = plt.subplots(figsize=(11, 3.6))
    for key, (node, label, inputs) in found.items():
        x, y = position[key]
        colour = "#cfe2f3" if isinstance(node, cr.Tensor) else "#ffffff"
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=9,
            bbox=dict(boxstyle="round", facecolor=colour, edgecolor="#444444"),
        )
        for source in inputs:  # data flows from the input's node to this one
            sx, sy = position[id(source)]
            ax.annotate(
                "",
                xy=(x - 0.55, y),
                xytext=(sx + 0.55 if sy == y else sx, sy + (0 if sy == y else 0.3)),
                arrowprops=dict(arrowstyle="->", color="#444444"),
            )
    for step, op in enumerate(reversed(ops), 1):  # the engine pops the highest sequence number first
        x, y = position[id(op)]
        ax.text(x, y + 0.75, f"backward step {step}", ha="center", color="#cc0000", fontsize=9)
    ax.set_xlim(-1.8, 2.2 * len(ops) - 0.6)
    ax.set_ylim(-0.3, 3.1)
    ax.set_axis_off()
    ax.set_title(
        "loss = sum(relu(x W1 + b1) W2): nodes in recording order; backward runs them from the right", fontsize=10
    )
    figure.tight_layout()
    path = out.image_dir.parent / "engine_graph.png"
    figure.savefig(path, dpi=90)
    order = [type(op).__name__ for op in reversed(ops)]
    out.print("backward order (highest sequence number first):", " -> ".join(order))
    out.check(
        all(
            op.sequence_nr > fn.sequence_nr
            for op in ops
            for fn, _ in op.next_functions
            if fn is not None and not isinstance(fn, cr.Tensor)
        ),
        "every node is numbered after the nodes of its inputs",
    )
    out.finish()


if __name__ == "__main__":
    main()
