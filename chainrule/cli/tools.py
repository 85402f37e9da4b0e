"""``chainrule bench``: hands over to ``chainrule.benchmarks.cli``.

A tool's module is imported only when its command runs, and gets the rest of
the command line (``--help`` included) unparsed: it provides
``main(argv: list[str]) -> int``.
"""

from __future__ import annotations

import argparse
import importlib

TOOLS = {
    "bench": ("chainrule.benchmarks.cli", "time chainrule's operations and training against NumPy and PyTorch"),
}


def add_parsers(subparsers) -> dict[str, argparse.ArgumentParser]:
    """List the tools in ``chainrule --help``; their own parsers do the parsing (see ``run_tool``)."""
    parsers = {}
    for command, (module, summary) in TOOLS.items():
        parsers[command] = subparsers.add_parser(
            command,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}: the arguments go to {module}'s main(), whose "
            f"--help lists them.",
        )
        parsers[command].add_argument("arguments", nargs="*", help=f"passed on to {module}")
    return parsers


def run_tool(command: str, arguments: list[str]) -> int:
    """Run tool ``command`` on ``arguments``; its exit status."""
    module = importlib.import_module(TOOLS[command][0])
    return int(module.main(list(arguments)) or 0)
