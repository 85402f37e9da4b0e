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
from chainrule.ops.elementwise import absolute, exp, maximum, minimum, sqrt, to_dtype, where
from chainrule.ops.indexing import gather
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
    """Sum over ``dim`` (an int, a tuple, or None for every dim); bool and integer tensors sum to int64.

    ``y = sum_i x_i`` over the reduced dims, which are dropped from the shape unless
    ``keepdim=True`` keeps them as size 1; ``dtype`` casts the input first. The gradient
    broadcasts ``g`` back over the reduced dims. ``axis``/``keepdims`` are NumPy-style aliases.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.sum(x)
    tensor(21., shape=(), dtype=float32)
    >>> cr.sum(x, dim=1)
    tensor([ 6., 15.], shape=(2,), dtype=float32)
    >>> cr.sum(x, 0, keepdim=True)
    tensor([[5., 7., 9.]], shape=(1, 3), dtype=float32)
    >>> cr.sum(cr.tensor([True, True, False]))
    tensor(2, shape=(), dtype=int64)
    """
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
    """Arithmetic mean over ``dim`` (an int, a tuple, or None for every dim).

    ``y = (1/N) sum_i x_i`` over the N reduced elements; the gradient is ``g / N`` for each
    of them. Reduced dims are dropped unless ``keepdim=True``. The input must be floating
    point (RuntimeError for integers, as in PyTorch), or be cast by ``dtype=``. The mean
    of an empty selection is NaN.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.mean(x)
    tensor(3.5, shape=(), dtype=float32)
    >>> cr.mean(x, dim=0)
    tensor([2.5, 3.5, 4.5], shape=(3,), dtype=float32)
    >>> cr.mean(cr.tensor([1, 2]), dtype=cr.float64)
    tensor(1.5, shape=(), dtype=float64)
    """
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
    """Variance over ``dim``: ``sum_i (x_i - mean)^2 / (N - correction)``; ``unbiased=True`` (default) is correction 1.

    ``correction=0`` (or ``unbiased=False``) divides by N. Float inputs only; float16 and
    float32 are accumulated in float64, so squares of large values do not overflow. The
    gradient is ``2 g (x_i - mean) / (N - correction)``. ``var(x, False)`` reads the bool
    as ``unbiased``, as in PyTorch.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.var(x, dim=1)
    tensor([1., 1.], shape=(2,), dtype=float32)
    >>> cr.var(x, dim=1, correction=0)
    tensor([0.6667, 0.6667], shape=(2,), dtype=float32)
    """
    return _variance(input, dim, unbiased, keepdim, correction, axis, keepdims, root=False)


def std(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None
) -> Tensor:
    """Standard deviation over ``dim``: the square root of ``var`` (same ``correction``/``unbiased``).

    Float inputs only. The gradient is ``g (x_i - mean) / ((N - correction) std)``, taken as 0
    where std is 0 (all values equal), as in PyTorch.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.std(x, dim=1)
    tensor([1., 1.], shape=(2,), dtype=float32)
    >>> cr.std(cr.tensor([2.0, 4.0]), unbiased=False)
    tensor(1., shape=(), dtype=float32)
    """
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
    """The largest value over ``dim`` (int, tuple or None for all), values only.

    Works for every dtype; the result has the input's dtype. Ties share the gradient evenly
    (``g / k`` to each of k maxima), as in PyTorch. An empty reduced dim raises RuntimeError.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.amax(x)
    tensor(6., shape=(), dtype=float32)
    >>> cr.amax(x, dim=1)
    tensor([3., 6.], shape=(2,), dtype=float32)
    """
    axes, keepdim = _reduce_args(input, dim, keepdim, axis, keepdims, "amax")
    _checked_nonempty(input, axes, "amax")
    return Amax.apply(input, axes=axes, keepdim=keepdim, largest=True)


def amin(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """The smallest value over ``dim`` (int, tuple or None for all), values only.

    The mirror of ``amax``: the input's dtype, ties share the gradient evenly.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.amin(x, dim=0)
    tensor([1., 2., 3.], shape=(3,), dtype=float32)
    """
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
    """The int64 index of the largest value along ``dim``, or in the flattened tensor when ``dim`` is None.

    The first index wins among ties. No gradient. ``keepdim=True`` keeps ``dim`` as size 1.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.argmax(x)
    tensor(5, shape=(), dtype=int64)
    >>> cr.argmax(x, dim=0)
    tensor([1, 1, 1], shape=(3,), dtype=int64)
    """
    return _arg_extreme(input, dim, keepdim, axis, keepdims, True, "argmax")


def argmin(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """The int64 index of the smallest value along ``dim``, or in the flattened tensor when ``dim`` is None.

    The first index wins among ties. No gradient.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.argmin(x, dim=1, keepdim=True)
    tensor([[0],
            [0]], shape=(2, 1), dtype=int64)
    """
    return _arg_extreme(input, dim, keepdim, axis, keepdims, False, "argmin")


def _extreme(input: Tensor, dim, keepdim, axis, keepdims, largest: bool, op: str):
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
    """``max(x)`` is the largest value; ``max(x, dim)`` gives ``(values, indices)``; ``max(x, y)`` is ``maximum``.

    With ``dim`` the result is a named tuple: ``values`` (the input's dtype) and ``indices``
    (int64, the first index among ties), each of the input's shape less ``dim`` (kept as
    size 1 with ``keepdim=True``); the gradient flows to the chosen elements. ``max(x)``
    returns ``amax(x)`` (ties share the gradient).

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.max(x)
    tensor(6., shape=(), dtype=float32)
    >>> values, indices = cr.max(x, dim=1)
    >>> values
    tensor([3., 6.], shape=(2,), dtype=float32)
    >>> indices
    tensor([2, 2], shape=(2,), dtype=int64)
    >>> cr.max(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0]))
    tensor([3., 5.], shape=(2,), dtype=float32)
    """
    return _extreme(input, dim, keepdim, axis, keepdims, True, "max")


def min(input: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """``min(x)``, ``min(x, dim) -> (values, indices)``, or ``minimum`` for two tensors.

    The mirror of ``max``: same shapes, dtypes and gradients.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.min(x, dim=0).indices
    tensor([0, 0, 0], shape=(3,), dtype=int64)
    """
    return _extreme(input, dim, keepdim, axis, keepdims, False, "min")


def _max_or_minus_inf(x, axes):
    """The max of ``x`` over ``axes`` (None: all), keeping dims; -inf for an empty reduction (log 0)."""
    if 0 in (x.shape if axes is None else [x.shape[axis] for axis in axes]):
        return array_module(x).full(kept_shape(x.shape, axes), -math.inf, dtype=x.dtype)
    return x.max(axis=axes, keepdims=True)


class LogSumExp(Op):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        # log sum exp x = m + log sum exp(x - m) with m the max: no overflow.
        ctx.input_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        xp = array_module(x)
        m = _max_or_minus_inf(x, axes)
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
    """``log(sum_i exp(x_i))`` over ``dim``, computed without overflow.

    Evaluated as ``m + log(sum_i exp(x_i - m))`` with ``m`` the max; the gradient is
    ``g softmax(x)``. Integer inputs become the default float dtype. An empty
    reduction gives ``-inf`` (log 0).

    >>> import chainrule as cr
    >>> cr.logsumexp(cr.tensor([0.0, 0.0]), dim=0)
    tensor(0.6931, shape=(), dtype=float32)
    >>> cr.logsumexp(cr.tensor([1000.0, 1000.0]), dim=0)
    tensor(1000.6932, shape=(), dtype=float32)
    """
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
    """The product of the elements along ``dim`` (one int), or of all elements when ``dim`` is None.

    ``y = prod_i x_i``; ``dtype`` casts the input first. The gradient is ``g y / x_i``, or
    the exact product of the other elements where ``x`` has zeros.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    >>> cr.prod(x)
    tensor(720., shape=(), dtype=float32)
    >>> cr.prod(x, dim=1)
    tensor([  6., 120.], shape=(2,), dtype=float32)
    """
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
    """Vector p-norm over ``dim`` (all elements by default): p = 2/'fro', 1, inf, -inf, 0 or any real.

    ``y = (sum_i |x_i|^p)^(1/p)``; p = inf is ``max |x_i|``, -inf ``min |x_i|``, 0 the
    number of nonzeros (in the input's dtype). ``dim`` may be an int or a tuple; matrix
    norms other than Frobenius are not provided. For p = 2 the gradient ``g x / ||x||`` is
    taken as 0 at x = 0, as in PyTorch.

    >>> import chainrule as cr
    >>> v = cr.tensor([3.0, -4.0])
    >>> cr.norm(v)
    tensor(5., shape=(), dtype=float32)
    >>> cr.norm(v, p=1)
    tensor(7., shape=(), dtype=float32)
    >>> cr.norm(v, p=float('inf'))
    tensor(4., shape=(), dtype=float32)
    """
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
    """True where every element over ``dim`` (int, tuple or None for all) is nonzero, as a bool tensor.

    No gradient; the reduced dims are dropped unless ``keepdim=True``.

    >>> import chainrule as cr
    >>> cr.all(cr.tensor([[1, 0], [2, 3]]), dim=1)
    tensor([False,  True], shape=(2,), dtype=bool)
    >>> cr.all(cr.tensor([1.0, 2.0]))
    tensor(True, shape=(), dtype=bool)
    """
    axes, keepdim = _reduce_args(input, dim, keepdim, None, None, "all")
    return AllAny.apply(input, axes=axes, keepdim=keepdim, every=True)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """True where some element over ``dim`` (int, tuple or None for all) is nonzero, as a bool tensor.

    No gradient; the reduced dims are dropped unless ``keepdim=True``.

    >>> import chainrule as cr
    >>> cr.any(cr.tensor([[1, 0], [0, 0]]), dim=1)
    tensor([ True, False], shape=(2,), dtype=bool)
    """
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
    """Running sums along ``dim``: ``y_i = x_0 + ... + x_i``; its gradient is the reversed running sum.

    The shape is kept. Bool and integer inputs accumulate in int64; ``dtype`` casts first.

    >>> import chainrule as cr
    >>> cr.cumsum(cr.tensor([1.0, 2.0, 3.0]), dim=0)
    tensor([1., 3., 6.], shape=(3,), dtype=float32)
    >>> cr.cumsum(cr.tensor([[1, 2], [3, 4]]), dim=1)
    tensor([[1, 3],
            [3, 7]], shape=(2, 2), dtype=int64)
    """
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
    """Running products along ``dim``: ``y_i = x_0 * ... * x_i`` (zeros in ``x`` handled exactly).

    The shape is kept. Bool and integer inputs accumulate in int64; ``dtype`` casts first.
    The gradient is ``sum_{j >= i} g_j y_j / x_i``, or the exact sum of products leaving
    ``x_i`` out where ``x`` has zeros.

    >>> import chainrule as cr
    >>> cr.cumprod(cr.tensor([1.0, 2.0, 3.0]), dim=0)
    tensor([1., 2., 6.], shape=(3,), dtype=float32)
    """
    scanned, axis = _scan_input(input, dim, dtype, "cumprod")
    return reshape(Cumprod.apply(scanned, axis=axis), input.shape)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of nonzero elements over ``dim`` (all by default), as int64.

    >>> import chainrule as cr
    >>> cr.count_nonzero(cr.tensor([[0, 1], [2, 3]]))
    tensor(3, shape=(), dtype=int64)
    >>> cr.count_nonzero(cr.tensor([[0, 1], [2, 3]]), dim=0)
    tensor([1, 2], shape=(2,), dtype=int64)
    """
    return sum(input != 0, dim=dim)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var, mean)`` over ``dim`` in one call (same arguments as ``var``).

    >>> import chainrule as cr
    >>> cr.var_mean(cr.tensor([1.0, 2.0, 3.0]))
    (tensor(1., shape=(), dtype=float32), tensor(2., shape=(), dtype=float32))
    """
    if isinstance(dim, bool) and unbiased is None:
        dim, unbiased = None, dim
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std, mean)`` over ``dim`` in one call (same arguments as ``std``).

    >>> import chainrule as cr
    >>> cr.std_mean(cr.tensor([1.0, 2.0, 3.0]))
    (tensor(1., shape=(), dtype=float32), tensor(2., shape=(), dtype=float32))
    """
    variance, average = var_mean(input, dim, unbiased, keepdim, correction=correction)
    return sqrt(variance), average
