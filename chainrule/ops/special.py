"""Elementwise functions beyond the basic table: erf, erfinv, atan2, lerp, logaddexp, isclose.

Backprop recipes (``g`` is the gradient of the output):
    erf      dL/dx = g * 2/sqrt(pi) * exp(-x^2)
    erfinv   dL/dy = g * sqrt(pi)/2 * exp(erfinv(y)^2)
    atan2    dL/dy = g * x / (x^2 + y^2),  dL/dx = -g * y / (x^2 + y^2)

erf and erfinv come from the special functions of the array's library
(SciPy's on the CPU, CuPy's on a GPU); without SciPy, erf is ``math.erf`` per
element and erfinv Newton's method on it, so the core needs only NumPy.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import array_module, dtypes, library_of
from chainrule.ops.casting import promote_operands, to_dtype
from chainrule.ops.creation import as_tensor
from chainrule.ops.elementwise import clamp, exp, log, maximum, where
from chainrule.ops.shape import sum_to_shape
from chainrule.tensor import Tensor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_array(x):
    """erf elementwise, by the special functions of ``x``'s array library."""
    return library_of(x).special().erf(x)


def _erfinv_array(y):
    """The inverse of erf on (-1, 1), +-inf at +-1, NaN outside."""
    special = library_of(y).special()
    try:
        inverse = special.erfinv
    except ImportError:  # the CPU without SciPy has erf alone
        return _erfinv_by_newton(y, special.erf)
    return inverse(y)


def _erfinv_by_newton(y, erf):
    """erfinv from ``erf``: Winitzki's closed form (error < 2e-3), polished by four Newton steps in float64."""
    xp = array_module(y)
    y64 = y.astype(np.float64)
    a = 0.147
    log_term = xp.log1p(-xp.minimum(y64 * y64, 1.0))
    first = 2.0 / (math.pi * a) + log_term / 2.0
    x = xp.sign(y64) * xp.sqrt(xp.sqrt(first * first - log_term / a) - first)
    inside = xp.abs(y64) < 1
    for _ in range(4):
        step = (erf(x) - y64) / (_TWO_OVER_SQRT_PI * xp.exp(-x * x))
        x = xp.where(inside, x - step, x)
    x = xp.where(xp.abs(y64) == 1, xp.sign(y64) * math.inf, x)
    x = xp.where(xp.abs(y64) > 1, math.nan, x)
    return x.astype(y.dtype)


def _floating(input: Tensor) -> Tensor:
    return input if input.dtype.kind == "f" else to_dtype(input, dtypes.default_float)


class Erf(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _erf_array(x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * exp(-(x * x)) * _TWO_OVER_SQRT_PI


class Erfinv(Op):
    @staticmethod
    def forward(ctx, y):
        x = _erfinv_array(y)
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * exp(x * x) * (1.0 / _TWO_OVER_SQRT_PI)


def erf(input: Tensor) -> Tensor:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise.

    Same shape and dtype as ``input``; the gradient is ``2/sqrt(pi) exp(-x^2)``.

    >>> import chainrule as cr
    >>> cr.erf(cr.tensor([0.0, 10.0, -10.0]))
    tensor([ 0.,  1., -1.], shape=(3,), dtype=float32)
    >>> round(cr.erf(cr.tensor(0.5)).item(), 4)
    0.5205
    """
    return Erf.apply(_floating(input))


def erfc(input: Tensor) -> Tensor:
    """``1 - erf(x)``.

    Same shape and dtype as ``input``; accurate for large x where ``1 - erf(x)`` would round to 0.

    >>> import chainrule as cr
    >>> cr.erfc(cr.tensor([0.0, -10.0]))
    tensor([1., 2.], shape=(2,), dtype=float32)
    """
    return 1.0 - erf(input)


def erfinv(input: Tensor) -> Tensor:
    """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside).

    Same shape and dtype as ``input``; ``erf(erfinv(y)) = y``.

    >>> import chainrule as cr
    >>> cr.erfinv(cr.tensor([0.0, 1.0, -1.0]))
    tensor([  0.,  inf, -inf], shape=(3,), dtype=float32)
    >>> round(cr.erf(cr.erfinv(cr.tensor(0.25))).item(), 4)
    0.25
    """
    return Erfinv.apply(_floating(input))


class Atan2(Op):
    @staticmethod
    def forward(ctx, y, x):
        ctx.save_for_backward(y, x)
        return array_module(y).arctan2(y, x)

    @staticmethod
    def backward(ctx, grad):
        y, x = ctx.saved_tensors
        # At the origin (or where x^2 + y^2 underflows to 0) the gradient is taken as 0, as in PyTorch.
        squared = x * x + y * y
        at_origin = squared == 0
        scaled = where(at_origin, 0.0, grad / where(at_origin, 1.0, squared))
        return (
            sum_to_shape(scaled * x, y.shape) if ctx.needs_input_grad[0] else None,
            sum_to_shape(-scaled * y, x.shape) if ctx.needs_input_grad[1] else None,
        )


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point ``(other, input)``: ``arctan(input / other)`` in the right quadrant.

    ``arctan2`` is the same function. Shapes broadcast; the result, in radians, lies in [-pi, pi].

    >>> import chainrule as cr
    >>> import math
    >>> cr.atan2(cr.tensor([1.0, 1.0, -1.0]), cr.tensor([1.0, -1.0, 0.0])) * 4 / math.pi
    tensor([ 1.,  3., -2.], shape=(3,), dtype=float32)
    """
    # Promote first: float16 with an int stays float16.
    y, x = promote_operands(_as_tensor(input), _as_tensor(other), "atan2")
    y, x = _floating(y), _floating(x)
    return Atan2.apply(y, x)


arctan2 = atan2


def _as_tensor(value) -> Tensor:
    return value if isinstance(value, Tensor) else as_tensor(value)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``; ``weight`` is a number or a tensor (all broadcast).

    >>> import chainrule as cr
    >>> cr.lerp(cr.tensor([0.0, 10.0]), cr.tensor([4.0, 20.0]), 0.25)
    tensor([ 1. , 12.5], shape=(2,), dtype=float32)
    """
    return input + weight * (end - input)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (all broadcast); the step of Adam-like updates.

    >>> import chainrule as cr
    >>> cr.addcmul(cr.tensor([1.0, 1.0]), cr.tensor([2.0, 3.0]), cr.tensor([4.0, 5.0]), value=0.5)
    tensor([5. , 8.5], shape=(2,), dtype=float32)
    """
    product = tensor1 * tensor2
    return input + (product if value == 1 else value * product)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (all broadcast).

    >>> import chainrule as cr
    >>> cr.addcdiv(cr.tensor([1.0, 1.0]), cr.tensor([2.0, 3.0]), cr.tensor([4.0, 6.0]), value=2)
    tensor([2., 2.], shape=(2,), dtype=float32)
    """
    quotient = tensor1 / tensor2
    return input + (quotient if value == 1 else value * quotient)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow: shifted by the larger of the two.

    Shapes broadcast; the gradients are the softmax weights ``exp(a - y)`` and ``exp(b - y)``.

    >>> import chainrule as cr
    >>> cr.logaddexp(cr.tensor([1000.0, 0.0]), cr.tensor([1000.0, 0.0])) - cr.log(cr.tensor(2.0))
    tensor([1000.,    0.], shape=(2,), dtype=float32)
    """
    a, b = promote_operands(_floating(_as_tensor(input)), _floating(_as_tensor(other)), "logaddexp")
    shift = maximum(a, b).detach()
    shift = where(shift.isfinite(), shift, 0.0)
    return shift + log(exp(a - shift) + exp(b - shift))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (a bool tensor, no gradient).

    Shapes broadcast; NaNs compare equal only with ``equal_nan=True``.

    >>> import chainrule as cr
    >>> cr.isclose(cr.tensor([1.0, 1.0, float("nan")]), cr.tensor([1.0 + 1e-7, 1.1, float("nan")]))
    tensor([ True, False, False], shape=(3,), dtype=bool)
    """
    a, b = promote_operands(input, other, "isclose")
    a_array = a._data if isinstance(a, Tensor) else a
    b_array = b._data if isinstance(b, Tensor) else b
    xp = array_module(a_array if isinstance(a, Tensor) else b_array)
    return Tensor._wrap(xp.asarray(xp.isclose(a_array, b_array, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def clamp_min(input: Tensor, min) -> Tensor:
    """``max(x, min)`` elementwise: ``clamp(input, min=min)``; ``min`` is a number or a tensor (broadcast).

    >>> import chainrule as cr
    >>> cr.clamp_min(cr.tensor([-2.0, 0.5, 3.0]), 0.0)
    tensor([0. , 0.5, 3. ], shape=(3,), dtype=float32)
    """
    return clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:
    """``min(x, max)`` elementwise: ``clamp(input, max=max)``; ``max`` is a number or a tensor (broadcast).

    >>> import chainrule as cr
    >>> cr.clamp_max(cr.tensor([-2.0, 0.5, 3.0]), 1.0)
    tensor([-2. ,  0.5,  1. ], shape=(3,), dtype=float32)
    """
    return clamp(input, max=max)
