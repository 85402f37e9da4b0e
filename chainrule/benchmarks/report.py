"""What a benchmark report says besides the timings: the targets, the machine, the Markdown document.

The document (printed by ``chainrule bench`` and by each module's ``main``,
written by ``--output``) is: the facts of the run (date, versions, CPU, BLAS
and the OpenBLAS kernel in use, threads, machine load), one table with a row
per workload, and the command that produced it.
"""

from __future__ import annotations

import math
import os
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from types import ModuleType

import numpy as np

import chainrule
from chainrule.backend.openblas import loaded_kernels
from chainrule.benchmarks._timing import FRAMEWORKS, Result, Summary, format_load, markdown_table
from chainrule.serialization import atomic_open


@dataclass(frozen=True)
class Target:
    """Upper bounds on chainrule's paired ratios: cr/torch, and cr/numpy where a floor exists."""

    vs_torch: float
    vs_numpy: float | None = None

    def describe(self) -> str:
        """The target as a table cell, e.g. ``'cr/torch <= 0.8, cr/numpy <= 1.15'``."""
        bounds = [f"cr/torch <= {self.vs_torch}"]
        if self.vs_numpy is not None:
            bounds.append(f"cr/numpy <= {self.vs_numpy}")
        return ", ".join(bounds)

    def met(self, ratios: dict[str, float]) -> str:
        """'yes' or 'no' for a row's ``ratios``; '-' when torch did not run (nothing to judge)."""
        if "torch" not in ratios:
            return "-"
        met = ratios["torch"] <= self.vs_torch
        if self.vs_numpy is not None and "numpy" in ratios:
            met = met and ratios["numpy"] <= self.vs_numpy
        return "yes" if met else "no"


# The goals chainrule is measured against, by the key a Result's ``target`` names.
TARGETS = {
    "mlp-784-200-200-10": Target(0.8, 1.15),
    "mlp-784-800-10": Target(0.9, 1.15),
    "lenet5": Target(1.2),
    "conv2d": Target(1.2),
    "resnet": Target(1.3),
    "lstm": Target(1.2),
    "char-rnn": Target(1.2),
    "transformer": Target(1.0),
    "gpt-step": Target(1.2),
    "vae-step": Target(1.0),
    "ops-fwd-bwd": Target(1.0),
    "mlp-peak-rss": Target(0.7),
    "gpt-peak-rss": Target(1.0),
}

HEADERS = ("workload", "chainrule", "torch", "NumPy floor", "unit", "cr/torch", "cr/numpy", "target", "met")


# ------------------------------------------------------------------ the table
def number(x: float) -> str:
    """``x`` to three significant digits, without an exponent (``0.953``, ``12.3``, ``412``)."""
    if not math.isfinite(x) or x == 0:
        return f"{x:g}"
    return f"{x:.{max(0, 2 - math.floor(math.log10(abs(x))))}f}"


def summary_cell(summary: Summary | None) -> str:
    """``'median (min-max)'``, just the median for one sample, '-' for a framework that did not run."""
    if summary is None:
        return "-"
    if summary.n == 1:
        return number(summary.median)
    return f"{number(summary.median)} ({number(summary.min)}-{number(summary.max)})"


def table_row(result: Result) -> list[str]:
    """One row of the report's table (see ``HEADERS``)."""
    target = TARGETS.get(result.target) if result.target else None
    ratios = [f"{result.ratios[name]:.2f}" if name in result.ratios else "-" for name in ("torch", "numpy")]
    return [
        result.workload,
        *(summary_cell(result.summaries.get(name)) for name in FRAMEWORKS),
        result.unit,
        *ratios,
        target.describe() if target else "-",
        target.met(result.ratios) if target else "-",
    ]


def results_table(results: Sequence[Result]) -> str:
    """The Markdown table of ``results``, one row each."""
    return markdown_table(HEADERS, [table_row(result) for result in results])


# ------------------------------------------------------------------ the machine
def cpu_model() -> str:
    """The CPU's 'model name' from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def openblas_kernels() -> list[tuple[str, str, int | None]]:
    """(library file name, core name, thread count) of every OpenBLAS loaded into this process."""
    return [(Path(path).name, core, threads) for path, core, threads in loaded_kernels()]


def numpy_blas() -> str:
    """Name and version of the BLAS NumPy was built with (``numpy.show_config``), or 'unknown'."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy, or a build that does not say
        return "unknown"


def torch_blas(torch: ModuleType) -> str:
    """The BLAS PyTorch was built with (``BLAS_INFO`` of ``torch.__config__.show()``), or 'unknown'."""
    found = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


def torch_version(torch: ModuleType | None) -> str:
    """PyTorch's version, noting when it is installed but not timed, or absent."""
    if torch is not None:
        return torch.__version__
    try:
        return f"{metadata.version('torch')} (not timed)"
    except metadata.PackageNotFoundError:
        return "not installed"


def run_facts(torch: ModuleType | None, threads: int, quick: bool, load_start: dict, load_end: dict) -> dict[str, str]:
    """The facts written above the table, label -> text, in order."""
    kernels = openblas_kernels()
    facts = {
        "Date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "Versions": f"chainrule {chainrule.__version__}, NumPy {np.__version__}, PyTorch {torch_version(torch)}, "
        f"Python {platform.python_version()}",
        "CPU": f"{cpu_model()}, {os.cpu_count()} logical CPUs ({platform.platform()})",
        "BLAS (NumPy)": numpy_blas() + "".join(f", {library}" for library, _, _ in kernels),
        "OpenBLAS kernel": "; ".join(f"{core}, {n} thread(s)" for _, core, n in kernels) or "no OpenBLAS loaded",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "not set"),
    }
    if torch is not None:
        facts["BLAS (PyTorch)"] = torch_blas(torch)
    facts["Threads"] = f"--threads {threads}" + (
        f" (torch.get_num_threads() = {torch.get_num_threads()})" if torch else ""
    )
    facts["Machine load (1/5/15 min)"] = f"start {format_load(load_start)}, end {format_load(load_end)}"
    facts["Mode"] = "quick (smoke-test sizes; the numbers mean nothing)" if quick else "full"
    return facts


# ------------------------------------------------------------------ the document
def document(results: Sequence[Result], facts: dict[str, str], command: str) -> str:
    """The Markdown report: ``facts`` as a list, the table of ``results``, the ``command`` line."""
    lines = ["# chainrule benchmarks", ""]
    lines += [f"- {label}: {text}" for label, text in facts.items()]
    lines += ["", results_table(results), ""]
    lines += [
        "Cells: median (min-max) over rounds; the frameworks alternate within each round, and cr/torch and "
        "cr/numpy are medians of the per-round ratios.",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines) + "\n"


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: readers see all or nothing."""
    with atomic_open(path, "w") as handle:
        handle.write(text)
