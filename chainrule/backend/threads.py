"""The number of threads behind the CPU's matrix products: ``cr.set_num_threads`` / ``cr.get_num_threads``.

chainrule's CPU kernels are NumPy's, whose parallel part is OpenBLAS (see
``openblas``); these set and read OpenBLAS's thread count, as PyTorch's set
and read its intra-op thread pool.
"""

from __future__ import annotations

import os

from chainrule.backend import openblas

_requested: int | None = None


def set_num_threads(threads: int) -> None:
    """Use ``threads`` threads (a positive int) for matrix products from now on.

    >>> import chainrule as cr
    >>> before = cr.get_num_threads()
    >>> cr.set_num_threads(1)
    >>> cr.set_num_threads(before)
    """
    global _requested
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(threads).__name__}")
    if threads <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {threads}")
    openblas.set_blas_threads(threads)
    _requested = threads


def get_num_threads() -> int:
    """The thread count of the loaded OpenBLAS (else the last one set, else the CPU count).

    >>> import chainrule as cr
    >>> cr.get_num_threads() >= 1
    True
    """
    counts = [threads for _, _, threads in openblas.loaded_kernels() if threads]
    if counts:
        return counts[0]
    return _requested or os.cpu_count() or 1
