"""The documentation site: every tutorial script runs and its checks pass, and mkdocs builds it strictly.

Each script in docs/tutorials/ prints ``check: CLAIM: ok`` lines and exits with
status 1 if a claim fails (hand-written backprop equals backward(), the models
learn above chance, ...). Here each runs in a subprocess writing into a
temporary directory; the figures its page shows must appear there, and the
output committed under docs/tutorials/output/ must make the same checks.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = DOCS / "tutorials"
SCRIPTS = sorted(p.stem for p in TUTORIALS.glob("*.py") if not p.name.startswith("_"))
PAGES = sorted(p.stem for p in TUTORIALS.glob("*.md") if p.stem != "index")
CHECK_LINE = re.compile(r"^check: (.*): (ok|FAILED)$", re.M)


def script_environment() -> dict:
    env = dict(os.environ)
    env.update(OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONHASHSEED="0")
    return env


def run_script(name: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TUTORIALS / f"{name}.py"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=script_environment(),
    )


def figures_shown(page: str) -> list[str]:
    """The tutorial figures a page shows or includes: paths under images/tutorials/, relative to docs/."""
    text = (TUTORIALS / f"{page}.md").read_text()
    return re.findall(r"images/tutorials/[\w.-]+", text)


def test_every_tutorial_script_has_a_page_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert SCRIPTS, "no tutorial scripts found"
    for page in PAGES:
        assert page in SCRIPTS, f"docs/tutorials/{page}.md has no script {page}.py"
        assert f"tutorials/{page}.md" in nav, f"tutorials/{page}.md is not in mkdocs.yml's nav"
        text = (TUTORIALS / f"{page}.md").read_text()
        assert f'--8<-- "tutorials/{page}.py"' in text and f'--8<-- "tutorials/output/{page}.txt"' in text


@pytest.mark.parametrize("name", SCRIPTS)
def test_tutorial_runs_and_its_checks_pass(name, tmp_path):
    result = run_script(name, tmp_path)
    assert result.returncode == 0, f"{name}.py failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    output = (tmp_path / "tutorials" / "output" / f"{name}.txt").read_text()
    checks = CHECK_LINE.findall(output)
    assert checks, f"{name}.py made no checks"
    assert all(status == "ok" for _, status in checks), checks
    if name in PAGES:
        for figure in figures_shown(name):
            assert (tmp_path / figure).is_file(), f"{name}.py did not draw {figure}, which its page shows"
    # The committed output (what the page shows) makes the same checks, all passing.
    committed = (TUTORIALS / "output" / f"{name}.txt").read_text()
    assert CHECK_LINE.findall(committed) == checks, f"docs/tutorials/output/{name}.txt is stale: rerun {name}.py"


def test_pages_link_to_what_other_areas_write():
    for page in ("benchmarks.md", "distributed.md"):
        assert (DOCS / page).is_file(), f"docs/{page} is missing"
    nav = (ROOT / "mkdocs.yml").read_text()
    assert "benchmarks.md" in nav and "distributed.md" in nav


def test_the_notes_index_links_every_lecture_note():
    notes = sorted(p.name for p in (DOCS / "notes").glob("0*.md"))
    assert len(notes) == 5
    index = (DOCS / "notes" / "index.md").read_text()
    nav = (ROOT / "mkdocs.yml").read_text()
    for note in notes:
        assert f"({note})" in index and f"notes/{note}" in nav, note


def test_mkdocs_builds_strictly_offline_without_importing_torch(tmp_path):
    missing = [
        m
        for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
        if importlib.util.find_spec(m.split(".")[0]) is None
    ]
    if missing:
        pytest.skip(f"mkdocs is not installed ({', '.join(missing)} missing): pip install -e '.[docs]'")
    # A torch that refuses to be imported: the reference pages must be made from the source alone.
    fake = tmp_path / "no_torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the documentation build must not import torch')\n")
    env = script_environment()
    env["PYTHONPATH"] = os.pathsep.join([str(fake.parent), env.get("PYTHONPATH", "")])
    env["NO_MKDOCS_2_WARNING"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    site = tmp_path / "site"
    page = (site / "tutorials" / "backprop_by_hand" / "index.html").read_text()
    assert "check: the hand-written gradients equal backward()" in page  # the output is included
    assert (site / "images" / "tutorials" / "spirals_decision_regions.png").is_file()
    assert "doc-heading" in (site / "reference" / "autograd" / "index.html").read_text()
    assert "fonts.googleapis" not in (site / "index.html").read_text()
