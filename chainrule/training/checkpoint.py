"""Training checkpoints on disk: their names, the latest one in a folder, and their format.

A checkpoint is one ``cr.save`` file (safetensors plus a JSON sidecar, written
atomically) holding everything a run needs to continue bit for bit; see
``Trainer.state_dict`` for its keys. Names sort by progress:

- ``checkpoint-epoch003.safetensors``: after 3 complete epochs;
- ``checkpoint-epoch003-batch0120.safetensors``: 3 epochs and 120 batches of the
  4th (written when a run is interrupted);
- ``checkpoint-best.safetensors``: a copy of the best epoch's (``keep_best``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from chainrule.serialization import load, save, sidecar_path

FORMAT = "chainrule.training/1"
BEST_CHECKPOINT = "checkpoint-best.safetensors"  # the best epoch's (Trainer's keep_best); not in list_checkpoints
_NAME = re.compile(r"^checkpoint-epoch(\d+)(?:-batch(\d+))?\.safetensors$")


def checkpoint_name(epoch: int, batch: int = 0) -> str:
    """The file name of a checkpoint after ``epoch`` complete epochs and ``batch`` batches of the next."""
    return f"checkpoint-epoch{epoch:03d}" + (f"-batch{batch:04d}" if batch else "") + ".safetensors"


def checkpoint_progress(path: str | os.PathLike) -> tuple[int, int] | None:
    """(epochs, batches) from a checkpoint's file name, or None if it is not one of ours."""
    match = _NAME.match(Path(path).name)
    return None if match is None else (int(match.group(1)), int(match.group(2) or 0))


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The checkpoints in ``directory``, oldest (least progress) first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = [(checkpoint_progress(p), p) for p in folder.iterdir() if checkpoint_progress(p) is not None]
    return [path for _, path in sorted(found)]


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The checkpoint of ``directory`` with the most progress, or None."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """``path`` itself if it is a file, else the latest checkpoint in that folder; FileNotFoundError if none."""
    path = Path(path)
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is None:
            raise FileNotFoundError(f"no checkpoint-*.safetensors in {path}")
        return latest
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """Write a training state (``Trainer.state_dict()``) to ``path`` atomically, with its sidecar."""
    save({"format": FORMAT, **state}, path)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by ``save_checkpoint`` (a file, or a folder: its latest checkpoint)."""
    path = resolve_checkpoint(path)
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a chainrule training checkpoint (no format {FORMAT!r} in it)")
    return state


def remove_checkpoint(path: str | os.PathLike) -> None:
    Path(path).unlink(missing_ok=True)
    sidecar_path(path).unlink(missing_ok=True)
