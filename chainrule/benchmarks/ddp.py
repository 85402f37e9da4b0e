"""Data-parallel training over MPI: steps per second with K = 1, 2, 4 processes, and the allreduce cost.

Weak scaling: every rank trains on its own batch of 128, so K ranks process a
global batch of 128 K per step, and perfect scaling keeps the step time flat.
Each K runs as ``mpiexec -n K python -m chainrule.benchmarks.ddp --worker``
(K = 1: a plain process, no communication). Reported per model and K:

* steps per second and samples per second (all ranks together);
* the weak-scaling efficiency ``T(1) / T(K)`` (1.0 is perfect);
* the allreduce time per step: the time to reduce the same gradient buckets
  with blocking allreduces and no computation (what communication costs), and
  the wait when backward ends (for the allreduces still in flight, and for the
  slowest rank to join them); overlap is ``1 - wait / allreduce alone``, 0 when
  the wait is all skew between ranks.

On a machine with fewer cores than K the ranks share cores (mpiexec is run
oversubscribed): efficiency then measures sharing, not the network, and the
report says so. ``python -m chainrule.benchmarks.allreduce_model`` models a
cluster instead.

    python -m chainrule.benchmarks.ddp            # MLP and LeNet-5, K = 1, 2, 4
    python -m chainrule.benchmarks.ddp --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import chainrule

PER_RANK_BATCH = 128
MODELS = ("mlp", "lenet5")
ROOT_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def build(model: str):
    """The model and one batch of random data for it (MNIST-shaped)."""
    from chainrule.models import registry

    net = registry.build(model, in_features=784, classes=10)
    shape = (PER_RANK_BATCH, 784) if model == "mlp" else (PER_RANK_BATCH, 1, 28, 28)
    rng = np.random.default_rng(0)
    x = chainrule.tensor(rng.random(shape, dtype=np.float32))
    y = chainrule.tensor(rng.integers(0, 10, PER_RANK_BATCH))
    return net, x, y


def worker(model: str, steps: int) -> dict | None:
    """Train ``steps`` steps under DistributedDataParallel; rank 0 returns the timings."""
    import chainrule.distributed as dist
    from chainrule.backend.openblas import set_blas_threads

    set_blas_threads(1)
    dist.init_process_group("mpi")
    net, x, y = build(model)
    ddp = chainrule.nn.parallel.DistributedDataParallel(net)
    opt = chainrule.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        chainrule.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    dist.barrier()
    times, exposed = [], []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        exposed.append(ddp.exposed_seconds)
    dist.barrier()
    blocking = _blocking_allreduce_seconds(ddp, steps)
    rank = dist.get_rank()
    result = {
        "model": model,
        "ranks": dist.get_world_size(),
        "step_seconds": statistics.median(times),
        "step_times": times,
        "exposed_seconds": statistics.median(exposed) if dist.get_world_size() > 1 else 0.0,
        "blocking_allreduce_seconds": blocking,
        "gradient_bytes": sum(p._data.nbytes for p in net.parameters()),
    }
    dist.destroy_process_group()
    return result if rank == 0 else None


def _blocking_allreduce_seconds(ddp, repeats: int) -> float:
    """Median time to allreduce every gradient bucket with blocking calls and nothing else running."""
    world = ddp._world
    if world.size == 1:
        return 0.0
    samples = []
    for _ in range(repeats):
        world.barrier()
        start = time.perf_counter()
        for bucket in ddp._reducer.buckets:
            world.allreduce(bucket.buffer, "sum")
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def launch(model: str, ranks: int, steps: int) -> dict:
    """Run ``worker`` in ``ranks`` processes (mpiexec for K > 1); rank 0's timings."""
    package_root = str(Path(chainrule.__file__).resolve().parents[1])
    env = dict(os.environ, **ROOT_ENV, OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if ranks > (os.cpu_count() or 1):
        env["PRTE_MCA_rmaps_default_mapping_policy"] = ":oversubscribe"
    command = [sys.executable, "-m", __spec__.name, "--worker", model, "--steps", str(steps)]
    if ranks > 1:
        if shutil.which("mpiexec") is None:
            raise RuntimeError('chainrule bench ddp: mpiexec not found; pip install "chainrule[mpi]"')
        command = ["mpiexec", "-n", str(ranks), *command]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: list[dict]) -> str:
    cores = os.cpu_count() or 1
    lines = [
        f"Weak scaling, {PER_RANK_BATCH} samples per rank per step, SGD with momentum, 1 BLAS thread per rank, "
        f"{cores} cores (K > {cores} shares cores: oversubscribed).",
        "",
        "| model | K | step (ms) | steps/s | samples/s | weak-scaling efficiency | gradient MB | allreduce alone (ms) | "
        "wait when backward ends (ms) | overlap |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = {r["model"]: r["step_seconds"] for r in results if r["ranks"] == 1}
    for r in results:
        step, k = r["step_seconds"], r["ranks"]
        blocking, exposed = r["blocking_allreduce_seconds"], r["exposed_seconds"]
        overlap = "-" if k == 1 or blocking == 0 else f"{max(0.0, 1 - exposed / blocking):.0%}"
        note = " (oversubscribed)" if k > cores else ""
        lines.append(
            f"| {r['model']} | {k}{note} | {step * 1e3:.2f} | {1 / step:.1f} | {k * PER_RANK_BATCH / step:,.0f} | "
            f"{base[r['model']] / step:.2f} | {r['gradient_bytes'] / 1e6:.2f} | {blocking * 1e3:.2f} | "
            f"{exposed * 1e3:.2f} | {overlap} |"
        )
    return "\n".join(lines)


def measure_all(quick: bool) -> list[dict]:
    steps = 5 if quick else 40
    ranks = (1, 2) if quick else (1, 2, 4)
    models = ("mlp",) if quick else MODELS
    return [launch(model, k, steps) for model in models for k in ranks]


def run(options) -> list:
    """``chainrule bench --only ddp``: one row per model and K, the step time (chainrule only)."""
    from chainrule.benchmarks._timing import result_from_samples

    results = measure_all(options.quick)
    base = {r["model"]: r["step_seconds"] for r in results if r["ranks"] == 1}
    cores = os.cpu_count() or 1
    rows = []
    for r in results:
        k = r["ranks"]
        detail = f"weak-scaling efficiency {base[r['model']] / r['step_seconds']:.2f}"
        if k > 1:
            detail += (
                f", allreduce alone {r['blocking_allreduce_seconds'] * 1e3:.2f} ms, "
                f"wait when backward ends {r['exposed_seconds'] * 1e3:.2f} ms"
            )
        crowded = " (oversubscribed)" if k > cores else ""
        workload = f"DDP {r['model']} step, K={k}{crowded}, {PER_RANK_BATCH}/rank ({detail})"
        rows.append(result_from_samples(workload, "ms", {"chainrule": r["step_times"]}, scale=1e3))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: the MLP, K = 1 and 2, 5 steps")
    parser.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=40, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(args.worker, args.steps)
        if result is not None:
            print(json.dumps(result))
        return 0
    print(report(measure_all(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
