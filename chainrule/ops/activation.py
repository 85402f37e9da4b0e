"""Activation functions as fused primitives: softmax, log-softmax and the smooth ReLU variants.

Each op computes its forward in one pass over the arrays and hands its
vector-Jacobian product to a ``...Backward`` op that is itself differentiable
(as ``TanhBackward`` in ``elementwise``), so double backward works through
every activation.

Backprop recipes (``g`` is the gradient of the output ``y``):
    softmax      dL/dx = y (g - sum(g y))
    log_softmax  dL/dx = g - exp(y) sum(g)
    leaky_relu   dL/dx = g 1[x > 0] + g slope 1[x <= 0]
    elu          dL/dx = g 1[x > 0] + g alpha exp(x) 1[x <= 0]
    gelu         dL/dx = g (Phi(x) + x phi(x))            Phi, phi: the normal cdf and pdf
    silu         dL/dx = g s (1 + x (1 - s))              s = sigmoid(x)
    softplus     dL/dx = g sigmoid(beta x)                (g where beta x > threshold)
    step, sign   dL/dx = 0, or g with the straight-through estimator
"""

from __future__ import annotations

import functools
import math

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import array_module, dtypes, library_of
from chainrule.ops._args import normalize_dim
from chainrule.ops._blocks import blockwise
from chainrule.ops.elementwise import exp, sigmoid, tanh, to_dtype, where
from chainrule.ops.norm import difference_times, row_sums
from chainrule.tensor import Tensor

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_SCALE = math.sqrt(2.0 / math.pi)  # the tanh approximation of GELU: tanh(k (x + c x^3))
_TANH_CUBIC = 0.044715


def _floating(input: Tensor) -> Tensor:
    return input if input.dtype.kind == "f" else to_dtype(input, dtypes.default_float)


def _sigmoid_array(xp, z):
    """The logistic function on an array of module ``xp``, in the form that never overflows."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


# --------------------------------------------------------------------------- softmax family
def _sum_along(a, dim: int):
    """``a.sum(axis=dim, keepdims=True)``; along the last dim as a matrix-vector product (BLAS, one pass)."""
    if dim != a.ndim - 1 or a.ndim < 2 or not a.flags.c_contiguous:
        return a.sum(axis=dim, keepdims=True)
    return row_sums(a.reshape(-1, a.shape[-1])).reshape(a.shape[:-1] + (1,))


def _dot_along(a, b, dim: int):
    """sum(a * b) along ``dim`` (keepdims), without the temporary product where the dim is the last."""
    if dim != a.ndim - 1 or a.shape != b.shape:
        return (a * b).sum(axis=dim, keepdims=True)
    return array_module(a).einsum("...i,...i->...", a, b)[..., None]


# On the host each kernel below is a few in-place NumPy passes over one buffer; on a device the
# elementwise steps between its reductions run as one fused kernel each (``ArrayLibrary.fused``).


def _exp_shifted(library):
    xp = library.xp

    def exp_shifted(x, shift):
        return xp.exp(x - shift)

    return exp_shifted


def _log_normalized(library):
    xp = library.xp

    def log_normalized(x, shift, total):
        return x - shift - xp.log(total)

    return log_normalized


def _log_softmax_vjp(library):
    xp = library.xp

    def log_softmax_vjp(grad, y, grad_sum):
        return grad - xp.exp(y) * grad_sum

    return log_softmax_vjp


def _softmax_kernel(x, dim: int):
    library = library_of(x)
    if library.in_place_chains:
        y = x - x.max(axis=dim, keepdims=True)
        library.xp.exp(y, out=y)
    else:
        y = library.fused(_exp_shifted)(x, x.max(axis=dim, keepdims=True))
    y /= _sum_along(y, dim)
    return y


def _softmax_vjp_kernel(grad, y, dim: int):
    library = library_of(y)
    if not library.in_place_chains:
        return library.fused(difference_times)(grad, _dot_along(grad, y, dim), y)
    grad_x = grad - _dot_along(grad, y, dim)
    grad_x *= y
    return grad_x


def _log_softmax_kernel(x, dim: int):
    library = library_of(x)
    xp = library.xp
    shift = x.max(axis=dim, keepdims=True)
    if not library.in_place_chains:
        return library.fused(_log_normalized)(x, shift, _sum_along(library.fused(_exp_shifted)(x, shift), dim))
    y = x - shift
    y -= xp.log(_sum_along(xp.exp(y), dim))
    return y


def _log_softmax_vjp_kernel(grad, y, dim: int):
    library = library_of(y)
    xp = library.xp
    if not library.in_place_chains:
        return library.fused(_log_softmax_vjp)(grad, y, _sum_along(grad, dim))
    grad_x = xp.exp(y)
    grad_x *= _sum_along(grad, dim)
    return xp.subtract(grad, grad_x, out=grad_x)


class Softmax(Op):
    """exp(x) / sum(exp(x)) along ``dim``, with the max subtracted first so nothing overflows."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = _softmax_kernel(x, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return SoftmaxBackward.apply(grad, y, dim=ctx.dim)


class SoftmaxBackward(Op):
    """softmax's vector-Jacobian product y (g - sum(g y)) as one op, differentiable in g and y."""

    name = "softmax_backward"

    @staticmethod
    def forward(ctx, grad, y, dim):
        ctx.dim = dim
        ctx.save_for_backward(grad, y)
        return _softmax_vjp_kernel(grad, y, dim)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, y = ctx.saved_tensors
        dim = ctx.dim
        d_grad = SoftmaxBackward.apply(grad_grad, y, dim=dim) if ctx.needs_input_grad[0] else None
        d_y = None
        if ctx.needs_input_grad[1]:
            d_y = grad_grad * (grad - (grad * y).sum(dim, keepdim=True)) - grad * (grad_grad * y).sum(dim, keepdim=True)
        return d_grad, d_y


class LogSoftmax(Op):
    """x - logsumexp(x) along ``dim`` (the log-sum-exp taken after subtracting the max)."""

    name = "log_softmax"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = _log_softmax_kernel(x, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return LogSoftmaxBackward.apply(grad, y, dim=ctx.dim)


class LogSoftmaxBackward(Op):
    """log_softmax's vector-Jacobian product g - exp(y) sum(g), differentiable in g and y."""

    name = "log_softmax_backward"

    @staticmethod
    def forward(ctx, grad, y, dim):
        ctx.dim = dim
        ctx.save_for_backward(grad, y)
        return _log_softmax_vjp_kernel(grad, y, dim)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, y = ctx.saved_tensors
        dim = ctx.dim
        probs = exp(y)
        d_grad = grad_grad - (grad_grad * probs).sum(dim, keepdim=True) if ctx.needs_input_grad[0] else None
        d_y = -grad_grad * probs * grad.sum(dim, keepdim=True) if ctx.needs_input_grad[1] else None
        return d_grad, d_y


def _softmax_dim(input: Tensor, dim, op: str) -> int:
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return normalize_dim(dim, input.ndim, op)


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """Probabilities along ``dim``: exp(x_i) / sum_j exp(x_j), computed stably.

    Same shape as ``input``, each slice along ``dim`` summing to 1; ``dtype`` casts the input first.

    >>> import chainrule as cr
    >>> cr.softmax(cr.tensor([[0.0, 0.0], [0.0, 1000.0]]), dim=1)
    tensor([[0.5, 0.5],
            [0. , 1. ]], shape=(2, 2), dtype=float32)
    """
    input = to_dtype(input, dtype) if dtype is not None else _floating(input)
    dim = _softmax_dim(input, dim, "softmax")
    if input.ndim == 0:  # one element: computed as a vector of one
        return Softmax.apply(input.reshape(1), dim=0).reshape(())
    return Softmax.apply(input, dim=dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """Log-probabilities along ``dim``: x_i - logsumexp(x), finite for logits of any size.

    Same shape as ``input``; ``dtype`` casts the input first. ``exp`` of the result sums to 1 along ``dim``.

    >>> import chainrule as cr
    >>> cr.log_softmax(cr.tensor([0.0, 0.0]), dim=0)
    tensor([-0.6931, -0.6931], shape=(2,), dtype=float32)
    >>> cr.log_softmax(cr.tensor([[1000.0, 1000.0]]), dim=1)
    tensor([[-0.6931, -0.6931]], shape=(1, 2), dtype=float32)
    """
    input = to_dtype(input, dtype) if dtype is not None else _floating(input)
    dim = _softmax_dim(input, dim, "log_softmax")
    if input.ndim == 0:  # one element: computed as a vector of one
        return LogSoftmax.apply(input.reshape(1), dim=0).reshape(())
    return LogSoftmax.apply(input, dim=dim)


# --------------------------------------------------------------------------- piecewise linear
class LeakyRelu(Op):
    name = "leaky_relu"

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.negative_slope = negative_slope
        ctx.save_for_backward(x)
        return array_module(x).where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return LeakyReluBackward.apply(grad, x, negative_slope=ctx.negative_slope)


class LeakyReluBackward(Op):
    """g 1[x > 0] + g slope 1[x <= 0]: linear in g, zero derivative in x."""

    name = "leaky_relu_backward"

    @staticmethod
    def forward(ctx, grad, x, negative_slope):
        ctx.negative_slope = negative_slope
        ctx.save_for_backward(x)
        return array_module(x).where(x > 0, grad, grad * negative_slope)

    @staticmethod
    def backward(ctx, grad_grad):
        (x,) = ctx.saved_tensors
        return LeakyReluBackward.apply(grad_grad, x, negative_slope=ctx.negative_slope), None


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x.

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.leaky_relu(cr.tensor([-2.0, 0.0, 3.0]), negative_slope=0.5)
    tensor([-1.,  0.,  3.], shape=(3,), dtype=float32)
    """
    return LeakyRelu.apply(_floating(input), negative_slope=float(negative_slope))


# --------------------------------------------------------------------------- smooth activations
# A smooth activation or its derivative is a chain of ten to thirty elementwise passes. On the
# host it is computed ``blockwise``, so that its temporaries stay in the cache; on a device it
# is one fused kernel (``ArrayLibrary.fuse``). So that one formula serves both, f and f' are
# written against the array library they are given (``library.xp``, ``library.special()``).


@functools.cache
def _activation_kernel(library, function, params: tuple):
    """x -> ``function(library, x, **params)`` as one elementwise kernel (the params are constants in it)."""
    keywords = dict(params)

    def activation(x):
        return function(library, x, **keywords).astype(x.dtype, copy=False)

    return library.fuse(activation)


@functools.cache
def _gradient_kernel(library, derivative, params: tuple):
    """(g, x) -> ``g * derivative(library, x, **params)`` as one elementwise kernel."""
    keywords = dict(params)

    def activation_gradient(grad, x):
        return (grad * derivative(library, x, **keywords)).astype(x.dtype, copy=False)

    return library.fuse(activation_gradient)


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


class _SmoothBackward(Op):
    """g f'(x) computed on arrays; its own backward is gg f'(x) for g and gg g f''(x) for x."""

    @classmethod
    def derivative(cls, library, x, **params):
        """f'(x) on an array of ``library``."""
        raise NotImplementedError

    @classmethod
    def second_derivative(cls, x: Tensor, **params) -> Tensor:
        """f''(x) with tensor ops, so that it can be differentiated again."""
        raise NotImplementedError

    @staticmethod
    def forward(ctx, grad, x, params):
        ctx.params = params
        ctx.save_for_backward(grad, x)
        return blockwise(_gradient_kernel(library_of(x), type(ctx).derivative, _key(params)), grad, x)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, x = ctx.saved_tensors
        cls = type(ctx)
        d_grad = cls.apply(grad_grad, x, params=ctx.params) if ctx.needs_input_grad[0] else None
        d_x = grad_grad * grad * cls.second_derivative(x, **ctx.params) if ctx.needs_input_grad[1] else None
        return d_grad, d_x


class _Smooth(Op):
    """An elementwise activation y = f(x) whose backward is ``derivative_op`` applied to (g, x)."""

    derivative_op: type[_SmoothBackward]

    @classmethod
    def function(cls, library, x, **params):
        """f(x) on an array of ``library``."""
        raise NotImplementedError

    @staticmethod
    def forward(ctx, x, params):
        ctx.params = params
        ctx.save_for_backward(x)
        return blockwise(_activation_kernel(library_of(x), type(ctx).function, _key(params)), x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return type(ctx).derivative_op.apply(grad, x, params=ctx.params)


def _smooth(op_class: type[_Smooth], input: Tensor, **params) -> Tensor:
    return op_class.apply(_floating(input), params=params)


class EluBackward(_SmoothBackward):
    name = "elu_backward"

    @classmethod
    def derivative(cls, library, x, alpha):
        xp = library.xp
        return xp.where(x > 0, 1.0, alpha * xp.exp(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    @classmethod
    def second_derivative(cls, x, alpha):
        return where(x > 0, 0.0, exp(x) * alpha)


class Elu(_Smooth):
    derivative_op = EluBackward

    @classmethod
    def function(cls, library, x, alpha):
        xp = library.xp
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (exp(x) - 1).

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.elu(cr.tensor([-1000.0, 0.0, 2.0]))
    tensor([-1.,  0.,  2.], shape=(3,), dtype=float32)
    """
    return _smooth(Elu, input, alpha=float(alpha))


# erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0: the Chebyshev fit of Numerical Recipes
# ("erfcc"), relative error below 1.2e-7 in exact arithmetic. Evaluated in float32 it is within
# 4.5e-7 of erfc absolutely (two float32 ulps of values near 2; float32's precision for Phi and
# GELU), and 1e-5 relatively in the tail.
_ERFC_COEFFICIENTS = (
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806,
    0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277,
)  # fmt: skip


def _erfc_float32(x):
    """erfc on a float32 array, with NumPy only (errors as in the comment above)."""
    xp = array_module(x)
    z = xp.abs(x)
    t = z * 0.5
    t += 1.0
    xp.divide(1.0, t, out=t)
    poly = xp.full_like(t, _ERFC_COEFFICIENTS[-1])
    for coefficient in _ERFC_COEFFICIENTS[-2::-1]:
        poly *= t
        poly += coefficient
    z *= z
    poly -= z
    xp.exp(poly, out=poly)
    poly *= t
    # erfc(-z) = 2 - erfc(z): add (2 - 2 erfc) where x < 0, by arithmetic (NumPy's ``where`` costs ~10 passes)
    negative = xp.signbit(x).astype(x.dtype)
    t *= 0.0
    t += 2.0
    t -= poly
    t -= poly
    t *= negative
    poly += t
    return poly


def _normal_cdf(library, x):
    """Phi(x) = erfc(-x / sqrt 2) / 2: accurate in the lower tail too, where 1 + erf(x) would cancel.

    erfc is the polynomial above for float32 on the host, else the library's exact one
    (SciPy's, CuPy's, or the float64-exact scalar fallback).
    """
    z = x * -_SQRT_HALF
    if x.dtype == np.float32 and library.device_type == "cpu":
        cdf = _erfc_float32(z)
        cdf *= 0.5
        return cdf
    return library.special().erfc(z) * 0.5


def _tanh_gelu_inner(x):
    return _TANH_SCALE * (x + _TANH_CUBIC * x * x * x)


class GeluBackward(_SmoothBackward):
    name = "gelu_backward"

    @classmethod
    def derivative(cls, library, x, approximate):
        xp = library.xp
        if approximate == "tanh":
            t = xp.tanh(_tanh_gelu_inner(x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _TANH_SCALE * (1 + 3 * _TANH_CUBIC * x * x)
        return _normal_cdf(library, x) + x * xp.exp(-0.5 * x * x) * _INV_SQRT_2PI

    @classmethod
    def second_derivative(cls, x, approximate):
        if approximate == "tanh":
            # y' = (1 + t)/2 + x (1 - t^2) u'/2 with t = tanh(u), u = k (x + c x^3)
            u_prime = (x * x * (3 * _TANH_CUBIC) + 1.0) * _TANH_SCALE
            t = tanh((x + x * x * x * _TANH_CUBIC) * _TANH_SCALE)
            sech2 = 1.0 - t * t
            return sech2 * (u_prime - x * t * u_prime * u_prime + x * x * (3 * _TANH_CUBIC * _TANH_SCALE))
        # d/dx (Phi + x phi) = 2 phi - x^2 phi
        return exp(x * x * -0.5) * _INV_SQRT_2PI * (2.0 - x * x)


class Gelu(_Smooth):
    derivative_op = GeluBackward

    @classmethod
    def function(cls, library, x, approximate):
        if approximate == "tanh":
            return 0.5 * x * (1 + library.xp.tanh(_tanh_gelu_inner(x)))
        return x * _normal_cdf(library, x)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) (Phi the standard normal cdf); ``approximate='tanh'`` uses the tanh formula.

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.gelu(cr.tensor([0.0, 10.0]))
    tensor([ 0., 10.], shape=(2,), dtype=float32)
    >>> F.gelu(cr.tensor([1.0])), F.gelu(cr.tensor([1.0]), approximate="tanh")
    (tensor([0.8413], shape=(1,), dtype=float32), tensor([0.8412], shape=(1,), dtype=float32))
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _smooth(Gelu, input, approximate=approximate)


class SiluBackward(_SmoothBackward):
    name = "silu_backward"

    @classmethod
    def derivative(cls, library, x):
        s = _sigmoid_array(library.xp, x)
        return s * (1 + x * (1 - s))

    @classmethod
    def second_derivative(cls, x):
        s = sigmoid(x)
        return s * (1.0 - s) * (x * (1.0 - 2.0 * s) + 2.0)


class Silu(_Smooth):
    derivative_op = SiluBackward

    @classmethod
    def function(cls, library, x):
        return x * _sigmoid_array(library.xp, x)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x) (the swish activation).

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.silu(cr.tensor([0.0, 1.0, 100.0]))
    tensor([  0.    ,   0.7311, 100.    ], shape=(3,), dtype=float32)
    """
    return _smooth(Silu, input)


class SoftplusBackward(_SmoothBackward):
    name = "softplus_backward"

    @classmethod
    def derivative(cls, library, x, beta, threshold):
        z = x * beta
        return library.xp.where(z > threshold, 1.0, _sigmoid_array(library.xp, z)).astype(x.dtype, copy=False)

    @classmethod
    def second_derivative(cls, x, beta, threshold):
        s = sigmoid(x * beta)
        return where(x * beta > threshold, 0.0, s * (1.0 - s) * beta)


class Softplus(_Smooth):
    derivative_op = SoftplusBackward

    @classmethod
    def function(cls, library, x, beta, threshold):
        xp = library.xp
        z = x * beta
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z
        smooth = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(z > threshold, x, smooth).astype(x.dtype, copy=False)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.

    Same shape and dtype as ``input``; a smooth ReLU.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softplus(cr.tensor([0.0, 30.0]))
    tensor([ 0.6931, 30.    ], shape=(2,), dtype=float32)
    """
    return _smooth(Softplus, input, beta=float(beta), threshold=float(threshold))


# --------------------------------------------------------------------------- hard thresholds
class Step(Op):
    """1 where x > 0, else 0. The true gradient is zero; ``straight_through`` passes g unchanged."""

    @staticmethod
    def forward(ctx, x, straight_through):
        ctx.straight_through = straight_through
        return (x > 0).astype(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad if ctx.straight_through else grad * 0.0


def step(input: Tensor, straight_through: bool = False) -> Tensor:
    """The hard threshold 1[x > 0]; with ``straight_through=True`` its gradient is the identity.

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.step(cr.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 1.], shape=(3,), dtype=float32)
    """
    return Step.apply(_floating(input), straight_through=bool(straight_through))
