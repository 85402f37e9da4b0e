"""Optimizers and learning-rate schedules: trajectories against PyTorch, checkpoints, validation, dtypes.

A case names an optimizer and its options once; ``run_trajectory`` drives it on
chainrule and on PyTorch from the same starting parameters, giving each
framework the gradient of the same function of its own current parameters.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from harness import needs_torch, torch

import chainrule as cr
import chainrule.optim as optim
from chainrule.optim import lr_scheduler

SHAPES = [(3, 4), (4,), (2, 3, 2), ()]
STEPS = 30

# (id, optimizer name, options); "groups" splits the parameters into two groups with their own lr.
CASES = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd-momentum", "SGD", dict(lr=0.05, momentum=0.9)),
    ("sgd-dampening-wd", "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.02)),
    ("sgd-nesterov-wd", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("sgd-maximize", "SGD", dict(lr=0.02, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("sgd-groups", "SGD", dict(lr=0.05, momentum=0.9, groups=True)),
    ("adam", "Adam", dict(lr=0.05)),
    ("adam-wd-amsgrad", "Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("adam-maximize", "Adam", dict(lr=0.01, maximize=True, eps=1e-6)),
    ("adam-groups", "Adam", dict(lr=0.02, groups=True, weight_decay=0.01)),
    ("adamw", "AdamW", dict(lr=0.05)),
    ("adamw-amsgrad-maximize", "AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True, maximize=True)),
    ("rmsprop", "RMSprop", dict(lr=0.01)),
    (
        "rmsprop-centered-momentum-wd",
        "RMSprop",
        dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1),
    ),
    ("rmsprop-momentum-groups", "RMSprop", dict(lr=0.005, momentum=0.9, groups=True)),
    ("rmsprop-centered-maximize", "RMSprop", dict(lr=0.005, centered=True, maximize=True)),
    ("adagrad", "Adagrad", dict(lr=0.1)),
    ("adagrad-decay-wd-init", "Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2)),
    ("adagrad-maximize-groups", "Adagrad", dict(lr=0.05, maximize=True, groups=True, eps=1e-8)),
    ("adadelta", "Adadelta", dict()),
    (
        "adadelta-wd-maximize-groups",
        "Adadelta",
        dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True, groups=True),
    ),
    ("adamax", "Adamax", dict(lr=0.05)),
    ("adamax-wd-maximize", "Adamax", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("nadam", "NAdam", dict(lr=0.05)),
    ("nadam-wd-decay", "NAdam", dict(lr=0.02, weight_decay=0.1, momentum_decay=0.01, groups=True)),
    ("nadam-decoupled-maximize", "NAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("radam", "RAdam", dict(lr=0.05)),
    ("radam-wd-groups", "RAdam", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, groups=True)),
    ("radam-decoupled-maximize", "RAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("adamw-foreach-fused-flags", "AdamW", dict(lr=0.05, foreach=False, fused=None, capturable=False)),
]


def initial_arrays(dtype, seed=0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, size=shape).astype(dtype) for shape in SHAPES]


def gradient_of(values: np.ndarray, index: int) -> np.ndarray:
    """The gradient of a fixed nonconvex function, at ``values`` (one parameter's current values)."""
    scale = 1.0 + index
    return (scale * (values - 0.3) + 0.5 * np.sin(3.0 * values)).astype(values.dtype)


def make_optimizer(lib, name: str, options: dict, params: list):
    options = dict(options)
    if options.pop("groups", False):
        params = [{"params": params[:2], "lr": options["lr"] * 3}, {"params": params[2:]}]
    module = optim if lib is cr else torch.optim
    return getattr(module, name)(params, **options)


def set_gradients(lib, params: list, skip_last: bool) -> None:
    for i, p in enumerate(params):
        if skip_last and i == len(params) - 1:
            p.grad = None  # a parameter without a gradient is left alone
            continue
        values = p.detach().cpu().numpy()
        p.grad = lib.tensor(gradient_of(values, i), device=p.device)


def run_steps(lib, opt, params: list, steps: int, scheduler=None) -> None:
    for step in range(steps):
        set_gradients(lib, params, skip_last=step % 7 == 3)
        opt.step()
        if scheduler is not None:
            scheduler.step()


def tensors(lib, arrays: list[np.ndarray], device: str = "cpu") -> list:
    return [lib.tensor(a.copy(), requires_grad=True, device=device) for a in arrays]


def values(params: list) -> list[np.ndarray]:
    return [p.detach().cpu().numpy().copy() for p in params]


TOLERANCES = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_trajectory_matches_torch(case, dtype, device):
    """Our trajectory on each device against PyTorch's on the CPU."""
    _, name, options = case
    arrays = initial_arrays(dtype)
    ours, theirs = tensors(cr, arrays, device), tensors(torch, arrays)
    our_opt, their_opt = make_optimizer(cr, name, options, ours), make_optimizer(torch, name, options, theirs)
    run_steps(cr, our_opt, ours, STEPS)
    run_steps(torch, their_opt, theirs, STEPS)
    for i, (mine, ref) in enumerate(zip(ours, theirs)):
        assert mine.dtype == dtype, f"parameter {i} became {mine.dtype}"
        assert mine.device.type == device, f"parameter {i} left {device} for {mine.device}"
        np.testing.assert_allclose(
            mine.detach().cpu().numpy(), ref.detach().numpy(), **TOLERANCES[dtype], err_msg=f"param {i}"
        )
    # The parameters moved: the comparison is not of two untouched copies.
    assert not np.allclose(values(ours)[0], arrays[0])


@needs_torch
def test_trajectory_matches_torch_on_mlp_loss_with_each_frameworks_autograd():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 1))
    arrays = [rng.standard_normal((4, 8)) * 0.5, np.zeros(8), rng.standard_normal((8, 1)) * 0.5]
    for name, options in [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("Adam", dict(lr=0.01, amsgrad=True))]:
        results = []
        for lib in (cr, torch):
            w1, b1, w2 = params = tensors(lib, arrays)
            opt = make_optimizer(lib, name, options, params)
            inputs, targets = lib.tensor(x), lib.tensor(y)
            for _ in range(STEPS):
                opt.zero_grad()
                loss = (((inputs @ w1 + b1).tanh() @ w2 - targets) ** 2).mean()
                loss.backward()
                opt.step()
            results.append(values(params))
        for mine, ref in zip(*results):
            np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_float32_parameters_and_state_stay_float32(case):
    _, name, options = case
    options = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in options.items()}
    params = tensors(cr, initial_arrays(np.float32))
    opt = make_optimizer(cr, name, options, params)
    run_steps(cr, opt, params, 5)
    for p in params:
        assert p.dtype == np.float32
        for key, value in opt.state[p].items():
            if isinstance(value, cr.Tensor):
                assert value.dtype == np.float32, f"state {key!r} is {value.dtype}"


def test_update_is_in_place_and_records_no_graph():
    params = tensors(cr, initial_arrays(np.float32))
    arrays_before = [p._data for p in params]
    opt = optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01)
    run_steps(cr, opt, params, 3)
    assert all(p._data is array for p, array in zip(params, arrays_before))
    assert all(p.grad_fn is None and p.is_leaf for p in params)


def test_parameter_without_gradient_is_skipped_and_gets_no_state():
    a, b = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([3.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = cr.tensor([1.0, -1.0])
    opt.step()
    assert b.tolist() == [3.0] and not opt.state.get(b)
    assert opt.state[a]["step"] == 1


# ---------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_state_dict_round_trip_continues_exactly(case):
    _, name, options = case
    arrays = initial_arrays(np.float64)
    uninterrupted = tensors(cr, arrays)
    opt = make_optimizer(cr, name, options, uninterrupted)
    run_steps(cr, opt, uninterrupted, 10)
    saved = opt.state_dict()
    saved_copy = copy.deepcopy(saved)

    resumed = tensors(cr, values(uninterrupted))
    fresh = make_optimizer(cr, name, {**options, "lr": 123.0}, resumed)  # the saved lr must win
    fresh.load_state_dict(saved)
    run_steps(cr, opt, uninterrupted, 10)
    run_steps(cr, fresh, resumed, 10)
    for mine, ref in zip(resumed, uninterrupted):
        np.testing.assert_array_equal(mine.detach().numpy(), ref.detach().numpy())
    # The snapshot is a copy: the 10 later steps of either optimizer did not change it.
    for index, entry in saved["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(np.asarray(value), np.asarray(saved_copy["state"][index][key]))


def test_state_dict_format_is_pytorchs():
    w, b = cr.tensor([[1.0, 2.0]], requires_grad=True), cr.tensor([0.5], requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.1}], lr=0.01)
    w.grad = cr.tensor([[0.1, 0.2]])
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert sorted(sd["state"]) == [0]  # b had no gradient yet
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and sd["state"][0]["step"] == 1
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.01, 0.1]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)


@needs_torch
@pytest.mark.parametrize("name, options", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.05, amsgrad=True))])
def test_loads_a_pytorch_state_dict_converted_to_arrays(name, options):
    arrays = initial_arrays(np.float64)
    theirs = tensors(torch, arrays)
    their_opt = make_optimizer(torch, name, options, theirs)
    run_steps(torch, their_opt, theirs, 10)

    def to_numpy(value):
        return value.numpy().copy() if isinstance(value, torch.Tensor) else value

    converted = {
        "state": {i: {k: to_numpy(v) for k, v in s.items()} for i, s in their_opt.state_dict()["state"].items()},
        "param_groups": copy.deepcopy(their_opt.state_dict()["param_groups"]),
    }
    ours = tensors(cr, values(theirs))
    our_opt = make_optimizer(cr, name, options, ours)
    our_opt.load_state_dict(converted)
    assert isinstance(our_opt.state[ours[0]].get("step", 0), int)
    run_steps(torch, their_opt, theirs, 10)
    run_steps(cr, our_opt, ours, 10)
    for mine, ref in zip(values(ours), values(theirs)):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


def test_load_state_dict_rejects_mismatches_and_changes_nothing():
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = cr.ones(2), cr.ones(3)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(
        ValueError, match=r"load_state_dict: the state dict has 1 parameter groups but the optimizer has 2"
    ):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"parameter group 0 has 2 parameters in the state dict but 1"):
        optim.SGD([a], lr=0.1).load_state_dict(saved)
    other = optim.SGD([b, a], lr=0.5)
    with pytest.raises(
        ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(2,\) but the parameter has shape \(3,\)"
    ):
        other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == 0.5 and not other.state
    with pytest.raises(ValueError, match=r"expected a dict with 'state' and 'param_groups'"):
        other.load_state_dict({"param_groups": []})


# ---------------------------------------------------------------------------- the base class


VALIDATION = [
    ("SGD", dict(lr=-0.1), r"^SGD: invalid learning rate: -0\.1$"),
    ("SGD", dict(lr=0.1, momentum=-0.5), r"^SGD: invalid momentum value: -0\.5$"),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4), r"^SGD: invalid weight_decay value"),
    ("SGD", dict(lr=0.1, nesterov=True), r"^SGD: Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(lr=0.1, nesterov=True, momentum=0.9, dampening=0.1), r"Nesterov.*dampening=0\.1"),
    ("Adam", dict(lr=-1.0), r"^Adam: invalid learning rate: -1\.0$"),
    ("Adam", dict(betas=(1.0, 0.999)), r"^Adam: invalid beta parameter at index 0: 1\.0"),
    ("Adam", dict(betas=(0.9, -0.1)), r"^Adam: invalid beta parameter at index 1: -0\.1"),
    ("Adam", dict(eps=-1e-8), r"^Adam: invalid epsilon value"),
    ("AdamW", dict(weight_decay=-0.01), r"^AdamW: invalid weight_decay value: -0\.01$"),
    ("AdamW", dict(betas=(0.9, 1.5)), r"^AdamW: invalid beta parameter at index 1: 1\.5"),
    ("RMSprop", dict(alpha=-0.1), r"^RMSprop: invalid alpha value"),
    ("RMSprop", dict(momentum=-0.1), r"^RMSprop: invalid momentum value"),
    ("RMSprop", dict(eps=-1.0), r"^RMSprop: invalid epsilon value"),
    ("Adagrad", dict(lr_decay=-0.1), r"^Adagrad: invalid lr_decay value"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), r"^Adagrad: invalid initial_accumulator_value"),
    ("Adagrad", dict(weight_decay=-1.0), r"^Adagrad: invalid weight_decay value"),
]


@pytest.mark.parametrize("name, options, message", VALIDATION)
def test_invalid_hyper_parameters_raise(name, options, message):
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([cr.zeros(2, requires_grad=True)], **options)


def test_per_group_options_are_validated_too():
    with pytest.raises(ValueError, match=r"^SGD: invalid learning rate: -1"):
        optim.SGD([{"params": [cr.zeros(2, requires_grad=True)], "lr": -1}], lr=0.1)


def test_bad_parameter_lists_raise():
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got a Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="ordered collection, not a set"):
        optim.SGD([{"params": {w}}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([w, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)


def test_defaults_are_pytorchs():
    w = [cr.zeros(2, requires_grad=True)]
    assert optim.SGD(w).defaults == dict(
        lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False
    )
    adam = optim.Adam(w).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"], adam["amsgrad"]) == (
        1e-3,
        (0.9, 0.999),
        1e-8,
        0,
        False,
    )
    assert optim.AdamW(w).defaults["weight_decay"] == 1e-2
    rms = optim.RMSprop(w).defaults
    assert (rms["lr"], rms["alpha"], rms["eps"], rms["weight_decay"], rms["momentum"], rms["centered"]) == (
        1e-2,
        0.99,
        1e-8,
        0,
        0,
        False,
    )
    ada = optim.Adagrad(w).defaults
    assert (ada["lr"], ada["lr_decay"], ada["weight_decay"], ada["initial_accumulator_value"], ada["eps"]) == (
        1e-2,
        0,
        0,
        0,
        1e-10,
    )


def test_add_param_group_fills_defaults():
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["lr"] == 0.01


def test_zero_grad():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = cr.tensor([3.0, 4.0])
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_returns_its_loss():
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == 5.0
    assert w.tolist() == [0.5, -1.0]


# ---------------------------------------------------------------------------- schedules


def scheduler_case(lib, name: str, optimizer_name: str, options: dict):
    params = tensors(lib, [np.ones(2), np.ones(3)])
    groups = [{"params": params[:1], "lr": 0.1}, {"params": params[1:], "lr": 0.02}]
    opt_kwargs = dict(momentum=0.9) if optimizer_name == "SGD" else {}
    opt = getattr(optim if lib is cr else torch.optim, optimizer_name)(groups, **opt_kwargs)
    module = lr_scheduler if lib is cr else torch.optim.lr_scheduler
    return params, opt, getattr(module, name)(opt, **options)


SCHEDULES = [
    ("StepLR", "SGD", dict(step_size=4, gamma=0.5), 40),
    ("MultiStepLR", "SGD", dict(milestones=[3, 7, 7, 20], gamma=0.3), 40),
    ("ExponentialLR", "Adam", dict(gamma=0.93), 40),
    ("CosineAnnealingLR", "SGD", dict(T_max=10, eta_min=0.001), 45),
    ("CosineAnnealingLR", "Adam", dict(T_max=7), 40),
    ("LambdaLR", "SGD", dict(lr_lambda=lambda epoch: 1.0 / (1 + epoch) ** 0.5), 40),
    ("OneCycleLR", "SGD", dict(max_lr=[0.5, 0.1], total_steps=41), 40),
    ("OneCycleLR", "Adam", dict(max_lr=0.05, epochs=4, steps_per_epoch=10, anneal_strategy="linear"), 39),
    ("OneCycleLR", "SGD", dict(max_lr=0.3, total_steps=50, three_phase=True, pct_start=0.25), 49),
    ("OneCycleLR", "RMSprop", dict(max_lr=0.3, total_steps=35, cycle_momentum=False), 35),
    ("MultiplicativeLR", "SGD", dict(lr_lambda=lambda epoch: 0.9 if epoch % 3 else 1.05), 30),
    ("ConstantLR", "SGD", dict(factor=0.25, total_iters=6), 12),
    ("LinearLR", "Adam", dict(), 10),
    ("LinearLR", "SGD", dict(start_factor=0.9, end_factor=0.05, total_iters=20), 30),
    ("PolynomialLR", "SGD", dict(total_iters=15, power=2.0), 20),
    ("CosineAnnealingWarmRestarts", "SGD", dict(T_0=5), 23),
    ("CosineAnnealingWarmRestarts", "Adam", dict(T_0=3, T_mult=2, eta_min=0.001), 40),
]


def momenta(opt) -> list[float]:
    return [group["betas"][0] if "betas" in group else group.get("momentum", 0.0) for group in opt.param_groups]


@needs_torch
@pytest.mark.parametrize(
    "name, optimizer_name, options, steps", SCHEDULES, ids=[f"{s[0]}-{s[1]}-{i}" for i, s in enumerate(SCHEDULES)]
)
def test_schedule_matches_torch(name, optimizer_name, options, steps):
    trajectories = []
    for lib in (cr, torch):
        _, opt, scheduler = scheduler_case(lib, name, optimizer_name, options)
        lrs, moms = [scheduler.get_last_lr()], [momenta(opt)]
        for _ in range(steps):
            opt.step()
            scheduler.step()
            lrs.append(scheduler.get_last_lr())
            moms.append(momenta(opt))
        assert scheduler.last_epoch == steps
        assert lrs[-1] == [group["lr"] for group in opt.param_groups]
        trajectories.append((np.array(lrs), np.array(moms)))
    (our_lrs, our_moms), (their_lrs, their_moms) = trajectories
    np.testing.assert_allclose(our_lrs, their_lrs, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(our_moms, their_moms, rtol=1e-12, atol=1e-15)


@needs_torch
def test_one_cycle_with_adam_moves_parameters_as_torch():
    results = []
    for lib in (cr, torch):
        params = tensors(lib, initial_arrays(np.float64))
        opt = make_optimizer(lib, "Adam", dict(lr=0.01, weight_decay=0.01), params)
        module = lr_scheduler if lib is cr else torch.optim.lr_scheduler
        scheduler = module.OneCycleLR(opt, max_lr=0.1, total_steps=STEPS)
        run_steps(lib, opt, params, STEPS - 1, scheduler)
        results.append(values(params))
    for mine, ref in zip(*results):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


def test_one_cycle_raises_past_total_steps():
    _, opt, scheduler = scheduler_case(cr, "OneCycleLR", "SGD", dict(max_lr=0.1, total_steps=3))
    for _ in range(3):
        opt.step()
        scheduler.step()
    with pytest.raises(ValueError, match="tried to step 4 times; the specified number of total steps is 3"):
        scheduler.step()
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="has neither"):
        lr_scheduler.OneCycleLR(optim.Adagrad([cr.zeros(1, requires_grad=True)]), max_lr=0.1, total_steps=5)


@pytest.mark.parametrize("k0", [1.0, 5.0, 0.5])
def test_inverse_time_lr_is_the_closed_form(k0):
    _, opt, scheduler = scheduler_case(cr, "InverseTimeLR", "SGD", dict(k0=k0))
    base_lrs = [0.1, 0.02]
    assert scheduler.get_last_lr() == base_lrs
    for t in range(1, 41):
        opt.step()
        scheduler.step()
        assert scheduler.last_epoch == t
        expected = [base_lr * k0 / (k0 + t) for base_lr in base_lrs]
        np.testing.assert_allclose(scheduler.get_last_lr(), expected, rtol=1e-15)
        assert [g["lr"] for g in opt.param_groups] == scheduler.get_last_lr()
    with pytest.raises(ValueError, match="k0 must be positive"):
        lr_scheduler.InverseTimeLR(opt, k0=0)


def test_inverse_time_lr_with_k0_1_is_the_notes_c_over_k():
    w = cr.zeros(1, requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    scheduler = lr_scheduler.InverseTimeLR(opt)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    assert seen == [1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5]


@pytest.mark.parametrize("name, optimizer_name, options, steps", SCHEDULES[:7], ids=[s[0] for s in SCHEDULES[:7]])
def test_scheduler_state_dict_round_trip(name, optimizer_name, options, steps):
    _, opt, scheduler = scheduler_case(cr, name, optimizer_name, options)
    for _ in range(5):
        opt.step()
        scheduler.step()
    saved_opt, saved_scheduler = opt.state_dict(), copy.deepcopy(scheduler.state_dict())
    _, new_opt, new_scheduler = scheduler_case(cr, name, optimizer_name, options)
    new_opt.load_state_dict(saved_opt)
    new_scheduler.load_state_dict(saved_scheduler)
    for _ in range(10):
        for o, s in ((opt, scheduler), (new_opt, new_scheduler)):
            o.step()
            s.step()
        assert new_scheduler.get_last_lr() == scheduler.get_last_lr()
        assert momenta(new_opt) == momenta(opt)


def test_scheduler_sets_initial_lr_and_warns_when_stepped_before_optimizer():
    _, opt, scheduler = scheduler_case(cr, "StepLR", "SGD", dict(step_size=2))
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02] == scheduler.base_lrs
    assert scheduler.last_epoch == 0
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        scheduler.step()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1), step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
