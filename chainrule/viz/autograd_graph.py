"""Drawing the autograd graph that produced a tensor, as Graphviz DOT text.

The drawing is the lecture notes' computation graph: leaves (inputs and
parameters) feed operations, which feed the output. With
``show_backward=True`` it adds the backward pass the engine runs: one
vector-Jacobian product per operation, the gradients flowing between them
(dashed, against the data flow) and the leaves' ``.grad`` where they
accumulate.

    >>> import chainrule as cr
    >>> W = cr.randn(3, 5, requires_grad=True)
    >>> g = cr.viz.graph((cr.randn(4, 3) @ W).relu().sum(), params={"W": W})
    >>> print(g.source)                         # doctest: +SKIP
    >>> g.render("graph.svg")                   # doctest: +SKIP
    PosixPath('graph.svg')

The DOT text is made by this module (no Graphviz Python package); only
``render`` to .svg/.png/.pdf and the notebook preview run Graphviz's ``dot``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule.autograd.function import _OUTPUT, _RELEASED, Node
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import array_module
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

_RENDERED_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg"}
_TEXT_SUFFIXES = {".dot", ".gv"}

# Fill colours by node kind; edge styles by edge kind.
_NODE_STYLES = {
    "op": 'shape=box, style="rounded,filled", fillcolor="#ffffff"',
    "parameter": 'shape=box, style=filled, fillcolor="#cfe2f3"',
    "input": 'shape=box, style=filled, fillcolor="#e6e6e6"',
    "output": 'shape=box, style=filled, fillcolor="#b6d7a8"',
    "saved": 'shape=ellipse, style=filled, fillcolor="#fce5cd", fontsize=9',
    "seed": 'shape=box, style="rounded,filled,dashed", fillcolor="#f4cccc"',
    "vjp": 'shape=box, style="rounded,filled", fillcolor="#f4cccc"',
    "grad": 'shape=box, style="filled,dashed", fillcolor="#cfe2f3"',
}
_EDGE_STYLES = {
    "data": "",
    "saved": 'style=dotted, color="#e69138"',
    "grad": 'style=dashed, color="#cc0000"',
    "accumulate": 'style=dashed, color="#cc0000"',
    "seed": 'style=dashed, color="#cc0000"',
    "pairs": 'style=dotted, color="#999999", arrowhead=none, constraint=false',
}


@dataclass(frozen=True)
class GraphNode:
    """One box of the drawing: ``kind`` is op, parameter, input, output, saved, seed, vjp or grad.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> [node.kind for node in cr.viz.graph(w.exp(), params={"w": w}).nodes]
    ['op', 'parameter', 'output']
    """

    id: str
    label: str
    kind: str


@dataclass(frozen=True)
class GraphEdge:
    """An arrow ``tail -> head``: ``kind`` is data, saved, grad, accumulate, seed or pairs.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> [edge.kind for edge in cr.viz.graph(w.exp(), params={"w": w}).edges]
    ['data', 'data']
    """

    tail: str
    head: str
    kind: str
    label: str = ""


class Graph:
    """A drawn autograd graph: ``source`` (DOT text), ``render(path)``, and an SVG preview in notebooks.

    ``nodes`` and ``edges`` hold the same drawing as data, in the order the
    walk from the output found them (so ids are stable from run to run).

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> drawing = cr.viz.graph((w * w).sum(), params={"w": w})
    >>> len(drawing.nodes), len(drawing.edges), drawing.source.startswith('digraph "chainrule"')
    (4, 4, True)
    """

    def __init__(self, nodes: list[GraphNode], edges: list[GraphEdge], title: str = "chainrule"):
        self.nodes = nodes
        self.edges = edges
        self.title = title
        self._svg: str | None = None

    @property
    def source(self) -> str:
        """The graph as Graphviz DOT text, every label quoted and escaped."""
        lines = [
            f"digraph {_quote(self.title)} {{",
            '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.3, ranksep=0.35];',
            '  node [fontname="Helvetica", fontsize=11, margin="0.12,0.05"];',
            '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];',
        ]
        for node in self.nodes:
            lines.append(f"  {node.id} [label={_quote(node.label)}, {_NODE_STYLES[node.kind]}];")
        for edge in self.edges:
            attributes = [_EDGE_STYLES[edge.kind]] if _EDGE_STYLES[edge.kind] else []
            if edge.label:
                attributes.append(f"label={_quote(edge.label)}")
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            lines.append(f"  {edge.tail} -> {edge.head}{suffix};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Graph: {len(self.nodes)} nodes, {len(self.edges)} edges; .source is DOT, .render(path) draws it>"

    def pipe(self, format: str = "svg") -> bytes:
        """The drawing as bytes in ``format`` (svg, png, pdf), made by Graphviz's ``dot``."""
        command = [_dot_program(), f"-T{format}"]
        result = subprocess.run(command, input=self.source.encode("utf-8"), capture_output=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"Graph: dot -T{format} failed: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout

    def render(self, path: str | Path, format: str | None = None) -> Path:
        """Write the drawing to ``path``: .svg, .png, .pdf through ``dot``; .dot or .gv as DOT text.

        The format follows the suffix unless ``format`` is given. Raises
        RuntimeError when Graphviz is needed but not installed.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if format is None and suffix in _TEXT_SUFFIXES:
            format = "dot"
        if format is None:
            if suffix not in _RENDERED_FORMATS:
                raise ValueError(
                    f"Graph.render: cannot tell the format of {str(path)!r}; use a .svg, .png, .pdf or .dot path "
                    "or pass format="
                )
            format = _RENDERED_FORMATS[suffix]
        path.parent.mkdir(parents=True, exist_ok=True)
        if format in ("dot", "gv"):
            path.write_text(self.source, encoding="utf-8")
        else:
            path.write_bytes(self.pipe(format))
        return path

    def _repr_svg_(self) -> str | None:
        """Jupyter's preview: the SVG when Graphviz is installed (otherwise the notebook shows repr)."""
        if shutil.which("dot") is None:
            return None
        if self._svg is None:
            self._svg = self.pipe("svg").decode("utf-8")
        return self._svg


def _dot_program() -> str:
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError(
            "Graph.render: Graphviz's `dot` program was not found on PATH. Install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda install graphviz), "
            "or write the DOT text with render('graph.dot') or graph.source"
        )
    return program


def _quote(text: str) -> str:
    """A DOT quoted string: backslashes and quotes escaped, newlines as DOT's centred line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n") + '"'


def _describe(shape, dtype) -> str:
    if shape is None:
        return "? (shape unknown)"
    return f"{tuple(shape)} {np.dtype(dtype).name if dtype is not None else ''}".rstrip()


ParamNames = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | Module | None


def _param_names(params: ParamNames) -> dict[int, str]:
    """id(tensor) -> name, from a dict, an iterable of (name, tensor) pairs, or a Module."""
    if params is None:
        return {}
    if isinstance(params, Module):
        params = params.named_parameters()
    items = params.items() if isinstance(params, Mapping) else params
    names: dict[int, str] = {}
    for name, tensor in items:
        names.setdefault(id(tensor), str(name))
    return names


def graph(
    tensor: Tensor | Iterable[Tensor],
    params: ParamNames = None,
    show_backward: bool = False,
    show_saved: bool = False,
    *,
    name: str | None = None,
    infer_shapes: bool = True,
) -> Graph:
    """The autograd graph that produced ``tensor``, drawn as data flows: inputs -> ops -> output.

    Args:
        tensor: the output (or a list of outputs); it must require grad.
        params: names for the leaves: a dict name -> tensor (``dict(model.named_parameters())``),
            pairs, or a Module. Other leaves read "parameter" (an ``nn.Parameter``) or "input".
        show_backward: add the backward pass: a "<Op>Backward: vjp" node per op, dashed
            arrows carrying each gradient (labelled with its shape) from the output's seed
            to the leaves' ``.grad``, where gradients from several uses are summed.
        show_saved: add what each op saved for its backward (dotted arrows).
        name: the label of the output box (default "loss" for a single-element output, else "output").
        infer_shapes: nodes do not keep their outputs (that would keep every activation
            alive), so intermediate shapes are recovered by running each node's
            vector-Jacobian product once on zero gradients, under no_grad: about the
            cost of one backward pass. After ``backward()`` has freed the saved values,
            shapes that cannot be recovered show as "?".

    Walks the graph with an explicit queue (no recursion), so 10,000-op chains draw.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Sequential(cr.nn.Linear(3, 2), cr.nn.ReLU())
        >>> drawing = cr.viz.graph(model(cr.zeros(1, 3)).sum(), params=dict(model.named_parameters()))
        >>> sorted(node.kind for node in drawing.nodes)
        ['op', 'op', 'op', 'output', 'parameter', 'parameter']
    """
    roots = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for i, root in enumerate(roots):
        if not isinstance(root, Tensor):
            raise TypeError(f"graph: expected Tensors, got {type(root).__name__} at position {i}")
        if not root.requires_grad:
            raise ValueError(
                f"graph: output {i} (shape {root.shape}) has no autograd graph: it does not require grad "
                "(was it computed under no_grad, or from tensors that do not require grad?)"
            )
    found = _walk(roots)
    metas = _output_metas(found, roots, infer_shapes)
    return _Drawer(roots, found, metas, _param_names(params), name).draw(show_backward, show_saved)


def _walk(roots: list[Tensor]) -> list:
    """Every node and leaf reachable from ``roots``, breadth-first from the outputs (no recursion)."""
    found: list = []
    seen: set[int] = set()
    queue = deque(root.grad_fn if root.grad_fn is not None else root for root in roots)
    while queue:
        item = queue.popleft()
        if id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, Node):
            for edge in item.next_edges:
                if edge is not None and id(edge[0]) not in seen:
                    queue.append(edge[0])
    return found


def _output_metas(found: list, roots: list[Tensor], infer: bool) -> dict[int, list]:
    """id(node) -> [(shape, dtype) or None per output], from the roots, saved outputs and a dry-run backward."""
    nodes = [item for item in found if isinstance(item, Node)]
    metas = {id(node): [None] * node.num_outputs for node in nodes}
    for node in nodes:
        shapes = getattr(node, "output_shapes", None)
        if shapes is not None:
            metas[id(node)] = [(shape, None) for shape in shapes]
        if node.saved is not _RELEASED:
            for kind, value, output_nr in node.saved:
                if kind is _OUTPUT:
                    metas[id(node)][output_nr] = (value.shape, value.dtype)
    for root in roots:
        if root.grad_fn is not None:
            metas[id(root.grad_fn)][root._output_nr] = (root.shape, root.dtype)
    if infer:
        _dry_run(nodes, metas, array_module(roots[0]._data))
    return metas


def _dry_run(nodes: list[Node], metas: dict[int, list], xp) -> None:
    """Fill unknown output shapes with the shapes of the gradients each consumer's backward returns.

    Nodes run from the most recent to the oldest (decreasing ``sequence_nr``),
    so every consumer of a node runs before it: the engine's own order.
    """
    with no_grad(), np.errstate(all="ignore"):
        for node in sorted(nodes, key=lambda n: -getattr(n, "sequence_nr", 0)):
            slots = metas[id(node)]
            if any(slot is None for slot in slots):
                continue
            dtype = next((d for _, d in slots if d is not None), np.float32)
            grad_outputs = [Tensor._wrap(xp.zeros(shape, dtype=d or dtype)) for shape, d in slots]
            try:
                grads = type(node).backward(node, *grad_outputs)
            except Exception:  # freed saved values or a backward that fails on zeros: shapes stay unknown
                continue
            grads = grads if isinstance(grads, tuple) else (grads,)
            for edge, gradient in zip(node.next_edges, grads):
                if edge is None or not isinstance(gradient, Tensor) or not isinstance(edge[0], Node):
                    continue
                target_slots = metas[id(edge[0])]
                known = target_slots[edge[1]]
                if known is None or known[1] is None:
                    shape = known[0] if known is not None else gradient.shape
                    target_slots[edge[1]] = (shape, gradient.dtype)


class _Drawer:
    """Turns the walked graph into GraphNodes and GraphEdges with ids in visiting order."""

    def __init__(self, roots, found, metas, names: dict[int, str], output_name: str | None):
        self.roots = roots
        self.found = found
        self.metas = metas
        self.names = names
        self.output_name = output_name
        self.nodes: list[GraphNode] = []
        self.edges: list[GraphEdge] = []
        self.ids: dict[int, str] = {}

    def add_node(self, kind: str, label: str) -> str:
        node_id = f"n{len(self.nodes)}"
        self.nodes.append(GraphNode(node_id, label, kind))
        return node_id

    def add_edge(self, tail: str, head: str, kind: str, label: str = "") -> None:
        self.edges.append(GraphEdge(tail, head, kind, label))

    def draw(self, show_backward: bool, show_saved: bool) -> Graph:
        for item in self.found:
            self.ids[id(item)] = self.add_node(*self.forward_box(item))
        for item in self.found:
            if isinstance(item, Node):
                for edge in item.next_edges:
                    if edge is not None:
                        label = f"[{edge[1]}]" if isinstance(edge[0], Node) and edge[0].num_outputs > 1 else ""
                        self.add_edge(self.ids[id(edge[0])], self.ids[id(item)], "data", label)
        outputs = [self.draw_output(i, root) for i, root in enumerate(self.roots)]
        if show_saved:
            self.draw_saved()
        if show_backward:
            self.draw_backward(outputs)
        return Graph(self.nodes, self.edges)

    def forward_box(self, item) -> tuple[str, str]:
        if isinstance(item, Node):
            described = [
                _describe(*meta) if meta is not None else _describe(None, None) for meta in self.metas[id(item)]
            ]
            label = "\n".join([item.name, *described])
            if item.saved is _RELEASED:
                label += "\n(saved values freed)"
            return "op", label
        return self.leaf_kind(item), f"{self.leaf_name(item)}\n{_describe(item.shape, item.dtype)}"

    def leaf_name(self, leaf: Tensor) -> str:
        if id(leaf) in self.names:
            return self.names[id(leaf)]
        return "parameter" if self.leaf_kind(leaf) == "parameter" else "input"

    def leaf_kind(self, leaf: Tensor) -> str:
        return "parameter" if id(leaf) in self.names or isinstance(leaf, Parameter) else "input"

    def draw_output(self, index: int, root: Tensor) -> str:
        label = self.output_name or ("loss" if root.numel() == 1 else "output")
        if len(self.roots) > 1:
            label = f"{label} {index}"
        output_id = self.add_node("output", f"{label}\n{_describe(root.shape, root.dtype)}")
        producer = root.grad_fn if root.grad_fn is not None else root
        edge_label = f"[{root._output_nr}]" if root.grad_fn is not None and root.grad_fn.num_outputs > 1 else ""
        self.add_edge(self.ids[id(producer)], output_id, "data", edge_label)
        return output_id

    def draw_saved(self) -> None:
        for item in self.found:
            if not isinstance(item, Node) or item.saved is _RELEASED:
                continue
            for kind, value, _ in item.saved:
                if kind is Tensor:  # one of the op's inputs: drawn already if it is part of the graph
                    producer = value.grad_fn if value.grad_fn is not None else value
                    if id(producer) in self.ids:
                        self.add_edge(self.ids[id(producer)], self.ids[id(item)], "saved", "saved")
                        continue
                if kind is _OUTPUT:
                    label = f"saved output\n{_describe(value.shape, value.dtype)}"
                elif kind is Tensor:  # an input that needs no gradient (it has no box of its own)
                    label = f"saved input\n{_describe(value.shape, value.dtype)}"
                elif isinstance(value, Tensor):
                    label = f"saved\n{_describe(value.shape, value.dtype)}"
                else:
                    label = f"saved\n{_short_repr(value)}"
                self.add_edge(self.add_node("saved", label), self.ids[id(item)], "saved")

    def draw_backward(self, outputs: list[str]) -> None:
        """One vjp node per op; gradients flow from each output's seed to the leaves' .grad."""
        vjp_ids: dict[int, str] = {}
        grad_ids: dict[int, str] = {}
        for item in self.found:
            if isinstance(item, Node):
                vjp_ids[id(item)] = self.add_node("vjp", f"{type(item).__name__}Backward: vjp")
                self.add_edge(self.ids[id(item)], vjp_ids[id(item)], "pairs")

        def grad_box(leaf: Tensor) -> str:
            if id(leaf) not in grad_ids:
                grad_ids[id(leaf)] = self.add_node(
                    "grad", f"{self.leaf_name(leaf)}.grad\n{_describe(leaf.shape, leaf.dtype)}\n(accumulated)"
                )
            return grad_ids[id(leaf)]

        for output_id, root in zip(outputs, self.roots):
            seed_text = "1" if root.numel() == 1 else "ones" if root.numel() else "empty"
            seed = self.add_node("seed", f"grad of output = {seed_text}\n{_describe(root.shape, root.dtype)}")
            self.add_edge(output_id, seed, "seed")
            target = vjp_ids[id(root.grad_fn)] if root.grad_fn is not None else grad_box(root)
            self.add_edge(seed, target, "grad", str(tuple(root.shape)))
        for item in self.found:
            if not isinstance(item, Node):
                continue
            for edge in item.next_edges:
                if edge is None:
                    continue
                producer, output_nr = edge
                if isinstance(producer, Node):
                    meta = self.metas[id(producer)][output_nr]
                    label = str(tuple(meta[0])) if meta is not None else "?"
                    self.add_edge(vjp_ids[id(item)], vjp_ids[id(producer)], "grad", label)
                else:
                    self.add_edge(vjp_ids[id(item)], grad_box(producer), "accumulate", str(tuple(producer.shape)))


def _short_repr(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
