"""In-place ops in the graph: one mechanism for every ``x.op_(...)``, with PyTorch's rules.

An in-place op is its out-of-place op followed by a write::

    result = op(x_before, ...)      # recorded like any op (x_before: x's old value, as a tensor)
    x.array[...] = result.array     # x keeps its identity and its memory (NumPy views see the change)
    x.version += 1                  # shared with every view of the same memory
    x.grad_fn = result.grad_fn      # "rebase": x now stands for the new value in the graph

What the rules add:

* A value saved for backward remembers its version; backward refuses it if an
  in-place op has changed it since (``Node.saved_tensors``). A node that saved
  its own output is re-pointed at ``x``, so modifying ``x`` again is caught.
  When the op itself needs ``x``'s old value for its gradient (``x.mul_(w)``
  needs it for ``w``), that value is copied first, as PyTorch does.
* A leaf that requires grad may only be changed under ``no_grad`` (optimizer
  steps); ``x.detach()`` and ``x.data`` share its memory and version but not
  its graph, so changing them is always allowed.
* An in-place op on a view changes its base: the base is rebased onto a
  :class:`CopySlices` node (the base with the view's region replaced by the
  new values), and every view of that base remakes its ``grad_fn`` from the
  base before its next use (``function.refresh_view``).
"""

from __future__ import annotations

from collections.abc import Callable

from chainrule.autograd.function import _OUTPUT, Node, Op, _sequence, apply_view_steps, refresh_view, view_of_array
from chainrule.autograd.grad_mode import GradMode
from chainrule.autograd.hooks import move_retained_grad
from chainrule.backend import array_module
from chainrule.tensor import Tensor


class CopySlices(Op):
    """``base`` with the region that ``steps`` select set to ``value``: how a view's in-place op changes its base.

    The values are already in the base's memory when the node is recorded, so
    forward only hands the base's array on. Gradients: the base gets ``grad``
    with the region zeroed (those elements were overwritten); ``value`` gets
    the region of ``grad``.
    """

    name = "copy_slices"

    @staticmethod
    def forward(ctx, base, value, steps):
        ctx.steps = steps
        return base

    @staticmethod
    def backward(ctx, grad):
        grad_base = grad_value = None
        if ctx.needs_input_grad[0]:
            keep = array_module(grad._data).ones(grad.shape, dtype=grad.dtype)
            view_of_array(keep, ctx.steps)[...] = 0
            grad_base = grad * Tensor._wrap(keep)
        if ctx.needs_input_grad[1]:
            grad_value = apply_view_steps(grad, ctx.steps)
        return grad_base, grad_value


def needs_graph(tensor: Tensor, others) -> bool:
    """Whether an in-place op on ``tensor`` with operands ``others`` must be recorded."""
    if not GradMode.enabled:
        return False
    if tensor._requires_grad:
        return True
    view = tensor._view
    if view is not None and view.base._requires_grad:
        return True
    for other in others:
        if isinstance(other, Tensor) and other._requires_grad:
            return True
    return False


def apply_inplace(tensor: Tensor, op: str, compute: Callable, others=(), write: Callable | None = None) -> Tensor:
    """Make ``compute(tensor)`` (an out-of-place op giving a tensor of ``tensor``'s shape and dtype) its new value.

    ``others`` are the op's other operands (to know whether to record it);
    ``write(array)``, if given, updates the array directly when nothing is
    recorded (cheaper than computing a new array and copying it).
    """
    if not needs_graph(tensor, others):
        if write is not None:
            _guarded(op, tensor, write, tensor._data)
        else:
            _store(op, tensor, compute(tensor))
        tensor._version += 1
        return tensor
    view = tensor._view
    if view is None:
        _check_not_leaf(tensor, op)
    else:
        if view.source is not view.base.grad_fn:
            refresh_view(tensor)
        _check_view(tensor, op)
    source = tensor._alias()
    first_new_node = next(_sequence)
    result = compute(source)
    if not (result._requires_grad or tensor._requires_grad or (view is not None and view.base._requires_grad)):
        _store(op, tensor, result)  # only the operands' flags asked for a graph; nothing is differentiable
        tensor._version += 1
        return tensor
    _keep_old_value(result.grad_fn, source, first_new_node)
    _store(op, tensor, result)
    tensor._version += 1
    if view is None:
        _rebase(tensor, result)
    else:
        _rebase_base(view, result)
        refresh_view(tensor)
    _repoint_saved_output(result, tensor)
    return tensor


def _store(op: str, tensor: Tensor, result: Tensor) -> None:
    if result._data is not tensor._data:
        _guarded(op, tensor, _copy_into, tensor._data, result._data)


def _copy_into(array, values) -> None:
    array[...] = values


def _guarded(op: str, tensor: Tensor, write: Callable, *arrays) -> None:
    try:
        write(*arrays)
    except ValueError as exc:
        if "read-only" in str(exc):
            raise RuntimeError(
                f"{op}: the tensor (shape {tensor.shape}) is read-only: it is a broadcast (expand) view or "
                "wraps a read-only array, and more than one element may share one memory location. "
                "clone() it before the in-place operation"
            ) from None
        raise RuntimeError(f"{op}: {exc} (tensor shape {tensor.shape}, dtype {tensor.dtype})") from None


def _check_not_leaf(tensor: Tensor, op: str) -> None:
    if tensor.grad_fn is None and tensor._requires_grad:
        raise RuntimeError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation. "
            "Wrap the update in `with cr.no_grad():` (as optimizers do) or work on tensor.detach()"
        )


def _check_view(tensor: Tensor, op: str) -> None:
    view = tensor._view
    base = view.base
    if base._requires_grad and not view.made_with_grad:
        raise RuntimeError(
            f"{op}: a view was created in no_grad mode and is being modified in place with grad mode enabled; "
            "move both the view and the in-place op inside no_grad, or both outside it"
        )
    if base.grad_fn is None and base._requires_grad:
        raise RuntimeError(
            f"{op}: a view of a leaf Variable that requires grad is being used in an in-place operation "
            f"(view of shape {tensor.shape} of a leaf of shape {base.shape})"
        )
    if view.multi_output:
        raise RuntimeError(
            f"{op}: the tensor is one of several views returned by one op (as NumPy's split returns them); "
            "such views cannot be modified in place in the graph. Use the out-of-place op instead"
        )


def _keep_old_value(node, source: Tensor, first_new_node: int) -> None:
    """Give ``source`` a copy of the old values if a node made by the op saved it for backward."""
    saves_source = False
    for new_node in _new_nodes(node, first_new_node):
        saved = new_node.saved
        if type(saved) is tuple and any(entry[1] is source for entry in saved):
            saves_source = True
            new_node.saved = tuple((Tensor, source, 0) if entry[1] is source else entry for entry in saved)
    if saves_source:
        source._data = source._data.copy()
        source._version_counter = None


def _new_nodes(node, first_new_node: int):
    """The nodes recorded since ``first_new_node`` that lead to ``node`` (the op's own, for composite ops)."""
    found, stack = {}, [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Node) and current not in found and getattr(current, "sequence_nr", -1) > first_new_node:
            found[current] = None
            stack.extend(edge[0] for edge in current.next_edges if edge is not None)
    return list(found)


def _rebase(tensor: Tensor, result: Tensor) -> None:
    """``tensor`` now stands for ``result`` in the graph."""
    old_node, old_output_nr = tensor.grad_fn, tensor._output_nr
    tensor.grad_fn = result.grad_fn
    tensor._output_nr = result._output_nr
    tensor._requires_grad = result._requires_grad
    move_retained_grad(tensor, old_node, old_output_nr)


def _rebase_base(view, region: Tensor) -> None:
    """The view's base now holds ``region`` where the view is: record that as a CopySlices node."""
    base = view.base
    updated = CopySlices.apply(base._alias(), region, steps=view.steps)
    _rebase(base, updated)


def _repoint_saved_output(result: Tensor, tensor: Tensor) -> None:
    """A node that saved its output now finds it in ``tensor`` (so later in-place changes are caught)."""
    node = result.grad_fn
    if node is None or type(node.saved) is not tuple or node.output_versions is None:
        return
    counter = tensor._shared_version_counter()
    saved = []
    for kind, value, extra in node.saved:
        if kind is _OUTPUT and value is result._data:
            value = tensor._data
            node.output_versions[extra] = (counter, counter[0])
        saved.append((kind, value, extra))
    node.saved = tuple(saved)
