"""Convolution: conv1d, conv2d and their transposes, with stride, padding, dilation and groups.

One mechanism serves every case: im2col. The windows of the padded input
(``sliding_windows``, a strided view, no copy) are copied into a matrix of
columns, one column per (sample, output position) and one row per (kernel tap,
input channel), so a convolution is one matrix product per group, all groups
in a single ``matmul`` call (one BLAS GEMM for ``groups=1``)::

    forward          Y  = W @ cols(X)           (O/G, K*C/G) @ (K*C/G, N*L) for each group
    weight gradient  dW = dY @ cols(X)^T        ConvWeightGrad
    input gradient   dX = col2im(W^T @ dY)      ConvTranspose, the adjoint of Conv in X

with ``K`` the number of kernel taps and ``L`` the number of output positions.
``col2im`` adds every tap's block of columns back onto the padded input
(``fold_windows``, the adjoint of the window view): a loop over the kernel
taps, each step one vectorised add. The three ops are bilinear in their two
array inputs and each is the adjoint of another in one argument, so each one's
backward is made of the other two and gradients of any order exist.

``conv_transpose`` is ``ConvTranspose`` itself: the input gradient of the
convolution whose input has the transpose's output shape.

Memory: ``Conv`` keeps its input and its weight until backward, and when the
weight requires grad also the columns of its input (``K`` times the input's
size), so the weight gradient needs no second im2col.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import array_module
from chainrule.tensor import Tensor

_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


# --------------------------------------------------------------------------- arguments (shared with pool)
def spatial_tuple(value, d: int, name: str, op: str) -> tuple[int, ...]:
    """An int, or a sequence of 1 or ``d`` ints, as a ``d``-tuple of ints."""
    values = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) == 1:
        values = values * d
    if len(values) != d or not all(isinstance(v, (int, np.integer)) for v in values):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {d} ints, got {value!r}")
    return tuple(int(v) for v in values)


def check_input(op: str, input: Tensor, d: int) -> None:
    """Raise unless ``input`` is a floating tensor of shape (N, C, *d spatial dims)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim != d + 2:
        raise RuntimeError(f"{op}: expected {d + 2}-d input {_LAYOUTS[d]}, got shape {tuple(input.shape)}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {input.dtype}")


def check_positive(op: str, **values: tuple[int, ...]) -> None:
    for name, value in values.items():
        if any(v <= 0 for v in value):
            raise ValueError(f"{op}: {name} must be positive, got {value}")


# --------------------------------------------------------------------------- sliding windows and their adjoint
def pad_spatial(x, padding: tuple[tuple[int, int], ...], value=0):
    """``x`` (*lead, *S) with ``padding[i] = (before, after)`` added to spatial dim ``i``."""
    if not any(before or after for before, after in padding):
        return x
    widths = ((0, 0),) * (x.ndim - len(padding)) + tuple(padding)
    return array_module(x).pad(x, widths, constant_values=value)


def crop_spatial(x, padding: tuple[tuple[int, int], ...], spatial: tuple[int, ...]):
    """A view of ``x`` (*lead, *padded S) without its padding: the inverse of ``pad_spatial``."""
    lead = (slice(None),) * (x.ndim - len(spatial))
    return x[lead + tuple(slice(before, before + n) for (before, _), n in zip(padding, spatial))]


def sliding_windows(padded, kernel, stride, dilation, output_size):
    """View (*lead, *output_size, *kernel) of the windows over the last ``len(kernel)`` dims: no copy.

    ``windows[..., *o, *t] = padded[..., *(o * stride + t * dilation)]``.
    """
    lead = padded.ndim - len(kernel)
    extent = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    view = array_module(padded).lib.stride_tricks.sliding_window_view(
        padded, extent, axis=tuple(range(lead, padded.ndim))
    )
    positions = tuple(slice(0, s * (n - 1) + 1, s) for s, n in zip(stride, output_size))
    taps = tuple(slice(None, None, dl) for dl in dilation)
    return view[(slice(None),) * lead + positions + taps]


def fold_windows(values, padded_shape, stride, dilation):
    """Add each window of ``values`` (*lead, *out, *kernel) back where ``sliding_windows`` read it.

    The adjoint of ``sliding_windows``: overlapping windows accumulate. One
    vectorised add per kernel tap.
    """
    d = len(stride)
    lead = values.ndim - 2 * d
    output_size, kernel = values.shape[lead : lead + d], values.shape[lead + d :]
    folded = array_module(values).zeros(padded_shape, values.dtype)
    for tap in np.ndindex(*kernel):
        region = tuple(
            slice(t * dl, t * dl + s * (n - 1) + 1, s) for t, dl, s, n in zip(tap, dilation, stride, output_size)
        )
        folded[(slice(None),) * lead + region] += values[(Ellipsis,) + tap]
    return folded


# --------------------------------------------------------------------------- im2col and its adjoint
class ConvGeometry(NamedTuple):
    """The static arguments of a convolution over ``len(stride)`` spatial dims."""

    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]  # (before, after) per spatial dim
    dilation: tuple[int, ...]
    groups: int

    def output_size(self, spatial, kernel) -> tuple[int, ...]:
        return tuple(
            (n + before + after - dl * (k - 1) - 1) // s + 1
            for n, k, (before, after), s, dl in zip(spatial, kernel, self.padding, self.stride, self.dilation)
        )


# Layouts. The matrices are "channels first": a row per (kernel tap, channel in
# group) or per output channel, a column per (sample, position), so the products
# are single large BLAS calls and every tap's block of columns is contiguous.
#
# Positions. im2col makes one column per output position. The input gradient
# (ConvTranspose) makes its columns "wide" when the stride is 1: output row i of
# every sample spans the whole padded row, so the window of tap t starts at a
# fixed offset of the flattened padded plane and col2im adds every tap's columns
# as one long contiguous run (instead of one short run per output row). The
# extra positions come from zero rows of the output gradient, so they add zeros.
def _position_grid(geometry: ConvGeometry, spatial, output_size) -> tuple[int, ...]:
    """The per-sample grid of positions the columns hold: ``output_size``, or for stride 1 the wide grid."""
    if any(s != 1 for s in geometry.stride):
        return tuple(output_size)
    padded = tuple(n + before + after for n, (before, after) in zip(spatial, geometry.padding))
    return (output_size[0], *padded[1:])


def _crop_positions(rows, batch: int, grid, output_size):
    """Rows (..., N * prod(grid)) as a view (..., N, *output_size) of the output positions."""
    lead = rows.shape[:-1]
    view = rows.reshape(lead + (batch, *grid))
    return view[(Ellipsis,) + tuple(slice(0, n) for n in output_size)]


def _fold_wide(values, padded_spatial, geometry: ConvGeometry):
    """col2im for wide columns: values (G, *K, C/G, N, P) added into zeroed planes (C, N, *padded_spatial).

    Tap t's columns land at one fixed offset of every flattened plane, so each
    tap is one strided add of runs of P floats. A run may pass its plane's end
    only with the zeros of the extra positions, into the next plane or the
    slack at the buffer's end.
    """
    groups, *kernel, group_channels, batch, run = values.shape
    xp = array_module(values)
    plane = math.prod(padded_spatial)
    planes = groups * group_channels * batch
    buffer = xp.zeros(planes * plane + math.prod(padded_spatial[1:]), values.dtype)
    item = buffer.itemsize
    strides = (group_channels * batch * plane * item, batch * plane * item, plane * item, item)
    plane_strides = [math.prod(padded_spatial[i + 1 :]) for i in range(len(padded_spatial))]
    for tap in np.ndindex(*kernel):
        offset = sum(t * dl * st for t, dl, st in zip(tap, geometry.dilation, plane_strides))
        target = xp.lib.stride_tricks.as_strided(
            buffer[offset:], shape=(groups, group_channels, batch, run), strides=strides
        )
        target += values[(slice(None),) + tap]
    return buffer[: planes * plane].reshape((groups * group_channels, batch) + padded_spatial)


def _im2col(x, geometry: ConvGeometry, kernel, output_size):
    """The columns of ``x`` (N, C, *S): (G, K * C/G, N * L), rows ordered (tap, channel in group)."""
    batch, channels = x.shape[:2]
    d, groups = len(kernel), geometry.groups
    windows = sliding_windows(pad_spatial(x, geometry.padding), kernel, geometry.stride, geometry.dilation, output_size)
    windows = windows.reshape((batch, groups, channels // groups) + windows.shape[2:])
    order = (1, *range(3 + d, 3 + 2 * d), 2, 0, *range(3, 3 + d))  # G, *kernel, C/G, N, *out
    columns = array_module(x).ascontiguousarray(windows.transpose(order))
    return columns.reshape(groups, -1, batch * math.prod(output_size))


def _col2im(columns, input_shape, geometry: ConvGeometry, kernel, output_size, bias=None):
    """The adjoint of ``_im2col``: columns (G, K * C/G, N * P) summed back into (N, C, *S), plus ``bias``.

    ``P = prod(_position_grid(...))``: the columns are wide for stride 1.
    """
    d, groups = len(kernel), geometry.groups
    batch, channels = input_shape[:2]
    spatial = input_shape[2:]
    padded_spatial = tuple(n + b + a for n, (b, a) in zip(spatial, geometry.padding))
    if any(s != 1 for s in geometry.stride):
        values = columns.reshape((groups, *kernel, channels // groups, batch, *output_size))
        values = values.transpose((0, d + 1, d + 2, *range(d + 3, 2 * d + 3), *range(1, d + 1)))  # G, C/G, N, *out, *K
        folded = fold_windows(
            values, (groups, channels // groups, batch) + padded_spatial, geometry.stride, geometry.dilation
        )
        folded = folded.reshape((channels,) + folded.shape[2:])
    else:
        run = math.prod(_position_grid(geometry, spatial, output_size))
        values = columns.reshape((groups, *kernel, channels // groups, batch, run))
        folded = _fold_wide(values, padded_spatial, geometry)
    return _batch_first(crop_spatial(folded, geometry.padding, spatial), bias)


def _matrix_weight(weight, groups: int):
    """Weight (O, C/G, *K) as G matrices (O/G, K * C/G), columns ordered (tap, channel) like the rows of im2col."""
    out_channels, group_channels = weight.shape[:2]
    matrix = weight.reshape(groups, out_channels // groups, group_channels, -1).swapaxes(2, 3)
    return matrix.reshape(groups, out_channels // groups, -1)


def _weight_from_matrix(matrix, kernel, group_channels: int):
    """The inverse of ``_matrix_weight``: (G, O/G, K * C/G) -> (O, C/G, *K)."""
    out_channels = matrix.shape[0] * matrix.shape[1]
    weight = matrix.reshape(out_channels, -1, group_channels).swapaxes(1, 2)
    return array_module(matrix).ascontiguousarray(weight).reshape((out_channels, group_channels, *kernel))


def _channels_first(y, groups: int, grid):
    """(N, O, *out) -> rows (G, O/G, N * prod(grid)), a row per output channel, zeros at extra positions."""
    batch, channels = y.shape[:2]
    xp = array_module(y)
    if tuple(grid) == tuple(y.shape[2:]):
        rows = xp.ascontiguousarray(y.reshape(batch, channels, -1).swapaxes(0, 1))
    else:
        rows = xp.zeros((channels, batch * math.prod(grid)), y.dtype)
        _crop_positions(rows, batch, grid, y.shape[2:])[...] = y.swapaxes(0, 1)
    return rows.reshape(groups, channels // groups, -1)


def _batch_first(channel_first, bias):
    """(C, N, *S) -> a contiguous (N, C, *S), with ``bias`` (C,) added in the same pass."""
    xp = array_module(channel_first)
    view = channel_first.swapaxes(0, 1)
    if bias is None:
        return xp.ascontiguousarray(view)
    return xp.add(view, bias.reshape((-1,) + (1,) * (view.ndim - 2)), out=xp.empty(view.shape, view.dtype))


def _channel_sum(grad: Tensor) -> Tensor:
    """The bias gradient: ``grad`` (N, O, *S) summed over all dims but the channel."""
    return grad.sum(dim=(0, *range(2, grad.ndim)))


# --------------------------------------------------------------------------- the three ops
class Conv(Op):
    """``y = conv(x, w) + b``: x (N, C, *S), w (O, C/G, *K), b (O,) or None -> y (N, O, *output_size)."""

    name = "convolution"

    @staticmethod
    def forward(ctx, x, weight, bias, geometry, output_size, save_columns):
        ctx.geometry = geometry
        columns = _im2col(x, geometry, weight.shape[2:], output_size)
        ctx.save_for_backward(x, weight, columns if save_columns else None)
        rows = array_module(x).matmul(_matrix_weight(weight, geometry.groups), columns)
        return _batch_first(rows.reshape((-1, x.shape[0], *output_size)), bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight, columns = ctx.saved_tensors
        geometry = ctx.geometry
        need_x, need_weight, need_bias = ctx.needs_input_grad
        grad_x = ConvTranspose.apply(grad, weight, None, geometry=geometry, input_shape=x.shape) if need_x else None
        grad_weight = None
        if need_weight:
            columns = None if columns is None else columns._data
            grad_weight = ConvWeightGrad.apply(x, grad, geometry=geometry, kernel=weight.shape[2:], columns=columns)
        return grad_x, grad_weight, _channel_sum(grad) if need_bias else None


def _conv(x: Tensor, weight: Tensor, bias, geometry: ConvGeometry, output_size) -> Tensor:
    """``Conv``, keeping the columns for backward only when the weight will need its gradient."""
    save_columns = weight.requires_grad
    return Conv.apply(x, weight, bias, geometry=geometry, output_size=output_size, save_columns=save_columns)


class ConvTranspose(Op):
    """``x = conv_transpose(y, w) + b``: the adjoint of ``Conv`` in its input.

    y (N, O, *out), w (O, C/G, *K), b (C,) or None -> x of ``input_shape`` (N, C, *S).
    """

    name = "conv_transpose"

    @staticmethod
    def forward(ctx, y, weight, bias, geometry, input_shape):
        ctx.geometry = geometry
        ctx.save_for_backward(y, weight)
        matrix = _matrix_weight(weight, geometry.groups).swapaxes(1, 2)
        grid = _position_grid(geometry, input_shape[2:], y.shape[2:])
        columns = array_module(y).matmul(matrix, _channels_first(y, geometry.groups, grid))
        return _col2im(columns, input_shape, geometry, weight.shape[2:], y.shape[2:], bias)

    @staticmethod
    def backward(ctx, grad):
        y, weight = ctx.saved_tensors
        geometry = ctx.geometry
        need_y, need_weight, need_bias = ctx.needs_input_grad
        grad_y = _conv(grad, weight, None, geometry, y.shape[2:]) if need_y else None
        grad_weight = ConvWeightGrad.apply(grad, y, geometry=geometry, kernel=weight.shape[2:]) if need_weight else None
        return grad_y, grad_weight, _channel_sum(grad) if need_bias else None


class ConvWeightGrad(Op):
    """``dw = dY @ cols(X)^T``: the weight gradient of ``Conv``, x (N, C, *S), dy (N, O, *out) -> (O, C/G, *K).

    ``columns`` may pass the columns of ``x`` when the caller already has them.
    """

    name = "conv_weight_grad"

    @staticmethod
    def forward(ctx, x, grad_y, geometry, kernel, columns=None):
        ctx.geometry = geometry
        ctx.save_for_backward(x, grad_y)
        if columns is None:
            columns = _im2col(x, geometry, kernel, grad_y.shape[2:])
        rows = _channels_first(grad_y, geometry.groups, grad_y.shape[2:])
        matrix = array_module(x).matmul(rows, columns.swapaxes(1, 2))
        return _weight_from_matrix(matrix, kernel, x.shape[1] // geometry.groups)

    @staticmethod
    def backward(ctx, grad):
        x, grad_y = ctx.saved_tensors
        geometry = ctx.geometry
        need_x, need_grad_y = ctx.needs_input_grad
        grad_x = ConvTranspose.apply(grad_y, grad, None, geometry=geometry, input_shape=x.shape) if need_x else None
        grad_grad_y = _conv(x, grad, None, geometry, grad_y.shape[2:]) if need_grad_y else None
        return grad_x, grad_grad_y


# --------------------------------------------------------------------------- the functions
def _check_operands(op: str, input: Tensor, weight: Tensor, bias, d: int, groups: int) -> None:
    check_input(op, input, d)
    if not isinstance(weight, Tensor) or weight.ndim != d + 2:
        raise RuntimeError(f"{op}: expected a {d + 2}-d weight, got shape {tuple(getattr(weight, 'shape', ()))}")
    if not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    for name, other in (("weight", weight), ("bias", bias)):
        if other is not None and other.dtype != input.dtype:
            raise RuntimeError(f"{op}: input ({input.dtype}) and {name} ({other.dtype}) must have the same dtype")


def _check_bias(op: str, bias, channels: int) -> None:
    if bias is not None and tuple(bias.shape) != (channels,):
        raise RuntimeError(f"{op}: expected bias of shape ({channels},), got {tuple(bias.shape)}")


def _conv_padding(op: str, padding, kernel, stride, dilation) -> tuple[tuple[int, int], ...]:
    """(before, after) per spatial dim from an int, a tuple, 'valid' or 'same' (extra padding goes after)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * len(kernel)
        if padding != "same":
            raise ValueError(f"{op}: padding must be 'valid', 'same', an int or a tuple of ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride {stride})")
        totals = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
        return tuple((total // 2, total - total // 2) for total in totals)
    pads = spatial_tuple(padding, len(kernel), "padding", op)
    if any(p < 0 for p in pads):
        raise ValueError(f"{op}: padding must be non-negative, got {pads}")
    return tuple((p, p) for p in pads)


def _convolution(op, input, weight, bias, stride, padding, dilation, groups, d) -> Tensor:
    _check_operands(op, input, weight, bias, d, groups)
    out_channels, group_channels = weight.shape[:2]
    if input.shape[1] != group_channels * groups or out_channels % groups:
        raise RuntimeError(
            f"{op}: weight of shape {tuple(weight.shape)} with groups={groups} expects input with "
            f"{group_channels * groups} channels and out_channels divisible by {groups}; "
            f"got input of shape {tuple(input.shape)}"
        )
    _check_bias(op, bias, out_channels)
    stride = spatial_tuple(stride, d, "stride", op)
    dilation = spatial_tuple(dilation, d, "dilation", op)
    check_positive(op, stride=stride, dilation=dilation)
    kernel = tuple(weight.shape[2:])
    geometry = ConvGeometry(stride, _conv_padding(op, padding, kernel, stride, dilation), dilation, int(groups))
    output_size = geometry.output_size(input.shape[2:], kernel)
    if any(n <= 0 for n in output_size):
        raise RuntimeError(
            f"{op}: kernel {kernel} with dilation {dilation} does not fit the padded input "
            f"(input shape {tuple(input.shape)}, padding {geometry.padding})"
        )
    return _conv(input, weight, bias, geometry, output_size)


def _transposed_convolution(op, input, weight, bias, stride, padding, output_padding, groups, dilation, d) -> Tensor:
    _check_operands(op, input, weight, bias, d, groups)
    in_channels, group_out_channels = weight.shape[:2]
    if input.shape[1] != in_channels or in_channels % groups:
        raise RuntimeError(
            f"{op}: weight of shape {tuple(weight.shape)} with groups={groups} expects input with {in_channels} "
            f"channels (divisible by {groups}); got input of shape {tuple(input.shape)}"
        )
    _check_bias(op, bias, group_out_channels * groups)
    stride = spatial_tuple(stride, d, "stride", op)
    dilation = spatial_tuple(dilation, d, "dilation", op)
    check_positive(op, stride=stride, dilation=dilation)
    pads = spatial_tuple(padding, d, "padding", op)
    extra = spatial_tuple(output_padding, d, "output_padding", op)
    if any(p < 0 for p in pads + extra) or any(e >= max(s, dl) for e, s, dl in zip(extra, stride, dilation)):
        raise ValueError(
            f"{op}: padding {pads} must be non-negative and output_padding {extra} smaller than stride {stride} "
            f"or dilation {dilation}"
        )
    kernel = tuple(weight.shape[2:])
    spatial = tuple(
        (n - 1) * s - 2 * p + dl * (k - 1) + e + 1
        for n, s, p, dl, k, e in zip(input.shape[2:], stride, pads, dilation, kernel, extra)
    )
    if any(n <= 0 for n in spatial):
        raise RuntimeError(f"{op}: output size {spatial} is too small (input shape {tuple(input.shape)})")
    geometry = ConvGeometry(stride, tuple((p, p) for p in pads), dilation, int(groups))
    input_shape = (input.shape[0], group_out_channels * groups, *spatial)
    return ConvTranspose.apply(input, weight, bias, geometry=geometry, input_shape=input_shape)


def conv1d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """1-d cross-correlation: input (N, C, L), weight (O, C/groups, K), bias (O,) -> (N, O, L_out).

    ``padding`` is an int, ``'valid'`` or ``'same'`` (stride 1 only).
    """
    return _convolution("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """2-d cross-correlation: input (N, C, H, W), weight (O, C/groups, kH, kW), bias (O,) -> (N, O, H_out, W_out).

    ``H_out = (H + 2 padding - dilation (kH - 1) - 1) // stride + 1`` (likewise W).
    ``stride``, ``padding`` and ``dilation`` are ints or pairs; ``padding`` may
    also be ``'valid'`` (0) or ``'same'`` (output size = input size, stride 1).
    """
    return _convolution("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """The transpose of ``conv1d``: input (N, C_in, L), weight (C_in, C_out/groups, K) -> (N, C_out, L_out)."""
    return _transposed_convolution(
        "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation, 1
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """The transpose of ``conv2d`` (its input gradient): input (N, C_in, H, W), weight (C_in, C_out/groups, kH, kW).

    Output (N, C_out, H_out, W_out) with
    ``H_out = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1``;
    ``output_padding`` picks among the input sizes a strided ``conv2d`` maps to the same output size.
    """
    return _transposed_convolution(
        "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation, 2
    )
