"""Running sums of loss and accuracy, kept on the device so that a batch costs no host sync, and a JSON-lines log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from chainrule.tensor import Tensor


def correct_predictions(output, target):
    """How many rows of ``output`` predict ``target`` (an array, not yet a Python int), or None for regression.

    output: (N, C) logits (prediction = argmax) or (N,) / (N, 1) binary scores
    (prediction = score > 0, compared with target > 0, so labels may be 0/1 or -1/+1).
    target: (N,) integer labels. Float targets mean regression: no accuracy.
    Takes raw arrays (NumPy or CuPy).
    """
    if target.dtype.kind not in "iub":
        return None
    if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        return ((output.reshape(-1) > 0) == (target.reshape(-1) > 0)).sum()
    return (output.argmax(axis=1) == target).sum()


def predicted_classes(output: Tensor) -> Tensor:
    """Class indices from a model's output: argmax of (N, C) logits, or score > 0 for (N,) / (N, 1) scores."""
    if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        return (output.reshape(-1) > 0).long()
    return output.argmax(dim=1)


def record_score(record: dict) -> float:
    """How good an epoch's record is, higher better: test accuracy, else minus test loss, else minus training loss."""
    for key, sign in (("test_accuracy", 1.0), ("test_loss", -1.0), ("loss", -1.0)):
        value = record.get(key)
        if value is not None:
            value = sign * float(value)
            return value if value == value else float("-inf")  # NaN: the worst
    return float("-inf")


def is_best(history: list[dict]) -> bool:
    """Whether the last record of ``history`` scores strictly above every earlier one (see ``record_score``)."""
    if not history:
        return False
    last = record_score(history[-1])
    return all(last > record_score(record) for record in history[:-1])


class RunningMetrics:
    """Sums of loss * batch size, correct predictions and samples over some batches.

    ``add`` works on the device arrays; only reading ``loss`` or ``accuracy``
    converts to Python numbers (a sync on a GPU), so do that at report points.
    """

    def __init__(self, loss_sum: float = 0.0, correct: int | None = 0, samples: int = 0):
        self._loss_sum: Any = loss_sum
        self._correct: Any = correct
        self.samples = samples

    def add(self, loss: Tensor | None, output: Tensor, target: Tensor) -> None:
        """Count one batch; ``loss`` is its mean loss (None: track accuracy only)."""
        n = len(target)
        if loss is not None:
            # float64 so that a long epoch's sum keeps its digits; it stays a device scalar
            self._loss_sum = self._loss_sum + loss._data.astype("float64") * n
        right = correct_predictions(output._data, target._data)
        self._correct = None if right is None or self._correct is None else self._correct + right
        self.samples += n

    @property
    def loss_sum(self) -> float:
        return float(self._loss_sum)

    @property
    def loss(self) -> float:
        return float(self._loss_sum) / self.samples if self.samples else float("nan")

    @property
    def correct(self) -> int | None:
        return None if self._correct is None else int(self._correct)

    @property
    def accuracy(self) -> float | None:
        """The fraction of correct predictions (0..1), or None for regression targets."""
        if self._correct is None or not self.samples:
            return None
        return int(self._correct) / self.samples

    def state_dict(self) -> dict:
        return {"loss_sum": self.loss_sum, "correct": self.correct, "samples": self.samples}

    @classmethod
    def from_state(cls, state: dict) -> RunningMetrics:
        return cls(state["loss_sum"], state["correct"], state["samples"])


class MetricsLog:
    """Appends one JSON object per line to ``path`` (``metrics.jsonl``), flushed after each line.

    Lines are dicts with an ``"event"`` key: "epoch", "batch", "resume" or "interrupt".
    Read them back with ``MetricsLog.read(path)``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def write(self, record: dict) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    @staticmethod
    def read(path: str | os.PathLike) -> list[dict]:
        with open(path, encoding="utf-8") as file:
            return [json.loads(line) for line in file if line.strip()]
