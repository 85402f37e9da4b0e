"""Atomic file writes: a file appears whole at its path, or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", permissions: int = 0o644):
    """A file to write that appears at ``path`` whole when the block ends, or not at all.

    Written to a temporary file beside ``path``, flushed to disk, then renamed
    over ``path``, and the folder flushed too (so the rename itself survives a
    power cut): readers see the old file or the new one, never a torn one, even
    if the writer is interrupted. ``mode`` is "wb" or "w" (UTF-8).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, permissions)  # mkstemp makes the file private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the system allows opening folders."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(descriptor)


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (see ``atomic_open``)."""
    with atomic_open(path) as file:
        file.write(payload)
