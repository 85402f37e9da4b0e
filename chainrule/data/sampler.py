"""Samplers: the order in which a DataLoader visits a dataset's indices.

A sampler yields indices for one epoch per ``iter()``. ``indices()`` returns the
same order as a NumPy array, which ``BatchSampler`` slices into batches without a
Python loop over samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np

from chainrule import random


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices of one epoch) and ``__len__``."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__() to be a Sampler")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__() to be a Sampler")

    def indices(self) -> np.ndarray:
        """One epoch's indices as an int64 array (draws a new order where the sampler is random)."""
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, every epoch."""

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def epoch_generator(seed: int, epoch: int) -> np.random.Generator:
    """The generator of epoch ``epoch`` under ``seed``: a pure function of both, so any epoch can be replayed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch])))


class RandomSampler(Sampler):
    """A random permutation of the indices (or ``num_samples`` draws with replacement).

    Where the randomness comes from, first match wins:

    - ``seed``: epoch ``e`` (see ``set_epoch``) uses ``epoch_generator(seed, e)``, so the
      order of any epoch is reproducible on its own, e.g. after resuming from a checkpoint.
      Iterating twice without ``set_epoch`` repeats the order.
    - ``generator``: a ``np.random.Generator``; each ``iter()`` draws a new order from it.
    - neither: chainrule's global generator (``cr.manual_seed`` seeds it); each ``iter()``
      draws a new order.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: np.random.Generator | None = None,
        seed: int | None = None,
    ):
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"RandomSampler: seed must be a non-negative integer, got {seed!r}")
        if num_samples is not None and (not isinstance(num_samples, (int, np.integer)) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples must be a positive integer, got {num_samples!r}")
        if num_samples is not None and not replacement:
            raise ValueError("RandomSampler: num_samples is only allowed with replacement=True")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        self.seed = None if seed is None else int(seed)
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next ``iter()`` draws (matters only with ``seed``)."""
        self.epoch = int(epoch)

    def _generator(self) -> np.random.Generator | None:
        if self.seed is not None:
            return epoch_generator(self.seed, self.epoch)
        return self.generator  # None: the global generator, looked up at draw time

    def indices(self) -> np.ndarray:
        n = len(self.data_source)
        if self.replacement:
            return random.integers(0, n, (self.num_samples,), generator=self._generator())
        return random.permutation(n, generator=self._generator()).astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


def epoch_indices(sampler) -> np.ndarray:
    """One epoch of ``sampler`` (a Sampler or any iterable of ints) as an int64 array."""
    if isinstance(sampler, Sampler):
        return sampler.indices()
    return np.fromiter(iter(sampler), dtype=np.int64)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool = False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size must be a positive integer, got {batch_size!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def batches(self) -> Iterator[np.ndarray]:
        """The batches of one epoch as int64 arrays; the epoch's order is drawn now, not lazily."""
        return _slices(epoch_indices(self.sampler), self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        return (batch.tolist() for batch in self.batches())

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _slices(order: np.ndarray, batch_size: int, drop_last: bool) -> Iterator[np.ndarray]:
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    for start in range(0, stop, batch_size):
        yield order[start : start + batch_size]
