"""Peak resident memory of an MLP training epoch and of GPT training steps: chainrule vs PyTorch (vs NumPy).

The epoch is ``mlp_epoch``'s 784-200-200-10 network (batch 128, SGD, MNIST's
60,000 training images; ``--quick``: its 2,560 random images); the GPT
workload is two of ``gpt``'s training steps (the second with AdamW's state).
Each framework runs in a fresh process (``python -m
chainrule.benchmarks.memory --framework NAME --workload mlp|gpt``) that
loads the data, trains and reports its peak resident set size. So each number is everything
that framework's process needed: the interpreter, the libraries it imports
(PyTorch's are large), the data set, and the epoch's peak. Only the PyTorch
process imports torch. Each round starts one process per framework, one after
another. Reported: MB (10^6 bytes) and the paired ratios chainrule/torch and
chainrule/NumPy.

    python -m chainrule.benchmarks.memory            # full run
    python -m chainrule.benchmarks.memory --quick    # smoke run
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import chainrule
from chainrule.benchmarks import gpt
from chainrule.benchmarks._timing import Result, result_from_samples
from chainrule.benchmarks.mlp_epoch import EPOCHS, QUICK_IMAGES, network_name, training_data
from chainrule.benchmarks.runner import Options, command_line, configure, module_parser, run_and_report

SIZES = (784, 200, 200, 10)


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far, in bytes.

    On Linux, ``getrusage(RUSAGE_SELF).ru_maxrss`` of a process started with
    fork/exec is at least the parent's peak (the kernel carries it across
    ``exec``), so a child of a process that holds PyTorch would report
    PyTorch's memory whatever it ran. ``VmHWM`` of /proc/self/status is the
    peak of this program image alone; ``ru_maxrss`` (KiB on Linux, bytes on
    macOS) serves where there is no /proc.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # "VmHWM:   123456 kB"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def mlp_epoch(framework: str, quick: bool):
    """One MLP epoch in ``framework`` (data loaded here, so it counts)."""
    X, Y = training_data(quick)
    return EPOCHS[framework](SIZES, X, Y)


# workload -> (the frameworks it runs on, its builder: (framework, quick) -> callable)
WORKLOADS = {"mlp": (tuple(EPOCHS), mlp_epoch), "gpt": (("chainrule", "torch"), gpt.memory_workload)}


def measure_here(framework: str, quick: bool, threads: int, workload: str = "mlp") -> int:
    """Run ``workload`` with ``framework`` in this process; its peak RSS in bytes afterwards."""
    configure(threads, use_torch=framework == "torch")
    WORKLOADS[workload][1](framework, quick)()
    return peak_rss_bytes()


def measure_in_subprocess(framework: str, options: Options, workload: str = "mlp") -> int:
    """Peak RSS in bytes of a fresh process running ``measure_here(framework, ..., workload)``."""
    command = [sys.executable, "-m", __spec__.name, "--framework", framework, "--threads", str(options.threads)]
    command += ["--workload", workload]
    command += ["--quick"] if options.quick else []
    # The child imports the same chainrule as this process, wherever the working directory is.
    package_root = str(Path(chainrule.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return int(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_bytes"])


def peak_samples(workload: str, options: Options) -> dict[str, list[float]]:
    """Peak RSS (MB) of ``workload`` per framework, each in its own process, ``rounds`` processes per framework."""
    frameworks = [name for name in WORKLOADS[workload][0] if name != "torch" or options.torch is not None]
    samples: dict[str, list[float]] = {name: [] for name in frameworks}
    for _ in range(options.rounds_or(1, 3)):
        for name in frameworks:
            samples[name].append(measure_in_subprocess(name, options, workload) / 1e6)
    return samples


def run(options: Options) -> list[Result]:
    """Peak RSS (MB) of the MLP epoch and of the GPT steps, per framework."""
    images = f"{QUICK_IMAGES:,} random images" if options.quick else "MNIST"
    mlp = f"MLP {network_name(SIZES)} epoch peak RSS ({images})"
    steps = f"GPT training step peak RSS ({(gpt.QUICK if options.quick else gpt.FULL).describe()})"
    return [
        result_from_samples(mlp, "MB", peak_samples("mlp", options), target="mlp-peak-rss"),
        result_from_samples(steps, "MB", peak_samples("gpt", options), target="gpt-peak-rss"),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every framework in its own process and print the report; with ``--framework``, measure one here."""
    parser = module_parser(__spec__.name, __doc__.splitlines()[0])
    parser.add_argument(
        "--framework", choices=sorted(EPOCHS), help="measure this framework in this process and print its peak as JSON"
    )
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="mlp", help="what --framework runs")
    args = parser.parse_args(argv)
    if args.framework:
        print(
            json.dumps(
                {
                    "framework": args.framework,
                    "peak_rss_bytes": measure_here(args.framework, args.quick, args.threads, args.workload),
                }
            )
        )
        return 0
    return run_and_report([("memory", run)], args, command_line(f"python -m {__spec__.name}", argv))


if __name__ == "__main__":
    sys.exit(main())
