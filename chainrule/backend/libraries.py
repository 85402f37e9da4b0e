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
    cache_blocking = False
    """Whether a long elementwise chain runs faster evaluated block by block, its temporaries in cache (host CPUs)."""

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
        """A NumPy copy of ``array`` (device arrays, CuPy's and the fake device's, copy themselves with ``get``)."""
        return array.get()

    def special(self):
        """The module of special functions (erf, erfc, erfinv, gammaln, digamma, ...) for this library's arrays."""
        return self._special_module

    @functools.cached_property
    def _special_module(self):
        raise NotImplementedError

    def scatter_add(self, out, index, values) -> None:
        """``out[index] += values`` with repeated indices accumulated (NumPy's ``add.at``)."""
        self.scatter_reduce(out, index, values, "add")

    ATOMIC_DTYPES = fake.CUPY_UFUNC_AT_DTYPES
    """The dtypes for which ``ufunc.at`` is used, per ufunc; others are sorted (NumPy overrides: all dtypes)."""

    def scatter_reduce(self, out, index, values, reduction: str) -> None:
        """``out[index] = reduction(out[index], values)`` with repeated targets all combined (NumPy's ``ufunc.at``).

        ``reduction`` names a ufunc: "add", "multiply", "maximum" or "minimum".
        Where the library has no ``ufunc.at`` for it and ``out``'s dtype, the
        values are sorted by target and combined (``_scatter_reduce_by_sorting``).
        """
        if np.dtype(out.dtype) in self.ATOMIC_DTYPES.get(reduction, ()):
            getattr(self.xp, reduction).at(out, index, values)
        else:
            _scatter_reduce_by_sorting(self.xp, out, index, values, reduction)

    def read_only(self, array):
        """``array``, marked read-only where the library has that flag (NumPy); device arrays come back as they are."""
        return array

    def errstate(self, **settings):
        """A context for NumPy's floating-point error handling (``numpy.errstate``); device libraries never warn."""
        return contextlib.nullcontext()

    def fuse(self, function):
        """``function`` of arrays and numbers, compiled into one elementwise kernel where the library can."""
        return function

    in_place_chains = False
    """Whether an elementwise chain runs fastest as in-place passes over one buffer (NumPy: no temporaries)
    rather than as one expression given to :meth:`fused` (device libraries: one kernel launch)."""

    def fused(self, kernel_of):
        """``fuse(kernel_of(self))``, made once per library: ``kernel_of`` returns an elementwise function (a
        ``def``: CuPy names the kernel after it) written against ``self.xp`` and ``self.special()``."""
        return _fused_kernel(self, kernel_of)

    def generator(self, seed: int, index):
        """A random generator on device ``index`` with NumPy's Generator methods (random, standard_normal, integers)."""
        raise NotImplementedError

    def synchronize(self, index) -> None:
        """Wait for the work queued on device ``index``."""

    def memory_stats(self, index) -> dict:
        """``allocated`` and ``reserved`` bytes on device ``index``, and the most of each held at once
        (``peak_allocated``, ``peak_reserved``) since the library loaded or :meth:`reset_peak_memory`."""
        return {"allocated": 0, "reserved": 0, "peak_allocated": 0, "peak_reserved": 0}

    def reset_peak_memory(self, index) -> None:
        """Start the peaks of :meth:`memory_stats` over from what device ``index`` holds now."""

    def empty_cache(self) -> None:
        """Return cached, unused device memory to the system."""

    def set_current_index(self, index) -> None:
        """Make device ``index`` the one new arrays go to from now on (``cudaSetDevice``)."""

    def device_name(self, index) -> str:
        """The device's product name (e.g. "NVIDIA H200")."""
        return self.device_type


# ---------------------------------------------------------------------- NumPy
class _ScalarSpecial:
    """erf and erfc without SciPy: the exact ``math`` functions, element by element (slow, exact)."""

    def __init__(self):
        self._erf = np.frompyfunc(math.erf, 1, 1)
        self._erfc = np.frompyfunc(math.erfc, 1, 1)

    def erf(self, x):
        return np.asarray(self._erf(x)).astype(x.dtype)  # a 0-d input gives a Python float

    def erfc(self, x):
        return np.asarray(self._erfc(x)).astype(x.dtype)

    def __getattr__(self, name):
        raise ImportError(f"{name} needs SciPy on the CPU: pip install scipy")


class NumPyLibrary(ArrayLibrary):
    device_type = "cpu"
    array_type = np.ndarray
    xp = np
    cache_blocking = True
    in_place_chains = True

    def from_host(self, array, index):
        return array

    def to_host(self, array):
        return array

    @functools.cached_property
    def _special_module(self):
        try:
            from scipy import special  # optional dependency: imported on first use
        except ImportError:
            return _ScalarSpecial()
        return special

    def generator(self, seed, index):
        return np.random.Generator(np.random.PCG64(seed))

    def scatter_reduce(self, out, index, values, reduction):
        getattr(np, reduction).at(out, index, values)

    def read_only(self, array):
        array.flags.writeable = False
        return array

    def errstate(self, **settings):
        return np.errstate(**settings)


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
        self._track_peak_memory(cupy)
        return cupy

    def _track_peak_memory(self, cupy) -> None:
        """Route CuPy's allocations through its default pool, noting the pool's high-water marks per device.

        The pool's use only grows at an allocation, so reading it right after
        each one gives the exact peak (the cost: one Python call per allocation).
        """
        pool = cupy.get_default_memory_pool()
        peaks = self._peaks = {}

        def malloc(size):
            memory = pool.malloc(size)
            peak = peaks.setdefault(memory.device_id, [0, 0])
            peak[0] = max(peak[0], pool.used_bytes())
            peak[1] = max(peak[1], pool.total_bytes())
            return memory

        cupy.cuda.set_allocator(malloc)

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

    @functools.cached_property
    def _special_module(self):
        from cupyx.scipy import special  # part of CuPy

        return special

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
            allocated, reserved = pool.used_bytes(), pool.total_bytes()
        peak_allocated, peak_reserved = self._peaks.get(index, (0, 0))
        return {
            "allocated": allocated,
            "reserved": reserved,
            "peak_allocated": max(peak_allocated, allocated),
            "peak_reserved": max(peak_reserved, reserved),
        }

    def reset_peak_memory(self, index):
        stats = self.memory_stats(index)
        self._peaks[index] = [stats["allocated"], stats["reserved"]]

    def empty_cache(self):
        if self._cupy is not None:
            self._cupy.get_default_memory_pool().free_all_blocks()

    def set_current_index(self, index):
        self.xp.cuda.runtime.setDevice(index)

    def device_name(self, index):
        name = self.xp.cuda.runtime.getDeviceProperties(index)["name"]
        return name.decode() if isinstance(name, bytes) else name


# ---------------------------------------------------------------------- the fake device
class _FakeGenerator:
    """NumPy's Generator whose draws land on a fake device; only the methods CuPy's Generator has."""

    METHODS = frozenset(
        {"random", "standard_normal", "integers", "standard_exponential", "binomial", "poisson", "uniform"}
    )

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

    @functools.cached_property
    def _special_module(self):
        return fake._FakeModule("fake_numpy.special", NUMPY.special())

    def generator(self, seed, index):
        return _FakeGenerator(seed, index)

    def set_current_index(self, index):
        fake.set_current_index(index)


def _scatter_reduce_by_sorting(xp, out, index, values, reduction: str) -> None:
    """``out[index] = reduction(out[index], values)``, repeats combined, from whole-array operations only.

    The values are sorted by their flat target; a segmented inclusive scan
    (Hillis-Steele: pass k combines each value with the one 2^k places back
    when both have one target) leaves every run's total at its last element,
    after ceil(log2(longest run)) passes; the totals then meet ``out`` once
    per target. Sums and products come out in a tree order (float rounding
    may differ from NumPy's sequential one in the last bits); extrema are exact.
    """
    combine = getattr(xp, reduction)
    targets = xp.arange(out.size).reshape(out.shape)[index]
    values = xp.broadcast_to(xp.asarray(values, dtype=out.dtype), targets.shape).reshape(-1)
    targets = targets.reshape(-1)
    if targets.size == 0:
        return
    order = xp.argsort(targets)
    targets, totals = targets[order], values[order]
    run_end = xp.ones(targets.shape, bool)
    run_end[:-1] = targets[1:] != targets[:-1]
    longest = int(xp.diff(xp.flatnonzero(run_end), prepend=-1).max())
    step = 1
    while step < longest:
        same_target = targets[step:] == targets[:-step]
        totals[step:] = xp.where(same_target, combine(totals[step:], totals[:-step]), totals[step:])
        step *= 2
    where = xp.unravel_index(targets[run_end], out.shape)  # each target once: a plain write is exact
    out[where] = combine(out[where], totals[run_end])


@functools.cache
def _fused_kernel(library: ArrayLibrary, kernel_of):
    return library.fuse(kernel_of(library))


NUMPY = NumPyLibrary()
CUPY = CuPyLibrary()
FAKE = FakeLibrary()

LIBRARIES = {"cpu": NUMPY, "cuda": CUPY, "fake": FAKE}
"""The array library behind each device type."""
