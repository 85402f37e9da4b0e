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
    """View ``input`` as ``size`` (NumPy broadcasting rules); the gradient sums back."""
    size = tuple(size)
    if input.shape == size:
        return input
    return BroadcastTo.apply(input, shape=size)


def expand(input: Tensor, *sizes) -> Tensor:
    """``broadcast_to`` where -1 keeps a dim's current size."""
    sizes = size_args(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes {len(sizes)} is smaller than the tensor's dims {input.ndim}")
    shape = tuple(input.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes))
    return broadcast_to(input, shape)


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
    shape = size_args(shape)
    if shape == input.shape:
        return input
    if shape.count(-1) > 1 or (-1 not in shape and math.prod(shape) != input.numel()):
        raise RuntimeError(f"reshape: shape {shape} is invalid for input of size {input.numel()} (shape {input.shape})")
    return Reshape.apply(input, shape=shape)


view = reshape


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if input.ndim == 0:
        return reshape(input, (1,))
    start = normalize_dim(start_dim, input.ndim, "flatten")
    end = normalize_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape[:start] + (math.prod(input.shape[start : end + 1]),) + input.shape[end + 1 :]
    return reshape(input, shape)


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    dim = normalize_dim(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes = tuple(input.shape[dim] // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != input.shape[dim]:
        raise RuntimeError(f"unflatten: sizes {sizes} do not multiply to the size {input.shape[dim]} of dim {dim}")
    return reshape(input, input.shape[:dim] + sizes + input.shape[dim + 1 :])


def squeeze(input: Tensor, dim=None) -> Tensor:
    if dim is None:
        axes = {i for i, n in enumerate(input.shape) if n == 1}
    else:
        axes = {a for a in normalize_dims(dim, input.ndim, "squeeze") if input.shape[a] == 1}
    return reshape(input, tuple(n for i, n in enumerate(input.shape) if i not in axes))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
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
    axes = list(range(input.ndim))
    a, b = normalize_dim(dim0, input.ndim, "transpose"), normalize_dim(dim1, input.ndim, "transpose")
    axes[a], axes[b] = axes[b], axes[a]
    return permute(input, axes)


swapaxes = transpose


def t(input: Tensor) -> Tensor:
    """Transpose a matrix (0-d and 1-d tensors are returned as they are)."""
    if input.ndim > 2:
        raise RuntimeError(f"t: expects a tensor of at most 2 dims, got shape {input.shape}")
    return permute(input, tuple(reversed(range(input.ndim))))


def reverse_dims(input: Tensor) -> Tensor:
    """``x.T``: all dims reversed."""
    return permute(input, tuple(reversed(range(input.ndim))))


def matrix_transpose(input: Tensor) -> Tensor:
    """``x.mT``: the last two dims swapped."""
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
    """Tile ``input`` ``sizes[i]`` times along dim i (PyTorch's ``repeat``, NumPy's ``tile``)."""
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
    return Flip.apply(input, dims=normalize_dims(dims, input.ndim, "flip"))


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
    """Join tensors along an existing dim; dtypes are promoted as in binary ops."""
    tensors = _same_dtype(tensors, "cat")
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
    """Join same-shaped tensors along a new dim."""
    tensors = _same_dtype(tensors, "stack")
    for i, x in enumerate(tensors):
        if x.shape != tensors[0].shape:
            raise RuntimeError(
                f"stack: expects tensors of equal shape, got {tensors[0].shape} at 0 and {x.shape} at {i}"
            )
    dim = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return Stack.apply(*tensors, dim=dim)


def _same_dtype(tensors, op: str) -> list[Tensor]:
    from chainrule.ops.creation import as_tensor
    from chainrule.ops.elementwise import result_dtype, to_dtype

    tensors = [as_tensor(x) for x in tensors]
    if not tensors:
        raise ValueError(f"{op}: expects a non-empty sequence of tensors")
    dtype = tensors[0].dtype
    for x in tensors[1:]:
        dtype = result_dtype(dtype, 1, x.dtype, 1)
    return [to_dtype(x, dtype) for x in tensors]


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
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
    dim = normalize_dim(dim, input.ndim, "chunk")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    return split(input, max(1, -(-input.shape[dim] // chunks)), dim)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
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
    """Keep the elements on and below the ``diagonal``-th diagonal of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError(f"tril: expects a tensor of at least 2 dims, got shape {input.shape}")
    return Triangle.apply(input, diagonal=diagonal, upper=False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Keep the elements on and above the ``diagonal``-th diagonal of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError(f"triu: expects a tensor of at least 2 dims, got shape {input.shape}")
    return Triangle.apply(input, diagonal=diagonal, upper=True)
