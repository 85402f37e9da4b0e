"""L-BFGS against PyTorch, iterate by iterate, with and without the strong-Wolfe line search."""

from __future__ import annotations

import numpy as np
import pytest
from harness import needs_torch, torch

import chainrule as cr
import chainrule.optim as optim


def rosenbrock(lib, xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


REGRESSION_DATA = np.random.default_rng(0).standard_normal((40, 6))


def least_squares(lib, w):
    dtype = np.asarray(w.detach()).dtype
    a = lib.tensor(REGRESSION_DATA[:, :5].astype(dtype))
    b = lib.tensor(REGRESSION_DATA[:, 5].astype(dtype))
    return ((a @ w - b) ** 2).mean() + 0.01 * (w**2).sum()


PROBLEMS = {"rosenbrock": (rosenbrock, np.array([-1.5, 2.0])), "least-squares": (least_squares, np.zeros(5))}
# Without a line search, full steps on Rosenbrock's valley amplify rounding
# differences (the two frameworks sum dot products in different orders) after
# ~30 evaluations; five iterations a step stay well inside that.
OPTIONS = [
    dict(max_iter=5),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.5, max_iter=5, history_size=3),
    dict(lr=0.8, max_iter=4, history_size=2, line_search_fn="strong_wolfe", tolerance_change=1e-12),
]


def trajectory(lib, problem: str, options: dict, dtype, steps: int = 6) -> tuple[list, list]:
    function, start = PROBLEMS[problem]
    w = lib.tensor(start.astype(dtype), requires_grad=True)
    opt = (optim if lib is cr else torch.optim).LBFGS([w], **options)
    evaluations = []

    def closure():
        opt.zero_grad()
        loss = function(lib, w)
        loss.backward()
        evaluations.append(float(loss.detach()))
        return loss

    iterates = []
    for _ in range(steps):
        opt.step(closure)
        iterates.append(w.detach().numpy().copy())
    return iterates, evaluations


@needs_torch
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_lbfgs_iterates_match_torch_in_float64(problem, options):
    ours, our_losses = trajectory(cr, problem, options, np.float64)
    theirs, their_losses = trajectory(torch, problem, options, np.float64)
    assert len(our_losses) == len(their_losses), "a different number of closure evaluations"
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-8, atol=1e-12)
    for step, (mine, ref) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(mine, ref, rtol=1e-7, atol=1e-10, err_msg=f"after step {step}")
    assert their_losses[-1] < their_losses[0]


@needs_torch
def test_lbfgs_in_float32_stays_float32_and_tracks_torch():
    ours, _ = trajectory(cr, "least-squares", dict(line_search_fn="strong_wolfe"), np.float32, steps=2)
    theirs, _ = trajectory(torch, "least-squares", dict(line_search_fn="strong_wolfe"), np.float32, steps=2)
    assert ours[-1].dtype == np.float32
    np.testing.assert_allclose(ours[-1], theirs[-1], rtol=1e-3, atol=1e-4)


def test_lbfgs_solves_rosenbrock_to_its_minimum():
    iterates, _ = trajectory(cr, "rosenbrock", dict(line_search_fn="strong_wolfe", max_iter=100), np.float64, steps=3)
    np.testing.assert_allclose(iterates[-1], [1.0, 1.0], atol=1e-5)  # the minimum, to tolerance_change


def test_lbfgs_refuses_groups_bad_line_search_and_a_missing_closure():
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [cr.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([w], line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS([w]).step(None)
