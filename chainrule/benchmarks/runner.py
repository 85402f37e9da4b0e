"""Running benchmark modules: their shared flags, the options they get, and the report they print.

Every workload module (``mlp_epoch``, ``lenet``, ``layers``, ``op_overhead``,
``memory``) provides ``run(options: Options) -> list[Result]``.
``run_and_report`` runs some of them between two readings of the machine load
and prints the Markdown document of ``report.document`` (and writes it with
``--output``). A module's own ``main`` runs just its ``run``; ``chainrule
bench`` (``chainrule.benchmarks.cli``) runs several.

Both frameworks get the same thread count (``--threads``, default 1): two
thread pools spinning in one process on a small machine distort both (see
``chainrule.backend.openblas``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from types import ModuleType

from chainrule.backend.openblas import set_blas_threads
from chainrule.benchmarks import report
from chainrule.benchmarks._timing import Result, machine_load


@dataclass(frozen=True)
class Options:
    """How to run a workload: smoke-test sizes or full, rounds, threads, and PyTorch (None: not timed)."""

    quick: bool = False
    rounds: int | None = None
    threads: int = 1
    torch: ModuleType | None = None

    def rounds_or(self, quick: int, full: int) -> int:
        """The rounds asked for, else the workload's default for this mode."""
        if self.rounds is not None:
            return self.rounds
        return quick if self.quick else full


Run = Callable[[Options], list[Result]]


def configure(threads: int, use_torch: bool) -> ModuleType | None:
    """Pin OpenBLAS (and PyTorch, when used and installed) to ``threads``; return torch or None."""
    set_blas_threads(threads)
    if not use_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The flags every benchmark takes."""
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes and few rounds (numbers mean nothing)")
    parser.add_argument("--rounds", type=positive_int, help="timed rounds per workload (default: each workload's own)")
    parser.add_argument(
        "--threads", type=positive_int, default=1, help="BLAS / intra-op threads for every framework (default 1)"
    )
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch even if it is installed")
    parser.add_argument("--output", metavar="PATH", help="also write the Markdown report to PATH (atomically)")
    parser.add_argument("--json", metavar="PATH", help="also write the raw samples, summaries and facts as JSON")
    return parser


def command_line(program: str, argv: Sequence[str] | None) -> str:
    """The command that ran, for the report: ``program`` and the arguments, shell-quoted."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return " ".join([program, shlex.join(arguments)]).strip()


def run_and_report(runs: Sequence[tuple[str, Run]], args: argparse.Namespace, command: str) -> int:
    """Run the named ``runs`` with the options in ``args``; print the report, write ``--output``/``--json``.

    A workload that raises gets its traceback on stderr and no rows; the others
    still run, and the exit status is 1.
    """
    torch = configure(args.threads, not args.no_torch)
    options = Options(quick=args.quick, rounds=args.rounds, threads=args.threads, torch=torch)
    load_start = machine_load()
    results: list[Result] = []
    failed: list[str] = []
    for name, run in runs:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            results += run(options)
        except Exception:  # one broken workload should not cost the others' numbers
            traceback.print_exc()
            failed.append(name)
    facts = report.run_facts(torch, args.threads, args.quick, load_start, machine_load())
    if failed:
        facts["Failed (no rows, exit status 1)"] = ", ".join(failed)
    text = report.document(results, facts, command)
    print(text, end="")
    if args.output:
        report.write_atomic(args.output, text)
    if args.json:
        raw = {"command": command, "facts": facts, "results": [asdict(result) for result in results]}
        report.write_atomic(args.json, json.dumps(raw, indent=1))
    return 1 if failed else 0


def module_parser(module: str, description: str) -> argparse.ArgumentParser:
    """The command-line parser of workload module ``module`` (its dotted name), with the shared flags."""
    return add_arguments(argparse.ArgumentParser(prog=f"python -m {module}", description=description))


def module_main(module: str, description: str, run: Run, argv: Sequence[str] | None) -> int:
    """``main`` of a single workload module ``module`` (its dotted name): parse ``argv``, run, report."""
    args = module_parser(module, description).parse_args(argv)
    return run_and_report([(module.rsplit(".", 1)[-1], run)], args, command_line(f"python -m {module}", argv))
