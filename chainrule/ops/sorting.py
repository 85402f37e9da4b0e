"""Ordering: sort, argsort, topk, kthvalue, median, unique, searchsorted, bucketize, histc.

The ops that return values of the input (sort, topk, kthvalue, median) find
their indices on the arrays and then ``gather`` the values, so their gradient
is gather's: the output gradient scattered back to where each value came from.
Indices, counts and histograms carry no gradient.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule.backend import array_module, to_device
from chainrule.ops._args import normalize_dim
from chainrule.ops.indexing import check_same_device, gather
from chainrule.tensor import Tensor

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])
mode_result = namedtuple("mode", ["values", "indices"])
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


def _sort_order(array, axis: int, descending: bool):
    """Indices that sort ``array`` along ``axis``, stable; descending keeps equal elements in order too."""
    xp = array_module(array)
    if not descending:
        return xp.argsort(array, axis=axis, kind="stable")
    # Reverse, sort ascending stably, reverse again: equal elements keep their original order.
    n = array.shape[axis]
    flipped = xp.flip(array, axis)
    order = xp.argsort(flipped, axis=axis, kind="stable")
    return (n - 1) - xp.flip(order, axis)


def _like_input(array: np.ndarray, input: Tensor) -> Tensor:
    """A result computed on the host, placed on ``input``'s device."""
    return Tensor._wrap(array if input.device.type == "cpu" else to_device(array, input.device))


def _wrap_indices(indices) -> Tensor:
    return Tensor._wrap(indices.astype(np.int64, copy=False))


def _zero_index(input: Tensor) -> Tensor:
    """The int64 index 0, as a 0-d tensor on ``input``'s device: every index of a 0-d input."""
    return Tensor._wrap(array_module(input._data).zeros((), np.int64))


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` of ``input`` sorted along ``dim``; sorting is always stable here.

    >>> import chainrule as cr
    >>> cr.sort(cr.tensor([[3, 1, 2], [0, 5, 4]]), descending=True)
    sort(values=tensor([[3, 2, 1],
            [5, 4, 0]], shape=(2, 3), dtype=int64), indices=tensor([[0, 2, 1],
            [1, 2, 0]], shape=(2, 3), dtype=int64))
    """
    if input.ndim == 0:
        return sort_result(input, _zero_index(input))
    axis = normalize_dim(dim, input.ndim, "sort")
    indices = _wrap_indices(_sort_order(input._data, axis, descending))
    return sort_result(gather(input, axis, indices), indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim``.

    An int64 tensor of ``input``'s shape: ``input.gather(dim, argsort(input, dim))`` is sorted.

    >>> import chainrule as cr
    >>> cr.argsort(cr.tensor([3, 1, 2]))
    tensor([1, 2, 0], shape=(3,), dtype=int64)
    >>> cr.argsort(cr.tensor([3, 1, 2]), descending=True)
    tensor([0, 2, 1], shape=(3,), dtype=int64)
    """
    if input.ndim == 0:
        return _zero_index(input)
    axis = normalize_dim(dim, input.ndim, "argsort")
    return _wrap_indices(_sort_order(input._data, axis, descending))


def msort(input: Tensor) -> Tensor:
    """``input`` sorted along dim 0, ascending: ``sort(input, dim=0).values``.

    >>> import chainrule as cr
    >>> cr.msort(cr.tensor([[3, 1], [1, 2], [2, 0]]))
    tensor([[1, 0],
            [2, 1],
            [3, 2]], shape=(3, 2), dtype=int64)
    """
    return sort(input, dim=0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``.

    ``values`` and ``indices`` have ``input``'s shape with dim ``dim`` of size ``k``.

    >>> import chainrule as cr
    >>> cr.topk(cr.tensor([1.0, 5.0, 3.0, 4.0]), 2)
    topk(values=tensor([5., 4.], shape=(2,), dtype=float32), indices=tensor([1, 3], shape=(2,), dtype=int64))
    >>> cr.topk(cr.tensor([1.0, 5.0, 3.0, 4.0]), 2, largest=False).indices
    tensor([0, 2], shape=(2,), dtype=int64)
    """
    axis = normalize_dim(dim, input.ndim, "topk")
    size = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k={k} is out of range for dim {dim} of size {size} (shape {input.shape})")
    if input.ndim == 0:
        return topk_result(input, _zero_index(input))
    order = _sort_order(input._data, axis, descending=largest)
    indices = _wrap_indices(order[(slice(None),) * axis + (slice(0, k),)])
    return topk_result(gather(input, axis, indices), indices)


def _select_rank(input: Tensor, rank: int, dim, keepdim: bool, op: str, result):
    """The element of rank ``rank`` (0-based, ascending) along ``dim``, with its index."""
    axis = normalize_dim(dim, input.ndim, op)
    if input.ndim == 0:
        return result(input, _zero_index(input))
    order = _sort_order(input._data, axis, descending=False)
    indices = _wrap_indices(order[(slice(None),) * axis + (slice(rank, rank + 1),)])
    values = gather(input, axis, indices)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return result(values, indices)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """``(values, indices)`` of the ``k``-th smallest element (1-based) along ``dim``.

    ``values`` and ``indices`` have ``input``'s shape without ``dim`` (kept as size 1 with ``keepdim``).

    >>> import chainrule as cr
    >>> cr.kthvalue(cr.tensor([[5, 1, 3], [2, 6, 4]]), 2)
    kthvalue(values=tensor([3, 4], shape=(2,), dtype=int64), indices=tensor([2, 2], shape=(2,), dtype=int64))
    """
    size = input.shape[normalize_dim(dim, input.ndim, "kthvalue")] if input.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue: k={k} is out of range for dim {dim} of size {size} (shape {input.shape})")
    return _select_rank(input, k - 1, dim, keepdim, "kthvalue", kthvalue_result)


def median(input: Tensor, dim=None, keepdim: bool = False):
    """The lower median: of all elements (a 0-d tensor), or ``(values, indices)`` along ``dim``.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 9.0, 3.0, 4.0], [8.0, 2.0, 7.0, 5.0]])
    >>> cr.median(x)
    tensor(4., shape=(), dtype=float32)
    >>> cr.median(x, dim=1)
    median(values=tensor([3., 5.], shape=(2,), dtype=float32), indices=tensor([2, 3], shape=(2,), dtype=int64))
    """
    if input.numel() == 0:
        raise RuntimeError(f"median: expected a non-empty tensor, got shape {input.shape}")
    if dim is None:
        flat = input.reshape(-1)
        return _select_rank(flat, (flat.numel() - 1) // 2, 0, False, "median", median_result).values
    size = input.shape[normalize_dim(dim, input.ndim, "median")] if input.ndim else 1
    return _select_rank(input, (size - 1) // 2, dim, keepdim, "median", median_result)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """``(values, indices)``: the most frequent value along ``dim`` (the smallest among ties) and its last index.

    >>> import chainrule as cr
    >>> cr.mode(cr.tensor([[1, 2, 2, 3], [4, 4, 5, 5]]))
    mode(values=tensor([2, 4], shape=(2,), dtype=int64), indices=tensor([2, 1], shape=(2,), dtype=int64))
    """
    axis = normalize_dim(dim, input.ndim, "mode")
    moved = np.moveaxis(np.asarray(input.detach().numpy(force=True)), axis, -1)
    rows = moved.reshape(-1, moved.shape[-1]) if moved.ndim else moved.reshape(1, 1)
    picked = np.empty(rows.shape[0], dtype=np.int64)
    for r, row in enumerate(rows):
        uniques, counts = np.unique(row, return_counts=True)
        value = uniques[np.argmax(counts)]
        picked[r] = np.flatnonzero(row == value)[-1]
    index_shape = moved.shape[:-1] + (1,)
    indices = _like_input(
        np.moveaxis(picked.reshape(index_shape), -1, axis) if input.ndim else picked.reshape(()), input
    )
    if input.ndim == 0:
        return mode_result(input, indices)
    values = gather(input, axis, indices)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return mode_result(values, indices)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values (sorted), and optionally each element's position in them and their counts.

    >>> import chainrule as cr
    >>> values, inverse, counts = cr.unique(cr.tensor([3, 1, 3, 2, 1]), return_inverse=True, return_counts=True)
    >>> values.tolist(), inverse.tolist(), counts.tolist()
    ([1, 2, 3], [2, 0, 2, 1, 0], [2, 1, 2])
    """
    array = input._data
    xp = array_module(array)
    axis = None if dim is None else normalize_dim(dim, input.ndim, "unique")
    values, inverse, counts = xp.unique(array, return_inverse=True, return_counts=True, axis=axis)
    result = [Tensor._wrap(values)]
    if return_inverse:
        result.append(_wrap_indices(inverse.reshape(array.shape if axis is None else (-1,))))
    if return_counts:
        result.append(_wrap_indices(counts))
    return result[0] if len(result) == 1 else tuple(result)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """Collapse runs of equal consecutive elements of the flattened input (``dim=None`` only).

    >>> import chainrule as cr
    >>> cr.unique_consecutive(cr.tensor([1, 1, 2, 2, 2, 1]), return_counts=True)
    (tensor([1, 2, 1], shape=(3,), dtype=int64), tensor([2, 3, 1], shape=(3,), dtype=int64))
    """
    if dim is not None:
        raise NotImplementedError("unique_consecutive: only dim=None is supported")
    flat = input._data.reshape(-1)
    xp = array_module(flat)
    starts = xp.concatenate([xp.ones(min(flat.size, 1), bool), flat[1:] != flat[:-1]])
    result = [Tensor._wrap(flat[starts])]
    if return_inverse:
        result.append(_wrap_indices((xp.cumsum(starts) - 1).reshape(input.shape)))
    if return_counts:
        positions = xp.concatenate([xp.flatnonzero(starts), xp.asarray([flat.size])])
        result.append(_wrap_indices(xp.diff(positions)))
    return result[0] if len(result) == 1 else tuple(result)


def searchsorted(
    sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False, side=None, sorter=None
) -> Tensor:
    """For each value, the index where it would be inserted into the sorted last dim of ``sorted_sequence``.

    ``right=False`` (``side='left'``) gives the first such index, ``right=True`` the last.
    A multi-dim ``sorted_sequence`` is searched row by row against the matching row of ``input``.

    >>> import chainrule as cr
    >>> boundaries = cr.tensor([1, 3, 5, 7])
    >>> cr.searchsorted(boundaries, cr.tensor([3, 6, 9]))
    tensor([1, 3, 4], shape=(3,), dtype=int64)
    >>> cr.searchsorted(boundaries, cr.tensor([3, 6, 9]), right=True)
    tensor([2, 3, 4], shape=(3,), dtype=int64)
    """
    side = side or ("right" if right else "left")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if isinstance(input, Tensor):
        check_same_device("searchsorted", sorted_sequence, input)
    boundaries = sorted_sequence._data
    xp = array_module(boundaries)
    values = input._data if isinstance(input, Tensor) else xp.asarray(input)
    if sorter is not None:
        boundaries = xp.take_along_axis(boundaries, sorter._data, axis=-1)
    if boundaries.ndim <= 1:
        result = xp.searchsorted(boundaries, values, side=side)
    else:
        if values.shape[:-1] != boundaries.shape[:-1]:
            raise RuntimeError(
                f"searchsorted: boundaries of shape {sorted_sequence.shape} and input of shape {tuple(values.shape)} "
                "must have the same leading dims"
            )
        rows = boundaries.reshape(-1, boundaries.shape[-1])
        queries = values.reshape(rows.shape[0], -1)
        result = xp.stack([xp.searchsorted(b, q, side=side) for b, q in zip(rows, queries)]).reshape(values.shape)
    return Tensor._wrap(xp.asarray(result, dtype=np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each value: ``i`` with ``boundaries[i-1] < x <= boundaries[i]`` (``<`` and ``<=`` swap if right).

    The result has ``input``'s shape, int64 (int32 with ``out_int32``); ``boundaries`` is 1-d and increasing.

    >>> import chainrule as cr
    >>> cr.bucketize(cr.tensor([0.5, 1.0, 2.5, 9.0]), cr.tensor([1.0, 2.0, 3.0]))
    tensor([0, 0, 2, 3], shape=(4,), dtype=int64)
    >>> cr.bucketize(cr.tensor([0.5, 1.0, 2.5, 9.0]), cr.tensor([1.0, 2.0, 3.0]), right=True)
    tensor([0, 1, 2, 3], shape=(4,), dtype=int64)
    """
    if boundaries.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-d, got shape {boundaries.shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _histogram_range(array, low: float, high: float, op: str) -> tuple[float, float]:
    if low == high and array.size:
        low, high = float(array.min()), float(array.max())
    if low == high:
        low, high = low - 1.0, high + 1.0
    if low > high:
        raise RuntimeError(f"{op}: max must be larger than min, got min={low}, max={high}")
    if not (np.isfinite(low) and np.isfinite(high)):
        raise RuntimeError(f"{op}: range of [{low}, {high}] is not finite")
    return low, high


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts of the elements in ``bins`` equal bins over [min, max] (the data's range when min == max).

    Elements outside the range are ignored; the result has the input's float dtype.

    >>> import chainrule as cr
    >>> cr.histc(cr.tensor([1.0, 2.0, 1.0, 4.0]), bins=4, min=0, max=4)
    tensor([0., 2., 1., 1.], shape=(4,), dtype=float32)
    """
    if input.dtype.kind != "f":
        raise RuntimeError(f"histc: expects a floating point tensor, got {input.dtype}")
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, got {bins}")
    array = np.asarray(input.detach().numpy(force=True))
    low, high = _histogram_range(array, float(min), float(max), "histc")
    counts, _ = np.histogram(array, bins=bins, range=(low, high))
    return _like_input(counts.astype(input.dtype), input)


def histogram(input: Tensor, bins=100, *, range=None, weight=None, density: bool = False):
    """``(hist, bin_edges)`` of the flattened input, as ``numpy.histogram`` (in the input's float dtype).

    >>> import chainrule as cr
    >>> hist, edges = cr.histogram(cr.tensor([1.0, 2.0, 1.0, 4.0]), bins=3, range=(0.0, 6.0))
    >>> hist, edges
    (tensor([2., 1., 1.], shape=(3,), dtype=float32), tensor([0., 2., 4., 6.], shape=(4,), dtype=float32))
    """
    if input.dtype.kind != "f":
        raise RuntimeError(f"histogram: expects a floating point tensor, got {input.dtype}")
    array = np.asarray(input.detach().numpy(force=True))
    edges = bins._data if isinstance(bins, Tensor) else int(bins)
    if range is None and not isinstance(bins, Tensor):
        range = _histogram_range(array, 0.0, 0.0, "histogram")
    weights = None if weight is None else np.asarray(weight.detach().numpy(force=True))
    hist, bin_edges = np.histogram(array, bins=edges, range=range, weights=weights, density=density)
    return histogram_result(
        _like_input(hist.astype(input.dtype), input), _like_input(bin_edges.astype(input.dtype), input)
    )
