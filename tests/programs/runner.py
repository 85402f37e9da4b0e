"""Run a PyTorch program of this folder on torch and, ported by ``port_source``, on chainrule; compare the curves.

Each program prints one ``step N loss X`` line per logged step. The two runs
cannot agree number for number: chainrule's random generator is not torch's,
so the initial weights, dropout masks and shuffles differ. What a correct
port must reproduce is the *behaviour* of the curve, measured against how much
torch's own curve moves when only its seed changes:

- the same logged steps, every loss finite;
- the first and the last logged loss each within ``SPREAD_FACTOR`` times the
  seed-to-seed spread of torch's (max - min over ``CALIBRATION_SEEDS``, stored
  in ``bands.json``) plus ``RELATIVE_FLOOR`` of torch's value, of the live
  torch run's;
- where torch's loss falls by at least ``DECREASE`` under every seed, chainrule's
  falls too.

``python tests/programs/runner.py --calibrate [NAME...]`` reruns torch under the
calibration seeds and rewrites ``bands.json`` (needs torch; a few minutes).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS_DIR = Path(__file__).resolve().parent
ROOT = PROGRAMS_DIR.parents[1]
BANDS_FILE = PROGRAMS_DIR / "bands.json"
TIMEOUT_S = 120

# The arguments each program is tested with: a short run that still shows learning.
TEST_ARGS = {
    "mlp_spirals": ["--steps", "60", "--log-interval", "10"],
    "mnist_convnet": ["--steps", "40", "--log-interval", "10"],
    "char_rnn": ["--steps", "40", "--log-interval", "10"],
    "vae": ["--steps", "60", "--log-interval", "10"],
    "gpt": ["--steps", "40", "--log-interval", "10"],
    "gan": ["--steps", "60", "--log-interval", "10"],
    "seq2seq_transformer": ["--steps", "40", "--log-interval", "10"],
    "resnet": ["--steps", "30", "--log-interval", "10"],
    "lbfgs_regression": ["--steps", "10", "--log-interval", "1"],
    "gru_tagger": ["--steps", "40", "--log-interval", "10"],
    "dataset_checkpoint": ["--steps", "40", "--log-interval", "10"],
    "forward_forward": ["--steps", "40", "--log-interval", "10"],
    "pinn": ["--steps", "40", "--log-interval", "10"],
    "retain_grad_inplace": ["--steps", "60", "--log-interval", "10"],
}
CALIBRATION_SEEDS = (0, 1, 2, 3, 4)
TEST_SEED = 1
SPREAD_FACTOR = 2.0
RELATIVE_FLOOR = 0.1
DECREASE = 0.1  # "the loss falls": last < first - DECREASE * |first|

TORCH_BLOCKED = "the chainrule run of a program imported torch"
_STEP_LINE = re.compile(r"^step (\d+) loss (\S+)", re.MULTILINE)


@dataclass
class Run:
    """One finished run of a program: its exit status, output and parsed loss curve."""

    framework: str
    returncode: int | None
    stdout: str
    stderr: str
    curve: list[tuple[int, float]] = field(default_factory=list)

    def failure(self) -> str | None:
        """Why the run counts as failed (non-zero exit, timeout, no curve); None when it ran cleanly."""
        if self.returncode is None:
            return f"{self.framework}: timed out after {TIMEOUT_S} s"
        if self.returncode != 0:
            tail = "\n".join(self.stderr.strip().splitlines()[-6:])
            return f"{self.framework}: exit status {self.returncode}\n{tail}"
        if not self.curve:
            return f"{self.framework}: printed no 'step N loss X' line"
        return None


def parse_curve(stdout: str) -> list[tuple[int, float]]:
    """The ``(step, loss)`` pairs of the ``step N loss X`` lines of a program's output."""
    return [(int(step), float(loss)) for step, loss in _STEP_LINE.findall(stdout)]


def program_source(name: str, framework: str, mutate=None) -> str:
    """The program's text, ported to chainrule for ``framework == "chainrule"``, then passed through ``mutate``."""
    text = (PROGRAMS_DIR / f"{name}.py").read_text()
    if framework == "chainrule":
        from chainrule.cli.port import port_source

        text, _ = port_source(text)
    return mutate(text) if mutate else text


def start(name: str, framework: str, args: list[str], workdir: Path, mutate=None) -> subprocess.Popen:
    """Start the program (as ``workdir/NAME.py``, in ``workdir``) with one BLAS thread.

    A chainrule run finds a ``torch`` module beside the script that refuses to
    load, so a port that left a torch import behind fails instead of running on torch.
    """
    script = Path(workdir) / f"{name}.py"
    script.write_text(program_source(name, framework, mutate))
    if framework == "chainrule":
        Path(workdir, "torch.py").write_text(f"raise ImportError({TORCH_BLOCKED!r})\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, framework: str, timeout: float = TIMEOUT_S) -> Run:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        return Run(framework, None, stdout, stderr)
    return Run(framework, process.returncode, stdout, stderr, parse_curve(stdout))


def run_program(name: str, framework: str, args: list[str], mutate=None) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"{name}-{framework}-") as workdir:
        return finish(start(name, framework, args, Path(workdir), mutate), framework)


def run_both(name: str, args: list[str], mutate=None) -> tuple[Run, Run | None]:
    """Run the torch and chainrule versions side by side: (chainrule's run, torch's run).

    Torch's run is None when chainrule's failed: it is stopped, since there is nothing to compare.
    """
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as workdir:
        torch_dir, chainrule_dir = Path(workdir, "torch"), Path(workdir, "chainrule")
        torch_dir.mkdir(), chainrule_dir.mkdir()
        torch_process = start(name, "torch", args, torch_dir)
        chainrule_run = finish(start(name, "chainrule", args, chainrule_dir, mutate), "chainrule")
        if chainrule_run.failure():
            torch_process.kill()
            torch_process.communicate()
            return chainrule_run, None
        return chainrule_run, finish(torch_process, "torch")


# ---------------------------------------------------------------------- comparing curves
def tolerance(values: list[float], reference: float) -> float:
    """How far a curve point may be from torch's: SPREAD_FACTOR x torch's seed spread + RELATIVE_FLOOR x |torch|."""
    return SPREAD_FACTOR * (max(values) - min(values)) + RELATIVE_FLOOR * abs(reference)


def falls(first: float, last: float) -> bool:
    return last < first - DECREASE * abs(first)


def compare_curves(torch_curve, chainrule_curve, band: dict) -> list[str]:
    """What is wrong with chainrule's curve next to torch's, given torch's seed spread ``band``; [] if nothing."""
    problems = []
    if [s for s, _ in chainrule_curve] != [s for s, _ in torch_curve]:
        return [
            f"logged steps differ: chainrule {[s for s, _ in chainrule_curve]}, torch {[s for s, _ in torch_curve]}"
        ]
    if not all(math.isfinite(loss) for _, loss in chainrule_curve):
        return [f"chainrule's loss is not finite: {chainrule_curve}"]
    for label, index in (("first", 0), ("last", -1)):
        ours, theirs = chainrule_curve[index][1], torch_curve[index][1]
        allowed = tolerance(band[label], theirs)
        if abs(ours - theirs) > allowed:
            problems.append(
                f"{label} loss {ours:.5g} is {abs(ours - theirs):.3g} from torch's {theirs:.5g} "
                f"(allowed {allowed:.3g}; torch over seeds: {min(band[label]):.5g}..{max(band[label]):.5g})"
            )
    torch_always_falls = all(falls(f, l) for f, l in zip(band["first"], band["last"]))
    if torch_always_falls and not falls(chainrule_curve[0][1], chainrule_curve[-1][1]):
        problems.append(f"loss does not fall: {chainrule_curve[0][1]:.5g} -> {chainrule_curve[-1][1]:.5g}")
    return problems


def load_bands() -> dict:
    return json.loads(BANDS_FILE.read_text())


# ---------------------------------------------------------------------- calibration
def calibrate(names: list[str], seeds=CALIBRATION_SEEDS) -> dict:
    """First and last logged loss of torch's run of each program under each seed (two runs at a time)."""
    bands = load_bands() if BANDS_FILE.exists() else {}
    for name in names:
        runs = []
        for pair in (seeds[i : i + 2] for i in range(0, len(seeds), 2)):
            with tempfile.TemporaryDirectory() as workdir:
                processes = []
                for seed in pair:
                    folder = Path(workdir, str(seed))
                    folder.mkdir()
                    args = [*TEST_ARGS[name], "--seed", str(seed)]
                    processes.append(start(name, "torch", args, folder))
                runs += [finish(process, "torch") for process in processes]
        for run in runs:
            if run.failure():
                raise RuntimeError(f"{name}: {run.failure()}")
        bands[name] = {
            "args": TEST_ARGS[name],
            "seeds": list(seeds),
            "first": [run.curve[0][1] for run in runs],
            "last": [run.curve[-1][1] for run in runs],
        }
        print(name, json.dumps(bands[name]), flush=True)
        BANDS_FILE.write_text(json.dumps(bands, indent=1, sort_keys=True) + "\n")
    return bands


if __name__ == "__main__":
    if sys.argv[1:2] != ["--calibrate"]:
        sys.exit("usage: python tests/programs/runner.py --calibrate [NAME...]")
    calibrate(sys.argv[2:] or sorted(TEST_ARGS))
