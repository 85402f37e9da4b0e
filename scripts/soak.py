"""Soak test: many training steps, the process's resident memory sampled as they go; is it flat?

    python scripts/soak.py                      # 10,000 steps in 1 thread, then 2 threads with a model each
    python scripts/soak.py --steps 2000 --every 100 --json soak.json

Each thread trains its own MLP (SGD with momentum, cross-entropy, a fresh
random batch each step, an evaluation under ``no_grad`` every ``--eval-every``
steps). The resident set size (RSS, from /proc/self/statm) is sampled every
``--every`` steps of thread 0. After a warm-up (the first ``--warmup`` of the
samples: allocator pools and caches filling), a least-squares line through
(step, RSS) gives the slope in MiB per 1,000 steps; memory is called flat when
that slope is under ``--flat`` MiB per 1,000 steps. Exit status 1 if not flat.
Not part of the test suite (minutes, and it measures the machine as much as
the code).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

import numpy as np

import chainrule as cr
from chainrule import nn

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mib() -> float:
    """The resident set size of this process now, in MiB (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def slope_per_1000(steps: list[int], values: list[float]) -> float:
    """Least-squares slope of ``values`` against ``steps``, per 1,000 steps."""
    if len(steps) < 2:
        return 0.0
    return float(np.polyfit(np.asarray(steps, float), np.asarray(values, float), 1)[0] * 1000)


def train(seed: int, steps: int, args: argparse.Namespace, samples: list | None) -> None:
    """``steps`` SGD steps of a fresh MLP; appends (step, RSS) to ``samples`` every ``args.every`` steps."""
    generator = cr.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    optimizer = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(1, steps + 1):
        inputs = cr.randn(args.batch, 64, generator=generator)
        target = cr.randint(0, 10, (args.batch,), generator=generator)
        loss = loss_fn(model(inputs), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0:
            with cr.no_grad():
                model.eval()
                model(cr.randn(4 * args.batch, 64, generator=generator)).argmax(dim=1)
                model.train()
        if samples is not None and step % args.every == 0:
            samples.append((step, rss_mib()))
    if not np.isfinite(loss.item()):
        raise RuntimeError(f"soak: thread with seed {seed} diverged (loss {loss.item()})")


def soak(threads: int, args: argparse.Namespace) -> dict:
    """Train ``threads`` models at once, each in its own thread; RSS figures of the run."""
    samples: list[tuple[int, float]] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            train(index, args.steps, args, samples if index == 0 else None)
        except BaseException as error:  # noqa: BLE001 - reported after the join
            errors.append(error)

    start, before = time.perf_counter(), rss_mib()
    workers = [threading.Thread(target=work, args=(i,), name=f"soak-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    settled = samples[int(len(samples) * args.warmup) :]
    steps, values = [s for s, _ in settled], [v for _, v in settled]
    slope = slope_per_1000(steps, values)
    return {
        "threads": threads,
        "steps": args.steps,
        "seconds": round(time.perf_counter() - start, 1),
        "rss_start_mib": round(before, 1),
        "rss_after_warmup_mib": round(values[0], 1) if values else None,
        "rss_end_mib": round(samples[-1][1], 1) if samples else None,
        "rss_max_mib": round(max(v for _, v in samples), 1) if samples else None,
        "slope_mib_per_1000_steps": round(slope, 4),
        "flat": abs(slope) < args.flat,
        "samples": samples,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000, help="training steps per thread (default 10,000)")
    parser.add_argument("--every", type=int, default=250, help="sample RSS every N steps (default 250)")
    parser.add_argument("--eval-every", type=int, default=500, help="a no_grad evaluation every N steps")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="runs to do, by thread count")
    parser.add_argument("--warmup", type=float, default=0.2, help="fraction of samples left out of the fit")
    parser.add_argument("--flat", type=float, default=0.5, help="flat: |slope| under this, MiB per 1,000 steps")
    parser.add_argument("--json", metavar="PATH", help="also write the figures and samples as JSON")
    args = parser.parse_args(argv)
    if min(args.steps, args.every, args.eval_every, args.batch, *args.threads) < 1:
        parser.error("--steps, --every, --eval-every, --batch and --threads must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    for threads in args.threads:
        result = soak(threads, args)
        results.append(result)
        print(
            f"{threads} thread(s) x {args.steps:,} steps in {result['seconds']} s: RSS {result['rss_start_mib']} -> "
            f"{result['rss_end_mib']} MiB (max {result['rss_max_mib']}, {result['rss_after_warmup_mib']} after "
            f"warm-up); slope {result['slope_mib_per_1000_steps']:+.3f} MiB per 1,000 steps: "
            + ("flat" if result["flat"] else "GROWING"),
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"options": vars(args), "results": results}, file, indent=1)
    return 0 if all(result["flat"] for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
