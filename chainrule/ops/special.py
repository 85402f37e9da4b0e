"""Elementwise functions beyond the basic table: erf, erfinv, atan2, lerp, logaddexp, isclose.

Backprop recipes (``g`` is the gradient of the output):
    erf      dL/dx = g * 2/sqrt(pi) * exp(-x^2)
    erfinv   dL/dy = g * sqrt(pi)/2 * exp(erfinv(y)^2)
    atan2    dL/dy = g * x / (x^2 + y^2),  dL/dx = -g * y / (x^2 + y^2)

erf and erfinv use SciPy when it is installed and a NumPy path otherwise
(``math.erf`` per element; erfinv by Newton's method on it), so the core
needs only NumPy.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import array_module, dtypes
from chainrule.ops.elementwise import _operands, clamp, exp, to_dtype, where
from chainrule.ops.shape import sum_to_shape
from chainrule.tensor import Tensor


@functools.cache
def _scipy_special():
    """SciPy's special functions if installed, else None (the NumPy paths below).

    Imported on first use: SciPy takes half a second to import, which
    ``import chainrule`` must not pay.
    """
    try:
        from scipy import special  # optional dependency
    except ImportError:
        return None
    return special

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_math_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_numpy(x) -> np.ndarray:
    """erf to double precision without SciPy: ``math.erf`` on each element."""
    return np.asarray(_math_erf(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def _erf_array(x):
    scipy_special = _scipy_special() if array_module(x) is np else None
    if scipy_special is not None:
        return scipy_special.erf(x)
    return _erf_numpy(x).astype(x.dtype)


def _erfinv_array(y):
    """The inverse of erf on (-1, 1), +-inf at +-1, NaN outside."""
    scipy_special = _scipy_special() if array_module(y) is np else None
    if scipy_special is not None:
        return scipy_special.erfinv(y)
    y64 = y.astype(np.float64)
    # Start from Winitzki's closed-form approximation (error < 2e-3), then polish by Newton's method.
    a = 0.147
    log_term = np.log1p(-np.minimum(y64 * y64, 1.0))
    first = 2.0 / (math.pi * a) + log_term / 2.0
    x = np.sign(y64) * np.sqrt(np.sqrt(first * first - log_term / a) - first)
    inside = np.abs(y64) < 1
    for _ in range(4):
        step = (_erf_numpy(x) - y64) / (_TWO_OVER_SQRT_PI * np.exp(-x * x))
        x = np.where(inside, x - step, x)
    x = np.where(np.abs(y64) == 1, np.sign(y64) * np.inf, x)
    x = np.where(np.abs(y64) > 1, np.nan, x)
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
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise."""
    return Erf.apply(_floating(input))


def erfc(input: Tensor) -> Tensor:
    """``1 - erf(x)``."""
    return 1.0 - erf(input)


def erfinv(input: Tensor) -> Tensor:
    """The inverse error function on [-1, 1] (+-inf at +-1, NaN outside)."""
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
    """The angle of the point ``(other, input)``: ``arctan(input / other)`` in the right quadrant."""
    y, x = _operands(_as_tensor(input), _as_tensor(other), "atan2")  # promote first: float16 with int stays float16
    y, x = _floating(y), _floating(x)
    return Atan2.apply(y, x)


arctan2 = atan2


def _as_tensor(value) -> Tensor:
    from chainrule.ops.creation import as_tensor

    return value if isinstance(value, Tensor) else as_tensor(value)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``; ``weight`` is a number or a tensor (all broadcast)."""
    return input + weight * (end - input)


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """``log(exp(input) + exp(other))`` without overflow: shifted by the larger of the two."""
    from chainrule.ops.elementwise import log, maximum, where

    a, b = _operands(_floating(_as_tensor(input)), _floating(_as_tensor(other)), "logaddexp")
    shift = maximum(a, b).detach()
    shift = where(shift.isfinite(), shift, 0.0)
    return shift + log(exp(a - shift) + exp(b - shift))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (a bool tensor, no gradient)."""
    a, b = _operands(input, other, "isclose")
    a_array = a._data if isinstance(a, Tensor) else a
    b_array = b._data if isinstance(b, Tensor) else b
    xp = array_module(a_array if isinstance(a, Tensor) else b_array)
    return Tensor._wrap(xp.asarray(xp.isclose(a_array, b_array, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def clamp_min(input: Tensor, min) -> Tensor:
    return clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:
    return clamp(input, max=max)
