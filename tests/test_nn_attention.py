"""MultiheadAttention, scaled_dot_product_attention and the Transformer encoder against PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest
from devices import ACCELERATORS, host
from harness import TOLERANCES, needs_torch, torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn.attention import scaled_dot_product_attention
from chainrule.nn.transformer import generate_square_subsequent_mask

TARGET, SOURCE, BATCH, EMBED, HEADS = 4, 5, 2, 6, 2
_rng = np.random.default_rng(0)
BOOL_MASK = _rng.random((TARGET, SOURCE)) < 0.3
FLOAT_MASK = _rng.standard_normal((TARGET, SOURCE))
HEAD_MASK = _rng.random((BATCH * HEADS, TARGET, SOURCE)) < 0.3
PADDING = np.array([[False, True, False, False, True], [False, False, False, False, True]])
CAUSAL = np.triu(np.ones((TARGET, TARGET), dtype=bool), 1)


def _to(lib, value, dtype, device="cpu"):
    if not isinstance(value, np.ndarray):
        return value
    value = value.astype(dtype) if value.dtype.kind == "f" else value
    return cr.tensor(value, device=device) if lib is cr else torch.tensor(value)


def _load(ours, theirs, dtype, device="cpu"):
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    state = {key: value.detach().numpy() for key, value in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state, strict=True)
    return ours.to(device), theirs


def _compare(our_out, their_out, our_leaves, their_leaves, ours, theirs, dtype, what):
    """Outputs, then the gradients of every leaf and parameter under a random weighting of the outputs."""
    tol = TOLERANCES[dtype]
    rng = np.random.default_rng(1)
    our_loss = their_loss = 0
    for i, (mine, ref) in enumerate(zip(our_out, their_out)):
        if ref is None:
            assert mine is None, f"{what}: output {i} should be None"
            continue
        assert mine.shape == tuple(ref.shape), f"{what}: output {i} shape {mine.shape} vs {tuple(ref.shape)}"
        assert mine.device == our_leaves[0].device, f"{what}: output {i} on {mine.device}"
        np.testing.assert_allclose(host(mine), ref.detach().numpy(), **tol, err_msg=f"{what}: output {i}")
        weight = rng.standard_normal(mine.shape).astype(dtype)
        our_loss = our_loss + (mine * cr.tensor(weight, device=mine.device)).sum()
        their_loss = their_loss + (ref * torch.tensor(weight)).sum()
    our_loss.backward()
    their_loss.backward()
    for i, (mine, ref) in enumerate(zip(our_leaves, their_leaves)):
        np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol, err_msg=f"{what}: grad of input {i}")
    for (name, mine), (_, ref) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert mine.grad is not None, f"{what}: {name} got no gradient"
        np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol, err_msg=f"{what}: grad of {name}")


def _attention_inputs(options: dict, self_attention: bool, unbatched: bool, dtype):
    rng = np.random.default_rng(2)
    kdim, vdim = options.get("kdim") or EMBED, options.get("vdim") or EMBED

    def shape(length, features):
        if unbatched:
            return (length, features)
        return (BATCH, length, features) if options.get("batch_first") else (length, BATCH, features)

    query = rng.standard_normal(shape(TARGET, EMBED)).astype(dtype)
    if self_attention:
        return [query]
    return [
        query,
        rng.standard_normal(shape(SOURCE, kdim)).astype(dtype),
        rng.standard_normal(shape(SOURCE, vdim)).astype(dtype),
    ]


def _run_attention(options, call, dtype=np.float64, self_attention=False, unbatched=False, device="cpu"):
    torch.manual_seed(0)
    ours, theirs = _load(
        nn.MultiheadAttention(EMBED, HEADS, **options),
        torch.nn.MultiheadAttention(EMBED, HEADS, **options),
        dtype,
        device,
    )
    arrays = _attention_inputs(options, self_attention, unbatched, dtype)
    our_leaves = [cr.tensor(a, requires_grad=True, device=device) for a in arrays]
    their_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    our_qkv = our_leaves * 3 if self_attention else our_leaves  # the same tensor three times: the packed path
    their_qkv = their_leaves * 3 if self_attention else their_leaves
    our_out = ours(*our_qkv, **{k: _to(cr, v, dtype, device) for k, v in call.items()})
    their_out = theirs(*their_qkv, **{k: _to(torch, v, dtype) for k, v in call.items()})
    _compare(our_out, their_out, our_leaves, their_leaves, ours, theirs, dtype, f"{options} {sorted(call)}")


LAYER_OPTIONS = [
    {},
    {"batch_first": True},
    {"kdim": 3, "vdim": 5},
    {"add_bias_kv": True},
    {"add_zero_attn": True, "bias": False},
    {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True, "kdim": 4},
]
CALLS = {
    "plain": {},
    "bool_mask": {"attn_mask": BOOL_MASK},
    "float_mask": {"attn_mask": FLOAT_MASK},
    "padding": {"key_padding_mask": PADDING},
    "both_masks": {"attn_mask": BOOL_MASK, "key_padding_mask": PADDING},
    "per_head_mask_per_head_weights": {"attn_mask": HEAD_MASK, "average_attn_weights": False},
    "no_weights": {"need_weights": False},
    "no_weights_float_masks": {
        "need_weights": False,
        "attn_mask": FLOAT_MASK,
        "key_padding_mask": np.where(PADDING, -np.inf, 0.0),
    },
}


@needs_torch
@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=str)
@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_multihead_attention_matches_torch(options, call):
    _run_attention(options, call)


@needs_torch
@pytest.mark.parametrize("options", [{}, {"batch_first": True, "add_zero_attn": True}], ids=str)
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("padding", [False, True])
def test_causal_self_attention_matches_torch(options, need_weights, padding):
    call = {"attn_mask": CAUSAL, "is_causal": True, "need_weights": need_weights}
    if padding:
        call["key_padding_mask"] = PADDING[:, :TARGET]
    _run_attention(options, call, self_attention=True)


@needs_torch
@pytest.mark.parametrize(
    "options, call, self_attention",
    [
        ({}, {}, True),
        ({"batch_first": True}, {"key_padding_mask": PADDING[0]}, False),
        ({}, {"attn_mask": HEAD_MASK[:HEADS]}, False),
    ],
    ids=["self", "padding", "per_head_mask"],
)
def test_unbatched_attention_matches_torch(options, call, self_attention):
    _run_attention(options, call, self_attention=self_attention, unbatched=True)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=str)
@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_multihead_attention_on_a_device_matches_torch(options, call, device):
    """The layer, its host masks and its gradients on an accelerator (the masks copied there)."""
    _run_attention(options, call, device=device)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("need_weights", [True, False])
def test_causal_self_attention_on_a_device_matches_torch(need_weights, device):
    call = {"attn_mask": CAUSAL, "is_causal": True, "need_weights": need_weights, "key_padding_mask": PADDING[:, :4]}
    _run_attention({}, call, self_attention=True, device=device)
    _run_attention({"batch_first": True}, {"need_weights": False}, np.float32, self_attention=True, device=device)


@needs_torch
@pytest.mark.parametrize("options", [{}, {"batch_first": True}], ids=str)
def test_multihead_attention_float32(options):
    _run_attention(options, {"attn_mask": BOOL_MASK, "key_padding_mask": PADDING}, dtype=np.float32)
    _run_attention(options, {"need_weights": False}, dtype=np.float32, self_attention=True)


@needs_torch
@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal"])
def test_scaled_dot_product_attention_matches_torch(mask):
    rng = np.random.default_rng(3)
    arrays = [
        rng.standard_normal((2, 3, TARGET, 4)),
        rng.standard_normal((2, 3, SOURCE, 4)),
        rng.standard_normal((2, 3, SOURCE, 5)),
    ]
    kwargs = {"bool": {"attn_mask": ~BOOL_MASK}, "float": {"attn_mask": FLOAT_MASK}, "causal": {"is_causal": True}}.get(
        mask, {}
    )
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    our_out = scaled_dot_product_attention(*ours, **{k: _to(cr, v, np.float64) for k, v in kwargs.items()})
    their_out = torch.nn.functional.scaled_dot_product_attention(
        *theirs, **{k: _to(torch, v, np.float64) for k, v in kwargs.items()}
    )
    np.testing.assert_allclose(our_out.detach().numpy(), their_out.detach().numpy(), **TOLERANCES[np.float64])
    our_out.sum().backward()
    their_out.sum().backward()
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **TOLERANCES[np.float64])


# --------------------------------------------------------------------------- the encoder
ENCODER_CALLS = {
    "plain": {},
    "causal": {"src_mask": CAUSAL[:TARGET, :TARGET], "is_causal": True},
    "padding": {"src_key_padding_mask": PADDING[:, :TARGET]},
    "float_masks": {"src_mask": FLOAT_MASK[:, :TARGET], "src_key_padding_mask": PADDING[:, :TARGET] * -1e9},
}


def _run_encoder(make, call, dtype, batch_first, device="cpu"):
    torch.manual_seed(0)
    ours, theirs = _load(make(nn), make(torch.nn), dtype, device)
    ours.eval()
    theirs.eval()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((BATCH, TARGET, 8) if batch_first else (TARGET, BATCH, 8)).astype(dtype)
    our_x, their_x = cr.tensor(x, requires_grad=True, device=device), torch.tensor(x, requires_grad=True)
    our_out = ours(our_x, **{k: _to(cr, v, dtype, device) for k, v in call.items()})
    their_out = theirs(their_x, **{k: _to(torch, v, dtype) for k, v in call.items()})
    _compare([our_out], [their_out], [our_x], [their_x], ours, theirs, dtype, f"encoder {sorted(call)}")


@needs_torch
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("call", list(ENCODER_CALLS.values()), ids=list(ENCODER_CALLS))
def test_transformer_encoder_layer_matches_torch_in_eval(norm_first, activation, call):
    for dtype, batch_first in [(np.float64, False), (np.float32, True)]:

        def make(lib, batch_first=batch_first):
            return lib.TransformerEncoderLayer(
                8, 2, dim_feedforward=16, activation=activation, norm_first=norm_first, batch_first=batch_first
            )

        _run_encoder(make, call, dtype, batch_first)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("call", list(ENCODER_CALLS.values()), ids=list(ENCODER_CALLS))
def test_transformer_encoder_layer_on_a_device_matches_torch(activation, call, device):
    def make(lib):
        return lib.TransformerEncoderLayer(8, 2, dim_feedforward=16, activation=activation, norm_first=True)

    _run_encoder(make, call, np.float64, False, device)


@needs_torch
def test_transformer_encoder_stack_matches_torch():
    def make(lib):
        layer = lib.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True, bias=False)
        return lib.TransformerEncoder(layer, 2, norm=lib.LayerNorm(8), enable_nested_tensor=False)

    _run_encoder(make, {"src_key_padding_mask": PADDING[:, :TARGET]}, np.float64, True)


@needs_torch
def test_square_subsequent_mask_matches_torch():
    mask = generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(5).numpy())
    assert mask.dtype == cr.float32


# --------------------------------------------------------------------------- no PyTorch needed below
def test_gradcheck_multihead_attention():
    cr.manual_seed(0)
    layer = nn.MultiheadAttention(4, 2, add_bias_kv=True, kdim=3).double()
    rng = np.random.default_rng(5)
    inputs = (
        cr.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True),
        cr.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True),
        cr.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True),
    )
    mask = cr.tensor(np.array([[False, True], [False, False], [True, False]]))
    assert cr.autograd.gradcheck(lambda q, k, v: layer(q, k, v, attn_mask=mask), inputs)
    assert cr.autograd.gradgradcheck(lambda q, k, v: layer(q, k, v, need_weights=False)[0], inputs)


def test_fully_masked_rows_give_zeros_not_nan():
    layer = nn.MultiheadAttention(4, 2)
    x = cr.randn(3, 2, 4, requires_grad=True)
    padding = cr.tensor(np.array([[True, True, True], [False, True, False]]))
    for need_weights in (True, False):
        output, weights = layer(x, x, x, key_padding_mask=padding, need_weights=need_weights)
        assert np.isfinite(output.detach().numpy()).all()
        np.testing.assert_array_equal(output.detach().numpy()[:, 0], 0.0)  # zero attention, zero out_proj bias
        if need_weights:
            np.testing.assert_array_equal(weights.detach().numpy()[0], 0.0)
            np.testing.assert_allclose(weights.detach().numpy()[1].sum(-1), 1.0, rtol=1e-6)
        output.sum().backward()
        assert np.isfinite(x.grad.numpy()).all()


def test_initialisation_and_parameter_layout():
    cr.manual_seed(0)
    layer = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert [name for name, _ in layer.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias",
    ]  # fmt: skip
    bound = np.sqrt(6 / (8 + 24))
    weight = layer.in_proj_weight.detach().numpy()
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert not layer.in_proj_bias.detach().numpy().any() and not layer.out_proj.bias.detach().numpy().any()
    separate = nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert separate.in_proj_weight is None
    assert separate.k_proj_weight.shape == (8, 3) and separate.v_proj_weight.shape == (8, 5)
    assert "in_proj_weight" not in separate.state_dict()


def test_bad_inputs_raise_with_shapes():
    layer = nn.MultiheadAttention(6, 2, batch_first=True)
    with pytest.raises(RuntimeError) as info:
        layer(cr.randn(2, 4, 5), cr.randn(2, 4, 6), cr.randn(2, 4, 6))
    message = str(info.value)
    assert "MultiheadAttention" in message and "(2, 4, 5)" in message and "6" in message
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(6, 4)
    x = cr.randn(2, 4, 6)
    with pytest.raises(RuntimeError, match="need attn_mask"):
        layer(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(4, 3\)"):
        layer(x, x, x, attn_mask=cr.zeros(4, 3))
    with pytest.raises(RuntimeError, match="key_padding_mask"):
        layer(x, x, x, key_padding_mask=cr.zeros(4, 2, dtype=cr.bool))
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        layer(x, x, x, attn_mask=cr.zeros(4, 4), key_padding_mask=cr.zeros(2, 4, dtype=cr.bool))
    with pytest.raises(RuntimeError, match="TransformerEncoderLayer"):
        nn.TransformerEncoderLayer(6, 2)(cr.randn(3, 2, 5))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(6, 2, activation="tanh")


def test_dropout_acts_only_in_training():
    cr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = cr.randn(4, 2, 8)
    trained = layer(x).detach().numpy()
    layer.eval()
    evaluated = layer(x).detach().numpy()
    assert not np.allclose(trained, evaluated)
    np.testing.assert_array_equal(layer(x).detach().numpy(), evaluated)
