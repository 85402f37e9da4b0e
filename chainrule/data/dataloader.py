"""DataLoader: iterate over a dataset in (optionally shuffled) batches, in this process or in workers."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from chainrule import random
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import IterableDataset
from chainrule.data.fetch import make_fetcher
from chainrule.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, epoch_chunks, flatten_chunks
from chainrule.data.worker import WorkerPool


class DataLoader:
    """Batches of ``dataset``, one pass (epoch) per ``iter()``; PyTorch's ``DataLoader``.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``) or an ``IterableDataset``.
        batch_size: samples per batch; the last batch is shorter unless ``drop_last``.
            None turns batching off: each item is one sample passed through ``collate_fn``
            (default ``default_convert``).
        shuffle: visit the samples in a new random order every epoch (map-style only).
        sampler: the order of indices, a Sampler or any iterable (instead of ``shuffle``).
        batch_sampler: yields lists of indices (instead of ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``).
        num_workers: 0 loads in this process; N > 0 loads in N worker processes (see
            ``chainrule.data.worker``) giving the same batches in the same order.
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        pin_memory: accepted and ignored: pinned (page-locked) host memory only speeds
            copies to a GPU, and batches here are already where they will be used.
        drop_last: drop the last batch when it is short.
        timeout: seconds to wait for a batch from the workers before a RuntimeError (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker, after seeding.
        multiprocessing_context: a start method name ("fork", "spawn", "forkserver") or a
            context; default fork where available.
        generator: a ``cr.Generator`` for the shuffling order and the workers' base seed
            (default: the global generator, which ``cr.manual_seed`` seeds).
        prefetch_factor: batches in flight per worker (default 2 with workers).
        persistent_workers: keep the workers alive from one epoch to the next.
        pin_memory_device, in_order: accepted for PyTorch compatibility; batches always
            come in the sampler's order. ``timeout`` applies to worker processes only.
        seed: (chainrule's addition) makes shuffling reproducible and resumable: epoch
            ``e`` uses a generator derived from ``(seed, e)`` alone (see
            ``chainrule.data.sampler.epoch_generator``), whatever the global generator.

    ``epoch`` counts the passes: it is the epoch number the next ``iter()`` uses, and
    each ``iter()`` advances it. ``set_epoch(k)`` selects epoch ``k`` (and passes it to a
    given sampler that has ``set_epoch``, such as ``DistributedSampler``), so a run
    resumed from a checkpoint replays epoch ``k``'s order exactly::

        loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
        for epoch in range(start_epoch, epochs):
            loader.set_epoch(epoch)
            for x, y in loader:  # x: (64, ...), y: (64,)
                ...

    When ``dataset`` is a ``TensorDataset`` (or a ``Subset`` of one) and ``collate_fn``
    is the default, each batch is one fancy-index per tensor instead of ``batch_size``
    calls of ``__getitem__`` followed by a stack.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.utils.data import DataLoader, TensorDataset
        >>> data = TensorDataset(cr.arange(10.0).reshape(5, 2), cr.tensor([0, 1, 0, 1, 0]))
        >>> loader = DataLoader(data, batch_size=2)
        >>> len(loader), [y.tolist() for _, y in loader]
        (3, [[0, 1], [0, 1], [0]])
        >>> x, y = next(iter(loader))
        >>> x.shape, y.shape
        (chainrule.Size([2, 2]), chainrule.Size([2]))
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ):
        _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers)
        if isinstance(dataset, IterableDataset):
            _check_iterable_options(shuffle, sampler, batch_sampler)
        shuffle = bool(shuffle)
        _check_batching_options(batch_size, shuffle, sampler, batch_sampler, drop_last)
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        self._own_sampler = sampler is None
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = RandomSampler(dataset, generator=generator, seed=seed) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn or (default_collate if self._auto_collation else default_convert)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _context(multiprocessing_context, num_workers)
        self.generator = generator
        self.prefetch_factor = (2 if prefetch_factor is None else prefetch_factor) if num_workers > 0 else None
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.seed = seed
        self.epoch = 0
        self._pool: WorkerPool | None = None
        _warn_if_too_many_workers(num_workers)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (
            isinstance(self.dataset, IterableDataset) and self.batch_size is not None
        )

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` produce epoch ``epoch`` (its order, where ``seed`` is set)."""
        if int(epoch) < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be non-negative, got {epoch}")
        self.epoch = int(epoch)
        if not self._own_sampler:
            for part in (self.sampler, self.batch_sampler):
                if hasattr(part, "set_epoch"):
                    part.set_epoch(self.epoch)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.set_epoch(state["epoch"])

    def __len__(self) -> int:
        """The number of batches per epoch (for an IterableDataset, from ``len(dataset)``)."""
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self) -> Iterator:
        epoch = self.epoch
        if self._own_sampler and isinstance(self.sampler, RandomSampler):
            self.sampler.set_epoch(epoch)
        self.epoch += 1
        # Fix the epoch's order now, not at the first next(), so that it does not depend
        # on when iteration starts relative to other draws.
        tasks = self._epoch_tasks()
        base_seed = self._base_seed(epoch)
        if self.num_workers == 0:
            return self._single_process(tasks)
        if not self.persistent_workers:
            return WorkerPool(self, base_seed).epoch_batches(tasks, self.prefetch_factor, self.timeout, owns_pool=True)
        if self._pool is None or not self._pool.alive:
            self._pool = WorkerPool(self, base_seed)
        return self._pool.epoch_batches(tasks, self.prefetch_factor, self.timeout, owns_pool=False)

    def _epoch_tasks(self) -> Iterator:
        """What to fetch, batch by batch: index arrays or lists, single indices, or None (an iterable's next batch)."""
        if isinstance(self.dataset, IterableDataset):
            return itertools.repeat(None)
        if isinstance(self.batch_sampler, BatchSampler) and type(self.batch_sampler).__iter__ is BatchSampler.__iter__:
            return self.batch_sampler.batches()
        if self.batch_sampler is not None:
            return iter(self.batch_sampler)
        if isinstance(self.sampler, Sampler):
            return flatten_chunks(epoch_chunks(self.sampler))
        return iter(self.sampler)

    def _base_seed(self, epoch: int) -> int:
        """The seed the workers' seeds derive from, drawn every epoch as PyTorch does (so with or without
        workers the generator advances alike); with ``seed`` a function of ``(seed, epoch)``."""
        if self.seed is not None:
            return int(np.random.SeedSequence([self.seed, epoch, 1]).generate_state(1, np.uint64)[0] >> 1)
        return int(random.numpy_generator(self.generator).integers(2**63))

    def _single_process(self, tasks: Iterator) -> Iterator:
        fetcher = make_fetcher(self.dataset, self.batch_size, self._auto_collation, self.collate_fn, self.drop_last)
        for task in tasks:
            try:
                batch = fetcher.fetch(task)
            except StopIteration:
                return
            yield batch

    def __repr__(self) -> str:
        size = (
            f" of {len(self.dataset)}"
            if hasattr(type(self.dataset), "__len__") and not isinstance(self.dataset, IterableDataset)
            else ""
        )
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}{size}, batch_size={self.batch_size}, "
            f"sampler={type(self.sampler).__name__}, drop_last={self.drop_last}, num_workers={self.num_workers})"
        )


def _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers) -> None:
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(
            f"DataLoader: num_workers option should be a non-negative integer, got {num_workers!r}; "
            "use num_workers=0 to disable multiprocessing"
        )
    if timeout < 0:
        raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError(
            "DataLoader: prefetch_factor option could only be specified in multiprocessing; "
            "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None"
        )
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError(f"DataLoader: prefetch_factor option should be non-negative, got {prefetch_factor}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")


def _check_batching_options(batch_size, shuffle: bool, sampler, batch_sampler, drop_last) -> None:
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle (the sampler sets the order)")
    if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
        raise ValueError(
            "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last"
        )
    if batch_sampler is None and batch_size is None and drop_last:
        raise ValueError(
            "DataLoader: batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
        )


def _check_iterable_options(shuffle, sampler, batch_sampler) -> None:
    if shuffle not in (False, None):
        raise ValueError(
            f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}"
        )
    if sampler is not None:
        raise ValueError(
            f"DataLoader with IterableDataset: expected unspecified sampler option, but got sampler={sampler}"
        )
    if batch_sampler is not None:
        raise ValueError(
            f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
            f"but got batch_sampler={batch_sampler}"
        )


def _context(context, num_workers: int):
    """``multiprocessing_context`` as a context object (None: the default), checked as PyTorch does."""
    if context is None:
        return None
    if num_workers == 0:
        raise ValueError(
            "DataLoader: multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
            f"but got num_workers={num_workers}"
        )
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(
                f"DataLoader: multiprocessing_context option should specify a valid start method in {methods!r}, "
                f"but got multiprocessing_context={context!r}"
            )
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(
            "DataLoader: multiprocessing_context option should be a valid context object or a string naming "
            f"the start method, but got multiprocessing_context={context!r}"
        )
    return context


def _warn_if_too_many_workers(num_workers: int) -> None:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if num_workers and cpus and num_workers > cpus:
        warnings.warn(
            f"DataLoader: {num_workers} worker processes is more than the {cpus} CPUs this process may use; "
            "loading may be slower than with fewer workers",
            stacklevel=3,
        )
