"""Per-op dispatch overhead of chainrule vs PyTorch on tiny tensors.

What is measured
----------------
A chain of 200 elementwise ops (50 with ``--quick``) on a float32 vector of 1 or
100 elements, repeating the 5-op cycle ``y = exp(tanh(y * w + b)).relu()``
(``w``, ``b`` are tensors of the same shape; tanh before exp keeps values
bounded), then ``.sum()``. On such tiny tensors the arithmetic is nearly free,
so the time is the framework's per-op cost: Python dispatch, graph recording,
and array allocation. Workloads:

* ``fwd+bwd``      -- the chain from a leaf with ``requires_grad``, ``sum()``,
  ``backward()``. Time per op = wall time / (ops + 1), the ``+ 1`` being the sum.
* ``fwd no_grad``  -- the same forward under ``no_grad()``, no backward.
* NumPy floor      -- the same forward with raw NumPy ufunc calls, i.e. the bare
  cost of one array call with allocation, which no wrapper can beat (in the
  ``fwd no_grad`` rows).

Every round times each framework once, alternating (the order flips every
other round), so machine drift hits all alike. Reported: min/median/max of
microseconds per op over the rounds, and the medians over rounds of the paired
ratios chainrule/torch and chainrule/NumPy. Both frameworks run on
``--threads`` threads (default 1): for ops this small, intra-op threading only
adds overhead. The cyclic GC is off while timing (as in ``timeit``). PyTorch
is optional: without it (or with ``--no-torch``) only chainrule and NumPy are
timed.

How to run
----------
    python -m chainrule.benchmarks.op_overhead             # full run, a few seconds
    python -m chainrule.benchmarks.op_overhead --quick     # smoke run (~1 s plus imports)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

import chainrule as cr
from chainrule.benchmarks._timing import Result, Timed, alternating_timer, result_from_samples
from chainrule.benchmarks.runner import Options, module_main

CYCLE = 5  # ops per chain cycle: mul, add, tanh, exp, relu
SIZES = (1, 100)


@dataclass
class Workload:
    """One timed workload: its callables by framework and the op count per call."""

    name: str
    ops: int
    fns: list[Timed]


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


def measure(workload: Workload, rounds: int, warmup: int, inner: int) -> Result:
    """Time ``workload`` (frameworks alternating) in microseconds per op; fwd+bwd rows carry their target."""
    samples = alternating_timer(workload.fns, rounds, warmup=warmup, inner=inner)
    target = "ops-fwd-bwd" if workload.name.startswith("fwd+bwd") else None
    return result_from_samples(f"tiny ops {workload.name}", "us/op", samples, scale=1e6 / workload.ops, target=target)


def run(options: Options) -> list[Result]:
    """Per-op cost of every workload of ``build_workloads``: 200-op chains, or 50 for ``quick``."""
    n_ops, warmup, inner = (50, 1, 1) if options.quick else (200, 2, 3)
    rounds = options.rounds_or(10, 30)
    return [measure(workload, rounds, warmup, inner) for workload in build_workloads(n_ops, options.torch)]


def main(argv: Sequence[str] | None = None) -> int:
    """Time the op chains and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
