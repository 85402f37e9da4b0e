"""Every fused kernel against the same function composed from elementary ops.

The fused paths (one op for linear+bias, softmax cross-entropy, the activations'
backward ops, softmax, convolution through im2col, max pooling through its
index, attention) must give the values, gradients and gradients of gradients of
their composed form. The recurrent layers' fused forms are compared in
``test_nn_rnn.py``. Float64 throughout, so the tolerances are tight.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from devices import ACCELERATORS, host, on
from harness import Case, compare_with_torch, needs_torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.backend.libraries import NUMPY
from chainrule.ops.activation import _normal_cdf


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


def _composed_layer_norm(x, weight, bias, count, eps=1e-5):
    dims = tuple(range(x.ndim - count, x.ndim))
    mean = x.sum(dims, keepdim=True) / np.prod(x.shape[x.ndim - count :])
    centered = x - mean
    variance = (centered * centered).sum(dims, keepdim=True) / np.prod(x.shape[x.ndim - count :])
    out = centered / (variance + eps).sqrt()
    return out if weight is None else out * weight + bias


def _composed_tanh_gelu(x):
    inner = (x + x * x * x * 0.044715) * np.sqrt(2 / np.pi)
    return x * 0.5 * (_composed_tanh(inner) + 1)


def _composed_attention_masked(q, k, v, mask, scale=None):
    """softmax(Q K^T s + M) V from elementary ops, rows with no allowed key set to zero."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale + cr.tensor(mask)
    dead = cr.tensor(np.isneginf(mask).all(-1, keepdims=True))
    scores = cr.where(dead, 0.0, scores)
    exp = (scores - scores.max(dim=-1, keepdim=True).values.detach()).exp()
    return cr.where(dead, 0.0, exp / exp.sum(dim=-1, keepdim=True)) @ v


def _causal(length, source_length):
    return np.where(np.tril(np.ones((length, source_length), dtype=bool)), 0.0, -np.inf)


_PADDING = np.where(
    np.array([[[True, True, False, True, False]], [[True] * 5]]), -np.inf, 0.0
)  # (2, 1, 5): batch 1 sees nothing


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
    "scaled_dot_product_attention_causal": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda q, k, v: _composed_attention_masked(q, k, v, _causal(4, 4)),
        [(2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 5)],
    ),
    "scaled_dot_product_attention_bool_mask_dead_rows_scale": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(_PADDING == 0), scale=0.3),
        lambda q, k, v: _composed_attention_masked(q, k, v, _PADDING, scale=0.3),
        [(2, 5, 3), (2, 5, 3), (2, 5, 2)],
    ),
    "scaled_dot_product_attention_float_mask_broadcast": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=cr.tensor(_causal(3, 5) + 0.25)),
        lambda q, k, v: _composed_attention_masked(q, k, v, _causal(3, 5) + 0.25),
        [(2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)],
    ),
    "scaled_dot_product_attention_gqa": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        lambda q, k, v: _composed_attention(q, k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)),
        [(1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 3)],
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (4,), w, b),
        lambda x, w, b: _composed_layer_norm(x, w, b, 1),
        [(2, 3, 4), (4,), (4,)],
    ),
    "layer_norm_two_dims": (
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3),
        lambda x, w, b: _composed_layer_norm(x, w, b, 2, eps=1e-3),
        [(2, 3, 4), (3, 4), (3, 4)],
    ),
    "layer_norm_no_affine": (
        lambda x: F.layer_norm(x, (5,)),
        lambda x: _composed_layer_norm(x, None, None, 1),
        [(3, 5)],
    ),
    "softmax_row_blocks": (
        lambda x: F.softmax(x, dim=-1),
        lambda x: x.exp() / x.exp().sum(dim=-1, keepdim=True),
        [(3, 250, 300)],
    ),
    "log_softmax_row_blocks": (
        lambda x: F.log_softmax(x, dim=-1),
        lambda x: x - x.exp().sum(dim=-1, keepdim=True).log(),
        [(3, 250, 300)],
    ),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), _composed_tanh_gelu, [(3, 4)]),
    "gelu_erf": (F.gelu, lambda x: x * 0.5 * (cr.erf(x * np.sqrt(0.5)) + 1), [(3, 4)]),
    "gelu_erf_blocks": (F.gelu, lambda x: x * 0.5 * (cr.erf(x * np.sqrt(0.5)) + 1), [(3, 7001)]),
    "silu_blocks": (F.silu, lambda x: x / (1 + (-x).exp()), [(2, 9000)]),
    "pow_3": (lambda x: cr.pow(x, 3.0), lambda x: x * x * x, [(3, 4)]),
    "pow_2_operator": (lambda x: x**2, lambda x: x * x, [(3, 4)]),
    "pow_minus_3": (lambda x: x**-3, lambda x: 1 / (x * x * x), [(3, 4)]),
    "pow_7": (lambda x: x**7, lambda x: x * x * x * x * x * x * x, [(3, 4)]),
    "pow_0": (lambda x: (x**0) * x, lambda x: x, [(3, 4)]),
    "pow_1": (lambda x: x**1, lambda x: x * 1.0, [(3, 4)]),
    "pow_half": (lambda x: (x * x + 0.5) ** 0.5, lambda x: ((x * x + 0.5).log() * 0.5).exp(), [(3, 4)]),
    "pow_minus_half": (lambda x: (x * x + 0.5) ** -0.5, lambda x: ((x * x + 0.5).log() * -0.5).exp(), [(3, 4)]),
    "pow_minus_1": (lambda x: (x * x + 0.5) ** -1, lambda x: 1 / (x * x + 0.5), [(3, 4)]),
    "pow_2_7_general": (lambda x: (x * x + 0.5) ** 2.7, lambda x: ((x * x + 0.5).log() * 2.7).exp(), [(3, 4)]),
    "pow_constant_tensor_exponent": (lambda x: x ** cr.tensor(3.0, dtype=cr.float64), lambda x: x * x * x, [(3, 4)]),
}


def _run(fn, arrays, seed=1, device="cpu"):
    """Output, first-order gradients, and the gradient of <grads, v> (second order) of ``fn`` (as host arrays)."""
    inputs = on(device, *arrays, requires_grad=True)
    inputs = inputs if isinstance(inputs, list) else [inputs]
    output = fn(*inputs)
    rng = np.random.default_rng(seed)
    loss = (output * on(device, rng.standard_normal(output.shape))).sum()
    grads = cr.autograd.grad(loss, inputs, create_graph=True)
    directional = sum((g * on(device, rng.standard_normal(g.shape))).sum() for g in grads)
    if not directional.requires_grad:  # piecewise linear (relu, max): the gradient is locally constant
        second = [None] * len(inputs)
    else:
        second = cr.autograd.grad(directional, inputs, allow_unused=True)
    return (
        host(output),
        [host(g) for g in grads],
        [np.zeros(a.shape) if s is None else host(s) for s, a in zip(second, arrays)],
    )


def _first_order(fn, arrays, seed=1, device="cpu"):
    """Output and gradients of ``fn`` by a plain ``backward()``: the fused backward kernels, no graph of the gradient."""
    inputs = on(device, *arrays, requires_grad=True)
    inputs = inputs if isinstance(inputs, list) else [inputs]
    output = fn(*inputs)
    (output * on(device, np.random.default_rng(seed).standard_normal(output.shape))).sum().backward()
    return [np.zeros(a.shape) if x.grad is None else host(x.grad) for x, a in zip(inputs, arrays)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_backward_kernel_matches_composed(name):
    fused, composed, shapes = CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    for i, (a, b) in enumerate(zip(_first_order(fused, arrays), _first_order(composed, arrays))):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"{name}: gradient of input {i}")


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


_HOST_BUILDING_CASES = frozenset({"relu", "cross_entropy", "cross_entropy_weight_ignore"})
"""Cases whose functions build tensors on the CPU (a target, a weight, a relu mask): not runnable on a device."""


@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_matches_composed_on_a_device(name, device):
    """Forward, the fused first-order kernels, and the differentiable second order, on an accelerator."""
    if name in _HOST_BUILDING_CASES:
        pytest.skip("the case builds tensors on the CPU")
    fused, composed, shapes = CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    for i, (a, b) in enumerate(zip(_first_order(fused, arrays, device=device), _first_order(composed, arrays))):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"{name}: gradient of input {i}")
    ours, reference = _run(fused, arrays, device=device), _run(composed, arrays)
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


def test_the_new_fused_paths_record_one_node():
    x = cr.tensor(np.ones((2, 3, 4)), requires_grad=True)
    assert type(F.layer_norm(x, (4,)).grad_fn).__name__ == "LayerNorm"
    assert type((x**3).grad_fn).__name__ == "PowScalar"
    assert type(F.dropout(x, 0.5).grad_fn).__name__ == "MaskedScale"
    attention = F.scaled_dot_product_attention(x, x, x, is_causal=True)
    assert type(attention.grad_fn).__name__ == "Attention"


# --------------------------------------------------------------------------- against PyTorch
def _gelu_pow(lib, x):
    """The tanh GELU as minGPT writes it, through pow(x, 3.0)."""
    return 0.5 * x * (1.0 + lib.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * lib.pow(x, 3.0))))


def _bool_keep_mask(lib):
    return lib.tensor(np.tril(np.ones((3, 5), dtype=bool)) | np.eye(3, 5, 2, dtype=bool))


TORCH_CASES = [
    Case("layer_norm", lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (6,), w, b), [(2, 3, 6), (6,), (6,)]),
    Case(
        "layer_norm_2d", lambda lib, x, w, b: lib.nn.functional.layer_norm(x, (3, 6), w, b), [(2, 3, 6), (3, 6), (3, 6)]
    ),
    Case("layer_norm_no_affine", lambda lib, x: lib.nn.functional.layer_norm(x, (6,)), [(4, 6)]),
    Case("gelu_erf", lambda lib, x: lib.nn.functional.gelu(x), [(4, 5)], low=-6, high=6),
    Case("gelu_tanh", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"), [(4, 5)], low=-6, high=6),
    Case("gelu_pow_form", _gelu_pow, [(4, 5)], low=-4, high=4),
    Case("softmax", lambda lib, x: lib.nn.functional.softmax(x, -1), [(3, 4, 7)]),
    Case("softmax_dim0", lambda lib, x: lib.nn.functional.softmax(x, 0), [(3, 4)]),
    Case("log_softmax", lambda lib, x: lib.nn.functional.log_softmax(x, -1), [(3, 4, 7)]),
    Case("pow_3", lambda lib, x: lib.pow(x, 3.0), [(3, 4)]),
    Case("pow_minus_2", lambda lib, x: x**-2, [(3, 4)], low=0.5, high=2),
    Case("pow_half", lambda lib, x: x**0.5, [(3, 4)], low=0.5, high=2),
    Case("pow_minus_half", lambda lib, x: x**-0.5, [(3, 4)], low=0.5, high=2),
    Case("pow_general", lambda lib, x: x**1.7, [(3, 4)], low=0.5, high=2),
    Case("pow_zero", lambda lib, x: x**0, [(3, 4)]),
    Case(
        "sdpa_causal",
        lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
        [(2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 3)],
    ),
    Case(
        "sdpa_bool_mask_scale",
        lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=_bool_keep_mask(lib), scale=0.5
        ),
        [(2, 3, 4), (2, 5, 4), (2, 5, 3)],
    ),
    Case(
        "sdpa_float_mask",
        lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=lib.tensor(np.linspace(-1, 1, 15).reshape(3, 5), dtype=q.dtype)
        ),
        [(2, 3, 4), (2, 5, 4), (2, 5, 3)],
    ),
    Case(
        "sdpa_gqa",
        lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        [(2, 6, 3, 4), (2, 2, 5, 4), (2, 3, 5, 3)],
    ),
]


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_fused_ops_match_torch(case, dtype):
    compare_with_torch(case, dtype)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_fused_ops_match_torch_on_a_device(case, device):
    compare_with_torch(case, np.float64, device=device)


def test_gqa_rejects_head_counts_that_do_not_divide():
    q, k = cr.ones(1, 4, 3, 2), cr.ones(1, 3, 3, 2)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: .*multiple of the key's \(3\)"):
        F.scaled_dot_product_attention(q, k, k, enable_gqa=True)


def test_float32_erf_path_is_float32_precise():
    x = np.linspace(-8, 8, 40001).astype(np.float32)
    expected = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    np.testing.assert_allclose(_normal_cdf(NUMPY, x), expected, rtol=0, atol=3e-7)
    assert _normal_cdf(NUMPY, x).dtype == np.float32


# --------------------------------------------------------------------------- dropout
def test_dropout_keeps_each_element_with_probability_one_minus_p_and_scales_it():
    cr.manual_seed(0)
    x = cr.ones(400, 500, requires_grad=True)
    y = F.dropout(x, 0.3)
    values = y.detach().numpy()
    assert y.dtype == cr.float32
    assert set(np.unique(values)) == {np.float32(0.0), np.float32(1 / 0.7)}
    assert abs((values == 0).mean() - 0.3) < 0.005  # 200,000 draws: the standard error is 0.001
    weights = np.random.default_rng(2).standard_normal(values.shape).astype(np.float32)
    (y * cr.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), weights * values, rtol=1e-6)


def test_dropout_masks_are_reproducible_and_differ_between_draws():
    x = cr.ones(64, 64)
    cr.manual_seed(5)
    first, second = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    cr.manual_seed(5)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("p", [0.0, 1e-9, 0.999999])
def test_dropout_extreme_probabilities(p):
    x = cr.ones(1000)
    y = F.dropout(x, p).numpy()
    kept = (y != 0).mean()
    assert kept == 1.0 if p < 1e-6 else kept < 0.01


def test_dropout_is_the_identity_in_eval_and_zero_at_p_one():
    x = cr.ones(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert not F.dropout(x, 1.0).numpy().any()
    with pytest.raises(ValueError, match="dropout: probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_gradient_of_gradient_is_the_same_mask():
    # loss = sum(dropout(x) * x) = sum(m s x^2): its gradient is 2 m s x, and the gradient of <that, v> is 2 m s v.
    x = cr.tensor(np.random.default_rng(0).uniform(1, 2, (5, 6)), requires_grad=True)
    y = F.dropout(x, 0.4)
    (grad,) = cr.autograd.grad((y * x).sum(), x, create_graph=True)
    mask_scale = y.detach().numpy() / x.detach().numpy()
    np.testing.assert_allclose(grad.detach().numpy(), 2 * mask_scale * x.detach().numpy(), rtol=1e-12)
    v = np.random.default_rng(1).standard_normal((5, 6))
    (second,) = cr.autograd.grad((grad * cr.tensor(v)).sum(), x)
    np.testing.assert_allclose(second.numpy(), 2 * mask_scale * v, rtol=1e-12)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: F.layer_norm(cr.ones(2, 6), (6,), cr.ones(5)),
            RuntimeError,
            r"expected weight of shape .* got \(5,\)",
        ),
        (lambda: F.layer_norm(cr.ones(2, 6), (6,), None, cr.ones(6, 1)), RuntimeError, r"expected bias of shape"),
        (lambda: F.layer_norm(cr.ones(2, 6), (6,), cr.ones(6, dtype=cr.float64)), RuntimeError, r"weight \(float64\)"),
        (lambda: F.layer_norm(cr.ones(2, 6, dtype=cr.int64), (6,)), TypeError, r"floating-point input, got int64"),
        (lambda: F.layer_norm(cr.ones(2, 6), (5,)), RuntimeError, r"does not end with normalized_shape \(5,\)"),
    ],
)
def test_layer_norm_rejects_mismatched_parameters(call, error, message):
    with pytest.raises(error, match="layer_norm: .*" + message):
        call()


def test_fused_nodes_free_what_they_saved_after_backward():
    q = cr.ones(1, 2, 3, 4, requires_grad=True)
    outputs = [
        F.scaled_dot_product_attention(q, q, q, is_causal=True, dropout_p=0.5),
        F.dropout(q, 0.5),
        F.layer_norm(q, (4,)),
        q**3,
    ]
    for output in outputs:
        node = output.grad_fn
        output.sum().backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            _ = node.saved_tensors
