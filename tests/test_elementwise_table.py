"""The derivative table of the one-input math functions, and the ops named for what they do.

Each row's forward and VJP are checked against PyTorch (float64, on every device);
``cr.sign`` and ``F.sign`` are one function with PyTorch's values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from devices import host

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.ops import elementwise

# name -> input values inside the function's domain
TABLE_ROWS = {
    "exp": (-2.0, 2.0),
    "expm1": (-2.0, 2.0),
    "log": (0.2, 3.0),
    "log1p": (-0.5, 3.0),
    "sqrt": (0.2, 3.0),
    "rsqrt": (0.2, 3.0),
    "reciprocal": (0.2, 3.0),
    "sin": (-3.0, 3.0),
    "cos": (-3.0, 3.0),
    "tanh": (-3.0, 3.0),
    "sigmoid": (-3.0, 3.0),
    "relu": (-3.0, 3.0),
    "abs": (-3.0, 3.0),
    "neg": (-3.0, 3.0),
    "floor": (-3.0, 3.0),
    "ceil": (-3.0, 3.0),
    "trunc": (-3.0, 3.0),
    "sign": (-3.0, 3.0),
}


@pytest.mark.parametrize("name", sorted(TABLE_ROWS))
def test_each_row_matches_pytorch_forward_and_gradient(name, device):
    low, high = TABLE_ROWS[name]
    values = np.random.default_rng(0).uniform(low, high, size=(3, 4))
    weights = np.random.default_rng(1).normal(size=(3, 4))
    x = cr.tensor(values, device=device, requires_grad=True)
    y = getattr(cr, name)(x)
    (y * cr.tensor(weights, device=device)).sum().backward()
    reference = torch.tensor(values, requires_grad=True)
    expected = getattr(torch, name)(reference)
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(host(y), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(x.grad), reference.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert type(y.grad_fn).__name__ == name.capitalize()


def test_a_row_keeps_only_what_its_vjp_reads():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    saved = {name: getattr(cr, name)(x).grad_fn.saved for name in ("exp", "log", "neg")}
    assert saved["exp"][0][0] is not cr.Tensor  # the output, not the input
    assert saved["log"][0][0] is cr.Tensor  # the input
    assert saved["neg"] == ()


def test_sign_is_pytorchs_in_both_namespaces():
    values = [float("nan"), -2.5, -0.0, 0.0, 3.0]
    expected = torch.sign(torch.tensor(values)).numpy()
    for sign in (cr.sign, F.sign):
        np.testing.assert_array_equal(sign(cr.tensor(values)).numpy(), expected)
        integers = sign(cr.tensor([-3, 0, 5]))
        assert integers.dtype == cr.int64 and integers.tolist() == torch.sign(torch.tensor([-3, 0, 5])).tolist()
    assert F.sign is cr.sign


def test_sign_gradient_is_zero_or_straight_through():
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    cr.sign(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    x.grad = None
    cr.sign(x, straight_through=True).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_maximum_and_minimum_are_separate_ops_with_pytorchs_tie_gradient():
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cr.tensor([2.0, 2.0, 1.0], requires_grad=True)
    larger, smaller = cr.maximum(a, b), cr.minimum(a, b)
    assert (type(larger.grad_fn).__name__, type(smaller.grad_fn).__name__) == ("Maximum", "Minimum")
    (larger + 10 * smaller).sum().backward()
    ta, tb = (torch.tensor(v.tolist(), requires_grad=True) for v in (a, b))
    (torch.maximum(ta, tb) + 10 * torch.minimum(ta, tb)).sum().backward()
    assert a.grad.tolist() == ta.grad.tolist() and b.grad.tolist() == tb.grad.tolist()


def test_comparison_logical_and_bitwise_functions_share_one_ufunc_op():
    x = cr.tensor([6, 3])
    assert (x & 3).tolist() == [2, 3] and (x > 4).tolist() == [True, False]
    assert elementwise.BinaryUfunc.differentiable is False


# ---------------------------------------------------------------------- creation and casting on every device
CREATIONS = {
    "zeros": (lambda d: cr.zeros(2, 3, device=d), np.zeros((2, 3), np.float32)),
    "ones": (lambda d: cr.ones(2, dtype=cr.int64, device=d), np.ones(2, np.int64)),
    "full": (lambda d: cr.full((2,), 1.5, device=d), np.full(2, 1.5, np.float32)),
    "eye": (lambda d: cr.eye(2, 3, device=d), np.eye(2, 3, dtype=np.float32)),
    "arange": (lambda d: cr.arange(1, 2, 0.25, device=d), np.array([1, 1.25, 1.5, 1.75], np.float32)),
    "linspace": (lambda d: cr.linspace(0, 1, 3, device=d), np.array([0, 0.5, 1], np.float32)),
    "tensor from a list": (lambda d: cr.tensor([[1, 2]], device=d), np.array([[1, 2]], np.int64)),
    "tensor from NumPy": (lambda d: cr.tensor(np.arange(3.0), device=d), np.arange(3.0)),
    "empty": (lambda d: cr.empty(2, device=d).zero_(), np.zeros(2, np.float32)),
}


@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_creation_makes_the_tensor_on_the_device(name, device):
    make, expected = CREATIONS[name]
    made = make(device)
    assert made.device.type == device
    assert made.dtype == expected.dtype
    np.testing.assert_array_equal(host(made), expected)


def test_promotion_and_casting_stay_on_the_device(device):
    x = cr.tensor([1, 2], device=device)
    y = cr.tensor([0.5, 0.25], device=device, requires_grad=True)
    total = x * y + 1  # int64 with float32 computes in float32
    assert total.dtype == cr.float32 and total.device.type == device
    total.sum().backward()
    assert host(y.grad).tolist() == [1.0, 2.0]
    assert x.float().dtype == cr.float32 and x.type_as(y).dtype == cr.float32 and x.double().dtype == cr.float64
    stacked = cr.stack([x, y.detach()])
    assert stacked.dtype == cr.float32 and stacked.device.type == device
