"""Training on an accelerator: optimizers, modules, checkpoints, the Trainer and the CLI on "fake" (and "cuda").

The reference is the same computation on the CPU: an optimizer step on a
device must equal the CPU step from the same parameters and gradients, and a
model trained on a device (initialised on the host, then moved) must give the
CPU run's losses. On "fake" the arrays are NumPy's underneath, so the results
agree to float64 rounding; on "cuda" to a few units in the last place.
The fake device also counts host reads, which shows that a step keeps to the
device (no ``float(loss)``, no ``.item()`` per step).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from devices import ACCELERATORS, host

import chainrule as cr
from chainrule import nn, optim
from chainrule.backend import device_of
from chainrule.backend.fake import FakeArray
from chainrule.cli import main
from chainrule.data import DataLoader, TensorDataset
from chainrule.models import MLP, LeNet5
from chainrule.training import Trainer

RTOL = 1e-9  # float64 results of the same computation on two devices (cuda sums in another order)


# ---------------------------------------------------------------------- host reads on the fake device
HOST_READS = ("get", "item", "tolist", "__bool__", "__int__", "__float__", "__index__", "__complex__")


@contextlib.contextmanager
def counting_host_reads(monkeypatch):
    """Within: every conversion of a fake-device array to host data is counted in the yielded list."""
    reads: list[str] = []
    for name in HOST_READS:
        original = getattr(FakeArray, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(FakeArray, name, counted)
    yield reads
    monkeypatch.undo()


# ---------------------------------------------------------------------- optimizers
OPTIMIZERS = [
    ("sgd", optim.SGD, dict(lr=0.1)),
    ("sgd-momentum", optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd-nesterov-foreach", optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True, foreach=True)),
    ("adam", optim.Adam, dict(lr=0.01, weight_decay=0.01)),
    ("adam-amsgrad-fused", optim.Adam, dict(lr=0.01, amsgrad=True, fused=True)),
    ("adamw", optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    ("adamax", optim.Adamax, dict(lr=0.01, weight_decay=0.01)),
    ("nadam", optim.NAdam, dict(lr=0.01, weight_decay=0.01)),
    ("radam", optim.RAdam, dict(lr=0.01, weight_decay=0.01)),
    ("adagrad", optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    ("adadelta", optim.Adadelta, dict(lr=1.0, weight_decay=0.01)),
    ("rmsprop", optim.RMSprop, dict(lr=0.01, momentum=0.9, weight_decay=0.01)),
    ("rmsprop-centered", optim.RMSprop, dict(lr=0.01, centered=True, foreach=True)),
]
STEPS = 6  # enough for RAdam's rectified branch (rho_t > 5) to start


def _problem(device: str):
    """Two float64 parameters on ``device`` and the fixed arrays of a quadratic-plus-linear objective."""
    rng = np.random.default_rng(0)
    weight, bias = rng.standard_normal((3, 4)), rng.standard_normal(4)
    target = cr.tensor(rng.standard_normal((3, 4)), device=device)
    params = [cr.tensor(weight, device=device, requires_grad=True), cr.tensor(bias, device=device, requires_grad=True)]
    return params, target


def _objective(params, target):
    """sum((w - t)^2 (1 + w^2)) + sum(b^2): bounded below, not quadratic (the gradients' form changes)."""
    weight, bias = params
    return ((weight - target) ** 2 * (1 + weight * weight)).sum() + (bias * bias).sum()


def _run_optimizer(device: str, make, options: dict, steps: int = STEPS):
    params, target = _problem(device)
    optimizer = make(params, **options)
    for _ in range(steps):
        optimizer.zero_grad()
        _objective(params, target).backward()
        optimizer.step()
    return params, optimizer


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("name, make, options", OPTIMIZERS, ids=[name for name, _, _ in OPTIMIZERS])
def test_optimizer_steps_on_a_device_equal_the_cpu_steps(device, name, make, options):
    expected, _ = _run_optimizer("cpu", make, options)
    got, optimizer = _run_optimizer(device, make, options)
    for p, q in zip(got, expected):
        assert p.device.type == device
        np.testing.assert_allclose(host(p), host(q), rtol=RTOL, atol=1e-12)
    for p in got:  # the running state lives beside its parameter
        for value in optimizer.state[p].values():
            if isinstance(value, cr.Tensor):
                assert value.device == p.device


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
@pytest.mark.parametrize("device", ACCELERATORS)
def test_lbfgs_on_a_device_equals_the_cpu_run(device, line_search):
    def run(device):
        params, target = _problem(device)
        optimizer = optim.LBFGS(params, lr=0.5, max_iter=5, line_search_fn=line_search)

        def closure():
            optimizer.zero_grad()
            loss = _objective(params, target)
            loss.backward()
            return loss

        losses = [float(optimizer.step(closure)) for _ in range(3)]
        return params, losses

    (got, got_losses), (expected, expected_losses) = run(device), run("cpu")
    np.testing.assert_allclose(got_losses, expected_losses, rtol=RTOL)
    for p, q in zip(got, expected):
        np.testing.assert_allclose(host(p), host(q), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("name, make, options", OPTIMIZERS, ids=[name for name, _, _ in OPTIMIZERS])
def test_an_optimizer_step_reads_nothing_back_from_the_device(monkeypatch, name, make, options):
    params, target = _problem("fake")
    optimizer = make(params, **options)
    for _ in range(2):  # the first step makes the state; the second is a steady one
        optimizer.zero_grad()
        _objective(params, target).backward()
        with counting_host_reads(monkeypatch) as reads:
            optimizer.step()
        assert reads == []


def test_clipping_on_a_device_equals_the_cpu_and_reads_nothing_back(monkeypatch):
    results = {}
    for device in ("cpu", "fake"):
        params, target = _problem(device)
        _objective(params, target).backward()
        with counting_host_reads(monkeypatch) as reads:
            norm = nn.utils.clip_grad_norm_(params, max_norm=1.0)
            nn.utils.clip_grad_value_(params, 0.05)
            inf_norm = nn.utils.clip_grad_norm_(params, max_norm=0.5, norm_type="inf")
        assert reads == [] and norm.device == params[0].device
        results[device] = [host(norm), host(inf_norm)] + [host(p.grad) for p in params]
    for got, expected in zip(results["fake"], results["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_optimizer_state_dict_crosses_devices(device):
    _, on_device = _run_optimizer(device, optim.Adam, dict(lr=0.01), steps=2)
    saved = on_device.state_dict()
    params, _ = _problem("cpu")
    on_cpu = optim.Adam(params, lr=0.01)
    on_cpu.load_state_dict(saved)
    for p in params:
        assert all(v.device.type == "cpu" for v in on_cpu.state[p].values() if isinstance(v, cr.Tensor))
    params, _ = _problem(device)
    back = optim.Adam(params, lr=0.01)
    back.load_state_dict(on_cpu.state_dict())
    for p in params:
        state = back.state[p]
        assert state["step"] == 2 and state["exp_avg"].device == p.device


@pytest.mark.parametrize("device", ACCELERATORS)
def test_lbfgs_resumes_on_another_device_from_its_state_dict(device):
    """LBFGS's state is flat vectors over all parameters; a CPU snapshot continues on a device as on the CPU."""

    def lbfgs(params, target):
        optimizer = optim.LBFGS(params, lr=0.5, max_iter=3)

        def closure():
            optimizer.zero_grad()
            loss = _objective(params, target)
            loss.backward()
            return loss

        return optimizer, closure

    params, target = _problem("cpu")
    optimizer, closure = lbfgs(params, target)
    optimizer.step(closure)
    saved_params, saved_state = [host(p).copy() for p in params], optimizer.state_dict()
    optimizer.step(closure)
    moved, moved_target = _problem(device)
    for p, value in zip(moved, saved_params):
        p.detach().copy_(cr.tensor(value, device=device))
    resumed, resumed_closure = lbfgs(moved, moved_target)
    resumed.load_state_dict(saved_state)
    assert all(device_of(v) == moved[0].device for v in resumed.state[moved[0]]["old_dirs"])
    resumed.step(resumed_closure)
    for p, q in zip(moved, params):
        np.testing.assert_allclose(host(p), host(q), rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("device", ACCELERATORS)
def test_schedulers_step_an_optimizer_on_a_device(device):
    params, target = _problem(device)
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9)
    schedulers = [optim.lr_scheduler.StepLR(optimizer, 2, 0.5), optim.lr_scheduler.ReduceLROnPlateau(optimizer)]
    for _ in range(4):
        optimizer.zero_grad()
        loss = _objective(params, target)
        loss.backward()
        optimizer.step()
        schedulers[0].step()
        schedulers[1].step(loss)  # a device scalar as the metric
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)


# ---------------------------------------------------------------------- modules
@pytest.mark.parametrize("device", ACCELERATORS)
def test_module_to_moves_parameters_buffers_and_grads_in_place(device):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model(cr.randn(5, 3)).sum().backward()
    weight = model[0].weight
    before = {name: host(t) for name, t in model.state_dict().items()}
    assert model.to(device) is model and model[0].weight is weight  # optimizers keep their parameters
    for name, tensor in model.state_dict().items():
        assert tensor.device.type == device, name
        np.testing.assert_array_equal(host(tensor), before[name])
    assert weight.grad.device.type == device
    model.cpu()
    assert all(t.device.type == "cpu" for t in model.state_dict().values())


@pytest.mark.parametrize("device", ACCELERATORS)
def test_loading_a_cpu_state_dict_keeps_a_device_model_on_its_device(device):
    source = nn.Linear(3, 2)
    model = nn.Linear(3, 2).to(device)
    model.load_state_dict(source.state_dict())
    assert model.weight.device.type == device
    np.testing.assert_array_equal(host(model.weight), host(source.weight))
    model.load_state_dict({name: t.to(device)._data for name, t in source.state_dict().items()})  # device arrays
    source.load_state_dict(model.state_dict())  # and back onto the host
    assert source.weight.device.type == "cpu"


@pytest.mark.parametrize("device", ACCELERATORS)
def test_save_and_load_of_device_tensors_honour_map_location(device):
    """chainrule's format holds host data and no device: a checkpoint loads on the CPU unless told otherwise."""
    buffer = io.BytesIO()
    x = cr.arange(6.0).reshape(2, 3).to(device)
    cr.save({"x": x, "model": nn.Linear(2, 2).to(device).state_dict()}, buffer)
    for map_location, expected in ((None, "cpu"), ("cpu", "cpu"), (device, device), ({"cuda:0": "cpu"}, "cpu")):
        buffer.seek(0)
        loaded = cr.load(buffer, map_location=map_location)
        assert loaded["x"].device.type == expected, map_location
        np.testing.assert_array_equal(host(loaded["x"]), host(x))


def test_mixed_devices_raise_naming_both():
    model = nn.Linear(3, 2).to("fake")
    with pytest.raises(RuntimeError, match=r"same device.*(cpu and fake:0|fake:0 and cpu)"):
        model(cr.randn(4, 3))
    with pytest.raises(RuntimeError, match=r"same device.*(cpu and fake:0|fake:0 and cpu)"):
        nn.NLLLoss()(model(cr.randn(4, 3).to("fake")), cr.tensor([0, 1, 0, 1]))


def test_data_loading_options_for_devices():
    data = TensorDataset(cr.randn(8, 3), cr.arange(8))
    inputs, labels = next(iter(DataLoader(data, batch_size=4, pin_memory=True)))
    moved = inputs.to("fake", non_blocking=True)
    assert moved.device.type == "fake" and inputs.device.type == "cpu"
    np.testing.assert_array_equal(host(moved), host(inputs))


# ---------------------------------------------------------------------- training
def _classification(samples: int, shape: tuple[int, ...], classes: int = 3) -> TensorDataset:
    rng = np.random.default_rng(1)
    return TensorDataset(
        cr.tensor(rng.standard_normal((samples, *shape))), cr.tensor(rng.integers(0, classes, samples))
    )


def _train(device: str, make_model, data: TensorDataset, epochs: int = 3, loss_fn=None):
    cr.manual_seed(0)
    model = make_model().double().to(device)  # initialised on the host from the seed, then moved
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    trainer = Trainer(
        model,
        optimizer,
        loss_fn or nn.CrossEntropyLoss(),
        DataLoader(data, batch_size=8, shuffle=True, seed=0),
        DataLoader(data, batch_size=16),
        progress="none",
        device=device,
    )
    trainer.fit(epochs)
    return trainer


MODELS = {
    "mlp": (lambda: MLP([6, 16, 16, 3]), (6,)),
    "lenet": (lambda: LeNet5(in_channels=1, classes=3, input_size=12), (1, 12, 12)),
}


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("name", MODELS)
def test_training_on_a_device_gives_the_cpu_losses(device, name):
    make_model, shape = MODELS[name]
    data = _classification(32, shape)
    on_cpu, on_device = _train("cpu", make_model, data), _train(device, make_model, data)
    for key in ("loss", "accuracy", "test_loss", "test_accuracy"):
        got = [record[key] for record in on_device.history]
        expected = [record[key] for record in on_cpu.history]
        np.testing.assert_allclose(got, expected, rtol=RTOL, err_msg=key)
    for p, q in zip(on_device.model.parameters(), on_cpu.model.parameters()):
        assert p.device.type == device
        np.testing.assert_allclose(host(p), host(q), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", MODELS)
def test_training_on_the_second_fake_device_stays_there_whatever_the_current_device(name):
    """Ops run where their inputs live: a model on fake:1 trains while fake:0 is the current device."""
    make_model, shape = MODELS[name]
    data = _classification(32, shape)
    on_cpu, on_second = _train("cpu", make_model, data), _train("fake:1", make_model, data)
    np.testing.assert_allclose([r["loss"] for r in on_second.history], [r["loss"] for r in on_cpu.history], rtol=RTOL)
    assert all(p.device == cr.device("fake:1") for p in on_second.model.parameters())
    assert cr.zeros(1, device="fake").device == cr.device("fake:0")


def test_recurrent_and_attention_layers_run_on_the_second_fake_device():
    x = cr.randn(5, 2, 8, device="fake:1", requires_grad=True)
    layers = [nn.LSTM(8, 4, num_layers=2), nn.GRU(8, 4, bidirectional=True), nn.MultiheadAttention(8, 2)]
    for layer in layers:
        layer.to("fake:1")
        output = layer(x) if not isinstance(layer, nn.MultiheadAttention) else layer(x, x, x)
        output[0].sum().backward()
        assert output[0].device == x.grad.device == cr.device("fake:1")
        assert all(p.grad.device == cr.device("fake:1") for p in layer.parameters())


def _squared_error(output, target):
    """A loss whose forward pass reads nothing back (cross-entropy and one_hot check the targets on the host)."""
    one_hot = (target.reshape(-1, 1) == cr.arange(output.shape[1], device=target.device)).double()
    return ((output - one_hot) ** 2).mean()


def test_a_training_step_reads_the_loss_back_only_when_it_is_reported(monkeypatch):
    """The host reads of an epoch do not grow with its number of batches: none happen per step."""
    counts = []
    for samples in (32, 64):
        with counting_host_reads(monkeypatch) as reads:
            _train("fake", MODELS["mlp"][0], _classification(samples, (6,)), epochs=1, loss_fn=_squared_error)
        counts.append(len(reads))
    assert counts[0] == counts[1] > 0


# ---------------------------------------------------------------------- the command line
TINY = ["--dataset", "spirals", "--hidden", "8", "--epochs", "2", "--optimizer", "adam", "--quiet"]


def test_cli_trains_on_the_fake_device_like_the_cpu_and_its_checkpoint_loads_on_cpu(tmp_path, capsys):
    for device in ("cpu", "fake"):
        assert main(["train", *TINY, "--device", device, "--out", str(tmp_path / device)]) == 0
    checkpoints = {device: cr.load(tmp_path / device / "checkpoint-epoch002.safetensors") for device in ("cpu", "fake")}
    for name, tensor in checkpoints["fake"]["model"].items():
        assert tensor.device.type == "cpu"
        np.testing.assert_array_equal(tensor.numpy(), checkpoints["cpu"]["model"][name].numpy())
    capsys.readouterr()
    results = {}
    for device in ("cpu", "fake"):
        arguments = ["evaluate", "--checkpoint", str(tmp_path / "fake"), "--json", "--device", device]
        assert main(arguments) == 0
        results[device] = capsys.readouterr().out
    assert '"loss"' in results["fake"]
    assert results["fake"].split('"time"')[0] == results["cpu"].split('"time"')[0]
    # a run moves between devices at a resume: each run continued on the other device, and still the same run
    for device, other in (("cpu", "fake"), ("fake", "cpu")):
        assert main(["train", "--resume", str(tmp_path / device), "--epochs", "3", "--quiet", "--device", other]) == 0
    resumed = {device: cr.load(tmp_path / device / "checkpoint-epoch003.safetensors") for device in ("cpu", "fake")}
    for name, tensor in resumed["fake"]["model"].items():
        np.testing.assert_array_equal(tensor.numpy(), resumed["cpu"]["model"][name].numpy())


def test_cli_device_flag_is_checked_and_documented(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "fake" in capsys.readouterr().out
    assert main(["train", *TINY, "--device", "gpu"]) == 2
    if not cr.cuda.is_available():
        assert main(["train", *TINY, "--device", "cuda"]) == 1
        assert "CUDA is not available" in capsys.readouterr().err


def test_pin_memory_is_the_cpu_tensor_itself_and_refused_elsewhere(device):
    torch = pytest.importorskip("torch")
    x = cr.ones(3, device=device)
    if device == "cpu":
        assert x.pin_memory() is x and not x.is_pinned()
        assert not torch.ones(3).is_pinned()  # the same answer as PyTorch's for an unpinned tensor
        moved = x.pin_memory().to("fake", non_blocking=True)
        assert moved.device == cr.device("fake:0") and host(moved).tolist() == [1.0, 1.0, 1.0]
    else:
        with pytest.raises(RuntimeError, match=f"pin_memory: cannot pin a tensor on {device}"):
            x.pin_memory()
