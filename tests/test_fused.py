"""Every fused kernel against the same function composed from elementary ops.

The fused paths (one op for linear+bias, softmax cross-entropy, the activations'
backward ops, softmax, convolution through im2col, max pooling through its
index, attention) must give the values, gradients and gradients of gradients of
their composed form. The recurrent layers' fused forms are compared in
``test_nn_rnn.py``. Float64 throughout, so the tolerances are tight.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


def _composed_tanh(x):
    e = (2 * x).exp()
    return (e - 1) / (e + 1)


def _composed_cross_entropy(logits, target, weight=None, ignore_index=-100):
    """-w_t log softmax(x)_t averaged over the weight of the targets not ignored, from elementary ops."""
    shifted = logits - logits.max(dim=1, keepdim=True).values.detach()
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    kept = target.numpy() != ignore_index
    classes = np.where(kept, target.numpy(), 0)
    picked = log_probs[np.arange(len(classes)), classes]
    sample_weight = kept.astype(np.float64) * (1.0 if weight is None else weight.numpy()[classes])
    return -(picked * cr.tensor(sample_weight)).sum() / sample_weight.sum()


def _composed_conv2d(x, w, b, padding):
    """A cross-correlation as a sum over kernel taps of shifted slices times the tap's weights (no im2col)."""
    xp = F.pad(x, (padding,) * 4)
    kernel_h, kernel_w = w.shape[2:]
    out_h, out_w = xp.shape[2] - kernel_h + 1, xp.shape[3] - kernel_w + 1
    out = 0
    for i in range(kernel_h):
        for j in range(kernel_w):
            window = xp[:, :, i : i + out_h, j : j + out_w]  # (N, C, oh, ow)
            out = out + cr.einsum("nchw,oc->nohw", window, w[:, :, i, j])
    return out + b.reshape(1, -1, 1, 1)


def _composed_max_pool2d(x, k):
    """Non-overlapping k x k max pooling as an elementwise maximum of the k * k strided slices."""
    taps = [x[:, :, i::k, j::k] for i in range(k) for j in range(k)]
    out = taps[0]
    for tap in taps[1:]:
        out = cr.maximum(out, tap)
    return out


def _composed_attention(q, k, v):
    scores = q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1])
    weights = scores.exp() / scores.exp().sum(dim=-1, keepdim=True)
    return weights @ v


def _target():
    return cr.tensor(np.array([3, 0, 4, 4, 1, 2]))


# name: (fused, composed, input shapes)
CASES = {
    "linear": (
        lambda x, w, b: F.linear(x, w, b),
        lambda x, w, b: x @ w.t() + b,
        [(2, 3, 5), (4, 5), (4,)],
    ),
    "tanh": (cr.tanh, _composed_tanh, [(3, 4)]),
    "sigmoid": (cr.sigmoid, lambda x: 1 / (1 + (-x).exp()), [(3, 4)]),
    "relu": (F.relu, lambda x: x * cr.tensor((x.detach().numpy() > 0).astype(np.float64)), [(3, 4)]),
    "softmax": (lambda x: F.softmax(x, dim=1), lambda x: x.exp() / x.exp().sum(dim=1, keepdim=True), [(3, 5)]),
    "log_softmax": (
        lambda x: F.log_softmax(x, dim=1),
        lambda x: x - x.exp().sum(dim=1, keepdim=True).log(),
        [(3, 5)],
    ),
    "cross_entropy": (
        lambda x: F.cross_entropy(x, _target()),
        lambda x: _composed_cross_entropy(x, _target()),
        [(6, 5)],
    ),
    "cross_entropy_weight_ignore": (
        lambda x: F.cross_entropy(x, _target(), weight=cr.tensor([1.0, 2.0, 0.5, 1.5, 3.0]), ignore_index=4),
        lambda x: _composed_cross_entropy(x, _target(), cr.tensor([1.0, 2.0, 0.5, 1.5, 3.0]), ignore_index=4),
        [(6, 5)],
    ),
    "conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, padding=1),
        lambda x, w, b: _composed_conv2d(x, w, b, padding=1),
        [(2, 3, 6, 5), (4, 3, 3, 2), (4,)],
    ),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), lambda x: _composed_max_pool2d(x, 2), [(2, 3, 6, 4)]),
    "scaled_dot_product_attention": (
        F.scaled_dot_product_attention,
        _composed_attention,
        [(2, 3, 4), (2, 5, 4), (2, 5, 6)],
    ),
}


def _run(fn, arrays, seed=1):
    """Output, first-order gradients, and the gradient of <grads, v> (second order) of ``fn``."""
    inputs = [cr.tensor(a, requires_grad=True) for a in arrays]
    output = fn(*inputs)
    rng = np.random.default_rng(seed)
    loss = (output * cr.tensor(rng.standard_normal(output.shape))).sum()
    grads = cr.autograd.grad(loss, inputs, create_graph=True)
    directional = sum((g * cr.tensor(rng.standard_normal(g.shape))).sum() for g in grads)
    if not directional.requires_grad:  # piecewise linear (relu, max): the gradient is locally constant
        second = [None] * len(inputs)
    else:
        second = cr.autograd.grad(directional, inputs, allow_unused=True)
    return (
        output.detach().numpy(),
        [g.detach().numpy() for g in grads],
        [np.zeros(a.shape) if s is None else s.numpy() for s, a in zip(second, arrays)],
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_matches_composed_in_values_gradients_and_second_order(name):
    fused, composed, shapes = CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    ours, reference = _run(fused, arrays), _run(composed, arrays)
    np.testing.assert_allclose(ours[0], reference[0], rtol=1e-10, atol=1e-12)
    for kind, mine, theirs in (("gradient", ours[1], reference[1]), ("second order", ours[2], reference[2])):
        for i, (a, b) in enumerate(zip(mine, theirs)):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"{name}: {kind} of input {i}")


def test_the_composed_forms_are_not_the_fused_ops():
    """The comparison means something only if the composed side records elementary ops, not the fused ones."""
    x = cr.tensor(np.random.default_rng(0).standard_normal((6, 5)), requires_grad=True)
    fused = F.cross_entropy(x, _target()).grad_fn
    composed = _composed_cross_entropy(x, _target()).grad_fn
    assert type(fused).__name__ == "CrossEntropy"
    assert type(composed).__name__ != "CrossEntropy"
    w = cr.tensor(np.ones((4, 3, 3, 2)), requires_grad=True)
    assert type(_composed_conv2d(cr.ones(1, 3, 4, 4), w, cr.zeros(4), 1).grad_fn).__name__ != "Conv"
