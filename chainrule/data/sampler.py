"""Samplers: the order in which a DataLoader visits a dataset's indices.

A sampler yields the indices of one epoch per ``iter()``. Every sampler here also
has ``index_chunks()``: the same epoch as a lazy sequence of int64 arrays, which
``BatchSampler`` slices into batches without a Python loop over samples, and
which keeps ``RandomSampler(ds, replacement=True, num_samples=10**10)`` from
building 10**10 indices up front (it draws ``CHUNK`` at a time).

Randomness: an ``iter()`` (or ``index_chunks()``) fixes its epoch's order when it
is called by drawing one seed from ``generator`` (a ``cr.Generator``, a NumPy
generator, or None for the global one that ``cr.manual_seed`` seeds); the
indices are then drawn lazily from a private generator made from that seed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Generic, TypeVar

import numpy as np

from chainrule import distributed, random

CHUNK = 4096  # indices drawn at a time when an epoch is longer than the dataset


T_co = TypeVar("T_co", covariant=True)  # what an index is, for annotations such as Sampler[int]


class Sampler(Generic[T_co]):
    """Base class: subclasses define ``__iter__`` (indices of one epoch) and usually ``__len__``.

    A subclass may also define ``index_chunks()`` (the same indices as int64 arrays)
    so that batching slices arrays instead of collecting indices one by one.

    >>> from chainrule.utils.data import DataLoader, Sampler
    >>> class Backwards(Sampler):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n - 1, -1, -1))
    ...     def __len__(self):
    ...         return self.n
    >>> [batch.tolist() for batch in DataLoader([10, 11, 12], batch_size=2, sampler=Backwards(3))]
    [[12, 11], [10]]
    """

    def __init__(self, data_source: Sized | None = None):
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__() to be a Sampler")

    def index_chunks(self) -> Iterator[np.ndarray]:
        """One epoch's indices as consecutive int64 arrays (the order is fixed when this is called)."""
        indices = iter(self)
        while chunk := list(itertools.islice(indices, CHUNK)):
            yield np.asarray(chunk, dtype=np.int64)


def epoch_chunks(sampler: Sampler) -> Iterator[np.ndarray]:
    """``sampler.index_chunks()``, unless a subclass overrides ``__iter__`` alone: then chunks of its ``iter()``."""
    cls = type(sampler)
    iter_owner = next(klass for klass in cls.__mro__ if "__iter__" in vars(klass))
    chunks_owner = next(klass for klass in cls.__mro__ if "index_chunks" in vars(klass))
    if chunks_owner is Sampler or issubclass(chunks_owner, iter_owner):
        return sampler.index_chunks()
    return Sampler.index_chunks(sampler)


def flatten_chunks(chunks: Iterator[np.ndarray]) -> Iterator[int]:
    """The indices of ``index_chunks()`` one by one, as Python ints."""
    for chunk in chunks:
        yield from chunk.tolist()


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, every epoch.

    >>> from chainrule.utils.data import SequentialSampler
    >>> list(SequentialSampler(["a", "b", "c"]))
    [0, 1, 2]
    """

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def index_chunks(self) -> Iterator[np.ndarray]:
        return iter([np.arange(len(self.data_source), dtype=np.int64)])

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def epoch_generator(seed: int, epoch: int) -> np.random.Generator:
    """The generator of epoch ``epoch`` under ``seed``: a pure function of both, so any epoch can be replayed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, epoch])))


def child_generator(generator=None) -> np.random.Generator:
    """A new NumPy generator seeded by one draw from ``generator`` (None: the global generator)."""
    return np.random.Generator(np.random.PCG64(int(random.numpy_generator(generator).integers(2**63))))


class RandomSampler(Sampler):
    """Indices in random order: a permutation of the dataset, or ``num_samples`` draws.

    Without replacement, ``num_samples`` (default ``len(data_source)``) takes whole
    permutations one after the other and a part of the last one, as PyTorch does;
    with ``replacement=True`` it draws ``num_samples`` indices uniformly, ``CHUNK``
    at a time, so an epoch of 10**10 samples costs memory for one chunk.

    Where the randomness comes from, first match wins:

    - ``seed`` (chainrule's addition): epoch ``e`` (see ``set_epoch``) uses
      ``epoch_generator(seed, e)``, so any epoch's order is reproducible on its own,
      e.g. after resuming from a checkpoint. Iterating twice without ``set_epoch``
      repeats the order.
    - ``generator``: a ``cr.Generator`` (or NumPy generator); each ``iter()`` draws a new order from it.
    - neither: chainrule's global generator (``cr.manual_seed`` seeds it); each ``iter()``
      draws a new order.

    >>> import chainrule as cr
    >>> from chainrule.utils.data import RandomSampler
    >>> sampler = RandomSampler(range(5), generator=cr.Generator().manual_seed(0))
    >>> sorted(sampler), len(sampler)
    ([0, 1, 2, 3, 4], 5)
    >>> len(list(RandomSampler(range(5), replacement=True, num_samples=12)))
    12
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator=None,
        seed: int | None = None,
    ):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a bool, got replacement={replacement!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"RandomSampler: seed must be a non-negative integer, got {seed!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        self.seed = None if seed is None else int(seed)
        self.epoch = 0
        n = self.num_samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, got num_samples={n!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next ``iter()`` draws (matters only with ``seed``)."""
        self.epoch = int(epoch)

    def _epoch_generator(self) -> np.random.Generator:
        if self.seed is not None:
            return epoch_generator(self.seed, self.epoch)
        return child_generator(self.generator)

    def index_chunks(self) -> Iterator[np.ndarray]:
        return _random_chunks(len(self.data_source), int(self.num_samples), self.replacement, self._epoch_generator())

    def __iter__(self) -> Iterator[int]:
        return flatten_chunks(self.index_chunks())

    def __len__(self) -> int:
        return self.num_samples


def _random_chunks(n: int, total: int, replacement: bool, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``total`` indices in [0, n): uniform draws, or permutations of n (the last one cut short)."""
    step = CHUNK if replacement else n
    for start in range(0, total, step):
        size = min(step, total - start)
        if replacement:
            yield rng.integers(0, n, size=size, dtype=np.int64)
        else:
            yield rng.permutation(n)[:size].astype(np.int64, copy=False)


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a new random order every epoch (without replacement).

    >>> from chainrule.utils.data import SubsetRandomSampler
    >>> sorted(SubsetRandomSampler([4, 7, 9]))
    [4, 7, 9]
    """

    def __init__(self, indices: Sequence[int], generator=None):
        self.indices = indices
        self.generator = generator

    def index_chunks(self) -> Iterator[np.ndarray]:
        order = child_generator(self.generator).permutation(len(self.indices))
        return iter([np.asarray(self.indices, dtype=np.int64).reshape(-1)[order]])

    def __iter__(self) -> Iterator[int]:
        return flatten_chunks(self.index_chunks())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in [0, len(weights)), index i drawn with probability weights[i] / sum(weights).

    Without replacement an index is drawn at most once, so at most as many samples as
    there are non-zero weights can be drawn (RuntimeError at ``iter()`` otherwise).

    >>> from chainrule.utils.data import WeightedRandomSampler
    >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=3))
    [1, 1, 1]
    >>> sorted(WeightedRandomSampler([1.0, 0.0, 2.0], num_samples=2, replacement=False))
    [0, 2]
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
            raise ValueError(
                f"WeightedRandomSampler: num_samples should be a positive integer value, got num_samples={num_samples!r}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a bool, got replacement={replacement!r}")
        weights = np.asarray(weights.numpy() if hasattr(weights, "numpy") else weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(
                f"WeightedRandomSampler: weights should be a 1d sequence but given weights have shape {weights.shape}"
            )
        self.weights = weights
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def _check_weights(self) -> None:
        w = self.weights
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise RuntimeError(
                f"WeightedRandomSampler: weights must be finite, non-negative and not all zero, got {w.tolist()}"
            )
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise RuntimeError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement "
                f"from {np.count_nonzero(w)} non-zero weights"
            )

    def index_chunks(self) -> Iterator[np.ndarray]:
        self._check_weights()
        rng = child_generator(self.generator)
        p = self.weights / self.weights.sum()
        return iter([rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).astype(np.int64)])

    def __iter__(self) -> Iterator[int]:
        return flatten_chunks(self.index_chunks())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless ``drop_last``).

    ``sampler`` is a Sampler or any iterable (its items are passed through as they are).

    Example:
        >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
        >>> list(BatchSampler(range(10), batch_size=3, drop_last=True))
        [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    """

    def __init__(self, sampler: Sampler | Iterable, batch_size: int, drop_last: bool = False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(
                f"BatchSampler: batch_size should be a positive integer value, got batch_size={batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a bool, got drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def batches(self) -> Iterator:
        """The batches of one epoch: int64 arrays when the sampler has ``index_chunks``, else lists.

        The epoch's order is fixed now, not at the first ``next()``.
        """
        if isinstance(self.sampler, Sampler):
            return _slices(epoch_chunks(self.sampler), self.batch_size, self.drop_last)
        return _list_batches(iter(self.sampler), self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[list]:
        return (batch.tolist() if isinstance(batch, np.ndarray) else batch for batch in self.batches())

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _slices(chunks: Iterator[np.ndarray], batch_size: int, drop_last: bool) -> Iterator[np.ndarray]:
    """Cut a stream of index arrays into arrays of ``batch_size``, carrying the remainder across chunks."""
    carry = np.empty(0, np.int64)
    for chunk in chunks:
        if len(carry):
            chunk = np.concatenate([carry, chunk])
        stop = len(chunk) - len(chunk) % batch_size
        for start in range(0, stop, batch_size):
            yield chunk[start : start + batch_size]
        carry = chunk[stop:]
    if len(carry) and not drop_last:
        yield carry


def _list_batches(indices: Iterator, batch_size: int, drop_last: bool) -> Iterator[list]:
    while batch := list(itertools.islice(indices, batch_size)):
        if drop_last and len(batch) < batch_size:
            return
        yield batch


class DistributedSampler(Sampler):
    """The share of rank ``rank`` among ``num_replicas`` processes of one epoch's indices (PyTorch's rule).

    The epoch's order (a permutation from ``seed + epoch`` when ``shuffle``, else
    0..n-1) is padded by repeating its start up to ``num_samples * num_replicas``
    indices, ``num_samples = ceil(n / num_replicas)``, or with ``drop_last`` cut
    to ``num_samples = ceil((n - num_replicas) / num_replicas)`` per rank when n
    does not divide evenly; rank r takes positions r, r + num_replicas, ...
    Every rank must use the same ``seed`` and call ``set_epoch(epoch)`` before each
    epoch, or every epoch has the same order.

    With ``num_replicas`` / ``rank`` left None they come from ``chainrule.distributed``
    when it is initialised, else this is rank 0 of a world of one.

    Example (5 samples on 2 ranks: rank 1 gets sample 0 again as padding):
        >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False)) for r in range(2)]
        [[0, 2, 4], [1, 3, 0]]
        >>> [list(DistributedSampler(range(5), 2, r, shuffle=False, drop_last=True)) for r in range(2)]
        [[0, 2], [1, 3]]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        if num_replicas is None or rank is None:
            world_size, world_rank = _world()
            num_replicas = world_size if num_replicas is None else num_replicas
            rank = world_rank if rank is None else rank
        if num_replicas <= 0:
            raise ValueError(f"DistributedSampler: num_replicas must be positive, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"DistributedSampler: invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order (``seed + epoch``) on the next ``iter()``."""
        self.epoch = epoch

    def index_chunks(self) -> Iterator[np.ndarray]:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.Generator(np.random.PCG64(self.seed + self.epoch)).permutation(n).astype(np.int64)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            order = np.resize(order, self.total_size)  # repeats the order from its start
        return iter([order[self.rank : self.total_size : self.num_replicas]])

    def __iter__(self) -> Iterator[int]:
        return flatten_chunks(self.index_chunks())

    def __len__(self) -> int:
        return self.num_samples


def _world() -> tuple[int, int]:
    """(world size, rank) of an initialised ``chainrule.distributed``, else (1, 0)."""
    is_initialized = getattr(distributed, "is_initialized", None)
    if is_initialized is None or not is_initialized():
        return 1, 0
    return int(distributed.get_world_size()), int(distributed.get_rank())
