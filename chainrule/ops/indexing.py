"""Indexing: ``x[index]`` and its adjoint, gather/scatter_add, index_select, masked_fill.

The gradient of a read ``y = x[index]`` is a write of ``grad`` into zeros at
``index``; with integer-array indices that write accumulates, so an element
read twice receives both gradients.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Op
from chainrule.autograd.naming import public_name
from chainrule.backend import array_module, device_of, is_array, library_of
from chainrule.ops._args import normalize_dim
from chainrule.ops.casting import to_dtype
from chainrule.ops.creation import full
from chainrule.ops.elementwise import where
from chainrule.ops.shape import broadcast_to
from chainrule.tensor import Tensor


def normalize_index(index):
    """Tensors and lists in an index become arrays (bool masks stay masks)."""
    if isinstance(index, tuple):
        return tuple(_index_part(part) for part in index)
    return _index_part(index)


def _index_part(part):
    if isinstance(part, Tensor):
        array = part._data
        if array.dtype.kind not in "biu":
            raise IndexError(f"index: tensors used as indices must be long, int or bool, got {array.dtype}")
        return array
    if isinstance(part, list):
        return np.asarray(part)
    return part


def _index_on(xp, index):
    """Host index arrays moved to the module ``xp``'s device (a device array wants its own arrays as indices)."""
    if type(index) is tuple:
        return tuple([xp.asarray(part) if type(part) is np.ndarray else part for part in index])
    return xp.asarray(index) if type(index) is np.ndarray else index


def _has_array_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(is_array(part) and part.dtype.kind != "b" for part in parts)


class Index(Op):
    name = "index"

    @staticmethod
    def forward(ctx, x, index):
        index = _index_on(array_module(x), index)
        ctx.input_shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, grad):
        return IndexAdd.apply(grad, shape=ctx.input_shape, index=ctx.index)


class IndexAdd(Op):
    """zeros(shape) with ``source`` added at ``index`` (repeats accumulate): the adjoint of Index."""

    name = "index_backward"

    @staticmethod
    def forward(ctx, source, shape, index):
        xp = array_module(source)
        index = _index_on(xp, index)
        ctx.index = index
        out = xp.zeros(shape, dtype=source.dtype)
        if _has_array_index(index):
            _add_at(out, index, source)
        else:
            out[index] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        return Index.apply(grad, index=ctx.index)


def _add_at(out, index, values) -> None:
    """``out[index] += values``, in place, with repeated indices accumulated."""
    library_of(out).scatter_add(out, index, values)


def check_same_device(op: str, *tensors) -> None:
    """PyTorch's RuntimeError naming both devices unless every tensor given lives on one device."""
    first = device_of(tensors[0]._data)
    for tensor in tensors[1:]:
        other = device_of(tensor._data)
        if other != first:
            raise RuntimeError(
                f"{public_name(op)}: Expected all tensors to be on the same device, but found at least two devices, "
                f"{first} and {other}!"
            )


def check_index_devices(input: Tensor, index, op: str) -> None:
    """PyTorch's RuntimeError for an index tensor on neither the CPU nor ``input``'s device."""
    for part in index if type(index) is tuple else (index,):
        if isinstance(part, Tensor) and part.device.type != "cpu" and part.device != input.device:
            raise RuntimeError(
                f"{op}: indices should be either on cpu or on the same device as the indexed tensor "
                f"({input.device}), got indices on {part.device}"
            )


def getitem(input: Tensor, index) -> Tensor:
    """``input[index]`` with ints, slices, None, ..., integer arrays and bool masks (tensors on the CPU or its device)."""
    check_index_devices(input, index, "__getitem__")
    return Index.apply(input, index=normalize_index(index))


def _check_index_tensor(index: Tensor, op: str) -> np.ndarray:
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {getattr(index, 'dtype', type(index).__name__)}")
    return index._data


def _check_in_range(index_array, size: int, op: str, negative_ok: bool = False) -> None:
    """IndexError naming ``op`` unless every index is in [0, size) (or [-size, size) when ``negative_ok``).

    NumPy would wrap a negative index silently (and PyTorch's index_select and
    gather refuse one), so the bounds are checked before indexing.
    """
    if index_array.size == 0:
        return
    low, high = int(index_array.min()), int(index_array.max())
    lowest = -size if negative_ok else 0
    if low < lowest or high >= size:
        bad = low if low < lowest else high
        raise IndexError(
            f"{public_name(op)}: index {bad} is out of range for a dimension of size {size} "
            f"(valid: {lowest} to {size - 1})"
        )


class Gather(Op):
    @staticmethod
    def forward(ctx, x, index, axis):
        ctx.input_shape, ctx.index, ctx.axis = x.shape, index, axis
        return array_module(x).take_along_axis(x, index, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        zeros = Tensor._wrap(array_module(grad._data).zeros(ctx.input_shape, grad.dtype))
        return scatter_add(zeros, ctx.axis, Tensor._wrap(ctx.index), grad)


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j] = input[i][index[i][j]]`` for dim=1 (and likewise for any dim).

    ``index`` is int64 with as many dims as ``input``; the result has ``index``'s shape and ``input``'s dtype.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> cr.gather(x, 1, cr.tensor([[2, 0], [1, 1]]))
    tensor([[3, 1],
            [5, 5]], shape=(2, 2), dtype=int64)
    """
    axis = normalize_dim(dim, input.ndim, "gather")
    index_array = _check_index_tensor(index, "gather")
    check_same_device("gather", input, index)
    if index_array.ndim != input.ndim:
        raise RuntimeError(
            f"gather: index of shape {index.shape} must have as many dims as input of shape {input.shape}"
        )
    if any(i != axis and index_array.shape[i] > input.shape[i] for i in range(input.ndim)):
        raise RuntimeError(
            f"gather: index of shape {index.shape} is larger than input of shape {input.shape} outside dim {axis}"
        )
    _check_in_range(index_array, input.shape[axis] if input.ndim else 1, "gather")
    if any(i != axis and index_array.shape[i] < input.shape[i] for i in range(input.ndim)):
        input = input[tuple(slice(None) if i == axis else slice(0, n) for i, n in enumerate(index_array.shape))]
    return Gather.apply(input, index=index_array, axis=axis)


class ScatterAdd(Op):
    @staticmethod
    def forward(ctx, x, source, index, axis):
        ctx.index, ctx.axis = index, axis
        xp = array_module(x)
        out = x.copy()
        _add_at(out, _full_index(xp, index, axis), source)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_source = Gather.apply(grad, index=ctx.index, axis=ctx.axis) if ctx.needs_input_grad[1] else None
        return grad, grad_source


def open_grid(xp, shape) -> list:
    """One index array per dim of ``shape``, each (1, ..., n, ..., 1): together they address every element.

    NumPy's ``indices(shape, sparse=True)``, from aranges (which every array library has).
    """
    return [xp.arange(n).reshape((1,) * i + (n,) + (1,) * (len(shape) - 1 - i)) for i, n in enumerate(shape)]


def _full_index(xp, index, axis):
    """Index arrays addressing, for each element of ``index``, its target in the output."""
    grids = open_grid(xp, index.shape)
    grids[axis] = index
    return tuple(grids)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate).

    For dim=0: ``out[index[i][j]][j] += src[i][j]``; ``index`` and ``src`` have the same shape.

    >>> import chainrule as cr
    >>> cr.scatter_add(cr.zeros(3), 0, cr.tensor([0, 2, 0]), cr.tensor([1.0, 2.0, 3.0]))
    tensor([4., 0., 2.], shape=(3,), dtype=float32)
    """
    axis = normalize_dim(dim, input.ndim, "scatter_add")
    index_array = _check_index_tensor(index, "scatter_add")
    check_same_device("scatter_add", input, index, src)
    if src.shape != index.shape:
        src = src[tuple(slice(0, n) for n in index.shape)]
    if src.dtype != input.dtype:
        raise RuntimeError(f"scatter_add: src dtype {src.dtype} does not match input dtype {input.dtype}")
    return ScatterAdd.apply(input, src, index=index_array, axis=axis)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in the 1-d ``index``.

    The result has ``input``'s shape with dim ``dim`` of size ``len(index)``.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> cr.index_select(x, 1, cr.tensor([2, 0]))
    tensor([[3, 1],
            [6, 4]], shape=(2, 2), dtype=int64)
    """
    axis = normalize_dim(dim, input.ndim, "index_select")
    index_array = _check_index_tensor(index, "index_select")
    check_same_device("index_select", input, index)
    if index_array.ndim > 1:
        raise RuntimeError(f"index_select: index must be 1-d, got shape {index.shape}")
    _check_in_range(index_array, input.shape[axis] if input.ndim else 1, "index_select")
    return Index.apply(input, index=(slice(None),) * axis + (index_array.reshape(-1),))


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where the bool ``mask`` (broadcast) is True.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, -2.0, 3.0])
    >>> cr.masked_fill(x, x < 0, 0.0)
    tensor([1., 0., 3.], shape=(3,), dtype=float32)
    """
    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor):
        value = value.to(input.dtype)
    else:  # the value takes the input's dtype (2.5 fills an int tensor with 2), as in PyTorch
        value = Tensor._wrap(array_module(input._data).asarray(value).astype(input.dtype))
    return where(mask, value, input)


def take(input: Tensor, index: Tensor) -> Tensor:
    """``input`` read as 1-d at ``index`` (negative indices count from the end); the result has index's shape.

    >>> import chainrule as cr
    >>> cr.take(cr.tensor([[1, 2], [3, 4]]), cr.tensor([[0, 3], [-1, 1]]))
    tensor([[1, 4],
            [4, 2]], shape=(2, 2), dtype=int64)
    """
    _check_in_range(_check_index_tensor(index, "take"), input.numel(), "take", negative_ok=True)
    check_same_device("take", input, index)
    return input.reshape(-1)[index]


# --------------------------------------------------------------------------- scatter (out of place), index_add, selection
class Scatter(Op):
    """A copy of ``x`` with ``source[i][j]`` written at ``[i][index[i][j]]`` (dim=1; likewise for any dim)."""

    @staticmethod
    def forward(ctx, x, source, index, axis):
        ctx.index, ctx.axis = index, axis
        xp = array_module(x)
        out = x.copy()
        out[_full_index(xp, index, axis)] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        # Overwritten positions pass no gradient to x; each source element gets the gradient of its target.
        grad_x = None
        if ctx.needs_input_grad[0]:
            zeros = Tensor._wrap(array_module(grad._data).zeros(ctx.index.shape, grad.dtype))
            grad_x = Scatter.apply(grad, zeros, index=ctx.index, axis=ctx.axis)
        grad_source = Gather.apply(grad, index=ctx.index, axis=ctx.axis) if ctx.needs_input_grad[1] else None
        return grad_x, grad_source


def _scatter_args(input: Tensor, dim: int, index: Tensor, src, op: str):
    """The axis, the index array, and ``src`` as a tensor of the index's shape in the input's dtype."""
    axis = normalize_dim(dim, input.ndim, op)
    index_array = _check_index_tensor(index, op)
    check_same_device(op, input, index, *([src] if isinstance(src, Tensor) else []))
    if index_array.ndim != input.ndim:
        raise RuntimeError(f"{op}: index of shape {index.shape} must have as many dims as input of shape {input.shape}")
    if index_array.size and (index_array.min() < 0 or index_array.max() >= input.shape[axis]):
        bad = index_array.min() if index_array.min() < 0 else index_array.max()
        raise IndexError(f"{op}: index {int(bad)} is out of bounds for dim {axis} of size {input.shape[axis]}")
    if not isinstance(src, Tensor):
        return axis, index_array, full(index.shape, src, dtype=input.dtype, device=input.device)
    if src.ndim != input.ndim or any(i > n for i, n in zip(index.shape, src.shape)):
        raise RuntimeError(f"{op}: index of shape {index.shape} is larger than src of shape {src.shape}")
    if src.shape != index.shape:
        src = src[tuple(slice(0, n) for n in index.shape)]
    return axis, index_array, to_dtype(src, input.dtype) if src.dtype != input.dtype else src


def scatter(input: Tensor, dim: int, index: Tensor, src=None, value=None, *, reduce=None) -> Tensor:
    """A copy of ``input`` with ``src`` (a tensor, or the number ``value``) written at ``index`` along ``dim``.

    ``reduce='add'`` or ``'multiply'`` combines instead of overwriting (as ``scatter_reduce`` sum/prod).
    With repeated indices and no reduce, which write wins is unspecified (as in PyTorch).

    >>> import chainrule as cr
    >>> cr.scatter(cr.zeros(2, 3), 1, cr.tensor([[2], [0]]), cr.tensor([[1.0], [2.0]]))
    tensor([[0., 0., 1.],
            [2., 0., 0.]], shape=(2, 3), dtype=float32)
    >>> cr.scatter(cr.zeros(3), 0, cr.tensor([0, 0]), value=1.0, reduce="add")
    tensor([2., 0., 0.], shape=(3,), dtype=float32)
    """
    source = value if src is None else src
    if source is None:
        raise TypeError("scatter: expected src (a tensor) or value (a number)")
    if reduce is not None:
        modes = {"add": "sum", "multiply": "prod"}
        if reduce not in modes:
            raise RuntimeError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        axis, _, source = _scatter_args(input, dim, index, source, "scatter")
        return scatter_reduce(input, axis, index, source, modes[reduce])
    axis, index_array, source = _scatter_args(input, dim, index, source, "scatter")
    return Scatter.apply(input, source, index=index_array, axis=axis)


def _scatter_counts(input: Tensor, axis: int, index_array, include_self: bool):
    """How many values meet at each position of the output (including the input's own when include_self)."""
    xp = array_module(input._data)
    counts = xp.full(input.shape, 1 if include_self else 0, dtype=input.dtype)
    _add_at(counts, _full_index(xp, index_array, axis), 1)
    return Tensor._wrap(counts)


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True):
    """``input`` with ``src`` combined into it at ``index`` along ``dim`` by ``reduce``.

    ``reduce`` is ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``; with
    ``include_self=False`` the input's own value at a target position is left out.
    Ties of amax/amin share the gradient evenly, as in PyTorch.

    >>> import chainrule as cr
    >>> src = cr.tensor([1.0, 2.0, 3.0, 4.0])
    >>> cr.scatter_reduce(cr.zeros(2), 0, cr.tensor([0, 1, 0, 1]), src, "amax", include_self=False)
    tensor([3., 4.], shape=(2,), dtype=float32)
    >>> cr.scatter_reduce(cr.zeros(2), 0, cr.tensor([0, 1, 0, 1]), src, "mean")
    tensor([1.3333, 2.    ], shape=(2,), dtype=float32)
    """
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"scatter_reduce: reduce must be sum, prod, mean, amax or amin, got {reduce!r}")
    axis, index_array, src = _scatter_args(input, dim, index, src, "scatter_reduce")
    if not include_self:
        base = Scatter.apply(input, _neutral_source(input, index.shape, reduce), index=index_array, axis=axis)
    else:
        base = input
    if reduce == "prod":
        return ScatterProd.apply(base, src, index=index_array, axis=axis)
    if reduce == "sum":
        return ScatterAdd.apply(base, src, index=index_array, axis=axis)
    if reduce == "mean":
        counts = _scatter_counts(input, axis, index_array, include_self)._data
        total = ScatterAdd.apply(base, src, index=index_array, axis=axis)
        if input.dtype.kind != "f":  # integer means round down, as in PyTorch
            xp = array_module(counts)
            return Tensor._wrap(xp.where(counts > 0, total._data // xp.maximum(counts, 1), input._data))
        return where(Tensor._wrap(counts > 0), total / Tensor._wrap(array_module(counts).maximum(counts, 1)), input)
    return _scatter_extreme(input, base, src, index_array, axis, reduce == "amax", include_self)


def _neutral_source(input: Tensor, shape, reduce: str) -> Tensor:
    """Values that leave a target unchanged under ``reduce`` (written over the input when include_self=False)."""
    floating = input.dtype.kind == "f"
    if reduce == "amax":
        value = -np.inf if floating else np.iinfo(input.dtype).min
    elif reduce == "amin":
        value = np.inf if floating else np.iinfo(input.dtype).max
    else:
        value = 1 if reduce == "prod" else 0
    return full(shape, value, dtype=input.dtype, device=input.device)


def _scatter_extreme(input, base, src, index_array, axis, largest, include_self):
    """amax/amin written as the mean of the values that attain the extreme, so ties share the gradient."""
    xp = array_module(input._data)
    extreme = base._data.copy()
    reduction = "maximum" if largest else "minimum"
    library_of(extreme).scatter_reduce(extreme, _full_index(xp, index_array, axis), src._data, reduction)
    if input.dtype.kind != "f":  # no gradient to share
        return Tensor._wrap(extreme)
    self_wins = (base._data == extreme) if include_self else xp.zeros(input.shape, bool)
    src_wins = src._data == xp.take_along_axis(extreme, index_array, axis)
    self_weight = Tensor._wrap(self_wins.astype(input.dtype))
    src_weight = Tensor._wrap(src_wins.astype(input.dtype))
    winners = ScatterAdd.apply(self_weight, src_weight, index=index_array, axis=axis)._data
    total = ScatterAdd.apply(input * self_weight, src * src_weight, index=index_array, axis=axis)
    mean_of_winners = total / Tensor._wrap(xp.maximum(winners, 1))
    return where(Tensor._wrap(winners > 0), mean_of_winners, input)


class ScatterProd(Op):
    """``x`` with each ``source`` element multiplied into its target: y = x * prod of the sources that meet there."""

    @staticmethod
    def forward(ctx, x, source, index, axis):
        ctx.index, ctx.axis = index, axis
        xp = array_module(x)
        out = x.copy()
        library_of(out).scatter_reduce(out, _full_index(xp, index, axis), source, "multiply")
        ctx.save_for_backward(x, source, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        # Each factor's gradient is grad times the product of the other factors at its target:
        # y / factor when no factor there is zero (differentiable again), else counted exactly.
        x, source, out = ctx.saved_tensors
        if not bool((x._data == 0).any()) and not bool((source._data == 0).any()):
            grad_out = grad * out
            return grad_out / x, Gather.apply(grad_out, index=ctx.index, axis=ctx.axis) / source
        others_x, others_source = _products_of_others(x._data, source._data, ctx.index, ctx.axis)
        grad_source = Gather.apply(grad, index=ctx.index, axis=ctx.axis) * Tensor._wrap(others_source)
        return grad * Tensor._wrap(others_x), grad_source


def _products_of_others(x, source, index, axis):
    """For every factor of a scattered product (x itself and each source element), the product of the
    other factors at its target, exact with zeros: the product of the nonzero factors, divided by the
    factor when it is nonzero and no other zero is there, kept when it is the only zero, else 0."""
    xp = array_module(x)
    target = _full_index(xp, index, axis)
    nonzero_product = xp.where(x == 0, 1, x)
    zero_count = (x == 0).astype(np.int64)
    library_of(x).scatter_reduce(nonzero_product, target, xp.where(source == 0, 1, source), "multiply")
    _add_at(zero_count, target, (source == 0).astype(np.int64))

    def others(factor, product, zeros):
        safe = xp.where(factor == 0, 1, factor)
        return xp.where(factor == 0, xp.where(zeros == 1, product, 0), xp.where(zeros == 0, product / safe, 0))

    take = xp.take_along_axis
    return (
        others(x, nonzero_product, zero_count),
        others(source, take(nonzero_product, index, axis), take(zero_count, index, axis)),
    )


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source[..., k, ...]`` added to slice ``index[k]`` along ``dim`` (repeats accumulate).

    >>> import chainrule as cr
    >>> cr.index_add(cr.zeros(3), 0, cr.tensor([0, 2, 0]), cr.tensor([1.0, 2.0, 3.0]))
    tensor([4., 0., 2.], shape=(3,), dtype=float32)
    """
    axis = normalize_dim(dim, input.ndim, "index_add")
    index_array = _check_index_tensor(index, "index_add")
    check_same_device("index_add", input, index, source)
    expected = input.shape[:axis] + (index_array.size,) + input.shape[axis + 1 :]
    if index_array.ndim > 1 or source.shape != expected:
        raise RuntimeError(
            f"index_add: source of shape {source.shape} must be {expected} for index of shape {index.shape} "
            f"along dim {axis} of input of shape {input.shape}"
        )
    if alpha != 1:
        source = source * alpha
    added = IndexAdd.apply(source, shape=input.shape, index=(slice(None),) * axis + (index_array.reshape(-1),))
    return input + added


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The 1-d tensor of the elements of ``input`` where the bool ``mask`` is True (both broadcast).

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, -2], [-3, 4]])
    >>> cr.masked_select(x, x > 0)
    tensor([1, 4], shape=(2,), dtype=int64)
    """
    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        raise TypeError(f"masked_select: mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    check_same_device("masked_select", input, mask)
    shape = np.broadcast_shapes(input.shape, mask.shape)
    mask_array = array_module(mask._data).broadcast_to(mask._data, shape)
    return Index.apply(broadcast_to(input, shape), index=mask_array)


def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:
    """Values of ``input`` at ``indices`` along ``dim`` (the flattened input when dim is None); other dims broadcast.

    >>> import chainrule as cr
    >>> x = cr.tensor([[3, 1, 2], [9, 7, 8]])
    >>> cr.take_along_dim(x, x.argsort(dim=1), dim=1)
    tensor([[1, 2, 3],
            [7, 8, 9]], shape=(2, 3), dtype=int64)
    """
    index_array = _check_index_tensor(indices, "take_along_dim")
    check_same_device("take_along_dim", input, indices)
    if dim is None:
        return Gather.apply(input.reshape(-1), index=index_array.reshape(-1), axis=0)
    axis = normalize_dim(dim, input.ndim, "take_along_dim")
    if index_array.ndim != input.ndim:
        raise RuntimeError(
            f"take_along_dim: input of shape {input.shape} and indices of shape {indices.shape} "
            "must have the same number of dims"
        )
    others = np.broadcast_shapes(
        *(tuple(1 if i == axis else n for i, n in enumerate(s)) for s in (input.shape, index_array.shape))
    )
    input = broadcast_to(input, others[:axis] + (input.shape[axis],) + others[axis + 1 :])
    index_shape = others[:axis] + (index_array.shape[axis],) + others[axis + 1 :]
    index_array = array_module(index_array).broadcast_to(index_array, index_shape)
    return Gather.apply(input, index=index_array, axis=axis)


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """The indices of the nonzero elements: an (N, ndim) int64 tensor, or one 1-d tensor per dim.

    >>> import chainrule as cr
    >>> x = cr.tensor([[0, 3], [5, 0]])
    >>> cr.nonzero(x)
    tensor([[0, 1],
            [1, 0]], shape=(2, 2), dtype=int64)
    >>> cr.nonzero(x, as_tuple=True)
    (tensor([0, 1], shape=(2,), dtype=int64), tensor([1, 0], shape=(2,), dtype=int64))
    """
    xp = array_module(input._data)
    coordinates = xp.nonzero(input._data if input.ndim else input._data.reshape(1))
    if as_tuple:
        return tuple(Tensor._wrap(c.astype(np.int64)) for c in coordinates)
    if input.ndim == 0:
        return Tensor._wrap(xp.zeros((len(coordinates[0]), 0), dtype=np.int64))
    return Tensor._wrap(xp.stack(coordinates, axis=1).astype(np.int64))


def argwhere(input: Tensor) -> Tensor:
    """The indices of the nonzero elements of ``input``, one row each: an (N, ndim) int64 tensor (``nonzero(input)``).

    >>> import chainrule as cr
    >>> cr.argwhere(cr.tensor([[0, 3], [5, 0]]))
    tensor([[0, 1],
            [1, 0]], shape=(2, 2), dtype=int64)
    """
    return nonzero(input)


# --------------------------------------------------------------------------- table lookup (embedding)
class Embedding(Op):
    """Rows ``indices`` of the table ``weight``; the row ``padding_idx`` gets no gradient."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx):
        ctx.table_shape, ctx.indices, ctx.padding_idx = weight.shape, indices, padding_idx
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        if ctx.padding_idx is not None:
            keep = (ctx.indices != ctx.padding_idx)[..., None]
            grad = grad * Tensor._wrap(keep.astype(grad.dtype))
        return IndexAdd.apply(grad, shape=ctx.table_shape, index=ctx.indices)


def min_and_max(array) -> tuple[int, int]:
    """The smallest and largest entry of an integer array, read in one transfer (one synchronisation on a GPU)."""
    low, high = array_module(array).stack([array.min(), array.max()]).tolist()
    return low, high


def check_indices(indices: Tensor, size: int, op: str):
    """The integer array of ``indices``, checked to lie in [0, size)."""
    if not isinstance(indices, Tensor) or indices.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: expected an integer (long) tensor of indices, got {getattr(indices, 'dtype', type(indices).__name__)}"
        )
    array = indices._data
    if array.size:
        low, high = min_and_max(array)
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise IndexError(f"{op}: index {bad} is out of range for a table of {size} rows")
    return array
