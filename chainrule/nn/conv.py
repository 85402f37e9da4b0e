"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose2d``.

The layers hold the weights and call ``chainrule.ops.conv``; weights are
(out_channels, in_channels / groups, *kernel_size) for a convolution and
(in_channels, out_channels / groups, *kernel_size) for a transposed one, as
PyTorch's, and drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import empty_parameter
from chainrule.ops import conv
from chainrule.tensor import Tensor

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(value, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"expected {n} values, got {tuple(value)}")
        return tuple(value)
    return (value,) * n


class _ConvNd(Module):
    _dims: int
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride,
        padding,
        dilation,
        output_padding,
        groups: int,
        bias: bool,
        padding_mode: str,
        device,
        dtype,
    ):
        super().__init__()
        name = type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by "
                f"groups ({groups})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        n = self._dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, n)
        self.stride = _tuple(stride, n)
        self.dilation = _tuple(dilation, n)
        self.groups = groups
        self.padding_mode = padding_mode
        self.output_padding = _tuple(output_padding, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be 'same', 'valid' or a number, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, n)
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = empty_parameter(shape, device, dtype)
        if bias:
            self.bias = empty_parameter((out_channels,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def _explicit_padding(self) -> list[int]:
        """F.pad's widths (last dim first) for a padding_mode other than zeros."""
        widths = []
        for i in reversed(range(self._dims)):
            if self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                widths += [total // 2, total - total // 2]
            elif self.padding == "valid":
                widths += [0, 0]
            else:
                widths += [self.padding[i], self.padding[i]]
        return widths

    def _check_input(self, input: Tensor) -> None:
        if input.ndim not in (self._dims + 1, self._dims + 2) or input.shape[-self._dims - 1] != self.in_channels:
            raise RuntimeError(
                f"{self._get_name()}: expected an input (N, {self.in_channels}, *spatial) with {self._dims} spatial "
                f"dim(s) and in_channels={self.in_channels}, got shape {tuple(input.shape)}"
            )

    def _convolve(self, function, input: Tensor) -> Tensor:
        self._check_input(input)
        unbatched = input.ndim == self._dims + 1
        if unbatched:  # (C, *spatial): a batch of one
            input = input.unsqueeze(0)
        if self.padding_mode != "zeros":
            input = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
            padding = (0,) * self._dims
        else:
            padding = self.padding
        output = function(
            input,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=padding,
            dilation=self.dilation,
            groups=self.groups,
        )
        return output.squeeze(0) if unbatched else output

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _Conv(_ConvNd):
    """The plain (not transposed) convolutions, with PyTorch's constructor arguments."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        output_padding = 0
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            output_padding,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )


class Conv1d(_Conv):
    """1-d convolution (cross-correlation) of (N, C_in, L) into (N, C_out, L_out).

    ``Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True)``:
    ``out[n, o, l] = b[o] + sum_{c, k} w[o, c, k] x[n, c, stride l + dilation k]`` (x zero-padded), with
    L_out = (L + 2 padding - dilation (kernel - 1) - 1) // stride + 1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> conv = nn.Conv1d(2, 4, kernel_size=3, padding=1)
    >>> conv.weight.shape, conv(cr.zeros(8, 2, 10)).shape
    (chainrule.Size([4, 2, 3]), chainrule.Size([8, 4, 10]))
    """

    _dims = 1

    def forward(self, input: Tensor) -> Tensor:
        return self._convolve(conv.conv1d, input)


class Conv2d(_Conv):
    """2-d convolution (cross-correlation) of (N, C_in, H, W) into (N, C_out, H_out, W_out).

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True)``:
    ``out[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q] x[n, c, stride i + p, stride j + q]`` (dilation 1), with
    H_out = (H + 2 padding - dilation (kernel - 1) - 1) // stride + 1, and likewise W_out.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> conv = nn.Conv2d(1, 6, kernel_size=5)
    >>> conv.weight.shape, conv(cr.zeros(2, 1, 28, 28)).shape
    (chainrule.Size([6, 1, 5, 5]), chainrule.Size([2, 6, 24, 24]))
    """

    _dims = 2

    def forward(self, input: Tensor) -> Tensor:
        return self._convolve(conv.conv2d, input)


class ConvTranspose2d(_ConvNd):
    """The transpose (adjoint) of Conv2d: upsamples (N, C_in, H, W) into (N, C_out, H_out, W_out).

    H_out = (H - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> up = nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2)
    >>> up.weight.shape, up(cr.zeros(1, 4, 5, 5)).shape
    (chainrule.Size([4, 2, 2, 2]), chainrule.Size([1, 2, 10, 10]))
    """

    _dims = 2
    _transposed = True
    _function = "conv_transpose2d"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding_mode is supported, got {padding_mode!r}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be a number or a tuple, not a string")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            output_padding,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def _output_padding(self, input: Tensor, output_size) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        output_size = tuple(output_size)[-self._dims :]
        padding = []
        for d in range(self._dims):
            smallest = (
                (input.shape[d - self._dims] - 1) * self.stride[d]
                - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1)
                + 1
            )
            if not smallest <= output_size[d] < smallest + self.stride[d]:
                raise ValueError(
                    f"{self._get_name()}: requested output size {output_size} is not reachable from input "
                    f"{tuple(input.shape)}; dim {d} must be in [{smallest}, {smallest + self.stride[d] - 1}]"
                )
            padding.append(output_size[d] - smallest)
        return tuple(padding)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        unbatched = input.ndim == self._dims + 1
        output = getattr(conv, self._function)(
            input.unsqueeze(0) if unbatched else input,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            output_padding=self._output_padding(input, output_size),
            groups=self.groups,
            dilation=self.dilation,
        )
        return output.squeeze(0) if unbatched else output


class ConvTranspose1d(ConvTranspose2d):
    """The transpose (adjoint) of Conv1d: upsamples (N, C_in, L) into (N, C_out, L_out).

    L_out = (L - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ConvTranspose1d(4, 2, kernel_size=3, stride=2)(cr.zeros(1, 4, 5)).shape
    chainrule.Size([1, 2, 11])
    """

    _dims = 1
    _function = "conv_transpose1d"
