"""Activations and losses of ``cr.nn.functional`` against PyTorch, and their fused primitives against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from devices import ACCELERATORS
from harness import Case, Const, check_gradients, compare_with_torch, needs_torch, torch

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F


def F_of(lib):
    return lib.nn.functional


def _w(weight, like):
    """A class-weight constant in the dtype of ``like`` (both libraries spell it ``.to(dtype)``)."""
    return weight.to(like.dtype)


labels = Const(np.array([0, 3, 1, 1, 2]))
labels_ignored = Const(np.array([0, -100, 1, 3, -100]))
labels_custom_ignore = Const(np.array([2, 1, 1, 0, 3]))
labels_nd = Const(np.random.default_rng(5).integers(0, 3, size=(2, 4, 5)))
class_weight = Const(np.array([0.5, 2.0, 1.0, 1.5]))
signs = Const(np.array([[1.0, -1.0, 1.0, -1.0], [-1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, 1.0]]))
pos_weight = Const(np.array([0.5, 3.0, 1.0, 2.0]))
element_weight = Const(np.random.default_rng(9).uniform(0.5, 2.0, size=(3, 4)))

ACTIVATIONS = [
    Case("relu", lambda lib, x: F_of(lib).relu(x), [(3, 4)], gradgrad=False),
    Case("leaky_relu", lambda lib, x: F_of(lib).leaky_relu(x, 0.1), [(3, 4)]),
    Case("elu", lambda lib, x: F_of(lib).elu(x, alpha=1.5), [(3, 4)]),
    Case("gelu", lambda lib, x: F_of(lib).gelu(x), [(3, 4)], low=-4, high=4),
    Case("gelu_tanh", lambda lib, x: F_of(lib).gelu(x, approximate="tanh"), [(3, 4)], low=-4, high=4),
    Case("silu", lambda lib, x: F_of(lib).silu(x), [(3, 4)], low=-5, high=5),
    Case("sigmoid", lambda lib, x: F_of(lib).sigmoid(x), [(3, 4)]),
    Case("tanh", lambda lib, x: F_of(lib).tanh(x), [(3, 4)]),
    Case("softplus", lambda lib, x: F_of(lib).softplus(x), [(3, 4)], low=-5, high=5),
    Case("softplus_beta_threshold", lambda lib, x: F_of(lib).softplus(x, beta=2.0, threshold=3.0), [(3, 4)]),
    Case("softmax", lambda lib, x: F_of(lib).softmax(x, dim=1), [(3, 4)]),
    Case("softmax_dim0_3d", lambda lib, x: F_of(lib).softmax(x, dim=0), [(3, 2, 4)]),
    Case("log_softmax", lambda lib, x: F_of(lib).log_softmax(x, dim=-1), [(3, 4)]),
    Case("log_softmax_middle", lambda lib, x: F_of(lib).log_softmax(x, 1), [(2, 3, 4)]),
    Case("softmax_large_logits", lambda lib, x: F_of(lib).softmax(x * 1000.0, dim=1), [(2, 5)], gradgrad=False),
]

LOSSES = [
    Case("mse", lambda lib, x, y: F_of(lib).mse_loss(x, y), [(3, 4), (3, 4)]),
    Case("mse_sum", lambda lib, x, y: F_of(lib).mse_loss(x, y, reduction="sum"), [(3, 4), (3, 4)]),
    Case("mse_none", lambda lib, x, y: F_of(lib).mse_loss(x, y, reduction="none"), [(3, 4), (3, 4)]),
    Case(
        "mse_weighted", lambda lib, x, y, w: F_of(lib).mse_loss(x, y, weight=_w(w, x)), [(3, 4), (3, 4), element_weight]
    ),
    Case("l1", lambda lib, x, y: F_of(lib).l1_loss(x, y), [(3, 4), (3, 4)], gradgrad=False),
    Case("l1_none", lambda lib, x, y: F_of(lib).l1_loss(x, y, reduction="none"), [(3, 4), (3, 4)], gradgrad=False),
    Case(
        "l1_weighted_sum",
        lambda lib, x, y, w: F_of(lib).l1_loss(x, y, reduction="sum", weight=_w(w, x)),
        [(3, 4), (3, 4), element_weight],
        gradgrad=False,
    ),
    Case("huber", lambda lib, x, y: F_of(lib).huber_loss(x, y, delta=0.5), [(3, 4), (3, 4)], gradgrad=False),
    Case(
        "huber_weighted",
        lambda lib, x, y, w: F_of(lib).huber_loss(x, y, weight=_w(w, x)),
        [(3, 4), (3, 4), element_weight],
        gradgrad=False,
    ),
    Case(
        "smooth_l1",
        lambda lib, x, y: F_of(lib).smooth_l1_loss(x, y, beta=0.7, reduction="sum"),
        [(3, 4), (3, 4)],
        gradgrad=False,
    ),
    Case("cross_entropy", lambda lib, x, t: F_of(lib).cross_entropy(x, t), [(5, 4), labels]),
    Case("cross_entropy_sum", lambda lib, x, t: F_of(lib).cross_entropy(x, t, reduction="sum"), [(5, 4), labels]),
    Case("cross_entropy_none", lambda lib, x, t: F_of(lib).cross_entropy(x, t, reduction="none"), [(5, 4), labels]),
    Case(
        "cross_entropy_weight",
        lambda lib, x, t, w: F_of(lib).cross_entropy(x, t, weight=_w(w, x)),
        [(5, 4), labels, class_weight],
    ),
    Case("cross_entropy_ignore", lambda lib, x, t: F_of(lib).cross_entropy(x, t), [(5, 4), labels_ignored]),
    Case(
        "cross_entropy_ignore_weight_none",
        lambda lib, x, t, w: F_of(lib).cross_entropy(x, t, weight=_w(w, x), reduction="none"),
        [(5, 4), labels_ignored, class_weight],
    ),
    Case(
        "cross_entropy_custom_ignore",
        lambda lib, x, t: F_of(lib).cross_entropy(x, t, ignore_index=1),
        [(5, 4), labels_custom_ignore],
    ),
    Case(
        "cross_entropy_smoothing",
        lambda lib, x, t: F_of(lib).cross_entropy(x, t, label_smoothing=0.2),
        [(5, 4), labels],
    ),
    Case(
        "cross_entropy_smoothing_weight_ignore",
        lambda lib, x, t, w: F_of(lib).cross_entropy(x, t, weight=_w(w, x), label_smoothing=0.1),
        [(5, 4), labels_ignored, class_weight],
    ),
    Case(
        "cross_entropy_smoothing_sum",
        lambda lib, x, t: F_of(lib).cross_entropy(x, t, label_smoothing=0.3, reduction="sum"),
        [(5, 4), labels_ignored],
    ),
    Case(
        "cross_entropy_smoothing_none",
        lambda lib, x, t: F_of(lib).cross_entropy(x, t, label_smoothing=0.3, reduction="none"),
        [(5, 4), labels_ignored],
    ),
    Case("cross_entropy_nd", lambda lib, x, t: F_of(lib).cross_entropy(x, t), [(2, 3, 4, 5), labels_nd]),
    Case(
        "cross_entropy_nd_none",
        lambda lib, x, t: F_of(lib).cross_entropy(x, t, reduction="none"),
        [(2, 3, 4, 5), labels_nd],
    ),
    Case("cross_entropy_unbatched", lambda lib, x, t: F_of(lib).cross_entropy(x, t), [(4,), Const(np.array(2))]),
    Case(
        "cross_entropy_probabilities",
        lambda lib, x, p: F_of(lib).cross_entropy(x, F_of(lib).softmax(p, 1)),
        [(5, 4), (5, 4)],
    ),
    Case(
        "cross_entropy_probabilities_smooth_weight",
        lambda lib, x, p, w: F_of(lib).cross_entropy(x, F_of(lib).softmax(p, 1), weight=_w(w, x), label_smoothing=0.25),
        [(5, 4), (5, 4), class_weight],
    ),
    Case(
        "cross_entropy_probabilities_nd_none",
        lambda lib, x, p: F_of(lib).cross_entropy(x, F_of(lib).softmax(p, 1), reduction="none"),
        [(2, 3, 4), (2, 3, 4)],
    ),
    Case("nll", lambda lib, x, t: F_of(lib).nll_loss(F_of(lib).log_softmax(x, 1), t), [(5, 4), labels]),
    Case(
        "nll_weight_ignore",
        lambda lib, x, t, w: F_of(lib).nll_loss(x, t, weight=_w(w, x)),
        [(5, 4), labels_ignored, class_weight],
    ),
    Case("nll_nd_sum", lambda lib, x, t: F_of(lib).nll_loss(x, t, reduction="sum"), [(2, 3, 4, 5), labels_nd]),
    Case("nll_none", lambda lib, x, t: F_of(lib).nll_loss(x, t, reduction="none", ignore_index=3), [(5, 4), labels]),
    Case("bce", lambda lib, p, y: F_of(lib).binary_cross_entropy(p, y), [(3, 4), (3, 4)], low=0.05, high=0.95),
    Case(
        "bce_weight_sum",
        lambda lib, p, y, w: F_of(lib).binary_cross_entropy(p, y, weight=_w(w, p), reduction="sum"),
        [(3, 4), (3, 4), element_weight],
        low=0.05,
        high=0.95,
    ),
    Case(
        "bce_none",
        lambda lib, p, y: F_of(lib).binary_cross_entropy(p, y, reduction="none"),
        [(3, 4), (3, 4)],
        low=0.05,
        high=0.95,
    ),
    Case(
        "bce_logits",
        lambda lib, x, y: F_of(lib).binary_cross_entropy_with_logits(x, y),
        [(3, 4), (3, 4)],
        low=-3,
        high=3,
    ),
    Case(
        "bce_logits_pos_weight",
        lambda lib, x, y, pw: F_of(lib).binary_cross_entropy_with_logits(x, y, pos_weight=_w(pw, x)),
        [(3, 4), (3, 4), pos_weight],
        low=-3,
        high=3,
    ),
    Case(
        "bce_logits_weight_none",
        lambda lib, x, y, w: F_of(lib).binary_cross_entropy_with_logits(x, y, weight=_w(w, x), reduction="none"),
        [(3, 4), (3, 4), element_weight],
    ),
    Case("hinge_embedding", lambda lib, x, y: F_of(lib).hinge_embedding_loss(x, y), [(3, 4), signs], gradgrad=False),
    Case(
        "hinge_embedding_margin_none",
        lambda lib, x, y: F_of(lib).hinge_embedding_loss(x, y, margin=0.5, reduction="none"),
        [(3, 4), signs],
        gradgrad=False,
    ),
    Case("multi_margin", lambda lib, x, t: F_of(lib).multi_margin_loss(x, t), [(5, 4), labels], gradgrad=False),
    Case(
        "multi_margin_p2_weight",
        lambda lib, x, t, w: F_of(lib).multi_margin_loss(x, t, p=2, margin=0.5, weight=_w(w, x)),
        [(5, 4), labels, class_weight],
        gradgrad=False,
    ),
    Case(
        "multi_margin_none",
        lambda lib, x, t: F_of(lib).multi_margin_loss(x, t, reduction="none"),
        [(5, 4), labels],
        gradgrad=False,
    ),
]

# Gradients PyTorch does not offer (it refuses a pos_weight that requires grad): finite differences only.
BEYOND_TORCH = [
    Case(
        "bce_logits_learned_pos_weight",
        lambda lib, x, y, pw: F_of(lib).binary_cross_entropy_with_logits(x, y, pos_weight=pw),
        [(3, 4), (3, 4), (4,)],
        low=0.1,
        high=2.0,
    ),
]

PRIMITIVES = [
    Case("linear", lambda lib, x, w, b: F_of(lib).linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
    Case("linear_no_bias", lambda lib, x, w: F_of(lib).linear(x, w), [(3, 4), (2, 4)]),
    Case("bilinear", lambda lib, a, b, w, c: F_of(lib).bilinear(a, b, w, c), [(3, 2), (3, 4), (5, 2, 4), (5,)]),
    Case("embedding", lambda lib, w, i: F_of(lib).embedding(i, w), [(6, 3), Const(np.array([[1, 5, 1], [0, 1, 2]]))]),
    Case(
        "embedding_padding",
        lambda lib, w, i: F_of(lib).embedding(i, w, padding_idx=1),
        [(6, 3), Const(np.array([1, 5, 1, 0]))],
    ),
    Case("layer_norm", lambda lib, x, w, b: F_of(lib).layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    Case("group_norm", lambda lib, x, w, b: F_of(lib).group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    Case(
        "batch_norm_train",
        lambda lib, x, w, b: F_of(lib).batch_norm(x, None, None, w, b, training=True),
        [(5, 3), (3,), (3,)],
    ),
]


@needs_torch
@pytest.mark.parametrize("case", ACTIVATIONS + LOSSES + PRIMITIVES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_matches_torch(case, dtype):
    compare_with_torch(case, dtype)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("case", ACTIVATIONS + LOSSES + PRIMITIVES, ids=str)
def test_matches_torch_on_a_device(case, device):
    compare_with_torch(case, np.float64, device=device)


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in ACTIVATIONS + LOSSES + PRIMITIVES + BEYOND_TORCH
        if c.name not in ("relu", "softmax_large_logits", "embedding_padding")
    ],
    ids=str,
)
def test_gradcheck(case):
    check_gradients(case)


def test_cross_entropy_is_finite_for_huge_logits():
    logits = cr.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], requires_grad=True)
    target = cr.tensor([1, 1])
    loss = F.cross_entropy(logits, target)
    assert np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), 1e4, rtol=1e-6)  # -log softmax: 2e4 for the first row, 0 for the second
    loss.backward()
    assert np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(logits.grad.numpy(), [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)
    for reduction in ("none", "sum"):
        assert np.isfinite(
            F.cross_entropy(logits, target, reduction=reduction, label_smoothing=0.1).detach().numpy()
        ).all()
    assert np.isfinite(F.log_softmax(logits * 10, 1).detach().numpy()).all()
    assert np.isfinite(F.binary_cross_entropy_with_logits(logits, cr.ones(2, 3)).item())


@needs_torch
def test_cross_entropy_double_backward_matches_torch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 3))
    target = np.array([0, 2, 1, 2])
    x = cr.tensor(logits, requires_grad=True)
    xt = torch.tensor(logits, requires_grad=True)
    (g,) = cr.autograd.grad(F.cross_entropy(x, cr.tensor(target)), x, create_graph=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(target)), xt, create_graph=True)
    (h,) = cr.autograd.grad((g * g).sum(), x)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-7, atol=1e-10)


def test_step_and_sign_have_zero_or_straight_through_gradients():
    x = cr.tensor([-2.0, 0.0, 0.5, 3.0], requires_grad=True)
    np.testing.assert_array_equal(nn.Step()(x).detach().numpy(), [0, 0, 1, 1])
    np.testing.assert_array_equal(nn.Sign()(x).detach().numpy(), [-1, 0, 1, 1])
    for layer in (nn.Step(), nn.Sign()):
        x.grad = None
        (layer(x) * cr.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), 0)
    for layer in (nn.Step(straight_through=True), nn.Sign(straight_through=True)):
        x.grad = None
        (layer(x) * cr.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3, 4])
    assert repr(nn.Step(straight_through=True)) == "Step(straight_through=True)"


@needs_torch
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            lambda: nn.CrossEntropyLoss(weight=cr.tensor([1.0, 2.0, 0.5, 1.0]), label_smoothing=0.1),
            lambda: torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5, 1.0]), label_smoothing=0.1),
        ),
        (
            lambda: nn.NLLLoss(ignore_index=1, reduction="sum"),
            lambda: torch.nn.NLLLoss(ignore_index=1, reduction="sum"),
        ),
        (
            lambda: nn.MultiMarginLoss(p=2, weight=cr.tensor([1.0, 2.0, 0.5, 1.0])),
            lambda: torch.nn.MultiMarginLoss(p=2, weight=torch.tensor([1.0, 2.0, 0.5, 1.0])),
        ),
    ],
)
def test_class_loss_modules_match_torch_and_keep_weight_as_buffer(ours, theirs):
    our_loss, their_loss = ours(), theirs()
    assert list(our_loss.state_dict()) == list(their_loss.state_dict())
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((5, 4)).astype(np.float32)
    x, xt = cr.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    value, reference = our_loss(x, cr.tensor(labels.value)), their_loss(xt, torch.tensor(labels.value))
    np.testing.assert_allclose(value.item(), reference.item(), rtol=1e-5)
    value.backward()
    reference.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


@needs_torch
@pytest.mark.parametrize(
    "ours, theirs, target",
    [
        (nn.MSELoss, lambda: torch.nn.MSELoss(), "float"),
        (nn.L1Loss, lambda: torch.nn.L1Loss(), "float"),
        (lambda: nn.HuberLoss(delta=0.3), lambda: torch.nn.HuberLoss(delta=0.3), "float"),
        (lambda: nn.SmoothL1Loss(beta=0.3), lambda: torch.nn.SmoothL1Loss(beta=0.3), "float"),
        (nn.BCELoss, lambda: torch.nn.BCELoss(), "binary"),
        (
            lambda: nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0, 1.0, 0.5])),
            lambda: torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 1.0, 0.5])),
            "binary",
        ),
        (lambda: nn.HingeEmbeddingLoss(margin=2.0), lambda: torch.nn.HingeEmbeddingLoss(margin=2.0), "sign"),
    ],
)
def test_regression_loss_modules_match_torch(ours, theirs, target):
    our_loss, their_loss = ours(), theirs()
    assert list(our_loss.state_dict()) == list(their_loss.state_dict())
    assert repr(our_loss) == repr(their_loss)
    rng = np.random.default_rng(3)
    inputs = rng.uniform(0.05, 0.95, size=(4, 3)).astype(np.float32)
    targets = {
        "float": rng.standard_normal((4, 3)),
        "binary": rng.integers(0, 2, size=(4, 3)),
        "sign": rng.choice([-1.0, 1.0], size=(4, 3)),
    }[target].astype(np.float32)
    x, xt = cr.tensor(inputs, requires_grad=True), torch.tensor(inputs, requires_grad=True)
    value, reference = our_loss(x, cr.tensor(targets)), their_loss(xt, torch.tensor(targets))
    np.testing.assert_allclose(value.item(), reference.item(), rtol=1e-5)
    value.backward()
    reference.backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_loss_argument_errors():
    x = cr.randn(3, 4)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="average")
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(IndexError, match="target 4 is out of bounds"):
        F.cross_entropy(x, cr.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(x, cr.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(x, cr.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(x, cr.zeros(3, 4))
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        F.multi_margin_loss(x, cr.tensor([0, 1, 2]), p=3)
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(x, cr.randn(3, 1))
    with pytest.warns(UserWarning, match="deprecated"):
        assert F.mse_loss(x, x, size_average=False).shape == ()


def test_bce_gradient_is_finite_at_zero_and_one():
    p = cr.tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = F.binary_cross_entropy(p, cr.tensor([1.0, 0.0, 1.0]), reduction="sum")
    np.testing.assert_allclose(loss.item(), 200 + np.log(2), rtol=1e-6)
    loss.backward()
    assert np.isfinite(p.grad.numpy()).all()


def test_functional_reaches_conv_and_pool():
    pytest.importorskip("chainrule.ops.conv")
    pytest.importorskip("chainrule.ops.pool")
    assert F.conv2d is not None and F.max_pool2d is not None
    with pytest.raises(AttributeError, match="no attribute 'conv9d'"):
        F.conv9d  # noqa: B018
    with pytest.raises(AttributeError):
        F.not_a_function  # noqa: B018


ZERO_DIM_ACTIVATIONS = ["gelu", "silu", "softplus", "elu", "mish", "hardswish", "logsigmoid", "softmax", "log_softmax"]


@needs_torch
@pytest.mark.parametrize("name", ZERO_DIM_ACTIVATIONS)
def test_activations_of_a_zero_dim_tensor_match_torch(name, device):
    def call(lib, t):
        function = getattr(lib.nn.functional, name)
        return function(t, 0) if "softmax" in name else function(t)

    ours = cr.tensor(0.75, dtype=cr.float64, device=device, requires_grad=True)
    theirs = torch.tensor(0.75, dtype=torch.float64, requires_grad=True)
    y, u = call(cr, ours), call(torch, theirs)
    y.backward()
    u.backward()
    assert y.shape == () and y.device.type == cr.device(device).type
    np.testing.assert_allclose(y.item(), u.item(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad.item(), theirs.grad.item(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("accelerator", ACCELERATORS)
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_a_class_target_on_another_device_names_both_devices(loss, accelerator):
    logits = cr.randn(3, 4, device=accelerator)
    with pytest.raises(
        RuntimeError, match=rf"{loss}: Expected all tensors to be on the same device.*{accelerator}.*cpu"
    ):
        getattr(F, loss)(logits, cr.tensor([0, 1, 2]))
