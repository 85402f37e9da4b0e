"""``chainrule bench``: run the benchmark suite and print one Markdown report.

Runs every workload module (or those named by ``--only``) with the same
options and prints the facts of the run, one table (workload | chainrule |
torch | NumPy floor | unit | cr/torch | cr/numpy | target | met) and the
command; ``--output PATH`` writes the same document. Examples::

    chainrule bench --quick                          # smoke run of everything, seconds
    chainrule bench --only mlp,lenet --output BENCH.md
    chainrule bench --threads 2 --rounds 10 --no-torch

The same as ``python -m chainrule.benchmarks.cli``. Each workload module also
runs on its own: ``python -m chainrule.benchmarks.lenet --quick``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from chainrule.benchmarks.runner import Run, add_arguments, command_line, run_and_report

# --only name -> module of chainrule.benchmarks, in the order of the report.
WORKLOADS = {
    "mlp": "mlp_epoch",
    "lenet": "lenet",
    "layers": "layers",
    "ops": "op_overhead",
    "memory": "memory",
}


def workload_list(text: str) -> list[str]:
    """An argparse type: comma-separated names of ``WORKLOADS``, kept in report order."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(WORKLOADS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(WORKLOADS)}; got {text!r}")
    return [name for name in WORKLOADS if name in names]


def build_parser() -> argparse.ArgumentParser:
    """``chainrule bench``'s flags: the shared ones and ``--only``."""
    parser = argparse.ArgumentParser(
        prog="chainrule bench",
        description="Run chainrule's benchmarks against PyTorch and a hand-written NumPy floor; "
        "print one Markdown table with the facts of the run.",
        epilog="Each workload also runs alone: python -m chainrule.benchmarks.{mlp_epoch,lenet,layers,op_overhead,memory}",
    )
    add_arguments(parser)
    parser.add_argument(
        "--only",
        type=workload_list,
        default=list(WORKLOADS),
        metavar="NAMES",
        help=f"comma-separated workloads to run (default all: {','.join(WORKLOADS)})",
    )
    return parser


def load_run(name: str) -> Run:
    """The ``run`` function of workload ``name``'s module (imported only when asked for)."""
    return importlib.import_module(f"chainrule.benchmarks.{WORKLOADS[name]}").run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite on ``argv`` (default ``sys.argv[1:]``); the exit status."""
    args = build_parser().parse_args(argv)
    runs = [(name, load_run(name)) for name in args.only]
    return run_and_report(runs, args, command_line("chainrule bench", argv))


if __name__ == "__main__":
    sys.exit(main())
