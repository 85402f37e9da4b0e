"""Datasets: indexable collections of samples, and ways to combine and split them.

A dataset maps an index ``0 <= i < len(dataset)`` to one sample, usually a tuple
``(input, target)``. ``DataLoader`` turns a dataset into batches.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np

from chainrule import random
from chainrule.tensor import Tensor


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 10
        ...     def __getitem__(self, i):
        ...         return i, i * i
        >>> len(Squares() + Squares())
        20
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) to be a Dataset")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__() to be a Dataset")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])

    def _fetch_batch(self, indices: np.ndarray):
        """The collated batch for ``indices`` in one step, or None when this dataset cannot do that.

        ``DataLoader`` uses it (when no ``collate_fn`` is given) to skip the per-sample
        ``__getitem__`` + stack; the result equals collating the samples.
        """
        return None


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension.

    ``TensorDataset(x, y)[i] == (x[i], y[i])``. x: (N, ...), y: (N, ...).
    """

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorDataset: expects at least one tensor")
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        for i, t in enumerate(tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d (a scalar); every tensor needs a first dimension")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            shapes = ", ".join(f"tensor {i}: {tuple(t.shape)}" for i, t in enumerate(tensors))
            raise ValueError(
                f"TensorDataset: size mismatch between tensors: all must have the same size in dim 0, "
                f"got sizes {sizes} ({shapes})"
            )
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def _fetch_batch(self, indices: np.ndarray) -> tuple[Tensor, ...] | None:
        if any(t.requires_grad for t in self.tensors):
            return None  # per-sample indexing keeps the graph
        # One fancy-index per tensor: a copy, as collating samples would make.
        return tuple(Tensor._wrap(_take_rows(t._data, indices)) for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in self.tensors)
        return f"TensorDataset({shapes})"


def _take_rows(array, indices: np.ndarray):
    if type(array) is not np.ndarray:  # CuPy: move the indices to the array's device
        from chainrule.backend import array_module

        indices = array_module(array).asarray(indices)
    return array[indices]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [-{n}, {n}) for a dataset of length {n}, "
                f"got values from {self.indices.min()} to {self.indices.max()}"
            )

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self.indices[index]]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def _fetch_batch(self, indices: np.ndarray):
        return self.dataset._fetch_batch(self.indices[indices]) if isinstance(self.dataset, Dataset) else None


class ConcatDataset(Dataset):
    """The samples of several datasets, one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expects at least one dataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = int(index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for a dataset of length {n}")
        if index < 0:
            index += n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: np.random.Generator | None = None,
    seed: int | None = None,
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1
    (each gets ``floor(fraction * len)`` samples and the remainder is dealt one by
    one, round-robin, as PyTorch does). The permutation is drawn from ``generator``,
    else from a generator seeded with ``seed``, else from chainrule's global
    generator (so ``cr.manual_seed`` makes it reproducible).

    Example:
        >>> import chainrule as cr
        >>> dataset = TensorDataset(cr.randn(100, 3), cr.arange(100))
        >>> train, val = random_split(dataset, [0.9, 0.1], seed=0)
        >>> len(train), len(val)
        (90, 10)
    """
    n = len(dataset)
    lengths = _split_lengths(list(lengths), n)
    if generator is None and seed is not None:
        generator = np.random.default_rng(seed)
    order = random.permutation(n, generator=generator)
    bounds = np.cumsum([0, *lengths])
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]


def _split_lengths(lengths: list, n: int) -> list[int]:
    if any(x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if all(isinstance(x, (int, np.integer)) for x in lengths):
        if sum(lengths) != n:
            raise ValueError(
                f"random_split: the lengths {lengths} sum to {sum(lengths)}, not to the dataset's length {n}"
            )
        return [int(x) for x in lengths]
    if not math.isclose(sum(lengths), 1.0, abs_tol=1e-6) or any(x > 1 for x in lengths):
        raise ValueError(
            f"random_split: lengths {lengths} must be integer counts summing to {n} or fractions summing to 1"
        )
    counts = [math.floor(n * x) for x in lengths]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts
