"""Reductions over dims: sum, mean, var/std, max/min, logsumexp, prod, norm.

Every reduction takes ``dim`` (int, tuple or None for all dims) and ``keepdim``;
``axis`` and ``keepdims`` are accepted as aliases. The backward of a reduction
broadcasts the output gradient back over the reduced dims.
"""

from __future__ import annotations

import math
from collections import namedtuple

from chainrule.autograd.function import Op
from chainrule.autograd.naming import public_name
from chainrule.backend import array_module, dtypes
from chainrule.ops._args import kept_shape, normalize_dim, normalize_dims
from chainrule.ops.elementwise import exp, sqrt, to_dtype, where
from chainrule.ops.shape import broadcast_to, reshape
from chainrule.tensor import Tensor

values_indices = namedtuple("values_indices", ["values", "indices"])


def _reduce_args(input: Tensor, dim, keepdim, axis, keepdims, op: str):
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    axes = normalize_dims(dim, input.ndim, op)
    return (None if input.ndim == 0 else axes), bool(keepdim)  # dim 0 or -1 of a 0-d tensor: itself


def _expand_back(grad: Tensor, ctx) -> Tensor:
    """The output gradient broadcast over the dims the forward reduced."""
    if not ctx.keepdim:
        grad = reshape(grad, kept_shape(ctx.input_shape, ctx.axes))
    return broadcast_to(grad, ctx.input_shape)


def _kept(output: Tensor, ctx) -> Tensor:
    """The forward output with the reduced dims kept as size 1 (so it broadcasts against the input)."""
    return output if ctx.keepdim else reshape(output, kept_shape(ctx.input_shape, ctx.axes))


class Sum(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype=None):
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad, ctx)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """Sum over ``dim``; bool and integer tensors sum to int64."""
    axes, keepdim = _reduce_args(input, dim, keepdim, axis, keepdims, "sum")
    if dtype is None and input.dtype.kind in "biu":
        dtype = dtypes.int64
    return Sum.apply(input, axes=axes, keepdim=keepdim, dtype=dtype)


class Mean(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.count = x.size if axes is None else math.prod(x.shape[a] for a in axes)
        return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad * (1.0 / ctx.count if ctx.count else 0.0), ctx)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    axes, keepdim = _reduce_args(input, dim, keepdim, axis, keepdims, "mean")
    if dtype is not None:
        input = to_dtype(input, dtype)
    if input.dtype.kind != "f":
        raise RuntimeError(
            f"{public_name('mean')}: expects a floating point tensor, got {input.dtype}; use .float() first"
        )
    return Mean.apply(input, axes=axes, keepdim=keepdim)


class Var(Op):
    """Variance, or with ``root=True`` standard deviation, over ``axes``.

    Squares of float32 values near 1e20 overflow, so float16/float32 inputs are
    reduced in float64 (and the root taken there) before the cast back.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction, root=False):
        ctx.input_shape, ctx.axes, ctx.keepdim, ctx.correction = x.shape, axes, keepdim, correction
        ctx.count = x.size if axes is None else math.prod(x.shape[a] for a in axes)
        xp = array_module(x)
        wide = x.astype(xp.float64) if x.dtype.itemsize < 8 else x
        y = wide.var(axis=axes, keepdims=keepdim, ddof=correction)
        y = xp.asarray(xp.sqrt(y) if root else y).astype(x.dtype, copy=False)
        ctx.root = root
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d var / d x_i = 2 (x_i - mean) / (N - correction); d std = d var / (2 std)
        x, y = ctx.saved_tensors
        if ctx.root:  # where std == 0 (all equal) its gradient is taken as 0, as in PyTorch
            flat = y == 0
            grad = where(flat, 0.0, grad / where(flat, 1.0, 2.0 * y))
        centered = x - mean(x, dim=ctx.axes, keepdim=True)
        dof = ctx.count - ctx.correction
        return _expand_back(grad, ctx) * centered * (2.0 / dof if dof > 0 else math.nan)


def _correction(unbiased, correction) -> int:
    if correction is not None:
        return int(correction)
    return 1 if unbiased is None or unbiased else 0


def var(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None
) -> Tensor:
    """Variance over ``dim``; ``unbiased=True`` (default) divides by N - 1."""
    return _variance(input, dim, unbiased, keepdim, correction, axis, keepdims, root=False)


def std(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None
) -> Tensor:
    """Standard deviation over ``dim``: the square root of ``var``."""
    return _variance(input, dim, unbiased, keepdim, correction, axis, keepdims, root=True)


def _variance(input, dim, unbiased, keepdim, correction, axis, keepdims, root: bool) -> Tensor:
    op = "std" if root else "var"
    if isinstance(dim, bool) and unbiased is None:
        dim, unbiased = None, dim
    axes, keepdim = _reduce_args(input, dim, keepdim, axis, keepdims, op)
    if input.dtype.kind != "f":
        raise RuntimeError(f"{public_name(op)}: expects a floating point tensor, got {input.dtype}")
    return Var.apply(input, axes=axes, keepdim=keepdim, correction=_correction(unbiased, correction), root=root)


class Amax(Op):
    """Largest (or smallest) value; ties share the gradient evenly, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        y = x.max(axis=axes, keepdims=keepdim) if largest else x.min(axis=axes, keepdims=keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        y_kept = _kept(y, ctx)
        hits = to_dtype(x == y_kept, grad.dtype)
        return _expand_back(grad, ctx) * hits / hits.sum(dim=ctx.axes, keepdim=True)


def _checked_nonempty(input: Tensor, axes, op: str) -> None:
    """A max/min over an empty dim has no value (over the other dims of an empty tensor it is empty)."""
    if input.numel() == 0 and (axes is None or 0 in [input.shape[a] for a in axes]):
        raise RuntimeError(f"{public_name(op)}: expected a non-empty tensor, got shape {input.shape}")


def amax(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    axes, keepdim = _reduce_args(input, dim, keepdim, axis, keepdims, "amax")
    _checked_nonempty(input, axes, "amax")
    return Amax.apply(input, axes=axes, keepdim=keepdim, largest=True)


def amin(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    axes, keepdim = _reduce_args(input, dim, keepdim, axis, keepdims, "amin")
    _checked_nonempty(input, axes, "amin")
    return Amax.apply(input, axes=axes, keepdim=keepdim, largest=False)


class ArgExtreme(Op):
    name = "argmax"
    differentiable = False

    @staticmethod
    def forward(ctx, x, axis, keepdim, largest):
        if axis is None:
            index = x.argmax() if largest else x.argmin()
            return index.reshape((1,) * x.ndim) if keepdim else index
        index = x.argmax(axis=axis) if largest else x.argmin(axis=axis)
        return array_module(x).expand_dims(index, axis) if keepdim else index


def _arg_extreme(input, dim, keepdim, axis, keepdims, largest, op):
    dim = axis if dim is None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    axis = None if dim is None else normalize_dim(dim, input.ndim, op)
    if input.ndim == 0:
        axis = None
    _checked_nonempty(input, None if axis is None else (axis,), op)
    return ArgExtreme.apply(input, axis=axis, keepdim=keepdim, largest=largest)


def argmax(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    return _arg_extreme(input, dim, keepdim, axis, keepdims, True, "argmax")


def argmin(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    return _arg_extreme(input, dim, keepdim, axis, keepdims, False, "argmin")


def _extreme(input: Tensor, dim, keepdim, axis, keepdims, largest: bool, op: str):
    from chainrule.ops.elementwise import maximum, minimum
    from chainrule.ops.indexing import gather

    if isinstance(dim, Tensor):
        return maximum(input, dim) if largest else minimum(input, dim)
    dim = axis if dim is None else dim
    keepdim = keepdims if keepdims is not None else keepdim
    if dim is None:
        return amax(input) if largest else amin(input)
    dim = normalize_dim(dim, input.ndim, op)
    indices = _arg_extreme(input, dim, True, None, None, largest, op)
    values = gather(input, dim, indices)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return values_indices(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``max(x)`` is the largest value; ``max(x, dim)`` gives ``(values, indices)``; ``max(x, y)`` is ``maximum``."""
    return _extreme(input, dim, keepdim, axis, keepdims, True, "max")


def min(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``min(x)``, ``min(x, dim) -> (values, indices)``, or ``minimum`` for two tensors."""
    return _extreme(input, dim, keepdim, axis, keepdims, False, "min")


class LogSumExp(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        # log sum exp x = m + log sum exp(x - m) with m the max: no overflow.
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        xp = array_module(x)
        m = x.max(axis=axes, keepdims=True, initial=-math.inf)  # an empty reduction gives log 0 = -inf
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        y = y.astype(x.dtype, copy=False)
        if not keepdim:
            y = y.reshape([n for i, n in enumerate(y.shape) if i not in (axes if axes is not None else range(x.ndim))])
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d/dx logsumexp(x) = softmax(x) = exp(x - y)
        x, y = ctx.saved_tensors
        y_kept = _kept(y, ctx)
        return _expand_back(grad, ctx) * exp(x - y_kept)


def logsumexp(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    axes, keepdim = _reduce_args(input, dim, keepdim, axis, keepdims, "logsumexp")
    if input.dtype.kind != "f":
        input = to_dtype(input, dtypes.default_float)
    return LogSumExp.apply(input, axes=axes, keepdim=keepdim)


class Prod(Op):
    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, (None if axis is None else (axis,)), keepdim
        y = x.prod(axis=axis, keepdims=keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        y_kept = _kept(y, ctx)
        grad_kept = _expand_back(grad, ctx)
        if not bool((x._data == 0).any()):
            return grad_kept * y_kept / x
        # With zeros, d prod / d x_i is the product of the others (exact first derivative).
        return grad_kept * Tensor._wrap(_product_of_others(x._data, ctx.axes))


def _product_of_others(x, axes):
    """For each element, the product of the other elements along the reduced axis (or all)."""
    xp = array_module(x)
    flat = axes is None
    values = x.reshape(-1) if flat else x
    axis = 0 if flat else axes[0]
    ones_shape = list(values.shape)
    ones_shape[axis] = 1
    one = xp.ones(ones_shape, dtype=x.dtype)
    before = xp.cumprod(xp.concatenate([one, values], axis=axis), axis=axis)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([values, one], axis=axis), axis), axis=axis), axis)
    n = values.shape[axis]
    take = [slice(None)] * values.ndim
    take[axis] = slice(0, n)
    skip = [slice(None)] * values.ndim
    skip[axis] = slice(1, n + 1)
    result = before[tuple(take)] * after[tuple(skip)]
    if flat and int((values == 0).sum()) >= 2:  # as PyTorch: every product of the others has a 0 (even beside NaN)
        return xp.zeros_like(x)
    return result.reshape(x.shape)


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if dtype is not None:
        input = to_dtype(input, dtype)
    axis = None if dim is None else normalize_dim(dim, input.ndim, "prod")
    return Prod.apply(input, axis=axis, keepdim=keepdim)


class Norm2(Op):
    name = "norm"

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        xp = array_module(x)
        y = xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # d |x| / dx = x / |x|, taken as 0 at x = 0 (the subgradient PyTorch uses)
        x, y = ctx.saved_tensors
        y_kept = _kept(y, ctx)
        safe = where(y_kept == 0, 1.0, y_kept)
        return _expand_back(grad, ctx) * where(y_kept == 0, 0.0, x / safe)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector p-norm over ``dim`` (all elements by default): p = 2/'fro', 1, inf, -inf, 0 or any real."""
    from chainrule.ops.elementwise import abs as absolute

    if dtype is not None:
        input = to_dtype(input, dtype)
    axes = normalize_dims(dim, input.ndim, "norm")
    if p in ("fro", 2, 2.0):
        return Norm2.apply(input, axes=axes, keepdim=keepdim)
    if p == 1:
        return absolute(input).sum(dim=axes, keepdim=keepdim)
    if p == math.inf:
        return amax(absolute(input), dim=axes, keepdim=keepdim)
    if p == -math.inf:
        return amin(absolute(input), dim=axes, keepdim=keepdim)
    if p == 0:
        return (input != 0).sum(dim=axes, keepdim=keepdim).to(input.dtype)
    if isinstance(p, str):
        raise ValueError(f"norm: unsupported p={p!r} (expected a number or 'fro')")
    return (absolute(input) ** p).sum(dim=axes, keepdim=keepdim) ** (1.0 / p)


class AllAny(Op):
    name = "all"
    differentiable = False

    @staticmethod
    def forward(ctx, x, axes, keepdim, every):
        return x.all(axis=axes, keepdims=keepdim) if every else x.any(axis=axes, keepdims=keepdim)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes, keepdim = _reduce_args(input, dim, keepdim, None, None, "all")
    return AllAny.apply(input, axes=axes, keepdim=keepdim, every=True)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes, keepdim = _reduce_args(input, dim, keepdim, None, None, "any")
    return AllAny.apply(input, axes=axes, keepdim=keepdim, every=False)


class Cumsum(Op):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return array_module(x).cumsum(x, axis=axis, dtype=x.dtype if x.dtype.kind == "f" else None)

    @staticmethod
    def backward(ctx, grad):
        # the reverse cumulative sum
        return Cumsum.apply(grad.flip(ctx.axis), axis=ctx.axis).flip(ctx.axis)


def _scan_input(input: Tensor, dim, dtype, op: str):
    """The input of a cumulative op in its result dtype (bool and integers accumulate in int64), and its axis."""
    if dtype is not None:
        input = to_dtype(input, dtype)
    elif input.dtype.kind in "biu":
        input = to_dtype(input, dtypes.int64)
    if input.ndim == 0:
        return reshape(input, (1,)), 0
    return input, normalize_dim(dim, input.ndim, op)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sums along ``dim``: ``y_i = x_0 + ... + x_i``; its gradient is the reversed running sum."""
    scanned, axis = _scan_input(input, dim, dtype, "cumsum")
    return reshape(Cumsum.apply(scanned, axis=axis), input.shape)


class Cumprod(Op):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        y = array_module(x).cumprod(x, axis=axis)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        # dL/dx_i = sum_{j >= i} g_j y_j / x_i when no x is zero.
        x, y = ctx.saved_tensors
        if not bool((x._data == 0).any()):
            return reverse_cumsum(grad * y, ctx.axis) / x
        # With zeros, drop x_i from each product instead of dividing by it (exact first derivative).
        return Tensor._wrap(_cumprod_grad_with_zeros(x._data, grad._data, ctx.axis))


def reverse_cumsum(input: Tensor, axis: int) -> Tensor:
    """``y_i = x_i + ... + x_{n-1}`` along ``axis``: the adjoint of the running sum."""
    return Cumsum.apply(input.flip(axis), axis=axis).flip(axis)


def _cumprod_grad_with_zeros(x, grad, axis):
    """``sum_{j >= i} g_j prod_{k <= j, k != i} x_k`` for every i, one cumprod per position (O(n^2))."""
    xp = array_module(x)
    x, grad = xp.moveaxis(x, axis, -1), xp.moveaxis(grad, axis, -1)
    result = xp.empty_like(x)
    for i in range(x.shape[-1]):
        without_i = x.copy()
        without_i[..., i] = 1
        products = xp.cumprod(without_i, axis=-1)
        result[..., i] = (grad[..., i:] * products[..., i:]).sum(axis=-1)
    return xp.moveaxis(result, -1, axis)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running products along ``dim``: ``y_i = x_0 * ... * x_i`` (zeros in ``x`` handled exactly)."""
    scanned, axis = _scan_input(input, dim, dtype, "cumprod")
    return reshape(Cumprod.apply(scanned, axis=axis), input.shape)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of nonzero elements over ``dim`` (all by default), as int64."""
    return sum(input != 0, dim=dim)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var, mean)`` over ``dim`` in one call."""
    if isinstance(dim, bool) and unbiased is None:
        dim, unbiased = None, dim
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std, mean)`` over ``dim`` in one call."""
    variance, average = var_mean(input, dim, unbiased, keepdim, correction=correction)
    return sqrt(variance), average
