"""``chainrule bench``: hands over to ``chainrule.benchmarks``.

Those packages are imported only when their command runs, and get the rest of
the command line (``--help`` included) unparsed: each provides
``main(argv: list[str]) -> int``, in its ``cli`` module or the package itself.
Until one does, its command says it is not available and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

TOOLS = {
    "bench": ("chainrule.benchmarks", "time chainrule's operations and training against NumPy and PyTorch"),
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


def _find_main(module_name: str):
    for name in (f"{module_name}.cli", module_name):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # this module does not exist (yet); a missing dependency inside it is a real error
            raise
        main = getattr(module, "main", None)
        if callable(main):
            return main
    return None


def run_tool(command: str, arguments: list[str], parser: argparse.ArgumentParser) -> int:
    """Run tool ``command`` on ``arguments``; its exit status."""
    module_name = TOOLS[command][0]
    main = _find_main(module_name)
    if main is not None:
        return int(main(list(arguments)) or 0)
    if arguments in (["-h"], ["--help"]):
        parser.print_help()
        print(f"\n{module_name} is not part of this chainrule yet.")
        return 0
    print(f"chainrule {command}: not available yet ({module_name} is not part of this chainrule)", file=sys.stderr)
    return 2
