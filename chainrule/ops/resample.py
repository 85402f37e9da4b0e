"""Changing the spatial size of (N, C, *spatial) tensors: interpolation, pixel (un)shuffle, adaptive max pooling.

Every interpolation mode is separable: along each spatial axis, output
position i reads a few input positions (its taps) with fixed weights, all
computed from the sizes alone. ``nearest`` has one tap of weight 1, so it is
an index (its gradient a scatter-add); ``linear`` has two and ``cubic`` four,
collected into an (out, in) matrix per axis, so the resampling is a matmul and
its gradient the matmul by the transposed matrix. The source coordinate of
output i follows PyTorch exactly (and in the input's precision)::

    align_corners=True:    src = i (in - 1) / (out - 1)
    align_corners=False:   src = (i + 0.5) / scale - 0.5      (clamped at 0, except for cubic)
    nearest:               src = floor(i / scale)

with ``scale`` the ``scale_factor`` when given, else out / in.

Pixel shuffle is a reshape and a permutation. Adaptive max pooling gathers,
for each output cell, its window's flat indices (shorter windows repeat their
last index, which cannot change a maximum) and takes the maximum over them.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.backend import array_module
from chainrule.ops.conv import check_input
from chainrule.ops.pool import adaptive_avg_pool1d, adaptive_avg_pool2d
from chainrule.ops.reduce import values_indices
from chainrule.tensor import Tensor

_SPATIAL_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75  # the bicubic kernel's free parameter, PyTorch's (and OpenCV's) choice


# --------------------------------------------------------------------------- interpolate
def _output_sizes(op, spatial, size, scale_factor) -> tuple[tuple[int, ...], tuple]:
    """The output sizes and the scale of each axis (None where it is out / in)."""
    d = len(spatial)
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: only one of size or scale_factor should be defined")
    if size is not None:
        sizes = (size,) * d if isinstance(size, (int, np.integer)) else tuple(size)
        if len(sizes) != d:
            raise ValueError(f"{op}: input with spatial size {tuple(spatial)} expects a size of {d} ints, got {size!r}")
        return tuple(int(s) for s in sizes), (None,) * d
    if scale_factor is None:
        raise ValueError(f"{op}: either size or scale_factor should be defined")
    scales = (scale_factor,) * d if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(scales) != d:
        raise ValueError(
            f"{op}: input with spatial size {tuple(spatial)} expects a scale_factor of {d} numbers, "
            f"got {scale_factor!r}"
        )
    return tuple(math.floor(n * float(s)) for n, s in zip(spatial, scales)), tuple(float(s) for s in scales)


def _source_positions(size: int, out: int, scale, align_corners: bool, cubic: bool, dtype) -> np.ndarray:
    """Where each output position samples the input, in input coordinates (PyTorch's formula and precision)."""
    positions = np.arange(out).astype(dtype)
    if align_corners:
        ratio = dtype.type((size - 1) / (out - 1)) if out > 1 else dtype.type(0)
        return ratio * positions
    ratio = dtype.type(1.0 / scale) if scale is not None and scale > 0 else dtype.type(size) / dtype.type(out)
    source = ratio * (positions + dtype.type(0.5)) - dtype.type(0.5)
    return source if cubic else np.maximum(source, dtype.type(0))


def _nearest_indices(size: int, out: int, scale) -> np.ndarray:
    """PyTorch's nearest-neighbour source index, computed in float32 as its kernels do."""
    if out == size:
        return np.arange(out)
    ratio = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(size) / np.float32(out)
    return np.minimum(np.floor(np.arange(out, dtype=np.float32) * ratio).astype(np.int64), size - 1)


def _cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """The four taps' weights at fractional offset t (Keys' cubic convolution with a = -0.75)."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _interpolation_matrix(size: int, out: int, scale, align_corners: bool, cubic: bool, dtype) -> np.ndarray:
    """(out, size): row i holds the weights output i gives each input position along one axis."""
    source = _source_positions(size, out, scale, align_corners, cubic, dtype)
    start = np.floor(source).astype(np.int64)
    t = source - start.astype(dtype)
    if cubic:
        taps = [np.clip(start + k, 0, size - 1) for k in (-1, 0, 1, 2)]
        weights = _cubic_weights(t)
    else:
        start = np.minimum(start, size - 1)
        taps = [start, np.minimum(start + 1, size - 1)]
        weights = [1 - t, t]
    matrix = np.zeros((out, size), dtype)
    rows = np.arange(out)
    for tap, weight in zip(taps, weights):
        np.add.at(matrix, (rows, tap), weight)
    return matrix


def _along_axis(x: Tensor, axis: int, matrix: np.ndarray) -> Tensor:
    """Apply the (out, in) ``matrix`` along ``axis`` of x."""
    operator = Tensor._wrap(array_module(x._data).asarray(matrix.T))
    return (x.transpose(axis, -1) @ operator).transpose(axis, -1)


def _check_interpolate_mode(input: Tensor, mode: str, align_corners, antialias: bool) -> int:
    """The number of spatial dims, after PyTorch's checks of mode against input rank."""
    op = "interpolate"
    if mode not in ("nearest", "area", *_SPATIAL_MODES):
        raise NotImplementedError(
            f"{op}: unknown mode {mode!r} (expected nearest, linear, bilinear, bicubic, trilinear or area)"
        )
    if align_corners is not None and mode in ("nearest", "area"):
        raise ValueError(
            f"{op}: align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    if not isinstance(input, Tensor) or input.ndim not in (3, 4, 5):
        shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise NotImplementedError(f"{op}: input must be 3-D, 4-D or 5-D (N, C, *spatial), got {shape}")
    spatial = input.ndim - 2
    if mode in _SPATIAL_MODES and _SPATIAL_MODES[mode] != spatial:
        raise NotImplementedError(
            f"{op}: Got {input.ndim}D input of shape {tuple(input.shape)}, but {mode} mode needs "
            f"{_SPATIAL_MODES[mode] + 2}D input"
        )
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {input.dtype}")
    return spatial


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, *spatial) to ``size`` (or ``spatial * scale_factor``, floored) by ``mode``.

    Modes: ``nearest`` (any of 1-3 spatial dims), ``linear`` (N, C, L),
    ``bilinear`` and ``bicubic`` (N, C, H, W), ``trilinear`` (N, C, D, H, W), and
    ``area`` (adaptive average pooling). ``align_corners=True`` maps the corner
    pixels' centres onto each other; ``recompute_scale_factor=True`` derives the
    scale from the output size instead of using ``scale_factor`` as given.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.tensor([[[1.0, 2.0]]])
    >>> F.interpolate(x, scale_factor=2)
    tensor([[[1., 1., 2., 2.]]], shape=(1, 1, 4), dtype=float32)
    >>> F.interpolate(x, size=3, mode="linear", align_corners=True)
    tensor([[[1. , 1.5, 2. ]]], shape=(1, 1, 3), dtype=float32)
    """
    spatial = _check_interpolate_mode(input, mode, align_corners, antialias)
    sizes, scales = _output_sizes("interpolate", input.shape[2:], size, scale_factor)
    if any(s <= 0 for s in sizes):
        raise ValueError(f"interpolate: the output size {sizes} of input {tuple(input.shape)} must be positive")
    if recompute_scale_factor:
        scales = (None,) * spatial
    if mode == "area":
        if spatial == 3:
            raise NotImplementedError("interpolate: area mode supports 3-D and 4-D input")
        return (adaptive_avg_pool1d if spatial == 1 else adaptive_avg_pool2d)(input, sizes)
    result = input
    for axis, (n, out, scale) in enumerate(zip(input.shape[2:], sizes, scales)):
        if mode == "nearest":
            if out != n:
                index = (slice(None),) * (2 + axis) + (_nearest_indices(n, out, scale),)
                result = result[index]
            continue
        matrix = _interpolation_matrix(n, out, scale, bool(align_corners), mode == "bicubic", input.dtype)
        result = _along_axis(result, 2 + axis, matrix)
    return result


# --------------------------------------------------------------------------- pixel shuffle
def _check_factor(op: str, input: Tensor, factor: int) -> None:
    if not isinstance(factor, (int, np.integer)) or factor <= 0:
        raise ValueError(f"{op}: the factor must be a positive int, got {factor!r}")
    if not isinstance(input, Tensor) or input.ndim < 3:
        shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"{op}: expects input to have at least 3 dimensions (*, C, H, W), got {shape}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r): channel c r^2 + i r + j becomes pixel (h r + i, w r + j) of channel c.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.arange(4.0).reshape(1, 4, 1, 1)
    >>> F.pixel_shuffle(x, 2)
    tensor([[[[0., 1.],
              [2., 3.]]]], shape=(1, 1, 2, 2), dtype=float32)
    """
    r = upscale_factor
    _check_factor("pixel_shuffle", input, r)
    *lead, channels, height, width = input.shape
    if channels % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
            f"upscale_factor, but input.size(-3)={channels} is not divisible by {r * r} (input {tuple(input.shape)})"
        )
    k = len(lead)
    x = input.reshape(*lead, channels // (r * r), r, r, height, width)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of ``pixel_shuffle``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.arange(4.0).reshape(1, 1, 2, 2)
    >>> F.pixel_unshuffle(x, 2).shape
    chainrule.Size([1, 4, 1, 1])
    >>> cr.equal(F.pixel_shuffle(F.pixel_unshuffle(x, 2), 2), x)
    True
    """
    r = downscale_factor
    _check_factor("pixel_unshuffle", input, r)
    *lead, channels, height, width = input.shape
    if height % r or width % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor={r}, "
            f"got input of shape {tuple(input.shape)}"
        )
    k = len(lead)
    x = input.reshape(*lead, channels, height // r, r, width // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, channels * r * r, height // r, width // r)


# --------------------------------------------------------------------------- adaptive max pooling
def _adaptive_windows(size: int, out: int) -> np.ndarray:
    """(out, widest): the positions of window i, [floor(i size / out), ceil((i + 1) size / out)), last repeated."""
    starts = np.arange(out) * size // out
    ends = -(-(np.arange(out) + 1) * size // out)
    offsets = np.arange((ends - starts).max())
    return np.minimum(starts[:, None] + offsets, ends[:, None] - 1)


def _adaptive_max_pool(op: str, input: Tensor, d: int, output_size, return_indices: bool):
    batched = input.ndim == d + 2
    if input.ndim == d + 1:
        input = input.unsqueeze(0)
    check_input(op, input, d)
    spatial = input.shape[2:]
    sizes = (output_size,) * d if output_size is None or isinstance(output_size, (int, np.integer)) else output_size
    sizes = tuple(n if o is None else int(o) for n, o in zip(spatial, tuple(sizes)))
    if len(sizes) != d or any(o <= 0 for o in sizes):
        raise ValueError(f"{op}: output_size must be {d} positive ints (or None), got {output_size!r}")
    # flat[o_1, ..., o_d, k_1, ..., k_d]: the flat index into the spatial plane of window tap k of cell o.
    flat = np.zeros((1,) * (2 * d), np.int64)
    for axis, (n, o) in enumerate(zip(spatial, sizes)):
        windows = _adaptive_windows(n, o)
        shape = [1] * (2 * d)
        shape[axis], shape[d + axis] = windows.shape
        flat = flat * n + windows.reshape(shape)
    flat = flat.reshape(*sizes, -1)
    xp = array_module(input._data)
    flat = xp.asarray(flat)
    values, taps = input.flatten(2)[:, :, flat].max(-1)
    every_tap = xp.broadcast_to(flat, taps.shape + flat.shape[-1:])
    indices = Tensor._wrap(xp.take_along_axis(every_tap, taps._data[..., None], -1)[..., 0])
    if not batched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return values_indices(values, indices) if return_indices else values


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """The maximum over ``output_size`` near-equal windows of (N, C, L) (or (C, L)); indices into L.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.adaptive_max_pool1d(cr.tensor([[[1.0, 5.0, 2.0, 0.0, 3.0, 4.0]]]), 2)
    tensor([[[5., 4.]]], shape=(1, 1, 2), dtype=float32)
    """
    return _adaptive_max_pool("adaptive_max_pool1d", input, 1, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """The maximum over near-equal windows of (N, C, H, W) (or (C, H, W)); indices flat into H * W.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.adaptive_max_pool2d(x, (2, 2), return_indices=True)
    values_indices(values=tensor([[[[ 5.,  7.],
              [13., 15.]]]], shape=(1, 1, 2, 2), dtype=float32), indices=tensor([[[[ 5,  7],
              [13, 15]]]], shape=(1, 1, 2, 2), dtype=int64))
    """
    return _adaptive_max_pool("adaptive_max_pool2d", input, 2, output_size, return_indices)
