"""Reusable timing helpers for the chainrule benchmarks.

The pieces every benchmark here needs:

* ``alternating_timer`` runs several named callables round-robin, so slow
  drift of the machine (thermal, other load) hits every contender alike;
* ``summarize`` / ``paired_ratio_median`` turn raw samples into min/median/max
  and a ratio that is robust to a noisy round;
* ``result_from_samples`` packs one workload's samples into a ``Result``, the
  row every benchmark module returns and ``chainrule bench`` tabulates;
* ``markdown_table`` renders rows for a terminal or a PR description;
* ``machine_load`` records how busy the machine was, so a disturbed run is
  visible in its own output.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

Timed = tuple[str, Callable[[], object]]
FRAMEWORKS = ("chainrule", "torch", "numpy")  # "numpy": the hand-written floor, where a workload has one


@dataclass(frozen=True)
class Summary:
    """Min, median and max of a list of samples (same unit as the samples)."""

    min: float
    median: float
    max: float
    n: int

    def as_dict(self) -> dict[str, float]:
        """The summary as a plain dict, for JSON output."""
        return asdict(self)


def time_once(fn: Callable[[], object], inner: int = 1) -> float:
    """Seconds per call of ``fn``, averaged over ``inner`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def alternating_timer(
    fns: Sequence[Timed],
    rounds: int,
    warmup: int = 1,
    inner: int = 1,
    disable_gc: bool = True,
) -> dict[str, list[float]]:
    """Time named callables round-robin; return seconds-per-call samples by name.

    Each round times every callable once (``inner`` calls averaged). The order
    is reversed on every other round so no callable always runs first. The
    first ``warmup`` rounds are run but discarded. With ``disable_gc`` the
    cyclic garbage collector is off while timing (as ``timeit`` does), after
    one full collection up front.
    """
    samples: dict[str, list[float]] = {name: [] for name, _ in fns}
    gc_was_enabled = gc.isenabled()
    if disable_gc:
        gc.collect()
        gc.disable()
    try:
        for r in range(warmup + rounds):
            order = fns if r % 2 == 0 else list(reversed(fns))
            for name, fn in order:
                elapsed = time_once(fn, inner)
                if r >= warmup:
                    samples[name].append(elapsed)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def summarize(samples: Sequence[float], scale: float = 1.0) -> Summary:
    """Min/median/max of ``samples``, each multiplied by ``scale``."""
    scaled = [s * scale for s in samples]
    return Summary(min(scaled), statistics.median(scaled), max(scaled), len(scaled))


@dataclass
class Result:
    """One benchmark row: a workload's numbers per framework, in ``unit``, and chainrule's ratios.

    ``summaries`` and ``samples`` are keyed by framework (see ``FRAMEWORKS``);
    ``ratios["torch"]`` is the median over rounds of chainrule/torch, paired
    round by round, ``ratios["numpy"]`` the same against the NumPy floor (each
    present only where that framework ran). ``target`` names the entry of
    ``report.TARGETS`` this row is judged by (None: no target).
    """

    workload: str
    unit: str
    summaries: dict[str, Summary]
    ratios: dict[str, float]
    target: str | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)


def result_from_samples(
    workload: str, unit: str, samples: dict[str, list[float]], scale: float = 1.0, target: str | None = None
) -> Result:
    """A ``Result`` from per-framework samples (e.g. ``alternating_timer``'s), each multiplied by ``scale``.

    The samples must include "chainrule"; every framework has one sample per round.
    """
    scaled = {name: [s * scale for s in values] for name, values in samples.items()}
    others = [name for name in FRAMEWORKS[1:] if name in scaled]
    return Result(
        workload=workload,
        unit=unit,
        summaries={name: summarize(values) for name, values in scaled.items()},
        ratios={name: paired_ratio_median(scaled["chainrule"], scaled[name]) for name in others},
        target=target,
        samples=scaled,
    )


def paired_ratios(num: Sequence[float], den: Sequence[float]) -> list[float]:
    """Per-round ratios ``num[i] / den[i]`` of two equally long sample lists."""
    if len(num) != len(den):
        raise ValueError(f"paired_ratios: {len(num)} vs {len(den)} samples")
    return [a / b for a, b in zip(num, den)]


def paired_ratio_median(num: Sequence[float], den: Sequence[float]) -> float:
    """Median over rounds of ``num[i] / den[i]``; robust to a round that was slow for both."""
    return statistics.median(paired_ratios(num, den))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; cells are ``str()``-ed, columns padded."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def machine_load() -> dict[str, float]:
    """The 1/5/15-minute load averages and a wall-clock timestamp (NaN load where unsupported)."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        one = five = fifteen = float("nan")
    return {"load1": one, "load5": five, "load15": fifteen, "time": time.time()}


def format_load(load: dict[str, float]) -> str:
    """``machine_load()`` as ``'0.12 / 0.30 / 0.25'`` (1/5/15 min)."""
    return f"{load['load1']:.2f} / {load['load5']:.2f} / {load['load15']:.2f}"
