"""chainrule.utils.data against torch.utils.data: batches, samplers, collation, and worker processes.

Deterministic behaviour (which samples form which batch, len, drop_last, the
DistributedSampler partition, collation) is compared with PyTorch's own
DataLoader; random orders are checked by their properties and reproducibility;
worker processes by order equality with ``num_workers=0``, error reporting, and
``multiprocessing.active_children()`` being empty afterwards.
"""

from __future__ import annotations

import doctest
import importlib
import multiprocessing
import os
import signal
import time
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from harness import needs_torch, torch

import chainrule as cr
import chainrule.data
import chainrule.utils.data as crdata
from chainrule.utils.data.distributed import DistributedSampler

Point = namedtuple("Point", "x y")


# --------------------------------------------------------------------------- datasets used below
class Indices(crdata.Dataset):
    """Sample i is i (a Python int): a batch shows which samples it holds."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} out of range")
        return i


class TorchIndices(torch.utils.data.Dataset if torch is not None else object):
    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


class SlowSamples(crdata.Dataset):
    """A dataset whose __getitem__ is slow Python: (features, index, worker id, pid, random draws)."""

    def __init__(self, n: int = 48, delay: float = 0.002, fail_at: int | None = None, hang_at: int | None = None):
        self.n, self.delay, self.fail_at, self.hang_at = n, delay, fail_at, hang_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        time.sleep(self.delay)
        if i == self.fail_at:
            raise ValueError(f"sample {i} is corrupt")
        if i == self.hang_at:
            time.sleep(60)
        info = crdata.get_worker_info()
        worker = -1 if info is None else info.id
        return {"x": np.full(3, i, np.float32), "index": i, "worker": worker, "pid": os.getpid()}


class Shards(crdata.IterableDataset):
    """range(n), each worker taking every num_workers-th item from its id on (torch's recipe)."""

    def __init__(self, n: int):
        self.n = n

    def __iter__(self):
        info = crdata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


if torch is not None:

    class TorchShards(torch.utils.data.IterableDataset):
        def __init__(self, n: int):
            self.n = n

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            start, step = (0, 1) if info is None else (info.id, info.num_workers)
            return iter(range(start, self.n, step))

        def __len__(self):
            return self.n


def plain(value):
    """Nested Python values with tensors as (dtype name, shape, values), for comparing the two libraries."""
    if torch is not None and isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype).removeprefix("torch."), tuple(value.shape), value.tolist())
    if isinstance(value, cr.Tensor):
        return ("tensor", str(value.dtype), tuple(value.shape), value.tolist())
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, *map(plain, value))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [plain(v) for v in value])
    if isinstance(value, dict):
        return (type(value).__name__, {k: plain(v) for k, v in value.items()})
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.name, value.tolist())
    return (type(value).__name__, value)


def no_children_left():
    for _ in range(50):  # a terminated process may take a moment to be reaped
        if not multiprocessing.active_children():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(autouse=True)
def _no_leftover_workers():
    yield
    assert no_children_left(), f"worker processes left behind: {multiprocessing.active_children()}"


# --------------------------------------------------------------------------- the module surface
def test_utils_data_is_the_data_package_under_torchs_names():
    import chainrule.utils.data.dataloader as dataloader
    import chainrule.utils.data.dataset as dataset
    import chainrule.utils.data.sampler as sampler

    assert cr.utils.data is crdata and crdata.DataLoader is cr.data.DataLoader
    assert crdata.distributed.DistributedSampler is DistributedSampler is cr.data.DistributedSampler
    for module in (dataloader, dataset, sampler):
        for name in module.__all__:
            assert getattr(module, name) is getattr(crdata, name)
    if torch is not None:  # every public name of torch.utils.data we mean to cover is here
        covered = {name for name in torch.utils.data.__all__ if "DataPipe" not in name and not name.startswith("_")}
        covered -= {
            "DataChunk",
            "argument_validation",
            "functional_datapipe",
            "guaranteed_datapipes_determinism",
            "non_deterministic",
            "runtime_validation",
            "runtime_validation_disabled",
        }
        assert covered <= set(crdata.__all__)
        assert set(torch.utils.data.sampler.__all__) <= set(sampler.__all__)
        assert set(torch.utils.data.dataset.__all__) <= set(dataset.__all__)


@pytest.mark.parametrize("module", ["collate", "dataset", "sampler", "dataloader", "worker"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"chainrule.data.{module}"))
    assert result.failed == 0


# --------------------------------------------------------------------------- batches, compared with torch
LOADER_CASES = [
    dict(batch_size=4),
    dict(batch_size=4, drop_last=True),
    dict(batch_size=5, drop_last=True),
    dict(batch_size=30),
    dict(batch_size=None),
    dict(batch_size=3, sampler=[9, 8, 7, 1, 0]),
    dict(batch_size=2, sampler="sequential"),
    dict(batch_sampler=[[1, 2], [5], [7, 0, 3]]),
    dict(batch_sampler="batch-sampler"),
    dict(batch_size=4, collate_fn=lambda batch: [-i for i in batch]),
    dict(batch_size=None, collate_fn=lambda i: i * 10),
]


def _build(lib, n, options):
    """A loader of ``lib`` over samples 0..n-1 for one LOADER_CASES entry."""
    options = dict(options)
    dataset = Indices(n) if lib is crdata else TorchIndices(n)
    if options.get("sampler") == "sequential":
        options["sampler"] = lib.SequentialSampler(dataset)
    if options.get("batch_sampler") == "batch-sampler":
        options["batch_sampler"] = lib.BatchSampler(lib.SequentialSampler(dataset), 3, drop_last=False)
    return lib.DataLoader(dataset, **options)


@needs_torch
@pytest.mark.parametrize("n", [10, 12])
@pytest.mark.parametrize("options", LOADER_CASES, ids=str)
def test_batches_and_len_match_torch(n, options):
    ours, theirs = _build(crdata, n, options), _build(torch.utils.data, n, options)
    assert len(ours) == len(theirs)
    assert [plain(b) for b in ours] == [plain(b) for b in theirs]


@needs_torch
@pytest.mark.parametrize("options", [dict(batch_size=5), dict(batch_size=5, drop_last=True), dict(batch_size=None)])
@pytest.mark.parametrize("num_workers", [0, 2])
def test_iterable_dataset_batches_match_torch(options, num_workers):
    ours = crdata.DataLoader(Shards(23), num_workers=num_workers, **options)
    theirs = torch.utils.data.DataLoader(TorchShards(23), num_workers=num_workers, **options)
    expected = [plain(b) for b in theirs]
    assert [plain(b) for b in ours] == expected
    assert len(ours) == len(theirs)


@needs_torch
@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)])
def test_batch_sampler_lists_match_torch(n, batch_size, drop_last):
    for make in (lambda lib: lib.SequentialSampler(range(n)), lambda lib: range(n), lambda lib: iter("abcdefghij"[:n])):
        ours = list(crdata.BatchSampler(make(crdata), batch_size, drop_last))
        theirs = list(torch.utils.data.BatchSampler(make(torch.utils.data), batch_size, drop_last))
        assert ours == theirs
    assert len(crdata.BatchSampler(range(n), batch_size, drop_last)) == len(
        torch.utils.data.BatchSampler(range(n), batch_size, drop_last)
    )


@needs_torch
@pytest.mark.parametrize(
    "options",
    [
        dict(shuffle=True, sampler=[0, 1]),
        dict(batch_sampler=[[0]], batch_size=2),
        dict(batch_sampler=[[0]], shuffle=True),
        dict(batch_sampler=[[0]], drop_last=True),
        dict(batch_size=None, drop_last=True),
        dict(num_workers=-1),
        dict(timeout=-1),
        dict(prefetch_factor=2),
        dict(persistent_workers=True),
        dict(multiprocessing_context="fork"),
        dict(num_workers=1, multiprocessing_context="no-such-method"),
        dict(num_workers=1, multiprocessing_context=3),
        dict(batch_size=0),
    ],
    ids=str,
)
def test_option_errors_match_torch(options):
    with pytest.raises(Exception) as theirs:
        torch.utils.data.DataLoader(TorchIndices(4), **options)
    with pytest.raises(type(theirs.value)) as ours:
        crdata.DataLoader(Indices(4), **options)
    assert "DataLoader" in str(ours.value) or "BatchSampler" in str(ours.value)


@needs_torch
@pytest.mark.parametrize("options", [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])], ids=str)
def test_iterable_dataset_option_errors_match_torch(options):
    with pytest.raises(ValueError, match="IterableDataset"):
        torch.utils.data.DataLoader(TorchShards(3), **options)
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified"):
        crdata.DataLoader(Shards(3), **options)


# --------------------------------------------------------------------------- collation, compared with torch
COLLATE_CASES = {
    "ints": [1, 2, 3],
    "floats": [0.5, 1.5],
    "bools": [True, False],
    "mixed-numbers": [1, 2.5],
    "numpy-arrays": [np.arange(6, dtype=np.int32).reshape(2, 3), np.ones((2, 3), np.int32)],
    "numpy-float64": [np.zeros(2), np.ones(2)],
    "numpy-scalars": [np.float32(1.5), np.float32(2)],
    "numpy-int-scalars": [np.int16(1), np.int16(-2)],
    "strings": ["a", "b"],
    "tuples": [(1, 2.0, "a"), (3, 4.0, "b")],
    "lists": [[1, 2], [3, 4]],
    "dicts": [{"x": np.zeros(2, np.float32), "y": 1}, {"x": np.ones(2, np.float32), "y": 0}],
    "ordered-dicts": [OrderedDict(a=1, b=2.0), OrderedDict(a=3, b=4.0)],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
    "nested": [{"pair": (np.zeros(1), [1, 2])}, {"pair": (np.ones(1), [3, 4])}],
}


@needs_torch
@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_collate_matches_torch(name):
    batch = COLLATE_CASES[name]
    assert plain(crdata.default_collate(batch)) == plain(torch.utils.data.default_collate(batch))


@needs_torch
def test_default_collate_stacks_tensors_like_torch():
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3) + i for i in range(3)]
    ours = crdata.default_collate([(cr.tensor(a), cr.tensor(i)) for i, a in enumerate(arrays)])
    theirs = torch.utils.data.default_collate([(torch.tensor(a), torch.tensor(i)) for i, a in enumerate(arrays)])
    assert plain(ours) == plain(theirs)


@needs_torch
@pytest.mark.parametrize(
    "sample",
    [
        np.arange(3),
        np.float64(2.0),
        5,
        "s",
        (np.zeros(2), 1),
        [np.ones(1), "a"],
        {"k": np.int8(3)},
        Point(np.ones(2), 2),
    ],
    ids=str,
)
def test_default_convert_matches_torch(sample):
    assert plain(crdata.default_convert(sample)) == plain(torch.utils.data.default_convert(sample))


@needs_torch
@pytest.mark.parametrize(
    "batch",
    [[object(), object()], [np.array(["a"]), np.array(["b"])], [(1, 2), (3,)]],
    ids=["objects", "string-arrays", "ragged-tuples"],
)
def test_default_collate_errors_match_torch(batch):
    with pytest.raises(Exception) as theirs:
        torch.utils.data.default_collate(batch)
    with pytest.raises(type(theirs.value), match="default_collate"):
        crdata.default_collate(batch)


# --------------------------------------------------------------------------- datasets
@needs_torch
def test_dataset_combinators_match_torch():
    a, b = [10, 11, 12], [20, 21, 22]
    assert list(crdata.StackDataset(a, b)) == list(torch.utils.data.StackDataset(a, b))
    assert crdata.StackDataset(x=a, y=b)[1] == torch.utils.data.StackDataset(x=a, y=b)[1]
    with pytest.raises(ValueError, match="size mismatch"):
        crdata.StackDataset(a, [1])
    chained = crdata.ChainDataset([Shards(3), Shards(2)])
    assert list(chained) == list(torch.utils.data.ChainDataset([TorchShards(3), TorchShards(2)]))
    assert len(chained) == 5 and list(Shards(2) + Shards(1)) == [0, 1, 0]
    with pytest.raises(TypeError, match="IterableDataset"):
        crdata.ConcatDataset([Indices(2), Shards(2)])
    with pytest.raises(TypeError, match="IterableDataset"):
        crdata.ChainDataset([Indices(2)])


@needs_torch
@pytest.mark.parametrize("lengths", [[0.7, 0.2, 0.1], [0.5, 0.5], [3, 7], [1.0]], ids=str)
def test_random_split_sizes_match_torch(lengths):
    ours = crdata.random_split(Indices(10), lengths, generator=cr.Generator().manual_seed(0))
    theirs = torch.utils.data.random_split(TorchIndices(10), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    again = crdata.random_split(Indices(10), lengths, generator=cr.Generator().manual_seed(0))
    assert [list(p) for p in ours] == [list(p) for p in again]
    assert sorted(i for p in ours for i in p) == list(range(10))


# --------------------------------------------------------------------------- samplers
def test_random_sampler_is_lazy_for_huge_num_samples():
    sampler = crdata.RandomSampler(Indices(7), replacement=True, num_samples=int(1e10))
    assert len(sampler) == 10**10
    start = time.perf_counter()
    first = [next(it) for it in [iter(sampler)] for _ in range(10_000)]
    assert time.perf_counter() - start < 1.0 and set(first) == set(range(7))
    batches = crdata.DataLoader(Indices(7), batch_size=1000, sampler=sampler)
    assert len(batches) == 10**7 and next(iter(batches)).shape == (1000,)


@needs_torch
@pytest.mark.parametrize("n, num_samples", [(5, 12), (5, 3), (6, 6)])
def test_random_sampler_without_replacement_takes_whole_permutations(n, num_samples):
    draws = list(crdata.RandomSampler(range(n), num_samples=num_samples, generator=cr.Generator().manual_seed(0)))
    assert len(draws) == num_samples == len(torch.utils.data.RandomSampler(range(n), num_samples=num_samples))
    for start in range(0, num_samples - num_samples % n, n):
        assert sorted(draws[start : start + n]) == list(range(n))  # each full pass is a permutation
    assert len(set(draws[num_samples - num_samples % n :])) == num_samples % n


@needs_torch
@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.RandomSampler([], num_samples=None),
        lambda lib: lib.RandomSampler(range(3), num_samples=0),
        lambda lib: lib.RandomSampler(range(3), replacement=1),
        lambda lib: lib.WeightedRandomSampler([1.0, 2.0], num_samples=0),
        lambda lib: lib.WeightedRandomSampler([[1.0, 2.0]], num_samples=1),
        lambda lib: lib.BatchSampler(range(3), batch_size=2, drop_last=None),
    ],
)
def test_sampler_argument_errors_match_torch(make):
    with pytest.raises(Exception) as theirs:
        make(torch.utils.data)
    with pytest.raises(type(theirs.value)):
        make(crdata)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: crdata.RandomSampler(range(20), generator=g),
        lambda g: crdata.RandomSampler(range(20), replacement=True, num_samples=30, generator=g),
        lambda g: crdata.SubsetRandomSampler(list(range(5, 25)), generator=g),
        lambda g: crdata.WeightedRandomSampler([0.0, *range(1, 20)], 10, replacement=False, generator=g),
    ],
    ids=["random", "replacement", "subset", "weighted"],
)
def test_random_samplers_follow_their_generator(make):
    first, second = make(cr.Generator().manual_seed(3)), make(cr.Generator().manual_seed(3))
    epochs = [list(first) for _ in range(2)]
    assert epochs == [list(second) for _ in range(2)]  # the same generator state, the same orders
    assert epochs[0] != epochs[1]  # each epoch draws a new order
    cr.manual_seed(1)
    unseeded = make(None)
    global_orders = list(unseeded)
    cr.manual_seed(1)
    assert list(unseeded) == global_orders  # without a generator: the global one


def test_subset_and_weighted_samplers():
    assert sorted(crdata.SubsetRandomSampler([4, 9, 2])) == [2, 4, 9]
    draws = list(crdata.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 400, generator=cr.Generator().manual_seed(0)))
    counts = np.bincount(draws, minlength=4)
    assert counts[0] == counts[2] == 0 and 0.65 < counts[3] / 400 < 0.85
    unique = list(crdata.WeightedRandomSampler([1, 1, 0, 1], 3, replacement=False))
    assert sorted(unique) == [0, 1, 3]
    with pytest.raises(RuntimeError, match="cannot draw 4 samples without replacement from 3 non-zero weights"):
        list(crdata.WeightedRandomSampler([1, 1, 0, 1], 4, replacement=False))
    with pytest.raises(RuntimeError, match="non-negative"):
        list(crdata.WeightedRandomSampler([1, -1], 1))


def test_generic_subscripts_as_pytorch_code_writes_them():
    class Evens(crdata.Sampler[int]):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return -(-self.n // 2)

    class Squares(crdata.Dataset[tuple[int, int]]):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return i, i * i

    loader = crdata.DataLoader(Squares(), batch_size=2, sampler=Evens(5))
    assert [[t.tolist() for t in batch] for batch in loader] == [[[0, 2], [0, 4]], [[4], [16]]]


def test_subclasses_that_override_iteration_or_getitem_are_respected():
    class Reversed(crdata.SequentialSampler):
        def __iter__(self):
            return iter(reversed(range(len(self.data_source))))

    class Pairs(crdata.BatchSampler):
        def __iter__(self):
            return iter([[0, 1], [2, 3]])

    class Doubled(crdata.TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    dataset = crdata.TensorDataset(cr.arange(5), cr.arange(5))
    loader = crdata.DataLoader(dataset, batch_size=2, sampler=Reversed(dataset))
    assert [y.tolist() for _, y in loader] == [[4, 3], [2, 1], [0]]
    loader = crdata.DataLoader(dataset, batch_sampler=Pairs(crdata.SequentialSampler(dataset), 3))
    assert [y.tolist() for _, y in loader] == [[0, 1], [2, 3]]
    doubled = Doubled(cr.arange(5), cr.arange(5))
    assert [x.tolist() for x, _ in crdata.DataLoader(doubled, batch_size=3)] == [[0, 2, 4], [6, 8]]
    part = crdata.Subset(doubled, [4, 0])
    assert [x.tolist() for x, _ in crdata.DataLoader(part, batch_size=2)] == [[8, 0]]


def test_shuffling_loader_with_a_generator_is_reproducible():
    def orders(seed):
        loader = crdata.DataLoader(Indices(30), batch_size=7, shuffle=True, generator=cr.Generator().manual_seed(seed))
        return [[b.tolist() for b in loader] for _ in range(2)]

    assert orders(5) == orders(5) and orders(5) != orders(6)
    first, second = orders(5)
    assert first != second and sorted(sum(first, [])) == list(range(30))


# --------------------------------------------------------------------------- DistributedSampler
@needs_torch
@pytest.mark.parametrize("n", [10, 11, 3, 12])
@pytest.mark.parametrize("num_replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_partition_matches_torch(n, num_replicas, drop_last):
    for rank in range(num_replicas):
        ours = DistributedSampler(range(n), num_replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.distributed.DistributedSampler(
            range(n), num_replicas, rank, shuffle=False, drop_last=drop_last
        )
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)


@pytest.mark.parametrize("n, num_replicas", [(10, 3), (12, 4), (2, 3)])
def test_distributed_sampler_shuffles_per_epoch_and_shares_the_order(n, num_replicas):
    def shares(epoch, seed=0):
        samplers = [DistributedSampler(range(n), num_replicas, rank, seed=seed) for rank in range(num_replicas)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        return [list(s) for s in samplers]

    epoch0 = shares(0)
    assert shares(0) == epoch0  # every rank computes the same permutation
    assert {i for share in epoch0 for i in share} == set(range(n))  # padding repeats, nothing is lost
    assert len({len(share) for share in epoch0}) == 1
    if n > 2:
        assert shares(1) != epoch0 and shares(0, seed=1) != epoch0
        padded = [epoch0[position % num_replicas][position // num_replicas] for position in range(n)]
        assert sorted(padded) == list(range(n))  # rank r holds positions r, r + num_replicas, ...


def test_distributed_sampler_defaults_to_a_world_of_one():
    sampler = DistributedSampler(Indices(5), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (1, 0) and list(sampler) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"invalid rank 3, rank should be in the interval \[0, 2\]"):
        DistributedSampler(Indices(5), num_replicas=3, rank=3)


def test_distributed_sampler_asks_chainrule_distributed(monkeypatch):
    dist = pytest.importorskip("chainrule.distributed")
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 4)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 2)
    sampler = DistributedSampler(Indices(10), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (4, 2) and list(sampler) == [2, 6, 0]  # 0 pads to 12
    assert DistributedSampler(Indices(10), rank=0).rank == 0


def test_distributed_sampler_in_a_loader_follows_its_own_epoch():
    sampler = DistributedSampler(Indices(16), num_replicas=2, rank=1, seed=4)
    loader = crdata.DataLoader(Indices(16), batch_size=4, sampler=sampler)
    sampler.set_epoch(3)
    epoch3 = [b.tolist() for b in loader]
    assert [b.tolist() for b in loader] == epoch3  # the loader does not move the sampler's epoch
    loader.set_epoch(4)  # ... unless asked to, as a training loop does
    assert sampler.epoch == 4 and [b.tolist() for b in loader] != epoch3


# --------------------------------------------------------------------------- worker processes
def _collect(loader):
    return [(b["index"].tolist(), b["x"].numpy().tolist()) for b in loader]


@pytest.mark.parametrize(
    "options",
    [
        dict(batch_size=5, shuffle=True),
        dict(batch_size=5, shuffle=True, drop_last=True, prefetch_factor=1),
        dict(batch_size=4, sampler=crdata.RandomSampler(range(30), replacement=True, num_samples=50)),
        dict(batch_size=3, shuffle=True, seed=7),
        dict(batch_size=None),
    ],
    ids=["shuffle", "drop-last", "replacement", "seed", "unbatched"],
)
@pytest.mark.parametrize("num_workers", [1, 2])
def test_workers_give_the_same_batches_in_the_same_order(options, num_workers):
    dataset = SlowSamples(30)
    single = crdata.DataLoader(
        dataset,
        num_workers=0,
        generator=cr.Generator().manual_seed(0),
        **{k: v for k, v in options.items() if k != "prefetch_factor"},
    )
    multi = crdata.DataLoader(dataset, num_workers=num_workers, generator=cr.Generator().manual_seed(0), **options)
    if options.get("batch_size") is None:
        expected = [(b["index"], b["x"].tolist()) for b in single]
        got = [(b["index"], b["x"].tolist()) for b in multi]
    else:
        cr.manual_seed(0)  # the given sampler draws from the global generator
        expected = [_collect(single) for _ in range(2)]
        cr.manual_seed(0)
        got = [_collect(multi) for _ in range(2)]
    assert got == expected
    workers = {b["worker"].tolist()[0] if options.get("batch_size") else b["worker"] for b in multi}
    assert workers == set(range(num_workers))


@pytest.mark.filterwarnings("ignore:DataLoader.*worker processes is more than")
def test_workers_load_in_parallel():
    dataset = SlowSamples(32, delay=0.05)
    start = time.perf_counter()
    batches = _collect(crdata.DataLoader(dataset, batch_size=4, num_workers=4))
    elapsed = time.perf_counter() - start
    assert [i for indices, _ in batches for i in indices] == list(range(32))
    assert elapsed < 32 * 0.05 * 0.75  # sleeping overlaps across workers even on few cores


def test_more_workers_than_cpus_is_a_warning():
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with pytest.warns(UserWarning, match=f"{cpus + 1} worker processes is more than the {cpus} CPUs"):
        crdata.DataLoader(Indices(3), num_workers=cpus + 1)


def test_worker_error_names_worker_and_sample_and_keeps_the_traceback():
    loader = crdata.DataLoader(SlowSamples(24, fail_at=13), batch_size=4, num_workers=2)
    with pytest.raises(ValueError) as error:
        for _ in loader:
            pass
    message = str(error.value)
    assert "DataLoader worker 1 while fetching sample index 13" in message  # batch 3 (12..15) went to worker 1
    assert "Traceback (most recent call last)" in message and "sample 13 is corrupt" in message
    assert "in __getitem__" in message and error.value.worker_id == 1


def test_worker_errors_from_collate_fn_and_worker_init_fn():
    def collate(batch):
        raise KeyError("no such field")

    with pytest.raises(KeyError, match="while fetching the batch of sample indices \\[0, 1\\]") as error:
        list(crdata.DataLoader(SlowSamples(4), batch_size=2, num_workers=1, collate_fn=collate))
    assert "no such field" in str(error.value)

    def init(worker_id):
        raise OSError(f"worker {worker_id} has no disk")

    with pytest.raises(OSError, match="(?s)in worker_init_fn.*worker 0 has no disk"):
        list(crdata.DataLoader(SlowSamples(4), batch_size=2, num_workers=1, worker_init_fn=init))


def test_worker_errors_from_an_iterable_dataset():
    class BrokenStream(crdata.IterableDataset):
        def __iter__(self):
            if crdata.get_worker_info().id == 1:
                raise FileNotFoundError("shard 1 is missing")
            return self.truncated()

        def truncated(self):
            yield from range(3)
            raise ValueError("shard 0 is truncated")

    with pytest.raises(FileNotFoundError, match="(?s)worker 1 in iter\\(dataset\\).*shard 1 is missing"):
        list(crdata.DataLoader(BrokenStream(), batch_size=2, num_workers=2))
    with pytest.raises(ValueError, match="(?s)worker 0 while fetching the next sample.*shard 0 is truncated"):
        list(crdata.DataLoader(BrokenStream(), batch_size=2, num_workers=1))


def test_breaking_out_of_the_loop_stops_the_workers():
    loader = crdata.DataLoader(SlowSamples(400), batch_size=2, num_workers=2)
    start = time.perf_counter()
    for i, _ in enumerate(loader):
        if i == 3:
            break
    assert no_children_left() and time.perf_counter() - start < 5


def test_ctrl_c_in_the_main_process_stops_the_workers():
    loader = crdata.DataLoader(SlowSamples(40, hang_at=6), batch_size=2, num_workers=2)

    def ctrl_c(*_):  # what Python's SIGINT handler does (raised directly: SIGINT may be ignored in a background job)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, ctrl_c)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)  # arrives while the main process waits for batch 3
        with pytest.raises(KeyboardInterrupt):
            for _ in loader:
                pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert no_children_left()
    with pytest.raises(KeyboardInterrupt):  # and raised in the body of the loop
        for _ in crdata.DataLoader(SlowSamples(40), batch_size=2, num_workers=2):
            raise KeyboardInterrupt


def test_timeout_and_a_dying_worker_are_errors_not_hangs():
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(crdata.DataLoader(SlowSamples(8, hang_at=0), batch_size=2, num_workers=1, timeout=0.5))

    class Dies(SlowSamples):
        def __getitem__(self, i):
            os._exit(3)

    with pytest.raises(RuntimeError, match=r"worker 0 \(pid \d+\) exited unexpectedly with exit code 3"):
        list(crdata.DataLoader(Dies(4), batch_size=2, num_workers=1))


def test_worker_info_seeds_and_worker_init_fn():
    class Draws(crdata.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            info = crdata.get_worker_info()
            return [
                info.id,
                info.num_workers,
                info.seed,
                np.random.randint(2**31),
                cr.randint(0, 2**31, ()).item(),
                info.dataset.tag,
            ]

    def init(worker_id):
        crdata.get_worker_info().dataset.tag = f"configured {worker_id}"

    def run(seed):
        loader = crdata.DataLoader(
            Draws(), batch_size=None, num_workers=2, worker_init_fn=init, generator=cr.Generator().manual_seed(seed)
        )
        return list(loader)

    assert crdata.get_worker_info() is None
    first = run(0)
    assert [row[0] for row in first] == [0, 1] * 4 and {row[1] for row in first} == {2}
    assert {row[5] for row in first} == {"configured 0", "configured 1"}
    seeds = {row[0]: row[2] for row in first}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker id, as PyTorch
    numpy_draws = {row[0]: row[3] for row in first[:2]}
    chainrule_draws = {row[0]: row[4] for row in first[:2]}
    assert numpy_draws[0] != numpy_draws[1] and chainrule_draws[0] != chainrule_draws[1]
    assert run(0) == first and run(1) != first  # reproducible from the loader's generator


def test_persistent_workers_survive_epochs_and_go_with_the_loader():
    loader = crdata.DataLoader(SlowSamples(12), batch_size=3, num_workers=2, persistent_workers=True, shuffle=True)
    pids = [{p for b in loader for p in b["pid"].tolist()} for _ in range(3)]
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2
    for i, _ in enumerate(loader):  # an abandoned epoch does not leak into the next
        if i == 1:
            break
    assert sorted(i for b in loader for i in b["index"].tolist()) == list(range(12))
    older = iter(loader)
    next(older)
    newer = iter(loader)
    with pytest.raises(RuntimeError, match="a newer iteration over this loader's persistent workers"):
        next(older)
    assert sorted(i for b in newer for i in b["index"].tolist()) == list(range(12))
    assert len(multiprocessing.active_children()) == 2
    del loader, older, newer  # the last references to the workers
    assert no_children_left()


def test_spawned_workers_and_tensor_datasets():
    dataset = crdata.TensorDataset(cr.arange(10).float(), cr.arange(10))
    loader = crdata.DataLoader(dataset, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert [y.tolist() for _, y in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_pin_memory_is_accepted_and_changes_nothing():
    loader = crdata.DataLoader(Indices(5), batch_size=2, pin_memory=True)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4]]
