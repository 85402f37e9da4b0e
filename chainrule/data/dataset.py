"""Datasets: collections of samples, and ways to combine and split them.

A map-style ``Dataset`` maps an index ``0 <= i < len(dataset)`` to one sample,
usually a tuple ``(input, target)``; an ``IterableDataset`` is a stream of
samples (``__iter__``). ``DataLoader`` turns either into batches.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import numpy as np

from chainrule import random
from chainrule.backend import array_module
from chainrule.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)  # what a sample is, for annotations such as Dataset[tuple[Tensor, int]]


class Dataset(Generic[T_co]):
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
        """The batch ``default_collate`` would make of ``indices``, in one step, or None when this dataset cannot.

        ``DataLoader`` uses it (when no ``collate_fn`` is given) to skip the per-sample
        ``__getitem__`` + stack; the result equals collating the samples.
        """
        return None


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension.

    ``TensorDataset(x, y)[i] == (x[i], y[i])``. x: (N, ...), y: (N, ...).

    >>> import chainrule as cr
    >>> from chainrule.utils.data import TensorDataset
    >>> data = TensorDataset(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([0, 1]))
    >>> len(data), data[1]
    (2, (tensor([3., 4.], shape=(2,), dtype=float32), tensor(1, shape=(), dtype=int64)))
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

    def _fetch_batch(self, indices: np.ndarray) -> list[Tensor] | None:
        if any(t.requires_grad for t in self.tensors) or type(self).__getitem__ is not TensorDataset.__getitem__:
            return None  # per-sample indexing keeps the graph, or runs a subclass's own __getitem__
        # One fancy-index per tensor: a copy, as collating samples would make; a list, as collating tuples gives.
        return [Tensor._wrap(_take_rows(t._data, indices)) for t in self.tensors]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in self.tensors)
        return f"TensorDataset({shapes})"


def _take_rows(array, indices: np.ndarray):
    if type(array) is not np.ndarray:  # CuPy: move the indices to the array's device
        indices = array_module(array).asarray(indices)
    return array[indices]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> from chainrule.utils.data import Subset
    >>> subset = Subset([10, 11, 12, 13], [3, 0])
    >>> len(subset), list(subset)
    (2, [13, 10])
    """

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
        if not isinstance(self.dataset, Dataset) or type(self).__getitem__ is not Subset.__getitem__:
            return None
        return self.dataset._fetch_batch(self.indices[indices])


class StackDataset(Dataset):
    """Samples gathered from several datasets of one length: ``StackDataset(a, b)[i] == (a[i], b[i])``,
    ``StackDataset(image=a, label=b)[i] == {"image": a[i], "label": b[i]}``.

    >>> from chainrule.utils.data import StackDataset
    >>> StackDataset(image=["a", "b"], label=[0, 1])[1]
    {'image': 'b', 'label': 1}
    """

    def __init__(self, *args: Dataset, **kwargs: Dataset):
        if args and kwargs:
            raise ValueError(
                "StackDataset: supported either tuple-like (positional) or dict-like (keyword) input, not both"
            )
        parts = list(args) or list(kwargs.values())
        if not parts:
            raise ValueError("StackDataset: at least one dataset should be passed")
        lengths = [len(part) for part in parts]
        if len(set(lengths)) > 1:
            raise ValueError(f"StackDataset: size mismatch between datasets, got lengths {lengths}")
        self.datasets = args or kwargs
        self._length = lengths[0]

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __len__(self) -> int:
        return self._length


class IterableDataset(Dataset):
    """Base class of stream datasets: subclasses define ``__iter__`` (the samples, in order).

    With ``DataLoader(num_workers=N)`` each worker iterates its own copy; split the
    stream between them with ``get_worker_info()`` or every sample comes N times::

        class Numbers(IterableDataset):
            def __iter__(self):
                info = get_worker_info()  # None in the main process
                start, step = (0, 1) if info is None else (info.id, info.num_workers)
                return iter(range(start, 100, step))

    >>> from chainrule.utils.data import DataLoader, IterableDataset
    >>> class Squares(IterableDataset):
    ...     def __iter__(self):
    ...         return iter([n * n for n in range(5)])
    >>> [batch.tolist() for batch in DataLoader(Squares(), batch_size=2)]
    [[0, 1], [4, 9], [16]]
    """

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__() to be an IterableDataset")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it instead of indexing it")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is an IterableDataset and does not define __len__()")

    def __add__(self, other: IterableDataset) -> ChainDataset:
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets, one stream after the other.

    >>> from chainrule.utils.data import ChainDataset, IterableDataset
    >>> class Count(IterableDataset):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n))
    >>> list(ChainDataset([Count(2), Count(3)]))
    [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[IterableDataset]):
        self.datasets = list(datasets)
        for i, dataset in enumerate(self.datasets):
            if not isinstance(dataset, IterableDataset):
                raise TypeError(f"ChainDataset: only supports IterableDataset, dataset {i} is {type(dataset).__name__}")

    def __iter__(self) -> Iterator:
        for dataset in self.datasets:
            yield from dataset

    def __len__(self) -> int:
        return sum(len(dataset) for dataset in self.datasets)


class ConcatDataset(Dataset):
    """The samples of several datasets, one after the other.

    Index ``i`` is looked up in the dataset it falls in, by the running total of their lengths.

    >>> from chainrule.utils.data import ConcatDataset
    >>> data = ConcatDataset([[1, 2], [3, 4, 5]])
    >>> len(data), data[2], data[-1]
    (5, 3, 5)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expects at least one dataset")
        for i, dataset in enumerate(self.datasets):
            if isinstance(dataset, IterableDataset):
                raise TypeError(f"ConcatDataset: does not support IterableDataset (dataset {i}); use ChainDataset")
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
    generator=None,
    seed: int | None = None,
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1
    (each gets ``floor(fraction * len)`` samples and the remainder is dealt one by
    one, round-robin, as PyTorch does). The permutation is drawn from ``generator``
    (a ``cr.Generator``), else from a generator seeded with ``seed``, else from chainrule's global
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
