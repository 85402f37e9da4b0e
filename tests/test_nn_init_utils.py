"""``cr.nn.init`` (gains, fans, the distributions drawn) and ``cr.nn.utils`` (clipping, vector conversion)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from harness import needs_torch, torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import init


@needs_torch
@pytest.mark.parametrize(
    "nonlinearity, param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def test_calculate_gain_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def _spread(tensor):
    values = tensor.detach().numpy()
    return np.abs(values).max(), values.std()


@pytest.mark.parametrize(
    "fill, shape, expected_std, bound",
    [
        (lambda t: init.uniform_(t, -0.3, 0.3), (200, 100), 0.3 / math.sqrt(3), 0.3),
        (lambda t: init.normal_(t, 0.0, 0.02), (200, 100), 0.02, None),
        (lambda t: init.xavier_uniform_(t), (300, 100), math.sqrt(2 / 400), math.sqrt(6 / 400)),
        (lambda t: init.xavier_normal_(t, gain=2.0), (300, 100), 2 * math.sqrt(2 / 400), None),
        (
            lambda t: init.kaiming_uniform_(t, nonlinearity="relu"),
            (100, 50, 3, 3),
            math.sqrt(2 / 450),
            math.sqrt(6 / 450),
        ),
        (
            lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
            (100, 50, 3, 3),
            math.sqrt(2 / 900),
            None,
        ),
        (
            lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
            (300, 200),
            1 / math.sqrt(200) / math.sqrt(3),
            1 / math.sqrt(200),
        ),
    ],
    ids=[
        "uniform",
        "normal",
        "xavier_uniform",
        "xavier_normal",
        "kaiming_uniform",
        "kaiming_normal_fan_out",
        "linear_default",
    ],
)
def test_initialisers_draw_the_right_spread(fill, shape, expected_std, bound):
    cr.manual_seed(1)
    tensor = nn.Parameter(cr.empty(*shape))
    assert fill(tensor) is tensor
    largest, std = _spread(tensor)
    assert std == pytest.approx(expected_std, rel=0.05)
    if bound is not None:
        assert largest <= bound and largest > 0.98 * bound
    assert tensor.requires_grad and tensor.grad_fn is None


def test_initialisers_are_reproducible_and_keep_dtype():
    first = init.kaiming_uniform_(cr.empty(4, 5, dtype=cr.float64))
    cr.manual_seed(7)
    a = init.normal_(cr.empty(3, 3))
    cr.manual_seed(7)
    b = init.normal_(cr.empty(3, 3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert first.dtype == cr.float64
    np.testing.assert_array_equal(init.constant_(cr.empty(2, 2), 0.5).numpy(), 0.5)
    np.testing.assert_array_equal(init.ones_(cr.empty(2)).numpy(), 1)
    np.testing.assert_array_equal(init.zeros_(cr.ones(2)).numpy(), 0)
    np.testing.assert_array_equal(init.eye_(cr.empty(2, 3)).numpy(), np.eye(2, 3))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cr.empty(5))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(cr.empty(2, 2), mode="fan_avg")


def _model_with_grads(grads):
    params = [nn.Parameter(cr.zeros(*np.shape(g))) for g in grads]
    for p, g in zip(params, grads):
        p.grad = cr.tensor(np.asarray(g, dtype=np.float32))
    return params


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal((2, 2, 2))]
    ours = _model_with_grads(grads)
    theirs = [torch.zeros(np.shape(g), requires_grad=True) for g in grads]
    for p, g in zip(theirs, grads):
        p.grad = torch.tensor(np.asarray(g, dtype=np.float32))
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    reference = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), reference.item(), rtol=1e-5)
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    params = _model_with_grads([[3.0, 4.0]])
    params.append(nn.Parameter(cr.zeros(2)))  # no gradient: skipped
    assert nn.utils.clip_grad_norm_(params, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(params[0].grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert nn.utils.clip_grad_norm_(params[0], 10.0).item() == pytest.approx(1.0, rel=1e-5)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    bad = _model_with_grads([[np.inf, 1.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    params = _model_with_grads([[-3.0, 0.5, 2.0], [[0.1, -0.2]]])
    nn.utils.clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad.numpy(), [-1.0, 0.5, 1.0])
    np.testing.assert_allclose(params[1].grad.numpy(), [[0.1, -0.2]])


def test_parameters_to_vector_and_back():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vector = nn.utils.parameters_to_vector(model.parameters())
    assert vector.shape == (3 * 2 + 2 + 2 + 1,)
    np.testing.assert_array_equal(vector.detach().numpy()[:6], model[0].weight.detach().numpy().reshape(-1))
    (vector * 2).sum().backward()  # differentiable: every parameter gets the gradient 2
    np.testing.assert_array_equal(model[1].bias.grad.numpy(), [2.0])
    weight = model[0].weight
    nn.utils.vector_to_parameters(cr.arange(11, dtype=cr.float32), model.parameters())
    assert model[0].weight is weight
    np.testing.assert_array_equal(weight.detach().numpy(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(model[1].bias.detach().numpy(), [10])
    with pytest.raises(ValueError, match="11"):
        nn.utils.vector_to_parameters(cr.zeros(12), model.parameters())
