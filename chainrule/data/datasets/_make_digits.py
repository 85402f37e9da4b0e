"""Rebuild ``digits.npz`` from the verified MNIST training set: ``python -m chainrule.data.datasets._make_digits``."""

from __future__ import annotations

from chainrule.data.datasets._digits import DIGITS_FILE, DIGITS_SHA256, build_digits
from chainrule.data.datasets._files import save_npz_atomic, sha256_of
from chainrule.data.datasets._mnist import mnist_arrays


def main(root=None) -> None:
    images, labels = build_digits(*mnist_arrays("train", root=root))
    digest = sha256_of(images, labels)
    if digest != DIGITS_SHA256:
        print(f"the recipe gives new content (sha256 {digest}): update DIGITS_SHA256 in digits.py")
    save_npz_atomic(DIGITS_FILE, images=images, labels=labels)
    print(f"wrote {DIGITS_FILE} ({DIGITS_FILE.stat().st_size} bytes), sha256 of content {digest}")


if __name__ == "__main__":
    main()
