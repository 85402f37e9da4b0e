"""Elementwise ops: arithmetic with broadcasting and type promotion, and the math functions.

Backprop recipes (``g`` is the gradient of the output ``y``):
    add      dL/da = g, dL/db = g (each summed back to its input's shape)
    mul      dL/da = g * b, dL/db = g * a
    sigmoid  dL/dx = g * y * (1 - y)
    relu     dL/dx = g * 1[x > 0]

The one-input math functions are a derivative table (:func:`_unary_op`): one
row each, with the forward on arrays, the vector-Jacobian product on tensors
and the docstring. Operand dtypes are decided in ``chainrule.ops.casting``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import numpy as np

from chainrule.autograd.function import Op
from chainrule.autograd.naming import named, public_name
from chainrule.backend import array_module, dtypes
from chainrule.ops.casting import PYTHON_SCALARS, promote_operands, to_dtype
from chainrule.ops.creation import as_tensor
from chainrule.ops.shape import sum_to_shape
from chainrule.tensor import Tensor


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
            # (a / b) / b, not (g / b) a / b: for a = 0 and a tiny b, 1 / b overflows and inf * 0 would be NaN
            sum_to_shape(-grad * (a / b) / b, b.shape) if ctx.needs_input_grad[1] else None,
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
            # As in PyTorch: a^b log a is taken as 0 only where a == 0 and b >= 0 (0^b = inf otherwise).
            if isinstance(a, Tensor):
                grad_b = where((a == 0) & (b >= 0), 0.0, grad * y * log(a))
            else:
                grad_b = grad * y * (math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan))
                if a == 0:
                    grad_b = where(b >= 0, 0.0, grad_b)
            grad_b = sum_to_shape(grad_b, b.shape)
        return grad_a, grad_b


# A constant exponent is common (x ** 2, torch.pow(x, 3.0) in the tanh GELU, x ** 0.5) and NumPy's
# ``power`` is slow for it: on float32 it takes a general exp/log route, ~30x the cost of x * x * x.
# So a constant exponent becomes a static parameter, and integers (|n| <= 8), 0.5 and -0.5 are
# computed with multiplications, sqrt and reciprocal, in the forward and in every derivative.
_SMALL_INTEGER_POWER = 8


def _integer_power(x, n: int):
    """x^n for an integer n >= 1 by repeated squaring (about 2 log2 n multiplications); never ``x`` itself."""
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else result * base
        n >>= 1
        if n:
            base = base * base
    return x.copy() if result is x else result


def power_array(x, exponent: float):
    """x ** exponent on an array, for a constant exponent: the fast forms where there is one."""
    xp = array_module(x)
    if exponent == 0.5:
        return xp.sqrt(x)
    if exponent == -0.5:
        root = xp.sqrt(x)
        return xp.divide(1.0, root, out=root if root.ndim else None)  # NumPy gives a 0-d input a scalar
    if float(exponent).is_integer() and -_SMALL_INTEGER_POWER <= exponent <= _SMALL_INTEGER_POWER:
        n = int(exponent)
        if n == 0:
            return xp.ones_like(x)
        result = _integer_power(x, n if n > 0 else -n)
        return result if n > 0 else xp.divide(1.0, result, out=result if result.ndim else None)
    return xp.power(x, exponent)


class PowScalar(Op):
    """x ** e for a constant e; the gradient g e x^(e-1) is ``PowScalarBackward``."""

    name = "pow"

    @staticmethod
    def forward(ctx, x, exponent):
        ctx.exponent = exponent
        ctx.save_for_backward(x)
        return power_array(x, exponent)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        e = ctx.exponent
        return PowScalarBackward.apply(grad, x, exponent=e - 1, coefficient=e)


class PowScalarBackward(Op):
    """g c x^n (the derivative of a power, times g) as one op; it is zero where c == 0 (x^0's derivative).

    Its own derivatives: gg c x^n for g, and gg g c n x^(n-1) for x, the same op again.
    """

    name = "pow_backward"

    @staticmethod
    def forward(ctx, grad, x, exponent, coefficient):
        ctx.exponent, ctx.coefficient = exponent, coefficient
        ctx.save_for_backward(grad, x)
        if coefficient == 0:
            return array_module(x).zeros(array_module(x).broadcast_shapes(grad.shape, x.shape), dtype=x.dtype)
        scaled = power_array(x, exponent) if exponent != 0 else array_module(x).ones_like(x)
        if coefficient != 1:
            scaled *= coefficient
        scaled *= grad
        return scaled

    @staticmethod
    def backward(ctx, grad_grad):
        grad, x = ctx.saved_tensors
        n, c = ctx.exponent, ctx.coefficient
        return (
            PowScalarBackward.apply(grad_grad, x, exponent=n, coefficient=c) if ctx.needs_input_grad[0] else None,
            PowScalarBackward.apply(grad_grad * grad, x, exponent=n - 1, coefficient=c * n)
            if ctx.needs_input_grad[1]
            else None,
        )


def _scaled(other, alpha):
    """``alpha * other`` for the ``alpha=`` of add/sub: a Python number stays a number."""
    return other * alpha if not isinstance(other, Tensor) else mul(other, alpha)


def add(input, other, *, alpha=1) -> Tensor:
    """``input + alpha * other`` elementwise: ``y_i = a_i + alpha b_i``.

    ``input`` and ``other`` are tensors or Python numbers; their shapes broadcast (NumPy
    rules) and their dtypes promote as in PyTorch: int with float gives float, a Python
    float turns an integer tensor into the default float dtype, a Python number does not
    widen a tensor of its kind (float32 + 1.5 stays float32), a 0-d tensor does not widen
    a tensor of higher dim of its kind. The gradient of each input is summed back to its shape.

    >>> import chainrule as cr
    >>> cr.add(cr.tensor([1, 2]), cr.tensor([[10], [20]]))
    tensor([[11, 12],
            [21, 22]], shape=(2, 2), dtype=int64)
    >>> cr.add(cr.tensor([1, 2]), 0.5)
    tensor([1.5, 2.5], shape=(2,), dtype=float32)
    >>> cr.add(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 1.0]), alpha=3)
    tensor([4., 5.], shape=(2,), dtype=float32)
    """
    if alpha != 1:
        other = _scaled(other, alpha)
    return Add.apply(*promote_operands(input, other, "add"))


def sub(input, other, *, alpha=1) -> Tensor:
    """``input - alpha * other`` elementwise: ``y_i = a_i - alpha b_i``; ``subtract`` is the same function.

    Bool tensors raise TypeError (use ``logical_xor`` or ``~``), as in PyTorch.

    Operands broadcast and promote as for :func:`add`; each gradient is summed back to its input's shape.

    >>> import chainrule as cr
    >>> cr.sub(cr.tensor([5, 7]), 2)
    tensor([3, 5], shape=(2,), dtype=int64)
    >>> cr.tensor([1.0, 1.0]) - cr.tensor([0.5, 2.0])
    tensor([ 0.5, -1. ], shape=(2,), dtype=float32)
    """
    if alpha != 1:
        other = _scaled(other, alpha)
    a, b = promote_operands(input, other, "sub")
    if isinstance(a, Tensor) and a._data.dtype.kind == "b" or isinstance(b, Tensor) and b._data.dtype.kind == "b":
        raise TypeError("sub: subtraction of bool tensors is not supported; use logical_xor or ~")
    return Sub.apply(a, b)


def mul(input, other) -> Tensor:
    """``input * other`` elementwise: ``y_i = a_i b_i``; ``multiply`` is the same function.

    Gradients: ``dL/da = g b``, ``dL/db = g a``.

    Operands broadcast and promote as for :func:`add`; each gradient is summed back to its input's shape.

    >>> import chainrule as cr
    >>> cr.mul(cr.tensor([1, 2, 3]), 2)
    tensor([2, 4, 6], shape=(3,), dtype=int64)
    >>> cr.mul(cr.tensor([1, 2]), cr.tensor([0.5, 0.25]))
    tensor([0.5, 0.5], shape=(2,), dtype=float32)
    """
    return Mul.apply(*promote_operands(input, other, "mul"))


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """True division ``input / other``; integer inputs give float32. ``rounding_mode='floor'`` is ``//``.

    ``rounding_mode='trunc'`` rounds toward zero. ``divide`` and ``true_divide`` are the same
    function. Gradients: ``dL/da = g / b``, ``dL/db = -g a / b^2``.

    Operands broadcast and promote as for :func:`add`; each gradient is summed back to its input's shape.

    >>> import chainrule as cr
    >>> cr.div(cr.tensor([1, 2, 3]), 2)
    tensor([0.5, 1. , 1.5], shape=(3,), dtype=float32)
    >>> cr.div(cr.tensor([-7.0, 7.0]), 2, rounding_mode='floor')
    tensor([-4.,  3.], shape=(2,), dtype=float32)
    >>> cr.div(cr.tensor([-7.0, 7.0]), 2, rounding_mode='trunc')
    tensor([-3.,  3.], shape=(2,), dtype=float32)
    """
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        return trunc(div(input, other))
    a, b = promote_operands(input, other, "div")
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
    """``input ** exponent`` elementwise; a constant exponent (a number, or a 0-d tensor without grad) is fast.

    ``y_i = a_i^{b_i}``; gradients ``dL/da = g b a^(b - 1)`` and ``dL/db = g y log(a)``.
    Shapes broadcast and dtypes promote as for ``mul``; integer powers of integer tensors stay integer.

    >>> import chainrule as cr
    >>> cr.pow(cr.tensor([1.0, 2.0, 3.0]), 2)
    tensor([1., 4., 9.], shape=(3,), dtype=float32)
    >>> cr.pow(2, cr.tensor([0, 1, 2]))
    tensor([1, 2, 4], shape=(3,), dtype=int64)
    >>> cr.tensor([4.0, 9.0]) ** 0.5
    tensor([2., 3.], shape=(2,), dtype=float32)
    """
    a, b = promote_operands(input, exponent, "pow")
    if isinstance(a, Tensor) and a._data.dtype.kind == "f":
        if isinstance(b, Tensor) and b.ndim == 0 and not b.requires_grad:
            b = b._data.item()
        if isinstance(b, PYTHON_SCALARS):
            return PowScalar.apply(a, exponent=float(b))
    return Pow.apply(a, b)


def _check_integer_divisor(a, b, op: str) -> None:
    """Integer division by zero has no value: raise as PyTorch does (NumPy would give 0)."""
    dtype = getattr(a, "dtype", getattr(b, "dtype", None))
    if dtype is None or dtype.kind not in "iub" or getattr(b, "dtype", np.dtype(int)).kind not in "iub":
        return
    if getattr(a, "size", 1) and not array_module(b).all(b):  # an empty dividend divides nothing
        raise RuntimeError(f"{public_name(op)}: ZeroDivisionError (integer division by zero)")


class FloorDivide(Op):
    name = "floor_divide"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b):
        _check_integer_divisor(a, b, "floor_divide")
        return a // b


def floor_divide(input, other) -> Tensor:
    """Division rounded down; its result carries no gradient.

    ``y_i = floor(a_i / b_i)`` (Python's ``//``, also for negative numbers). Shapes broadcast,
    dtypes promote as for ``mul`` (integers stay integer); an integer division by zero
    raises RuntimeError.

    >>> import chainrule as cr
    >>> cr.floor_divide(cr.tensor([-7, 7]), 2)
    tensor([-4,  3], shape=(2,), dtype=int64)
    >>> cr.tensor([7.5]) // 2
    tensor([3.], shape=(1,), dtype=float32)
    """
    return FloorDivide.apply(*promote_operands(input, other, "floor_divide"))


class Remainder(Op):
    @staticmethod
    def forward(ctx, a, b):
        _check_integer_divisor(a, b, "remainder")
        ctx.save_for_backward(a, b)
        return a % b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_b = sum_to_shape(-grad * floor_divide(a, b), _shape(b)) if ctx.needs_input_grad[1] else None
        return (sum_to_shape(grad, _shape(a)) if ctx.needs_input_grad[0] else None), grad_b


def remainder(input, other) -> Tensor:
    """``input % other`` with the sign of ``other`` (Python's modulo): ``y = a - floor(a / b) b``.

    Shapes broadcast and dtypes promote as for ``mul``; an integer division by zero raises
    RuntimeError. Gradients: ``dL/da = g``, ``dL/db = -g floor(a / b)``.

    >>> import chainrule as cr
    >>> cr.remainder(cr.tensor([-3, 3]), 2)
    tensor([1, 1], shape=(2,), dtype=int64)
    >>> cr.remainder(cr.tensor([5.5]), -2)
    tensor([-0.5], shape=(1,), dtype=float32)
    """
    return Remainder.apply(*promote_operands(input, other, "remainder"))


# --------------------------------------------------------------------------- comparisons, logical and bitwise ops
class BinaryUfunc(Op):
    """The array library's ufunc ``ufunc`` of two operands, without gradient: comparisons, logical and bitwise ops."""

    name = "binary_ufunc"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b, ufunc):
        return getattr(array_module(a if hasattr(a, "dtype") else b), ufunc)(a, b)


def _binary_ufunc(ufunc: str, op: str):
    """A public function ``op(input, other)`` computing the ufunc ``ufunc`` elementwise, without gradient.

    Used for the comparisons ``eq ne lt le gt ge`` (and their aliases), which give bool
    tensors, ``logical_and/or/xor`` (bool tensors too) and ``bitwise_and/or/xor`` (which
    keep integer dtypes). Operands are tensors or numbers; shapes broadcast and dtypes
    promote as for ``add`` first. The generated functions carry a one-line docstring from
    this template.

    >>> import chainrule as cr
    >>> x = cr.tensor([1, 2, 3])
    >>> cr.eq(x, 2)
    tensor([False,  True, False], shape=(3,), dtype=bool)
    >>> cr.lt(x, cr.tensor([2.5]))
    tensor([ True,  True, False], shape=(3,), dtype=bool)
    >>> cr.logical_and(x > 1, x < 3)
    tensor([False,  True, False], shape=(3,), dtype=bool)
    >>> cr.tensor([6]) & 3
    tensor([2], shape=(1,), dtype=int64)
    """

    def function(input, other) -> Tensor:
        a, b = promote_operands(input, other, op)
        return BinaryUfunc.apply(a, b, ufunc=ufunc)

    named(function, op)
    kind = "an integer or bool tensor" if ufunc.startswith("bitwise") else "a bool tensor"
    function.__doc__ = f"Elementwise ``{op}``; returns {kind} (no gradient)."
    return function


eq = _binary_ufunc("equal", "eq")
ne = _binary_ufunc("not_equal", "ne")
lt = _binary_ufunc("less", "lt")
le = _binary_ufunc("less_equal", "le")
gt = _binary_ufunc("greater", "gt")
ge = _binary_ufunc("greater_equal", "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _binary_ufunc("logical_and", "logical_and")
logical_or = _binary_ufunc("logical_or", "logical_or")
logical_xor = _binary_ufunc("logical_xor", "logical_xor")
bitwise_and = _binary_ufunc("bitwise_and", "bitwise_and")
bitwise_or = _binary_ufunc("bitwise_or", "bitwise_or")
bitwise_xor = _binary_ufunc("bitwise_xor", "bitwise_xor")


class UnaryUfunc(Op):
    """The array library's ufunc ``ufunc`` of one operand, without gradient: ``logical_not`` and ``invert``."""

    name = "unary_ufunc"
    differentiable = False

    @staticmethod
    def forward(ctx, x, ufunc):
        return getattr(array_module(x), ufunc)(x)


def logical_not(input: Tensor) -> Tensor:
    """``input == 0`` elementwise, a bool tensor, for every dtype.

    >>> import chainrule as cr
    >>> cr.logical_not(cr.tensor([0.0, 1.5]))
    tensor([ True, False], shape=(2,), dtype=bool)
    """
    return UnaryUfunc.apply(input, ufunc="logical_not")


def bitwise_not(input: Tensor) -> Tensor:
    """``~input``: flips every bit of an integer tensor; logical not of a bool one.

    Floating point tensors raise TypeError. No gradient.

    >>> import chainrule as cr
    >>> cr.bitwise_not(cr.tensor([0, 5]))
    tensor([-1, -6], shape=(2,), dtype=int64)
    >>> ~cr.tensor([True, False])
    tensor([False,  True], shape=(2,), dtype=bool)
    """
    if input.dtype.kind not in "iub":
        raise TypeError(f"bitwise_not: expects an integer or bool tensor, got {input.dtype}")
    return UnaryUfunc.apply(input, ufunc="invert" if input.dtype.kind != "b" else "logical_not")


def _classify(ufunc: str):
    """A public classifier (``isnan``, ``isinf``, ``isfinite``): ``np.<ufunc>`` as a bool tensor, no gradient.

    The generated functions carry a one-line docstring from this template.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, float('inf'), float('nan')])
    >>> cr.isnan(x)
    tensor([False, False,  True], shape=(3,), dtype=bool)
    >>> cr.isinf(x)
    tensor([False,  True, False], shape=(3,), dtype=bool)
    >>> cr.isfinite(x)
    tensor([ True, False, False], shape=(3,), dtype=bool)
    """

    def classify(input: Tensor) -> Tensor:
        data = input._data
        return Tensor._wrap(array_module(data).asarray(getattr(array_module(data), ufunc)(data)))

    classify.__doc__ = f"Elementwise ``{ufunc}`` as a bool tensor of the input's shape (0-d stays 0-d)."
    return named(classify, ufunc)


isnan = _classify("isnan")
isinf = _classify("isinf")
isfinite = _classify("isfinite")


def allclose(input: Tensor, other: Tensor, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    """Whether ``|input - other| <= atol + rtol |other|`` holds everywhere (shapes broadcast), as a Python bool.

    NaNs compare unequal unless ``equal_nan=True``.

    >>> import chainrule as cr
    >>> cr.allclose(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.000001]))
    True
    >>> cr.allclose(cr.tensor([1.0]), cr.tensor([1.1]))
    False
    """
    return bool(array_module(input._data).allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether the two tensors have the same shape and equal elements, as a Python bool.

    >>> import chainrule as cr
    >>> cr.equal(cr.tensor([1, 2]), cr.tensor([1.0, 2.0]))
    True
    >>> cr.equal(cr.tensor([1, 2]), cr.tensor([[1, 2]]))
    False
    """
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
    """``input`` where ``condition`` holds, else ``other`` (all three broadcast).

    ``y_i = a_i if c_i else b_i``; the condition is read as bool. ``input`` and ``other``
    (tensors or numbers) promote as for ``add``. The gradient goes to the chosen input
    (``g`` where chosen, 0 elsewhere), summed back to its shape.

    >>> import chainrule as cr
    >>> x = cr.tensor([-1.0, 2.0, -3.0])
    >>> cr.where(x > 0, x, 0.0)
    tensor([0., 2., 0.], shape=(3,), dtype=float32)
    >>> cr.where(x > 0, 1, -1)
    tensor([-1,  1, -1], shape=(3,), dtype=int64)
    """
    condition = as_tensor(condition)
    if condition.dtype != dtypes.bool_:
        condition = Tensor._wrap(condition._data.astype(bool))
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor._wrap(array_module(condition._data).asarray(input, dtype=dtypes.scalar_dtype(input)))
    a, b = promote_operands(input, other, "where")
    return Where.apply(condition, a, b)


class _Extremum(Op):
    """The elementwise larger (``Maximum``) or smaller (``Minimum``) of two operands.

    The chosen input gets the gradient; ties split it evenly, as in PyTorch. A NaN
    wins over any number, so both inputs of a NaN output get the gradient (PyTorch's rule).
    """

    picks_larger = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        xp = array_module(a)
        return xp.maximum(a, b) if ctx.picks_larger else xp.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a_loses = (a < b) if ctx.picks_larger else (a > b)
        b_loses = (a > b) if ctx.picks_larger else (a < b)
        tie = a == b
        grad_a = where(tie, grad * 0.5, where(a_loses, 0.0, grad)) if ctx.needs_input_grad[0] else None
        grad_b = where(tie, grad * 0.5, where(b_loses, 0.0, grad)) if ctx.needs_input_grad[1] else None
        return (
            sum_to_shape(grad_a, _shape(a)) if grad_a is not None else None,
            sum_to_shape(grad_b, _shape(b)) if grad_b is not None else None,
        )


class Maximum(_Extremum):
    picks_larger = True


class Minimum(_Extremum):
    picks_larger = False


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise larger of two tensors: ``y_i = max(a_i, b_i)``; NaN wins over any number.

    Shapes broadcast and dtypes promote as for ``add``. The gradient goes to the larger
    input; ties split it evenly (``g / 2`` each), as in PyTorch.

    >>> import chainrule as cr
    >>> cr.maximum(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0]))
    tensor([3., 5.], shape=(2,), dtype=float32)
    """
    return Maximum.apply(*promote_operands(input, other, "maximum"))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise smaller of two tensors: ``y_i = min(a_i, b_i)``; NaN wins over any number.

    The mirror of ``maximum``: broadcasting, promotion and tie gradients alike.

    >>> import chainrule as cr
    >>> cr.minimum(cr.tensor([1, 5]), cr.tensor([3, 2]))
    tensor([1, 2], shape=(2,), dtype=int64)
    """
    return Minimum.apply(*promote_operands(input, other, "minimum"))


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
    """Limit values to [min, max]; the gradient passes where min <= x <= max.

    ``y_i = min(max(x_i, min), max)``; either bound may be omitted (not both), and bounds
    may be numbers or tensors (then they broadcast, as ``maximum``/``minimum``). ``clip`` is
    the same function. The dtype is the input's.

    >>> import chainrule as cr
    >>> x = cr.tensor([-2.0, 0.5, 3.0])
    >>> cr.clamp(x, min=0.0, max=1.0)
    tensor([0. , 0.5, 1. ], shape=(3,), dtype=float32)
    >>> cr.clamp(x, max=0.0)
    tensor([-2.,  0.,  0.], shape=(3,), dtype=float32)
    """
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


# --------------------------------------------------------------------------- unary math: the derivative table
class UnaryOp(Op):
    """A one-input op made from a row of the table below: ``y = forward(x)``, gradient ``vjp(x, y, g)``.

    ``saves`` names what the VJP reads, ``"x"``, ``"y"`` or ``""``: only that is
    kept for backward (the other arrives as None), so a VJP written in ``y``
    does not keep the input alive. The VJP is written with tensor ops, so it
    can itself be differentiated.
    """

    saves = ""

    # forward(ctx, x): each row's own, made by _row_forward with the row's array function and saves bound

    @staticmethod
    def vjp(x, y, grad):  # the row's vector-Jacobian product, on tensors
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        if not ctx.saves:
            return ctx.vjp(None, None, grad)
        (saved,) = ctx.saved_tensors
        return ctx.vjp(saved, None, grad) if ctx.saves == "x" else ctx.vjp(None, saved, grad)


_INTEGER_INPUTS = ("to_float", "keep", "unchanged")


def _row_forward(function: Callable, saves: str) -> Callable:
    """``UnaryOp.forward`` for one row, with ``function`` and ``saves`` bound (the hot path of every unary op)."""
    if saves == "x":

        def forward(ctx, x):
            y = function(x)
            ctx.save_for_backward(x)
            return y

    elif saves == "y":

        def forward(ctx, x):
            y = function(x)
            ctx.save_for_backward(y)
            return y

    else:

        def forward(ctx, x):
            return function(x)

    return forward


def _unary_op(name: str, forward: Callable, saves: str, vjp: Callable, doc: str, integers: str = "to_float"):
    """One row of the derivative table: the op class ``Name`` and the public function ``name``.

    ``forward(x)`` maps an array to an array; ``vjp(x, y, g)`` maps tensors to
    the gradient of ``x``, reading only ``saves``. ``integers`` says what an
    integer or bool input does: ``"to_float"`` is cast to the default float
    dtype first, ``"keep"`` is computed in its dtype, ``"unchanged"`` is
    returned as it is (rounding an integer changes nothing).

    >>> import chainrule as cr
    >>> cube = _unary_op("cube", lambda x: x**3, "x", lambda x, y, g: 3 * g * x * x, "x cubed.")
    >>> x = cr.tensor([2.0], requires_grad=True)
    >>> cube(x).backward()
    >>> x.grad
    tensor([12.], shape=(1,), dtype=float32)
    """
    if saves not in ("x", "y", "") or integers not in _INTEGER_INPUTS:
        raise ValueError(f"{name}: saves must be 'x', 'y' or '', integers one of {_INTEGER_INPUTS}")
    op_class = type(
        "".join(part.capitalize() for part in name.split("_")),
        (UnaryOp,),
        {
            "name": name,
            "saves": saves,
            "forward": staticmethod(_row_forward(forward, saves)),
            "vjp": staticmethod(vjp),
            "__doc__": f"The ``{name}`` row of the derivative table as an op.",
        },
    )
    if integers == "keep":

        def function(input: Tensor) -> Tensor:
            return op_class.apply(input)

    elif integers == "to_float":

        def function(input: Tensor) -> Tensor:
            if input._data.dtype.kind != "f":
                input = to_dtype(input, dtypes.default_float)
            return op_class.apply(input)

    else:

        def function(input: Tensor) -> Tensor:
            if input._data.dtype.kind in "iub":
                return input
            return op_class.apply(input)

    named(function, name)
    function.__doc__ = inspect.cleandoc(doc)
    return function


def _sigmoid_array(x):
    """1 / (1 + e^-x) from e^-|x|, which never overflows."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _sign_array(x):
    """-1, 0 or 1; ``sign(nan) = 0``, as in PyTorch."""
    xp = array_module(x)
    if x.dtype.kind == "f":
        return xp.where(xp.isnan(x), x.dtype.type(0), xp.sign(x))
    return xp.sign(x)


def _zero_gradient(x, y, grad):
    """Piecewise-constant functions (sign, floor, ceil, trunc) have zero derivative where it exists."""
    return grad * 0.0


_SHAPE_AND_FLOAT = "The shape is kept; integer and bool inputs give the default float dtype (float32)."
_SHAPE_AND_DTYPE = "The shape and dtype are kept (integer tensors stay integer)."

# The table. Each row: name, forward on arrays, what the VJP reads, VJP (x, y, g) -> gradient of x, docstring.
# fmt: off
exp = _unary_op("exp", lambda x: array_module(x).exp(x), "y", lambda x, y, g: g * y, f"""
    ``exp(input)``: the exponential ``y_i = e^(x_i)`` elementwise; gradient ``g y``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.exp(cr.tensor([0.0, 1.0]))
    tensor([1.    , 2.7183], shape=(2,), dtype=float32)
    """)
expm1 = _unary_op("expm1", lambda x: array_module(x).expm1(x), "y", lambda x, y, g: g * (y + 1.0), f"""
    ``expm1(input)``: ``y_i = e^(x_i) - 1``, accurate for small x; gradient ``g (y + 1)``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.expm1(cr.tensor([0.0, 1e-10], dtype=cr.float64))
    tensor([0.e+00, 1.e-10], shape=(2,), dtype=float64)
    """)
log = _unary_op("log", lambda x: array_module(x).log(x), "x", lambda x, y, g: g / x, f"""
    ``log(input)``: the natural logarithm ``y_i = ln(x_i)``; gradient ``g / x``.

    ``log(0) = -inf``, negatives give NaN. {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.log(cr.tensor([1.0, 2.718281828]))
    tensor([0., 1.], shape=(2,), dtype=float32)
    >>> cr.log(cr.tensor([1, 4]))
    tensor([0.    , 1.3863], shape=(2,), dtype=float32)
    """)
log1p = _unary_op("log1p", lambda x: array_module(x).log1p(x), "x", lambda x, y, g: g / (x + 1.0), f"""
    ``log1p(input)``: ``y_i = ln(1 + x_i)``, accurate for small x; gradient ``g / (1 + x)``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.log1p(cr.tensor([0.0, 1e-10], dtype=cr.float64))
    tensor([0.e+00, 1.e-10], shape=(2,), dtype=float64)
    """)
sqrt = _unary_op("sqrt", lambda x: array_module(x).sqrt(x), "y", lambda x, y, g: g / (2.0 * y), f"""
    ``sqrt(input)``: ``y_i = sqrt(x_i)``; gradient ``g / (2 y)`` (inf at 0), NaN for negatives.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.sqrt(cr.tensor([4, 9]))
    tensor([2., 3.], shape=(2,), dtype=float32)
    """)
rsqrt = _unary_op("rsqrt", lambda x: 1.0 / array_module(x).sqrt(x), "y", lambda x, y, g: g * (-0.5) * y * y * y, f"""
    ``rsqrt(input)``: the reciprocal square root ``y_i = 1 / sqrt(x_i)``; gradient ``-g y^3 / 2``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.rsqrt(cr.tensor([4.0, 0.25]))
    tensor([0.5, 2. ], shape=(2,), dtype=float32)
    """)
reciprocal = _unary_op("reciprocal", lambda x: 1.0 / x, "y", lambda x, y, g: -g * y * y, f"""
    ``reciprocal(input)``: ``y_i = 1 / x_i`` (inf at 0); gradient ``-g y^2``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.reciprocal(cr.tensor([2, 4]))
    tensor([0.5 , 0.25], shape=(2,), dtype=float32)
    """)
sin = _unary_op("sin", lambda x: array_module(x).sin(x), "x", lambda x, y, g: g * cos(x), f"""
    ``sin(input)``: the sine of angles in radians, ``y_i = sin(x_i)``; gradient ``g cos(x)``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.sin(cr.tensor([0.0, 1.5707964]))
    tensor([0., 1.], shape=(2,), dtype=float32)
    """)
cos = _unary_op("cos", lambda x: array_module(x).cos(x), "x", lambda x, y, g: -g * sin(x), f"""
    ``cos(input)``: the cosine of angles in radians, ``y_i = cos(x_i)``; gradient ``-g sin(x)``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.cos(cr.tensor([0.0, 3.1415927]))
    tensor([ 1., -1.], shape=(2,), dtype=float32)
    """)
tanh = _unary_op("tanh", lambda x: array_module(x).tanh(x), "y", lambda x, y, g: TanhBackward.apply(g, y), f"""
    ``tanh(input)``: the hyperbolic tangent ``y_i = tanh(x_i)``, in (-1, 1); gradient ``g (1 - y^2)``.

    {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.tanh(cr.tensor([0.0, 1.0, -20.0]))
    tensor([ 0.    ,  0.7616, -1.    ], shape=(3,), dtype=float32)
    """)
sigmoid = _unary_op("sigmoid", _sigmoid_array, "y", lambda x, y, g: SigmoidBackward.apply(g, y), f"""
    ``sigmoid(input)``: the logistic function ``y_i = 1 / (1 + e^(-x_i))``, in (0, 1); gradient ``g y (1 - y)``.

    Computed from ``e^(-|x|)``, so large ``|x|`` never overflows. {_SHAPE_AND_FLOAT}

    >>> import chainrule as cr
    >>> cr.sigmoid(cr.tensor([0.0, 2.0, -2.0]))
    tensor([0.5   , 0.8808, 0.1192], shape=(3,), dtype=float32)
    """)
relu = _unary_op("relu", lambda x: array_module(x).maximum(x, 0), "y", lambda x, y, g: ReluBackward.apply(g, y), f"""
    ``relu(input)``: ``y_i = max(x_i, 0)``; gradient ``g 1[x > 0]`` (0 at x = 0, as in PyTorch).

    {_SHAPE_AND_DTYPE}

    >>> import chainrule as cr
    >>> cr.relu(cr.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.], shape=(3,), dtype=float32)
    >>> cr.relu(cr.tensor([-3, 3]))
    tensor([0, 3], shape=(2,), dtype=int64)
    """, integers="keep")
abs = _unary_op("abs", lambda x: array_module(x).abs(x), "x", lambda x, y, g: g * sign(x), f"""
    ``abs(input)``: ``y_i = |x_i|``; gradient ``g sign(x)`` (0 at x = 0). ``absolute`` is the same function.

    {_SHAPE_AND_DTYPE}

    >>> import chainrule as cr
    >>> cr.abs(cr.tensor([-1.5, 0.0, 2.0]))
    tensor([1.5, 0. , 2. ], shape=(3,), dtype=float32)
    >>> cr.abs(cr.tensor([-3, 3]))
    tensor([3, 3], shape=(2,), dtype=int64)
    """, integers="keep")
neg = _unary_op("neg", lambda x: -x, "", lambda x, y, g: -g, """
    ``-input`` elementwise, same shape and dtype; ``negative`` is the same function.

    >>> import chainrule as cr
    >>> cr.neg(cr.tensor([1, -2]))
    tensor([-1,  2], shape=(2,), dtype=int64)
    """, integers="keep")
floor = _unary_op("floor", lambda x: array_module(x).floor(x), "", _zero_gradient, f"""
    ``floor(input)``: the largest integer ``<= x_i``; the gradient is zero.

    {_SHAPE_AND_DTYPE} Integer and bool tensors are returned unchanged.

    >>> import chainrule as cr
    >>> cr.floor(cr.tensor([-1.5, -0.5, 0.5, 1.5]))
    tensor([-2., -1.,  0.,  1.], shape=(4,), dtype=float32)
    """, integers="unchanged")
ceil = _unary_op("ceil", lambda x: array_module(x).ceil(x), "", _zero_gradient, f"""
    ``ceil(input)``: the smallest integer ``>= x_i``; the gradient is zero.

    {_SHAPE_AND_DTYPE} Integer and bool tensors are returned unchanged.

    >>> import chainrule as cr
    >>> cr.ceil(cr.tensor([-1.5, -0.5, 0.5, 1.5]))
    tensor([-1., -0.,  1.,  2.], shape=(4,), dtype=float32)
    """, integers="unchanged")
trunc = _unary_op("trunc", lambda x: array_module(x).trunc(x), "", _zero_gradient, f"""
    ``trunc(input)``: ``x_i`` rounded toward zero; the gradient is zero.

    {_SHAPE_AND_DTYPE} Integer and bool tensors are returned unchanged.

    >>> import chainrule as cr
    >>> cr.trunc(cr.tensor([-1.5, -0.5, 0.5, 1.5]))
    tensor([-1., -0.,  0.,  1.], shape=(4,), dtype=float32)
    """, integers="unchanged")
_sign = _unary_op("sign", _sign_array, "", _zero_gradient, "See ``sign``.", integers="keep")
_sign_straight_through = _unary_op("sign_straight_through", _sign_array, "", lambda x, y, g: g, "See ``sign``.", integers="keep")
# fmt: on
absolute = abs
negative = neg


def sign(input: Tensor, straight_through: bool = False) -> Tensor:
    """``sign(input)``: -1, 0 or 1 as ``x_i`` is negative, zero or positive; ``sign(nan) = 0``, as in PyTorch.

    The shape and dtype are kept (an integer tensor gives -1, 0, 1 of its dtype, a bool
    tensor is returned unchanged). The gradient is zero; with ``straight_through=True``
    it is the identity instead (the straight-through estimator of binarised networks).

    >>> import chainrule as cr
    >>> cr.sign(cr.tensor([-1.5, 0.0, 2.0, float('nan')]))
    tensor([-1.,  0.,  1.,  0.], shape=(4,), dtype=float32)
    >>> cr.sign(cr.tensor([-3, 3]))
    tensor([-1,  1], shape=(2,), dtype=int64)
    """
    if input._data.dtype.kind == "b":
        return input
    return _sign_straight_through(input) if straight_through else _sign(input)


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


class Round(Op):
    """Round half to even to ``decimals`` places; piecewise constant, so the gradient is zero."""

    @staticmethod
    def forward(ctx, x, decimals):
        return array_module(x).round(x, decimals)

    @staticmethod
    def backward(ctx, grad):
        return grad * 0.0


def round(input: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even (as PyTorch and NumPy); the gradient is zero.

    ``decimals`` rounds to that many decimal places. Integer and bool tensors are returned unchanged.

    >>> import chainrule as cr
    >>> cr.round(cr.tensor([0.5, 1.5, 2.5, -0.5]))
    tensor([ 0.,  2.,  2., -0.], shape=(4,), dtype=float32)
    >>> cr.round(cr.tensor([1.2345]), decimals=2)
    tensor([1.23], shape=(1,), dtype=float32)
    """
    if input.dtype.kind in "iub":
        return input
    return Round.apply(input, decimals=decimals)


def square(input: Tensor) -> Tensor:
    """``input * input``; a bool tensor squares to int64, as in PyTorch.

    ``y_i = x_i^2``, gradient ``2 g x``; integer tensors stay integer.

    >>> import chainrule as cr
    >>> cr.square(cr.tensor([1, -2, 3]))
    tensor([1, 4, 9], shape=(3,), dtype=int64)
    >>> cr.square(cr.tensor([0.5]))
    tensor([0.25], shape=(1,), dtype=float32)
    """
    if input.dtype.kind == "b":
        input = to_dtype(input, "int64")
    return mul(input, input)


def log2(input: Tensor) -> Tensor:
    """The base-2 logarithm: ``y_i = log(x_i) / log(2)``; gradient ``g / (x log 2)``.

    Integer inputs give the default float dtype; ``log2(0) = -inf``, negatives give NaN.

    >>> import chainrule as cr
    >>> cr.log2(cr.tensor([1.0, 8.0]))
    tensor([0., 3.], shape=(2,), dtype=float32)
    """
    return log(input) * (1.0 / np.log(2.0))


def log10(input: Tensor) -> Tensor:
    """The base-10 logarithm: ``y_i = log(x_i) / log(10)``; gradient ``g / (x log 10)``.

    Integer inputs give the default float dtype; ``log10(0) = -inf``, negatives give NaN.

    >>> import chainrule as cr
    >>> cr.log10(cr.tensor([1, 100]))
    tensor([0., 2.], shape=(2,), dtype=float32)
    """
    return log(input) * (1.0 / np.log(10.0))
