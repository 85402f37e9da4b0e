"""The dtype table and PyTorch's type-promotion rules.

chainrule's dtypes are NumPy dtype objects (``cr.float32 is np.dtype("float32")``),
so arrays from either backend carry them without translation.
"""

from __future__ import annotations

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

default_float = float32
"""The dtype of tensors made from Python floats (PyTorch's default dtype)."""

# Promotion category: a Python scalar only promotes a tensor of a lower category.
_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


def category(dtype: np.dtype) -> int:
    """0 for bool, 1 for integers, 2 for floats, 3 for complex."""
    kind = dtype.kind
    if kind == "b":
        return _BOOL
    if kind in "iu":
        return _INT
    if kind == "f":
        return _FLOAT
    return _COMPLEX


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def scalar_category(value) -> int:
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, int):
        return _INT
    if isinstance(value, float):
        return _FLOAT
    return _COMPLEX


def scalar_dtype(value) -> np.dtype:
    """The dtype a Python scalar becomes on its own (``cr.tensor(2.5)`` is float32)."""
    return (bool_, int64, default_float, np.dtype("complex64"))[scalar_category(value)]


def promote_with_scalar(dtype: np.dtype, value) -> np.dtype:
    """Result dtype of ``tensor <op> python_scalar``: the scalar never widens within a category."""
    if scalar_category(value) <= category(dtype):
        return dtype
    return scalar_dtype(value)


def promote(a: np.dtype, a_ndim: int, b: np.dtype, b_ndim: int) -> np.dtype:
    """Result dtype of ``tensor <op> tensor`` following PyTorch.

    Dimensioned tensors outrank zero-dim ones: a 0-d float64 tensor added to a
    float32 vector gives float32, unless it is of a higher category.
    """
    if a == b:
        return a
    if (a_ndim == 0) != (b_ndim == 0):
        dim_dtype, zero_dtype = (b, a) if a_ndim == 0 else (a, b)
        return dim_dtype if category(zero_dtype) <= category(dim_dtype) else zero_dtype
    if category(a) != category(b):  # int64 + float32 is float32: the higher category wins as it is
        return a if category(a) > category(b) else b
    return np.promote_types(a, b)


def as_dtype(spec) -> np.dtype:
    """Normalise a dtype spelling (``cr.float32``, ``np.float32``, ``"float32"``)."""
    try:
        return np.dtype(spec)
    except TypeError as exc:
        raise TypeError(f"dtype: {spec!r} is not a dtype") from exc


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """The float32 values of bfloat16 numbers given as their uint16 bit patterns.

    A bfloat16 is the top half of a float32 (sign, 8 exponent bits, 7 mantissa
    bits), so the conversion is exact: shift the bits into the high half.
    NumPy has no bfloat16; files that hold it are read through this.
    """
    return (bits.astype(np.uint32) << 16).view(np.float32)
