"""Evaluating a long elementwise chain of NumPy passes block by block, so that its temporaries stay in cache.

A smooth activation written in NumPy (GELU through erf is some thirty passes)
streams the whole array through memory once per pass. Run on a block that
fits in the L2 cache, every pass after the first reads and writes the cache
instead. It pays for long chains only: for the five or six passes of a
softmax or a layer norm, the Python loop over blocks costs more than it
saves (measured), so those run whole. On other array modules (CuPy) the chain
runs whole.
"""

from __future__ import annotations

from chainrule.backend import array_module, library_of

FLAT_BLOCK = 1 << 14  # elements: a block and its dozen float32 temporaries fit in a 256 KiB L2


def blockwise(compute, *arrays):
    """``compute(*arrays)`` for an elementwise ``compute``, evaluated over flat blocks of ``FLAT_BLOCK`` elements.

    The arrays must be of one shape to be split (else ``compute`` runs on them whole).
    """
    first = arrays[0]
    if first.ndim == 0:  # NumPy turns 0-d intermediates into scalars, which in-place kernels can't write to
        return compute(*(a.reshape(1) for a in arrays)).reshape(())
    if not library_of(first).cache_blocking or first.size <= FLAT_BLOCK or any(a.shape != first.shape for a in arrays):
        return compute(*arrays)
    xp = array_module(first)
    flats = [xp.ascontiguousarray(a).reshape(-1) for a in arrays]
    output = None
    for start in range(0, first.size, FLAT_BLOCK):
        block = compute(*(flat[start : start + FLAT_BLOCK] for flat in flats))
        if output is None:
            output = xp.empty(first.size, dtype=block.dtype)
        output[start : start + FLAT_BLOCK] = block
    return output.reshape(first.shape)
