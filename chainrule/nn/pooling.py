"""Pooling layers: max, average, adaptive average and adaptive max pooling over 1 or 2 spatial dims.

They hold no weights; each calls its function of ``chainrule.ops.pool``.
The stride defaults to the kernel size (non-overlapping windows).
"""

from __future__ import annotations

from chainrule.nn.module import Module
from chainrule.ops import pool, resample
from chainrule.tensor import Tensor


class _MaxPoolNd(Module):
    _function: str

    def __init__(
        self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False, ceil_mode: bool = False
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor):
        # Options at their defaults are left out, so the call works with any function of F's signature.
        options = {}
        if self.dilation != 1:
            options["dilation"] = self.dilation
        if self.ceil_mode:
            options["ceil_mode"] = True
        if self.return_indices:
            options["return_indices"] = True
        pooling = getattr(pool, self._function)
        return pooling(input, self.kernel_size, stride=self.stride, padding=self.padding, **options)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """The maximum over windows of (N, C, L).

    ``MaxPool1d(kernel_size, stride=kernel_size, padding=0, dilation=1, return_indices=False, ceil_mode=False)``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MaxPool1d(2)(cr.tensor([[[1.0, 5.0, 2.0, 0.0]]]))
    tensor([[[5., 2.]]], shape=(1, 1, 2), dtype=float32)
    """

    _function = "max_pool1d"


class MaxPool2d(_MaxPoolNd):
    """The maximum over windows of (N, C, H, W).

    ``MaxPool2d(kernel_size, stride=kernel_size, padding=0, dilation=1, return_indices=False, ceil_mode=False)``;
    H_out = (H + 2 padding - dilation (kernel - 1) - 1) // stride + 1, and likewise W_out.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MaxPool2d(2)(cr.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 5.,  7.],
              [13., 15.]]]], shape=(1, 1, 2, 2), dtype=float32)
    """

    _function = "max_pool2d"


class AvgPool2d(Module):
    """The mean over windows of (N, C, H, W).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AvgPool2d(2)(cr.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]], shape=(1, 1, 2, 2), dtype=float32)
    """

    _function = "avg_pool2d"

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        options = {}
        if self.ceil_mode:
            options["ceil_mode"] = True
        if not self.count_include_pad:
            options["count_include_pad"] = False
        if self.divisor_override is not None:
            options["divisor_override"] = self.divisor_override
        pooling = getattr(pool, self._function)
        return pooling(input, self.kernel_size, stride=self.stride, padding=self.padding, **options)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """The mean over the windows that split (H, W) into ``output_size`` (e.g. 1: global average pooling).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveAvgPool2d(1)(cr.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[7.5]]]], shape=(1, 1, 1, 1), dtype=float32)
    >>> nn.AdaptiveAvgPool2d((2, 3))(cr.zeros(1, 8, 7, 7)).shape
    chainrule.Size([1, 8, 2, 3])
    """

    _function = "adaptive_avg_pool2d"

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return getattr(pool, self._function)(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AvgPool1d(AvgPool2d):
    """The mean over windows of (N, C, L).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AvgPool1d(2)(cr.tensor([[[1.0, 5.0, 2.0, 0.0]]]))
    tensor([[[3., 1.]]], shape=(1, 1, 2), dtype=float32)
    """

    _function = "avg_pool1d"

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """The mean over the windows that split L into ``output_size``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveAvgPool1d(2)(cr.tensor([[[1.0, 5.0, 2.0, 0.0]]]))
    tensor([[[3., 1.]]], shape=(1, 1, 2), dtype=float32)
    """

    _function = "adaptive_avg_pool1d"


class AdaptiveMaxPool2d(Module):
    """The maximum over the windows that split (H, W) into ``output_size``; with ``return_indices``,
    also each maximum's flat index into H * W (for ``MaxUnpool2d``-style uses).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveMaxPool2d(1)(cr.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[15.]]]], shape=(1, 1, 1, 1), dtype=float32)
    """

    _function = "adaptive_max_pool2d"

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return getattr(resample, self._function)(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """The maximum over the windows that split L into ``output_size`` (and their indices with ``return_indices``).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AdaptiveMaxPool1d(2)(cr.tensor([[[1.0, 5.0, 2.0, 0.0]]]))
    tensor([[[5., 2.]]], shape=(1, 1, 2), dtype=float32)
    """

    _function = "adaptive_max_pool1d"
