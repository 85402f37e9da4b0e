"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(source):
    namespace: dict = {}
    exec(compile(source, str(README), "exec"), namespace)
    if "for k in range" in source:  # the training example: it must have learned
        assert namespace["loss"].item() < 0.3  # well below chance-level cross-entropy (ln 2)


def test_two_layer_example_learns_spirals():
    import sys

    sys.path.insert(0, str(README.parent / "examples"))
    from two_layer_sgd import main

    assert main(epochs=60) > 0.9
