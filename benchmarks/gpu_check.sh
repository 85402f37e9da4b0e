#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, install what is missing, run the CUDA tests and the GPU
# benchmarks (chainrule on CuPy beside PyTorch on CUDA where PyTorch is present), and write a Markdown report.
#
#   bash benchmarks/gpu_check.sh [REPORT.md]          (default: gpu-report.md)
#
# Environment: PYTHON (default python3), JOBS (pytest-xdist workers, default 8), ROUNDS (benchmark rounds, 5),
# TEST_TIMEOUT and BENCH_TIMEOUT (seconds each part may take; default 1800).
set -uo pipefail
cd "$(dirname "$0")/.."
REPORT=$(realpath -m "${1:-gpu-report.md}")
PY=${PYTHON:-python3}
JOBS=${JOBS:-8}
ROUNDS=${ROUNDS:-5}
LOG=$(mktemp -d)

# ---------------------------------------------------------------- install what is missing
if ! $PY -c "import cupy" 2>/dev/null; then
  major=$(nvidia-smi 2>/dev/null | grep -o "CUDA Version: [0-9]*" | grep -o "[0-9]*$")
  echo "installing chainrule[cuda${major:-12}]" >&2
  $PY -m pip install -q -e ".[cuda${major:-12}]" pytest || { echo "could not install CuPy" >&2; exit 2; }
fi
if ! $PY -c "import chainrule" 2>/dev/null; then
  # an offline machine with NumPy and CuPy already there: use the checkout as it is
  $PY -m pip install -q --no-deps --no-build-isolation -e . 2>/dev/null || export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
$PY -c "import pytest" 2>/dev/null || $PY -m pip install -q pytest
XDIST=()
$PY -c "import xdist" 2>/dev/null && XDIST=(-n "$JOBS")

# ---------------------------------------------------------------- the CUDA tests
$PY - <<'PYTHON' > "$LOG/machine.md"
import platform, subprocess
import numpy, cupy, chainrule as cr
name = cr.cuda.get_device_name() if cr.cuda.is_available() else "no GPU seen by CuPy"
try:
    driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                            capture_output=True, text=True).stdout.strip()
except FileNotFoundError:
    driver = "unknown (no nvidia-smi)"
try:
    import torch
    torch_version = f"{torch.__version__} (CUDA available: {torch.cuda.is_available()})"
except ImportError:
    torch_version = "not installed"
print(f"- GPU: {name}, driver {driver}")
print(f"- Python {platform.python_version()}, NumPy {numpy.__version__}, CuPy {cupy.__version__}, PyTorch {torch_version}")
print(f"- CPU: {platform.processor() or platform.machine()}")
PYTHON
timeout "${TEST_TIMEOUT:-1800}" $PY -m pytest -q -p no:cacheprovider "${XDIST[@]}" -rfE -k "cuda or gpu" tests \
  > "$LOG/tests.txt" 2>&1
tests_rc=$?

# ---------------------------------------------------------------- the GPU benchmarks
timeout "${BENCH_TIMEOUT:-1800}" $PY -m chainrule.benchmarks.gpu --rounds "$ROUNDS" --out "$LOG/bench.md" \
  > "$LOG/bench.txt" 2>&1
bench_rc=$?

# ---------------------------------------------------------------- the report
{
  echo "# GPU check"
  echo
  echo "Run on $(date -u +%Y-%m-%d) by \`benchmarks/gpu_check.sh\`."
  echo
  cat "$LOG/machine.md"
  echo
  echo "## CUDA tests"
  echo
  echo "\`python -m pytest -k \"cuda or gpu\" tests\` (exit status $tests_rc):"
  echo
  echo '```'
  grep -E "^(FAILED|ERROR)" "$LOG/tests.txt" | head -60
  tail -1 "$LOG/tests.txt"
  echo '```'
  echo
  echo "## Benchmarks"
  echo
  echo "\`python -m chainrule.benchmarks.gpu --rounds $ROUNDS\` (exit status $bench_rc): median ms per call over"
  echo "$ROUNDS alternating rounds; ratio = median of the per-round ratios chainrule/PyTorch (below 1: chainrule faster)."
  echo
  if [ $bench_rc -eq 0 ]; then cat "$LOG/bench.md"; else echo '```'; tail -30 "$LOG/bench.txt"; echo '```'; fi
} > "$REPORT"
cp "$LOG/tests.txt" "${REPORT%.md}-tests.log"
echo "report: $REPORT"
[ $tests_rc -eq 0 ] && [ $bench_rc -eq 0 ]
