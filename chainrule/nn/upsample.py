"""Resizing layers: ``Upsample`` (``F.interpolate`` as a layer), ``PixelShuffle`` and ``PixelUnshuffle``."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Upsample(Module):
    """Resize (N, C, *spatial) to ``size`` or by ``scale_factor`` with ``mode``
    ('nearest', 'linear', 'bilinear', 'bicubic', 'trilinear'); see ``F.interpolate``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Upsample(scale_factor=2)(cr.tensor([[[1.0, 2.0]]]))
    tensor([[[1., 1., 2., 2.]]], shape=(1, 1, 4), dtype=float32)
    >>> nn.Upsample(size=(4, 6), mode="bilinear")(cr.zeros(1, 3, 2, 3)).shape
    chainrule.Size([1, 3, 4, 6])
    """

    def __init__(
        self,
        size=None,
        scale_factor=None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        scale = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{scale}, mode={self.mode!r}"


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r), r the ``upscale_factor`` (sub-pixel convolution's last step).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.PixelShuffle(2)(cr.zeros(1, 12, 4, 4)).shape
    chainrule.Size([1, 3, 8, 8])
    """

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W), r the ``downscale_factor``: the inverse of ``PixelShuffle``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.PixelUnshuffle(2)(cr.zeros(1, 3, 8, 8)).shape
    chainrule.Size([1, 12, 4, 4])
    """

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for (N, C, H, W).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.UpsamplingNearest2d(scale_factor=2)(cr.arange(4.0).reshape(1, 1, 2, 2))[0, 0]
    tensor([[0., 0., 1., 1.],
            [0., 0., 1., 1.],
            [2., 2., 3., 3.],
            [2., 2., 3., 3.]], shape=(4, 4), dtype=float32)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` for (N, C, H, W).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.UpsamplingBilinear2d(size=(3, 3))(cr.tensor([[[[0.0, 2.0], [4.0, 6.0]]]]))[0, 0]
    tensor([[0., 1., 2.],
            [2., 3., 4.],
            [4., 5., 6.]], shape=(3, 3), dtype=float32)
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
