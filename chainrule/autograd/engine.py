"""The backward pass: the chain rule over the recorded graph, in reverse topological order.

Each node's ``backward`` turns the gradient of its output into gradients of its
inputs (a vector-Jacobian product). The walk is iterative, so graph depth is
not limited by Python's recursion limit. Gradients arriving at the same node
from several consumers are summed before the node runs; gradients reaching a
leaf are accumulated into its ``.grad``. Tensor hooks (``register_hook``,
``retain_grad``, post-accumulate hooks; see ``hooks.py``) run as the summed
gradients arrive, and callbacks queued during a pass (:func:`queue_callback`)
run when it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from heapq import heappop, heappush

import numpy as np

from chainrule.autograd.function import _RELEASED, Node, _check_finite, refresh_view
from chainrule.autograd.grad_mode import GradMode
from chainrule.autograd.hooks import run_hooks
from chainrule.backend import array_module, is_writable, on_device_of
from chainrule.tensor import Tensor

# Callbacks for the end of the backward pass now running in this thread (None outside one).
_backward_state = threading.local()


def queue_callback(callback) -> None:
    """Run ``callback()`` once the backward pass now running has finished (PyTorch's engine.queue_callback).

    Hooks use it to act once every gradient is in place (data parallel: wait
    for the last allreduce).
    """
    callbacks = getattr(_backward_state, "final_callbacks", None)
    if callbacks is None:
        raise RuntimeError("queue_callback: final callbacks can only be installed during the backward pass")
    callbacks.append(callback)


def backward(tensors: Sequence[Tensor], grad_tensors=None, retain_graph=None, create_graph=False) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves they depend on.

    ``tensors`` is one tensor or a sequence; ``grad_tensors`` one gradient per tensor (None for a one-element tensor).

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.autograd.backward([(x * x).sum(), (3 * x).sum()])
    >>> x.grad
    tensor([5., 7.], shape=(2,), dtype=float32)
    """
    roots = _roots(tensors, grad_tensors, "backward")
    _run(roots, retain_graph=create_graph if retain_graph is None else retain_graph, create_graph=create_graph)


def tensor_backward(self: Tensor, gradient=None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """``Tensor.backward``: accumulate d(self)/d(leaf), times ``gradient``, into ``.grad`` of every leaf that requires grad.

    ``gradient`` may be omitted for a one-element tensor (it is then 1).

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> (x ** 2).sum().backward()
    >>> x.grad
    tensor([2., 4.], shape=(2,), dtype=float32)
    >>> y = x * 3
    >>> y.backward(cr.tensor([1.0, 0.0]))
    >>> x.grad
    tensor([5., 4.], shape=(2,), dtype=float32)
    """
    backward([self], None if gradient is None else [gradient], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Return d(outputs)/d(inputs) (times ``grad_outputs``) without touching any ``.grad``.

    With ``create_graph=True`` the returned gradients are part of a graph and can
    be differentiated again (Hessian-vector products, gradient penalties).

    Returns a tuple with one gradient per input (each of that input's shape).

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = cr.autograd.grad((x ** 3).sum(), x, create_graph=True)
    >>> g
    tensor([ 3., 12.], shape=(2,), dtype=float32, grad_fn=<PowScalarBackwardBackward>)
    >>> cr.autograd.grad(g.sum(), x)
    (tensor([ 6., 12.], shape=(2,), dtype=float32),)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single_input = isinstance(inputs, Tensor)
    inputs = [inputs] if single_input else list(inputs)
    if grad_outputs is not None and isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x._requires_grad:
            raise RuntimeError(f"autograd.grad: input {i} does not require grad")
    roots = _roots(outputs, grad_outputs, "autograd.grad")
    captured = _run(
        roots,
        retain_graph=create_graph if retain_graph is None else retain_graph,
        create_graph=create_graph,
        inputs=inputs,
    )
    for i, value in enumerate(captured):
        if value is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {i} (shape {inputs[i].shape}) was not used in the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return tuple(captured)


def _roots(tensors, grad_tensors, caller: str):
    """Pair each output with the gradient that starts the walk from it."""
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise RuntimeError(f"{caller}: got {len(tensors)} outputs but {len(grad_tensors)} gradients")
    roots = []
    for i, (tensor, gradient) in enumerate(zip(tensors, grad_tensors)):
        view = tensor._view
        if view is not None and view.source is not view.base.grad_fn:
            refresh_view(tensor)
        if not tensor._requires_grad:
            raise RuntimeError(
                f"{caller}: output {i} does not require grad and has no grad_fn "
                "(was it computed under no_grad, or from tensors that do not require grad?)"
            )
        if gradient is None:
            if tensor.numel() != 1:
                raise RuntimeError(
                    f"{caller}: grad can be implicitly created only for scalar outputs, but output {i} has "
                    f"shape {tensor.shape}; pass a gradient of that shape"
                )
            with on_device_of(tensor._data):
                gradient = Tensor._wrap(array_module(tensor._data).ones(tensor.shape, dtype=tensor.dtype))
        elif not isinstance(gradient, Tensor):
            gradient = Tensor(gradient)
        if gradient.shape != tensor.shape:
            raise RuntimeError(
                f"{caller}: gradient of shape {gradient.shape} does not match output {i} of shape {tensor.shape}"
            )
        roots.append((tensor, gradient))
    return roots


def _run(roots, retain_graph: bool, create_graph: bool, inputs=None):
    """Propagate the root gradients; capture those of ``inputs`` if given, else fill leaf ``.grad``.

    Nodes are numbered as they are recorded and every node is recorded after
    the nodes of its inputs, so running the pending node with the highest
    number first visits each node after all of its consumers: a topological
    order with no separate traversal.
    """
    capture = _Capture(inputs) if inputs is not None else None
    if capture is not None:
        capture.mark_useful([t.grad_fn for t, _ in roots if t.grad_fn is not None])
    pending: dict[Node, list] = {}
    ready: list = []  # heap of (-sequence_nr, node)
    stored: set[int] = set()  # arrays stored into some .grad during this pass
    outer_callbacks = getattr(_backward_state, "final_callbacks", None)
    _backward_state.final_callbacks = final_callbacks = []
    previous_mode = GradMode.enabled
    GradMode.enabled = create_graph
    try:
        for tensor, gradient in roots:
            stored.add(id(gradient._data))
            if tensor.grad_fn is None:
                _deliver(tensor, gradient, capture, create_graph, stored)
            else:
                _add_pending(pending, ready, tensor.grad_fn, tensor._output_nr, gradient)
        anomaly = GradMode.anomaly
        while ready:  # the hot loop of backward: one pass per node, kept inline
            node = heappop(ready)[1]
            grad_outputs = pending.pop(node)
            if node.hooks is not None:
                grad_outputs = node.hooks.run(grad_outputs, create_graph)
            if capture is not None:
                capture.take_from_node(node, grad_outputs)
                if not capture.needs_backward(node):
                    continue
            grads = _node_backward(node, grad_outputs, anomaly)
            if not retain_graph:
                node.saved = _RELEASED  # frees what forward saved
            for edge, gradient in zip(node.next_edges, grads):
                if edge is None or gradient is None:
                    continue
                target, output_nr = edge
                if isinstance(target, Node):
                    slots = pending.get(target)
                    if slots is None:
                        slots = pending[target] = [None] * target.num_outputs
                        heappush(ready, (-target.sequence_nr, target))
                    previous = slots[output_nr]
                    slots[output_nr] = gradient if previous is None else previous + gradient
                else:
                    if gradient.shape != target.shape:
                        raise RuntimeError(
                            f"{node.name} backward: gradient of shape {gradient.shape} for an input of shape "
                            f"{target.shape}"
                        )
                    _deliver(target, gradient, capture, create_graph, stored)
        while final_callbacks:  # queued by hooks; a callback may queue more
            final_callbacks.pop(0)()
    finally:
        GradMode.enabled = previous_mode
        _backward_state.final_callbacks = outer_callbacks
    return capture.results if capture is not None else None


def _node_backward(node, grad_outputs, anomaly: bool) -> tuple:
    """One node's vector-Jacobian product: a gradient (or None) for each of its inputs."""
    first = grad_outputs[0]
    if first is None:  # a multi-output node, some of whose outputs got no gradient
        first = next(g for g in grad_outputs if g is not None)
    if type(first._data) is not np.ndarray:  # a device's: run where the gradient lives
        with on_device_of(first._data):
            grads = _backward_of(node, grad_outputs, anomaly)
    else:
        grads = _backward_of(node, grad_outputs, anomaly)
    if type(grads) is not tuple:
        grads = (grads,)
    if len(grads) != len(node.next_edges):
        raise RuntimeError(
            f"{node.name} backward returned {len(grads)} gradients but the op has {len(node.next_edges)} inputs"
        )
    return grads


def _backward_of(node, grad_outputs, anomaly: bool):
    if len(grad_outputs) > 1 and any(g is None for g in grad_outputs):
        grad_outputs = _materialize(node, grad_outputs)
    if anomaly:
        return _checked_backward(node, grad_outputs)
    try:
        return type(node).backward(node, *grad_outputs)
    except (ValueError, IndexError, TypeError) as exc:
        raise type(exc)(f"{node.name} backward: {exc}") from exc


def _checked_backward(node, grad_outputs):
    """The node's backward under detect_anomaly: a NaN made inside it is reported as this node's."""
    GradMode.anomaly = False
    try:
        grads = type(node).backward(node, *grad_outputs)
    finally:
        GradMode.anomaly = True
    _check_anomaly(node, grads if type(grads) is tuple else (grads,))
    return grads


def _add_pending(pending, ready, node, output_nr, gradient) -> None:
    slots = pending.get(node)
    if slots is None:
        slots = pending[node] = [None] * node.num_outputs
        heappush(ready, (-node.sequence_nr, node))
    slots[output_nr] = gradient if slots[output_nr] is None else slots[output_nr] + gradient


def _deliver(leaf: Tensor, gradient: Tensor, capture, create_graph: bool, stored: set) -> None:
    """Accumulate into ``leaf.grad`` (or into the captured result for autograd.grad)."""
    hooks = leaf._hooks
    if hooks is not None and hooks.before:
        gradient = run_hooks(hooks.before, gradient)
    if capture is not None:
        capture.take_from_leaf(leaf, gradient)
        return
    _accumulate(leaf, gradient, create_graph, stored)
    if hooks is not None and hooks.after:
        for hook in list(hooks.after.values()):
            hook(leaf)


def _accumulate(leaf: Tensor, gradient: Tensor, create_graph: bool, stored: set) -> None:
    if not create_graph:
        gradient = _owned_gradient(leaf, gradient, stored)
    if leaf.grad is None:
        leaf.grad = gradient
    elif create_graph or leaf.grad.grad_fn is not None:
        leaf.grad = leaf.grad + gradient
    else:
        accumulated = leaf.grad._data
        accumulated += gradient._data


def _owned_gradient(leaf: Tensor, gradient: Tensor, stored: set) -> Tensor:
    """A detached gradient whose array no other ``.grad`` shares and that can be written in place."""
    array = gradient._data
    owner = array if array.base is None else array.base
    # A copy when the array is shared, read-only (a broadcast view), transposed or of another dtype:
    # later in-place accumulation and optimizer steps then run on an owned, C-ordered array.
    flags = array.flags
    if id(owner) in stored or not is_writable(array) or not flags.c_contiguous or array.dtype != leaf.dtype:
        array = array.astype(leaf.dtype, copy=True)
        owner = array
    stored.add(id(owner))
    return Tensor._wrap(array) if gradient.grad_fn is not None or gradient._data is not array else gradient


def _materialize(node, grad_outputs):
    """Outputs that received no gradient get zeros (only multi-output Functions need this)."""
    template = next(g for g in grad_outputs if g is not None)
    shapes = getattr(node, "output_shapes", None)
    return [
        g
        if g is not None
        else Tensor._wrap(array_module(template._data).zeros(shapes[i] if shapes else template.shape, template.dtype))
        for i, g in enumerate(grad_outputs)
    ]


def _check_anomaly(node, grads) -> None:
    try:
        _check_finite(node.name, "gradient computed by the backward", [g._data for g in grads if g is not None])
    except RuntimeError as exc:
        stack = getattr(node, "creation_stack", "")
        raise RuntimeError(f"{exc}\nThe forward call that created this node:\n{stack}") from None


def _post_order(roots, visit) -> None:
    """Call ``visit(node)`` on every node reachable from ``roots``, children first (no recursion)."""
    visited = set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.next_edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if edge is not None:
                    child = edge[0]
                    if child not in visited and isinstance(child, Node):
                        visited.add(child)
                        stack.append((child, iter(child.next_edges)))
                        break
            else:
                stack.pop()
                visit(node)


class _Capture:
    """What autograd.grad collects: the total gradient reaching each requested input."""

    def __init__(self, inputs):
        self.results = [None] * len(inputs)
        self.leaf_slots = {}
        self.node_slots = {}
        for i, x in enumerate(inputs):
            if x.grad_fn is None:
                self.leaf_slots.setdefault(id(x), []).append(i)
            else:
                self.node_slots.setdefault((x.grad_fn, x._output_nr), []).append(i)
        self.useful = set()  # nodes whose backward leads to a requested input

    def mark_useful(self, roots) -> None:
        _post_order(roots, self.note_reachability)

    def note_reachability(self, node) -> None:
        # Called in post-order, so every child has been classified already.
        for edge in node.next_edges:
            if edge is None:
                continue
            target, output_nr = edge
            if isinstance(target, Node):
                if target in self.useful or (target, output_nr) in self.node_slots:
                    self.useful.add(node)
                    return
            elif id(target) in self.leaf_slots:
                self.useful.add(node)
                return

    def needs_backward(self, node) -> bool:
        return node in self.useful

    def take_from_node(self, node, grad_outputs) -> None:
        for output_nr, gradient in enumerate(grad_outputs):
            for i in self.node_slots.get((node, output_nr), ()):
                self._add(i, gradient)

    def take_from_leaf(self, leaf, gradient) -> None:
        for i in self.leaf_slots.get(id(leaf), ()):
            self._add(i, gradient)

    def _add(self, i, gradient) -> None:
        if gradient is not None:
            self.results[i] = gradient if self.results[i] is None else self.results[i] + gradient
