"""Schedulers made of schedulers, plateau detection and warm restarts at fractional epochs, against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from harness import needs_torch, torch

import chainrule as cr
from chainrule.optim import lr_scheduler


def optimizer_of(lib):
    params = [lib.tensor(np.ones(2), requires_grad=True), lib.tensor(np.ones(3), requires_grad=True)]
    groups = [{"params": params[:1], "lr": 0.1}, {"params": params[1:], "lr": 0.02}]
    return (cr.optim if lib is cr else torch.optim).SGD(groups, momentum=0.9)


def schedulers_of(lib):
    return lr_scheduler if lib is cr else torch.optim.lr_scheduler


# Each builds a scheduler from (module of schedulers, optimizer).
COMPOSITES = {
    "warmup-then-cosine": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, start_factor=0.1, total_iters=4), m.CosineAnnealingLR(opt, T_max=12)], milestones=[4]
    ),
    "three-phases": lambda m, opt: m.SequentialLR(
        opt,
        [m.ConstantLR(opt, factor=0.5, total_iters=3), m.ExponentialLR(opt, gamma=0.9), m.StepLR(opt, 2, 0.5)],
        milestones=[3, 9],
    ),
    "chained": lambda m, opt: m.ChainedScheduler([m.ExponentialLR(opt, gamma=0.95), m.StepLR(opt, 3, 0.5)]),
}


@needs_torch
@pytest.mark.parametrize("name", list(COMPOSITES))
def test_composite_schedules_match_torch(name):
    trajectories = []
    for lib in (cr, torch):
        opt = optimizer_of(lib)
        scheduler = COMPOSITES[name](schedulers_of(lib), opt)
        lrs = [scheduler.get_last_lr()]
        for _ in range(20):
            opt.step()
            scheduler.step()
            lrs.append(scheduler.get_last_lr())
        trajectories.append(np.array(lrs))
    np.testing.assert_allclose(trajectories[0], trajectories[1], rtol=1e-12)
    assert len(np.unique(trajectories[0][:, 0])) > 3  # the schedule moved


def test_sequential_state_dict_round_trip_continues_exactly():
    opt = optimizer_of(cr)
    scheduler = COMPOSITES["three-phases"](lr_scheduler, opt)
    for _ in range(5):
        opt.step()
        scheduler.step()
    saved = scheduler.state_dict()
    expected = []
    for _ in range(8):
        opt.step()
        scheduler.step()
        expected.append(scheduler.get_last_lr())
    resumed_opt = optimizer_of(cr)
    resumed = COMPOSITES["three-phases"](lr_scheduler, resumed_opt)
    resumed.load_state_dict(saved)
    for group, lr in zip(resumed_opt.param_groups, saved["_last_lr"]):
        group["lr"] = lr
    got = []
    for _ in range(8):
        resumed_opt.step()
        resumed.step()
        got.append(resumed.get_last_lr())
    assert got == expected


PLATEAU = [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.05, threshold_mode="abs", cooldown=2, min_lr=[0.01, 0.001]),
    dict(factor=0.3, patience=0, cooldown=1, min_lr=0.004, eps=1e-3),
]


@needs_torch
@pytest.mark.parametrize("options", PLATEAU, ids=["defaults", "max-abs-cooldown", "eager"])
def test_reduce_lr_on_plateau_matches_torch(options):
    metrics = np.concatenate([np.linspace(1.0, 0.5, 8), np.full(15, 0.5), np.linspace(0.5, 0.49, 6), np.full(20, 0.6)])
    trajectories = []
    for lib in (cr, torch):
        opt = optimizer_of(lib)
        scheduler = schedulers_of(lib).ReduceLROnPlateau(opt, **options)
        lrs = []
        for metric in metrics:
            opt.step()
            scheduler.step(lib.tensor(metric) if lib is cr else float(metric))
            lrs.append(scheduler.get_last_lr())
        trajectories.append(np.array(lrs))
    np.testing.assert_allclose(trajectories[0], trajectories[1], rtol=1e-12)
    assert trajectories[1][-1][0] < 0.1  # a reduction happened


@needs_torch
@pytest.mark.parametrize("t_mult", [1, 2])
@pytest.mark.filterwarnings("error")
def test_warm_restarts_at_fractional_epochs_match_torch(t_mult):
    trajectories = []
    for lib in (cr, torch):
        opt = optimizer_of(lib)
        scheduler = schedulers_of(lib).CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=t_mult, eta_min=0.001)
        lrs = []
        for epoch in range(10):
            for i in range(4):
                opt.step()
                scheduler.step(epoch + i / 4)  # the documented use: no deprecation warning
                lrs.append(scheduler.get_last_lr())
        trajectories.append(np.array(lrs))
    np.testing.assert_allclose(trajectories[0], trajectories[1], rtol=1e-12)


def test_bad_scheduler_arguments_are_refused_with_the_scheduler_named():
    opt = optimizer_of(cr)
    with pytest.raises(ValueError, match="LinearLR: start_factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="CosineAnnealingWarmRestarts: expected a positive integer T_0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="SequentialLR: expects one milestone fewer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2)], milestones=[3])
    other = optimizer_of(cr)
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(other, 2)])
