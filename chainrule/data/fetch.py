"""Fetchers: turn one task of a DataLoader (a batch's indices, one index, or "the next
batch" of a stream) into the batch itself. The same fetcher runs in the main
process (``num_workers=0``) and in each worker process, so both give the same batches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from chainrule.data.collate import default_collate
from chainrule.data.dataset import Dataset, IterableDataset


class MapFetcher:
    """Batches of a map-style dataset.

    With auto-collation a task is a batch's indices (an int64 array or a list) and
    the result is ``collate_fn([dataset[i] for i in indices])``; with
    ``default_collate`` and a dataset that can index whole batches
    (``Dataset._fetch_batch``, e.g. a ``TensorDataset``) that is one fancy-index per
    tensor instead. Without auto-collation a task is one index and the result is
    ``collate_fn(dataset[index])``. ``current`` is the index being fetched, for
    error messages.
    """

    def __init__(self, dataset, auto_collation: bool, collate_fn: Callable):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.whole_batches = auto_collation and collate_fn is default_collate and isinstance(dataset, Dataset)
        self.current = None

    def fetch(self, task):
        if not self.auto_collation:
            self.current = task
            return self.collate_fn(self.dataset[task])
        if self.whole_batches:
            batch = self._fetch_whole_batch(task)
            if batch is not None:
                return batch
        indices = task.tolist() if isinstance(task, np.ndarray) else task
        samples = []
        for index in indices:
            self.current = index
            samples.append(self.dataset[index])
        self.current = indices
        return self.collate_fn(samples)

    def _fetch_whole_batch(self, task):
        indices = np.asarray(task)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            return None
        self.current = task
        batch = self.dataset._fetch_batch(indices.astype(np.int64, copy=False))
        if batch is None:
            self.whole_batches = False  # this dataset cannot index whole batches; stop asking
        return batch


class IterableFetcher:
    """Batches of an iterable dataset: each ``fetch`` takes the next ``batch_size`` samples
    of the stream (or the next sample when ``batch_size`` is None) and raises
    ``StopIteration`` when the stream is done (a short last batch is dropped with ``drop_last``).
    """

    def __init__(self, dataset: IterableDataset, batch_size: int | None, collate_fn: Callable, drop_last: bool):
        self.stream = iter(dataset)
        self.batch_size = batch_size
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False
        self.current = "the next sample of the IterableDataset"

    def fetch(self, task=None):
        if self.ended:
            raise StopIteration
        if self.batch_size is None:
            return self.collate_fn(next(self.stream))
        samples = []
        for sample in self.stream:
            samples.append(sample)
            if len(samples) == self.batch_size:
                break
        if len(samples) < self.batch_size:
            self.ended = True
            if not samples or self.drop_last:
                raise StopIteration
        return self.collate_fn(samples)


def make_fetcher(dataset, batch_size: int | None, auto_collation: bool, collate_fn: Callable, drop_last: bool):
    """The fetcher for ``dataset``: a new one restarts an iterable dataset's stream."""
    if isinstance(dataset, IterableDataset):
        return IterableFetcher(dataset, batch_size if auto_collation else None, collate_fn, drop_last)
    return MapFetcher(dataset, auto_collation, collate_fn)
