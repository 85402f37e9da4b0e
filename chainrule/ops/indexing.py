"""Indexing: ``x[index]`` and its adjoint, gather/scatter_add, index_select, masked_fill.

The gradient of a read ``y = x[index]`` is a write of ``grad`` into zeros at
``index``; with integer-array indices that write accumulates, so an element
read twice receives both gradients.
"""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import array_module, is_array
from chainrule.ops._args import normalize_dim
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
    """Index arrays moved to the device of the array they index (CuPy wants its own arrays)."""
    if isinstance(index, tuple):
        return tuple(xp.asarray(part) if isinstance(part, np.ndarray) else part for part in index)
    return xp.asarray(index) if isinstance(index, np.ndarray) else index


def _has_array_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(is_array(part) and part.dtype.kind != "b" for part in parts)


class Index(Op):
    name = "index"

    @staticmethod
    def forward(ctx, x, index):
        xp = array_module(x)
        if xp is not np:
            index = _index_on(xp, index)
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
        ctx.index = index
        xp = array_module(source)
        out = xp.zeros(shape, dtype=source.dtype)
        if _has_array_index(index):
            _add_at(xp, out, index, source)
        else:
            out[index] = source
        return out

    @staticmethod
    def backward(ctx, grad):
        return Index.apply(grad, index=ctx.index)


def _add_at(xp, out, index, values) -> None:
    if xp is np:
        np.add.at(out, index, values)
    else:  # CuPy spells unbuffered accumulation differently
        import cupyx

        cupyx.scatter_add(out, index, values)


def getitem(input: Tensor, index) -> Tensor:
    """``input[index]`` with ints, slices, None, ..., integer arrays and bool masks."""
    return Index.apply(input, index=normalize_index(index))


def _check_index_tensor(index: Tensor, op: str) -> np.ndarray:
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {getattr(index, 'dtype', type(index).__name__)}")
    return index._data


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
    """``out[i][j] = input[i][index[i][j]]`` for dim=1 (and likewise for any dim)."""
    axis = normalize_dim(dim, input.ndim, "gather")
    index_array = _check_index_tensor(index, "gather")
    if index_array.ndim != input.ndim:
        raise RuntimeError(
            f"gather: index of shape {index.shape} must have as many dims as input of shape {input.shape}"
        )
    if any(i != axis and index_array.shape[i] > input.shape[i] for i in range(input.ndim)):
        raise RuntimeError(
            f"gather: index of shape {index.shape} is larger than input of shape {input.shape} outside dim {axis}"
        )
    if any(i != axis and index_array.shape[i] < input.shape[i] for i in range(input.ndim)):
        input = input[tuple(slice(None) if i == axis else slice(0, n) for i, n in enumerate(index_array.shape))]
    return Gather.apply(input, index=index_array, axis=axis)


class ScatterAdd(Op):
    @staticmethod
    def forward(ctx, x, source, index, axis):
        ctx.index, ctx.axis = index, axis
        xp = array_module(x)
        out = x.copy()
        _add_at(xp, out, _full_index(xp, index, axis), source)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_source = Gather.apply(grad, index=ctx.index, axis=ctx.axis) if ctx.needs_input_grad[1] else None
        return grad, grad_source


def _full_index(xp, index, axis):
    """Index arrays addressing, for each element of ``index``, its target in the output."""
    grids = list(xp.indices(index.shape, sparse=True))
    grids[axis] = index
    return tuple(grids)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    axis = normalize_dim(dim, input.ndim, "scatter_add")
    index_array = _check_index_tensor(index, "scatter_add")
    if src.shape != index.shape:
        src = src[tuple(slice(0, n) for n in index.shape)]
    if src.dtype != input.dtype:
        raise RuntimeError(f"scatter_add: src dtype {src.dtype} does not match input dtype {input.dtype}")
    return ScatterAdd.apply(input, src, index=index_array, axis=axis)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` along ``dim`` at the positions in the 1-d ``index``."""
    axis = normalize_dim(dim, input.ndim, "index_select")
    index_array = _check_index_tensor(index, "index_select")
    if index_array.ndim > 1:
        raise RuntimeError(f"index_select: index must be 1-d, got shape {index.shape}")
    return Index.apply(input, index=(slice(None),) * axis + (index_array.reshape(-1),))


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where the bool ``mask`` (broadcast) is True."""
    from chainrule.ops.elementwise import where

    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
    if isinstance(value, Tensor):
        value = value.to(input.dtype) if value.ndim else value.item()
    return where(mask, value, input)


def take(input: Tensor, index: Tensor) -> Tensor:
    return input.reshape(-1)[index]


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


def check_indices(indices: Tensor, size: int, op: str):
    """The integer array of ``indices``, checked to lie in [0, size)."""
    if not isinstance(indices, Tensor) or indices.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: expected an integer (long) tensor of indices, got {getattr(indices, 'dtype', type(indices).__name__)}"
        )
    array = indices._data
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise IndexError(f"{op}: index {bad} is out of range for a table of {size} rows")
    return array
