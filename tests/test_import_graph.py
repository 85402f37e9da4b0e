"""The package's import structure: dependencies point one way, and the core imports alone.

* Each module of the core (``chainrule.backend.*``, ``chainrule.tensor``,
  ``chainrule.autograd.*``, ``chainrule.ops.*``) imports on its own in a fresh
  interpreter, without ``chainrule/__init__.py`` having imported the rest first
  (a cycle that works only in one import order fails here).
* The graph of module-level imports (read from the source, not run) is acyclic.
* ``chainrule.tensor`` imports nothing of chainrule but the backend.
* An import inside a function hides an edge of that graph, so one that imports
  chainrule must say why on its line or the line above (a comment: it breaks a
  cycle, the module is heavy or optional, ...).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chainrule"
CORE = ("chainrule.backend", "chainrule.tensor", "chainrule.autograd", "chainrule.ops")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _module_level_imports(tree: ast.Module):
    """The import statements that run when the module is imported (not those inside functions or classes)."""
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            pending.extend(node.body + node.orelse + getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)


def _imported_modules(module: str, node) -> set[str]:
    """The chainrule modules an import statement of ``module`` names (a submodule when one is imported by name)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if node.module else package
    return {f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names}


def import_graph() -> dict[str, set[str]]:
    """Module -> the chainrule modules its module-level imports name."""
    graph = {}
    for module, path in MODULES.items():
        targets = set()
        for node in _module_level_imports(ast.parse(path.read_text())):
            targets |= _imported_modules(module, node)
        graph[module] = {target for target in targets if target in MODULES and target != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None (an iterative depth-first search)."""
    state: dict[str, str] = {}  # "active" while on the path, "done" after
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        branches = [iter(sorted(graph[start]))]
        state[start] = "active"
        while branches:
            child = next(branches[-1], None)
            if child is None:
                state[path.pop()] = "done"
                branches.pop()
            elif state.get(child) == "active":
                return path[path.index(child) :] + [child]
            elif child not in state:
                state[child] = "active"
                path.append(child)
                branches.append(iter(sorted(graph[child])))
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"d2"}, "d2": {"d"}}) == ["d", "d2", "d"]


def test_the_module_level_import_graph_is_acyclic():
    cycle = find_cycle(import_graph())
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


def test_the_tensor_module_imports_only_the_backend():
    imported = import_graph()["chainrule.tensor"]
    assert imported and all(name.startswith("chainrule.backend") for name in imported), imported


def test_the_graph_sees_the_core_edges():
    """A check of the graph reader itself: edges that must be there are found."""
    graph = import_graph()
    assert "chainrule.tensor" in graph["chainrule.autograd.function"]
    assert "chainrule.ops.casting" in graph["chainrule.ops.elementwise"]
    assert "chainrule.ops.elementwise" in graph["chainrule.ops"]  # `from chainrule.ops import elementwise`


def _function_level_imports(path: Path):
    """(line number, source line, line above) of each import of chainrule inside a function or class."""
    tree = ast.parse(path.read_text())
    module_level = {id(node) for node in _module_level_imports(tree)}
    lines = path.read_text().splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in module_level:
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if getattr(node, "level", 0) or any(name.split(".")[0] == "chainrule" for name in names):
                above = lines[node.lineno - 2] if node.lineno > 1 else ""
                yield node.lineno, lines[node.lineno - 1], above


# Folders whose imports inside functions are all there for one stated reason.
LAZY_BY_DESIGN = {
    "chainrule/cli/": "each subcommand imports what it runs when it runs, so `chainrule --help` starts fast",
    "chainrule/benchmarks/": "each workload imports its models and the MPI layer only when it is run",
}


def test_every_function_level_import_of_chainrule_says_why():
    unexplained = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in MODULES.values()
        if not str(path.relative_to(ROOT)).startswith(tuple(LAZY_BY_DESIGN))
        for number, line, above in _function_level_imports(path)
        if "#" not in line and not above.strip().startswith("#")
    ]
    assert not unexplained, "imports inside functions without a comment saying why:\n" + "\n".join(unexplained)


def core_modules() -> list[str]:
    return sorted(name for name in MODULES if name.startswith(CORE))


# Run in a fresh interpreter: `chainrule` is registered as a bare package, so its
# __init__ (which imports everything in a fixed order) does not run first.
_IMPORT_ALONE = """
import importlib, sys, types
package = types.ModuleType("chainrule")
package.__path__ = [{path!r}]
sys.modules["chainrule"] = package
importlib.import_module({module!r})
"""


def test_each_core_module_imports_alone_in_a_fresh_interpreter():
    assert "chainrule.ops.elementwise" in core_modules() and "chainrule.tensor" in core_modules()
    runs = {
        module: subprocess.Popen(
            [sys.executable, "-c", _IMPORT_ALONE.format(path=str(PACKAGE), module=module)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for module in core_modules()
    }
    failures = {}
    for module, run in runs.items():
        output, _ = run.communicate(timeout=120)
        if run.returncode != 0:
            failures[module] = output.strip().splitlines()[-1]
    assert not failures, "modules that fail to import alone: " + "; ".join(f"{m}: {e}" for m, e in failures.items())


@pytest.mark.parametrize("module", ["chainrule.tensor", "chainrule.ops.elementwise"])
def test_the_plain_import_works_too(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True, timeout=120)
