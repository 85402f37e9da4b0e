"""digits: 1,800 handwritten digits at 8 x 8, shipped with chainrule (no download needed).

How ``digits.npz`` was made (``python -m chainrule.data.datasets._make_digits`` rebuilds it
from the verified MNIST cache, byte-identical in content):

1. take the first 180 images of each class, in the order of the official MNIST
   training set (``build_digits``), and keep them in that order;
2. crop the central 24 x 24 pixels (MNIST centres each digit in a 20 x 20 box, so
   the 2-pixel border is nearly blank);
3. average each 3 x 3 block to get 8 x 8 and round to uint8.

``digits()`` returns ``pixel / 255`` as float32, like ``mnist()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule.data.dataset import TensorDataset
from chainrule.data.datasets._files import check_sha256, sha256_of
from chainrule.tensor import Tensor

DIGITS_FILE = Path(__file__).with_name("digits.npz")
PER_CLASS = 180
# sha256 of the images' bytes followed by the labels' bytes.
DIGITS_SHA256 = "b0867ad663f24a1494cb4c14e61927c42ad14222932c08b3cd226e14dce8c27c"


def digits(flatten: bool = False) -> TensorDataset:
    """The shipped digits: images float32 in [0, 1] of shape (1800, 1, 8, 8), or (1800, 64)
    with ``flatten=True``, and labels int64 (1800,), 180 of each digit."""
    with np.load(DIGITS_FILE, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    check_sha256(sha256_of(images, labels), DIGITS_SHA256, str(DIGITS_FILE), "Reinstall chainrule")
    inputs = np.divide(images, np.float32(255), dtype=np.float32)
    inputs = inputs.reshape(len(images), -1) if flatten else inputs.reshape(len(images), 1, 8, 8)
    return TensorDataset(Tensor._wrap(inputs), Tensor._wrap(labels.astype(np.int64)))


def build_digits(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8 x 8 digits from MNIST uint8 images (N, 28, 28) and labels (N,): uint8 (1800, 8, 8), (1800,)."""
    chosen = np.sort(np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in range(10)]))
    crops = images[chosen, 2:26, 2:26].astype(np.float64)
    small = crops.reshape(len(chosen), 8, 3, 8, 3).mean(axis=(2, 4))
    return np.round(small).astype(np.uint8), labels[chosen].astype(np.uint8)
