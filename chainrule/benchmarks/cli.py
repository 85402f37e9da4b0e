"""``chainrule bench``: run the benchmark suite and print one Markdown report.

Runs every workload module (or those named by ``--only``) with the same
options and prints the facts of the run, one table (workload | chainrule |
torch | NumPy floor | unit | cr/torch | cr/numpy | target | met) and the
command; ``--output PATH`` writes the same document. Examples::

    chainrule bench --quick                          # smoke run of everything, seconds
    chainrule bench --only mlp,lenet --output BENCH.md
    chainrule bench --threads 2 --rounds 10 --no-torch
    chainrule bench --only ddp                       # data parallel over MPI, K = 1, 2, 4 processes

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
    "resnet": "resnet",
    "char_rnn": "char_rnn",
    "gpt": "gpt",
    "vae": "vae",
    "ops": "op_overhead",
    "memory": "memory",
    "ddp": "ddp",
}
# Run only when named: it starts MPI jobs (pip install "chainrule[mpi]").
ON_REQUEST = ("ddp",)


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
        epilog="Each workload also runs alone: python -m chainrule.benchmarks.{mlp_epoch,lenet,layers,resnet,char_rnn,gpt,vae,op_overhead,memory,ddp}",
    )
    add_arguments(parser)
    parser.add_argument(
        "--only",
        type=workload_list,
        default=[name for name in WORKLOADS if name not in ON_REQUEST],
        metavar="NAMES",
        help=f"comma-separated workloads to run (default all but {','.join(ON_REQUEST)}: {','.join(WORKLOADS)})",
    )
    return parser


def load_run(name: str) -> Run:
    """The ``run`` function of workload ``name``'s module (imported only when asked for)."""
    return importlib.import_module(f"chainrule.benchmarks.{WORKLOADS[name]}").run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite on ``argv`` (default ``sys.argv[1:]``); the exit status (130 after Ctrl-C).

    ``--output`` and ``--json`` are checked before anything runs: a path that
    is a folder or cannot be written is a usage error (status 2).
    """
    from chainrule.cli.common import CLIError, check_writable_file

    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, path in (("--output", args.output), ("--json", args.json)):
        if path is not None:
            try:
                check_writable_file(flag, path)
            except CLIError as error:
                parser.error(str(error))
    try:
        runs = [(name, load_run(name)) for name in args.only]
        return run_and_report(runs, args, command_line("chainrule bench", argv))
    except KeyboardInterrupt:
        print("chainrule bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
