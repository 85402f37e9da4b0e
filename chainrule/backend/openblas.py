"""OpenBLAS, NumPy's matrix multiply: its thread count and the CPU kernels it runs.

Threads
-------

Measured on the 2-core machine this was developed on (AMD EPYC Zen 5, OpenBLAS
0.3.31 from NumPy's wheel), an epoch of the notes' MNIST network (784-200-200-10,
batch 128) took 0.65 s with OpenBLAS's default of 2 threads when nothing else
ran, but 2.5-9 s as soon as another process wanted a core (OpenBLAS's threads
spin-wait for each other; one 128 x 784 x 200 product went from 1 ms to 40-70 ms),
while with 1 thread it took 0.95 s whatever else ran. So the command line uses
1 thread unless told otherwise (``--threads``, or the usual environment variables).
Note that results differ in the last bits between thread counts, so an exact
``--resume`` needs the same count as the run it continues.

Kernels
-------
OpenBLAS (built with DYNAMIC_ARCH, as in NumPy's wheels) picks its kernels from
the CPU model when NumPy loads it, and on some CPUs that have AVX-512 (AMD Zen 4
and 5 among them) it picks the AVX2 ones ("Haswell", "Zen"). The environment
variable ``OPENBLAS_CORETYPE=SkylakeX`` selects the AVX-512 kernels; OpenBLAS
reads it once, when it loads, so a library user sets it before starting Python::

    OPENBLAS_CORETYPE=SkylakeX python train.py

The ``chainrule`` command does that itself (``relaunch_with_avx512_kernels``):
when the CPU reports every AVX-512 feature those kernels use, OpenBLAS runs
other kernels and ``OPENBLAS_CORETYPE`` is unset, it sets the variable and
restarts itself once. Setting ``OPENBLAS_CORETYPE`` (to any kernel) opts out.
The check reads the flags the operating system reports in /proc/cpuinfo, which
leave out features a virtual machine does not expose: forcing these kernels
where AVX-512 is not exposed kills the process with SIGILL.
"""

from __future__ import annotations

import ctypes
import os
import sys

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS")
_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads")


def user_chose_threads() -> bool:
    """Whether an environment variable already sets OpenBLAS's thread count."""
    return any(os.environ.get(name) for name in THREAD_VARIABLES)


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries loaded into this process (Linux: from /proc/self/maps)."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(paths)


def set_blas_threads(threads: int) -> bool:
    """Make the loaded OpenBLAS use ``threads`` threads; False if no OpenBLAS could be told."""
    import numpy  # noqa: F401  (loads OpenBLAS, so that it shows in the process's maps)

    done = False
    for path in _loaded_openblas():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(library, name, None)
            if setter is not None:
                setter(ctypes.c_int(threads))
                done = True
                break
    return done


# OpenBLAS builds prefix or suffix their symbols (NumPy's wheel: scipy_openblas_..64_); try each spelling.
_CORENAME = (
    "scipy_openblas_get_corename64_",
    "scipy_openblas_get_corename",
    "openblas_get_corename64_",
    "openblas_get_corename",
)
_NUM_THREADS = (
    "scipy_openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)
# The CPU features OpenBLAS's SkylakeX kernels need, as /proc/cpuinfo names them.
AVX512_FLAGS = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})
_AVX512_KERNELS = frozenset({"skylakex", "cooperlake", "sapphirerapids"})


def _call_first(library: ctypes.CDLL, names, restype):
    """The result of the first of ``names`` that ``library`` exports, called without arguments; None if none."""
    for name in names:
        function = getattr(library, name, None)
        if function is not None:
            function.restype, function.argtypes = restype, []
            return function()
    return None


def loaded_kernels() -> list[tuple[str, str, int | None]]:
    """(library path, kernel ("core") name, thread count) of every OpenBLAS loaded into this process."""
    import numpy  # noqa: F401  (loads OpenBLAS)

    kernels = []
    for path in _loaded_openblas():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        core = _call_first(library, _CORENAME, ctypes.c_char_p)
        threads = _call_first(library, _NUM_THREADS, ctypes.c_int)
        kernels.append((path, core.decode() if core else "unknown", threads))
    return kernels


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The feature flags of the first CPU in ``cpuinfo`` (empty where there is no such file)."""
    try:
        with open(cpuinfo, encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def should_use_avx512_kernels(flags, kernels, environment) -> bool:
    """Whether to ask for the AVX-512 kernels: the CPU has them, OpenBLAS runs others, nobody chose."""
    if environment.get("OPENBLAS_CORETYPE") or not AVX512_FLAGS <= set(flags):
        return False
    return any(core.lower() not in _AVX512_KERNELS for _, core, _ in kernels)


def relaunch_with_avx512_kernels(argv: list[str]) -> None:
    """Restart this program as ``python -m chainrule *argv`` with ``OPENBLAS_CORETYPE=SkylakeX`` where that helps.

    Returns (doing nothing) unless ``should_use_avx512_kernels``; the restarted
    process has the variable set, so it never restarts again.
    """
    if not should_use_avx512_kernels(cpu_flags(), loaded_kernels(), os.environ):
        return
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "chainrule", *argv])
