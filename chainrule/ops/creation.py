"""Making tensors: from data, filled, ranges, and random draws."""

from __future__ import annotations

import numpy as np

from chainrule import random
from chainrule.autograd.function import Op
from chainrule.backend import CPU, Device, device_of, dtypes, is_array, module_for, to_device
from chainrule.ops._args import size_args
from chainrule.tensor import Tensor


def as_array(data, dtype=None, copy: bool = False):
    """An array from nested lists, scalars, arrays or tensors; Python floats become float32."""
    if isinstance(data, Tensor):
        array = data._data
    elif is_array(data):
        array = data
    else:
        try:
            array = np.asarray(data)
        except ValueError as exc:
            raise ValueError(f"tensor: cannot make a tensor from {type(data).__name__}: {exc}") from None
        if array.dtype == object:
            raise TypeError(
                f"tensor: cannot make a tensor from data of type {type(data).__name__} (ragged or non-numeric)"
            )
        if dtype is None and not isinstance(data, np.generic):
            if array.dtype.kind == "f":
                array = array.astype(dtypes.default_float)
            elif array.dtype.kind == "c":
                array = array.astype(np.complex64)
            elif array.dtype.kind in "iu":
                array = array.astype(np.int64, copy=False)
    if dtype is not None and array.dtype != dtypes.as_dtype(dtype):
        return array.astype(dtypes.as_dtype(dtype))
    if copy:
        return array.copy()
    return array


def _finish(array, device, requires_grad: bool) -> Tensor:
    if device is not None:
        array = to_device(array, Device(device))
    tensor = Tensor._wrap(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays)."""
    return _finish(as_array(data, dtype, copy=True), device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory where possible."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return _finish(as_array(data, dtype), device, False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``array`` (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def _module(device):
    return np if device is None else module_for(Device(device))


def _filled(maker, size, dtype, device, requires_grad, default=dtypes.default_float) -> Tensor:
    dtype = default if dtype is None else dtypes.as_dtype(dtype)
    array = getattr(_module(device), maker)(size_args(size), dtype=dtype)
    return _finish(array, None, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("ones", size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled("empty", size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype = dtypes.scalar_dtype(fill_value) if dtype is None else dtypes.as_dtype(dtype)
    array = _module(device).full(size_args((size,)), fill_value, dtype=dtype)
    return _finish(array, None, requires_grad)


def _like(input: Tensor, dtype, device):
    return (input.dtype if dtype is None else dtype), (input.device if device is None else device)


def zeros_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return empty(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else dtypes.default_float
    array = np.arange(start, end, step, dtype=np.float64 if np.dtype(dtype).kind == "f" else None).astype(dtype)
    return _finish(array, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    array = np.linspace(start, end, steps).astype(dtypes.default_float if dtype is None else dtype)
    return _finish(array, device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    array = _module(device).eye(n, m, dtype=dtypes.default_float if dtype is None else dtype)
    return _finish(array, None, requires_grad)


# --------------------------------------------------------------------------- random
def _float_dtype(dtype):
    dtype = dtypes.default_float if dtype is None else dtypes.as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"random: expected a floating point dtype, got {dtype}")
    return dtype


def rand(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform draws from [0, 1)."""
    array = random.uniform(size_args(size), dtype=_float_dtype(dtype), device=device, generator=generator)
    return _finish(array, None, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal draws."""
    array = random.normal(size_args(size), dtype=_float_dtype(dtype), device=device, generator=generator)
    return _finish(array, None, requires_grad)


def randint(*args, size=None, dtype=None, device=None, generator=None) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high)."""
    if size is None:
        *bounds, size = args
    else:
        bounds = list(args)
    low, high = (0, bounds[0]) if len(bounds) == 1 else bounds
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    array = random.integers(
        low, high, size_args((size,)), dtype=np.int64 if dtype is None else dtype, device=device, generator=generator
    )
    return _finish(array, None, False)


def randperm(n: int, *, dtype=None, device=None, generator=None) -> Tensor:
    array = random.permutation(n, generator=generator).astype(np.int64 if dtype is None else dtype)
    return _finish(array, device, False)


def rand_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device)


def clone(input: Tensor) -> Tensor:
    """A copy of ``input`` that stays in the graph (the gradient flows back unchanged)."""
    return Clone.apply(input)


class Clone(Op):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def contiguous(input: Tensor) -> Tensor:
    if input._data.flags.c_contiguous:
        return input
    return Clone.apply(input)


class ToDevice(Op):
    name = "to_device"

    @staticmethod
    def forward(ctx, x, device):
        ctx.source = device_of(x)
        return to_device(x, device)

    @staticmethod
    def backward(ctx, grad):
        return ToDevice.apply(grad, device=ctx.source)


def to(input: Tensor, *args, dtype=None, device=None, copy: bool = False, non_blocking: bool = False) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
    from chainrule.ops.elementwise import to_dtype

    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif isinstance(arg, (str, Device)):
            device = arg
        else:
            dtype = arg
    result = input
    if device is not None and Device(device) != input.device:
        result = ToDevice.apply(result, device=Device(device))
    if dtype is not None:
        result = to_dtype(result, dtype)
    if copy and result is input:
        result = clone(input)
    return result


def cpu(input: Tensor) -> Tensor:
    return to(input, CPU)


def cuda(input: Tensor, device=None) -> Tensor:
    return to(
        input, Device("cuda", device if isinstance(device, int) else None) if not isinstance(device, str) else device
    )
