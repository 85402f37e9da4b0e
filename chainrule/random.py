"""The random number generator behind every random draw (``cr.manual_seed`` seeds it).

Draws are made on the CPU with NumPy's PCG64 and copied to the target device,
so a seed gives the same numbers on every device.
"""

from __future__ import annotations

import numpy as np

from chainrule.backend import CPU, Device, to_device

DEFAULT_SEED = 67280421310721

_generator = np.random.Generator(np.random.PCG64(DEFAULT_SEED))
_seed = DEFAULT_SEED


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator so every later random draw is reproducible."""
    global _generator, _seed
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    return _generator


seed = manual_seed


def initial_seed() -> int:
    return _seed


def default_generator() -> np.random.Generator:
    return _generator


def get_rng_state() -> dict:
    """The generator's full state (a JSON-serialisable dict)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state


def _place(array: np.ndarray, device) -> np.ndarray:
    return array if device is None or Device(device) == CPU else to_device(array, Device(device))


def uniform(shape, low=0.0, high=1.0, dtype=np.float32, device=None, generator=None):
    gen = generator or _generator
    array = gen.random(shape, dtype=np.float64 if np.dtype(dtype) == np.float64 else np.float32)
    if low != 0.0 or high != 1.0:
        array = array * (high - low) + low
    return _place(array.astype(dtype, copy=False), device)


def normal(shape, mean=0.0, std=1.0, dtype=np.float32, device=None, generator=None):
    gen = generator or _generator
    array = gen.standard_normal(shape, dtype=np.float64 if np.dtype(dtype) == np.float64 else np.float32)
    if mean != 0.0 or std != 1.0:
        array = array * std + mean
    return _place(array.astype(dtype, copy=False), device)


def integers(low, high, shape, dtype=np.int64, device=None, generator=None):
    gen = generator or _generator
    return _place(gen.integers(low, high, size=shape, dtype=dtype), device)


def permutation(n: int, generator=None) -> np.ndarray:
    return (generator or _generator).permutation(n)
