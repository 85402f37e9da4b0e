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


class Generator:
    """A random number generator of its own, as ``torch.Generator``: ``cr.Generator().manual_seed(0)``.

    Pass it as ``generator=`` to a random draw (``rand``, ``randn``, ``randint``,
    ``randperm``, ``multinomial``, ``bernoulli``, ``normal_``, a sampler or a
    DataLoader) to draw from it instead of the global generator.
    """

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self._seed = DEFAULT_SEED
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reseed this generator; returns it, so ``Generator().manual_seed(0)`` chains."""
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self._rng.bit_generator.state = state
        return self

    def __repr__(self) -> str:
        return f"<chainrule.Generator seed={self._seed}>"


def numpy_generator(generator=None) -> np.random.Generator:
    """The NumPy generator behind ``generator``: a :class:`Generator`, a NumPy one, or None for the global."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a chainrule.Generator, got {type(generator).__name__}")


def _place(array: np.ndarray, device) -> np.ndarray:
    return array if device is None or Device(device) == CPU else to_device(array, Device(device))


def uniform(shape, low=0.0, high=1.0, dtype=np.float32, device=None, generator=None):
    gen = numpy_generator(generator)
    array = gen.random(shape, dtype=np.float64 if np.dtype(dtype) == np.float64 else np.float32)
    if low != 0.0 or high != 1.0:
        array = array * (high - low) + low
    return _place(array.astype(dtype, copy=False), device)


def normal(shape, mean=0.0, std=1.0, dtype=np.float32, device=None, generator=None):
    gen = numpy_generator(generator)
    array = gen.standard_normal(shape, dtype=np.float64 if np.dtype(dtype) == np.float64 else np.float32)
    if mean != 0.0 or std != 1.0:
        array = array * std + mean
    return _place(array.astype(dtype, copy=False), device)


def integers(low, high, shape, dtype=np.int64, device=None, generator=None):
    gen = numpy_generator(generator)
    return _place(gen.integers(low, high, size=shape, dtype=dtype), device)


def permutation(n: int, generator=None) -> np.ndarray:
    return numpy_generator(generator).permutation(n)


def categorical_with_replacement(weights: np.ndarray, num_samples: int, generator=None) -> np.ndarray:
    """For each row of non-negative ``weights`` (m, n), ``num_samples`` category indices drawn i.i.d.

    Inverse-CDF sampling: a uniform draw scaled by the row's total is located in the
    running sum of the weights, so a zero-weight category is never drawn.
    """
    gen = numpy_generator(generator)
    cumulative = np.cumsum(weights, axis=1, dtype=np.float64)
    totals = cumulative[:, -1:]
    targets = gen.random((weights.shape[0], num_samples)) * totals
    samples = np.stack([np.searchsorted(row, t, side="right") for row, t in zip(cumulative, targets)])
    last_positive = weights.shape[1] - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)
    return np.minimum(samples, last_positive[:, None])


def categorical_without_replacement(weights: np.ndarray, num_samples: int, generator=None) -> np.ndarray:
    """For each row of ``weights`` (m, n), ``num_samples`` distinct categories, drawn one after another
    with probability proportional to the weights of those not yet drawn.

    Efraimidis and Spirakis' keys: with E_i ~ Exp(1), the categories in increasing order of
    E_i / w_i have exactly that sequential distribution, so one sort draws them all.
    """
    gen = numpy_generator(generator)
    with np.errstate(divide="ignore"):
        keys = gen.standard_exponential(weights.shape) / weights.astype(np.float64)
    return np.argsort(keys, axis=1, kind="stable")[:, :num_samples]


def bernoulli(probabilities: np.ndarray, generator=None) -> np.ndarray:
    """1 with probability p, else 0, elementwise, in the dtype of ``probabilities``."""
    draws = numpy_generator(generator).random(probabilities.shape)
    return (draws < probabilities).astype(probabilities.dtype)


def poisson(rates: np.ndarray, generator=None) -> np.ndarray:
    """Poisson counts with the given rates, in the dtype of ``rates``."""
    return numpy_generator(generator).poisson(rates).astype(rates.dtype)
