"""Making tensors: from data, filled, ranges, and random draws."""

from __future__ import annotations

import numpy as np

from chainrule import random
from chainrule.autograd.function import Op
from chainrule.autograd.naming import public_name
from chainrule.backend import CPU, Device, device_of, dtypes, is_array, module_for, to_device
from chainrule.ops._args import size_args
from chainrule.tensor import Size, Tensor


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
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"{public_name('tensor')}: cannot make a tensor from {type(data).__name__} with elements of "
            f"dtype {array.dtype} (expected bool, integer, float or complex numbers)"
        )
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


def _filled(maker, size, dtype, device, requires_grad) -> Tensor:
    dtype = dtypes.default_float if dtype is None else dtypes.as_dtype(dtype)
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


def _triangle_indices(row: int, col: int, offset: int, dtype, device, upper: bool) -> Tensor:
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    array = np.stack([rows, cols]).astype(np.int64 if dtype is None else dtypes.as_dtype(dtype))
    return _finish(array.reshape(2, -1), device, False)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the lower triangle (on and below diagonal ``offset``) of a row x col matrix."""
    return _triangle_indices(row, col, offset, dtype, device, upper=False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the upper triangle (on and above diagonal ``offset``), in row-major order."""
    return _triangle_indices(row, col, offset, dtype, device, upper=True)


# --------------------------------------------------------------------------- the default dtype
def set_default_dtype(d) -> None:
    """Make ``d`` (float32 or float64) the dtype of new float tensors: ``tensor(1.5)``, ``zeros``, ``rand``..."""
    dtype = dtypes.as_dtype(d)
    if dtype not in (dtypes.float32, dtypes.float64, dtypes.float16):
        raise TypeError(f"set_default_dtype: only floating point types are supported as the default type, got {dtype}")
    dtypes.default_float = dtype


def get_default_dtype():
    """The dtype of new float tensors (float32 unless ``set_default_dtype`` changed it)."""
    return dtypes.default_float


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
    array = random.integers(low, high, size_args((size,)), generator=generator)  # int64, then any dtype (float too)
    return _finish(array.astype(np.int64 if dtype is None else dtypes.as_dtype(dtype), copy=False), device, False)


def randperm(n: int, *, dtype=None, device=None, generator=None) -> Tensor:
    array = random.permutation(n, generator=generator).astype(np.int64 if dtype is None else dtype)
    return _finish(array, device, False)


def rand_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator)


def randn_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator)


def randint_like(
    input: Tensor, low: int = 0, high: int | None = None, dtype=None, device=None, generator=None
) -> Tensor:
    if high is None:
        low, high = 0, low
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device, generator=generator)


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


# --------------------------------------------------------------------------- new tensors like an existing one
def new_tensor(self: Tensor, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype and device unless given."""
    return tensor(
        data, dtype=self.dtype if dtype is None else dtype, device=device or self.device, requires_grad=requires_grad
    )


def new_zeros(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(self, dtype, device)
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_ones(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(self, dtype, device)
    return ones(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_empty(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(self, dtype, device)
    return empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(self: Tensor, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    dtype, device = _like(self, dtype, device)
    return full(size, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


# --------------------------------------------------------------------------- legacy typed constructors and type()
_TYPE_NAMES = {
    dtypes.float32: "FloatTensor",
    dtypes.float64: "DoubleTensor",
    dtypes.float16: "HalfTensor",
    dtypes.int64: "LongTensor",
    dtypes.int32: "IntTensor",
    dtypes.int16: "ShortTensor",
    dtypes.int8: "CharTensor",
    dtypes.uint8: "ByteTensor",
    dtypes.bool_: "BoolTensor",
}
_TYPE_DTYPES = {name: dtype for dtype, name in _TYPE_NAMES.items()}


class TensorType:
    """``cr.FloatTensor``, ``cr.LongTensor``...: PyTorch's typed constructors.

    ``LongTensor([1, 2])`` copies data into that dtype; ``FloatTensor(2, 3)`` (ints or a
    ``Size``) is an uninitialised tensor of that size; ``isinstance(x, cr.FloatTensor)``
    checks the dtype.
    """

    def __init__(self, dtype):
        self.dtype = dtypes.as_dtype(dtype)
        self.__name__ = _TYPE_NAMES[self.dtype]

    def __call__(self, *args, device=None) -> Tensor:
        if not args:
            return empty(0, dtype=self.dtype, device=device)
        sizes = args[0] if len(args) == 1 and isinstance(args[0], Size) else args
        if all(isinstance(n, int) and not isinstance(n, bool) for n in sizes):
            return empty(*sizes, dtype=self.dtype, device=device)
        if len(args) != 1:
            raise TypeError(f"{self.__name__}: expected sizes (ints) or one sequence of data, got {args!r}")
        return tensor(args[0], dtype=self.dtype, device=device)

    def __instancecheck__(self, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == self.dtype

    def __repr__(self) -> str:
        return f"<class 'chainrule.{self.__name__}'>"


def type_name(input: Tensor) -> str:
    """``'chainrule.FloatTensor'`` (``'chainrule.cuda.FloatTensor'`` on a GPU), as ``torch.Tensor.type()``."""
    device = "cuda." if input.device.type == "cuda" else ""
    return f"chainrule.{device}{_TYPE_NAMES.get(input.dtype, str(input.dtype))}"


def tensor_type(input: Tensor, dtype=None, non_blocking: bool = False):
    """With no argument, the type string; with a dtype, a TensorType or a type string, the cast tensor."""
    from chainrule.ops.elementwise import to_dtype

    if dtype is None:
        return type_name(input)
    if isinstance(dtype, TensorType):
        dtype = dtype.dtype
    elif isinstance(dtype, str) and dtype.endswith("Tensor"):
        name = dtype.rsplit(".", 1)[-1]
        if name not in _TYPE_DTYPES:
            raise TypeError(f"type: unknown tensor type {dtype!r}")
        if ".cuda." in dtype:
            input = to(input, "cuda")
        dtype = _TYPE_DTYPES[name]
    return to_dtype(input, dtype)


FloatTensor = TensorType(dtypes.float32)
DoubleTensor = TensorType(dtypes.float64)
HalfTensor = TensorType(dtypes.float16)
LongTensor = TensorType(dtypes.int64)
IntTensor = TensorType(dtypes.int32)
ShortTensor = TensorType(dtypes.int16)
CharTensor = TensorType(dtypes.int8)
ByteTensor = TensorType(dtypes.uint8)
BoolTensor = TensorType(dtypes.bool_)
