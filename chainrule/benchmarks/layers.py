"""Forward+backward of single layers, chainrule vs PyTorch, alternating in one run.

Workloads (float32, same initial weights and inputs in both frameworks):
  * Conv2d(16 -> 32, 3x3) on (64, 16, 28, 28)
  * LSTM(128, 256, batch_first) on (32, 50, 128)
  * TransformerEncoderLayer(d=256, 4 heads, batch_first, train mode) on (32, 64, 256)

Reported: ms per forward+backward (of ``output.sum()``) and the median of the
paired per-round ratio chainrule/torch.

    python -m chainrule.benchmarks.layers            # full run
    python -m chainrule.benchmarks.layers --quick    # tiny sizes, a smoke run
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import numpy as np

import chainrule as cr
from chainrule.benchmarks._timing import Result, alternating_timer, result_from_samples
from chainrule.benchmarks.runner import Options, module_main

# (name, layer from an ``nn`` namespace, input shape, target key)
Workload = tuple[str, Callable, tuple[int, ...], str | None]


def workloads(quick: bool) -> list[Workload]:
    """The layers to time: full sizes, or tiny ones for ``quick``."""
    if quick:
        return [
            ("Conv2d 4->8 3x3 on (2,4,8,8)", lambda nn: nn.Conv2d(4, 8, 3), (2, 4, 8, 8), "conv2d"),
            ("LSTM(8,16) on (2,5,8)", lambda nn: nn.LSTM(8, 16, batch_first=True), (2, 5, 8), "lstm"),
            (
                "TransformerEncoderLayer(16,2) on (2,4,16)",
                lambda nn: nn.TransformerEncoderLayer(16, 2, 32, batch_first=True),
                (2, 4, 16),
                "transformer",
            ),
        ]
    return [
        ("Conv2d 16->32 3x3 on (64,16,28,28)", lambda nn: nn.Conv2d(16, 32, 3), (64, 16, 28, 28), "conv2d"),
        ("LSTM(128,256) on (32,50,128)", lambda nn: nn.LSTM(128, 256, batch_first=True), (32, 50, 128), "lstm"),
        (
            "TransformerEncoderLayer(256,4) on (32,64,256)",
            lambda nn: nn.TransformerEncoderLayer(256, 4, batch_first=True),
            (32, 64, 256),
            "transformer",
        ),
    ]


def forward_backward(layer, x) -> Callable[[], None]:
    """One forward of ``layer`` on ``x`` and a backward of the (first) output's sum."""

    def step() -> None:
        out = layer(x)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()

    return step


def time_layer(workload: Workload, options: Options) -> Result:
    """Time one layer in both frameworks, torch's initial weights copied into chainrule's."""
    name, make, shape, target = workload
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours = make(cr.nn)
    fns = [("chainrule", forward_backward(ours, cr.tensor(x, requires_grad=True)))]
    torch = options.torch
    if torch is not None:
        theirs = make(torch.nn)
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        fns.append(("torch", forward_backward(theirs, torch.tensor(x, requires_grad=True))))
    samples = alternating_timer(fns, rounds=options.rounds_or(3, 15), warmup=1)
    return result_from_samples(f"{name}, fwd+bwd", "ms", samples, scale=1e3, target=target)


def run(options: Options) -> list[Result]:
    """Milliseconds per forward+backward of every layer in ``workloads``."""
    return [time_layer(workload, options) for workload in workloads(options.quick)]


def main(argv: Sequence[str] | None = None) -> int:
    """Time the layers and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
