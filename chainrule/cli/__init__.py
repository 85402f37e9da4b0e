"""The ``chainrule`` command: ``train``, ``evaluate``, ``predict``, ``bench``, ``graph``, ``plot``, ``check``, ``summary``,
``port``, ``export``.

Installed as a console script (``chainrule = "chainrule.cli:main"``) and run by
``python -m chainrule``. ``main(argv)`` returns the exit status: 0 on success, 1 for
a failure (a missing dataset or checkpoint, a file that cannot be written, an
unexpected error), 2 for bad usage (flags are checked before any work), 130
after Ctrl-C (``train`` saves a checkpoint first). Every error is one line on
stderr; ``--debug`` (anywhere on the line) shows the traceback of an
unexpected one instead.
"""

from __future__ import annotations

import argparse
import sys

from chainrule.cli.common import CLIError


def build_parser() -> argparse.ArgumentParser:
    from chainrule import __version__
    from chainrule.cli import evaluate, export, port, tools, train, viz

    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train and use the neural networks of the lecture notes with chainrule.",
        epilog="Run 'chainrule COMMAND --help' for a command's flags.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error (also after the command)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train.add_parser(commands)
    evaluate.add_parsers(commands)
    viz.add_parsers(commands)
    tools.add_parsers(commands)
    port.add_parser(commands)
    export.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    from chainrule.backend.openblas import relaunch_with_avx512_kernels

    if argv is None:  # started as a program (not called from Python): it may restart with faster BLAS kernels
        relaunch_with_avx512_kernels(sys.argv[1:])
    argv, debug = _without_debug(list(sys.argv[1:] if argv is None else argv))
    command = " ".join(["chainrule", *[word for word in argv if not word.startswith("-")][:1]])
    try:
        return _run(argv)
    except CLIError as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except Exception as error:  # noqa: BLE001 - one line, not a traceback, unless --debug
        if debug:
            raise
        message = " ".join(str(error).split()) or "(no message)"
        print(
            f"{command}: error: {type(error).__name__}: {message} (--debug shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _without_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` less its ``--debug`` flags (before a ``--``), and whether there was one."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [word for word in argv[:end] if word != "--debug"] + argv[end:]
    return kept, len(kept) != len(argv)


def _run(argv: list[str]) -> int:
    from chainrule.cli import tools

    parser = build_parser()
    if argv and argv[0] in tools.TOOLS:  # the tool parses its own arguments, --help included
        return tools.run_tool(argv[0], argv[1:])
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the subcommand's parser, so the usage shown is that command's
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _limit_threads(getattr(args, "threads", None))
    return args.handler(args)


def _limit_threads(threads: int | None) -> None:
    """--threads N, else 1 thread unless an environment variable chose (see chainrule.backend.openblas for why)."""
    from chainrule.backend.openblas import set_blas_threads, user_chose_threads

    if threads is None and not user_chose_threads():
        threads = 1
    if threads is not None:
        set_blas_threads(threads)


__all__ = ["build_parser", "main"]
