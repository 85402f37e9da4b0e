"""Differential fuzzing against PyTorch: no silent wrong result, every rejection names the function.

``tests/fuzz/cases.py`` draws cases (elementwise ops with broadcasting,
reductions, shape ops, indexing, the matmul family, layers, losses,
optimizer steps) over 0-d and empty shapes, bool/int/float16/float32/float64,
special values and non-contiguous inputs; ``tests/fuzz/run.py`` runs each on
chainrule and on torch and classifies the outcome. A fixed seed and
``CHAINRULE_FUZZ_CASES`` cases (2500 by default) run here; to explore more::

    CHAINRULE_FUZZ_CASES=20000 CHAINRULE_FUZZ_SEED=7 python -m pytest -q tests/test_fuzz.py
    python tests/fuzz/run.py 20000 7        # the counts and examples of each kind of difference
"""

from __future__ import annotations

import os
import re

import pytest
from harness import needs_torch

pytestmark = needs_torch

CASES = int(os.environ.get("CHAINRULE_FUZZ_CASES", "2500"))
SEED = int(os.environ.get("CHAINRULE_FUZZ_SEED", "0"))

# The accepted differences: (kind of difference, pattern of its description, why it is accepted).
ACCEPTED = [
    (
        "accepts",
        r"not implemented for '(Bool|Long|Int)'|Boolean inputs not supported|does not support bool input"
        r"|Integral inputs not supported|with a bool tensor is not supported",
        "chainrule computes these ops on bool and integer tensors (NumPy's rules) where PyTorch's CPU kernels "
        "have no such variant; a program that runs under PyTorch never reaches them",
    ),
    (
        "accepts",
        r"^binary_cross_entropy\[.*Found dtype \w+ but expected \w+",
        "binary_cross_entropy converts the target to the input's dtype instead of refusing a mismatch",
    ),
    (
        "dtype",
        r"^binary_cross_entropy_with_logits\[.*\((float\d+)\[.*, (?!\1)float\d+\[",
        "with input and target of different float dtypes PyTorch's result takes the target's dtype (an "
        "artifact of its kernel); chainrule promotes the two, as every other binary op does",
    ),
    (
        "rejects",
        r"^pow\(.*Integers to negative integer powers are not allowed",
        "an integer raised to a negative integer power is refused (NumPy's rule); PyTorch returns the "
        "truncated integer (0, 1 or -1), which is rarely what was meant",
    ),
    (
        "gradient",
        r"^relu\(.*\(only where the input is NaN\)",
        "relu's gradient at a NaN input: PyTorch passes the gradient (its test is y <= 0), chainrule gives 0 "
        "(grad * (y > 0), a multiply rather than a slower select); the output there is NaN either way",
    ),
    (
        "gradient",
        r"^pow\(.*float16\[.*(inf|nan)",
        "pow with a float16 exponent b: PyTorch computes b - 1 in float16 (65504 - 1 rounds back to 65504, "
        "flipping the sign of a negative base's infinite power), chainrule in the promoted dtype",
    ),
    (
        "gradient",
        r"^var\(\w+\[1\].*\(only where the input is NaN\)",
        "the variance of one NaN element (no degrees of freedom): PyTorch's gradient is inf, chainrule's NaN",
    ),
    (
        "value",
        r"^prod\(float16\[",
        "a float16 product that overflows part-way (65504 * -1.2 * 0): PyTorch multiplies in float16 and "
        "gets -inf * 0 = NaN, NumPy accumulates wider and gets 0",
    ),
    (
        "rejects",
        r"^cat\(\w+\[0\].*dimension out of range",
        "PyTorch's legacy rule skips empty 1-d tensors in cat whatever the dim; chainrule checks the dim",
    ),
]


def accepted(kind: str, line: str) -> bool:
    return any(kind == k and re.search(pattern, line) for k, pattern, _ in ACCEPTED)


@pytest.fixture(scope="module")
def outcomes():
    from fuzz.cases import generate
    from fuzz.run import run_all

    return run_all(generate(SEED, CASES))


def test_fuzz_cases_ran(outcomes):
    counts, _ = outcomes
    assert sum(counts.values()) == CASES
    assert counts["ok"] > CASES * 0.9  # the generator makes mostly valid, comparable cases


@pytest.mark.parametrize("kind", ["value", "gradient", "dtype", "accepts", "rejects", "message"])
def test_no_difference_outside_the_accepted_list(outcomes, kind):
    """value/gradient/dtype: silent wrong results; accepts/rejects: one library raises, the other not;
    message: both raise, but chainrule's error does not name the function called."""
    _, examples = outcomes
    unexplained = [line for line in examples.get(kind, []) if not accepted(kind, line)]
    assert not unexplained, f"{len(unexplained)} {kind} differences, e.g.:\n" + "\n".join(unexplained[:10])


def test_the_comparison_is_nan_aware_and_dtype_aware():
    import numpy as np
    from fuzz.run import values_differ

    nan = float("nan")
    assert not values_differ(np.array([1.0, nan, np.inf]), np.array([1.0, nan, np.inf]), "float64")
    assert values_differ(np.array([1.0, nan]), np.array([1.0, 2.0]), "float64")  # NaN where torch has a number
    assert values_differ(np.array([np.inf]), np.array([-np.inf]), "float32")
    assert not values_differ(np.array([1.0]), np.array([1.001]), "float16")  # float16's looser tolerance
    assert values_differ(np.array([1.0]), np.array([1.001]), "float32")
    assert values_differ(np.array([1, 2]), np.array([1, 3]), "int64")  # integers exactly
    assert values_differ(np.zeros((2, 1)), np.zeros((2,)), "float64")  # shapes first


def test_the_accepted_differences_are_specific():
    """Each accepted pattern matches its own kind of difference only, never a plain wrong value."""
    samples = {
        "value": "add(float32[3]:contiguous, float32[3]:contiguous): float32[3] [1.] vs torch float32[3] [2.]",
        "gradient": "abs(float32[3]:contiguous): gradient of input 0: float32[3] [nan] vs torch float32[3] [0.]",
        "message": "mm(float32[2, 3]:contiguous): RuntimeError: matmul: shapes  (torch: size mismatch)",
    }
    for kind, line in samples.items():
        assert not accepted(kind, line)
