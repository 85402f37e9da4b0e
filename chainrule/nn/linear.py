"""Affine layers: ``Identity``, ``Linear``, ``Bilinear``."""

from __future__ import annotations

import math

from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import empty_parameter
from chainrule.tensor import Tensor


class Identity(Module):
    """Returns its input; the constructor accepts and ignores any arguments.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Identity(54, unused="argument")(cr.tensor([1.0, 2.0]))
    tensor([1., 2.], shape=(2,), dtype=float32)
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b for x: (*, in_features) and y: (*, out_features).

    ``weight`` (out_features, in_features) and ``bias`` (out_features,) are
    drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)), as PyTorch's
    (``kaiming_uniform_`` with a = sqrt(5)).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer = nn.Linear(784, 10)
    >>> layer.weight.shape, layer.bias.shape, layer(cr.zeros(32, 784)).shape
    (chainrule.Size([10, 784]), chainrule.Size([10]), chainrule.Size([32, 10]))
    >>> with cr.no_grad():
    ...     _ = layer.weight.fill_(1.0), layer.bias.fill_(0.5)
    >>> layer(cr.ones(1, 784))[0, :2]
    tensor([784.5, 784.5], shape=(2,), dtype=float32, grad_fn=<IndexBackward>)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = empty_parameter((out_features, in_features), device, dtype)
        if bias:
            self.bias = empty_parameter((out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise RuntimeError(
                f"{self!r}: input of shape {tuple(input.shape)} has {input.shape[-1] if input.ndim else 0} features "
                f"in its last dim, but the layer expects in_features={self.in_features} "
                f"(weight of shape {tuple(self.weight.shape)})"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x1^T A_k x2 + b_k for x1: (*, in1_features), x2: (*, in2_features).

    ``weight`` (out_features, in1_features, in2_features) and ``bias``
    (out_features,) are drawn from U(-1/sqrt(in1_features), 1/sqrt(in1_features)).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Bilinear(3, 4, 5)(cr.zeros(2, 3), cr.zeros(2, 4)).shape
    chainrule.Size([2, 5])
    """

    def __init__(
        self, in1_features: int, in2_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = empty_parameter((out_features, in1_features, in2_features), device, dtype)
        if bias:
            self.bias = empty_parameter((out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
