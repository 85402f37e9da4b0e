"""DataLoader: iterate over a dataset in (optionally shuffled) batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from chainrule.data.collate import default_collate
from chainrule.data.dataset import Dataset
from chainrule.data.sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Batches of ``dataset``, one pass (epoch) per ``iter()``.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch; the last batch is shorter unless ``drop_last``.
        shuffle: visit the samples in a new random order every epoch.
        drop_last: drop the last batch when it is short.
        seed: makes shuffling reproducible and resumable: epoch ``e`` uses a generator
            derived from ``(seed, e)`` alone (see ``chainrule.data.sampler.epoch_generator``).
            Without a seed, shuffling draws from chainrule's global generator, so
            ``cr.manual_seed`` makes a whole run reproducible.
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        sampler: the order of indices (instead of ``shuffle``).
        batch_sampler: yields lists of indices (instead of ``batch_size``, ``shuffle``,
            ``sampler`` and ``drop_last``).
        generator: a ``np.random.Generator`` to shuffle with (instead of the global one).
        num_workers, pin_memory: accepted for PyTorch compatibility; loading runs in
            the calling process.

    ``epoch`` counts the passes: it is the epoch number the next ``iter()`` uses, and
    each ``iter()`` advances it. ``set_epoch(k)`` selects epoch ``k``, so a run resumed
    from a checkpoint replays epoch ``k``'s order exactly::

        loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
        for epoch in range(start_epoch, epochs):
            loader.set_epoch(epoch)
            for x, y in loader:  # x: (64, ...), y: (64,)
                ...

    When ``dataset`` is a ``TensorDataset`` (or a ``Subset`` of one) and no
    ``collate_fn`` is given, each batch is one fancy-index per tensor instead of
    ``batch_size`` calls of ``__getitem__`` followed by a stack.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        collate_fn: Callable | None = None,
        sampler=None,
        batch_sampler=None,
        generator: np.random.Generator | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
    ):
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive (the sampler sets the order)")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler and drop_last"
                )
        else:
            if sampler is None:
                sampler = (
                    RandomSampler(dataset, generator=generator, seed=seed) if shuffle else SequentialSampler(dataset)
                )
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = getattr(batch_sampler, "batch_size", None)
        self.drop_last = getattr(batch_sampler, "drop_last", False)
        self.sampler = getattr(batch_sampler, "sampler", sampler)
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn
        self.seed = seed
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` produce epoch ``epoch`` (its order, where ``seed`` is set)."""
        if int(epoch) < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be non-negative, got {epoch}")
        self.epoch = int(epoch)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.set_epoch(state["epoch"])

    def __len__(self) -> int:
        """The number of batches per epoch."""
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator:
        for part in (self.sampler, self.batch_sampler):
            if hasattr(part, "set_epoch"):
                part.set_epoch(self.epoch)
        self.epoch += 1
        # Draw the epoch's order now, not at the first next(), so that it does not
        # depend on when iteration starts relative to other draws.
        if isinstance(self.batch_sampler, BatchSampler):
            batches = self.batch_sampler.batches()
        else:
            batches = iter(list(self.batch_sampler))
        return self._batches(batches)

    def _batches(self, batches: Iterator) -> Iterator:
        fetch = self.dataset._fetch_batch if self.collate_fn is None and isinstance(self.dataset, Dataset) else None
        collate = self.collate_fn or default_collate
        for indices in batches:
            if fetch is not None:
                batch = fetch(np.asarray(indices, dtype=np.int64))
                if batch is not None:
                    yield batch
                    continue
                fetch = None  # this dataset cannot fetch whole batches
            yield collate([self.dataset[int(i)] for i in indices])

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={type(self.dataset).__name__} of {len(self.dataset)}, "
            f"batch_size={self.batch_size}, sampler={type(self.sampler).__name__}, drop_last={self.drop_last})"
        )
