"""``chainrule port``: turn a PyTorch script into a chainrule script, and list what chainrule lacks.

The script is parsed with :mod:`ast`, never run. Only the text of its import
statements changes, so formatting and comments survive::

    import torch                      ->  import chainrule as torch
    import torch.nn.functional as F   ->  import chainrule.nn.functional as F
    from torch.utils.data import X    ->  from chainrule.utils.data import X
    import torch.nn                   ->  import chainrule.nn, chainrule as torch

Every name the script reaches through a binding of a torch module or object
(``torch.fft.rfft``, ``F.scaled_dot_product_attention``, ``nn.Transformer``,
``from torch.nn import LSTMCell``) is then looked up in chainrule by importing
chainrule's own modules (torch need not be installed). What is not found is
reported with its line, as are imports of torchvision, torchaudio, torchtext
and Lightning, which chainrule does not provide. A chain through a submodule
that ``import chainrule`` does not load (judged in a fresh interpreter), and
that no import of the script loads, is reported too: on chainrule it would
raise AttributeError. Names reached through values (``model.foo``,
``torch.randn(3).bar()``) are not checked: that needs types.

Python API: ``port_source(text) -> (new_text, missing)``; ``port_file(path)``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

TORCH = "torch"
CHAINRULE = "chainrule"
NOT_PROVIDED = ("torchvision", "torchaudio", "torchtext", "lightning", "pytorch_lightning", "torchmetrics")


@dataclass(frozen=True, order=True)
class MissingName:
    """A name the script uses that chainrule lacks: its line, torch's full name, and why."""

    line: int
    name: str
    reason: str = "not in chainrule"

    def __str__(self) -> str:
        return f"{self.line}: {self.name} \u2014 {self.reason}"


@dataclass(frozen=True)
class _Edit:
    start: int  # character offsets into the source text
    end: int
    text: str


# ---------------------------------------------------------------------- the public API
def port_source(text: str) -> tuple[str, list[MissingName]]:
    """The script ``text`` with its torch imports rewritten to chainrule, and the names chainrule lacks.

    ``missing`` is sorted by line, one entry per (line, name). Raises SyntaxError
    when ``text`` is not Python.
    """
    tree = ast.parse(text)
    offsets = _SourceOffsets(text)
    edits: list[_Edit] = []
    names = _TorchNames()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            edits += _import_edits(node, offsets)
            names.bind_import(node)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            edits += _import_from_edits(node, offsets, text)
            names.bind_import_from(node)
    names.check_attribute_chains(tree)  # after every import: the script runs its imports before using them
    return _apply(text, edits), sorted(names.missing)


def port_file(path: str | os.PathLike) -> tuple[str, str, list[MissingName], str]:
    """Read and port the script at ``path``: (old text, new text, missing names, encoding).

    Raises OSError when it cannot be read, SyntaxError or UnicodeDecodeError when it is not Python.
    """
    raw = Path(path).read_bytes()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    old = raw.decode(encoding)  # line endings kept as they are: nothing is translated
    new, missing = port_source(old)
    return old, new, missing, encoding


# ---------------------------------------------------------------------- rewriting the imports
class _SourceOffsets:
    """Character offsets of ast positions (line numbers from 1, columns in UTF-8 bytes)."""

    def __init__(self, text: str):
        self.lines = io.StringIO(text, newline="").readlines()  # splits at \n, \r\n and \r, as the parser does
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def __call__(self, lineno: int, col_offset: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col_offset].decode("utf-8"))


def _root(dotted: str) -> str:
    return dotted.split(".", 1)[0]


def _import_edits(node: ast.Import, offsets: _SourceOffsets) -> list[_Edit]:
    """``import torch[.sub] [as name]`` -> the same import of chainrule, still bound to the same name."""
    edits = []
    for alias in node.names:
        if _root(alias.name) != TORCH:
            continue
        start = offsets(alias.lineno, alias.col_offset)
        if alias.asname or alias.name == TORCH:
            suffix = "" if alias.asname else f" as {TORCH}"
            edits.append(_Edit(start, start + len(TORCH), CHAINRULE + suffix))
        else:  # `import torch.nn` binds `torch` and loads torch.nn: do both
            end = offsets(alias.end_lineno, alias.end_col_offset)
            submodule = CHAINRULE + alias.name[len(TORCH) :]
            edits.append(_Edit(start, end, f"{submodule}, {CHAINRULE} as {TORCH}"))
    return edits


def _import_from_edits(node: ast.ImportFrom, offsets: _SourceOffsets, text: str) -> list[_Edit]:
    """``from torch.x import ...`` -> ``from chainrule.x import ...`` (only the package name changes)."""
    if _root(node.module) != TORCH:
        return []
    start = offsets(node.lineno, node.col_offset)
    # only blanks and backslash continuations may stand between `from` and the module's name
    found = re.compile(r"from(?:[ \t\f]|\\\r?\n|\\\r)+").match(text, start)
    name_start = found.end()
    return [_Edit(name_start, name_start + len(TORCH), CHAINRULE)]


def _apply(text: str, edits: list[_Edit]) -> str:
    pieces, position = [], 0
    for edit in sorted(edits, key=lambda e: e.start):
        pieces += [text[position : edit.start], edit.text]
        position = edit.end
    return "".join(pieces) + text[position:]


# ---------------------------------------------------------------------- finding the missing names
def _canonical(dotted: str) -> str | None:
    """torch's name for a dotted module path of torch or chainrule (an already ported script); else None."""
    root = _root(dotted)
    if root == TORCH:
        return dotted
    if root == CHAINRULE:
        return TORCH + dotted[len(CHAINRULE) :]
    return None


def _not_provided(node: ast.stmt, module: str) -> set[MissingName]:
    root = _root(module)
    return {MissingName(node.lineno, root, "not provided by chainrule")} if root in NOT_PROVIDED else set()


class _TorchNames:
    """The script's names bound to torch, the chainrule modules its imports load, and what is missing."""

    def __init__(self):
        self.bindings: dict[str, str] = {}  # local name -> torch's dotted name of what it is bound to
        self.loaded: set[str] = set(_loaded_by_import_chainrule())  # chainrule modules loaded when the script runs
        self.missing: set[MissingName] = set()

    def _import(self, line: int, name: str) -> None:
        loaded = _import_chainrule_name(name)
        if loaded is None:
            self.missing.add(MissingName(line, name))
        else:
            self.loaded.update(loaded)

    def bind_import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.missing |= _not_provided(node, alias.name)
            name = _canonical(alias.name)
            if name is not None:
                self.bindings[alias.asname or TORCH] = name if alias.asname else TORCH
                self._import(node.lineno, name)

    def bind_import_from(self, node: ast.ImportFrom) -> None:
        self.missing |= _not_provided(node, node.module)
        module = _canonical(node.module)
        if module is None:
            return
        for alias in node.names:
            if alias.name == "*":  # what the star brings in is not known without running it
                self._import(node.lineno, module)
            else:
                self.bindings[alias.asname or alias.name] = f"{module}.{alias.name}"
                self._import(alias.lineno, f"{module}.{alias.name}")

    def check_attribute_chains(self, tree: ast.AST) -> None:
        """Check each longest ``name.a.b.c`` whose ``name`` is bound to torch."""
        inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or id(node) in inner:
                continue
            parts, base = [], node
            while isinstance(base, ast.Attribute):
                parts.append(base.attr)
                base = base.value
            if not isinstance(base, ast.Name) or base.id not in self.bindings:
                continue
            parts.reverse()
            if not isinstance(node.ctx, ast.Load):  # `torch.backends.cudnn.benchmark = True` needs only the owner
                parts = parts[:-1]
            name = ".".join([self.bindings[base.id], *parts])
            reason = self._attribute_missing(name)
            if reason:
                self.missing.add(MissingName(node.lineno, name, reason))

    def _attribute_missing(self, name: str) -> str | None:
        """Why the attribute chain torch's ``name`` fails on chainrule when the script runs (None: it works).

        Attribute access loads no module: after a bare ``import torch``,
        ``torch.distributed.get_rank`` works on chainrule only if importing chainrule,
        or an import of the script, has loaded ``chainrule.distributed``.
        """
        components = name.split(".")
        found = importlib.import_module(CHAINRULE)
        for count, component in enumerate(components[1:], start=2):
            if hasattr(found, component):
                found = getattr(found, component)
                if not _is_chainrule_module(found) or found.__name__ in self.loaded:
                    continue
            elif not (isinstance(found, ModuleType) and _has_submodule(found, component)):
                return "not in chainrule"
            return f"chainrule loads it only after `import {'.'.join(components[:count])}`"
        return None


@cache
def _import_chainrule_name(name: str) -> tuple[str, ...] | None:
    """Import on chainrule what an import statement naming torch's dotted ``name`` imports.

    The names of the chainrule modules it loads, or None when the import would fail.
    As in Python, ``from torch.a import b`` loads ``chainrule.a`` and, when ``b`` is no
    attribute of it, the submodule ``chainrule.a.b``.
    """
    found = importlib.import_module(CHAINRULE)
    loaded = [found.__name__]
    for component in name.split(".")[1:]:
        if hasattr(found, component):
            found = getattr(found, component)
        elif isinstance(found, ModuleType):
            try:
                found = importlib.import_module(f"{found.__name__}.{component}")
            except ImportError:
                return None
        else:
            return None
        if isinstance(found, ModuleType):
            loaded.append(found.__name__)
    return tuple(loaded)


def _is_chainrule_module(value) -> bool:
    return isinstance(value, ModuleType) and _root(value.__name__) == CHAINRULE


def _has_submodule(module: ModuleType, name: str) -> bool:
    try:
        return importlib.util.find_spec(f"{module.__name__}.{name}") is not None
    except (ImportError, ValueError):  # module is no package
        return False


@cache
def _loaded_by_import_chainrule() -> frozenset[str]:
    """The chainrule modules that ``import chainrule`` loads, measured in a fresh interpreter.

    This process may have loaded more (the command's own modules, earlier lookups),
    which a ported script's ``torch.x.y`` cannot count on.
    """
    package_parent = str(Path(importlib.import_module(CHAINRULE).__file__).resolve().parents[1])
    probe = "import sys, chainrule; print('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'chainrule'))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"chainrule port: importing chainrule failed:\n{done.stderr.strip()}")
    return frozenset(done.stdout.split())


# ---------------------------------------------------------------------- the command
def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "port",
        help="rewrite a PyTorch script's imports to chainrule and list the torch names chainrule lacks",
        description=(
            "Rewrite the torch imports of PyTorch scripts to chainrule (import torch -> import chainrule as "
            "torch, ...) and print the change as a unified diff, or apply it with --write. Then list, with "
            "line numbers, every torch name the scripts use that chainrule lacks. The scripts are parsed, "
            "never run. Exit status: 0 when every name resolves, 1 when names are missing and --check is "
            "given, 2 for a file that cannot be read or is not Python."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="PyTorch scripts (.py)")
    parser.add_argument("--write", action="store_true", help="rewrite the files in place (atomically)")
    parser.add_argument("--check", action="store_true", help="print no diff; exit with status 1 if any name is missing")
    parser.set_defaults(handler=run_port, command_parser=parser)
    return parser


def run_port(args: argparse.Namespace) -> int:
    """Port each of ``args.files``; the exit status (see the parser's description)."""
    unreadable = any_missing = False
    for path in args.files:
        try:
            old, new, missing, encoding = port_file(path)
        except OSError as error:
            print(f"chainrule port: {path}: cannot read: {error.strerror or error}", file=sys.stderr)
            unreadable = True
            continue
        except (SyntaxError, UnicodeDecodeError, ValueError) as error:
            where = f" (line {error.lineno})" if getattr(error, "lineno", None) else ""
            print(f"chainrule port: {path}: not a Python file{where}: {_message(error)}", file=sys.stderr)
            unreadable = True
            continue
        if args.write and new != old:
            _write_atomically(path, new, encoding)
            print(f"rewrote {path}", file=sys.stderr)
        elif not args.write and not args.check:
            sys.stdout.writelines(_unified_diff(path, old, new))
        for entry in missing:
            print(f"{path}:{entry}", file=sys.stderr)
        any_missing = any_missing or bool(missing)
    if unreadable:
        return 2
    return 1 if args.check and any_missing else 0


def _message(error: Exception) -> str:
    return error.msg if isinstance(error, SyntaxError) else str(error)


def _unified_diff(path: str, old: str, new: str) -> list[str]:
    lines = difflib.unified_diff(
        io.StringIO(old, newline="").readlines(),
        io.StringIO(new, newline="").readlines(),
        fromfile=_diff_name("a", path),
        tofile=_diff_name("b", path),
    )
    return [line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines]


def _diff_name(side: str, path: str) -> str:
    """git's a/ and b/ prefixes on relative paths (for ``patch -p1``); absolute paths as they are."""
    return path if os.path.isabs(path) else f"{side}/{path}"


def _write_atomically(path: str, text: str, encoding: str) -> None:
    from chainrule.serialization import atomic_open

    target = os.path.realpath(path)  # through a symlink, so that the link stays a link
    permissions = os.stat(target).st_mode & 0o7777
    with atomic_open(target, "wb", permissions=permissions) as file:
        file.write(text.encode(encoding))


__all__ = ["MissingName", "add_parser", "port_file", "port_source", "run_port"]
