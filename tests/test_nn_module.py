"""Module, Parameter and the containers: registration, traversal, state_dict, modes, dtype and repr."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
from devices import host
from harness import needs_torch, torch

import chainrule as cr
import chainrule.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8))
        self.head = nn.Linear(8, 3)
        self.scale = nn.Parameter(cr.ones(3))
        self.register_buffer("counter", cr.zeros(1))
        self.register_buffer("scratch", cr.zeros(2), persistent=False)
        self.not_a_parameter = cr.zeros(5)

    def forward(self, x):
        return self.head(self.features(x)) * self.scale


def test_registration_by_attribute_assignment():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "scale",
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
        "head.weight",
        "head.bias",
    ]
    assert [name for name, _ in net.named_buffers()] == [
        "counter",
        "scratch",
        "features.2.running_mean",
        "features.2.running_var",
        "features.2.num_batches_tracked",
    ]
    assert [name for name, _ in net.named_children()] == ["features", "head"]
    assert [name for name, _ in net.named_modules()] == [
        "",
        "features",
        "features.0",
        "features.1",
        "features.2",
        "head",
    ]
    assert len(list(net.parameters(recurse=False))) == 1
    assert [name for name, _ in net.named_parameters(prefix="model", recurse=False)] == ["model.scale"]
    assert "not_a_parameter" not in dict(net.named_parameters())
    assert isinstance(net.head, nn.Linear) and net.counter.shape == (1,)
    assert "head" in dir(net) and "scale" in dir(net)


def test_state_dict_keys_skip_non_persistent_buffers_and_share_memory():
    net = Net()
    state = net.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state) == [
        "scale",
        "counter",
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
        "features.2.running_mean",
        "features.2.running_var",
        "features.2.num_batches_tracked",
        "head.weight",
        "head.bias",
    ]
    assert not state["head.weight"].requires_grad and state["head.weight"].grad_fn is None
    assert np.shares_memory(state["head.weight"].numpy(), net.head.weight.detach().numpy())
    assert net.state_dict(keep_vars=True)["head.weight"] is net.head.weight


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    model.lin = nn.Linear(2, 2)
    model.lin.weight = shared.weight
    assert len(list(model.parameters())) == 3


def test_load_state_dict_copies_in_place_and_reports_keys():
    source, target = Net(), Net()
    before = target.head.weight
    state = {key: value.numpy() for key, value in source.state_dict().items()}
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert target.head.weight is before
    np.testing.assert_array_equal(target.head.weight.detach().numpy(), source.head.weight.detach().numpy())
    # chainrule tensors work as values too, and float64 values are cast to the parameter's dtype
    state["head.bias"] = cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)
    target.load_state_dict(state)
    assert target.head.bias.dtype == cr.float32
    np.testing.assert_array_equal(target.head.bias.detach().numpy(), [1, 2, 3])


def test_load_state_dict_errors_name_the_keys():
    net = Net()
    state = {key: value.numpy().copy() for key, value in net.state_dict().items()}
    bad = dict(state)
    bad["head.weight"] = np.zeros((3, 7), np.float32)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    assert "size mismatch for head.weight" in message and "(3, 7)" in message and "(3, 8)" in message
    original = net.head.bias.detach().numpy().copy()
    missing = dict(state)
    del missing["head.bias"]
    missing["head.extra"] = np.zeros(1)
    missing["features.0.bias"] = np.full(8, 5.0, np.float32)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "head.extra"') as info:
        net.load_state_dict(missing)
    assert 'Missing key(s) in state_dict: "head.bias"' in str(info.value)
    assert not (net.features[0].bias.detach().numpy() == 5).all(), "nothing is loaded when a key is wrong"
    result = net.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["head.bias"] and result.unexpected_keys == ["head.extra"]
    np.testing.assert_array_equal(net.head.bias.detach().numpy(), original)
    np.testing.assert_array_equal(net.features[0].bias.detach().numpy(), 5.0)
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict({"head.weight": np.zeros((2, 2))}, strict=False)


def test_registration_errors():
    net = Net()
    with pytest.raises(TypeError, match="parameter 'scale'"):
        net.scale = cr.ones(3)
    with pytest.raises(KeyError, match="a.b"):
        net.register_buffer("a.b", cr.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        net.register_parameter("not_a_parameter", nn.Parameter(cr.zeros(1)))
    with pytest.raises(TypeError):
        net.register_buffer("thing", [1, 2])

    class Forgot(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Forgot()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(cr.zeros(1))
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        net.missing  # noqa: B018
    net.scale = None
    assert "scale" not in dict(net.named_parameters()) and net.scale is None
    del net.head
    assert "head" not in dict(net.named_children())


def test_train_eval_zero_grad_requires_grad_and_apply():
    net = Net()
    assert net.training and net.features[2].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError):
        net.train("no")
    net(cr.randn(4, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "BatchNorm1d", "Sequential", "Linear", "Net"]

    def init_linear(module):
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.weight)

    net.apply(init_linear)
    assert not net.head.weight.detach().numpy().any()


def test_to_double_and_float_change_floating_tensors_in_place():
    net = Net()
    weight = net.head.weight
    net(cr.randn(3, 4)).sum().backward()
    assert net.to(cr.float64) is net
    assert net.head.weight is weight and weight.dtype == cr.float64 and weight.grad.dtype == cr.float64
    assert net.features[2].running_mean.dtype == cr.float64
    assert net.features[2].num_batches_tracked.dtype == cr.int64
    assert net(cr.randn(3, 4, dtype=cr.float64)).dtype == cr.float64
    net.float()
    assert weight.dtype == cr.float32
    net.double()
    assert weight.dtype == cr.float64
    assert net.to("cpu") is net


def test_parameter():
    p = nn.Parameter(cr.zeros(2, 2))
    assert p.requires_grad and p.is_leaf and isinstance(p, cr.Tensor)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(cr.zeros(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    data = cr.zeros(3)
    assert np.shares_memory(nn.Parameter(data).detach().numpy(), data.numpy())
    result = p * 2
    assert type(result) is cr.Tensor


def test_deepcopy_and_pickle_give_independent_models():
    net = Net()
    clone = copy.deepcopy(net)
    assert isinstance(clone.head.weight, nn.Parameter)
    assert clone.head.weight is not net.head.weight
    np.testing.assert_array_equal(clone.head.weight.detach().numpy(), net.head.weight.detach().numpy())
    with cr.no_grad():
        clone.head.weight.fill_(0.0)
    assert net.head.weight.detach().numpy().any()
    restored = pickle.loads(pickle.dumps(net))
    assert isinstance(restored.head.weight, nn.Parameter) and restored.head.weight.requires_grad
    np.testing.assert_array_equal(restored.head.weight.detach().numpy(), net.head.weight.detach().numpy())
    x = cr.randn(2, 4)
    net.eval()
    restored.eval()
    np.testing.assert_allclose(restored(x).detach().numpy(), net(x).detach().numpy())


def test_a_device_model_moves_copies_and_loads_on_its_device(device):
    net = Net()
    weight = net.head.weight
    net.to(device)
    assert net.head.weight is weight and net.counter.device.type == device == weight.device.type
    assert net.not_a_parameter.device.type == "cpu"  # a plain attribute is not the module's to move
    x = cr.randn(3, 4, device=device)
    net(x).sum().backward()
    clone = copy.deepcopy(net)
    assert clone.head.weight.device == weight.device and clone.head.weight.grad.device == weight.device
    with cr.no_grad():
        clone.head.weight.fill_(0.0)
    assert host(net.head.weight).any()
    on_cpu = Net()
    on_cpu.load_state_dict(net.state_dict())  # device tensors as values: copied to the host
    net.load_state_dict(Net().state_dict())  # host values: copied onto the device
    assert on_cpu.head.weight.device.type == "cpu" and net.head.weight.device.type == device
    assert net.cpu().head.weight.device.type == "cpu" and net.head.weight.grad.device.type == "cpu"


def test_forward_hooks():
    layer = nn.Linear(2, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda module, args: calls.append("pre"))
    post = layer.register_forward_hook(lambda module, args, output: output * 0.0)
    assert not layer(cr.ones(1, 2)).detach().numpy().any()
    assert calls == ["pre"]
    pre.remove()
    post.remove()
    assert layer(cr.ones(1, 2)).detach().numpy().any()


def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    model = nn.Sequential(a, b, c)
    assert len(model) == 3 and model[0] is a and model[-1] is c
    assert list(model) == [a, b, c]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert head(cr.ones(4, 2)).shape == (4, 3)
    model.append(nn.Sigmoid())
    assert len(model) == 4 and model(cr.ones(4, 2)).shape == (4, 1)
    named = nn.Sequential(OrderedDict([("hidden", a), ("act", b)]))
    assert list(named.state_dict()) == ["hidden.weight", "hidden.bias"]
    assert named.hidden is a
    del model[1]
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    model[0] = nn.Linear(2, 3)
    assert model[0] is not a
    with pytest.raises(IndexError):
        model[5]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert isinstance(layers[-1], nn.Tanh) and isinstance(layers[1:3], nn.ModuleList)
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]

    class Owner(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleDict({"first": nn.Linear(2, 2), "second": nn.Linear(2, 1)})

    owner = Owner()
    assert list(owner.state_dict()) == [
        "blocks.first.weight",
        "blocks.first.bias",
        "blocks.second.weight",
        "blocks.second.bias",
    ]
    assert "first" in owner.blocks and list(owner.blocks.keys()) == ["first", "second"]
    owner.blocks["third"] = nn.ReLU()
    assert len(owner.blocks) == 3
    assert owner.blocks.pop("third").__class__ is nn.ReLU


def test_residual():
    inner = nn.Linear(3, 3)
    block = nn.Residual(inner)
    x = cr.randn(2, 3)
    np.testing.assert_allclose(block(x).detach().numpy(), (x + inner(x)).detach().numpy())
    assert list(block.state_dict()) == ["fn.weight", "fn.bias"]
    doubled = nn.Residual(lambda t: t * 2)
    np.testing.assert_allclose(doubled(x).numpy(), 3 * x.numpy(), rtol=1e-6)


@needs_torch
def test_repr_matches_torch():
    def build(lib):
        return lib.nn.Sequential(
            lib.nn.Conv2d(1, 6, 5, padding=2),
            lib.nn.BatchNorm2d(6),
            lib.nn.ReLU(),
            lib.nn.MaxPool2d(2),
            lib.nn.Conv2d(6, 8, 3, stride=2, groups=2, bias=False),
            lib.nn.AvgPool2d(2),
            lib.nn.AdaptiveAvgPool2d((1, 1)),
            lib.nn.Flatten(),
            lib.nn.Dropout(0.25),
            lib.nn.Linear(8, 10),
            lib.nn.LeakyReLU(0.2),
            lib.nn.ELU(),
            lib.nn.GELU(approximate="tanh"),
            lib.nn.Softplus(),
            lib.nn.LayerNorm(10),
            lib.nn.GroupNorm(2, 10),
            lib.nn.Embedding(5, 3, padding_idx=0),
            lib.nn.Softmax(dim=1),
            lib.nn.ModuleList([lib.nn.Identity(), lib.nn.Tanh()]),
            lib.nn.CrossEntropyLoss(),
        )

    assert repr(build(cr)) == repr(build(torch))
