"""Convolution and pooling against PyTorch (forward and every input gradient) and against finite differences."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from devices import ACCELERATORS, host
from harness import Case, check_gradients, compare_with_torch, needs_torch

import chainrule as cr
from chainrule.ops import conv, pool

_NAMES = {
    conv: "conv1d conv2d conv_transpose1d conv_transpose2d",
    pool: "max_pool1d max_pool2d avg_pool1d avg_pool2d adaptive_avg_pool1d adaptive_avg_pool2d",
}
OURS = SimpleNamespace(**{name: getattr(module, name) for module, names in _NAMES.items() for name in names.split()})


def F(lib):
    """``torch.nn.functional``, or chainrule's functions of the same names (from nn.functional once it has them)."""
    if lib is cr:
        return SimpleNamespace(**{name: getattr(cr.nn.functional, name, f) for name, f in vars(OURS).items()})
    return lib.nn.functional


def case(name, call, inputs, **options) -> Case:
    """A case whose ``call(F, *tensors)`` uses the functional namespace of either library."""
    return Case(name, lambda lib, *tensors: call(F(lib), *tensors), inputs, **options)


CONV_CASES = [
    case("conv2d_basic", lambda F, x, w: F.conv2d(x, w), [(1, 2, 5, 5), (3, 2, 3, 3)]),
    case("conv2d_bias_stride_pad", lambda F, x, w, b: F.conv2d(x, w, b, 2, 1), [(2, 3, 7, 6), (4, 3, 3, 3), (4,)]),
    case(
        "conv2d_rect_kernel_tuples",
        lambda F, x, w: F.conv2d(x, w, stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
        [(2, 2, 7, 8), (3, 2, 2, 3)],
    ),
    case(
        "conv2d_groups", lambda F, x, w, b: F.conv2d(x, w, b, padding=1, groups=2), [(2, 4, 5, 5), (6, 2, 3, 3), (6,)]
    ),
    case("conv2d_depthwise", lambda F, x, w: F.conv2d(x, w, stride=2, groups=3), [(2, 3, 6, 6), (6, 1, 3, 3)]),
    case(
        "conv2d_same_even_kernel",
        lambda F, x, w: F.conv2d(x, w, padding="same", dilation=2),
        [(2, 2, 6, 7), (3, 2, 2, 4)],
    ),
    case(
        "conv2d_same_odd_kernel",
        lambda F, x, w, b: F.conv2d(x, w, b, padding="same"),
        [(1, 2, 5, 4), (2, 2, 3, 3), (2,)],
    ),
    case("conv2d_valid", lambda F, x, w: F.conv2d(x, w, padding="valid"), [(2, 2, 5, 5), (2, 2, 2, 2)]),
    case("conv2d_1x1_stride", lambda F, x, w, b: F.conv2d(x, w, b, stride=2), [(2, 3, 5, 5), (4, 3, 1, 1), (4,)]),
    case("conv2d_stride_past_kernel", lambda F, x, w: F.conv2d(x, w, stride=(4, 3)), [(1, 2, 9, 8), (2, 2, 3, 2)]),
    case(
        "conv2d_everything",
        lambda F, x, w, b: F.conv2d(x, w, b, stride=(1, 2), padding=(2, 1), dilation=(1, 2), groups=2),
        [(2, 4, 6, 7), (4, 2, 3, 2), (4,)],
    ),
    case("conv1d_bias_stride_pad", lambda F, x, w, b: F.conv1d(x, w, b, 2, 1), [(2, 3, 9), (4, 3, 3), (4,)]),
    case(
        "conv1d_same_groups",
        lambda F, x, w: F.conv1d(x, w, padding="same", dilation=2, groups=2),
        [(2, 4, 8), (2, 2, 4)],
    ),
    case("conv_transpose2d_basic", lambda F, x, w: F.conv_transpose2d(x, w), [(1, 3, 4, 4), (3, 2, 3, 3)]),
    case(
        "conv_transpose2d_stride_pad_output_padding",
        lambda F, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        [(2, 3, 4, 3), (3, 2, 3, 3), (2,)],
    ),
    case(
        "conv_transpose2d_groups_dilation",
        lambda F, x, w, b: F.conv_transpose2d(x, w, b, (2, 3), 1, (1, 2), groups=2, dilation=2),
        [(2, 4, 3, 3), (4, 1, 3, 2), (2,)],
    ),
    case(
        "conv_transpose2d_output_padding_from_dilation",
        lambda F, x, w: F.conv_transpose2d(x, w, output_padding=(1, 0), dilation=(2, 1)),
        [(1, 2, 3, 4), (2, 3, 2, 2)],
    ),
    case(
        "conv_transpose1d",
        lambda F, x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=2, output_padding=1),
        [(2, 2, 5), (2, 3, 4), (3,)],
    ),
]

POOL_CASES = [
    case("max_pool2d_2x2", lambda F, x: F.max_pool2d(x, 2), [(2, 3, 6, 6)]),
    case("max_pool2d_batch1_odd", lambda F, x: F.max_pool2d(x, 2), [(1, 2, 7, 5)]),
    case("max_pool2d_stride_pad", lambda F, x: F.max_pool2d(x, 3, stride=2, padding=1), [(2, 2, 7, 6)]),
    case(
        "max_pool2d_rect_ceil",
        lambda F, x: F.max_pool2d(x, (3, 2), (2, 3), (1, 1), ceil_mode=True),
        [(2, 2, 8, 9)],
    ),
    case(
        "max_pool2d_dilation_ceil",
        lambda F, x: F.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True),
        [(1, 2, 8, 7)],
    ),
    case(
        "max_pool2d_overlap_return_indices",
        lambda F, x: F.max_pool2d(x, 3, 1, 1, return_indices=True),
        [(2, 2, 5, 4)],
    ),
    case("max_pool1d", lambda F, x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 10)]),
    case("max_pool1d_indices", lambda F, x: F.max_pool1d(x, 2, 1, dilation=2, return_indices=True), [(2, 2, 7)]),
    case("avg_pool2d_2x2", lambda F, x: F.avg_pool2d(x, 2), [(2, 3, 6, 6)]),
    case("avg_pool2d_stride_pad", lambda F, x: F.avg_pool2d(x, 3, 2, 1), [(1, 2, 7, 6)]),
    case(
        "avg_pool2d_ceil_include_pad",
        lambda F, x: F.avg_pool2d(x, (3, 2), (2, 2), (1, 1), ceil_mode=True),
        [(2, 2, 8, 7)],
    ),
    case(
        "avg_pool2d_ceil_exclude_pad",
        lambda F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(2, 2, 8, 9)],
    ),
    case(
        "avg_pool2d_divisor_override",
        lambda F, x: F.avg_pool2d(x, (2, 3), (1, 2), (1, 1), divisor_override=5),
        [(2, 2, 6, 7)],
    ),
    case("avg_pool1d", lambda F, x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), [(2, 2, 8)]),
    case("adaptive_avg_pool2d_divisible", lambda F, x: F.adaptive_avg_pool2d(x, (4, 3)), [(2, 3, 8, 6)]),
    case("adaptive_avg_pool2d_general", lambda F, x: F.adaptive_avg_pool2d(x, (3, 2)), [(2, 2, 7, 5)]),
    case("adaptive_avg_pool2d_int_upsample", lambda F, x: F.adaptive_avg_pool2d(x, 4), [(1, 2, 3, 5)]),
    case("adaptive_avg_pool2d_none", lambda F, x: F.adaptive_avg_pool2d(x, (None, 2)), [(2, 2, 3, 5)]),
    case("adaptive_avg_pool2d_global", lambda F, x: F.adaptive_avg_pool2d(x, 1), [(2, 3, 4, 5)]),
    case("adaptive_avg_pool1d", lambda F, x: F.adaptive_avg_pool1d(x, 3), [(2, 2, 7)]),
]

COMPOSITE_CASES = [
    case(
        "lenet_block",
        lambda F, x, w1, b1, w2: F.conv2d(F.max_pool2d(F.conv2d(x, w1, b1, padding=1).tanh(), 2), w2).sum(dim=(2, 3)),
        [(2, 1, 6, 6), (3, 1, 3, 3), (3,), (2, 3, 2, 2)],
    ),
    case(
        "encoder_decoder",
        lambda F, x, w, v: F.conv_transpose2d(
            F.avg_pool2d(F.conv2d(x, w, stride=2, padding=1), 2, ceil_mode=True), v, stride=2
        ),
        [(1, 2, 7, 7), (3, 2, 3, 3), (3, 2, 2, 2)],
    ),
]

CASES = CONV_CASES + POOL_CASES + COMPOSITE_CASES


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_matches_torch(case, dtype):
    compare_with_torch(case, dtype)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch_on_accelerators(case, device):
    compare_with_torch(case, np.float64, device=device)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_gradcheck(case):
    check_gradients(case, second_order=True)


@needs_torch
def test_larger_float32_conv_matches_torch():
    """A realistic size: sums of ~800 products, so float32 rounding (summation order) needs a looser atol."""
    compare_with_torch(
        case(
            "conv2d_large",
            lambda F, x, w, b: F.conv2d(x, w, b, padding=1),
            [(4, 16, 14, 14), (8, 16, 3, 3), (8,)],
            tolerance_scale=10,
        ),
        np.float32,
    )


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv2d(x, w), u> = <x, conv_transpose2d(u, w)> with every option, output_padding picking x's size."""
    options = dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1), groups=2)
    x = cr.randn(2, 4, 9, 8, dtype=cr.float64)
    w = cr.randn(6, 2, 3, 2, dtype=cr.float64)
    u = cr.randn(2, 6, 4, 4, dtype=cr.float64)
    back = conv.conv_transpose2d(u, w, output_padding=(0, 1), **options)
    assert back.shape == x.shape
    np.testing.assert_allclose((conv.conv2d(x, w, **options) * u).sum().item(), (x * back).sum().item(), rtol=1e-12)


def test_max_pool_ties_go_to_the_first_maximum():
    x = cr.zeros(1, 1, 4, 4, requires_grad=True)
    pool.max_pool2d(x, 3, stride=1, padding=1).sum().backward()
    # Each window's first cell in row-major order gets its gradient.
    expected = [[4, 2, 2, 0], [2, 1, 1, 0], [2, 1, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(x.grad.numpy(), np.array(expected, dtype=np.float32).reshape(1, 1, 4, 4))


def test_max_pool_padding_never_wins():
    """Windows of -inf pick their first input cell; a dilated window wholly in the padding passes no gradient."""
    x = cr.tensor(np.full((1, 1, 3, 3), -np.inf))
    _, indices = pool.max_pool2d(x, 2, stride=1, padding=1, return_indices=True)
    assert indices.numpy()[0, 0].tolist() == [[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5], [6, 6, 7, 8]]
    y = cr.arange(4.0).reshape(1, 1, 1, 4).requires_grad_()
    out = pool.max_pool2d(y, (2, 3), stride=2, padding=1, dilation=(2, 1), ceil_mode=True)
    assert np.isneginf(out.detach().numpy()).all()
    out.backward(cr.ones_like(out))
    assert not y.grad.numpy().any()


@needs_torch
@pytest.mark.parametrize(
    "options",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=2, stride=2, padding=1, dilation=2),
    ],
)
@pytest.mark.parametrize("special", ["ties", "nan", "neg_inf"])
def test_max_pool_indices_and_gradients_match_torch_with_ties_nan_and_inf(options, special, device):
    import torch

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 3, 7, 7)).astype(np.float64)  # small integers: many tied maxima
    if special == "nan":
        x[0, 0, 1, 1] = x[1, 2, 3, 3] = x[1, 2, 3, 4] = np.nan
    if special == "neg_inf":
        x[0, 1] = -np.inf
    ours, theirs = cr.tensor(x, requires_grad=True, device=device), torch.tensor(x, requires_grad=True)
    values, indices = pool.max_pool2d(ours, return_indices=True, **options)
    expected_values, expected_indices = torch.nn.functional.max_pool2d(theirs, return_indices=True, **options)
    grad = rng.standard_normal(tuple(expected_values.shape))
    values.backward(cr.tensor(grad, device=device))
    expected_values.backward(torch.tensor(grad))
    np.testing.assert_array_equal(host(values), expected_values.detach().numpy())
    np.testing.assert_array_equal(host(indices), expected_indices.numpy())
    np.testing.assert_allclose(host(ours.grad), theirs.grad.numpy(), rtol=1e-12)


def test_outputs_keep_the_input_dtype_and_are_contiguous():
    x = cr.randn(2, 3, 6, 6)
    w = cr.randn(4, 3, 3, 3)
    for y in (conv.conv2d(x, w, padding=1), conv.conv_transpose2d(x, w.transpose(0, 1)), pool.avg_pool2d(x, 2)):
        assert y.dtype == cr.float32
        assert y.numpy().flags["C_CONTIGUOUS"]


def test_no_graph_under_no_grad():
    x = cr.randn(1, 2, 5, 5, requires_grad=True)
    w = cr.randn(3, 2, 3, 3, requires_grad=True)
    with cr.no_grad():
        y = pool.max_pool2d(conv.conv2d(x, w), 2)
    assert y.grad_fn is None and not y.requires_grad


# name: (the call, a regex its error message must match)
ERRORS = {
    "conv2d_unbatched": (
        lambda: conv.conv2d(cr.randn(3, 28, 28), cr.randn(4, 3, 3, 3)),
        r"conv2d: expected 4-d input \(N, C, H, W\), got shape \(3, 28, 28\)",
    ),
    "conv2d_channels": (
        lambda: conv.conv2d(cr.randn(1, 16, 8, 8), cr.randn(32, 8, 3, 3)),
        r"conv2d: weight of shape \(32, 8, 3, 3\) with groups=1 expects input with 8 channels",
    ),
    "conv2d_groups": (
        lambda: conv.conv2d(cr.randn(1, 4, 8, 8), cr.randn(3, 2, 3, 3), groups=2),
        r"conv2d: .* out_channels divisible by 2",
    ),
    "conv2d_weight_rank": (
        lambda: conv.conv2d(cr.randn(1, 2, 8, 8), cr.randn(3, 2, 3)),
        r"conv2d: expected a 4-d weight, got shape \(3, 2, 3\)",
    ),
    "conv2d_bias_shape": (
        lambda: conv.conv2d(cr.randn(1, 2, 8, 8), cr.randn(3, 2, 3, 3), cr.randn(4)),
        r"conv2d: expected bias of shape \(3,\), got \(4,\)",
    ),
    "conv2d_dtypes": (
        lambda: conv.conv2d(cr.randn(1, 2, 8, 8), cr.randn(3, 2, 3, 3).double()),
        r"conv2d: input \(float32\) and weight \(float64\) must have the same dtype",
    ),
    "conv2d_same_strided": (
        lambda: conv.conv2d(cr.randn(1, 2, 8, 8), cr.randn(3, 2, 3, 3), stride=2, padding="same"),
        r"conv2d: padding='same' is not supported for strided",
    ),
    "conv2d_padding_string": (
        lambda: conv.conv2d(cr.randn(1, 2, 8, 8), cr.randn(3, 2, 3, 3), padding="full"),
        r"conv2d: padding must be 'valid', 'same'",
    ),
    "conv2d_kernel_too_big": (
        lambda: conv.conv2d(cr.randn(1, 2, 2, 8), cr.randn(3, 2, 3, 3)),
        r"conv2d: kernel \(3, 3\) with dilation \(1, 1\) does not fit",
    ),
    "conv2d_stride_zero": (
        lambda: conv.conv2d(cr.randn(1, 2, 8, 8), cr.randn(3, 2, 3, 3), stride=0),
        r"conv2d: stride must be positive",
    ),
    "conv2d_stride_length": (
        lambda: conv.conv2d(cr.randn(1, 2, 8, 8), cr.randn(3, 2, 3, 3), stride=(1, 2, 3)),
        r"conv2d: stride must be an int or a tuple of 2 ints",
    ),
    "conv1d_rank": (
        lambda: conv.conv1d(cr.randn(2, 8), cr.randn(3, 2, 3)),
        r"conv1d: expected 3-d input \(N, C, L\), got shape \(2, 8\)",
    ),
    "conv_transpose2d_channels": (
        lambda: conv.conv_transpose2d(cr.randn(1, 2, 4, 4), cr.randn(3, 2, 3, 3)),
        r"conv_transpose2d: weight of shape \(3, 2, 3, 3\) with groups=1 expects input with 3 channels",
    ),
    "conv_transpose2d_output_padding": (
        lambda: conv.conv_transpose2d(cr.randn(1, 2, 4, 4), cr.randn(2, 2, 3, 3), stride=2, output_padding=2),
        r"conv_transpose2d: .* output_padding \(2, 2\) smaller than stride",
    ),
    "max_pool2d_padding": (
        lambda: pool.max_pool2d(cr.randn(1, 2, 8, 8), 2, padding=2),
        r"max_pool2d: padding \(2, 2\) must be non-negative and at most half of kernel_size",
    ),
    "max_pool2d_unbatched": (
        lambda: pool.max_pool2d(cr.randn(2, 8, 8), 2),
        r"max_pool2d: expected 4-d input \(N, C, H, W\), got shape \(2, 8, 8\)",
    ),
    "max_pool1d_too_small": (
        lambda: pool.max_pool1d(cr.randn(1, 2, 2), 3),
        r"max_pool1d: output size \(0,\) is too small for input of shape \(1, 2, 2\)",
    ),
    "max_pool2d_integer": (
        lambda: pool.max_pool2d(cr.ones(1, 1, 4, 4, dtype=cr.int64), 2),
        r"max_pool2d: expected a floating-point input, got int64",
    ),
    "avg_pool2d_divisor": (
        lambda: pool.avg_pool2d(cr.randn(1, 2, 8, 8), 2, divisor_override=0),
        r"avg_pool2d: divisor_override must not be zero",
    ),
    "adaptive_avg_pool2d_size": (
        lambda: pool.adaptive_avg_pool2d(cr.randn(1, 2, 8, 8), (2, 0)),
        r"adaptive_avg_pool2d: output_size must be 2 positive ints",
    ),
}


@pytest.mark.parametrize("make, message", ERRORS.values(), ids=list(ERRORS))
def test_bad_input_raises_a_clear_error(make, message):
    with pytest.raises((RuntimeError, ValueError, TypeError), match=message):
        make()
