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
from chainrule.backend import array_module, dtypes
from chainrule.ops._args import normalize_dim
from chainrule.ops._blocks import blockwise
from chainrule.ops.elementwise import exp, sigmoid, tanh, to_dtype, where
from chainrule.ops.norm import row_sums
from chainrule.tensor import Tensor

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_SCALE = math.sqrt(2.0 / math.pi)  # the tanh approximation of GELU: tanh(k (x + c x^3))
_TANH_CUBIC = 0.044715


def _floating(input: Tensor) -> Tensor:
    return input if input.dtype.kind == "f" else to_dtype(input, dtypes.default_float)


def _sigmoid_array(z):
    """The logistic function on an array, in the form that never overflows."""
    xp = array_module(z)
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


def _softmax_kernel(x, dim: int):
    y = x - x.max(axis=dim, keepdims=True)
    array_module(x).exp(y, out=y)
    y /= _sum_along(y, dim)
    return y


def _softmax_vjp_kernel(grad, y, dim: int):
    grad_x = grad - _dot_along(grad, y, dim)
    grad_x *= y
    return grad_x


def _log_softmax_kernel(x, dim: int):
    xp = array_module(x)
    y = x - x.max(axis=dim, keepdims=True)
    y -= xp.log(_sum_along(xp.exp(y), dim))
    return y


def _log_softmax_vjp_kernel(grad, y, dim: int):
    xp = array_module(y)
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
    """Probabilities along ``dim``: exp(x_i) / sum_j exp(x_j), computed stably."""
    input = to_dtype(input, dtype) if dtype is not None else _floating(input)
    return Softmax.apply(input, dim=_softmax_dim(input, dim, "softmax"))


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """Log-probabilities along ``dim``: x_i - logsumexp(x), finite for logits of any size."""
    input = to_dtype(input, dtype) if dtype is not None else _floating(input)
    return LogSoftmax.apply(input, dim=_softmax_dim(input, dim, "log_softmax"))


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
    """x where x > 0, else negative_slope * x."""
    return LeakyRelu.apply(_floating(input), negative_slope=float(negative_slope))


# --------------------------------------------------------------------------- smooth activations
# A smooth activation or its derivative is a chain of ten to thirty NumPy passes: computed
# ``blockwise``, its temporaries stay in the cache.


class _SmoothBackward(Op):
    """g f'(x) computed on arrays; its own backward is gg f'(x) for g and gg g f''(x) for x."""

    @classmethod
    def derivative(cls, x, **params):
        """f'(x) on an array."""
        raise NotImplementedError

    @classmethod
    def second_derivative(cls, x: Tensor, **params) -> Tensor:
        """f''(x) with tensor ops, so that it can be differentiated again."""
        raise NotImplementedError

    @staticmethod
    def forward(ctx, grad, x, params):
        ctx.params = params
        ctx.save_for_backward(grad, x)
        derivative = type(ctx).derivative
        return blockwise(lambda g, v: g * derivative(v, **params), grad, x)

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
    def function(cls, x, **params):
        """f(x) on an array."""
        raise NotImplementedError

    @staticmethod
    def forward(ctx, x, params):
        ctx.params = params
        ctx.save_for_backward(x)
        function = type(ctx).function
        return blockwise(lambda v: function(v, **params), x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return type(ctx).derivative_op.apply(grad, x, params=ctx.params)


def _smooth(op_class: type[_Smooth], input: Tensor, **params) -> Tensor:
    return op_class.apply(_floating(input), params=params)


class EluBackward(_SmoothBackward):
    name = "elu_backward"

    @classmethod
    def derivative(cls, x, alpha):
        xp = array_module(x)
        return xp.where(x > 0, 1.0, alpha * xp.exp(xp.minimum(x, 0))).astype(x.dtype, copy=False)

    @classmethod
    def second_derivative(cls, x, alpha):
        return where(x > 0, 0.0, exp(x) * alpha)


class Elu(_Smooth):
    derivative_op = EluBackward

    @classmethod
    def function(cls, x, alpha):
        xp = array_module(x)
        return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (exp(x) - 1)."""
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


@functools.cache
def _cpu_erfc_float64():
    """SciPy's vectorised erfc when SciPy is installed, else the exact scalar ``math.erfc`` per element."""
    try:
        from scipy.special import erfc
    except ImportError:
        scalar_erfc = np.frompyfunc(math.erfc, 1, 1)
        return lambda values: scalar_erfc(values).astype(values.dtype)
    return erfc


def _erfc(x):
    """The complementary error function on an array: NumPy's own for float32, float64-exact otherwise."""
    if array_module(x) is not np:
        from cupyx.scipy.special import erfc

        return erfc(x)
    if x.dtype == np.float32:
        return _erfc_float32(x)
    return _cpu_erfc_float64()(x)


def _normal_cdf(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2: accurate in the lower tail too, where 1 + erf(x) would cancel."""
    cdf = _erfc(x * -_SQRT_HALF)
    cdf *= 0.5
    return cdf


def _tanh_gelu_inner(x):
    return _TANH_SCALE * (x + _TANH_CUBIC * x * x * x)


class GeluBackward(_SmoothBackward):
    name = "gelu_backward"

    @classmethod
    def derivative(cls, x, approximate):
        xp = array_module(x)
        if approximate == "tanh":
            t = xp.tanh(_tanh_gelu_inner(x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _TANH_SCALE * (1 + 3 * _TANH_CUBIC * x * x)
        return _normal_cdf(x) + x * xp.exp(-0.5 * x * x) * _INV_SQRT_2PI

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
    def function(cls, x, approximate):
        if approximate == "tanh":
            return 0.5 * x * (1 + array_module(x).tanh(_tanh_gelu_inner(x)))
        return x * _normal_cdf(x)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) (Phi the standard normal cdf); ``approximate='tanh'`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _smooth(Gelu, input, approximate=approximate)


class SiluBackward(_SmoothBackward):
    name = "silu_backward"

    @classmethod
    def derivative(cls, x):
        s = _sigmoid_array(x)
        return s * (1 + x * (1 - s))

    @classmethod
    def second_derivative(cls, x):
        s = sigmoid(x)
        return s * (1.0 - s) * (x * (1.0 - 2.0 * s) + 2.0)


class Silu(_Smooth):
    derivative_op = SiluBackward

    @classmethod
    def function(cls, x):
        return x * _sigmoid_array(x)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x sigmoid(x) (the swish activation)."""
    return _smooth(Silu, input)


class SoftplusBackward(_SmoothBackward):
    name = "softplus_backward"

    @classmethod
    def derivative(cls, x, beta, threshold):
        z = x * beta
        return array_module(x).where(z > threshold, 1.0, _sigmoid_array(z)).astype(x.dtype, copy=False)

    @classmethod
    def second_derivative(cls, x, beta, threshold):
        s = sigmoid(x * beta)
        return where(x * beta > threshold, 0.0, s * (1.0 - s) * beta)


class Softplus(_Smooth):
    derivative_op = SoftplusBackward

    @classmethod
    def function(cls, x, beta, threshold):
        xp = array_module(x)
        z = x * beta
        # log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z
        smooth = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / beta
        return xp.where(z > threshold, x, smooth).astype(x.dtype, copy=False)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
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


class Sign(Op):
    """-1, 0 or 1 as NumPy's sign. The true gradient is zero; ``straight_through`` passes g unchanged."""

    @staticmethod
    def forward(ctx, x, straight_through):
        ctx.straight_through = straight_through
        return array_module(x).sign(x)

    @staticmethod
    def backward(ctx, grad):
        return grad if ctx.straight_through else grad * 0.0


def step(input: Tensor, straight_through: bool = False) -> Tensor:
    """The hard threshold 1[x > 0]; with ``straight_through=True`` its gradient is the identity."""
    return Step.apply(_floating(input), straight_through=bool(straight_through))


def sign(input: Tensor, straight_through: bool = False) -> Tensor:
    """sign(x) in {-1, 0, 1}; with ``straight_through=True`` its gradient is the identity."""
    return Sign.apply(_floating(input), straight_through=bool(straight_through))
