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
    """Pad the last dim of (N, C, L) with ``value``: ``ConstantPad1d(padding, value)``."""

    _dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims of (N, C, H, W) with ``value``: ``ConstantPad2d(padding, value)``."""

    _dims = 2


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims of (N, C, H, W) with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_PadNd):
    """Pad (N, C, L) with its reflection about the edge (the edge not repeated)."""

    _mode, _dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Pad (N, C, H, W) with its reflection about the edges."""

    _mode, _dims = "reflect", 2


class ReplicationPad1d(_PadNd):
    """Pad (N, C, L) by repeating its edge values."""

    _mode, _dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Pad (N, C, H, W) by repeating its edge values."""

    _mode, _dims = "replicate", 2


class CircularPad1d(_PadNd):
    """Pad (N, C, L) by wrapping around (periodic boundary)."""

    _mode, _dims = "circular", 1


class CircularPad2d(_PadNd):
    """Pad (N, C, H, W) by wrapping around (periodic boundary)."""

    _mode, _dims = "circular", 2
