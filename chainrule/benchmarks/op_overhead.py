"""Per-op dispatch overhead of chainrule vs PyTorch on tiny tensors.

What is measured
----------------
A chain of ``--ops`` elementwise ops (default 200) on a float32 vector of 1 or
100 elements, repeating the 5-op cycle ``y = exp(tanh(y * w + b)).relu()``
(``w``, ``b`` are tensors of the same shape; tanh before exp keeps values
bounded), then ``.sum()``. On such tiny tensors the arithmetic is nearly free,
so the time is the framework's per-op cost: Python dispatch, graph recording,
and array allocation. Workloads:

* ``fwd+bwd``      -- the chain from a leaf with ``requires_grad``, ``sum()``,
  ``backward()``. Time per op = wall time / (ops + 1), the ``+ 1`` being the sum.
* ``fwd no_grad``  -- the same forward under ``no_grad()``, no backward.
* NumPy floor      -- the same forward with raw NumPy ufunc calls, i.e. the bare
  cost of one array call with allocation, which no wrapper can beat.

Every round times each framework once, alternating (the order flips every
other round), so machine drift hits all alike. Reported: min/median/max of
microseconds per op over the rounds, and the median over rounds of the paired
ratio chainrule/torch. PyTorch runs with ``torch.set_num_threads(1)``: for
ops this small, intra-op threading only adds overhead, and chainrule (NumPy) is
single-threaded for them too. The cyclic GC is off while timing (as in
``timeit``). The 1/5/15-minute load averages at start and end are printed so a
disturbed run is visible. PyTorch is optional: without it (or with
``--no-torch``) only chainrule and NumPy are timed.

How to run
----------
    python benchmarks/op_overhead.py               # full run, a few seconds
    python benchmarks/op_overhead.py --quick       # CI smoke run (~1 s plus imports)
    python benchmarks/op_overhead.py --json out.json   # also write raw numbers
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import chainrule as cr  # noqa: E402
from benchmarks._timing import (  # noqa: E402
    Summary,
    Timed,
    alternating_timer,
    format_load,
    machine_info,
    machine_load,
    markdown_table,
    paired_ratio_median,
    summarize,
)

CYCLE = 5  # ops per chain cycle: mul, add, tanh, exp, relu
SIZES = (1, 100)


@dataclass
class Workload:
    """One timed workload: its callables by framework and the op count per call."""

    name: str
    ops: int
    fns: list[Timed]
    us_per_op: dict[str, list[float]] = field(default_factory=dict)


def load_torch(disabled: bool) -> ModuleType | None:
    """PyTorch pinned to one thread, or None if absent or ``disabled``."""
    if disabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def chain(y, w, b, cycles: int):
    """The op chain on chainrule or torch tensors (same methods on both)."""
    for _ in range(cycles):
        y = (y * w + b).tanh().exp().relu()
    return y


def numpy_chain(y: np.ndarray, w: np.ndarray, b: np.ndarray, cycles: int) -> np.ndarray:
    """The same chain as bare NumPy ufunc calls."""
    for _ in range(cycles):
        y = np.maximum(np.exp(np.tanh(np.add(np.multiply(y, w), b))), 0.0)
    return y


def inputs(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leaf, weight and bias arrays (float32), shared by all frameworks."""
    rng = np.random.default_rng(seed + size)
    x, w, b = (rng.standard_normal(size).astype(np.float32) for _ in range(3))
    return x, w, b


def fwd_bwd_fn(x, w, b, cycles: int) -> Callable[[], None]:
    """Forward, sum, backward from leaf ``x``; clears ``x.grad`` first."""

    def run() -> None:
        x.grad = None
        chain(x, w, b, cycles).sum().backward()

    return run


def fwd_fn(no_grad: Callable, x, w, b, cycles: int) -> Callable[[], None]:
    """Forward and sum under the framework's ``no_grad`` context."""

    def run() -> None:
        with no_grad():
            chain(x, w, b, cycles).sum()

    return run


def grad_max_diff(size: int, cycles: int, torch: ModuleType) -> float:
    """Max |chainrule grad - torch grad| of the chain, to show both do the same work."""
    x, w, b = inputs(size)
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    fwd_bwd_fn(xc, cr.tensor(w), cr.tensor(b), cycles)()
    fwd_bwd_fn(xt, torch.tensor(w), torch.tensor(b), cycles)()
    return float(np.abs(xc.grad.numpy() - xt.grad.numpy()).max())


def build_workloads(n_ops: int, torch: ModuleType | None) -> list[Workload]:
    """The fwd+bwd and fwd-no_grad workloads for every size, each framework's callable."""
    cycles = n_ops // CYCLE
    out: list[Workload] = []
    for size in SIZES:
        x, w, b = inputs(size)
        crx, crw, crb = cr.tensor(x, requires_grad=True), cr.tensor(w), cr.tensor(b)
        bwd = [("chainrule", fwd_bwd_fn(crx, crw, crb, cycles))]
        fwd = [("chainrule", fwd_fn(cr.no_grad, crx, crw, crb, cycles))]
        if torch is not None:
            tx, tw, tb = (torch.tensor(a) for a in (x, w, b))
            tx.requires_grad_(True)
            bwd.append(("torch", fwd_bwd_fn(tx, tw, tb, cycles)))
            fwd.append(("torch", fwd_fn(torch.no_grad, tx, tw, tb, cycles)))
        fwd.append(("numpy", lambda x=x, w=w, b=b: numpy_chain(x, w, b, cycles).sum()))
        out.append(Workload(f"fwd+bwd, n={size}", cycles * CYCLE + 1, bwd))
        out.append(Workload(f"fwd no_grad, n={size}", cycles * CYCLE + 1, fwd))
    out.sort(key=lambda wl: not wl.name.startswith("fwd+bwd"))
    return out


def run_workloads(workloads: list[Workload], rounds: int, warmup: int, inner: int) -> None:
    """Time every workload (alternating frameworks) and store microseconds per op."""
    for wl in workloads:
        samples = alternating_timer(wl.fns, rounds, warmup=warmup, inner=inner)
        wl.us_per_op = {name: [s * 1e6 / wl.ops for s in v] for name, v in samples.items()}


def fmt(s: Summary) -> tuple[str, str]:
    """Median cell and 'min / max' cell for a summary in us/op."""
    return f"{s.median:.2f}", f"{s.min:.2f} / {s.max:.2f}"


def main_table(workloads: list[Workload], with_torch: bool) -> str:
    """chainrule vs torch, one row per workload (chainrule only without torch)."""
    headers = ["workload", "chainrule us/op median"]
    if with_torch:
        headers += ["torch us/op median", "ratio cr/torch median", "chainrule min / max", "torch min / max"]
    else:
        headers += ["chainrule min / max"]
    rows = []
    for wl in workloads:
        c_med, c_rng = fmt(summarize(wl.us_per_op["chainrule"]))
        if with_torch:
            t_med, t_rng = fmt(summarize(wl.us_per_op["torch"]))
            ratio = paired_ratio_median(wl.us_per_op["chainrule"], wl.us_per_op["torch"])
            rows.append([wl.name, c_med, t_med, f"{ratio:.2f}x", c_rng, t_rng])
        else:
            rows.append([wl.name, c_med, c_rng])
    return markdown_table(headers, rows)


def numpy_table(workloads: list[Workload]) -> str:
    """The NumPy floor rows: bare ufunc cost and each framework's multiple of it."""
    fwd = [wl for wl in workloads if "numpy" in wl.us_per_op]
    others = [name for name in ("chainrule", "torch") if fwd and name in fwd[0].us_per_op]
    headers = ["workload", "numpy us/op median", "numpy min / max"]
    headers += [f"{name} no_grad / numpy median" for name in others]
    rows = []
    for wl in fwd:
        med, rng = fmt(summarize(wl.us_per_op["numpy"]))
        ratios = [paired_ratio_median(wl.us_per_op[n], wl.us_per_op["numpy"]) for n in others]
        rows.append([f"NumPy floor, {wl.name.split(', ')[1]}", med, rng] + [f"{r:.2f}x" for r in ratios])
    return markdown_table(headers, rows)


def to_json(workloads: list[Workload], meta: dict) -> dict:
    """Raw samples, summaries and ratios of every workload, plus run metadata."""
    result: dict = {"meta": meta, "workloads": {}}
    for wl in workloads:
        entry: dict = {"ops_per_call": wl.ops, "us_per_op": wl.us_per_op, "summary": {}}
        for name, samples in wl.us_per_op.items():
            entry["summary"][name] = summarize(samples).as_dict()
        if "torch" in wl.us_per_op:
            entry["ratio_chainrule_torch_median"] = paired_ratio_median(
                wl.us_per_op["chainrule"], wl.us_per_op["torch"]
            )
        result["workloads"][wl.name] = entry
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; ``--quick`` overrides the size of the run."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=200, help="elementwise ops per chain (a multiple of 5)")
    p.add_argument("--rounds", type=int, default=30, help="timed rounds per workload")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds per workload")
    p.add_argument("--inner", type=int, default=3, help="calls averaged into one sample")
    p.add_argument("--quick", action="store_true", help="tiny run (<1 s of timing) for CI smoke tests")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    p.add_argument("--json", metavar="PATH", help="write raw samples and summaries to PATH")
    args = p.parse_args(argv)
    if args.quick:
        args.ops, args.rounds, args.warmup, args.inner = 50, 10, 1, 1
    args.ops = max(CYCLE, args.ops - args.ops % CYCLE)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the Markdown tables, optionally write JSON."""
    args = parse_args(argv)
    torch = load_torch(args.no_torch)
    load_start = machine_load()
    t0 = time.perf_counter()
    workloads = build_workloads(args.ops, torch)
    run_workloads(workloads, args.rounds, args.warmup, args.inner)
    elapsed = time.perf_counter() - t0
    load_end = machine_load()

    meta = {
        "config": {k: getattr(args, k) for k in ("ops", "rounds", "warmup", "inner")},
        "versions": {
            "chainrule": cr.__version__,
            "numpy": np.__version__,
            "torch": None if torch is None else torch.__version__,
        },
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "machine": machine_info(),
        "load_start": load_start,
        "load_end": load_end,
        "elapsed_s": elapsed,
    }
    torch_note = "not timed" if torch is None else f"{torch.__version__}, set_num_threads(1)"
    print(f"# chainrule per-op overhead ({args.ops} elementwise ops + sum, float32)\n")
    print(f"chainrule {cr.__version__} | numpy {np.__version__} | torch {torch_note}")
    info = meta["machine"]
    print(f"python {info['python']} | {info['platform']} | {info['cpu_count']} CPUs")
    print(f"rounds {args.rounds} (+{args.warmup} warmup), {args.inner} call(s)/sample, frameworks alternated")
    print(f"load avg 1/5/15 min: start {format_load(load_start)}, end {format_load(load_end)}")
    if torch is not None:
        diffs = [grad_max_diff(size, args.ops // CYCLE, torch) for size in SIZES]
        meta["grad_max_abs_diff"] = max(diffs)
        print(f"same work check: max |grad_cr - grad_torch| = {max(diffs):.2e}")
    print(f"timing took {elapsed:.1f} s\n")
    print(main_table(workloads, torch is not None))
    print()
    print(numpy_table(workloads))

    if args.json:
        Path(args.json).write_text(json.dumps(to_json(workloads, meta), indent=2))
        print(f"\nraw numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
