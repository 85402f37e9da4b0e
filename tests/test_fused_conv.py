"""The fused primitives of convolutional networks against their composed forms, PyTorch and finite differences.

The convolution's chunked paths (wide columns for stride 1, the input itself
as the columns of a 1x1 convolution, the input gradient as a correlation with
the flipped kernel, and col2im where that path does not apply or does not pay) are run with one sample per
chunk and with the default chunk size, against torch and to second order
against finite differences. Batch normalization (one op in training mode, a per-channel affine op in
evaluation) is compared with the same function composed from elementary
tensor ops, with ``torch.nn.functional.batch_norm`` (values, gradients and the
running statistics it updates), and with central finite differences to second
order in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from devices import ACCELERATORS
from harness import Case, check_gradients, compare_with_torch, needs_torch, torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops import conv
from chainrule.ops.batch_norm import composed_batch_norm

# ------------------------------------------------------------------ convolution paths
CONV_PATHS = [
    Case(
        "3x3_same_bias",
        lambda lib, x, w, b: lib.nn.functional.conv2d(x, w, b, padding=1),
        [(3, 3, 5, 6), (3, 3, 3, 3), (3,)],
    ),
    Case(
        "3x3_widening_fold",
        lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1),
        [(3, 2, 5, 4), (5, 2, 3, 3)],
    ),
    Case(
        "3x3_valid_dilated",
        lambda lib, x, w: lib.nn.functional.conv2d(x, w, dilation=(2, 1)),
        [(3, 2, 7, 6), (3, 2, 3, 2)],
    ),
    Case(
        "1x1_as_gemm_groups", lambda lib, x, w: lib.nn.functional.conv2d(x, w, groups=2), [(3, 4, 3, 5), (6, 2, 1, 1)]
    ),
    Case("1x1_strided", lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2), [(3, 3, 5, 6), (4, 3, 1, 1)]),
    Case(
        "1x1_padded_fallback", lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=1), [(3, 2, 3, 4), (3, 2, 1, 1)]
    ),
    Case(
        "3x3_wide_padding_fallback",
        lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding=3),
        [(2, 2, 4, 3), (3, 2, 3, 3)],
    ),
    Case(
        "3x3_stride2_groups",
        lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2, padding=1, groups=2),
        [(3, 4, 6, 5), (4, 2, 3, 3)],
    ),
    Case(
        "conv1d_same",
        lambda lib, x, w, b: lib.nn.functional.conv1d(x, w, b, padding="same", dilation=2),
        [(3, 2, 7), (3, 2, 3), (3,)],
    ),
    Case(
        "transpose_stride1_as_correlation",
        lambda lib, y, w: lib.nn.functional.conv_transpose2d(y, w, padding=1, groups=2),
        [(3, 4, 4, 5), (4, 2, 3, 3)],
    ),
]


@pytest.fixture(params=[1, None], ids=["one_sample_per_chunk", "default_chunks"])
def chunk_bytes(request, monkeypatch):
    if request.param is not None:
        monkeypatch.setattr(conv, "_CHUNK_BYTES", request.param)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CONV_PATHS, ids=str)
def test_conv_paths_match_torch(case, dtype, chunk_bytes):
    compare_with_torch(case, dtype)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("case", CONV_PATHS, ids=str)
def test_conv_paths_match_torch_on_accelerators(case, device, chunk_bytes):
    compare_with_torch(case, np.float64, device=device)


@pytest.mark.parametrize("case", CONV_PATHS, ids=str)
def test_conv_paths_match_finite_differences_to_second_order(case, chunk_bytes):
    check_gradients(case, second_order=True)


def test_conv_input_gradient_is_the_adjoint_of_the_convolution(chunk_bytes):
    """<conv2d(x, w), u> = <x, conv_transpose2d(u, w)> on the correlation path and on the fold path."""
    rng = np.random.default_rng(5)
    for padding in (1, 3):  # 3 > k - 1: the fold path
        x, w = rng.standard_normal((3, 2, 6, 5)), rng.standard_normal((4, 2, 3, 3))
        y = conv.conv2d(cr.tensor(x), cr.tensor(w), padding=padding)
        u = rng.standard_normal(tuple(y.shape))
        back = conv.conv_transpose2d(cr.tensor(u), cr.tensor(w), padding=padding).numpy()
        np.testing.assert_allclose((y.numpy() * u).sum(), (x * back).sum(), rtol=1e-12)


# ------------------------------------------------------------------ batch normalization


def _running(lib, channels: int, dtype=None):
    """Running mean and variance (C,) tensors (float64 or ``dtype``): the same values in either library."""
    rng = np.random.default_rng(3)
    mean, var = rng.standard_normal(channels), rng.uniform(0.5, 2.0, channels)
    return tuple(lib.tensor(v) if dtype is None else lib.tensor(v).to(dtype) for v in (mean, var))


def _train(lib, x, w=None, b=None):
    return lib.nn.functional.batch_norm(x, None, None, w, b, training=True, eps=1e-3)


def _evaluate(lib, x, w=None, b=None):
    mean, var = _running(lib, x.shape[1], x.dtype)
    return lib.nn.functional.batch_norm(x, mean, var, w, b, training=False, eps=1e-3)


def _composed_evaluate(lib, x, w=None, b=None):
    mean, var = _running(lib, x.shape[1])
    shape = (1, -1) + (1,) * (x.ndim - 2)
    out = (x - mean.reshape(shape)) / (var.reshape(shape) + 1e-3).sqrt()
    out = out if w is None else out * w.reshape(shape)
    return out if b is None else out + b.reshape(shape)


# name: (function of (lib, *tensors), composed reference, input shapes)
BATCH_NORM = {
    "train_2d_affine": (_train, lambda lib, *t: composed_batch_norm(*t, 1e-3), [(4, 3, 5, 6), (3,), (3,)]),
    "train_1d_sequence": (_train, lambda lib, *t: composed_batch_norm(*t, 1e-3), [(3, 4, 7), (4,), (4,)]),
    "train_features": (_train, lambda lib, *t: composed_batch_norm(*t, 1e-3), [(6, 5), (5,), (5,)]),
    "train_no_affine": (_train, lambda lib, x: composed_batch_norm(x, None, None, 1e-3), [(3, 2, 4, 4)]),
    "train_weight_only": (
        lambda lib, x, w: _train(lib, x, w),
        lambda lib, x, w: composed_batch_norm(x, w, None, 1e-3),
        [(3, 2, 4, 4), (2,)],
    ),
    "eval_2d_affine": (_evaluate, _composed_evaluate, [(4, 3, 5, 6), (3,), (3,)]),
    "eval_no_affine": (_evaluate, _composed_evaluate, [(3, 2, 4, 4)]),
}


def _values_and_gradients(fn, arrays, seed=1):
    """Output, gradients (no graph: the fused backward) and second order (a random combination of the gradients)."""
    inputs = [cr.tensor(a, requires_grad=True) for a in arrays]
    rng = np.random.default_rng(seed)
    cotangent = cr.tensor(rng.standard_normal(fn(cr, *inputs).shape))
    output = fn(cr, *inputs)
    first = cr.autograd.grad((output * cotangent).sum(), inputs)
    grads = cr.autograd.grad((fn(cr, *inputs) * cotangent).sum(), inputs, create_graph=True)
    directional = sum((g * cr.tensor(rng.standard_normal(g.shape))).sum() for g in grads)
    second = cr.autograd.grad(directional, inputs, allow_unused=True) if directional.requires_grad else ()
    second = [np.zeros(a.shape) if s is None else s.numpy() for s, a in zip(second or [None] * len(arrays), arrays)]
    return [output.detach().numpy(), *(g.numpy() for g in first), *second]


def _arrays(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * 1.5 + 0.3 for shape in shapes]


@pytest.mark.parametrize("name", sorted(BATCH_NORM))
def test_batch_norm_matches_composed_form(name):
    fused, composed, shapes = BATCH_NORM[name]
    arrays = _arrays(shapes)
    for mine, reference in zip(_values_and_gradients(fused, arrays), _values_and_gradients(composed, arrays)):
        np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-10, err_msg=name)


def test_batch_norm_records_the_fused_ops():
    x = cr.tensor(np.ones((2, 3, 2, 2)), requires_grad=True)
    assert type(_train(cr, x).grad_fn).__name__ == "BatchNorm"
    assert type(_evaluate(cr, x).grad_fn).__name__ == "ChannelAffine"
    assert type(composed_batch_norm(x, None, None, 1e-5).grad_fn).__name__ != "BatchNorm"


@pytest.mark.parametrize("name", sorted(BATCH_NORM))
def test_batch_norm_gradients_match_finite_differences(name):
    fused, _, shapes = BATCH_NORM[name]
    check_gradients(Case(name, fused, shapes, seed=2))


@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(BATCH_NORM))
def test_batch_norm_matches_torch(name, dtype):
    fused, _, shapes = BATCH_NORM[name]
    compare_with_torch(Case(name, fused, shapes, seed=4), dtype)


@needs_torch
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_updates_running_statistics_like_torch(momentum):
    x = _arrays([(5, 3, 4, 2)])[0].astype(np.float32)
    ours, theirs = _running(cr, 3, cr.float32), _running(torch, 3, torch.float32)
    for _ in range(2):
        F.batch_norm(cr.tensor(x), *ours, training=True, momentum=momentum)
        torch.nn.functional.batch_norm(torch.tensor(x), *theirs, training=True, momentum=momentum)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=1e-6, atol=1e-7)


@needs_torch
def test_batch_norm2d_module_trains_and_evaluates_like_torch():
    x = _arrays([(4, 3, 5, 5)])[0].astype(np.float32)
    ours, theirs = cr.nn.BatchNorm2d(3, momentum=0.2), torch.nn.BatchNorm2d(3, momentum=0.2)
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        mine, reference = ours(cr.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(mine.detach().numpy(), reference.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-6)


def test_batch_norm_rejects_statistics_of_the_wrong_size():
    x = cr.ones(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"batch_norm: weight of shape \(4,\) does not match the 3 channels"):
        F.batch_norm(x, None, None, cr.ones(4), training=True)
    with pytest.raises(ValueError, match="batch_norm: expected more than 1 value per channel"):
        F.batch_norm(cr.ones(1, 3), None, None, training=True)


def test_the_input_gradient_takes_the_correlation_path_unless_the_channels_widen(monkeypatch):
    """The cases above cover both input-gradient paths: count which one each takes."""
    taken = []
    original = conv._flipped_transpose
    monkeypatch.setattr(conv, "_flipped_transpose", lambda *a: taken.append(1) or original(*a))
    x = cr.ones(2, 3, 5, 5, requires_grad=True)
    for out_channels, expected in ((3, 1), (4, 1), (5, 0)):
        taken.clear()
        conv.conv2d(x, cr.ones(out_channels, 3, 3, 3), padding=1).sum().backward()
        assert len(taken) == expected, out_channels
