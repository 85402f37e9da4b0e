"""Making tensors: from data, filled, ranges, and random draws."""

from __future__ import annotations

import numpy as np

from chainrule import random
from chainrule.autograd.function import Op
from chainrule.backend import CPU, Device, allocating_on, device_of, dtypes, module_for, to_device
from chainrule.ops._args import size_args
from chainrule.ops.casting import to_dtype
from chainrule.tensor import Size, Tensor, as_array


def _new_leaf(array, device, requires_grad: bool) -> Tensor:
    """``array`` (copied to ``device`` when one is given) as a new leaf tensor."""
    if device is not None:
        array = to_device(array, Device(device))
    tensor = Tensor._wrap(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays, tensors).

    The dtype is inferred unless given: Python floats give the default float dtype
    (float32), ints give int64, bools give bool, complex numbers complex64; a NumPy array
    keeps its dtype. Ragged or non-numeric data raise. The shape is the nesting of ``data``
    (a scalar gives a 0-d tensor). ``requires_grad=True`` makes a leaf that collects ``.grad``.

    >>> import chainrule as cr
    >>> cr.tensor([[1, 2], [3, 4]])
    tensor([[1, 2],
            [3, 4]], shape=(2, 2), dtype=int64)
    >>> cr.tensor(2.5)
    tensor(2.5, shape=(), dtype=float32)
    >>> cr.tensor([1, 2], dtype=cr.float64, requires_grad=True)
    tensor([1., 2.], shape=(2,), dtype=float64, requires_grad=True)
    """
    return _new_leaf(as_array(data, dtype, copy=True), device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory where possible.

    A tensor is returned as is when no ``dtype`` or ``device`` asks for a change; a NumPy
    array of a kept dtype is wrapped without a copy; other data are converted as by ``tensor``.

    >>> import chainrule as cr
    >>> import numpy as np
    >>> a = np.array([1.0, 2.0])
    >>> t = cr.as_tensor(a)
    >>> a[0] = 5.0
    >>> t
    tensor([5., 2.], shape=(2,), dtype=float64)
    """
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return _new_leaf(as_array(data, dtype), device, False)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``array`` (its dtype kept).

    Writes through either one are seen by the other. Anything but an ``np.ndarray`` raises TypeError.

    >>> import chainrule as cr
    >>> import numpy as np
    >>> cr.from_numpy(np.arange(3))
    tensor([0, 1, 2], shape=(3,), dtype=int64)
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def _allocate(device, maker: str, *args, **kwargs):
    """``xp.<maker>(*args, **kwargs)`` made on ``device`` (the CPU when None) by that device's array module."""
    if device is None:
        return getattr(np, maker)(*args, **kwargs)
    device = Device(device)
    with allocating_on(device):
        return getattr(module_for(device), maker)(*args, **kwargs)


def _filled(maker, size, dtype, device, requires_grad) -> Tensor:
    dtype = dtypes.default_float if dtype is None else dtypes.as_dtype(dtype)
    return _new_leaf(_allocate(device, maker, size_args(size), dtype=dtype), None, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given size filled with 0.

    The size is given as ints or as one sequence/``Size``: ``zeros(2, 3)`` or ``zeros((2, 3))``.
    The dtype is the default float dtype (float32) unless ``dtype`` is given.

    >>> import chainrule as cr
    >>> cr.zeros(2, 3)
    tensor([[0., 0., 0.],
            [0., 0., 0.]], shape=(2, 3), dtype=float32)
    >>> cr.zeros((2,), dtype=cr.int64)
    tensor([0, 0], shape=(2,), dtype=int64)
    """
    return _filled("zeros", size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given size filled with 1 (size and dtype as for ``zeros``).

    >>> import chainrule as cr
    >>> cr.ones(2)
    tensor([1., 1.], shape=(2,), dtype=float32)
    >>> cr.ones((1, 2), dtype=cr.bool)
    tensor([[ True,  True]], shape=(1, 2), dtype=bool)
    """
    return _filled("ones", size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of the given size (size and dtype as for ``zeros``): its values are arbitrary.

    >>> import chainrule as cr
    >>> cr.empty(2, 3).shape
    chainrule.Size([2, 3])
    """
    return _filled("empty", size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape ``size`` with every element ``fill_value``.

    The dtype follows the value unless given: a bool gives bool, an int int64, a float
    the default float dtype. A 0-d tensor value is read with ``item()``.

    >>> import chainrule as cr
    >>> cr.full((2, 2), 1.5)
    tensor([[1.5, 1.5],
            [1.5, 1.5]], shape=(2, 2), dtype=float32)
    >>> cr.full((3,), 7)
    tensor([7, 7, 7], shape=(3,), dtype=int64)
    """
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dtype = dtypes.scalar_dtype(fill_value) if dtype is None else dtypes.as_dtype(dtype)
    return _new_leaf(_allocate(device, "full", size_args((size,)), fill_value, dtype=dtype), None, requires_grad)


def _like(input: Tensor, dtype, device):
    return (input.dtype if dtype is None else dtype), (input.device if device is None else device)


def zeros_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape of ``input``, and its dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.zeros_like(cr.tensor([[1, 2, 3]]))
    tensor([[0, 0, 0]], shape=(1, 3), dtype=int64)
    """
    dtype, device = _like(input, dtype, device)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape of ``input``, and its dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.ones_like(cr.tensor([1.0, 2.0]), dtype=cr.int64)
    tensor([1, 1], shape=(2,), dtype=int64)
    """
    dtype, device = _like(input, dtype, device)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor with the shape of ``input``, and its dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.empty_like(cr.tensor([1.0, 2.0])).shape
    chainrule.Size([2])
    """
    dtype, device = _like(input, dtype, device)
    return empty(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with the shape of ``input``, and its dtype and device unless given.

    The value is cast to that dtype (``full_like`` of an int tensor with 2.7 gives 2).

    >>> import chainrule as cr
    >>> cr.full_like(cr.tensor([1.0, 2.0]), 0.5)
    tensor([0.5, 0.5], shape=(2,), dtype=float32)
    >>> cr.full_like(cr.tensor([1, 2]), 2.7)
    tensor([2, 2], shape=(2,), dtype=int64)
    """
    dtype, device = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float.

    ``arange(n)`` is ``0, 1, ..., n - 1``. There are ``ceil((end - start) / step)`` values;
    a float range takes the default float dtype and is computed in float64 before the cast.
    A zero step raises ValueError.

    >>> import chainrule as cr
    >>> cr.arange(4)
    tensor([0, 1, 2, 3], shape=(4,), dtype=int64)
    >>> cr.arange(1, 2, 0.25)
    tensor([1.  , 1.25, 1.5 , 1.75], shape=(4,), dtype=float32)
    >>> cr.arange(5, 0, -2)
    tensor([5, 3, 1], shape=(3,), dtype=int64)
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, int) for v in (start, end, step)) else dtypes.default_float
    array = _allocate(device, "arange", start, end, step, dtype=np.float64 if np.dtype(dtype).kind == "f" else None)
    return _new_leaf(array.astype(dtype, copy=False), None, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    ``y_i = start + i (end - start) / (steps - 1)``; the default float dtype unless ``dtype`` is given.

    >>> import chainrule as cr
    >>> cr.linspace(0, 1, 5)
    tensor([0.  , 0.25, 0.5 , 0.75, 1.  ], shape=(5,), dtype=float32)
    """
    array = _allocate(device, "linspace", start, end, steps)
    return _new_leaf(array.astype(dtypes.default_float if dtype is None else dtype, copy=False), None, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m = n by default): ones on the main diagonal, zeros elsewhere.

    The default float dtype unless ``dtype`` is given.

    >>> import chainrule as cr
    >>> cr.eye(2)
    tensor([[1., 0.],
            [0., 1.]], shape=(2, 2), dtype=float32)
    >>> cr.eye(2, 3, dtype=cr.int64)
    tensor([[1, 0, 0],
            [0, 1, 0]], shape=(2, 3), dtype=int64)
    """
    array = _allocate(device, "eye", n, m, dtype=dtypes.default_float if dtype is None else dtype)
    return _new_leaf(array, None, requires_grad)


def _triangle_indices(row: int, col: int, offset: int, dtype, device, upper: bool) -> Tensor:
    rows, cols = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    array = np.stack([rows, cols]).astype(np.int64 if dtype is None else dtypes.as_dtype(dtype))
    return _new_leaf(array.reshape(2, -1), device, False)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the lower triangle (on and below diagonal ``offset``) of a row x col matrix.

    Row indices first, then column indices, in row-major order; int64 unless ``dtype`` is given.

    >>> import chainrule as cr
    >>> cr.tril_indices(3, 3)
    tensor([[0, 1, 1, 2, 2, 2],
            [0, 0, 1, 0, 1, 2]], shape=(2, 6), dtype=int64)
    """
    return _triangle_indices(row, col, offset, dtype, device, upper=False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) coordinates of the upper triangle (on and above diagonal ``offset``), in row-major order.

    Row indices first, then column indices; int64 unless ``dtype`` is given.

    >>> import chainrule as cr
    >>> cr.triu_indices(3, 3, offset=1)
    tensor([[0, 0, 1],
            [1, 2, 2]], shape=(2, 3), dtype=int64)
    """
    return _triangle_indices(row, col, offset, dtype, device, upper=True)


# --------------------------------------------------------------------------- the default dtype
def set_default_dtype(d) -> None:
    """Make ``d`` (float16, float32 or float64) the dtype of new float tensors: ``tensor(1.5)``, ``zeros``, ``rand``...

    Other dtypes raise TypeError.

    >>> import chainrule as cr
    >>> cr.set_default_dtype(cr.float64)
    >>> cr.tensor(1.5)
    tensor(1.5, shape=(), dtype=float64)
    >>> cr.set_default_dtype(cr.float32)
    >>> cr.tensor(1.5)
    tensor(1.5, shape=(), dtype=float32)
    """
    dtype = dtypes.as_dtype(d)
    if dtype not in (dtypes.float32, dtypes.float64, dtypes.float16):
        raise TypeError(f"set_default_dtype: only floating point types are supported as the default type, got {dtype}")
    dtypes.default_float = dtype


def get_default_dtype():
    """The dtype of new float tensors (float32 unless ``set_default_dtype`` changed it).

    >>> import chainrule as cr
    >>> cr.get_default_dtype()
    dtype('float32')
    """
    return dtypes.default_float


# --------------------------------------------------------------------------- random
def _float_dtype(dtype):
    dtype = dtypes.default_float if dtype is None else dtypes.as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"random: expected a floating point dtype, got {dtype}")
    return dtype


def rand(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform draws from [0, 1) of the given size (ints or one sequence).

    The default float dtype unless ``dtype`` is given (floating point only). The draws come
    from the global generator (``manual_seed``) or from ``generator``.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> x = cr.rand(2, 3)
    >>> x.shape, x.dtype
    (chainrule.Size([2, 3]), dtype('float32'))
    >>> bool(((x >= 0) & (x < 1)).all())
    True
    """
    array = random.uniform(size_args(size), dtype=_float_dtype(dtype), device=device, generator=generator)
    return _new_leaf(array, None, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal draws (mean 0, variance 1) of the given size.

    The default float dtype unless ``dtype`` is given (floating point only); from the global
    generator (``manual_seed``) or from ``generator``.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.randn(3, dtype=cr.float64).shape
    chainrule.Size([3])
    """
    array = random.normal(size_args(size), dtype=_float_dtype(dtype), device=device, generator=generator)
    return _new_leaf(array, None, requires_grad)


def randint(*args, size=None, dtype=None, device=None, generator=None) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers drawn uniformly from [low, high).

    int64 unless ``dtype`` is given (a float dtype holds the integer values). ``high <= low``
    raises ValueError.

    >>> import chainrule as cr
    >>> cr.randint(0, 1, (3,))
    tensor([0, 0, 0], shape=(3,), dtype=int64)
    >>> cr.randint(10, (2, 2)).dtype
    dtype('int64')
    """
    if size is None:
        *bounds, size = args
    else:
        bounds = list(args)
    low, high = (0, bounds[0]) if len(bounds) == 1 else bounds
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    array = random.integers(low, high, size_args((size,)), device=device, generator=generator)  # int64, then any dtype
    return _new_leaf(array.astype(np.int64 if dtype is None else dtypes.as_dtype(dtype), copy=False), device, False)


def randperm(n: int, *, dtype=None, device=None, generator=None) -> Tensor:
    """A random permutation of ``0, ..., n - 1``, int64 unless ``dtype`` is given.

    >>> import chainrule as cr
    >>> sorted(cr.randperm(5).tolist())
    [0, 1, 2, 3, 4]
    """
    array = random.permutation(n, generator=generator).astype(np.int64 if dtype is None else dtype)
    return _new_leaf(array, device, False)


def rand_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform draws from [0, 1) with the shape of ``input``, and its dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.rand_like(cr.zeros(2, 2, dtype=cr.float64)).dtype
    dtype('float64')
    """
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator)


def randn_like(input: Tensor, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal draws with the shape of ``input``, and its dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.randn_like(cr.zeros(2, 3)).shape
    chainrule.Size([2, 3])
    """
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator)


def randint_like(
    input: Tensor, low: int = 0, high: int | None = None, dtype=None, device=None, generator=None
) -> Tensor:
    """Integers from [low, high) with the shape of ``input``; ``randint_like(x, high)`` starts at 0.

    The dtype and device are those of ``input`` unless given.

    >>> import chainrule as cr
    >>> cr.randint_like(cr.zeros(3), 1)
    tensor([0., 0., 0.], shape=(3,), dtype=float32)
    """
    if high is None:
        low, high = 0, low
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device, generator=generator)


def clone(input: Tensor) -> Tensor:
    """A copy of ``input`` that stays in the graph (the gradient flows back unchanged).

    Same shape, dtype and device; the copy owns its memory (C-contiguous).

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = cr.clone(x)
    >>> y.sum().backward()
    >>> x.grad
    tensor([1., 1.], shape=(2,), dtype=float32)
    """
    return Clone.apply(input)


class Clone(Op):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


def contiguous(input: Tensor) -> Tensor:
    """``input`` itself if its memory is C-contiguous, else a contiguous copy (the gradient flows back unchanged).

    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2], [3, 4]])
    >>> x.contiguous() is x
    True
    >>> x.t().contiguous()
    tensor([[1, 3],
            [2, 4]], shape=(2, 2), dtype=int64)
    """
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
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``: the tensor converted.

    Returns ``input`` itself when nothing changes, unless ``copy=True``. The move and a
    cast to a float dtype are differentiable (the gradient is moved or cast back); a cast
    to an integer or bool dtype leaves the graph. ``non_blocking`` is accepted and ignored.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.5, 2.5])
    >>> x.to(cr.int64)
    tensor([1, 2], shape=(2,), dtype=int64)
    >>> x.to('cpu') is x
    True
    >>> x.to(cr.zeros(1, dtype=cr.float64))
    tensor([1.5, 2.5], shape=(2,), dtype=float64)
    """
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
    """The tensor on the CPU (``input`` itself if it is there already); differentiable.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0])
    >>> x.cpu() is x
    True
    """
    return to(input, CPU)


def cuda(input: Tensor, device=None) -> Tensor:
    """The tensor on a CUDA device (``device``: an index, a string or a ``Device``); differentiable.

    Shape and dtype are kept; the gradient is moved back to the source device. Needs a
    GPU and CuPy, so it has no doctest: ``x.cuda()`` equals ``x.to('cuda')``.
    """
    return to(
        input, Device("cuda", device if isinstance(device, int) else None) if not isinstance(device, str) else device
    )


def pin_memory(input: Tensor, device=None) -> Tensor:
    """The tensor in memory a GPU can copy from asynchronously: here, a CPU tensor itself.

    CuPy's copies from NumPy memory need no pinning, so ``x.pin_memory().to("cuda",
    non_blocking=True)`` runs unchanged. Only CPU tensors can be pinned, as in PyTorch.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0])
    >>> x.pin_memory() is x, x.is_pinned()
    (True, False)
    """
    if input.device.type != "cpu":
        raise RuntimeError(f"pin_memory: cannot pin a tensor on {input.device}: only CPU tensors can be pinned")
    return input


def is_pinned(input: Tensor, device=None) -> bool:
    """Whether the tensor is in page-locked host memory: never here (``pin_memory`` needs none).

    >>> import chainrule as cr
    >>> cr.ones(2).is_pinned()
    False
    """
    return False


# --------------------------------------------------------------------------- new tensors like an existing one
def new_tensor(self: Tensor, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.zeros(1, dtype=cr.float64).new_tensor([1, 2])
    tensor([1., 2.], shape=(2,), dtype=float64)
    """
    return tensor(
        data, dtype=self.dtype if dtype is None else dtype, device=device or self.device, requires_grad=requires_grad
    )


def new_zeros(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of the given size with this tensor's dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.tensor([1, 2]).new_zeros(2, 2)
    tensor([[0, 0],
            [0, 0]], shape=(2, 2), dtype=int64)
    """
    dtype, device = _like(self, dtype, device)
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_ones(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of the given size with this tensor's dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.tensor([1.0]).new_ones((3,))
    tensor([1., 1., 1.], shape=(3,), dtype=float32)
    """
    dtype, device = _like(self, dtype, device)
    return ones(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_empty(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of the given size with this tensor's dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.tensor([1]).new_empty(2).dtype
    dtype('int64')
    """
    dtype, device = _like(self, dtype, device)
    return empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def new_full(self: Tensor, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere in a tensor of shape ``size``, with this tensor's dtype and device unless given.

    >>> import chainrule as cr
    >>> cr.tensor([1.0]).new_full((2,), 3)
    tensor([3., 3.], shape=(2,), dtype=float32)
    """
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

    >>> import chainrule as cr
    >>> cr.LongTensor([1.7, 2.2])
    tensor([1, 2], shape=(2,), dtype=int64)
    >>> cr.FloatTensor(2, 3).shape
    chainrule.Size([2, 3])
    >>> isinstance(cr.tensor([1.0]), cr.FloatTensor), isinstance(cr.tensor([1]), cr.FloatTensor)
    (True, False)
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
    """With no argument, the type string; with a dtype, a TensorType or a type string, the cast tensor.

    This is ``Tensor.type``: ``x.type()`` names the legacy class (``'chainrule.FloatTensor'``),
    ``x.type(cr.float64)`` or ``x.type('torch.LongTensor')`` casts, as ``to(dtype)``.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.5])
    >>> x.type()
    'chainrule.FloatTensor'
    >>> x.type(cr.LongTensor)
    tensor([1], shape=(1,), dtype=int64)
    >>> x.type('torch.DoubleTensor')
    tensor([1.5], shape=(1,), dtype=float64)
    """
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
