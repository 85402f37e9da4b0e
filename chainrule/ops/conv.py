"""Convolution: conv1d, conv2d and their transposes, with stride, padding, dilation and groups.

A convolution is a matrix product per sample and group: the weight (O/G,
C/G * K) times the columns of the input, one row per (input channel, kernel
tap) and one column per output position, with ``K`` the number of kernel taps
and ``L`` the number of output positions::

    forward          Y[n] = W @ cols(X[n])              (O/G, K*C/G) @ (K*C/G, L) for each group
    weight gradient  dW   = sum_n dY[n] @ cols(X[n])^T  ConvWeightGrad
    input gradient   dX   = col2im(W^T @ dY)            ConvTranspose, the adjoint of Conv in X

The forward and the weight gradient never build the full column matrix: they
walk the batch in chunks of samples whose columns fit in the L2 cache, copy a
chunk's columns into one buffer (a read of a strided view of the padded input,
``_column_source``) and write the products straight into the batch-first
result. For stride 1 the columns are "wide": output row i spans the whole
padded row, so every (channel, tap) row of columns is one contiguous run of the
padded input and the copy is a few long runs; the extra positions are cropped
from the product. A 1x1 convolution without padding uses the input itself as
its columns (one plain GEMM per chunk).

For stride 1 the input gradient is itself a correlation, of the output
gradient padded by ``dilation (k - 1) - padding`` with the flipped, transposed
kernel, so it takes the same chunked path. Otherwise (strides, or padding
wider than the kernel) it is one GEMM for the whole batch and ``col2im``, which
adds every tap's block of columns back onto the padded input (``fold_windows``,
the adjoint of the window view; for stride 1 ``_fold_wide``, one long strided
add per tap). The three ops are bilinear in their two array inputs and each is
the adjoint of another in one argument, so each one's backward is made of the
other two and gradients of any order exist.

``conv_transpose`` is ``ConvTranspose`` itself: the input gradient of the
convolution whose input has the transpose's output shape.

Memory: ``Conv`` keeps only its input and its weight until backward (the
weight gradient recomputes the columns chunk by chunk); the transient columns
are one chunk's, about ``_CHUNK_BYTES``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import allocating_on, array_module, device_of, library_of, module_for
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


# --------------------------------------------------------------------------- geometry, and col2im (the fold path)
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


# Positions. For stride 1 the columns are "wide": output row i of every sample
# spans the whole padded row, so the window of tap t starts at a fixed offset of
# the flattened padded plane and every row of columns is one long contiguous
# run. Read (forward, weight gradient), the extra positions are cropped from the
# product or meet zeros of the output gradient; folded (col2im), they come from
# zero rows of the output gradient, so they add zeros.
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
    library = library_of(values)
    if not library.cache_blocking:  # a GPU: one scatter-add, not a kernel launch per tap
        targets = _fold_targets(device_of(values), values.shape, plane, tuple(plane_strides), geometry.dilation)
        library.scatter_add(buffer, targets, xp.ascontiguousarray(values).reshape(-1))
        return buffer[: planes * plane].reshape((groups * group_channels, batch) + padded_spatial)
    for tap in np.ndindex(*kernel):
        offset = sum(t * dl * st for t, dl, st in zip(tap, geometry.dilation, plane_strides))
        target = xp.lib.stride_tricks.as_strided(
            buffer[offset:], shape=(groups, group_channels, batch, run), strides=strides
        )
        target += values[(slice(None),) + tap]
    return buffer[: planes * plane].reshape((groups * group_channels, batch) + padded_spatial)


@functools.lru_cache(maxsize=16)
def _fold_targets(device, shape: tuple, plane: int, plane_strides: tuple, dilation: tuple):
    """The flat index in ``_fold_wide``'s buffer of every value of shape (G, *K, C/G, N, P), as one array.

    Value (g, *t, c, n, p) lands at g C/G N plane + c N plane + n plane + p plus tap t's
    offset in the plane. Cached per device and shape (read-only: every call of a layer reuses it).
    """
    xp = module_for(device)
    groups, *kernel, group_channels, batch, run = shape
    d = len(kernel)

    def axis(length: int, step: int, position: int):
        values = xp.arange(length, dtype=np.int64) * step
        return values.reshape((1,) * position + (length,) + (1,) * (d + 3 - position))

    with allocating_on(device):
        targets = axis(groups, group_channels * batch * plane, 0)
        for i, (length, dl, st) in enumerate(zip(kernel, dilation, plane_strides)):
            targets = targets + axis(length, dl * st, 1 + i)
        targets = targets + axis(group_channels, batch * plane, 1 + d) + axis(batch, plane, 2 + d)
        return (targets + axis(run, 1, 3 + d)).reshape(-1)


# The whole-batch col2im of the fold path: its matrices are "channels first", a
# row per (kernel tap, channel in group) or per output channel, a column per
# (sample, position), so the product is a single large BLAS call and every
# tap's block of columns is contiguous.
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


def _channels_first(y, groups: int, grid):
    """(N, O, *out) -> rows (G, O/G, N * prod(grid)), a row per output channel, zeros at extra positions."""
    batch, channels = y.shape[:2]
    xp = array_module(y)
    if tuple(grid) == tuple(y.shape[2:]):
        rows = xp.ascontiguousarray(y.reshape(batch, channels, math.prod(grid)).swapaxes(0, 1))
    else:
        rows = xp.zeros((channels, batch * math.prod(grid)), y.dtype)
        _crop_positions(rows, batch, grid, y.shape[2:])[...] = y.swapaxes(0, 1)
    return rows.reshape(groups, channels // groups, math.prod(rows.shape[1:]))  # an empty batch cannot infer -1


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


# --------------------------------------------------------------------------- chunked columns, batch first
# The forward and the weight gradient walk the batch in chunks of samples whose
# columns fit in the L2 cache: each chunk's columns are copied into one buffer,
# multiplied at once, and written straight into the (N, O, *out) result, so no
# full-size column matrix and no batch/channel transpose is ever made. The rows
# of a sample's columns are ordered (channel in group, tap) like the weight's
# own memory, so the weight needs no reordering. For stride 1 the columns are
# wide (see ``_position_grid``): every (channel, tap) row is one contiguous run
# of the padded input, and the extra positions are cropped from the product.
_CHUNK_BYTES = 1 << 20  # measured: 1 MiB beat 128 KiB to 8 MiB


def _chunks(x, bytes_per_sample: int) -> list[slice]:
    """Consecutive slices of the batch of ``x`` of about ``_CHUNK_BYTES`` of columns each (at least one sample).

    On a library without cache blocking (a GPU), the whole batch is one chunk: one large product, one launch.
    """
    batch = x.shape[0]
    if not library_of(x).cache_blocking:
        return [slice(0, batch)]
    size = max(1, min(batch, _CHUNK_BYTES // max(bytes_per_sample, 1)))
    return [slice(start, min(start + size, batch)) for start in range(0, batch, size)]


def _column_source(x, geometry: ConvGeometry, kernel, output_size):
    """A view (N, G, C/G, *K, *positions) of the columns of ``x`` (N, C, *S): no copy, one read per chunk.

    ``positions`` is ``output_size`` for strided convolutions, else one flat
    axis of the wide grid, read as runs of the padded input (which gets one
    padded row of slack, since the last taps' runs pass their plane's end).
    """
    batch, channels, *spatial = x.shape
    xp = array_module(x)
    shape = (batch, geometry.groups, channels // geometry.groups)
    if any(s != 1 for s in geometry.stride):
        windows = sliding_windows(
            pad_spatial(x, geometry.padding), kernel, geometry.stride, geometry.dilation, output_size
        )
        d = len(kernel)
        order = (0, 1, *range(2 + d, 2 + 2 * d), *range(2, 2 + d))  # N, C, *K, *out
        return windows.transpose(order).reshape(shape + windows.shape[2 + d :] + windows.shape[2 : 2 + d])
    if math.prod(kernel) == 1 and not any(b or a for b, a in geometry.padding):  # 1x1: the input is its columns
        return xp.ascontiguousarray(x).reshape(shape + tuple(kernel) + (-1,))
    padded_spatial = tuple(n + b + a for n, (b, a) in zip(spatial, geometry.padding))
    plane, row = math.prod(padded_spatial), math.prod(padded_spatial[1:])
    buffer = xp.zeros(batch * channels * plane + row, x.dtype)
    padded = buffer[: batch * channels * plane].reshape((batch, channels) + padded_spatial)
    crop_spatial(padded, geometry.padding, spatial)[...] = x
    plane_strides = [math.prod(padded_spatial[i + 1 :]) for i in range(len(padded_spatial))]
    tap_strides = [dl * st for dl, st in zip(geometry.dilation, plane_strides)]
    run = math.prod(_position_grid(geometry, spatial, output_size))
    strides = (channels * plane, shape[2] * plane, plane, *tap_strides, 1)
    columns = xp.lib.stride_tricks.as_strided(
        buffer, shape=shape + tuple(kernel) + (run,), strides=tuple(s * buffer.itemsize for s in strides)
    )
    return library_of(columns).read_only(columns)  # overlapping runs: a write would land in many columns


def _chunk_columns(source, chunk: slice, kernel):
    """The columns of the samples in ``chunk``, contiguous: (n, G, C/G * K, P)."""
    block = array_module(source).ascontiguousarray(source[chunk])
    return block.reshape(block.shape[:2] + (block.shape[2] * math.prod(kernel), -1))


def _correlate(x, weight, bias, geometry: ConvGeometry, output_size):
    """``Conv``'s forward in chunks: x (N, C, *S), weight (O, C/G, *K), bias (O,) or None -> (N, O, *out)."""
    xp = array_module(x)
    batch, groups = x.shape[0], geometry.groups
    out_channels, kernel = weight.shape[0], weight.shape[2:]
    source = _column_source(x, geometry, kernel, output_size)
    matrix = weight.reshape(groups, out_channels // groups, -1)
    grid = _position_grid(geometry, x.shape[2:], output_size)
    output = xp.empty((batch, out_channels, *output_size), x.dtype)
    bias = None if bias is None else bias.reshape((-1,) + (1,) * len(output_size))
    crop = (Ellipsis,) + tuple(slice(0, n) for n in output_size)
    for chunk in _chunks(x, source[:1].size * x.itemsize):
        columns = _chunk_columns(source, chunk, kernel)
        rows = xp.matmul(matrix, columns).reshape((columns.shape[0], out_channels) + tuple(grid))
        if bias is None:
            output[chunk] = rows[crop]
        else:
            xp.add(rows[crop], bias, out=output[chunk])
    return output


def _correlate_weight_grad(x, grad_y, geometry: ConvGeometry, kernel):
    """``ConvWeightGrad``'s forward in chunks: sum over samples of dY (O, P) @ cols(X)^T -> (O, C/G, *K)."""
    xp = array_module(x)
    batch, channels = x.shape[:2]
    groups, output_size = geometry.groups, grad_y.shape[2:]
    out_channels = grad_y.shape[1]
    source = _column_source(x, geometry, kernel, output_size)
    grid = tuple(_position_grid(geometry, x.shape[2:], output_size))
    total = xp.zeros((groups, out_channels // groups, channels // groups * math.prod(kernel)), x.dtype)
    for chunk in _chunks(x, source[:1].size * x.itemsize):
        columns = _chunk_columns(source, chunk, kernel)
        rows = grad_y[chunk]
        if grid != tuple(output_size):  # wide columns: zero gradient at the extra positions
            wide = xp.zeros((columns.shape[0], out_channels) + grid, x.dtype)
            wide[(Ellipsis,) + tuple(slice(0, n) for n in output_size)] = rows
            rows = wide
        rows = rows.reshape(columns.shape[0], groups, out_channels // groups, -1)
        total += xp.matmul(rows, columns.swapaxes(2, 3)).sum(axis=0)
    return total.reshape((out_channels, channels // groups, *kernel))


# The input gradient as a correlation copies O/G * K column rows per position
# (in cache) where col2im makes C/G * K (in memory) and folds them: measured,
# it pays up to O = 1.5 C (2.4x faster at O = C, on par at O = 2 C, 1.6x slower
# at O = 2.7 C).
_CORRELATION_CHANNEL_RATIO = 1.5


def _adjoint_geometry(geometry: ConvGeometry, kernel):
    """For stride 1: the geometry under which ``ConvTranspose`` is a correlation with the flipped kernel; else None.

    dX = correlate(dY padded by dilation (k - 1) - padding, flipped transposed weight), which needs that padding >= 0.
    """
    if any(s != 1 for s in geometry.stride):
        return None
    padding = tuple(
        (dl * (k - 1) - before, dl * (k - 1) - after)
        for k, dl, (before, after) in zip(kernel, geometry.dilation, geometry.padding)
    )
    if any(p < 0 for pair in padding for p in pair):
        return None
    return geometry._replace(padding=padding)


def _flipped_transpose(weight, groups: int):
    """weight (O, C/G, *K) -> (C, O/G, *K) with every tap reversed: the kernel of the adjoint correlation."""
    out_channels, group_channels, *kernel = weight.shape
    grouped = weight.reshape(groups, out_channels // groups, group_channels, *kernel).swapaxes(1, 2)
    flipped = grouped[(Ellipsis,) + (slice(None, None, -1),) * len(kernel)]
    return (
        array_module(weight)
        .ascontiguousarray(flipped)
        .reshape(groups * group_channels, out_channels // groups, *kernel)
    )


# --------------------------------------------------------------------------- the three ops
class Conv(Op):
    """``y = conv(x, w) + b``: x (N, C, *S), w (O, C/G, *K), b (O,) or None -> y (N, O, *output_size)."""

    name = "convolution"

    @staticmethod
    def forward(ctx, x, weight, bias, geometry, output_size):
        ctx.geometry = geometry
        ctx.save_for_backward(x, weight)
        return _correlate(x, weight, bias, geometry, output_size)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        geometry = ctx.geometry
        need_x, need_weight, need_bias = ctx.needs_input_grad
        grad_x = ConvTranspose.apply(grad, weight, None, geometry=geometry, input_shape=x.shape) if need_x else None
        grad_weight = None
        if need_weight:
            grad_weight = ConvWeightGrad.apply(x, grad, geometry=geometry, kernel=weight.shape[2:])
        return grad_x, grad_weight, _channel_sum(grad) if need_bias else None


def _conv(x: Tensor, weight: Tensor, bias, geometry: ConvGeometry, output_size) -> Tensor:
    return Conv.apply(x, weight, bias, geometry=geometry, output_size=output_size)


class ConvTranspose(Op):
    """``x = conv_transpose(y, w) + b``: the adjoint of ``Conv`` in its input.

    y (N, O, *out), w (O, C/G, *K), b (C,) or None -> x of ``input_shape`` (N, C, *S).
    """

    name = "conv_transpose"

    @staticmethod
    def forward(ctx, y, weight, bias, geometry, input_shape):
        ctx.geometry = geometry
        ctx.save_for_backward(y, weight)
        adjoint = _adjoint_geometry(geometry, weight.shape[2:])
        if adjoint is not None and weight.shape[0] <= _CORRELATION_CHANNEL_RATIO * weight.shape[1] * geometry.groups:
            flipped = _flipped_transpose(weight, geometry.groups)
            return _correlate(y, flipped, bias, adjoint, tuple(input_shape[2:]))
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
    """``dw = dY @ cols(X)^T``: the weight gradient of ``Conv``, x (N, C, *S), dy (N, O, *out) -> (O, C/G, *K)."""

    name = "conv_weight_grad"

    @staticmethod
    def forward(ctx, x, grad_y, geometry, kernel):
        ctx.geometry = geometry
        ctx.save_for_backward(x, grad_y)
        return _correlate_weight_grad(x, grad_y, geometry, kernel)

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
