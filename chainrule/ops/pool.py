"""Pooling over the window view that convolution uses: max, average and adaptive average.

``max_pool`` keeps, in every window, the first position holding the window's
maximum (PyTorch's tie rule) and its flat index in the input plane; the
gradient is that of a gather at those indices, a scatter-add of the output
gradient back to them (indexing's ``IndexAdd``/``Index`` pair, so it can be
differentiated again). ``avg_pool`` sums every window and divides by its
divisor; its gradient spreads each output gradient evenly over the window
(``fold_windows``, the adjoint of the window view). Padding is -inf for max and
0 for average pooling; ``ceil_mode`` adds windows that start inside the input
but run past its end.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from chainrule.autograd.function import Op
from chainrule.backend import allocating_on, array_module, device_of, library_of, module_for
from chainrule.ops.conv import (
    check_input,
    check_positive,
    crop_spatial,
    fold_windows,
    pad_spatial,
    sliding_windows,
    spatial_tuple,
)
from chainrule.ops.indexing import IndexAdd, open_grid
from chainrule.tensor import Tensor


class PoolGeometry(NamedTuple):
    """The windows of a pooling over ``len(kernel)`` spatial dims."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]  # (before, after): after also covers ceil_mode's last windows
    dilation: tuple[int, ...]
    output_size: tuple[int, ...]

    def windows(self, x, fill=0):
        """View (N, C, *output_size, *kernel) of the windows of ``x`` (N, C, *S) padded with ``fill``."""
        padded = pad_spatial(x, self.padding, fill)
        return sliding_windows(padded, self.kernel, self.stride, self.dilation, self.output_size)


def _output_length(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size; in ceil mode the last window must start inside the input or left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    length = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (length - 1) * stride >= size + pad:
        length -= 1
    return length


def _pool_geometry(op, input, d, kernel_size, stride, padding, dilation, ceil_mode) -> PoolGeometry:
    check_input(op, input, d)
    kernel = spatial_tuple(kernel_size, d, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else stride
    stride = spatial_tuple(stride, d, "stride", op)
    dilation = spatial_tuple(dilation, d, "dilation", op)
    pads = spatial_tuple(padding, d, "padding", op)
    check_positive(op, kernel_size=kernel, stride=stride, dilation=dilation)
    if any(p < 0 or p > k // 2 for p, k in zip(pads, kernel)):
        raise ValueError(f"{op}: padding {pads} must be non-negative and at most half of kernel_size {kernel}")
    spatial = input.shape[2:]
    output_size = tuple(_output_length(*args, ceil_mode) for args in zip(spatial, kernel, stride, pads, dilation))
    if any(n <= 0 for n in output_size):
        raise RuntimeError(
            f"{op}: output size {output_size} is too small for input of shape {tuple(input.shape)} "
            f"(kernel_size {kernel}, stride {stride}, padding {pads}, dilation {dilation})"
        )
    reach = tuple((o - 1) * s + dl * (k - 1) + 1 for o, s, dl, k in zip(output_size, stride, dilation, kernel))
    padding = tuple((p, max(p, r - n - p)) for p, r, n in zip(pads, reach, spatial))
    return PoolGeometry(kernel, stride, padding, dilation, output_size)


# --------------------------------------------------------------------------- max pooling
def _inside_masks(geometry: PoolGeometry, spatial, xp):
    """For each tap number, where that tap of each window lies in the input, not the padding: bool (*out)."""
    per_dim = []
    for n, k, s, dl, (before, _), o in zip(
        spatial, geometry.kernel, geometry.stride, geometry.dilation, geometry.padding, geometry.output_size
    ):
        position = np.arange(o)[:, None] * s - before + np.arange(k) * dl  # (out, kernel) along this dim
        per_dim.append((position >= 0) & (position < n))
    masks = []
    for tap in np.ndindex(*geometry.kernel):
        mask = np.ones((), bool)
        for inside, t in zip(per_dim, tap):
            mask = np.multiply.outer(mask, inside[:, t])
        masks.append(xp.asarray(mask))
    return masks


def _window_argmax(windows, inside=None):
    """The maximum of every window (N, C, *out, *kernel) and the number of the tap holding it.

    One pass over the kernel taps, each step vectorised: a tap replaces the
    running maximum where it is strictly greater, so the first tap wins ties,
    as in PyTorch. ``inside`` (per tap, see ``_inside_masks``) lets a tap inside
    the input win a tie of -inf with a padding tap. A NaN propagates to the
    maximum and, as in PyTorch, its window's gradient goes to the last NaN.
    """
    xp = array_module(windows)
    d = (windows.ndim - 2) // 2
    taps = [(Ellipsis,) + tap for tap in np.ndindex(*windows.shape[-d:])]
    best = windows[taps[0]].copy()
    tap_number = xp.zeros(best.shape, np.min_scalar_type(len(taps)))
    in_padding = None if inside is None else xp.broadcast_to(~inside[0], best.shape)
    for number, tap in enumerate(taps[1:], 1):
        value = windows[tap]
        wins = value > best
        if in_padding is not None:
            wins |= in_padding & inside[number] & (value == best)
            in_padding = in_padding & ~(wins | inside[number])
        # Taps come in increasing number, so a later winner overrides by a maximum (cheaper than a masked write).
        xp.maximum(tap_number, wins.view(np.uint8) * tap_number.dtype.type(number), out=tap_number)
        xp.maximum(best, value, out=best)
    nan = xp.isnan(best)
    if not library_of(best).cache_blocking:  # a GPU: the last NaN tap found without reading anything back
        nan_taps = xp.isnan(windows).reshape(best.shape + (len(taps),))
        last_nan = (len(taps) - 1) - xp.argmax(nan_taps[..., ::-1], axis=-1)
        return best, xp.where(nan, last_nan.astype(tap_number.dtype), tap_number)
    if bool(nan.any()):
        for number, tap in enumerate(taps):
            xp.copyto(tap_number, number, where=nan & xp.isnan(windows[tap]))
    return best, tap_number


@functools.lru_cache(maxsize=32)
def _window_starts(geometry: PoolGeometry, input_shape: tuple[int, ...], device):
    """Flat index into the input (N, C, *S) of every window's (0, ..., 0) tap: shape (N, C, *output_size).

    The same for every batch of one shape, so it is cached per device (read-only where the library can mark it).
    """
    with allocating_on(device):
        starts = _window_starts_on(module_for(device), geometry, input_shape)
    return library_of(starts).read_only(starts)


def _window_starts_on(xp, geometry: PoolGeometry, input_shape: tuple[int, ...]):
    spatial = input_shape[2:]
    starts = xp.arange(0, math.prod(input_shape), math.prod(spatial)).reshape(input_shape[:2] + (1,) * len(spatial))
    for axis, (n, s, (before, _)) in enumerate(zip(geometry.output_size, geometry.stride, geometry.padding)):
        step = math.prod(spatial[axis + 1 :])
        starts = starts + ((xp.arange(n) * s - before) * step).reshape((n,) + (1,) * (len(spatial) - 1 - axis))
    return starts


def _tap_offsets(geometry: PoolGeometry, spatial) -> np.ndarray:
    """The flat offset in the input plane of each tap from its window's first tap."""
    plane_strides = [math.prod(spatial[i + 1 :]) for i in range(len(spatial))]
    return np.array(
        [
            sum(t * dl * st for t, dl, st in zip(tap, geometry.dilation, plane_strides))
            for tap in np.ndindex(*geometry.kernel)
        ]
    )


def _in_padding(values, tap_number, inside):
    """Where the chosen tap lies in the padding, or None if nowhere.

    Only a window whose maximum is -inf or NaN can choose a padding tap (a
    dilated window with no tap in the input, say).
    """
    if inside is None:
        return None
    xp = array_module(values)
    if not bool((~(values > -np.inf)).any()):
        return None
    return ~xp.stack(inside)[(tap_number, *open_grid(xp, values.shape[2:]))]


class MaxPool(Op):
    """Window maxima: x (N, C, *S) -> (N, C, *out) (and, with ``return_indices``, int64 flat plane indices).

    The gradient of every maximum goes to the input cell it came from; that of
    a window lying wholly in the padding (possible with dilation) is dropped.
    """

    name = "max_pool"

    @staticmethod
    def forward(ctx, x, geometry, return_indices):
        xp = array_module(x)
        spatial = x.shape[2:]
        padded = any(before or after for before, after in geometry.padding)
        inside = _inside_masks(geometry, spatial, xp) if padded else None
        values, tap_number = _window_argmax(geometry.windows(x, fill=-np.inf), inside)
        offsets = xp.asarray(_tap_offsets(geometry, spatial)).take(tap_number)
        index = xp.add(_window_starts(geometry, x.shape, device_of(x)), offsets)
        if return_indices:  # PyTorch's indices count within each (sample, channel) plane
            plane_index = index - xp.arange(0, x.size, math.prod(spatial)).reshape(
                values.shape[:2] + (1,) * len(spatial)
            )
        dropped = _in_padding(values, tap_number, inside)
        ctx.spare_slot = int(dropped is not None)
        if ctx.spare_slot:
            index[dropped] = x.size  # a slot past the input's end, which backward discards
        ctx.input_shape, ctx.index = x.shape, index.reshape(-1)
        return (values, plane_index) if return_indices else values

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        size = math.prod(ctx.input_shape)
        scattered = IndexAdd.apply(grad.reshape(-1), shape=(size + ctx.spare_slot,), index=ctx.index)
        if ctx.spare_slot:
            scattered = scattered[:size]
        return scattered.reshape(ctx.input_shape)


def _max_pool(op, input, d, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    geometry = _pool_geometry(op, input, d, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool.apply(input, geometry=geometry, return_indices=bool(return_indices))


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max over windows of (N, C, L) -> (N, C, L_out); with ``return_indices`` also each maximum's position."""
    return _max_pool("max_pool1d", input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max over windows of (N, C, H, W) -> (N, C, H_out, W_out).

    ``H_out = (H + 2 padding - dilation (kH - 1) - 1) / stride + 1``, rounded
    down (up with ``ceil_mode``); ``stride`` defaults to ``kernel_size``; the
    padding (at most half the kernel) never wins. With ``return_indices`` also
    returns each maximum's flat index ``h * W + w`` in its input plane.
    """
    return _max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


# --------------------------------------------------------------------------- average pooling
def _window_sum(windows):
    """The sum of every window (N, C, *out, *kernel): one vectorised add per kernel tap."""
    d = (windows.ndim - 2) // 2
    taps = np.ndindex(*windows.shape[-d:])
    total = windows[(Ellipsis,) + next(taps)].copy()
    for tap in taps:
        total += windows[(Ellipsis,) + tap]
    return total


def _avg_divisor(geometry: PoolGeometry, spatial, count_include_pad: bool, divisor_override, dtype):
    """What each window's sum is divided by: an (*out) array, or the override.

    PyTorch counts the padding when ``count_include_pad`` but never the part of
    a ceil_mode window that runs past the padding.
    """
    if divisor_override is not None:
        return divisor_override
    divisor = np.ones((), dtype)
    for n, k, s, (pad, _), o in zip(spatial, geometry.kernel, geometry.stride, geometry.padding, geometry.output_size):
        start = np.arange(o) * s - pad
        end = np.minimum(start + k, n + pad)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        divisor = np.multiply.outer(divisor, (end - start).astype(dtype))
    return divisor


class AvgPool(Op):
    """Window means: x (N, C, *S) -> (N, C, *out), every window's sum divided by its divisor."""

    name = "avg_pool"

    @staticmethod
    def forward(ctx, x, geometry, divisor):
        ctx.geometry, ctx.divisor, ctx.input_shape = geometry, divisor, x.shape
        total = _window_sum(geometry.windows(x))
        total /= array_module(x).asarray(divisor, dtype=x.dtype)
        return total

    @staticmethod
    def backward(ctx, grad):
        return AvgPoolAdjoint.apply(grad, geometry=ctx.geometry, divisor=ctx.divisor, input_shape=ctx.input_shape)


class AvgPoolAdjoint(Op):
    """Spread every output gradient (N, C, *out) evenly over its window: the adjoint (and gradient) of AvgPool."""

    name = "avg_pool_backward"

    @staticmethod
    def forward(ctx, grad, geometry, divisor, input_shape):
        ctx.geometry, ctx.divisor = geometry, divisor
        xp = array_module(grad)
        share = grad / xp.asarray(divisor, dtype=grad.dtype)
        d = len(geometry.kernel)
        values = xp.broadcast_to(share[(Ellipsis,) + (None,) * d], share.shape + geometry.kernel)
        spatial = input_shape[2:]
        padded_shape = input_shape[:2] + tuple(
            n + before + after for n, (before, after) in zip(spatial, geometry.padding)
        )
        folded = fold_windows(values, padded_shape, geometry.stride, geometry.dilation)
        return xp.ascontiguousarray(crop_spatial(folded, geometry.padding, spatial))

    @staticmethod
    def backward(ctx, grad):
        return AvgPool.apply(grad, geometry=ctx.geometry, divisor=ctx.divisor)


def _avg_pool(op, input, d, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    geometry = _pool_geometry(op, input, d, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{op}: divisor_override must not be zero")
    divisor = _avg_divisor(geometry, input.shape[2:], count_include_pad, divisor_override, input.dtype)
    return AvgPool.apply(input, geometry=geometry, divisor=divisor)


def avg_pool1d(
    input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True
) -> Tensor:
    """Mean over windows of (N, C, L) -> (N, C, L_out); see ``avg_pool2d``."""
    return _avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over windows of (N, C, H, W) -> (N, C, H_out, W_out) (sizes as in ``max_pool2d``, no dilation).

    Zero padding counts in the divisor when ``count_include_pad``; ``divisor_override``
    replaces the divisor of every window.
    """
    return _avg_pool(
        "avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


# --------------------------------------------------------------------------- adaptive average pooling
def _averaging_matrix(size: int, output: int, dtype):
    """(output, size): row i averages positions [floor(i size / output), ceil((i + 1) size / output))."""
    matrix = np.zeros((output, size), dtype)
    for i in range(output):
        start, end = (i * size) // output, -(-(i + 1) * size // output)
        matrix[i, start:end] = 1 / (end - start)
    return matrix


def _adaptive_avg_pool(op, input, d, output_size) -> Tensor:
    check_input(op, input, d)
    sizes = (output_size,) if output_size is None or isinstance(output_size, int) else tuple(output_size)
    sizes = sizes * d if len(sizes) == 1 else sizes
    spatial = input.shape[2:]
    sizes = tuple(n if o is None else int(o) for n, o in zip(spatial, sizes))
    if len(sizes) != d or any(o <= 0 for o in sizes):
        raise ValueError(f"{op}: output_size must be {d} positive ints (or None), got {output_size!r}")
    if all(n % o == 0 for n, o in zip(spatial, sizes)):
        kernel = tuple(n // o for n, o in zip(spatial, sizes))
        return _avg_pool(op, input, d, kernel, kernel, 0, False, True, None)
    # Windows of different sizes: the mean is separable, one averaging matrix per spatial dim.
    xp = array_module(input._data)
    result = input
    for axis, (n, o) in enumerate(zip(spatial, sizes)):
        if n == o:
            continue
        matrix = Tensor._wrap(xp.asarray(_averaging_matrix(n, o, input.dtype).T))
        result = (result.transpose(2 + axis, -1) @ matrix).transpose(2 + axis, -1)
    return result


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over ``output_size`` near-equal windows of (N, C, L) -> (N, C, output_size)."""
    return _adaptive_avg_pool("adaptive_avg_pool1d", input, 1, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over near-equal windows of (N, C, H, W) -> (N, C, *output_size).

    Output row i averages input rows ``floor(i H / H_out)`` to ``ceil((i + 1) H / H_out)``
    (likewise columns); ``output_size`` is an int or a pair, None keeping the input size.
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", input, 2, output_size)
