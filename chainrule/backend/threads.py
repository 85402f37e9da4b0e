"""How many threads OpenBLAS (NumPy's matrix multiply) may use, set at run time.

Measured on the 2-core machine this was developed on (AMD EPYC Zen 5, OpenBLAS
0.3.31 from NumPy's wheel), an epoch of the notes' MNIST network (784-200-200-10,
batch 128) took 0.65 s with OpenBLAS's default of 2 threads when nothing else
ran, but 2.5-9 s as soon as another process wanted a core (OpenBLAS's threads
spin-wait for each other; one 128 x 784 x 200 product went from 1 ms to 40-70 ms),
while with 1 thread it took 0.95 s whatever else ran. So the command line uses
1 thread unless told otherwise (``--threads``, or the usual environment variables).
Note that results differ in the last bits between thread counts, so an exact
``--resume`` needs the same count as the run it continues.

``OPENBLAS_CORETYPE`` is deliberately left alone: forcing the AVX-512 kernels
("SkylakeX") on that machine killed the process with SIGILL, because its
virtual CPU does not expose AVX-512 even though Zen 5 has it.
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
