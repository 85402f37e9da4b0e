"""Padding layers: ``F.pad`` with a fixed mode and widths.

``padding`` is an int (the same width on every side) or a tuple in ``F.pad``'s
order, last dim first: (left, right) for 1-d, (left, right, top, bottom) for 2-d.
"""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class _PadNd(Module):
    _mode: str
    _dims: int

    value = 0.0  # what F.pad fills with; only the constant modes take it as an argument

    def __init__(self, padding):
        super().__init__()
        widths = (padding,) * (2 * self._dims) if isinstance(padding, int) else tuple(padding)
        if len(widths) != 2 * self._dims:
            raise ValueError(
                f"{type(self).__name__}: padding must be an int or a tuple of {2 * self._dims} ints, got {padding!r}"
            )
        self.padding = widths

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(
                f"{self._get_name()}: expected a {self._dims + 1}-D or {self._dims + 2}-D input "
                f"(channels, then {self._dims} spatial dims), got shape {tuple(input.shape)}"
            )
        return F.pad(input, self.padding, mode=self._mode, value=self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}" + (f", value={self.value}" if self._mode == "constant" else "")


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim of (N, C, L) with ``value``: ``ConstantPad1d(padding, value)``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ConstantPad1d((1, 2), 9.0)(cr.tensor([[[1.0, 2.0]]]))
    tensor([[[9., 1., 2., 9., 9.]]], shape=(1, 1, 5), dtype=float32)
    """

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims of (N, C, H, W) with ``value``: ``ConstantPad2d(padding, value)``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ConstantPad2d(1, 0.0)(cr.ones(1, 1, 2, 2)).shape
    chainrule.Size([1, 1, 4, 4])
    """

    _dims = 2


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims of (N, C, H, W) with zeros.

    ``padding`` is an int or (left, right, top, bottom).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ZeroPad2d((1, 0, 0, 1))(cr.ones(1, 1, 1, 1))
    tensor([[[[0., 1.],
              [0., 0.]]]], shape=(1, 1, 2, 2), dtype=float32)
    """

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_PadNd):
    """Pad (N, C, L) with its reflection about the edge (the edge not repeated).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReflectionPad1d(2)(cr.tensor([[[1.0, 2.0, 3.0]]]))
    tensor([[[3., 2., 1., 2., 3., 2., 1.]]], shape=(1, 1, 7), dtype=float32)
    """

    _mode, _dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Pad (N, C, H, W) with its reflection about the edges.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReflectionPad2d(1)(cr.arange(4.0).reshape(1, 1, 2, 2)).shape
    chainrule.Size([1, 1, 4, 4])
    """

    _mode, _dims = "reflect", 2


class ReplicationPad1d(_PadNd):
    """Pad (N, C, L) by repeating its edge values.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReplicationPad1d((2, 1))(cr.tensor([[[1.0, 2.0, 3.0]]]))
    tensor([[[1., 1., 1., 2., 3., 3.]]], shape=(1, 1, 6), dtype=float32)
    """

    _mode, _dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Pad (N, C, H, W) by repeating its edge values.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReplicationPad2d(1)(cr.arange(4.0).reshape(1, 1, 2, 2))[0, 0, 0]
    tensor([0., 0., 1., 1.], shape=(4,), dtype=float32)
    """

    _mode, _dims = "replicate", 2


class CircularPad1d(_PadNd):
    """Pad (N, C, L) by wrapping around (periodic boundary).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CircularPad1d(1)(cr.tensor([[[1.0, 2.0, 3.0]]]))
    tensor([[[3., 1., 2., 3., 1.]]], shape=(1, 1, 5), dtype=float32)
    """

    _mode, _dims = "circular", 1


class CircularPad2d(_PadNd):
    """Pad (N, C, H, W) by wrapping around (periodic boundary).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CircularPad2d(1)(cr.arange(4.0).reshape(1, 1, 2, 2))[0, 0, 0]
    tensor([3., 2., 3., 2.], shape=(4,), dtype=float32)
    """

    _mode, _dims = "circular", 2
