"""The fake device: arrays that live on the host but refuse to be treated as NumPy arrays.

A CuPy array cannot silently become a NumPy one: ``numpy.asarray(gpu_array)``
raises, and so does mixing it with a NumPy array in an operator. Code that
works on CPU can therefore still break on a GPU wherever it calls ``np.``
directly on a tensor's array. The fake device makes that visible on any
machine: a :class:`FakeArray` wraps a NumPy array and

- raises on implicit conversion (``__array__``), on every NumPy function and
  ufunc (``__array_function__`` and ``__array_ufunc__`` refuse), and on any
  operator or module function given a host ``numpy.ndarray``;
- is reached only through :data:`fake_numpy`, a module with NumPy's functions
  that unwraps its arguments, calls NumPy, and wraps the results, as ``cupy``
  is reached through ``cupy``'s own;
- returns 0-d arrays, never NumPy scalars, from reductions (as CuPy does);
- carries a device index, and refuses to combine arrays of two indices.

Tests run on ``device="fake"`` beside "cpu" (and "cuda" where present), so a
host-only call anywhere in an op shows up as a TypeError in CI, without a GPU.
The few NumPy features CuPy lacks (``ufunc.at`` beyond add/maximum/minimum and
the bitwise ops, ``flags.writeable``, ``frompyfunc``) are refused as well.
"""

from __future__ import annotations

import contextlib
import functools
import types
import weakref

import numpy as np

CONVERSION_ERROR = (
    "Implicit conversion to a NumPy array is not allowed (fake device). "
    "Please use `.get()` to construct a NumPy array explicitly."
)

_UFUNC_METHODS = {"at": frozenset({"add", "maximum", "minimum"}), "reduce": frozenset({"add", "multiply"})}
"""The ufunc methods CuPy 14 implements for floats, and for which ufuncs (``accumulate`` and ``outer``: all)."""

CUPY_UFUNC_AT_DTYPES = {
    "add": frozenset(map(np.dtype, "int32 int64 uint32 uint64 float16 float32 float64".split())),
    "maximum": frozenset(map(np.dtype, "int32 int64 uint32 uint64 float32".split())),
    "minimum": frozenset(map(np.dtype, "int32 int64 uint32 uint64 float32".split())),
}
"""The dtypes for which CuPy's ``ufunc.at`` is exact, per ufunc (its atomic operations).

Read off CuPy 14.2 on an H200: it has no ``multiply.at``, no ``add.at`` for
complex or 8/16-bit ints, and its float64 ``maximum.at``/``minimum.at`` round
the values to float32. The fake device refuses the rest.
"""

_UNSUPPORTED_KEYWORDS = {
    "indices": {"sparse"},
    "max": {"initial"},
    "min": {"initial"},
    "amax": {"initial"},
    "amin": {"initial"},
    "as_strided": {"writeable"},
    "sliding_window_view": {"writeable"},
}
"""Keywords of NumPy functions (and methods) that CuPy's counterparts reject."""

_MISSING = frozenset(
    {"frompyfunc", "vectorize", "nditer", "add_newdoc", "ma", "char", "rec", "ctypeslib", "errstate", "seterr"}
)
"""NumPy names with no CuPy counterpart: refused, so that code relying on them fails here as on a GPU."""

_HOST_CONSTRUCTORS = frozenset({"asarray", "array", "asanyarray"})
"""The only functions that copy host data to the device (as ``cupy.asarray`` does)."""

_current_index = 0

_WRAPPERS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
"""id(host array) -> the one FakeArray wrapping it, so that identity (``out=`` results, ``base``) holds as in CuPy."""


class _DeviceId:
    """``array.device`` for a FakeArray: an object with ``id``, like ``cupy.cuda.Device``."""

    __slots__ = ("id",)

    def __init__(self, index: int):
        self.id = index

    def __repr__(self) -> str:
        return f"<fake device {self.id}>"


class _Flags:
    """``array.flags``: the contiguity flags CuPy has, and no ``writeable``."""

    __slots__ = ("_flags",)

    def __init__(self, flags):
        self._flags = flags

    c_contiguous = property(lambda self: self._flags.c_contiguous)
    f_contiguous = property(lambda self: self._flags.f_contiguous)
    owndata = property(lambda self: self._flags.owndata)

    def __getitem__(self, name):
        if name in ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA"):
            return self._flags[name]
        raise KeyError(name)


class FakeArray:
    """A host array posing as a device array (see the module docstring)."""

    __slots__ = ("_host", "_index", "_base", "__weakref__")
    __array_priority__ = 100.0
    __array_ufunc__ = None  # numpy ufuncs (and ndarray operators) refuse a FakeArray

    def __init__(self, host: np.ndarray, index: int = 0):
        self._host = host
        self._index = index
        self._base = None
        _WRAPPERS[id(host)] = self

    # ------------------------------------------------------------------ refusals
    def __array__(self, dtype=None, copy=None):
        raise TypeError(CONVERSION_ERROR)

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented  # numpy.<function>(FakeArray) raises TypeError

    # ------------------------------------------------------------------ explicit transfer
    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        """A NumPy copy of this array (the explicit device-to-host copy, as ``cupy.ndarray.get``)."""
        return np.array(self._host, order=order)

    def set(self, array: np.ndarray, stream=None) -> None:
        self._host[...] = array

    def item(self):
        return self._host.item()

    def tolist(self):
        return self._host.tolist()

    # ------------------------------------------------------------------ metadata
    shape = property(lambda self: self._host.shape)
    dtype = property(lambda self: self._host.dtype)
    ndim = property(lambda self: self._host.ndim)
    size = property(lambda self: self._host.size)
    itemsize = property(lambda self: self._host.itemsize)
    nbytes = property(lambda self: self._host.nbytes)
    strides = property(lambda self: self._host.strides)
    device = property(lambda self: _DeviceId(self._index))
    flags = property(lambda self: _Flags(self._host.flags))
    T = property(lambda self: _wrap(self._host.T, self._index))
    mT = property(lambda self: _wrap(np.swapaxes(self._host, -1, -2), self._index))
    real = property(lambda self: _wrap(self._host.real, self._index))
    imag = property(lambda self: _wrap(self._host.imag, self._index))

    @property
    def base(self):
        """The array owning this view's memory (one object for all its views, as NumPy and CuPy collapse it)."""
        if self._base is None and isinstance(self._host.base, np.ndarray):
            self._base = _wrap(self._host.base, self._index)
        return self._base

    @property
    def data(self):
        return _Pointer(self._host.__array_interface__["data"][0])

    def __len__(self) -> int:
        return len(self._host)

    def __iter__(self):
        for row in self._host:
            yield _wrap(row, self._index)

    def __bool__(self) -> bool:
        return bool(self._host)

    def __int__(self) -> int:
        return int(self._host)

    def __float__(self) -> float:
        return float(self._host)

    def __complex__(self) -> complex:
        return complex(self._host)

    def __index__(self) -> int:
        return self._host.__index__()

    def __repr__(self) -> str:
        return f"fake:{self._index} " + repr(self._host)

    def __str__(self) -> str:
        return str(self._host)

    def __format__(self, spec) -> str:
        return format(self._host, spec)

    def __hash__(self):
        raise TypeError("unhashable type: 'FakeArray'")

    def __reduce__(self):
        raise TypeError("a fake-device array cannot be pickled; move it to the host first")

    def __copy__(self):
        return FakeArray(self._host.copy(), self._index)

    def __deepcopy__(self, memo):
        return FakeArray(self._host.copy(), self._index)

    def __setstate__(self, state):
        raise TypeError("a fake-device array cannot be unpickled")

    # ------------------------------------------------------------------ indexing
    def __getitem__(self, key):
        return _wrap(self._host[_unwrap_key(key, self._index)], self._index)

    def __setitem__(self, key, value):
        self._host[_unwrap_key(key, self._index)] = _unwrap(value, self._index, "__setitem__")

    # ------------------------------------------------------------------ methods
    def __getattr__(self, name):
        attribute = getattr(self._host, name)
        if not callable(attribute):
            raise AttributeError(f"FakeArray has no attribute {name!r}")
        index = self._index

        def method(*args, **kwargs):
            _check_keywords(name, kwargs)
            args, kwargs = _unwrap_call(args, kwargs, index, f"ndarray.{name}")
            return _wrap(attribute(*args, **kwargs), index)

        method.__name__ = name
        return method


class _Pointer:
    """``array.data``: has ``ptr`` as CuPy's MemoryPointer does."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int):
        self.ptr = ptr


def _operator(name: str):
    def apply(self, *others):
        others = [_unwrap(o, self._index, name) for o in others]
        return _wrap(getattr(self._host, name)(*others), self._index)

    apply.__name__ = name
    return apply


def _in_place_operator(name: str):
    def apply(self, other):
        getattr(self._host, name)(_unwrap(other, self._index, name))
        return self

    apply.__name__ = name
    return apply


for _name in (
    "add sub mul truediv floordiv mod pow matmul and or xor lshift rshift divmod "
    "radd rsub rmul rtruediv rfloordiv rmod rpow rmatmul rand ror rxor rlshift rrshift rdivmod "
    "lt le gt ge eq ne neg pos abs invert"
).split():
    setattr(FakeArray, f"__{_name}__", _operator(f"__{_name}__"))
for _name in "iadd isub imul itruediv ifloordiv imod ipow imatmul iand ior ixor ilshift irshift".split():
    setattr(FakeArray, f"__{_name}__", _in_place_operator(f"__{_name}__"))


# ---------------------------------------------------------------------- wrapping
def _wrap(value, index: int):
    """NumPy results as fake-device results: arrays and NumPy scalars become FakeArrays (0-d for scalars)."""
    if type(value) is np.ndarray:
        wrapper = _WRAPPERS.get(id(value))
        return wrapper if wrapper is not None and wrapper._host is value else FakeArray(value, index)
    if isinstance(value, np.generic):
        return FakeArray(np.asarray(value), index)
    if type(value) is tuple or type(value) is list:
        return type(value)(_wrap(v, index) for v in value)
    if hasattr(value, "_fields") and isinstance(value, tuple):  # named tuples (unique_all, eigh, ...)
        return type(value)(*(_wrap(v, index) for v in value))
    return value


def _unwrap(value, index: int, caller: str):
    """The host array behind a FakeArray of device ``index``; a host ndarray is refused, as CuPy refuses it."""
    if type(value) is FakeArray:
        if value._index != index:
            raise ValueError(
                f"{caller}: arrays are on two devices, fake:{value._index} and fake:{index} "
                "(move them to one device first)"
            )
        return value._host
    if type(value) is np.ndarray:
        raise TypeError(f"{caller}: unsupported type {type(value)}: a host NumPy array given to a fake-device op")
    if type(value) is tuple or type(value) is list:
        return type(value)(_unwrap(v, index, caller) for v in value)
    return value


def _unwrap_key(key, index: int):
    """An index key: fake arrays unwrapped; host integer and bool arrays allowed (CuPy copies them over)."""
    if type(key) is FakeArray:
        return _unwrap(key, index, "__getitem__")
    if type(key) is tuple:
        return tuple(_unwrap_key(k, index) for k in key)
    return key


def _indices(values, found: list) -> None:
    for value in values:
        if type(value) is FakeArray:
            found.append(value._index)
        elif type(value) is tuple or type(value) is list:
            _indices(value, found)


def _unwrap_call(args, kwargs, index, caller):
    return (
        tuple(_unwrap(a, index, caller) for a in args),
        {k: _unwrap(v, index, caller) for k, v in kwargs.items()},
    )


def _call_index(args, kwargs) -> int:
    """The device index of a call: that of its arrays (which must agree), else the current fake device."""
    found: list = []
    _indices(args, found)
    _indices(kwargs.values(), found)
    return found[0] if found else _current_index


def _check_keywords(name: str, kwargs) -> None:
    refused = _UNSUPPORTED_KEYWORDS.get(name, ()) & kwargs.keys()
    if refused:
        raise TypeError(
            f"{name}() got an unexpected keyword argument {sorted(refused)[0]!r} (CuPy has no such keyword)"
        )


def _wrapped_function(function, name: str):
    host_allowed = name in _HOST_CONSTRUCTORS

    @functools.wraps(function)
    def call(*args, **kwargs):
        _check_keywords(name, kwargs)
        if name == "searchsorted" and args and type(args[0]) is not FakeArray:
            raise NotImplementedError("searchsorted: only a device array is supported for a (as in CuPy)")
        index = _call_index(args, kwargs)
        if host_allowed:  # host data is copied to the device, as cupy.asarray(numpy_array) copies it
            kwargs = {k: v for k, v in kwargs.items() if k != "blocking"}
            if args and type(args[0]) is not FakeArray:
                return FakeArray(np.array(function(*args, **kwargs)), index)
            args = tuple(a._host if type(a) is FakeArray and a._index == index else a for a in args)
        else:
            args, kwargs = _unwrap_call(args, kwargs, index, name)
        return _wrap(function(*args, **kwargs), index)

    return call


class _FakeUfunc:
    """A NumPy ufunc on fake arrays; ``at`` only where CuPy has it."""

    def __init__(self, ufunc: np.ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout
        self._call = _wrapped_function(ufunc, ufunc.__name__)

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __getattr__(self, method):
        if method in _UFUNC_METHODS and self.__name__ not in _UFUNC_METHODS[method]:
            raise NotImplementedError(f"`{self.__name__}.{method}` is not supported on the fake device (nor in CuPy)")
        if method == "at":
            return functools.partial(self._at, _wrapped_function(self._ufunc.at, f"{self.__name__}.at"))
        return _wrapped_function(getattr(self._ufunc, method), f"{self.__name__}.{method}")

    def _at(self, at, out, *args, **kwargs):
        if type(out) is FakeArray and out.dtype not in CUPY_UFUNC_AT_DTYPES[self.__name__]:
            raise TypeError(f"{self.__name__}.at: CuPy has no exact {self.__name__}.at for {out.dtype} (fake device)")
        return at(out, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<fake ufunc '{self.__name__}'>"


class _FakeModule(types.ModuleType):
    """NumPy (or one of its submodules) as a fake-device array module."""

    def __init__(self, name: str, host_module):
        super().__init__(name)
        self._host_module = host_module

    def __getattr__(self, name):
        if name.startswith("__") or name in _MISSING:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} (CuPy has none either)")
        value = getattr(self._host_module, name)
        if isinstance(value, np.ufunc):
            value = _FakeUfunc(value)
        elif isinstance(value, types.ModuleType):
            value = _FakeModule(f"{self.__name__}.{name}", value)
        elif isinstance(value, type) or not callable(value):
            pass  # dtypes, classes, constants: NumPy's own, as CuPy re-exports them
        else:
            value = _wrapped_function(value, name)
        setattr(self, name, value)  # cache
        return value


fake_numpy = _FakeModule("fake_numpy", np)
"""The array module of the fake device: NumPy's API over FakeArrays."""
fake_numpy.ndarray = FakeArray


def _asnumpy(array, stream=None, order="C", out=None, blocking=True):
    return array.get() if type(array) is FakeArray else np.asarray(array)


def _get_array_module(*arrays):
    return fake_numpy if any(type(a) is FakeArray for a in arrays) else np


fake_numpy.asnumpy = _asnumpy
fake_numpy.get_array_module = _get_array_module


def current_index() -> int:
    return _current_index


def set_current_index(index: int) -> None:
    """Make fake device ``index`` the one new arrays are made on from now on (as ``cudaSetDevice``)."""
    global _current_index
    _current_index = index


@contextlib.contextmanager
def using(index: int):
    """Make fake device ``index`` the one new arrays are made on (as ``with cupy.cuda.Device(i):``)."""
    global _current_index
    previous, _current_index = _current_index, index
    try:
        yield
    finally:
        _current_index = previous


def from_host(array: np.ndarray, index: int) -> FakeArray:
    """A fake-device copy of a host array."""
    return FakeArray(np.array(array, copy=True), index)
