"""Casting and type promotion: the one place that decides the dtype an op computes in.

``to_dtype`` casts (differentiably for float targets: the gradient is cast
back). ``promote_operands`` brings the two operands of a binary op to a common
dtype by PyTorch's rules (``chainrule.backend.dtypes.promote``): int with float
gives the float, a Python number does not widen a tensor of its own kind
(float32 + 1.5 stays float32), a 0-d tensor does not widen a dimensioned
tensor of its kind. ``promote_all`` does the same for a sequence (``cat``, ``stack``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import dtypes
from chainrule.tensor import Tensor, as_array

PYTHON_SCALARS = (int, float, bool)


class Cast(Op):
    """``x`` as another dtype; the gradient is cast back to ``x``'s dtype."""

    name = "to"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return to_dtype(grad, ctx.input_dtype)


def to_dtype(input: Tensor, dtype) -> Tensor:
    """``input`` converted to ``dtype`` (the same tensor when it already has it).

    A cast to an integer or bool dtype leaves the graph (such values carry no gradient).
    """
    dtype = dtypes.as_dtype(dtype)
    if input.dtype == dtype:
        return input
    if dtype.kind != "f" and input.requires_grad:
        return Tensor._wrap(input._data.astype(dtype))
    return Cast.apply(input, dtype=dtype)


def promote_operands(a, b, op: str):
    """``a`` and ``b`` (tensors or numbers) cast to the dtype ``op`` computes in, PyTorch's rules.

    Numbers stay Python numbers (the array library combines them with the
    array); arrays and sequences become tensors. A TypeError names ``op``
    when neither operand is a tensor.
    """
    # Fast path (most calls): two tensors of one dtype, or a tensor and a number it absorbs.
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return a, b
        elif _absorbs(a, b):
            return a, b
    elif isinstance(b, Tensor) and _absorbs(b, a):
        return a, b
    return _promoted(a, b, op)


def _absorbs(tensor: Tensor, scalar) -> bool:
    """Whether a Python number leaves the tensor's dtype unchanged (float into float, int into int or float)."""
    kind = tensor._data.dtype.kind
    if scalar.__class__ is float:
        return kind == "f"
    return scalar.__class__ is int and kind in "fiu"


def _python_number_or_tensor(value):
    """A Python number from a NumPy scalar (which would promote like an array), a tensor from other data."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, PYTHON_SCALARS) else Tensor._wrap(as_array(value))


def _promoted(a, b, op: str):
    a, b = _python_number_or_tensor(a), _python_number_or_tensor(b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        dtype = dtypes.promote(a.dtype, a.ndim, b.dtype, b.ndim)
        return to_dtype(a, dtype), to_dtype(b, dtype)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected at least one tensor, got {type(a).__name__} and {type(b).__name__}")
    tensor, scalar = (a, b) if isinstance(a, Tensor) else (b, a)
    dtype = dtypes.promote_with_scalar(tensor.dtype, scalar)
    if dtype != tensor.dtype:
        tensor = to_dtype(tensor, dtype)
    return (tensor, scalar) if isinstance(a, Tensor) else (scalar, tensor)


def promote_all(tensors, op: str) -> list[Tensor]:
    """The tensors (or array-likes) of a joining op (``cat``, ``stack``, ``einsum``) cast to one common dtype."""
    tensors = [x if isinstance(x, Tensor) else Tensor._wrap(as_array(x)) for x in tensors]
    if not tensors:
        raise ValueError(f"{op}: expects a non-empty sequence of tensors")
    dtype = tensors[0].dtype
    for x in tensors[1:]:
        dtype = dtypes.promote(dtype, 1, x.dtype, 1)
    return [to_dtype(x, dtype) for x in tensors]


def _dtype_method(name: str, dtype) -> Callable[[Tensor], Tensor]:
    """The Tensor method ``name`` (``x.float()``, ``x.long()``...): ``to_dtype(x, dtype)``."""

    def method(self: Tensor) -> Tensor:
        return to_dtype(self, dtype)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"""``x.{name}()`` is ``x.to(chainrule.{dtype})``: the tensor itself when it is {dtype} already.

    >>> import chainrule as cr
    >>> cr.tensor([1.5, -2.5]).{name}().dtype
    dtype('{dtype}')
    """
    return method


DTYPE_METHODS = {
    name: _dtype_method(name, dtypes.as_dtype(dtype))
    for name, dtype in [
        ("float", "float32"),
        ("double", "float64"),
        ("half", "float16"),
        ("long", "int64"),
        ("int", "int32"),
        ("bool", "bool"),
    ]
}
"""The Tensor methods that cast to a fixed dtype, by name."""
__test__ = DTYPE_METHODS  # doctest runs the examples of these generated methods too


def type_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` cast to the dtype of ``other`` (``Tensor.type_as``).

    >>> import chainrule as cr
    >>> cr.tensor([1, 2]).type_as(cr.zeros(1))
    tensor([1., 2.], shape=(2,), dtype=float32)
    """
    return to_dtype(input, other.dtype)
