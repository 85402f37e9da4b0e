"""Shape ops: reshape, permute, broadcast and its adjoint sum-to-shape, concatenation, padding.

Each of these moves or copies elements without arithmetic, so each backward is
the inverse movement applied to the gradient.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import array_module
from chainrule.ops._args import normalize_dim, normalize_dims, size_args
from chainrule.ops.casting import promote_all
from chainrule.ops.creation import arange, as_tensor
from chainrule.tensor import Tensor


# --------------------------------------------------------------------------- broadcasting
class SumToShape(Op):
    """Sum a broadcast array back to ``shape``: the adjoint of broadcasting (one place for all ops)."""

    name = "sum_to_shape"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
        if axes:
            x = x.sum(axis=axes, keepdims=True)
        return x.reshape(shape) if x.shape != shape else x

    @staticmethod
    def backward(ctx, grad):
        return broadcast_to(grad, ctx.input_shape)


def sum_to_shape(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The gradient of an input of ``shape`` from the gradient of its broadcast result."""
    if x.shape == shape:
        return x
    return SumToShape.apply(x, shape=tuple(shape))


class BroadcastTo(Op):
    name = "expand"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        return array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return sum_to_shape(grad, ctx.input_shape)


def broadcast_to(input: Tensor, size) -> Tensor:
    """View ``input`` as ``size`` (NumPy broadcasting rules); the gradient sums back.

    Dims of size 1 stretch and new leading dims are added: (3,) -> (2, 3), (2, 1) -> (2, 4).
    Nothing is copied; the gradient is summed over the stretched and added dims.

    >>> import chainrule as cr
    >>> cr.broadcast_to(cr.tensor([1, 2, 3]), (2, 3))
    tensor([[1, 2, 3],
            [1, 2, 3]], shape=(2, 3), dtype=int64)
    """
    size = tuple(size)
    if input.shape == size:
        return input
    return BroadcastTo.apply(input, shape=size)


def expand(input: Tensor, *sizes) -> Tensor:
    """``broadcast_to`` where -1 keeps a dim's current size: ``x.expand(2, -1)``.

    Sizes may be ints or one sequence; there must be at least as many as ``input`` has dims.

    >>> import chainrule as cr
    >>> cr.tensor([[1], [2]]).expand(-1, 3)
    tensor([[1, 1, 1],
            [2, 2, 2]], shape=(2, 3), dtype=int64)
    """
    sizes = size_args(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes {len(sizes)} is smaller than the tensor's dims {input.ndim}")
    shape = tuple(input.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes))
    return broadcast_to(input, shape)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` broadcast to the shape of ``other`` (``Tensor.expand_as``); the gradient sums back.

    >>> import chainrule as cr
    >>> cr.tensor([1, 2]).expand_as(cr.zeros(2, 2))
    tensor([[1, 2],
            [1, 2]], shape=(2, 2), dtype=int64)
    """
    return expand(input, other.shape)


# --------------------------------------------------------------------------- reshaping
class Reshape(Op):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.input_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return reshape(grad, ctx.input_shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """The same elements, in row-major order, with shape ``shape``; one entry may be -1 (inferred).

    ``view`` is the same function. The number of elements must match (RuntimeError
    otherwise); the dtype is kept and the gradient is reshaped back.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> cr.reshape(x, (3, 2))
    tensor([[1, 2],
            [3, 4],
            [5, 6]], shape=(3, 2), dtype=int64)
    >>> x.view(-1)
    tensor([1, 2, 3, 4, 5, 6], shape=(6,), dtype=int64)
    """
    shape = size_args(shape)
    if shape == input.shape:
        return input
    if shape.count(-1) > 1 or (-1 not in shape and math.prod(shape) != input.numel()):
        raise RuntimeError(f"reshape: shape {shape} is invalid for input of size {input.numel()} (shape {input.shape})")
    return Reshape.apply(input, shape=shape)


view = reshape


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` reshaped to the shape of ``other`` (``Tensor.view_as``; ``reshape_as`` is the same function).

    >>> import chainrule as cr
    >>> cr.arange(4).view_as(cr.zeros(2, 2))
    tensor([[0, 1],
            [2, 3]], shape=(2, 2), dtype=int64)
    """
    return reshape(input, other.shape)


reshape_as = view_as


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dims ``start_dim`` to ``end_dim`` (inclusive) merged into one: (2, 3, 4) -> (2, 12) for ``start_dim=1``.

    A 0-d tensor becomes (1,).

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> cr.flatten(cr.zeros(2, 3, 4), start_dim=1).shape
    chainrule.Size([2, 12])
    >>> cr.flatten(cr.tensor([[1, 2], [3, 4]]))
    tensor([1, 2, 3, 4], shape=(4,), dtype=int64)
    """
    if input.ndim == 0:
        return reshape(input, (1,))
    start = normalize_dim(start_dim, input.ndim, "flatten")
    end = normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape[:start] + (math.prod(input.shape[start : end + 1]),) + input.shape[end + 1 :]
    return reshape(input, shape)


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Dim ``dim`` split into ``sizes`` (one may be -1): the inverse of ``flatten``.

    The product of ``sizes`` must equal the size of ``dim``.

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> cr.unflatten(cr.arange(6), 0, (2, -1))
    tensor([[0, 1, 2],
            [3, 4, 5]], shape=(2, 3), dtype=int64)
    """
    dim = normalize_dim(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes = tuple(input.shape[dim] // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != input.shape[dim]:
        raise RuntimeError(f"unflatten: sizes {sizes} do not multiply to the size {input.shape[dim]} of dim {dim}")
    return reshape(input, input.shape[:dim] + sizes + input.shape[dim + 1 :])


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Dims of size 1 removed: all of them, or only those named in ``dim`` (an int or a tuple).

    A named dim whose size is not 1 is left as it is, as in PyTorch.

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> cr.squeeze(cr.zeros(2, 1, 3, 1)).shape
    chainrule.Size([2, 3])
    >>> cr.squeeze(cr.zeros(2, 1, 3, 1), 1).shape
    chainrule.Size([2, 3, 1])
    """
    if dim is None:
        axes = {i for i, n in enumerate(input.shape) if n == 1}
    else:
        axes = {a for a in normalize_dims(dim, input.ndim, "squeeze") if input.ndim and input.shape[a] == 1}
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if i not in axes))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """A dim of size 1 inserted at position ``dim`` (from ``-input.ndim - 1`` to ``input.ndim``).

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> cr.unsqueeze(cr.tensor([1, 2]), 0)
    tensor([[1, 2]], shape=(1, 2), dtype=int64)
    >>> cr.unsqueeze(cr.tensor([1, 2]), -1).shape
    chainrule.Size([2, 1])
    """
    dim = normalize_dim(dim, input.ndim + 1, "unsqueeze")
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


class Permute(Op):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return permute(grad, tuple(np.argsort(ctx.dims)))


def permute(input: Tensor, *dims) -> Tensor:
    """The dims reordered: dim i of the result is dim ``dims[i]`` of ``input``.

    ``dims`` (ints or one sequence) must name every dim once; the gradient is permuted
    by the inverse order.

    >>> import chainrule as cr
    >>> cr.permute(cr.zeros(2, 3, 4), (2, 0, 1)).shape
    chainrule.Size([4, 2, 3])
    """
    dims = size_args(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute: got {len(dims)} dims for a tensor of {input.ndim} dims (shape {input.shape})")
    axes = tuple(normalize_dim(d, input.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    if axes == tuple(range(input.ndim)):
        return input
    return Permute.apply(input, dims=axes)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Dims ``dim0`` and ``dim1`` swapped; ``swapaxes`` is the same function.

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> cr.transpose(x, 0, 1)
    tensor([[1, 4],
            [2, 5],
            [3, 6]], shape=(3, 2), dtype=int64)
    """
    axes = list(range(input.ndim))
    a, b = normalize_dim(dim0, input.ndim, "transpose"), normalize_dim(dim1, input.ndim, "transpose")
    if axes:  # a 0-d tensor accepts dims 0 and -1 and stays as it is
        axes[a], axes[b] = axes[b], axes[a]
    return permute(input, axes)


swapaxes = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a matrix (0-d and 1-d tensors are returned as they are).

    More than 2 dims raise RuntimeError (use ``transpose`` or ``.mT``).

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> x.t()
    tensor([[1, 4],
            [2, 5],
            [3, 6]], shape=(3, 2), dtype=int64)
    """
    if input.ndim > 2:
        raise RuntimeError(f"t: expects a tensor of at most 2 dims, got shape {input.shape}")
    return permute(input, tuple(reversed(range(input.ndim))))


def reverse_dims(input: Tensor) -> Tensor:
    """``x.T``: all dims reversed.

    A view of shape ``reversed(x.shape)``; for a matrix, its transpose.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> x.T
    tensor([[1, 4],
            [2, 5],
            [3, 6]], shape=(3, 2), dtype=int64)
    >>> cr.zeros(2, 3, 4).T.shape
    chainrule.Size([4, 3, 2])
    """
    return permute(input, tuple(reversed(range(input.ndim))))


def matrix_transpose(input: Tensor) -> Tensor:
    """``x.mT``: the last two dims swapped.

    A view of shape (*, n, m) for x of shape (*, m, n): a batch of transposed matrices.

    >>> import chainrule as cr
    >>> cr.zeros(5, 2, 3).mT.shape
    chainrule.Size([5, 3, 2])
    """
    return transpose(input, -2, -1)


class Repeat(Op):
    @staticmethod
    def forward(ctx, x, repeats):
        ctx.input_shape = x.shape
        ctx.repeats = repeats
        return array_module(x).tile(x, repeats)

    @staticmethod
    def backward(ctx, grad):
        shape = (1,) * (len(ctx.repeats) - len(ctx.input_shape)) + ctx.input_shape
        interleaved = [n for pair in zip(ctx.repeats, shape) for n in pair]
        summed = reshape(grad, interleaved).sum(dim=tuple(range(0, len(interleaved), 2)))
        return reshape(summed, ctx.input_shape)


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile ``input`` ``sizes[i]`` times along dim i (PyTorch's ``repeat``, NumPy's ``tile``).

    Extra leading sizes add new dims: (n,) repeated (2, 3) is (2, 3n). The gradient sums the copies.

    >>> import chainrule as cr
    >>> cr.tensor([1, 2]).repeat(2, 2)
    tensor([[1, 2, 1, 2],
            [1, 2, 1, 2]], shape=(2, 4), dtype=int64)
    """
    sizes = size_args(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"repeat: {len(sizes)} repeat counts for a tensor of {input.ndim} dims")
    return Repeat.apply(input, repeats=sizes)


class Flip(Op):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return array_module(x).flip(x, dims)

    @staticmethod
    def backward(ctx, grad):
        return Flip.apply(grad, dims=ctx.dims)


def flip(input: Tensor, dims) -> Tensor:
    """The order of elements reversed along ``dims`` (an int or a tuple).

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> cr.flip(x, (1,))
    tensor([[3, 2, 1],
            [6, 5, 4]], shape=(2, 3), dtype=int64)
    >>> cr.flip(x, (0, 1))
    tensor([[6, 5, 4],
            [3, 2, 1]], shape=(2, 3), dtype=int64)
    """
    axes = normalize_dims(dims, input.ndim, "flip")
    return Flip.apply(input, dims=axes if input.ndim else ())


# --------------------------------------------------------------------------- joining and splitting
class Cat(Op):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return array_module(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return split(grad, ctx.sizes, ctx.dim)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; dtypes are promoted as in binary ops.

    All tensors must have the same shape except in ``dim``; the result's ``dim`` is the
    sum of theirs. ``concat`` and ``concatenate`` are the same function. The gradient is
    split back into the pieces.

    >>> import chainrule as cr
    >>> a = cr.tensor([[1, 2]])
    >>> cr.cat([a, a], dim=0)
    tensor([[1, 2],
            [1, 2]], shape=(2, 2), dtype=int64)
    >>> cr.cat([a, cr.tensor([[0.5]])], dim=1)
    tensor([[1. , 2. , 0.5]], shape=(1, 3), dtype=float32)
    """
    tensors = promote_all(tensors, "cat")
    dim = normalize_dim(dim, tensors[0].ndim, "cat")
    for i, x in enumerate(tensors):
        if (
            x.ndim != tensors[0].ndim
            or x.shape[:dim] + x.shape[dim + 1 :] != tensors[0].shape[:dim] + tensors[0].shape[dim + 1 :]
        ):
            raise RuntimeError(
                f"cat: sizes of tensors must match except in dim {dim}; tensor 0 has shape {tensors[0].shape} "
                f"and tensor {i} has shape {x.shape}"
            )
    return Cat.apply(*tensors, dim=dim)


concat = concatenate = cat


class Stack(Op):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return array_module(arrays[0]).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return unbind(grad, ctx.dim)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim ``dim``: k tensors of shape S give (..., k, ...).

    Dtypes are promoted as in binary ops; the gradient is unbound back into the pieces.

    >>> import chainrule as cr
    >>> a, b = cr.tensor([1, 2]), cr.tensor([3, 4])
    >>> cr.stack([a, b])
    tensor([[1, 2],
            [3, 4]], shape=(2, 2), dtype=int64)
    >>> cr.stack([a, b], dim=1)
    tensor([[1, 3],
            [2, 4]], shape=(2, 2), dtype=int64)
    """
    tensors = promote_all(tensors, "stack")
    for i, x in enumerate(tensors):
        if x.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack: expects tensors of equal shape, got {tensors[0].shape} at 0 and {x.shape} at {i}"
            )
    dim = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return Stack.apply(*tensors, dim=dim)


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes.

    Returns a tuple of tensors; listed sizes must sum to the size of ``dim``.

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> [p.tolist() for p in cr.split(cr.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    >>> cr.split(cr.arange(5), [1, 4])
    (tensor([0], shape=(1,), dtype=int64), tensor([1, 2, 3, 4], shape=(4,), dtype=int64))
    """
    dim = normalize_dim(dim, input.ndim, "split")
    length = input.shape[dim]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, length - start) for start in range(0, length, split_size_or_sections)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != length:
            raise RuntimeError(f"split: sections {sizes} do not sum to the size {length} of dim {dim}")
    lead = (slice(None),) * dim
    pieces, start = [], 0
    for size in sizes:
        pieces.append(input[lead + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``chunks`` pieces along ``dim`` of ``ceil(n / chunks)`` elements each (the last may be smaller, or fewer pieces).

    Returns a tuple of tensors, as ``split(input, ceil(n / chunks), dim)``.

    >>> import chainrule as cr
    >>> cr.chunk(cr.arange(5), 2)
    (tensor([0, 1, 2], shape=(3,), dtype=int64), tensor([3, 4], shape=(2,), dtype=int64))
    """
    if input.ndim == 0:
        raise RuntimeError("chunk: expects a tensor of at least 1 dim, got a 0-d tensor")
    dim = normalize_dim(dim, input.ndim, "chunk")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if input.shape[dim] == 0:  # as in PyTorch: ``chunks`` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, max(1, -(-input.shape[dim] // chunks)), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``dim``, as a tuple of tensors with that dim removed.

    Elements are moved, not changed: the dtype is kept and the gradient is moved back.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> [column.tolist() for column in cr.unbind(x, dim=1)]
    [[1, 4], [2, 5], [3, 6]]
    """
    dim = normalize_dim(dim, input.ndim, "unbind")
    lead = (slice(None),) * dim
    return tuple(input[lead + (i,)] for i in range(input.shape[dim]))


# --------------------------------------------------------------------------- padding and triangles
class ConstantPad(Op):
    name = "pad"

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.crop = tuple(slice(before, before + n) for (before, _), n in zip(widths, x.shape))
        return array_module(x).pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.crop]


def pad(input: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (last_before, last_after, prev_before, ...)``.

    Modes: ``constant``, ``reflect``, ``replicate``, ``circular``. The non-constant
    modes are a gather with per-dim index arrays, so their gradient scatters back
    through the indexing op.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.tensor([[1.0, 2.0, 3.0]])
    >>> F.pad(x, (1, 2))
    tensor([[0., 1., 2., 3., 0., 0.]], shape=(1, 6), dtype=float32)
    >>> F.pad(x, (2, 0), mode="reflect")
    tensor([[3., 2., 1., 2., 3.]], shape=(1, 5), dtype=float32)
    >>> F.pad(x, (1, 1, 1, 0), value=9.0)
    tensor([[9., 9., 9., 9., 9.],
            [9., 1., 2., 3., 9.]], shape=(2, 5), dtype=float32)
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding {pad} must have an even length of at most 2 * {input.ndim}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        if any(b < 0 or a < 0 for b, a in widths):
            crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(widths, input.shape))
            input = input[crop]
            widths = [(max(b, 0), max(a, 0)) for b, a in widths]
        return ConstantPad.apply(input, widths=tuple(widths), value=value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: unknown mode {mode!r} (expected constant, reflect, replicate or circular)")
    index = []
    padded = [axis for axis, w in enumerate(widths) if w != (0, 0)]
    for axis in padded:
        before, after = widths[axis]
        n = input.shape[axis]
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(
                f"pad: reflect padding {widths[axis]} must be smaller than the dim size {n} (shape {input.shape})"
            )
        positions = np.arange(-before, n + after)
        if mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            positions = np.abs((positions + period) % period) if n > 1 else np.zeros_like(positions)
            positions = np.where(positions >= n, period - positions, positions)
        elif mode == "replicate":
            positions = np.clip(positions, 0, n - 1)
        else:
            positions = positions % n
        index.append(positions)
    # Open-mesh index arrays over the padded axes, full slices elsewhere.
    mesh = np.ix_(*index)
    full = [slice(None)] * input.ndim
    if padded != list(range(padded[0], padded[-1] + 1)):
        raise ValueError(f"pad: {mode} padding must cover consecutive trailing dims, got widths {widths}")
    for axis, positions in zip(padded, mesh):
        full[axis] = positions
    return input[tuple(full)]


class Triangle(Op):
    name = "tril"

    @staticmethod
    def forward(ctx, x, diagonal, upper):
        ctx.diagonal, ctx.upper = diagonal, upper
        xp = array_module(x)
        return xp.triu(x, diagonal) if upper else xp.tril(x, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return Triangle.apply(grad, diagonal=ctx.diagonal, upper=ctx.upper)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Keep the elements on and below the ``diagonal``-th diagonal of the last two dims.

    The others become 0 (and get zero gradient); ``diagonal > 0`` keeps more, ``< 0`` fewer.
    Needs at least 2 dims; leading dims are batch dims.

    >>> import chainrule as cr
    >>> x = cr.ones(3, 3)
    >>> cr.tril(x)
    tensor([[1., 0., 0.],
            [1., 1., 0.],
            [1., 1., 1.]], shape=(3, 3), dtype=float32)
    >>> cr.tril(x, diagonal=-1)
    tensor([[0., 0., 0.],
            [1., 0., 0.],
            [1., 1., 0.]], shape=(3, 3), dtype=float32)
    """
    if input.ndim < 2:
        raise RuntimeError(f"tril: expects a tensor of at least 2 dims, got shape {input.shape}")
    return Triangle.apply(input, diagonal=diagonal, upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Keep the elements on and above the ``diagonal``-th diagonal of the last two dims.

    The others become 0 (and get zero gradient). Needs at least 2 dims.

    >>> import chainrule as cr
    >>> cr.triu(cr.ones(3, 3), diagonal=1)
    tensor([[0., 1., 1.],
            [0., 0., 1.],
            [0., 0., 0.]], shape=(3, 3), dtype=float32)
    """
    if input.ndim < 2:
        raise RuntimeError(f"triu: expects a tensor of at least 2 dims, got shape {input.shape}")
    return Triangle.apply(input, diagonal=diagonal, upper=True)


# --------------------------------------------------------------------------- moving elements: roll, narrow, movedim, diagonals
class Roll(Op):
    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return array_module(x).roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, grad):
        shifts = -ctx.shifts if isinstance(ctx.shifts, int) else tuple(-s for s in ctx.shifts)
        return Roll.apply(grad, shifts=shifts, axes=ctx.axes)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements by ``shifts`` along ``dims`` (the flattened tensor when ``dims`` is None), wrapping around.

    ``y[(i + s) % n] = x[i]``; ``shifts`` and ``dims`` may be matching tuples. The gradient
    is rolled back by ``-shifts``.

    >>> import chainrule as cr
    >>> cr.roll(cr.tensor([1, 2, 3, 4]), 1)
    tensor([4, 1, 2, 3], shape=(4,), dtype=int64)
    >>> cr.roll(cr.tensor([[1, 2], [3, 4]]), shifts=1, dims=0)
    tensor([[3, 4],
            [1, 2]], shape=(2, 2), dtype=int64)
    """
    if dims is None:
        if not isinstance(shifts, int):
            if len(shifts) != 1:
                raise RuntimeError(f"roll: {len(shifts)} shifts given without dims; pass dims of the same length")
            shifts = shifts[0]
        return reshape(Roll.apply(reshape(input, -1), shifts=int(shifts), axes=0), input.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(normalize_dim(d, input.ndim, "roll") for d in dims)
    return Roll.apply(input, shifts=tuple(int(s) for s in shifts), axes=axes)


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """The ``length`` elements of ``dim`` from ``start`` on (a negative start counts from the end).

    Equal to ``input[..., start:start + length, ...]`` at ``dim``; out-of-range bounds raise IndexError.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6]])
    >>> cr.narrow(x, 1, 1, 2)
    tensor([[2, 3],
            [5, 6]], shape=(2, 2), dtype=int64)
    """
    if input.ndim == 0:
        raise RuntimeError("narrow: cannot be applied to a 0-d tensor")
    axis = normalize_dim(dim, input.ndim, "narrow")
    size = input.shape[axis]
    start = int(start)
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(
            f"narrow: start {start} and length {length} exceed the size {size} of dim {dim} (shape {input.shape})"
        )
    return input[(slice(None),) * axis + (slice(start, start + length),)]


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dims ``source`` to positions ``destination`` (ints or sequences); the others keep their order.

    ``moveaxis`` is the same function; it is a ``permute``, so the gradient moves back.

    >>> import chainrule as cr
    >>> cr.movedim(cr.zeros(2, 3, 4), 0, -1).shape
    chainrule.Size([3, 4, 2])
    """
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: source {source} and destination {destination} must have the same length")
    source = [normalize_dim(d, input.ndim, "movedim") for d in source]
    destination = [normalize_dim(d, input.ndim, "movedim") for d in destination]
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise RuntimeError(f"movedim: repeated dim in source {source} or destination {destination}")
    order = [None] * input.ndim
    for s, d in zip(source, destination):
        order[d] = s
    rest = iter(d for d in range(input.ndim) if d not in source)
    return permute(input, tuple(s if s is not None else next(rest) for s in order))


moveaxis = movedim


def _at_least_shape(shape: tuple, ndim: int) -> tuple:
    """PyTorch's (and NumPy's) padding of a short shape: (n,) -> (1, n) in 2-d, (1, n, 1) in 3-d."""
    if len(shape) >= ndim:
        return shape
    if ndim == 3 and shape:
        return (1,) * (2 - len(shape)) + shape + (1,)
    return (1,) * (ndim - len(shape)) + shape


def _at_least(ndim: int, tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    results = [reshape(x, _at_least_shape(tuple(x.shape), ndim)) for x in map(as_tensor, tensors)]
    return results[0] if len(results) == 1 else tuple(results)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim: 0-d becomes (1,), others are returned as they are.

    One tensor gives a tensor; several (or one sequence) give a tuple.

    >>> import chainrule as cr
    >>> cr.atleast_1d(cr.tensor(5))
    tensor([5], shape=(1,), dtype=int64)
    >>> cr.atleast_1d(cr.tensor(1), cr.tensor([2, 3]))
    (tensor([1], shape=(1,), dtype=int64), tensor([2, 3], shape=(2,), dtype=int64))
    """
    return _at_least(1, tensors)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: 0-d becomes (1, 1), 1-d (n,) becomes (1, n).

    One tensor gives a tensor; several give a tuple.

    >>> import chainrule as cr
    >>> cr.atleast_2d(cr.tensor([1, 2]))
    tensor([[1, 2]], shape=(1, 2), dtype=int64)
    """
    return _at_least(2, tensors)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: 0-d becomes (1, 1, 1), (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1).

    One tensor gives a tensor; several give a tuple.

    >>> import chainrule as cr
    >>> cr.atleast_3d(cr.tensor([1, 2])).shape
    chainrule.Size([1, 2, 1])
    >>> cr.atleast_3d(cr.ones(2, 3)).shape
    chainrule.Size([2, 3, 1])
    """
    return _at_least(3, tensors)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset``-th diagonal of the planes ``(dim1, dim2)``, as a new last dim (the rest keep their order).

    ``y[..., i] = x[..., i, i + offset]`` (for ``offset >= 0``); the gradient is placed back
    on that diagonal, zeros elsewhere.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    >>> cr.diagonal(x)
    tensor([1, 5, 9], shape=(3,), dtype=int64)
    >>> cr.diagonal(x, offset=1)
    tensor([2, 6], shape=(2,), dtype=int64)
    """
    a, b = normalize_dim(dim1, input.ndim, "diagonal"), normalize_dim(dim2, input.ndim, "diagonal")
    if a == b:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be the same dim ({dim1})")
    planes = movedim(input, (a, b), (-2, -1))
    rows, cols = planes.shape[-2], planes.shape[-1]
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    start_row, start_col = max(-offset, 0), max(offset, 0)
    positions = np.arange(length)
    return planes[..., positions + start_row, positions + start_col]


def diag_embed(input: Tensor, offset: int = 0) -> Tensor:
    """Matrices ``(..., n + |offset|, n + |offset|)`` with the last dim of ``input`` on their ``offset``-th diagonal.

    Zeros elsewhere; leading dims are batch dims. The gradient is the diagonal of the output gradient.

    >>> import chainrule as cr
    >>> cr.diag_embed(cr.tensor([[1, 2], [3, 4]]))
    tensor([[[1, 0],
             [0, 2]],
    <BLANKLINE>
            [[3, 0],
             [0, 4]]], shape=(2, 2, 2), dtype=int64)
    """
    return DiagEmbed.apply(input, offset=offset)


class DiagEmbed(Op):
    """Vectors ``(..., n)`` written on the ``offset``-th diagonal of zero matrices; the gradient is that diagonal."""

    name = "diag_embed"

    @staticmethod
    def forward(ctx, x, offset):
        ctx.offset = offset
        n = x.shape[-1]
        size = n + abs(offset)
        matrices = array_module(x).zeros(x.shape[:-1] + (size, size), dtype=x.dtype)
        positions = np.arange(n)  # a host index array: every array library accepts one
        matrices[..., positions + max(-offset, 0), positions + max(offset, 0)] = x
        return matrices

    @staticmethod
    def backward(ctx, grad):
        return diagonal(grad, ctx.offset, -2, -1)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A vector's diagonal matrix, or a matrix's ``diagonal``-th diagonal as a vector.

    (n,) -> (n + |d|, n + |d|) with the vector on diagonal d; (n, m) -> the diagonal's elements.

    >>> import chainrule as cr
    >>> cr.diag(cr.tensor([1, 2]))
    tensor([[1, 0],
            [0, 2]], shape=(2, 2), dtype=int64)
    >>> cr.diag(cr.tensor([[1, 2], [3, 4]]))
    tensor([1, 4], shape=(2,), dtype=int64)
    """
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    raise RuntimeError(f"diag: expects a 1-d or 2-d tensor, got shape {input.shape}")


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference ``x[i+1] - x[i]`` along ``dim``, after joining ``prepend``/``append``.

    Each order shortens ``dim`` by 1. Bool inputs give ``x[i+1] != x[i]``, as in PyTorch.

    >>> import chainrule as cr
    >>> cr.diff(cr.tensor([1, 4, 9, 16]))
    tensor([3, 5, 7], shape=(3,), dtype=int64)
    >>> cr.diff(cr.tensor([1, 4, 9, 16]), n=2)
    tensor([2, 2], shape=(2,), dtype=int64)
    >>> cr.diff(cr.tensor([1.0, 3.0]), prepend=cr.tensor([0.0]))
    tensor([1., 2.], shape=(2,), dtype=float32)
    """
    axis = normalize_dim(dim, input.ndim, "diff")
    pieces = [p for p in (prepend, input, append) if p is not None]
    if len(pieces) > 1:
        one_slice = input.shape[:axis] + (1,) + input.shape[axis + 1 :]
        input = cat([p if p.ndim else broadcast_to(p, one_slice) for p in pieces], axis)
    lead = (slice(None),) * axis
    for _ in range(n):
        if input.dtype.kind == "b":
            input = input[lead + (slice(1, None),)] != input[lead + (slice(None, -1),)]
        else:
            input = input[lead + (slice(1, None),)] - input[lead + (slice(None, -1),)]
    return input


def meshgrid(*tensors, indexing: str = "ij"):
    """Coordinate grids from 1-d tensors; ``indexing='xy'`` swaps the first two output dims (NumPy's default).

    For k inputs of sizes n_1..n_k, returns k tensors of shape (n_1, ..., n_k) with
    ``grids[j][i_1, ..., i_k] = tensors[j][i_j]`` (``'ij'``, PyTorch's default). The grids
    broadcast their inputs, so gradients sum back.

    >>> import chainrule as cr
    >>> gx, gy = cr.meshgrid(cr.tensor([1, 2]), cr.tensor([10, 20, 30]), indexing='ij')
    >>> gx
    tensor([[1, 1, 1],
            [2, 2, 2]], shape=(2, 3), dtype=int64)
    >>> gy
    tensor([[10, 20, 30],
            [10, 20, 30]], shape=(2, 3), dtype=int64)
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for i, x in enumerate(tensors):
        if x.ndim > 1:
            raise RuntimeError(f"meshgrid: expects 0-d or 1-d tensors, got shape {x.shape} at {i}")
    vectors = [reshape(x, -1) for x in tensors]
    order = list(range(len(vectors)))
    if indexing == "xy" and len(vectors) > 1:
        order[0], order[1] = 1, 0
    shape = tuple(vectors[k].shape[0] for k in order)
    grids = []
    for i, x in enumerate(vectors):
        view_shape = [1] * len(vectors)
        view_shape[order.index(i)] = x.shape[0]
        grids.append(broadcast_to(reshape(x, view_shape), shape))
    return tuple(grids)


def repeat_interleave(input: Tensor, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place: [a, b] -> [a, a, b, b].

    ``repeats`` is an int or a 1-d integer tensor with one count per slice; without ``dim``
    the input is flattened first. ``repeat_interleave(counts)`` alone repeats
    ``arange(len(counts))``. The gradient sums the copies back.

    >>> import chainrule as cr
    >>> x = cr.tensor([1, 2])
    >>> cr.repeat_interleave(x, 2)
    tensor([1, 1, 2, 2], shape=(4,), dtype=int64)
    >>> cr.repeat_interleave(x, cr.tensor([1, 3]))
    tensor([1, 2, 2, 2], shape=(4,), dtype=int64)
    >>> cr.repeat_interleave(cr.tensor([2, 1]))
    tensor([0, 0, 1], shape=(3,), dtype=int64)
    """
    if repeats is None:
        counts = input
        input = arange(counts.shape[0])
        return repeat_interleave(input, counts, 0)
    if dim is None:
        input, axis = reshape(input, -1), 0
    else:
        axis = normalize_dim(dim, input.ndim, "repeat_interleave")
    counts = np.asarray(repeats.detach().numpy(force=True) if isinstance(repeats, Tensor) else repeats)
    if counts.ndim > 1 or (counts.ndim == 1 and counts.shape[0] not in (1, input.shape[axis])):
        raise RuntimeError(
            f"repeat_interleave: repeats of shape {tuple(counts.shape)} must be a scalar or have "
            f"{input.shape[axis]} entries for dim {axis} of shape {input.shape}"
        )
    if (counts < 0).any():
        raise RuntimeError("repeat_interleave: repeats must be non-negative")
    positions = np.repeat(np.arange(input.shape[axis]), np.broadcast_to(counts, (input.shape[axis],)))
    return input[(slice(None),) * axis + (positions,)]
