"""Reshaping layers: ``Flatten`` and ``Unflatten``."""

from __future__ import annotations

from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Flatten(Module):
    """Merge dims ``start_dim``..``end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Flatten()(cr.zeros(2, 1, 28, 28)).shape
    chainrule.Size([2, 784])
    >>> nn.Flatten(0, 1)(cr.zeros(2, 3, 4)).shape
    chainrule.Size([6, 4])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: (N, 784) -> (N, 1, 28, 28).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Unflatten(1, (1, 28, 28))(cr.zeros(2, 784)).shape
    chainrule.Size([2, 1, 28, 28])
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
