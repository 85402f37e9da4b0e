"""What a training run shows while it runs: a tqdm bar on a terminal, plain periodic lines otherwise, or nothing.

A reporter gets ``epoch_start``, ``batch_end`` after every batch (so it must be
cheap: it reads the metrics, a host sync, only when it prints), ``epoch_end``
with the epoch's record, ``write`` for messages, and ``close``.
"""

from __future__ import annotations

import math
import sys
from typing import TextIO

from chainrule.training.metrics import RunningMetrics


def format_record(record: dict) -> str:
    """One line for an epoch's record: train and test loss and accuracy, lr, throughput, time."""
    parts = [f"epoch {record['epoch']}"]
    if record.get("loss") is not None:
        parts.append(f"loss {record['loss']:.4f}")
    if record.get("accuracy") is not None:
        parts.append(f"acc {record['accuracy']:.2%}")
    if record.get("test_loss") is not None:
        parts.append(f"test loss {record['test_loss']:.4f}")
    if record.get("test_accuracy") is not None:
        parts.append(f"test acc {record['test_accuracy']:.2%}")
    parts.append(f"lr {record['lr']:.3g}")
    parts.append(f"{record['samples_per_s']:,.0f} samples/s")
    parts.append(f"{record['time']:.1f}s")
    return "  ".join(parts)


def _postfix(metrics: RunningMetrics, elapsed: float) -> str:
    text = f"loss {metrics.loss:.4f}"
    if metrics.accuracy is not None:
        text += f"  acc {metrics.accuracy:.2%}"
    rate = metrics.samples / elapsed if elapsed > 0 else 0.0
    return text + f"  {rate:,.0f} samples/s"


class NoProgress:
    """Shows nothing (``--quiet``); messages still go to ``stream`` unless it is None."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def epoch_start(self, epoch: int, epochs: int, batches: int, done: int) -> None:
        pass

    def batch_end(self, batch: int, metrics: RunningMetrics, elapsed: float) -> None:
        pass

    def epoch_end(self, record: dict) -> None:
        pass

    def write(self, text: str) -> None:
        if self.stream is not None:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass


class LineProgress(NoProgress):
    """A line at every ``fraction`` of an epoch (10% by default), at most one per ``min_interval``
    seconds (so short epochs stay quiet), and one at each epoch's end."""

    def __init__(self, stream: TextIO | None = None, fraction: float = 0.1, min_interval: float = 1.0):
        super().__init__(stream or sys.stdout)
        self.fraction = fraction
        self.min_interval = min_interval
        self._marks: set[int] = set()
        self._header = ""
        self._batches = 0
        self._last_line = 0.0

    def epoch_start(self, epoch: int, epochs: int, batches: int, done: int) -> None:
        parts = max(1, round(1 / self.fraction))
        self._marks = {math.ceil(k * batches / parts) for k in range(1, parts)} - {0, batches}
        self._header = f"epoch {epoch}/{epochs}"
        self._batches = batches
        self._last_line = 0.0

    def batch_end(self, batch: int, metrics: RunningMetrics, elapsed: float) -> None:
        if batch in self._marks and elapsed - self._last_line >= self.min_interval:
            self._last_line = elapsed
            self.write(f"{self._header} {batch / self._batches:4.0%}  {_postfix(metrics, elapsed)}")

    def epoch_end(self, record: dict) -> None:
        self.write(format_record(record))


class BarProgress(NoProgress):
    """A tqdm bar per epoch with the running loss, accuracy and samples/s."""

    def __init__(self, tqdm, stream: TextIO | None = None):
        super().__init__(stream or sys.stdout)
        self._tqdm = tqdm
        self._bar = None
        self._every = 1

    def epoch_start(self, epoch: int, epochs: int, batches: int, done: int) -> None:
        self._bar = self._tqdm(
            total=batches, initial=done, desc=f"epoch {epoch}/{epochs}", unit="batch", file=self.stream, leave=True
        )
        self._every = max(1, batches // 50)  # refresh the numbers ~50 times an epoch: each read syncs

    def batch_end(self, batch: int, metrics: RunningMetrics, elapsed: float) -> None:
        self._bar.update(1)
        if batch % self._every == 0:
            self._bar.set_postfix_str(_postfix(metrics, elapsed), refresh=False)

    def epoch_end(self, record: dict) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.write(format_record(record))

    def write(self, text: str) -> None:
        if self._bar is not None:
            self._tqdm.write(text, file=self.stream)
        else:
            super().write(text)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def make_progress(mode: str | bool = "auto", stream: TextIO | None = None) -> NoProgress:
    """The reporter for ``mode``: "auto" (a tqdm bar if tqdm is installed and ``stream`` is a
    terminal, else lines), "bar" (ImportError without tqdm), "lines", or "none" (also False);
    True means "auto"."""
    stream = stream or sys.stdout
    if mode is True:
        mode = "auto"
    if mode in (False, None, "none"):
        return NoProgress(stream)
    if mode == "lines":
        return LineProgress(stream)
    if mode not in ("auto", "bar"):
        raise ValueError(f"progress must be 'auto', 'bar', 'lines' or 'none', got {mode!r}")
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if mode == "bar":  # asked for by name: no silent fallback
            raise ImportError(
                "progress='bar' needs tqdm, which is not installed: pip install tqdm (or 'chainrule[cli]')"
            ) from None
        tqdm = None
    if tqdm is not None and (mode == "bar" or (hasattr(stream, "isatty") and stream.isatty())):
        return BarProgress(tqdm, stream)
    return LineProgress(stream)
