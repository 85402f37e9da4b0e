"""Forward+backward of single layers, chainrule vs PyTorch, alternating in one run.

Workloads (float32, same initial weights and inputs in both frameworks):
  * Conv2d(16 -> 32, 3x3) on (64, 16, 28, 28)
  * LSTM(128, 256, batch_first) on (32, 50, 128)
  * TransformerEncoderLayer(d=256, 4 heads, batch_first, train mode) on (32, 64, 256)

Both frameworks run with the same BLAS/intra-op thread count (``--threads``,
default 1): two thread pools spinning in one process on a 2-core machine
distort both. Reported: median ms per forward+backward and the median of the
paired per-round ratio chainrule/torch.

    python benchmarks/layers.py            # full run
    python benchmarks/layers.py --quick    # tiny sizes, a smoke run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import chainrule as cr  # noqa: E402
from benchmarks._timing import alternating_timer, format_load, machine_load, paired_ratio_median, print_table  # noqa: E402
from chainrule.backend.threads import set_blas_threads  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def _workloads(quick: bool):
    """(name, chainrule layer factory, torch layer factory, input shape)."""
    if quick:
        return [
            ("Conv2d 4->8 3x3 on (2,4,8,8)", lambda m: m.Conv2d(4, 8, 3), (2, 4, 8, 8)),
            ("LSTM(8,16) on (2,5,8)", lambda m: m.LSTM(8, 16, batch_first=True), (2, 5, 8)),
            (
                "TransformerEncoderLayer(16,2) on (2,4,16)",
                lambda m: m.TransformerEncoderLayer(16, 2, 32, batch_first=True),
                (2, 4, 16),
            ),
        ]
    return [
        ("Conv2d 16->32 3x3 on (64,16,28,28)", lambda m: m.Conv2d(16, 32, 3), (64, 16, 28, 28)),
        ("LSTM(128,256) on (32,50,128)", lambda m: m.LSTM(128, 256, batch_first=True), (32, 50, 128)),
        (
            "TransformerEncoderLayer(256,4) on (32,64,256)",
            lambda m: m.TransformerEncoderLayer(256, 4, batch_first=True),
            (32, 64, 256),
        ),
    ]


def _step(layer, x):
    def run():
        out = layer(x)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()

    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few rounds (smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per workload")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / intra-op threads for both frameworks")
    parser.add_argument("--no-torch", action="store_true", help="time chainrule only")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 15)
    set_blas_threads(args.threads)
    use_torch = torch is not None and not args.no_torch
    if use_torch:
        torch.set_num_threads(args.threads)
    start = machine_load()
    rows = []
    for name, make, shape in _workloads(args.quick):
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        ours = make(cr.nn)
        fns = [("chainrule", _step(ours, cr.tensor(x, requires_grad=True)))]
        if use_torch:
            theirs = make(torch.nn)
            ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
            fns.append(("torch", _step(theirs, torch.tensor(x, requires_grad=True))))
        samples = alternating_timer(fns, rounds=rounds, warmup=1)
        ms = {k: float(np.median(v)) * 1e3 for k, v in samples.items()}
        ratio = paired_ratio_median(samples["chainrule"], samples["torch"]) if use_torch else float("nan")
        rows.append([name, f"{ms['chainrule']:.2f}", f"{ms.get('torch', float('nan')):.2f}", f"{ratio:.2f}"])
    print(f"threads {args.threads}; load {format_load(start)} -> {format_load(machine_load())}")
    print_table(["workload (fwd+bwd)", "chainrule ms", "torch ms", "ratio cr/torch"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
