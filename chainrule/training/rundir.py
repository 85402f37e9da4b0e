"""A run directory's housekeeping: one writer at a time (a lock file), and no temporary files left behind.

    with RunLock("runs/mnist"):                # RunLockedError if another live run writes there
        removed = remove_stale_temporaries("runs/mnist")
        trainer.fit(10)

The lock is the file ``.lock`` in the directory, created atomically (``O_CREAT |
O_EXCL``) and holding ``{"pid", "host"}`` as JSON. A lock whose process is gone
from this host (a run killed with ``kill -9``) is stale and is taken over; one
held by a live process, or by another host (whose processes cannot be checked),
is not. The lock goes when the block ends, also on Ctrl-C or an error.

Atomic writes (``chainrule.serialization.atomic``) write ``.NAME.XXXX.tmp``
beside their target and rename it; a killed writer leaves that file behind.
Under the lock no other writer is running, so any such file is stale.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from pathlib import Path

LOCK_NAME = ".lock"
UNWRITTEN_LOCK_SECONDS = 5.0  # an empty lock file this old lost its writer between creating and writing it


class RunLockedError(RuntimeError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """The lock of run directory ``directory`` (made if missing) for this process, while in a ``with`` block."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._owner = {"pid": os.getpid(), "host": socket.gethostname()}
        self.held = False
        self._made: list[Path] = []  # the folders acquire() made, deepest first

    def acquire(self) -> RunLock:
        """Take the lock, taking over a stale one; ``RunLockedError`` naming the holder if it is live."""
        self._made = [path for path in (self.directory, *self.directory.parents) if not path.exists()]
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(50):  # another writer may take or leave the lock between two looks
            if self._create():
                self.held = True
                return self
            holder = self._read_holder()
            if holder is None:  # vanished, or just made and not yet written (or its writer died then)
                if self._age() > UNWRITTEN_LOCK_SECONDS:
                    self._take_over(None)
                time.sleep(0.02)
                continue
            if not self._is_stale(holder):
                raise RunLockedError(
                    f"{self.directory} is in use by process {holder.get('pid')} on host {holder.get('host')} "
                    f"(lock file {self.path}); wait for that run to end, choose another directory, or delete "
                    "the lock file if that run is gone"
                )
            self._take_over(holder)
        raise RunLockedError(f"{self.directory}: could not take the lock {self.path} (other writers keep taking it)")

    def release(self) -> None:
        """Remove the lock file if this process still holds it, and the folders ``acquire`` made if still empty."""
        if not self.held:
            return
        self.held = False
        if self._read_holder() == self._owner:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        for path in self._made:
            try:
                path.rmdir()
            except OSError:  # not empty: the run wrote something
                break

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    def _create(self) -> bool:
        try:
            handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(self._owner, file)
        return True

    def _take_over(self, stale: dict | None) -> None:
        """Remove the stale lock ``stale``, but not a live one another process made after we read it."""
        aside = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.stale")
        try:
            os.replace(self.path, aside)  # atomic: of two processes taking over, one gets the file
        except FileNotFoundError:
            return
        taken = _read_json(aside)
        if taken is not None and taken != stale:  # a new holder's lock: put it back
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path)
        aside.unlink(missing_ok=True)

    def _age(self) -> float:
        try:
            return time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def _read_holder(self) -> dict | None:
        return _read_json(self.path)

    def _is_stale(self, holder: dict) -> bool:
        """Whether the holder is a process of this host that no longer exists."""
        if holder.get("host") != self._owner["host"] or not isinstance(holder.get("pid"), int):
            return False
        return not _process_exists(holder["pid"])


def _read_json(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None
    return holder if isinstance(holder, dict) else None


def _process_exists(pid: int) -> bool:
    """Whether process ``pid`` runs on this host: a zombie (exited, not yet reaped) does not."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM  # exists, owned by another user
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A process whose parent died first (an MPI rank whose launcher was killed) can stay a
    # zombie where nothing reaps orphans; it still answers kill(pid, 0).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def remove_stale_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the ``.*.tmp`` files atomic writes left in ``directory`` (call it holding the lock); those removed."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        if path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


__all__ = ["LOCK_NAME", "RunLock", "RunLockedError", "remove_stale_temporaries"]
