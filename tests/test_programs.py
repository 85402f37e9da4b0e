"""Real PyTorch-style training programs (tests/programs/) run on torch and, ported, on chainrule.

Each program runs twice side by side, as written on torch and as rewritten by
``chainrule.cli.port.port_source`` on chainrule, and the two loss curves are
compared with ``programs.runner.compare_curves``: same logged steps, finite,
first and last loss within a band set by torch's own seed-to-seed spread
(``tests/programs/bands.json``, from ``python tests/programs/runner.py
--calibrate``), and falling wherever torch's falls under every seed. The
negative controls (learning rate 0; gradient ascent) show that the comparison
rejects a port that does not learn.
"""

import ast
import math

import pytest
from harness import needs_torch
from programs.runner import (
    BANDS_FILE,
    PROGRAMS_DIR,
    TEST_ARGS,
    TEST_SEED,
    TORCH_BLOCKED,
    Run,
    compare_curves,
    load_bands,
    run_both,
    run_program,
)

from chainrule.cli.port import port_source

# Programs that need PyTorch names chainrule does not have yet: name -> the missing names.
MISSING: dict[str, str] = {}
ALLOWED_IMPORTS = {"torch", "numpy", "argparse", "math", "time"}
CONTROL_PROGRAM = "pinn"


def program_params():
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=False, reason=f"chainrule lacks {MISSING[name]}"))
        if name in MISSING
        else name
        for name in sorted(TEST_ARGS)
    ]


def arguments(name: str, *extra: str) -> list[str]:
    return [*TEST_ARGS[name], "--seed", str(TEST_SEED), *extra]


_torch_runs: dict[str, Run] = {}  # torch's run of each program, kept for the negative controls


def torch_run(name: str) -> Run:
    """Torch's run of a program with the test arguments (the comparison's if it ran, else a new one)."""
    if name not in _torch_runs:
        _torch_runs[name] = run_program(name, "torch", arguments(name))
    return _torch_runs[name]


def test_every_program_has_test_arguments_and_a_calibrated_band():
    programs = {path.stem for path in PROGRAMS_DIR.glob("*.py")} - {"runner", "__init__"}
    assert len(programs) >= 12
    assert programs == set(TEST_ARGS)
    bands = load_bands()
    assert set(bands) == programs, f"rerun: python tests/programs/runner.py --calibrate (see {BANDS_FILE.name})"
    for name, band in bands.items():
        assert band["args"] == TEST_ARGS[name], f"{name}: band calibrated with other arguments; recalibrate"


@pytest.mark.parametrize("name", sorted(TEST_ARGS))
def test_programs_import_only_torch_numpy_and_the_standard_library_basics(name):
    tree = ast.parse((PROGRAMS_DIR / f"{name}.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add(node.module.split(".")[0])
    assert "torch" in roots and roots <= ALLOWED_IMPORTS, roots


@pytest.mark.parametrize("name", program_params())
def test_port_finds_every_name_a_program_uses_in_chainrule(name):
    _, missing = port_source((PROGRAMS_DIR / f"{name}.py").read_text())
    assert [str(entry) for entry in missing] == []


@needs_torch
@pytest.mark.parametrize("name", program_params())
def test_program_ported_to_chainrule_trains_like_torch(name):
    chainrule_run, reference = run_both(name, arguments(name))
    assert chainrule_run.failure() is None, chainrule_run.failure()
    assert reference.failure() is None, reference.failure()
    _torch_runs[name] = reference
    problems = compare_curves(reference.curve, chainrule_run.curve, load_bands()[name])
    curves = f"torch {reference.curve}\nchainrule {chainrule_run.curve}"
    assert problems == [], f"{name}:\n" + "\n".join(problems) + "\n" + curves


def gradient_ascent(text: str) -> str:
    """The program with the sign of its gradient flipped: it climbs the loss."""
    assert text.count("loss.backward()") == 1
    return text.replace("loss.backward()", "(-loss).backward()")


NEGATIVE_CONTROLS = {"learning rate 0": dict(extra=("--lr", "0")), "gradient ascent": dict(mutate=gradient_ascent)}


@needs_torch
@pytest.mark.parametrize("control", sorted(NEGATIVE_CONTROLS))
def test_the_comparison_rejects_a_broken_port(control):
    spec = NEGATIVE_CONTROLS[control]
    broken = run_program(
        CONTROL_PROGRAM, "chainrule", arguments(CONTROL_PROGRAM, *spec.get("extra", ())), mutate=spec.get("mutate")
    )
    assert broken.failure() is None, broken.failure()
    reference = torch_run(CONTROL_PROGRAM)
    assert reference.failure() is None, reference.failure()
    problems = compare_curves(reference.curve, broken.curve, load_bands()[CONTROL_PROGRAM])
    assert problems, f"the broken run ({control}) passed the comparison: {broken.curve}"


def test_a_chainrule_run_cannot_fall_back_on_torch():
    unported = run_program(
        CONTROL_PROGRAM, "chainrule", arguments(CONTROL_PROGRAM), mutate=lambda text: text.replace("chainrule", "torch")
    )
    assert unported.returncode != 0 and TORCH_BLOCKED in unported.stderr


BAND = {"first": [2.0, 2.2, 2.1], "last": [0.5, 0.6, 0.55]}  # torch's spread: 0.2 first, 0.1 last
TORCH_CURVE = [(1, 2.1), (10, 1.0), (20, 0.55)]


@pytest.mark.parametrize(
    "chainrule_curve, expected",
    [
        (TORCH_CURVE, None),
        ([(1, 2.4), (10, 1.3), (20, 0.70)], None),  # within 2 x spread + 10 %
        ([(1, 2.1), (10, 1.0)], "logged steps differ"),
        ([(1, 2.1), (10, math.nan), (20, 0.55)], "not finite"),
        ([(1, 3.5), (10, 1.0), (20, 0.55)], "first loss"),
        ([(1, 2.1), (10, 2.0), (20, 2.05)], "does not fall"),
    ],
)
def test_compare_curves_on_made_up_curves(chainrule_curve, expected):
    problems = compare_curves(TORCH_CURVE, chainrule_curve, BAND)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in problem for problem in problems), problems
