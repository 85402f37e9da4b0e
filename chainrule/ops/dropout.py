"""Dropout as one op: a Bernoulli keep-mask drawn from 32 random bits per element, and its scaling.

    y = x * m / (1 - p),   m_i = 1 with probability 1 - p, else 0
    dL/dx = g * m / (1 - p)          (the same op applied to g: linear, and its own derivative)

On the host the mask is one draw compared with p: the generator's raw 64-bit
output read as two 32-bit words per pair of elements, kept where
``bits >= p 2^32``. That is about three times cheaper than drawing float32
uniforms (NumPy makes each from its own 32-bit word and converts it) and
leaves the probability exact to 2^-32. On an accelerator the mask is drawn
there, from the device's own generator (``chainrule.random``): a float32
uniform u per element, kept where ``u >= p`` (exact to 2^-24), with no host
draw and no copy. The mask is saved as bool (one byte an element) for the
backward pass.
"""

from __future__ import annotations

import numpy as np

from chainrule import random
from chainrule.autograd.function import Op
from chainrule.backend import CPU, Device, device_of, library_of, to_device
from chainrule.tensor import Tensor

_WORD = 2.0**32


def keep_mask(shape: tuple[int, ...], p: float, device=None, generator=None) -> np.ndarray:
    """A bool array of ``shape`` on ``device``: True with probability 1 - p, from the global generator, the
    device's own generator on an accelerator, or ``generator`` (drawn on the host and copied)."""
    if random.draws_on_device(device, generator):
        return random.uniform(shape, dtype=np.float32, device=device) >= p
    count = int(np.prod(shape, dtype=np.int64))
    words = random.numpy_generator(generator).bit_generator.random_raw((count + 1) // 2).view(np.uint32)
    keep = (words[:count] >= np.uint32(min(round(p * _WORD), _WORD - 1))).reshape(shape)
    return keep if device is None or Device(device) == CPU else to_device(keep, Device(device))


def masked_scale(library):
    """The elementwise kernel x * mask * scale (one kernel on a device)."""

    def masked_scale(x, mask, scale):
        return (x * mask * scale).astype(x.dtype, copy=False)

    return masked_scale


class MaskedScale(Op):
    """x * mask * scale for a constant bool ``mask`` (broadcast against x) and a number ``scale``."""

    name = "dropout"

    @staticmethod
    def forward(ctx, x, mask, scale):
        ctx.scale = scale
        ctx.save_for_backward(mask)  # saved, so that backward frees it
        library = library_of(x)
        if not library.in_place_chains:
            return library.fused(masked_scale)(x, mask, scale)
        y = library.xp.multiply(x, mask)
        y *= scale
        return y

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return MaskedScale.apply(grad, mask=mask._data, scale=ctx.scale)


def dropout(input: Tensor, p: float, mask_shape: tuple[int, ...] | None = None) -> Tensor:
    """``input`` with elements zeroed with probability p and the rest scaled by 1 / (1 - p).

    ``mask_shape`` (default: the input's) lets one draw cover several elements,
    e.g. (N, C, 1, 1) zeroes whole channels.
    """
    mask = keep_mask(input.shape if mask_shape is None else mask_shape, p, device_of(input._data))
    return MaskedScale.apply(input, mask=mask, scale=1.0 / (1.0 - p))
