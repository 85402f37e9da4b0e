"""Elementwise ops: arithmetic with broadcasting and type promotion, and the math functions.

Backprop recipes (``g`` is the gradient of the output ``y``):
    add      dL/da = g, dL/db = g (each summed back to its input's shape)
    mul      dL/da = g * b, dL/db = g * a
    sigmoid  dL/dx = g * y * (1 - y)
    relu     dL/dx = g * 1[x > 0]
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import array_module, dtypes
from chainrule.ops.creation import as_tensor
from chainrule.ops.shape import sum_to_shape
from chainrule.tensor import Tensor

_SCALARS = (int, float, bool)


# --------------------------------------------------------------------------- dtype promotion
def result_dtype(a: np.dtype, a_ndim: int, b: np.dtype, b_ndim: int) -> np.dtype:
    return dtypes.promote(a, a_ndim, b, b_ndim)


class Cast(Op):
    name = "to"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return to_dtype(grad, ctx.input_dtype)


def to_dtype(input: Tensor, dtype) -> Tensor:
    """``input`` converted to ``dtype`` (the same tensor when it already has it)."""
    dtype = dtypes.as_dtype(dtype)
    if input.dtype == dtype:
        return input
    if dtype.kind != "f" and input.requires_grad:
        return Tensor._wrap(input._data.astype(dtype))
    return Cast.apply(input, dtype=dtype)


def _scalar(value):
    """Python scalar from a NumPy scalar or a 0-d array (they would promote like arrays)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _operands(a, b, op: str):
    """Promote ``a``, ``b`` (tensors or Python scalars) to a common dtype, PyTorch's rules."""
    # Fast path (most calls): two tensors of one dtype, or a tensor and a scalar it absorbs.
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return a, b
        elif _absorbs(a, b):
            return a, b
    elif isinstance(b, Tensor) and _absorbs(b, a):
        return a, b
    return _promoted_operands(a, b, op)


def _absorbs(tensor: Tensor, scalar) -> bool:
    """Whether a Python scalar leaves the tensor's dtype unchanged (float into float, int into int or float)."""
    kind = tensor._data.dtype.kind
    if scalar.__class__ is float:
        return kind == "f"
    return scalar.__class__ is int and kind in "fiu"


def _promoted_operands(a, b, op: str):
    if not isinstance(a, Tensor):
        a = _scalar(a)
        if not isinstance(a, _SCALARS):
            a = as_tensor(a)
    if not isinstance(b, Tensor):
        b = _scalar(b)
        if not isinstance(b, _SCALARS):
            b = as_tensor(b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        dtype = result_dtype(a.dtype, a.ndim, b.dtype, b.ndim)
        return to_dtype(a, dtype), to_dtype(b, dtype)
    tensor, scalar = (a, b) if isinstance(a, Tensor) else (b, a)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}")
    dtype = dtypes.promote_with_scalar(tensor.dtype, scalar)
    if dtype != tensor.dtype:
        tensor = to_dtype(tensor, dtype)
    return (tensor, scalar) if isinstance(a, Tensor) else (scalar, tensor)


def _shape(x) -> tuple:
    return x.shape if hasattr(x, "shape") else ()


# --------------------------------------------------------------------------- arithmetic
class Add(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a + b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        return (
            sum_to_shape(grad, a_shape) if ctx.needs_input_grad[0] else None,
            sum_to_shape(grad, b_shape) if ctx.needs_input_grad[1] else None,
        )


class Sub(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a - b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        return (
            sum_to_shape(grad, a_shape) if ctx.needs_input_grad[0] else None,
            sum_to_shape(-grad, b_shape) if ctx.needs_input_grad[1] else None,
        )


class Mul(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (
            sum_to_shape(grad * b, a.shape) if ctx.needs_input_grad[0] else None,
            sum_to_shape(grad * a, b.shape) if ctx.needs_input_grad[1] else None,
        )


class Div(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = grad / b
        return (
            sum_to_shape(grad_a, a.shape) if ctx.needs_input_grad[0] else None,
            sum_to_shape(-grad_a * a / b, b.shape) if ctx.needs_input_grad[1] else None,
        )


class Pow(Op):
    @staticmethod
    def forward(ctx, a, b):
        y = a**b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, grad):
        a, b, y = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            # d(a^b)/da = b a^(b-1), taken as 0 where b == 0 (avoids 0 * 0^-1).
            if isinstance(b, Tensor):
                grad_a = where(b == 0, 0.0, grad * b * a ** (b - 1))
            else:
                grad_a = grad * 0.0 if b == 0 else grad * b * a ** (b - 1)
            grad_a = sum_to_shape(grad_a, a.shape)
        if ctx.needs_input_grad[1]:
            # d(a^b)/db = a^b log a, taken as 0 where a == 0 (the limit for b > 0).
            if isinstance(a, Tensor):
                safe_log = where(a == 0, 0.0, log(where(a == 0, 1.0, a)))
            else:
                safe_log = math.log(a) if a > 0 else 0.0
            grad_b = sum_to_shape(grad * y * safe_log, b.shape)
        return grad_a, grad_b


class Neg(Op):
    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad):
        return -grad


def add(input, other, *, alpha=1) -> Tensor:
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(*_operands(input, other, "add"))


def sub(input, other, *, alpha=1) -> Tensor:
    if alpha != 1:
        other = mul(other, alpha)
    a, b = _operands(input, other, "sub")
    if isinstance(a, Tensor) and a._data.dtype.kind == "b" or isinstance(b, Tensor) and b._data.dtype.kind == "b":
        raise TypeError("sub: subtraction of bool tensors is not supported; use logical_xor or ~")
    return Sub.apply(a, b)


def mul(input, other) -> Tensor:
    return Mul.apply(*_operands(input, other, "mul"))


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """True division; integer inputs give float32. ``rounding_mode='floor'`` is ``//``."""
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        return trunc(div(input, other))
    a, b = _operands(input, other, "div")
    a_float = isinstance(a, float) or (isinstance(a, Tensor) and a.dtype.kind == "f")
    b_float = isinstance(b, float) or (isinstance(b, Tensor) and b.dtype.kind == "f")
    if not (a_float or b_float):
        a = to_dtype(a, dtypes.default_float) if isinstance(a, Tensor) else float(a)
        b = to_dtype(b, dtypes.default_float) if isinstance(b, Tensor) else float(b)
    return Div.apply(a, b)


true_divide = divide = div
multiply = mul
subtract = sub


def pow(input, exponent) -> Tensor:
    a, b = _operands(input, exponent, "pow")
    return Pow.apply(a, b)


def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


negative = neg


class FloorDivide(Op):
    name = "floor_divide"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b):
        return a // b


def floor_divide(input, other) -> Tensor:
    """Division rounded down; its result carries no gradient."""
    return FloorDivide.apply(*_operands(input, other, "floor_divide"))


class Remainder(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a % b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_b = sum_to_shape(-grad * floor_divide(a, b), _shape(b)) if ctx.needs_input_grad[1] else None
        return (sum_to_shape(grad, _shape(a)) if ctx.needs_input_grad[0] else None), grad_b


def remainder(input, other) -> Tensor:
    return Remainder.apply(*_operands(input, other, "remainder"))


# --------------------------------------------------------------------------- comparisons
class Compare(Op):
    name = "compare"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b, ufunc):
        return getattr(array_module(a if hasattr(a, "dtype") else b), ufunc)(a, b)


def _comparison(ufunc: str, op: str):
    def compare(input, other) -> Tensor:
        a, b = _operands(input, other, op)
        return Compare.apply(a, b, ufunc=ufunc)

    compare.__name__ = op
    compare.__doc__ = f"Elementwise ``{op}``; returns a bool tensor (no gradient)."
    return compare


eq = _comparison("equal", "eq")
ne = _comparison("not_equal", "ne")
lt = _comparison("less", "lt")
le = _comparison("less_equal", "le")
gt = _comparison("greater", "gt")
ge = _comparison("greater_equal", "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _comparison("logical_and", "logical_and")
logical_or = _comparison("logical_or", "logical_or")
logical_xor = _comparison("logical_xor", "logical_xor")
bitwise_and = _comparison("bitwise_and", "bitwise_and")
bitwise_or = _comparison("bitwise_or", "bitwise_or")
bitwise_xor = _comparison("bitwise_xor", "bitwise_xor")


class LogicalNot(Op):
    name = "logical_not"
    differentiable = False

    @staticmethod
    def forward(ctx, x):
        return array_module(x).logical_not(x) if x.dtype.kind == "b" else array_module(x).invert(x)


def logical_not(input: Tensor) -> Tensor:
    return LogicalNot.apply(input)


def isnan(input: Tensor) -> Tensor:
    return Tensor._wrap(array_module(input._data).isnan(input._data))


def isinf(input: Tensor) -> Tensor:
    return Tensor._wrap(array_module(input._data).isinf(input._data))


def isfinite(input: Tensor) -> Tensor:
    return Tensor._wrap(array_module(input._data).isfinite(input._data))


def allclose(input: Tensor, other: Tensor, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(array_module(input._data).allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input: Tensor, other: Tensor) -> bool:
    return input.shape == other.shape and bool((input._data == other._data).all())


# --------------------------------------------------------------------------- selection
class Where(Op):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition = condition
        ctx.shapes = (_shape(a), _shape(b))
        return array_module(condition).where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        condition = Tensor._wrap(ctx.condition)
        a_shape, b_shape = ctx.shapes
        return (
            None,
            sum_to_shape(where(condition, grad, 0.0), a_shape) if ctx.needs_input_grad[1] else None,
            sum_to_shape(where(condition, 0.0, grad), b_shape) if ctx.needs_input_grad[2] else None,
        )


def where(condition, input, other) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (all three broadcast)."""
    condition = as_tensor(condition)
    if condition.dtype != dtypes.bool_:
        condition = Tensor._wrap(condition._data.astype(bool))
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor._wrap(array_module(condition._data).asarray(input, dtype=dtypes.scalar_dtype(input)))
    a, b = _operands(input, other, "where")
    return Where.apply(condition, a, b)


class Maximum(Op):
    @staticmethod
    def forward(ctx, a, b, pick_max):
        ctx.save_for_backward(a, b)
        ctx.pick_max = pick_max
        xp = array_module(a)
        return xp.maximum(a, b) if pick_max else xp.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        # The chosen input gets the gradient; ties split it evenly, as in PyTorch.
        a, b = ctx.saved_tensors
        a_wins = (a > b) if ctx.pick_max else (a < b)
        share = where(a == b, 0.5, to_dtype(a_wins, grad.dtype))
        return (
            sum_to_shape(grad * share, _shape(a)) if ctx.needs_input_grad[0] else None,
            sum_to_shape(grad * (1.0 - share), _shape(b)) if ctx.needs_input_grad[1] else None,
        )


def maximum(input: Tensor, other: Tensor) -> Tensor:
    a, b = _operands(input, other, "maximum")
    return Maximum.apply(a, b, pick_max=True)


def minimum(input: Tensor, other: Tensor) -> Tensor:
    a, b = _operands(input, other, "minimum")
    return Maximum.apply(a, b, pick_max=False)


class Clamp(Op):
    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.low, ctx.high = low, high
        return array_module(x).clip(x, low, high)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        inside = x >= ctx.low if ctx.low is not None else None
        if ctx.high is not None:
            below_high = x <= ctx.high
            inside = below_high if inside is None else logical_and(inside, below_high)
        return where(inside, grad, 0.0)


def clamp(input: Tensor, min=None, max=None) -> Tensor:
    """Limit values to [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        result = input
        if min is not None:
            result = maximum(result, min)
        if max is not None:
            result = minimum(result, max)
        return result
    return Clamp.apply(input, low=min, high=max)


clip = clamp


# --------------------------------------------------------------------------- unary math
class Exp(Op):
    @staticmethod
    def forward(ctx, x):
        y = array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


class Expm1(Op):
    @staticmethod
    def forward(ctx, x):
        y = array_module(x).expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (y + 1.0)


class Log(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / x


class Log1p(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).log1p(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (x + 1.0)


class Sqrt(Op):
    @staticmethod
    def forward(ctx, x):
        y = array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad / (2.0 * y)


class Rsqrt(Op):
    @staticmethod
    def forward(ctx, x):
        y = 1.0 / array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (-0.5) * y * y * y


class Reciprocal(Op):
    @staticmethod
    def forward(ctx, x):
        y = 1.0 / x
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return -grad * y * y


class Sin(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * cos(x)


class Cos(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).cos(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return -grad * sin(x)


class Tanh(Op):
    @staticmethod
    def forward(ctx, x):
        y = array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return TanhBackward.apply(grad, y)


class TanhBackward(Op):
    """tanh's vector-Jacobian product g (1 - y^2) as one op, itself differentiable."""

    name = "tanh_backward"

    @staticmethod
    def forward(ctx, grad, y):
        ctx.save_for_backward(grad, y)
        return grad * (1 - y * y)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, y = ctx.saved_tensors
        return (
            TanhBackward.apply(grad_grad, y) if ctx.needs_input_grad[0] else None,
            grad_grad * grad * y * -2.0 if ctx.needs_input_grad[1] else None,
        )


class Sigmoid(Op):
    @staticmethod
    def forward(ctx, x):
        # exp of -|x| never overflows: the stable form of 1 / (1 + e^-x).
        xp = array_module(x)
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return SigmoidBackward.apply(grad, y)


class SigmoidBackward(Op):
    """sigmoid's vector-Jacobian product g y (1 - y) as one op, itself differentiable."""

    name = "sigmoid_backward"

    @staticmethod
    def forward(ctx, grad, y):
        ctx.save_for_backward(grad, y)
        return grad * y * (1 - y)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, y = ctx.saved_tensors
        return (
            SigmoidBackward.apply(grad_grad, y) if ctx.needs_input_grad[0] else None,
            grad_grad * grad * (1.0 - 2.0 * y) if ctx.needs_input_grad[1] else None,
        )


class Relu(Op):
    @staticmethod
    def forward(ctx, x):
        y = array_module(x).maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return ReluBackward.apply(grad, y)


class ReluBackward(Op):
    """relu's vector-Jacobian product g 1[y > 0]; linear in g, and zero derivative in y."""

    name = "relu_backward"

    @staticmethod
    def forward(ctx, grad, y):
        ctx.save_for_backward(y)
        return grad * (y > 0)

    @staticmethod
    def backward(ctx, grad_grad):
        (y,) = ctx.saved_tensors
        return ReluBackward.apply(grad_grad, y), None


class Abs(Op):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * sign(x)


class Piecewise(Op):
    """sign, floor, ceil, round, trunc: piecewise constant, so the gradient is zero."""

    name = "piecewise"

    @staticmethod
    def forward(ctx, x, ufunc, decimals=0):
        ctx.shape = x.shape
        xp = array_module(x)
        if ufunc == "round":
            return xp.round(x, decimals)
        return getattr(xp, ufunc)(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0.0


def _piecewise(ufunc: str):
    def function(input: Tensor) -> Tensor:
        if input.dtype.kind in "iub" and ufunc != "sign":
            return input
        return Piecewise.apply(input, ufunc=ufunc)

    function.__name__ = ufunc
    function.__doc__ = f"Elementwise {ufunc}; its gradient is zero."
    return function


sign = _piecewise("sign")
floor = _piecewise("floor")
ceil = _piecewise("ceil")
trunc = _piecewise("trunc")


def round(input: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even (as PyTorch and NumPy); the gradient is zero."""
    if input.dtype.kind in "iub":
        return input
    return Piecewise.apply(input, ufunc="round", decimals=decimals)


def _unary(op_class, name: str, float_only: bool = True):
    def function(input: Tensor) -> Tensor:
        if float_only and input.dtype.kind != "f":
            input = to_dtype(input, dtypes.default_float)
        return op_class.apply(input)

    function.__name__ = name
    function.__doc__ = op_class.__doc__
    return function


exp = _unary(Exp, "exp")
expm1 = _unary(Expm1, "expm1")
log = _unary(Log, "log")
log1p = _unary(Log1p, "log1p")
sqrt = _unary(Sqrt, "sqrt")
rsqrt = _unary(Rsqrt, "rsqrt")
reciprocal = _unary(Reciprocal, "reciprocal")
sin = _unary(Sin, "sin")
cos = _unary(Cos, "cos")
tanh = _unary(Tanh, "tanh")
sigmoid = _unary(Sigmoid, "sigmoid")
relu = _unary(Relu, "relu", float_only=False)
abs = _unary(Abs, "abs", float_only=False)
absolute = abs


def square(input: Tensor) -> Tensor:
    return mul(input, input)


def log2(input: Tensor) -> Tensor:
    return log(input) * (1.0 / np.log(2.0))


def log10(input: Tensor) -> Tensor:
    return log(input) * (1.0 / np.log(10.0))
