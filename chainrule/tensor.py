"""The Tensor: an array, the flag that asks for its gradient, and the node that made it.

A Tensor wraps one NumPy (cpu), CuPy (cuda) or fake-device array. This module
is a pure data type: it imports nothing of chainrule but the backend. The
layers above give the class its behaviour when they are imported, each with
the functions themselves as methods (no wrapper per call):

* ``chainrule.autograd`` binds ``backward``, ``register_hook``, ``retain_grad``,
  ``retains_grad`` and ``register_post_accumulate_grad_hook``;
* ``chainrule.ops`` binds every operator (``+``, ``@``, ``[]``...) and the op
  methods (``x.sum(1)`` is ``ops.sum(x, 1)``), then the in-place ones
  (``x.add_(y)``, ``x[i] = v``).
"""

from __future__ import annotations

import numpy as np

from chainrule.backend import array_module, device_of, dtypes, is_array, library_of


def as_array(data, dtype=None, copy: bool = False):
    """An array from nested lists, scalars, arrays or tensors, with PyTorch's dtype inference.

    Python floats become the default float dtype (float32), Python ints int64,
    complex numbers complex64; an array (NumPy's or a device's) keeps its dtype
    and its device. ``dtype`` casts; ``copy`` makes sure the result owns its memory.
    """
    if isinstance(data, Tensor):
        array = data._data
    elif is_array(data):
        array = data
    else:
        array = _host_array(data, dtype)
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"tensor: cannot make a tensor from {type(data).__name__} with elements of "
            f"dtype {array.dtype} (expected bool, integer, float or complex numbers)"
        )
    if dtype is not None and array.dtype != dtypes.as_dtype(dtype):
        return array.astype(dtypes.as_dtype(dtype))
    if copy:
        return array.copy()
    return array


def _host_array(data, dtype):
    """A NumPy array of Python data (lists, scalars, NumPy scalars); floats and ints as PyTorch infers them."""
    try:
        array = np.asarray(data)
    except ValueError as exc:
        raise ValueError(f"tensor: cannot make a tensor from {type(data).__name__}: {exc}") from None
    if array.dtype == object:
        raise TypeError(f"tensor: cannot make a tensor from data of type {type(data).__name__} (ragged or non-numeric)")
    if dtype is None and not isinstance(data, np.generic):
        if array.dtype.kind == "f":
            array = array.astype(dtypes.default_float)
        elif array.dtype.kind == "c":
            array = array.astype(np.complex64)
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64, copy=False)
    return array


class Size(tuple):
    """A tensor's shape: a tuple of ints, as ``torch.Size`` (``x.shape``, ``x.size()``).

    >>> import chainrule as cr
    >>> s = cr.zeros(2, 3).shape
    >>> s
    chainrule.Size([2, 3])
    >>> s.numel(), s[1:]
    (6, chainrule.Size([3]))
    """

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``()``)."""
        count = 1
        for n in self:
            count *= n
        return count

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    def __str__(self) -> str:  # messages show a shape as the tuple it is: "(2, 3)"
        return tuple.__repr__(self)

    def __getitem__(self, index):
        result = tuple.__getitem__(self, index)
        return Size(result) if isinstance(index, slice) else result

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Attributes:
        grad: the accumulated gradient (a Tensor of the same shape) or None.
        grad_fn: the graph node that produced this tensor; None for leaves.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]], shape=(2, 2), dtype=float32)
    """

    __slots__ = (
        "_data",
        "_requires_grad",
        "grad",
        "grad_fn",
        "_output_nr",
        "_version_counter",  # None (version 0) or a one-element list shared with views and detached copies
        "_view",  # None, or the ViewInfo tying this tensor to the base whose memory it shares
        "_hooks",  # None, or a leaf's register_hook functions by handle id
        "__weakref__",
    )
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False):
        if type(data) is not np.ndarray:
            data = as_array(data)
        self._data = data
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._version_counter = None
        self._view = None
        self._hooks = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> Size:
        """The sizes of the dims, a ``Size`` (a tuple of ints); ``()`` for a 0-d tensor.

        >>> import chainrule as cr
        >>> cr.zeros(2, 3).shape
        chainrule.Size([2, 3])
        >>> cr.tensor(1.0).shape
        chainrule.Size([])
        """
        return Size(self._data.shape)

    @property
    def dtype(self) -> np.dtype:
        """The element type, a NumPy dtype (``cr.float32`` is ``numpy.float32``'s dtype).

        >>> import chainrule as cr
        >>> cr.tensor([1.0]).dtype, cr.tensor([1]).dtype
        (dtype('float32'), dtype('int64'))
        """
        return self._data.dtype

    @property
    def device(self):
        """The device holding the data: ``device(type='cpu')``, ``cuda:N`` or the test double ``fake``.

        >>> import chainrule as cr
        >>> cr.zeros(1).device
        device(type='cpu')
        """
        return device_of(self._data)

    @property
    def ndim(self) -> int:
        """The number of dims, ``len(x.shape)``; ``dim()`` is the same.

        >>> import chainrule as cr
        >>> cr.zeros(2, 3, 4).ndim
        3
        """
        return self._data.ndim

    def dim(self) -> int:
        """The number of dims, ``len(x.shape)``; the ``ndim`` property as a method.

        >>> import chainrule as cr
        >>> cr.zeros(2, 3).dim()
        2
        """
        return self._data.ndim

    def size(self, dim: int | None = None):
        """The shape as a ``Size``, or the size of dim ``dim`` (negative counts from the end).

        >>> import chainrule as cr
        >>> x = cr.zeros(2, 3)
        >>> x.size(), x.size(-1)
        (chainrule.Size([2, 3]), 3)
        """
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[dim]

    def numel(self) -> int:
        """The number of elements, the product of the sizes (1 for a 0-d tensor); ``nelement`` is the same.

        >>> import chainrule as cr
        >>> cr.zeros(2, 3).numel(), cr.tensor(5.0).numel()
        (6, 1)
        """
        return self._data.size

    def element_size(self) -> int:
        """Bytes per element of the dtype (4 for float32, 8 for int64).

        >>> import chainrule as cr
        >>> cr.zeros(2).element_size(), cr.tensor([1]).element_size()
        (4, 8)
        """
        return self._data.itemsize

    def nelement(self) -> int:
        """The number of elements; the same as ``numel()``.

        >>> import chainrule as cr
        >>> cr.ones(4, 5).nelement()
        20
        """
        return self._data.size

    def stride(self, dim: int | None = None):
        """Steps in elements between neighbours along each dim (or along ``dim``).

        >>> import chainrule as cr
        >>> x = cr.zeros(2, 3)
        >>> x.stride(), x.t().stride(), x.stride(0)
        ((3, 1), (1, 3), 3)
        """
        steps = tuple(step // self._data.itemsize for step in self._data.strides)
        return steps if dim is None else steps[dim]

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the elements lie in memory in row-major (C) order, without gaps; ``memory_format`` is ignored.

        >>> import chainrule as cr
        >>> x = cr.zeros(2, 3)
        >>> x.is_contiguous(), x.t().is_contiguous()
        (True, False)
        """
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self) -> int:
        """The address of the first element (a CuPy array's device pointer on cuda).

        >>> import chainrule as cr
        >>> x = cr.zeros(4)
        >>> x.view(2, 2).data_ptr() == x.data_ptr(), x[1:].data_ptr() - x.data_ptr()
        (True, 4)
        """
        if type(self._data) is np.ndarray:
            return self._data.__array_interface__["data"][0]
        return self._data.data.ptr

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded op made (``grad_fn`` is None): created by the user, or not requiring grad.

        >>> import chainrule as cr
        >>> w = cr.ones(2, requires_grad=True)
        >>> w.is_leaf, (w * 2).is_leaf
        (True, False)
        """
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point type (float16, float32, float64).

        >>> import chainrule as cr
        >>> cr.tensor([1.0]).is_floating_point(), cr.tensor([1]).is_floating_point()
        (True, False)
        """
        return self._data.dtype.kind == "f"

    @property
    def is_cuda(self) -> bool:
        """Whether the tensor lives on a CUDA device.

        >>> import chainrule as cr
        >>> cr.zeros(1).is_cuda
        False
        """
        return self.device.type == "cuda"

    # ------------------------------------------------------------------ autograd flags
    @property
    def requires_grad(self) -> bool:
        """Whether backward computes a gradient for this tensor; settable on leaves (as ``requires_grad_``).

        >>> import chainrule as cr
        >>> x = cr.tensor([1.0])
        >>> x.requires_grad
        False
        >>> x.requires_grad = True
        >>> (x * 2).requires_grad
        True
        """
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on this leaf in place and return it.

        Only floating-point tensors can require gradients; a non-leaf can only be set to True (a no-op).

        >>> import chainrule as cr
        >>> w = cr.zeros(3).requires_grad_()
        >>> w.requires_grad
        True
        """
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "requires_grad_: you can only change requires_grad of leaf tensors; "
                    "use detach() to get a tensor that does not require grad"
                )
            return self
        if requires_grad and not dtypes.is_floating(self._data.dtype):
            raise RuntimeError(
                f"requires_grad_: only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        self._requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ versions and aliases
    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with its views)."""
        counter = self._version_counter
        return 0 if counter is None else counter[0]

    @_version.setter
    def _version(self, value: int) -> None:
        self._shared_version_counter()[0] = value

    def _shared_version_counter(self) -> list:
        counter = self._version_counter
        if counter is None:
            counter = self._version_counter = [0]
        return counter

    def _alias(self) -> Tensor:
        """A new tensor object for the same array, version counter and place in the graph."""
        alias = Tensor._wrap(self._data, self.grad_fn, self._output_nr)
        alias._requires_grad = self._requires_grad
        alias._version_counter = self._shared_version_counter()
        return alias

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's array (and version counter), outside the graph.

        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> w.data.mul_(10)
        tensor([10., 20.], shape=(2,), dtype=float32)
        >>> w
        tensor([10., 20.], shape=(2,), dtype=float32, requires_grad=True)
        """
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else value
        self._view = None  # the new array is not a view of the old base

    def detach(self) -> Tensor:
        """The same values outside the graph, sharing memory and version counter with this tensor.

        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> y = (x * 3).detach()
        >>> y, y.requires_grad
        (tensor([3., 6.], shape=(2,), dtype=float32), False)
        """
        detached = Tensor._wrap(self._data)
        detached._version_counter = self._shared_version_counter()
        return detached

    def detach_(self) -> Tensor:
        """Make this tensor a leaf outside the graph, in place: ``grad_fn`` becomes None and ``requires_grad`` False.

        >>> import chainrule as cr
        >>> y = cr.ones(2, requires_grad=True) * 2
        >>> y.detach_().is_leaf, y.requires_grad
        (True, False)
        """
        self.grad_fn = None
        self._requires_grad = False
        self._view = None
        return self

    @staticmethod
    def _wrap(array, grad_fn=None, output_nr: int = 0) -> Tensor:
        """Fast internal constructor around an array (no copy, no checks)."""
        tensor = object.__new__(Tensor)
        tensor._data = array
        tensor._requires_grad = grad_fn is not None
        tensor.grad = None
        tensor.grad_fn = grad_fn
        tensor._output_nr = output_nr
        tensor._version_counter = None
        tensor._view = None
        tensor._hooks = None
        return tensor

    # ------------------------------------------------------------------ conversion
    def numpy(self, force: bool = False) -> np.ndarray:
        """The data as a NumPy array sharing memory with the tensor (no copy on the CPU).

        Raises on a tensor that requires grad (use ``detach()``) and on a device tensor (use ``cpu()``);
        ``force=True`` does both: detaches, and copies a device array to the host.

        >>> import chainrule as cr
        >>> a = cr.tensor([1.0, 2.0]).numpy()
        >>> a, a.dtype
        (array([1., 2.], dtype=float32), dtype('float32'))
        """
        if self._requires_grad and not force:
            raise RuntimeError(
                "numpy(): can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()"
            )
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(f"numpy(): can't convert a {self.device} tensor to NumPy; use tensor.cpu() first")
            return library_of(self._data).to_host(self._data)
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self):
        """The value of a one-element tensor as a Python number (float, int or bool).

        >>> import chainrule as cr
        >>> cr.tensor([[2.5]]).item(), cr.tensor(3).item()
        (2.5, 3)
        """
        if self._data.size != 1:
            raise RuntimeError(
                f"item(): a tensor with {self._data.size} elements cannot be converted to a Python scalar"
            )
        return self._data.item()

    def tolist(self):
        """The values as nested Python lists of numbers (a Python number for a 0-d tensor).

        >>> import chainrule as cr
        >>> cr.tensor([[1, 2], [3, 4]]).tolist()
        [[1, 2], [3, 4]]
        >>> cr.tensor(0.5).tolist()
        0.5
        """
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"bool(): the truth value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self._data.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(
                f"__index__: only integer tensors of a single element can be used as an index, got {self.dtype} of shape {self.shape}"
            )
        return int(self._data.item())

    __hash__ = object.__hash__  # identity, as in PyTorch (== is elementwise); runs in C

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __repr__(self) -> str:
        return _tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return repr(self)

    _PROCESS_LOCAL = ("_version_counter", "_view", "_hooks")  # ties to other tensors and callables: not pickled

    def __getstate__(self):
        """Pickle the array, gradient and graph; a view is pickled as its own values, not with its base."""
        return {name: getattr(self, name) for name in Tensor.__slots__[:-1] if name not in Tensor._PROCESS_LOCAL}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        self._version_counter = self._view = self._hooks = None

    def __deepcopy__(self, memo):
        copy = Tensor._wrap(array_module(self._data).array(self._data, copy=True))
        copy._requires_grad = self._requires_grad
        if type(self) is not Tensor:
            copy = type(self)(copy, requires_grad=self._requires_grad)
        if self.grad is not None:
            copy.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = copy
        return copy

    # In-place methods (zero_, add_, __setitem__, __iadd__, ...) are bound by chainrule.ops.inplace:
    # each writes its out-of-place op's result into this tensor (chainrule.autograd.inplace).


_PRINT_OPTIONS = {"precision": 4, "threshold": 200, "edgeitems": 3, "max_line_width": 75, "suppress_small": False}
_PRINT_PROFILES = {
    "default": {"precision": 4, "threshold": 200, "edgeitems": 3, "max_line_width": 75},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "max_line_width": 75},
    "full": {"precision": 4, "threshold": np.iinfo(np.int64).max, "edgeitems": 3, "max_line_width": 75},
}


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
) -> None:
    """How tensors print, as ``torch.set_printoptions`` (``sci_mode=False`` suppresses scientific notation).

    >>> import chainrule as cr
    >>> cr.set_printoptions(precision=2)
    >>> cr.tensor([1 / 3])
    tensor([0.33], shape=(1,), dtype=float32)
    >>> cr.set_printoptions(profile="default")
    """
    if profile is not None:
        if profile not in _PRINT_PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PRINT_PROFILES)}, got {profile!r}")
        _PRINT_OPTIONS.update(_PRINT_PROFILES[profile])
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems, "max_line_width": linewidth}
    _PRINT_OPTIONS.update({key: int(value) for key, value in given.items() if value is not None})
    if sci_mode is not None:
        _PRINT_OPTIONS["suppress_small"] = not sci_mode


def _tensor_repr(tensor: Tensor) -> str:
    """``tensor([...], shape=(2, 3), dtype=float32, grad_fn=<MulBackward>)``."""
    array = tensor._data if type(tensor._data) is np.ndarray else library_of(tensor._data).to_host(tensor._data)
    prefix = "tensor("
    values = np.array2string(array, separator=", ", prefix=prefix, **_PRINT_OPTIONS)
    extras = [f"shape={tuple(array.shape)}", f"dtype={array.dtype}"]
    if tensor.device.type != "cpu":
        extras.append(f"device='{tensor.device}'")
    if tensor.grad_fn is not None:
        extras.append(f"grad_fn=<{type(tensor.grad_fn).__name__}Backward>")
    elif tensor._requires_grad:
        extras.append("requires_grad=True")
    return f"{prefix}{values}, {', '.join(extras)})"
