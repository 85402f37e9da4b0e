"""The less common layers, functions and losses against PyTorch's.

One harness for all: a layer (or a function) is built in both frameworks,
PyTorch's state_dict is loaded into ours with ``strict=True``, and the
outputs, the gradient of every floating input and of every parameter are
compared under a fixed random weighting of the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from harness import TOLERANCES, Const, needs_torch, torch

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F


@dataclass
class Run:
    """``make(lib)`` builds the module (or returns a function); ``inputs`` are float shapes or Consts."""

    name: str
    make: object
    inputs: list
    kwargs: dict = field(default_factory=dict)
    train: bool = False
    low: float = -2.0
    high: float = 2.0
    tolerance_scale: float = 1.0

    def __str__(self) -> str:
        return self.name


def _to(lib, value, dtype):
    if isinstance(value, Const):
        value = value.value
    if not isinstance(value, np.ndarray):
        return value
    value = value.astype(dtype) if value.dtype.kind == "f" else value
    return cr.tensor(value) if lib is cr else torch.tensor(value)


def _build(run: Run, dtype):
    torch.manual_seed(0)
    theirs = run.make(torch)
    ours = run.make(cr)
    if not isinstance(theirs, torch.nn.Module):
        return ours, theirs
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    state = {key: value.detach().numpy() for key, value in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state), f"{run}: state_dict keys"
    for key, value in ours.state_dict().items():
        assert tuple(value.shape) == state[key].shape, f"{run}: shape of {key}"
    result = ours.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    ours.train(run.train)
    theirs.train(run.train)
    return ours, theirs


def _flat(result) -> list:
    if isinstance(result, (tuple, list)):
        return [t for part in result for t in _flat(part)]
    return [result]


def _draw(spec, rng, run: Run, dtype):
    """A float array for a shape, a tuple of them for a tuple of shapes; Consts as they are."""
    if isinstance(spec, Const):
        return spec
    if isinstance(spec, tuple) and spec and isinstance(spec[0], tuple):
        return tuple(_draw(part, rng, run, dtype) for part in spec)
    return rng.uniform(run.low, run.high, spec).astype(dtype)


def _as_inputs(lib, value, dtype, leaves: list):
    """The framework's tensors for drawn inputs; every float array becomes a leaf that requires grad."""
    if isinstance(value, tuple):
        return tuple(_as_inputs(lib, part, dtype, leaves) for part in value)
    if isinstance(value, Const):
        return _to(lib, value, dtype)
    leaf = cr.tensor(value, requires_grad=True) if lib is cr else torch.tensor(value, requires_grad=True)
    leaves.append(leaf)
    return leaf


def check_against_torch(run: Run, dtype=np.float64) -> None:
    ours, theirs = _build(run, dtype)
    rng = np.random.default_rng(0)
    arrays = [_draw(spec, rng, run, dtype) for spec in run.inputs]
    our_leaves, their_leaves = [], []
    our_inputs = [_as_inputs(cr, a, dtype, our_leaves) for a in arrays]
    their_inputs = [_as_inputs(torch, a, dtype, their_leaves) for a in arrays]
    our_kwargs = {k: _to(cr, v, dtype) for k, v in run.kwargs.items()}
    their_kwargs = {k: _to(torch, v, dtype) for k, v in run.kwargs.items()}
    our_out = _flat(ours(*our_inputs, **our_kwargs))
    their_out = _flat(theirs(*their_inputs, **their_kwargs))
    tol = {k: v * run.tolerance_scale for k, v in TOLERANCES[dtype].items()}
    assert len(our_out) == len(their_out), f"{run}: number of outputs"
    weights = np.random.default_rng(1)
    our_loss = their_loss = 0
    for i, (mine, ref) in enumerate(zip(our_out, their_out)):
        assert tuple(mine.shape) == tuple(ref.shape), f"{run}: output {i} shape {mine.shape} vs {tuple(ref.shape)}"
        assert str(mine.dtype) == str(ref.dtype).replace("torch.", ""), f"{run}: output {i} dtype"
        np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy(), **tol, err_msg=f"{run}: output {i}")
        if ref.requires_grad:
            weight = weights.standard_normal(tuple(mine.shape)).astype(dtype)
            our_loss = our_loss + (mine * cr.tensor(weight)).sum()
            their_loss = their_loss + (ref * torch.tensor(weight)).sum()
    if isinstance(their_loss, int):
        return
    our_loss.backward()
    their_loss.backward()
    for i, (mine, ref) in enumerate(zip(our_leaves, their_leaves)):
        if ref.grad is not None:
            assert mine.grad is not None, f"{run}: input {i} got no gradient"
            np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **tol, err_msg=f"{run}: grad of input {i}")
    if isinstance(theirs, torch.nn.Module):
        our_params = dict(ours.named_parameters())
        for name, ref in theirs.named_parameters():
            mine = our_params[name]
            if ref.grad is None:
                assert mine.grad is None or not mine.grad.numpy().any(), f"{run}: {name} should get no gradient"
                continue
            assert mine.grad is not None, f"{run}: {name} got no gradient"
            np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **tol, err_msg=f"{run}: grad of {name}")


DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])

# --------------------------------------------------------------------------- transformer
_rng = np.random.default_rng(3)
S, T, N, E = 5, 4, 2, 8
CAUSAL = Const(np.triu(np.ones((T, T), dtype=bool), 1))
FLOAT_CAUSAL = Const(np.triu(np.full((T, T), -np.inf), 1))
MEMORY_MASK = Const(_rng.random((T, S)) < 0.3)
SRC_PADDING = Const(np.array([[False, False, True, False, True], [False, False, False, False, True]]))
TGT_PADDING = Const(np.array([[False, False, False, True], [False, True, False, False]]))


def _decoder_layer(lib, batch_first=False, norm_first=False, activation="relu", bias=True):
    return lib.nn.TransformerDecoderLayer(
        E,
        2,
        dim_feedforward=16,
        dropout=0.0,
        activation=activation,
        batch_first=batch_first,
        norm_first=norm_first,
        bias=bias,
    )


def _seq(length, batch_first):
    return (N, length, E) if batch_first else (length, N, E)


DECODER_CALLS = {
    "plain": {},
    "causal": {"tgt_mask": CAUSAL, "tgt_is_causal": True},
    "float_causal_detected": {"tgt_mask": FLOAT_CAUSAL},
    "masks": {
        "tgt_mask": CAUSAL,
        "memory_mask": MEMORY_MASK,
        "tgt_key_padding_mask": TGT_PADDING,
        "memory_key_padding_mask": SRC_PADDING,
    },
}

TRANSFORMER_RUNS = []
for _name, _call in DECODER_CALLS.items():
    for _batch_first in (False, True):
        for _norm_first in (False, True):
            _tag = f"{_name}_bf{int(_batch_first)}_nf{int(_norm_first)}"
            if _name != "float_causal_detected":
                TRANSFORMER_RUNS.append(
                    Run(
                        f"decoder_layer_{_tag}",
                        lambda lib, bf=_batch_first, nf=_norm_first: _decoder_layer(lib, bf, nf),
                        [_seq(T, _batch_first), _seq(S, _batch_first)],
                        kwargs=_call,
                    )
                )
            TRANSFORMER_RUNS.append(
                Run(
                    f"decoder_stack_{_tag}",
                    lambda lib, bf=_batch_first, nf=_norm_first: lib.nn.TransformerDecoder(
                        _decoder_layer(lib, bf, nf, "gelu"), 2, norm=lib.nn.LayerNorm(E)
                    ),
                    [_seq(T, _batch_first), _seq(S, _batch_first)],
                    kwargs=_call,
                )
            )
TRANSFORMER_RUNS += [
    Run("decoder_layer_unbatched", lambda lib: _decoder_layer(lib), [(T, E), (S, E)], kwargs={"tgt_mask": CAUSAL}),
    Run("decoder_layer_no_bias", lambda lib: _decoder_layer(lib, bias=False), [(T, N, E), (S, N, E)]),
    Run(
        "transformer",
        lambda lib: lib.nn.Transformer(E, 2, 2, 2, 16, dropout=0.0),
        [(S, N, E), (T, N, E)],
        kwargs={"tgt_mask": CAUSAL},
    ),
    Run(
        "transformer_batch_first_norm_first_all_masks",
        lambda lib: lib.nn.Transformer(
            E, 2, 1, 2, 16, dropout=0.0, batch_first=True, norm_first=True, activation="gelu"
        ),
        [(N, S, E), (N, T, E)],
        kwargs={
            "tgt_mask": FLOAT_CAUSAL,
            "memory_mask": MEMORY_MASK,
            "src_key_padding_mask": SRC_PADDING,
            "tgt_key_padding_mask": TGT_PADDING,
            "memory_key_padding_mask": SRC_PADDING,
        },
    ),
    Run(
        "transformer_causal_flags",
        lambda lib: lib.nn.Transformer(E, 2, 1, 1, 16, dropout=0.0, bias=False),
        [(T, N, E), (T, N, E)],
        kwargs={"src_mask": CAUSAL, "tgt_mask": CAUSAL, "src_is_causal": True, "tgt_is_causal": True},
    ),
    Run("transformer_unbatched", lambda lib: lib.nn.Transformer(E, 2, 1, 1, 16, dropout=0.0), [(S, E), (T, E)]),
    Run(
        "transformer_custom_encoder_decoder",
        lambda lib: lib.nn.Transformer(
            E,
            2,
            custom_encoder=lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, 2, 16, 0.0), 2),
            custom_decoder=lib.nn.TransformerDecoder(_decoder_layer(lib), 1),
        ),
        [(S, N, E), (T, N, E)],
        kwargs={"src_key_padding_mask": SRC_PADDING, "tgt_mask": CAUSAL},
    ),
]


@needs_torch
@pytest.mark.parametrize("run", TRANSFORMER_RUNS, ids=str)
def test_transformer_decoder_matches_torch(run):
    check_against_torch(run)


@needs_torch
def test_transformer_float32_and_square_mask():
    check_against_torch(next(run for run in TRANSFORMER_RUNS if run.name == "transformer"), np.float32)
    np.testing.assert_array_equal(
        nn.Transformer.generate_square_subsequent_mask(4).numpy(),
        torch.nn.Transformer.generate_square_subsequent_mask(4).numpy(),
    )


# --------------------------------------------------------------------------- layers
def _module(name, *args, **kwargs):
    return lambda lib: getattr(lib.nn, name)(*args, **kwargs)


LAYER_RUNS = [
    Run("hardtanh", _module("Hardtanh", -0.5, 1.2), [(3, 4)]),
    Run("relu6", _module("ReLU6"), [(3, 4)], low=-3, high=8),
    Run("prelu_shared", _module("PReLU"), [(3, 4, 5)]),
    Run("prelu_channels", _module("PReLU", 4, init=0.1), [(3, 4, 5)]),
    Run("prelu_channels_4d", _module("PReLU", 3), [(2, 3, 2, 2)]),
    Run("mish", _module("Mish"), [(3, 4)], low=-5, high=5),
    Run("hardswish", _module("Hardswish"), [(3, 4)], low=-5, high=5),
    Run("hardsigmoid", _module("Hardsigmoid"), [(3, 4)], low=-5, high=5),
    Run("softsign", _module("Softsign"), [(3, 4)]),
    Run("tanhshrink", _module("Tanhshrink"), [(3, 4)]),
    Run("threshold", _module("Threshold", 0.3, -2.0), [(3, 4)]),
    Run("logsigmoid", _module("LogSigmoid"), [(3, 4)], low=-30, high=30),
    Run("softmin", _module("Softmin", dim=1), [(3, 4)]),
    Run("glu", _module("GLU"), [(3, 4)]),
    Run("glu_dim", _module("GLU", dim=0), [(4, 3)]),
    Run("celu", _module("CELU", alpha=0.7), [(3, 4)]),
    Run("selu", _module("SELU"), [(3, 4)]),
    Run("hardshrink", _module("Hardshrink", 0.7), [(3, 4)]),
    Run("softshrink", _module("Softshrink"), [(3, 4)]),
    Run("softmax2d", _module("Softmax2d"), [(2, 3, 2, 2)]),
    Run("softmax2d_unbatched", _module("Softmax2d"), [(3, 2, 2)]),
    Run("dropout2d_eval", _module("Dropout2d", 0.4), [(2, 3, 4, 4)]),
    Run("alpha_dropout_eval", _module("AlphaDropout", 0.4), [(2, 3)]),
    Run("conv_transpose1d", _module("ConvTranspose1d", 4, 3, 3), [(2, 4, 5)]),
    Run(
        "conv_transpose1d_options",
        _module("ConvTranspose1d", 4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2),
        [(2, 4, 5)],
    ),
    Run("conv_transpose1d_unbatched_no_bias", _module("ConvTranspose1d", 2, 3, 2, bias=False), [(2, 5)]),
    Run("avg_pool1d", _module("AvgPool1d", 3, stride=2, padding=1), [(2, 3, 8)]),
    Run("avg_pool1d_ceil_no_pad_count", _module("AvgPool1d", 3, 2, 1, True, False), [(2, 3, 8)]),
    Run("adaptive_avg_pool1d", _module("AdaptiveAvgPool1d", 3), [(2, 3, 8)]),
    Run("adaptive_max_pool1d", _module("AdaptiveMaxPool1d", 3), [(2, 3, 8)]),
    Run("adaptive_max_pool1d_indices", _module("AdaptiveMaxPool1d", 5, return_indices=True), [(2, 3, 7)]),
    Run("adaptive_max_pool2d", _module("AdaptiveMaxPool2d", (3, 4)), [(2, 3, 7, 9)]),
    Run("adaptive_max_pool2d_none", _module("AdaptiveMaxPool2d", (None, 2), True), [(2, 3, 5, 5)]),
    Run("adaptive_max_pool2d_unbatched_global", _module("AdaptiveMaxPool2d", 1), [(3, 5, 6)]),
    Run("upsample_nearest", _module("Upsample", scale_factor=2), [(2, 3, 4, 5)]),
    Run("upsample_nearest_1d_size", _module("Upsample", size=7), [(2, 3, 4)]),
    Run("upsample_nearest_down", _module("Upsample", size=(3, 4)), [(2, 3, 7, 9)]),
    Run("upsample_linear", _module("Upsample", scale_factor=2.5, mode="linear"), [(2, 3, 4)]),
    Run("upsample_linear_corners", _module("Upsample", size=9, mode="linear", align_corners=True), [(2, 3, 4)]),
    Run("upsample_bilinear", _module("Upsample", scale_factor=2, mode="bilinear"), [(2, 3, 4, 5)]),
    Run(
        "upsample_bilinear_corners",
        _module("Upsample", size=(7, 3), mode="bilinear", align_corners=True),
        [(2, 3, 4, 5)],
    ),
    Run("upsample_bilinear_down", _module("Upsample", scale_factor=(0.6, 1.7), mode="bilinear"), [(2, 3, 9, 5)]),
    Run("upsample_bicubic", _module("Upsample", scale_factor=2, mode="bicubic"), [(1, 2, 4, 5)]),
    Run(
        "upsample_bicubic_corners", _module("Upsample", size=(6, 7), mode="bicubic", align_corners=True), [(1, 2, 4, 5)]
    ),
    Run("upsample_trilinear", _module("Upsample", scale_factor=2, mode="trilinear"), [(1, 2, 3, 2, 3)]),
    Run(
        "upsample_recompute_scale",
        _module("Upsample", scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
        [(1, 2, 4, 5)],
    ),
    Run("upsampling_nearest2d", _module("UpsamplingNearest2d", scale_factor=3), [(1, 2, 2, 3)]),
    Run("upsampling_bilinear2d", _module("UpsamplingBilinear2d", size=(5, 4)), [(1, 2, 2, 3)]),
    Run("conv2d_unbatched", _module("Conv2d", 2, 3, 3, padding=1, padding_mode="reflect"), [(2, 5, 4)]),
    Run("pixel_shuffle", _module("PixelShuffle", 2), [(2, 8, 3, 4)]),
    Run("pixel_shuffle_unbatched", _module("PixelShuffle", 3), [(9, 2, 2)]),
    Run("pixel_unshuffle", _module("PixelUnshuffle", 2), [(2, 3, 4, 6)]),
    Run("cosine_similarity", _module("CosineSimilarity"), [(4, 5), (4, 5)]),
    Run("cosine_similarity_dim_broadcast", _module("CosineSimilarity", dim=-1, eps=1e-6), [(3, 4, 5), (4, 5)]),
    Run("pairwise_distance", _module("PairwiseDistance"), [(4, 5), (4, 5)]),
    Run("pairwise_distance_p1_keepdim", _module("PairwiseDistance", 1.0, 1e-3, True), [(4, 5), (4, 5)]),
    Run("pairwise_distance_p3_vectors", _module("PairwiseDistance", 3.0), [(5,), (5,)]),
    Run("zero_pad2d", _module("ZeroPad2d", (1, 2, 0, 3)), [(2, 3, 4, 4)]),
    Run("constant_pad1d", _module("ConstantPad1d", 2, 3.5), [(2, 3, 4)]),
    Run("constant_pad2d_negative", _module("ConstantPad2d", (-1, 2, 1, -1), 1.0), [(2, 3, 4, 4)]),
    Run("reflection_pad1d", _module("ReflectionPad1d", (3, 1)), [(2, 3, 5)]),
    Run("reflection_pad2d", _module("ReflectionPad2d", 2), [(2, 3, 4, 5)]),
    Run("reflection_pad2d_unbatched", _module("ReflectionPad2d", (1, 0, 2, 3)), [(3, 4, 5)]),
    Run("replication_pad1d", _module("ReplicationPad1d", (2, 4)), [(2, 3, 4)]),
    Run("replication_pad2d", _module("ReplicationPad2d", (1, 3, 2, 0)), [(2, 3, 4, 5)]),
    Run("circular_pad1d", _module("CircularPad1d", (2, 1)), [(2, 3, 4)]),
    Run("circular_pad2d", _module("CircularPad2d", 1), [(2, 3, 4, 5)]),
    Run("rnn_cell_tanh", _module("RNNCell", 4, 3), [(2, 4), (2, 3)]),
    Run("rnn_cell_relu_no_bias", _module("RNNCell", 4, 3, bias=False, nonlinearity="relu"), [(2, 4)]),
    Run("rnn_cell_unbatched", _module("RNNCell", 4, 3), [(4,), (3,)]),
    Run("gru_cell", _module("GRUCell", 4, 3), [(2, 4), (2, 3)]),
    Run("gru_cell_zero_state_unbatched", _module("GRUCell", 4, 3), [(4,)]),
    Run("lstm_cell", _module("LSTMCell", 4, 3), [(2, 4), ((2, 3), (2, 3))]),
    Run("lstm_cell_zero_state", _module("LSTMCell", 4, 3, bias=False), [(2, 4)]),
]


@needs_torch
@DTYPES
@pytest.mark.parametrize("run", LAYER_RUNS, ids=str)
def test_layer_matches_torch(run, dtype):
    check_against_torch(run, dtype)


# --------------------------------------------------------------------------- functions and losses
def _function(name, **options):
    return lambda lib: lambda *args, **kwargs: getattr(lib.nn.functional, name)(*args, **options, **kwargs)


_targets = np.random.default_rng(7)
SIGNS = Const(np.array([1.0, -1.0, -1.0, 1.0]))
PROBABILITIES = Const(_targets.dirichlet(np.ones(5), size=4))
LOG_PROBABILITIES = Const(np.log(_targets.dirichlet(np.ones(5), size=4)))
COUNTS = Const(_targets.poisson(2.0, size=(4, 5)).astype(np.float64))
LABELS = Const((_targets.random((4, 5)) < 0.4).astype(np.float64))
CLASS_WEIGHTS = Const(_targets.uniform(0.5, 2.0, 5))
REGRESSION = Const(_targets.standard_normal((4, 5)))

FUNCTION_RUNS = [
    Run("interpolate_nearest_3d", _function("interpolate", size=5), [(2, 3, 3)]),
    Run("interpolate_bilinear_scale", _function("interpolate", scale_factor=1.5, mode="bilinear"), [(1, 2, 4, 4)]),
    Run("interpolate_area", _function("interpolate", size=(2, 3), mode="area"), [(1, 2, 4, 7)]),
    Run("interpolate_nearest_3_spatial", _function("interpolate", scale_factor=(2, 1, 3)), [(1, 2, 2, 3, 2)]),
    Run("normalize", _function("normalize", dim=-1), [(3, 4)]),
    Run("normalize_p1", _function("normalize", p=1.0, dim=0), [(3, 4)]),
    Run("one_hot_inferred", _function("one_hot"), [Const(np.array([[0, 3], [2, 1]]))]),
    Run("one_hot_classes", _function("one_hot", num_classes=6), [Const(np.array([0, 3, 5]))]),
    Run("pad_reflect_3d", _function("pad", pad=(1, 2), mode="reflect"), [(2, 3, 5)]),
    Run("pad_circular_4d", _function("pad", pad=(1, 2, 2, 1), mode="circular"), [(2, 3, 4, 5)]),
    Run("pad_replicate_4d", _function("pad", pad=(3, 0, 1, 1), mode="replicate"), [(2, 3, 4, 5)]),
    Run("dropout1d_eval", _function("dropout1d", training=False), [(2, 3, 4)]),
    Run("kl_div_batchmean", _function("kl_div", reduction="batchmean"), [(4, 5), PROBABILITIES]),
    Run("kl_div_sum_zero_target", _function("kl_div", reduction="sum"), [(4, 5), Const(np.eye(4, 5))]),
    Run("kl_div_log_target_none", _function("kl_div", reduction="none", log_target=True), [(4, 5), LOG_PROBABILITIES]),
    Run("soft_margin", _function("soft_margin_loss"), [(4,), SIGNS]),
    Run("soft_margin_none", _function("soft_margin_loss", reduction="none"), [(4,), SIGNS]),
    Run("cosine_embedding", _function("cosine_embedding_loss", margin=0.2), [(4, 5), (4, 5), SIGNS]),
    Run("cosine_embedding_none", _function("cosine_embedding_loss", reduction="none"), [(4, 5), (4, 5), SIGNS]),
    Run("cosine_embedding_vectors", _function("cosine_embedding_loss"), [(5,), (5,), Const(np.array(-1.0))]),
    Run("margin_ranking", _function("margin_ranking_loss", margin=0.3), [(4,), (4,), SIGNS]),
    Run("margin_ranking_sum", _function("margin_ranking_loss", reduction="sum"), [(4,), (4,), SIGNS]),
    Run("triplet_margin", _function("triplet_margin_loss"), [(4, 5), (4, 5), (4, 5)]),
    Run(
        "triplet_margin_swap_p1",
        _function("triplet_margin_loss", margin=2.0, p=1, swap=True, reduction="none"),
        [(4, 5), (4, 5), (4, 5)],
    ),
    Run("poisson_nll", _function("poisson_nll_loss"), [(4, 5), COUNTS]),
    Run(
        "poisson_nll_rates_full",
        _function("poisson_nll_loss", log_input=False, full=True),
        [(4, 5), COUNTS],
        low=0.1,
        high=3.0,
    ),
    Run("poisson_nll_full_none", _function("poisson_nll_loss", full=True, reduction="none"), [(4, 5), COUNTS]),
    Run("gaussian_nll", _function("gaussian_nll_loss"), [(4, 5), REGRESSION, (4, 5)], low=0.2, high=2.0),
    Run(
        "gaussian_nll_row_var_full",
        _function("gaussian_nll_loss", full=True, reduction="sum"),
        [(4, 5), REGRESSION, (4,)],
        low=0.2,
        high=2.0,
    ),
    Run(
        "gaussian_nll_column_var_none",
        _function("gaussian_nll_loss", reduction="none"),
        [(4, 5), REGRESSION, (4, 1)],
        low=0.2,
        high=2.0,
    ),
    Run(
        "gaussian_nll_clamped_var",
        _function("gaussian_nll_loss", eps=0.5),
        [(4, 5), REGRESSION, (4, 5)],
        low=0.01,
        high=1.0,
    ),
    Run("multilabel_soft_margin", _function("multilabel_soft_margin_loss"), [(4, 5), LABELS]),
    Run(
        "multilabel_soft_margin_weighted_none",
        _function("multilabel_soft_margin_loss", reduction="none"),
        [(4, 5), LABELS],
        kwargs={"weight": CLASS_WEIGHTS},
    ),
    Run("kl_div_layer", _module("KLDivLoss", reduction="batchmean", log_target=True), [(4, 5), LOG_PROBABILITIES]),
    Run("soft_margin_layer", _module("SoftMarginLoss"), [(4,), SIGNS]),
    Run("cosine_embedding_layer", _module("CosineEmbeddingLoss", margin=-0.1), [(4, 5), (4, 5), SIGNS]),
    Run("margin_ranking_layer", _module("MarginRankingLoss", 0.5), [(4,), (4,), SIGNS]),
    Run("triplet_margin_layer", _module("TripletMarginLoss", 0.5, 3.0, swap=True), [(4, 5), (4, 5), (4, 5)]),
    Run("poisson_nll_layer", _module("PoissonNLLLoss", full=True), [(4, 5), COUNTS]),
    Run("gaussian_nll_layer", _module("GaussianNLLLoss", full=True), [(4, 5), REGRESSION, (4, 5)], low=0.2),
    Run("multilabel_soft_margin_layer", _module("MultiLabelSoftMarginLoss"), [(4, 5), LABELS]),
    Run("smooth_l1_layer_beta", _module("SmoothL1Loss", beta=0.5), [(4, 5), REGRESSION]),
]


@needs_torch
@DTYPES
@pytest.mark.parametrize("run", FUNCTION_RUNS, ids=str)
def test_function_matches_torch(run, dtype):
    check_against_torch(run, dtype)


# --------------------------------------------------------------------------- random layers: statistics, not values
@pytest.mark.parametrize(
    "layer, shape, channel_shape",
    [
        (nn.Dropout1d(0.5), (40, 8, 6), (40, 8, 1)),
        (nn.Dropout1d(0.5), (8, 6), (8, 1)),
        (nn.Dropout2d(0.5), (40, 8, 3, 3), (40, 8, 1, 1)),
        (nn.Dropout3d(0.5), (40, 8, 2, 2, 2), (40, 8, 1, 1, 1)),
        (nn.Dropout3d(0.5), (8, 2, 2, 2), (8, 1, 1, 1)),
    ],
)
def test_channel_dropout_zeroes_whole_channels(layer, shape, channel_shape):
    cr.manual_seed(0)
    x = cr.ones(*shape, requires_grad=True)
    y = layer(x)
    values = y.detach().numpy()
    np.testing.assert_allclose(np.unique(values), [0.0, 2.0])
    per_channel = values.reshape(int(np.prod(channel_shape)), -1)
    assert (per_channel.min(-1) == per_channel.max(-1)).all(), "a channel was partly dropped"
    assert 0.3 < (per_channel[:, 0] == 0).mean() < 0.7
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # the gradient is the same mask
    layer.eval()
    assert layer(x) is x


def test_dropout2d_reads_3d_input_as_1d_channels_with_a_warning():
    cr.manual_seed(0)
    with pytest.warns(UserWarning, match="dropout2d"):
        y = F.dropout2d(cr.ones(30, 4, 5), 0.5)
    rows = y.numpy()
    assert (rows.min(-1) == rows.max(-1)).all()


def test_alpha_dropout_keeps_zero_mean_unit_variance():
    cr.manual_seed(0)
    x = cr.randn(200_000, dtype=cr.float64)
    y = nn.AlphaDropout(0.3)(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    values, counts = np.unique(y, return_counts=True)
    assert 0.28 < counts.max() / y.size < 0.32  # every dropped element takes the same value
    assert nn.AlphaDropout(0.3).eval()(x) is x
    assert F.alpha_dropout(x, 0.3) is x  # training defaults to False in the functional form


# --------------------------------------------------------------------------- initialisation and utilities
@needs_torch
def test_transformer_initialisation_matches_torch_ranges():
    ours = nn.Transformer(16, 2, 1, 1, 32)
    theirs = torch.nn.Transformer(16, 2, 1, 1, 32)
    their_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(their_params)
    for name, mine in ours.named_parameters():
        ref, mine = their_params[name].detach().numpy(), mine.detach().numpy()
        if mine.ndim > 1:  # Xavier uniform: bound sqrt(6 / (fan_in + fan_out))
            bound = np.sqrt(6.0 / (mine.shape[0] + mine.shape[1]))
            assert 0.8 * bound < np.abs(mine).max() <= bound, name
        elif np.ptp(ref) == 0:  # attention biases zero, LayerNorm weights one and biases zero
            np.testing.assert_array_equal(mine, ref, err_msg=name)
        else:  # Linear biases: uniform in +-1/sqrt(fan_in)
            assert 0.5 * np.abs(ref).max() < np.abs(mine).max() < 1.2 * np.abs(ref).max(), name
    assert nn.PReLU(3).weight.detach().numpy().tolist() == [0.25] * 3


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 3)) for n in (4, 1, 3)]
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    options = {"batch_first": batch_first, "padding_value": -1.5, "padding_side": padding_side}
    mine = nn.utils.rnn.pad_sequence(ours, **options)
    ref = torch.nn.utils.rnn.pad_sequence(theirs, **options)
    np.testing.assert_array_equal(mine.detach().numpy(), ref.detach().numpy())
    weight = rng.standard_normal(tuple(ref.shape))
    (mine * cr.tensor(weight)).sum().backward()
    (ref * torch.tensor(weight)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize(
    "fn, inputs",
    [
        (lambda x: F.interpolate(x, size=(5, 4), mode="bicubic", align_corners=False), [(1, 2, 3, 3)]),
        (lambda x: F.interpolate(x, scale_factor=1.5, mode="linear", align_corners=True), [(1, 2, 3)]),
        (lambda x: F.adaptive_max_pool2d(x, (2, 3)), [(1, 2, 4, 5)]),
        (lambda x: F.pixel_shuffle(x, 2), [(1, 4, 2, 3)]),
        (lambda x, y: F.cosine_similarity(x, y), [(3, 4), (3, 4)]),
        (lambda x: F.mish(x) + F.selu(x) + F.celu(x, 0.5) + F.softsign(x) + F.glu(x, 0), [(2, 3)]),
    ],
)
def test_first_and_second_derivatives_by_finite_differences(fn, inputs):
    rng = np.random.default_rng(0)
    tensors = tuple(cr.tensor(rng.standard_normal(shape), requires_grad=True) for shape in inputs)
    assert cr.autograd.gradcheck(fn, tensors, eps=1e-6, atol=1e-6, rtol=1e-4)
    assert cr.autograd.gradgradcheck(fn, tensors, eps=1e-6, atol=1e-5, rtol=1e-3)


# --------------------------------------------------------------------------- errors name the function and the culprit
def _raises(exception, match, fn):
    with pytest.raises(exception, match=match):
        fn()


@pytest.mark.parametrize(
    "exception, match, fn",
    [
        (ValueError, "only one of size or scale_factor", lambda: F.interpolate(cr.ones(1, 1, 4), 3, 2.0)),
        (ValueError, "either size or scale_factor", lambda: F.interpolate(cr.ones(1, 1, 4))),
        (NotImplementedError, "bilinear mode needs 4D", lambda: F.interpolate(cr.ones(1, 1, 4), 3, mode="bilinear")),
        (ValueError, "align_corners", lambda: F.interpolate(cr.ones(1, 1, 4), 3, align_corners=True)),
        (RuntimeError, r"divisible by 4.*\(2, 6, 2, 2\)", lambda: F.pixel_shuffle(cr.ones(2, 6, 2, 2), 2)),
        (RuntimeError, r"pixel_unshuffle.*\(1, 1, 3, 4\)", lambda: F.pixel_unshuffle(cr.ones(1, 1, 3, 4), 2)),
        (RuntimeError, "glu: Halving dimension must be even", lambda: F.glu(cr.ones(2, 3))),
        (RuntimeError, r"prelu: weight of shape \(3,\)", lambda: F.prelu(cr.ones(2, 4), cr.ones(3))),
        (
            ValueError,
            "gaussian_nll_loss: var of shape",
            lambda: F.gaussian_nll_loss(cr.ones(4, 5), cr.ones(4, 5), cr.ones(3)),
        ),
        (ValueError, "negative", lambda: F.gaussian_nll_loss(cr.ones(2), cr.ones(2), -cr.ones(2))),
        (ValueError, "margin_ranking_loss|kl_div", lambda: F.kl_div(cr.ones(2), cr.ones(2), reduction="avg")),
        (
            RuntimeError,
            "cosine_embedding_loss",
            lambda: F.cosine_embedding_loss(cr.ones(2, 3), cr.ones(2, 4), cr.ones(2)),
        ),
        (RuntimeError, r"dropout1d: Expected 2D or 3D input.*\(1, 2, 3, 4\)", lambda: F.dropout1d(cr.ones(1, 2, 3, 4))),
        (ValueError, "dropout2d: probability", lambda: F.dropout2d(cr.ones(1, 2, 3, 4), 1.5)),
        (ValueError, "output_size", lambda: F.adaptive_max_pool2d(cr.ones(1, 1, 4, 4), (0, 2))),
        (RuntimeError, r"adaptive_max_pool1d: expected 3-d", lambda: F.adaptive_max_pool1d(cr.ones(1, 1, 2, 2), 1)),
        (
            RuntimeError,
            "batch number of src and tgt",
            lambda: nn.Transformer(8, 2, 1, 1, 16)(cr.ones(3, 2, 8), cr.ones(3, 4, 8)),
        ),
        (
            RuntimeError,
            "feature number of src and tgt",
            lambda: nn.Transformer(8, 2, 1, 1, 16)(cr.ones(3, 2, 8), cr.ones(3, 2, 6)),
        ),
        (
            RuntimeError,
            r"TransformerDecoderLayer: expected memory",
            lambda: nn.TransformerDecoderLayer(8, 2)(cr.ones(3, 8), cr.ones(3, 5)),
        ),
        (ValueError, "ReflectionPad2d: padding must be an int or a tuple of 4", lambda: nn.ReflectionPad2d((1, 2))),
        (ValueError, r"ZeroPad2d: expected a 3-D or 4-D input", lambda: nn.ZeroPad2d(1)(cr.ones(4))),
        (ValueError, "pad_sequence: padding_side", lambda: nn.utils.rnn.pad_sequence([cr.ones(2)], padding_side="up")),
        (
            RuntimeError,
            r"pad_sequence: every sequence.*sequence 1 has shape \(2, 4\)",
            lambda: nn.utils.rnn.pad_sequence([cr.ones(2, 3), cr.ones(2, 4)]),
        ),
        (ValueError, "TripletMarginLoss: margin must be greater than 0", lambda: nn.TripletMarginLoss(margin=0.0)),
        (ValueError, "Hardtanh: min_val", lambda: nn.Hardtanh(2.0, 1.0)),
    ],
)
def test_bad_input_raises_a_clear_error(exception, match, fn):
    _raises(exception, match, fn)


@needs_torch
@pytest.mark.parametrize(
    "call",
    [
        lambda lib, t: lib.nn.functional.interpolate(t(np.ones((1, 1, 4))), size=3, mode="bicubic"),
        lambda lib, t: lib.nn.functional.pixel_shuffle(t(np.ones((1, 3, 2, 2))), 2),
        lambda lib, t: lib.nn.functional.glu(t(np.ones((2, 3)))),
        lambda lib, t: lib.nn.functional.one_hot(t(np.array([0, 3])), 2),
        lambda lib, t: lib.nn.functional.one_hot(t(np.array([0.0, 1.0]))),
        lambda lib, t: lib.nn.functional.gaussian_nll_loss(t(np.ones((2, 3))), t(np.ones((2, 3))), t(np.ones(4))),
        lambda lib, t: lib.nn.functional.dropout1d(t(np.ones((1, 2, 3, 4)))),
        lambda lib, t: lib.nn.Transformer(8, 2, 1, 1, 16)(t(np.ones((3, 2, 8))), t(np.ones((3, 4, 8)))),
    ],
)
def test_errors_have_torch_exception_types(call):
    with pytest.raises(Exception) as theirs:
        call(torch, lambda a: torch.tensor(a, dtype=torch.float32 if a.dtype.kind == "f" else None))
    with pytest.raises(type(theirs.value)):
        call(cr, lambda a: cr.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a))


# --------------------------------------------------------------------------- packed sequences
LENGTHS = [3, 5, 1, 5, 2]


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_and_pad_round_trip_matches_torch(batch_first, enforce_sorted):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    shape = (len(lengths), 6, 3) if batch_first else (6, len(lengths), 3)
    x = np.random.default_rng(0).standard_normal(shape)
    results = {}
    for lib in (cr, torch):
        leaf = lib.tensor(x, requires_grad=True)
        utils = lib.nn.utils.rnn
        packed = utils.pack_padded_sequence(leaf, lib.tensor(lengths), batch_first, enforce_sorted)
        padded, out_lengths = utils.pad_packed_sequence(packed, batch_first, padding_value=-2.0, total_length=7)
        (padded * lib.tensor(np.arange(padded.numel()).reshape(tuple(padded.shape)) % 5)).sum().backward()
        results[lib] = [packed.data, packed.batch_sizes, padded, out_lengths, leaf.grad]
        results[lib] += [] if enforce_sorted else [packed.sorted_indices, packed.unsorted_indices]
    for mine, ref in zip(results[cr], results[torch]):
        np.testing.assert_allclose(mine.detach().numpy(), ref.detach().numpy())
        assert str(mine.dtype) == str(ref.dtype).replace("torch.", "")


def _recurrent_pair(name, options, dtype=np.float64):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(3, 4, **options).double()
    ours = getattr(nn, name)(3, 4, **options).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()}, strict=True)
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize(
    "options", [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True, "bidirectional": True}]
)
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_take_packed_sequences(name, options, with_state):
    ours, theirs = _recurrent_pair(name, options)
    rng = np.random.default_rng(0)
    batch_first = options.get("batch_first", False)
    x = rng.standard_normal((5, 6, 3) if batch_first else (6, 5, 3))
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    states = [rng.standard_normal((layers, 5, 4)) for _ in range(2 if name == "LSTM" else 1)]
    results = {}
    for lib, layer in ((cr, ours), (torch, theirs)):
        leaves = [lib.tensor(a, requires_grad=True) for a in [x, *states]]
        packed = lib.nn.utils.rnn.pack_padded_sequence(leaves[0], LENGTHS, batch_first, enforce_sorted=False)
        hx = None if not with_state else (tuple(leaves[1:]) if name == "LSTM" else leaves[1])
        output, finals = layer(packed, hx)
        finals = list(finals) if name == "LSTM" else [finals]
        padded, _ = lib.nn.utils.rnn.pad_packed_sequence(output, batch_first)
        loss = sum(
            (t * lib.tensor(np.cos(np.arange(t.numel())).reshape(tuple(t.shape)))).sum() for t in [padded, *finals]
        )
        loss.backward()
        grads = [leaf.grad for leaf in leaves[: 1 + with_state * len(states)]]
        results[lib] = [output.data, padded, *finals, *grads, *(p.grad for p in layer.parameters())]
    assert len(results[cr]) == len(results[torch])
    for i, (mine, ref) in enumerate(zip(results[cr], results[torch])):
        np.testing.assert_allclose(
            mine.detach().numpy(), ref.detach().numpy(), **TOLERANCES[np.float64], err_msg=str(i)
        )


@needs_torch
def test_pack_sequence_matches_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 2)) for n in (4, 2, 1)]
    mine = nn.utils.rnn.pack_sequence([cr.tensor(a) for a in arrays])
    ref = torch.nn.utils.rnn.pack_sequence([torch.tensor(a) for a in arrays])
    np.testing.assert_array_equal(mine.data.numpy(), ref.data.numpy())
    np.testing.assert_array_equal(mine.batch_sizes.numpy(), ref.batch_sizes.numpy())
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        nn.utils.rnn.pack_sequence([cr.tensor(a) for a in arrays[::-1]])
    with pytest.raises(ValueError, match="total_length"):
        nn.utils.rnn.pad_packed_sequence(mine, total_length=2)


@needs_torch
@pytest.mark.parametrize(
    "call",
    [
        lambda lib, x: lib.nn.functional.relu6(x),
        lambda lib, x: lib.nn.functional.hardtanh(x, -3.0, 1.0),
        lambda lib, x: lib.nn.functional.hardswish(x),
        lambda lib, x: lib.nn.functional.hardsigmoid(x),
        lambda lib, x: lib.nn.functional.threshold(x, 1.0, -5.0),
        lambda lib, x: lib.nn.functional.prelu(x, lib.tensor([0.25], dtype=x.dtype)),
        lambda lib, x: lib.nn.functional.softsign(x) + lib.nn.functional.logsigmoid(x),
        lambda lib, x: lib.nn.functional.hardshrink(x, 1.0) + lib.nn.functional.softshrink(x, 3.0),
    ],
)
def test_gradients_on_the_kinks_follow_torch(call):
    x = np.array([-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 7.0])
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    call(cr, ours).sum().backward()
    call(torch, theirs).sum().backward()
    # rtol 1e-7: PyTorch's hardsigmoid backward uses 1/6 rounded to float32, even for float64
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-7, atol=1e-15)
