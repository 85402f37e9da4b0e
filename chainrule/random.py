"""The random number generators behind every random draw (``cr.manual_seed`` seeds them all).

Host draws come from one global NumPy generator (PCG64). Each accelerator
device has a generator of its own, living there (CuPy's XORWOW on "cuda", a
wrapped NumPy generator on "fake"), made on the device's first draw: ``rand``,
``randn``, the in-place ``uniform_``/``normal_``/``random_`` and dropout masks
on a device draw there, with no host draw and no copy. ``manual_seed`` reseeds
the host generator and every device generator (each device's with the same
seed, as PyTorch does), so device draws are reproducible too; the device
generators do not touch the host generator's state.

A draw given ``generator=`` (a :class:`Generator`, which lives on the host)
is made on the host and copied to the target device, so a seeded
``Generator`` gives the same numbers on every device.
"""

from __future__ import annotations

import numpy as np

from chainrule.backend import CPU, Device, allocating_on, library_for, to_device
from chainrule.backend.device import resolved

DEFAULT_SEED = 67280421310721

_generator = np.random.Generator(np.random.PCG64(DEFAULT_SEED))
_seed = DEFAULT_SEED

_device_seed = DEFAULT_SEED
"""The seed of each device generator made from now on (``manual_seed``, ``seed_device_generators``)."""

_device_generators: dict = {}
"""A resolved accelerator Device -> its generator, made on the device's first draw."""


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator and every device's generator so every later random draw is reproducible.

    Returns the new global NumPy generator. ``cr.seed`` is the same function.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> a = cr.rand(3)
    >>> _ = cr.manual_seed(0)
    >>> cr.equal(a, cr.rand(3)), cr.initial_seed()
    (True, 0)
    """
    global _generator, _seed
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    seed_device_generators(_seed)
    return _generator


def seed_device_generators(seed: int, device=None) -> None:
    """Reseed the accelerator generators: every device's (``device=None``) or only ``device``'s ("cuda:1").

    The host generator is left alone (``cr.cuda.manual_seed_all`` is ``seed_device_generators(seed)``,
    ``cr.cuda.manual_seed`` is ``seed_device_generators(seed, "cuda")``, the current CUDA device).
    """
    global _device_seed
    seed = int(seed)
    if device is None:
        _device_seed = seed
        _device_generators.clear()
        return
    device = resolved(Device(device))
    _device_generators[device] = library_for(device).generator(seed, device.index)


def device_generator(device):
    """The generator that lives on the accelerator ``device`` (``Device`` or string), made on first use."""
    device = resolved(Device(device))
    generator = _device_generators.get(device)
    if generator is None:
        generator = _device_generators[device] = library_for(device).generator(_device_seed, device.index)
    return generator


def draws_on_device(device, generator=None) -> bool:
    """Whether a draw for ``device`` comes from that device's own generator: an accelerator, no ``generator=``."""
    return generator is None and device is not None and Device(device).type != "cpu"


seed = manual_seed


def initial_seed() -> int:
    """The seed last given to ``manual_seed``.

    >>> import chainrule as cr
    >>> _ = cr.manual_seed(42)
    >>> cr.initial_seed()
    42
    """
    return _seed


def default_generator() -> np.random.Generator:
    return _generator


def get_rng_state() -> dict:
    """The host generator's full state (a JSON-serialisable dict); the device generators' is not in it.

    Give it to ``set_rng_state`` to replay the draws made since.

    >>> import chainrule as cr
    >>> state = cr.get_rng_state()
    >>> a = cr.randn(2)
    >>> cr.set_rng_state(state)
    >>> cr.equal(a, cr.randn(2))
    True
    """
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the global generator's state from ``get_rng_state()``: the draws after it repeat.

    >>> import chainrule as cr
    >>> state = cr.get_rng_state()
    >>> first = cr.randint(0, 100, (4,))
    >>> cr.set_rng_state(state)
    >>> cr.equal(first, cr.randint(0, 100, (4,)))
    True
    """
    _generator.bit_generator.state = state


class Generator:
    """A random number generator of its own, as ``torch.Generator``: ``cr.Generator().manual_seed(0)``.

    Pass it as ``generator=`` to a random draw (``rand``, ``randn``, ``randint``,
    ``randperm``, ``multinomial``, ``bernoulli``, ``normal_``, a sampler or a
    DataLoader) to draw from it instead of the global generator.

    The generator lives on the host whatever its ``device``: a draw for a
    device tensor is made on the host and copied there, so one seed gives
    the same numbers on every device (draws without ``generator=`` come from
    the device's own generator instead; see the module docstring).

    >>> import chainrule as cr
    >>> g = cr.Generator().manual_seed(0)
    >>> a = cr.rand(2, generator=g)
    >>> _ = g.manual_seed(0)
    >>> cr.equal(a, cr.rand(2, generator=g))
    True
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


def _draw(method: str, device, generator, *args, **kwargs):
    """``method(*args, **kwargs)`` of the generator for ``device``: the device's own for an accelerator
    (the array is made there), else the host's (the global one, or ``generator``), copied to ``device``."""
    if draws_on_device(device, generator):
        device = resolved(Device(device))
        with allocating_on(device):
            return getattr(device_generator(device), method)(*args, **kwargs)
    return _place(getattr(numpy_generator(generator), method)(*args, **kwargs), device)


def _draw_dtype(dtype) -> type:
    """float64 draws for float64, float32 draws (then cast) for every other float dtype."""
    return np.float64 if np.dtype(dtype) == np.float64 else np.float32


def uniform(shape, low=0.0, high=1.0, dtype=np.float32, device=None, generator=None):
    """Uniform draws from [low, high) of ``shape`` and ``dtype``, on ``device`` (None: the host)."""
    array = _draw("random", device, generator, shape, dtype=_draw_dtype(dtype))
    if low != 0.0 or high != 1.0:
        array = array * (high - low) + low
    return array.astype(dtype, copy=False)


def normal(shape, mean=0.0, std=1.0, dtype=np.float32, device=None, generator=None):
    """Normal draws N(mean, std^2) of ``shape`` and ``dtype``, on ``device`` (None: the host)."""
    array = _draw("standard_normal", device, generator, shape, dtype=_draw_dtype(dtype))
    if mean != 0.0 or std != 1.0:
        array = array * std + mean
    return array.astype(dtype, copy=False)


def exponential(shape, rate=1.0, dtype=np.float32, device=None, generator=None):
    """Exponential draws with the given rate (mean 1 / rate), of ``shape`` and ``dtype``, on ``device``."""
    array = _draw("standard_exponential", device, generator, shape)
    return (array / rate).astype(dtype, copy=False)


def integers(low, high, shape, dtype=np.int64, device=None, generator=None):
    """Integers drawn uniformly from [low, high), of ``shape`` and ``dtype``, on ``device`` (None: the host)."""
    return _draw("integers", device, generator, low, high, size=shape, dtype=dtype)


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
