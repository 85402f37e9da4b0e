"""The benchmark scripts run (in --quick mode, on tiny sizes); no timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["op_overhead.py", "layers.py", "mlp_epoch.py"])
def test_benchmark_quick_mode_prints_a_table(script, tmp_path):
    out = tmp_path / "result.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--no-torch"]
        + (["--json", str(out)] if script == "op_overhead.py" else []),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "|---" in result.stdout and "chainrule" in result.stdout
    if script == "op_overhead.py":
        assert out.stat().st_size > 0
