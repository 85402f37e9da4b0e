"""The array libraries behind the devices: NumPy ("cpu"), CuPy ("cuda") and the fake device ("fake").

Each :class:`ArrayLibrary` answers the few questions whose answer differs by
library: where an array lives, how it crosses to and from the host, which
module has the special functions, how to scatter-add, how to fuse an
elementwise function into one kernel, how to draw random numbers on the
device, and how much device memory is in use. Everything else is the
library's NumPy-compatible module, ``xp``, that every op calls.

CuPy is imported on first use only (it costs a second, and may be absent).
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np

from chainrule.backend import fake


class ArrayLibrary:
    """The interface: one instance per array library."""

    device_type = ""
    array_type: type | None = None

    @property
    def xp(self):
        """The NumPy-compatible module whose functions apply to this library's arrays."""
        raise NotImplementedError

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return 1

    def index_of(self, array) -> int | None:
        """The device index of ``array`` (None for the host)."""
        return None

    def current_index(self) -> int | None:
        return None

    def using(self, index):
        """A context in which new arrays are made on device ``index``."""
        return contextlib.nullcontext()

    def from_host(self, array: np.ndarray, index):
        """A copy of the host array ``array`` on device ``index``."""
        raise NotImplementedError

    def to_host(self, array) -> np.ndarray:
        raise NotImplementedError

    def special(self):
        """The module of special functions (erf, erfc, erfinv, gammaln, digamma, ...) for this library's arrays."""
        raise NotImplementedError

    def scatter_add(self, out, index, values) -> None:
        """``out[index] += values`` with repeated indices accumulated (NumPy's ``add.at``)."""
        self.xp.add.at(out, index, values)

    def fuse(self, function):
        """``function`` of arrays and numbers, compiled into one elementwise kernel where the library can."""
        return function

    def generator(self, seed: int, index):
        """A random generator on device ``index`` with NumPy's Generator methods (random, standard_normal, integers)."""
        raise NotImplementedError

    def synchronize(self, index) -> None:
        """Wait for the work queued on device ``index``."""

    def memory_stats(self, index) -> dict:
        """``allocated`` and ``reserved`` bytes on device ``index``."""
        return {"allocated": 0, "reserved": 0}

    def empty_cache(self) -> None:
        """Return cached, unused device memory to the system."""


# ---------------------------------------------------------------------- NumPy
class _ScalarSpecial:
    """erf and erfc without SciPy: the exact ``math`` functions, element by element (slow, exact)."""

    def __init__(self):
        self._erf = np.frompyfunc(math.erf, 1, 1)
        self._erfc = np.frompyfunc(math.erfc, 1, 1)

    def erf(self, x):
        return self._erf(x).astype(x.dtype)

    def erfc(self, x):
        return self._erfc(x).astype(x.dtype)

    def __getattr__(self, name):
        raise ImportError(f"{name} needs SciPy on the CPU: pip install scipy")


class NumPyLibrary(ArrayLibrary):
    device_type = "cpu"
    array_type = np.ndarray
    xp = np

    def from_host(self, array, index):
        return array

    def to_host(self, array):
        return array

    @functools.cache
    def special(self):
        try:
            from scipy import special  # optional dependency: imported on first use
        except ImportError:
            return _ScalarSpecial()
        return special

    def generator(self, seed, index):
        return np.random.Generator(np.random.PCG64(seed))


# ---------------------------------------------------------------------- CuPy
class CuPyLibrary(ArrayLibrary):
    device_type = "cuda"

    @functools.cached_property
    def _cupy(self):
        """CuPy if it is installed and sees a GPU, else None."""
        try:
            import cupy  # optional dependency, and a slow import: first use only
        except ImportError:
            return None
        try:
            if cupy.cuda.runtime.getDeviceCount() == 0:
                return None
        except Exception:  # no driver or no device: CuPy imports but cannot run
            return None
        return cupy

    @property
    def xp(self):
        cupy = self._cupy
        if cupy is None:
            raise RuntimeError(
                "CUDA is not available (install CuPy for your CUDA version, e.g. `pip install cupy-cuda12x` or "
                "`pip install chainrule[cuda13]`, on a machine with an NVIDIA GPU)"
            )
        return cupy

    @property
    def array_type(self):
        return None if self._cupy is None else self._cupy.ndarray

    def is_available(self):
        return self._cupy is not None

    def device_count(self):
        return 0 if self._cupy is None else self._cupy.cuda.runtime.getDeviceCount()

    def index_of(self, array):
        return array.device.id

    def current_index(self):
        return self.xp.cuda.runtime.getDevice()

    def using(self, index):
        return self.xp.cuda.Device(index)

    def from_host(self, array, index):
        with self.xp.cuda.Device(index):
            return self.xp.asarray(array)

    def to_host(self, array):
        return array.get()

    @functools.cache
    def special(self):
        from cupyx.scipy import special  # part of CuPy

        return special

    def scatter_add(self, out, index, values):
        import cupyx  # part of CuPy

        cupyx.scatter_add(out, index, values)

    def fuse(self, function):
        return self.xp.fuse(function)

    def generator(self, seed, index):
        with self.xp.cuda.Device(index):
            return self.xp.random.Generator(self.xp.random.XORWOW(seed))

    def synchronize(self, index):
        with self.xp.cuda.Device(index):
            self.xp.cuda.runtime.deviceSynchronize()

    def memory_stats(self, index):
        pool = self.xp.get_default_memory_pool()
        with self.xp.cuda.Device(index):
            return {"allocated": pool.used_bytes(), "reserved": pool.total_bytes()}

    def empty_cache(self):
        if self._cupy is not None:
            self._cupy.get_default_memory_pool().free_all_blocks()


# ---------------------------------------------------------------------- the fake device
class _FakeGenerator:
    """NumPy's Generator whose draws land on a fake device; only the methods CuPy's Generator has."""

    METHODS = frozenset({"random", "standard_normal", "integers", "standard_exponential", "binomial", "poisson", "uniform"})

    def __init__(self, seed: int, index: int):
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._index = index

    def __getattr__(self, name):
        if name not in self.METHODS:
            raise AttributeError(f"'Generator' object has no attribute {name!r} (CuPy's has none either)")
        method = getattr(self._rng, name)

        def draw(*args, **kwargs):
            return fake.FakeArray(np.asarray(method(*args, **kwargs)), self._index)

        return draw


class FakeLibrary(ArrayLibrary):
    """Host arrays that act as device arrays (see ``chainrule.backend.fake``): the test double for a GPU."""

    device_type = "fake"
    array_type = fake.FakeArray
    xp = fake.fake_numpy
    DEVICE_COUNT = 2

    def device_count(self):
        return self.DEVICE_COUNT

    def index_of(self, array):
        return array._index

    def current_index(self):
        return fake.current_index()

    def using(self, index):
        return fake.using(index)

    def from_host(self, array, index):
        return fake.from_host(array, index)

    def to_host(self, array):
        return array.get()

    @functools.cache
    def special(self):
        return fake._FakeModule("fake_numpy.special", NUMPY.special())

    def generator(self, seed, index):
        return _FakeGenerator(seed, index)

    def memory_stats(self, index):
        return {"allocated": 0, "reserved": 0}


NUMPY = NumPyLibrary()
CUPY = CuPyLibrary()
FAKE = FakeLibrary()

LIBRARIES = {"cpu": NUMPY, "cuda": CUPY, "fake": FAKE}
"""The array library behind each device type."""
