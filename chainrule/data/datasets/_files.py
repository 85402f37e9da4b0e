"""Files on disk: the cache directory, checksums, and atomic writes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from chainrule.serialization import atomic_open


class ChecksumError(RuntimeError):
    """A file's sha256 differs from the one it must have: it is corrupt or not the expected file."""


def cache_dir(root: str | os.PathLike | None = None) -> Path:
    """``root`` if given, else ``$CHAINRULE_DATA``, else ``~/.cache/chainrule``."""
    if root is None:
        root = os.environ.get("CHAINRULE_DATA") or Path.home() / ".cache" / "chainrule"
    return Path(root).expanduser()


def sha256_of(*chunks) -> str:
    """The sha256 of the concatenated byte chunks (bytes or contiguous arrays, hashed without copying)."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(memoryview(np.ascontiguousarray(chunk)) if isinstance(chunk, np.ndarray) else chunk)
    return digest.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(actual: str, expected: str, what: str, advice: str = "") -> None:
    """Raise ChecksumError naming ``what`` unless the digests agree."""
    if actual != expected:
        raise ChecksumError(
            f"{what}: sha256 mismatch (expected {expected}, got {actual}); the file is corrupt or not the "
            f"expected one, so it was refused" + (f". {advice}" if advice else "")
        )


def save_npz_atomic(path: Path, **arrays: np.ndarray) -> None:
    """Write a compressed .npz so that ``path`` is either absent or complete, even if interrupted."""
    with atomic_open(path) as stream:
        np.savez_compressed(stream, **arrays)
