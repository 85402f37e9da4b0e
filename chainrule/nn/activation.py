"""Activation functions as layers, each calling its ``chainrule.nn.functional`` form."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn import init as nn_init
from chainrule.nn.module import Module
from chainrule.nn.parameter import empty_parameter
from chainrule.tensor import Tensor


class ReLU(Module):
    """max(x, 0).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReLU()(cr.tensor([-1.0, 2.0]))
    tensor([0., 2.], shape=(2,), dtype=float32)
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x.

    Elementwise on any shape (*) -> (*); ``negative_slope`` defaults to 0.01.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.LeakyReLU(0.5)(cr.tensor([-2.0, 2.0]))
    tensor([-1.,  2.], shape=(2,), dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x where x > 0, else alpha (exp(x) - 1).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ELU()(cr.tensor([-1000.0, 2.0]))
    tensor([-1.,  2.], shape=(2,), dtype=float32)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x Phi(x), Phi the standard normal cdf; ``approximate='tanh'`` for the tanh formula.

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.GELU()(cr.tensor([0.0, 10.0]))
    tensor([ 0., 10.], shape=(2,), dtype=float32)
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.SiLU()(cr.tensor([0.0, 100.0]))
    tensor([  0., 100.], shape=(2,), dtype=float32)
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """1 / (1 + exp(-x)).

    Elementwise on any shape (*) -> (*); the gradient is ``s (1 - s)``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Sigmoid()(cr.tensor([0.0, 1000.0]))
    tensor([0.5, 1. ], shape=(2,), dtype=float32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)), elementwise on any shape (*) -> (*); the gradient is ``1 -

    tanh(x)^2``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Tanh()(cr.tensor([0.0, 100.0, -100.0]))
    tensor([ 0.,  1., -1.], shape=(3,), dtype=float32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold.

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Softplus()(cr.tensor([0.0, 30.0]))
    tensor([ 0.6931, 30.    ], shape=(2,), dtype=float32)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Probabilities along ``dim``: exp(x_i) / sum_j exp(x_j).

    Same shape as the input, each slice along ``dim`` summing to 1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Softmax(dim=1)(cr.tensor([[0.0, 0.0], [0.0, 1000.0]]))
    tensor([[0.5, 0.5],
            [0. , 1. ]], shape=(2, 2), dtype=float32)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-probabilities along ``dim``: x_i - logsumexp(x).

    Same shape as the input.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.LogSoftmax(dim=1)(cr.tensor([[0.0, 0.0]]))
    tensor([[-0.6931, -0.6931]], shape=(1, 2), dtype=float32)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Step(Module):
    """The hard threshold of the perceptron: 1 where x > 0, else 0.

    Its derivative is zero almost everywhere, so no gradient flows through it;
    with ``straight_through=True`` the backward pass treats it as the identity
    (the straight-through estimator).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Step()(cr.tensor([-1.0, 0.0, 3.0]))
    tensor([0., 0., 1.], shape=(3,), dtype=float32)
    """

    def __init__(self, straight_through: bool = False):
        super().__init__()
        self.straight_through = straight_through

    def forward(self, input: Tensor) -> Tensor:
        return F.step(input, self.straight_through)

    def extra_repr(self) -> str:
        return "straight_through=True" if self.straight_through else ""


class Sign(Module):
    """-1, 0 or 1 by the sign of x; zero gradient, or the identity with ``straight_through=True``.

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Sign()(cr.tensor([-2.0, 0.0, 3.0]))
    tensor([-1.,  0.,  1.], shape=(3,), dtype=float32)
    """

    def __init__(self, straight_through: bool = False):
        super().__init__()
        self.straight_through = straight_through

    def forward(self, input: Tensor) -> Tensor:
        return F.sign(input, self.straight_through)

    def extra_repr(self) -> str:
        return "straight_through=True" if self.straight_through else ""


class _Activation(Module):
    """An activation whose options (attributes named in ``_options``) follow the input into its F function."""

    _function: str
    _options: tuple[str, ...] = ()

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, self._function)(input, *(getattr(self, name) for name in self._options))

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)}" for name in self._options)


class Hardtanh(_Activation):
    """x clipped to [min_val, max_val].

    Elementwise on any shape (*) -> (*); defaults [-1, 1].

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Hardtanh()(cr.tensor([-3.0, 0.5, 3.0]))
    tensor([-1. ,  0.5,  1. ], shape=(3,), dtype=float32)
    """

    _function, _options = "hardtanh", ("min_val", "max_val")

    def __init__(
        self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, min_value=None, max_value=None
    ):
        super().__init__()
        self.min_val = min_val if min_value is None else min_value
        self.max_val = max_val if max_value is None else max_value
        if self.min_val > self.max_val:
            raise ValueError(f"Hardtanh: min_val ({self.min_val}) cannot be greater than max_val ({self.max_val})")
        self.inplace = inplace


class ReLU6(Hardtanh):
    """min(max(x, 0), 6).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.ReLU6()(cr.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.], shape=(3,), dtype=float32)
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class PReLU(Module):
    """x where x > 0, else a x, with ``num_parameters`` learned slopes (1, or one per channel), all ``init`` at first.

    Input (N, C, *) with C = ``num_parameters`` (or any shape with one slope); the output has its shape.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.PReLU(init=0.5)(cr.tensor([-2.0, 4.0]))
    tensor([-1.,  4.], shape=(2,), dtype=float32, grad_fn=<WhereBackward>)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = empty_parameter((num_parameters,), device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn_init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class _InplaceActivation(_Activation):
    """An activation with no options but PyTorch's ignored ``inplace`` flag."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Mish(_InplaceActivation):
    """x tanh(softplus(x)).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Mish()(cr.tensor([0.0, 20.0]))
    tensor([ 0., 20.], shape=(2,), dtype=float32)
    """

    _function = "mish"


class Hardswish(_InplaceActivation):
    """x relu6(x + 3) / 6.

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Hardswish()(cr.tensor([-4.0, 1.0, 4.0]))
    tensor([0.    , 0.6667, 4.    ], shape=(3,), dtype=float32)
    """

    _function = "hardswish"


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6.

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Hardsigmoid()(cr.tensor([-4.0, 1.5, 4.0]))
    tensor([0.  , 0.75, 1.  ], shape=(3,), dtype=float32)
    """

    _function = "hardsigmoid"


class SELU(_InplaceActivation):
    """scale elu(x, alpha), scale = 1.0507..., alpha = 1.6733... (self-normalising).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.SELU()(cr.tensor([0.0, 1.0]))
    tensor([0.    , 1.0507], shape=(2,), dtype=float32)
    """

    _function = "selu"


class Softsign(_Activation):
    """x / (1 + |x|).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Softsign()(cr.tensor([-3.0, 1.0]))
    tensor([-0.75,  0.5 ], shape=(2,), dtype=float32)
    """

    _function = "softsign"


class Tanhshrink(_Activation):
    """x - tanh(x).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Tanhshrink()(cr.tensor([0.0, 100.0]))
    tensor([ 0., 99.], shape=(2,), dtype=float32)
    """

    _function = "tanhshrink"


class LogSigmoid(_Activation):
    """log sigmoid(x) = -softplus(-x).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.LogSigmoid()(cr.tensor([0.0]))
    tensor([-0.6931], shape=(1,), dtype=float32)
    """

    _function = "logsigmoid"


class Threshold(_Activation):
    """x where x > threshold, else value.

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Threshold(1.0, -9.0)(cr.tensor([0.5, 2.0]))
    tensor([-9.,  2.], shape=(2,), dtype=float32)
    """

    _function, _options = "threshold", ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace


class Softmin(_Activation):
    """softmax(-x) along ``dim``.

    Same shape as the input, each slice along ``dim`` summing to 1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Softmin(dim=0)(cr.tensor([0.0, 1000.0]))
    tensor([1., 0.], shape=(2,), dtype=float32)
    """

    _function, _options = "softmin", ("dim",)

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim


class GLU(_Activation):
    """a sigmoid(b) for the halves a, b of the input along ``dim``: (*, 2n, *) -> (*, n, *).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.GLU()(cr.tensor([[2.0, 4.0, 0.0, 1000.0]]))
    tensor([[1., 4.]], shape=(1, 2), dtype=float32)
    """

    _function, _options = "glu", ("dim",)

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim


class CELU(_Activation):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)).

    Elementwise on any shape (*) -> (*).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CELU(alpha=2.0)(cr.tensor([-1000.0, 2.0]))
    tensor([-2.,  2.], shape=(2,), dtype=float32)
    """

    _function, _options = "celu", ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace


class Hardshrink(_Activation):
    """x where |x| > lambd, else 0.

    Elementwise on any shape (*) -> (*); ``lambd`` defaults to 0.5.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Hardshrink()(cr.tensor([-1.0, 0.25]))
    tensor([-1.,  0.], shape=(2,), dtype=float32)
    """

    _function, _options = "hardshrink", ("lambd",)

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd


class Softshrink(_Activation):
    """x - lambd above lambd, x + lambd below -lambd, else 0.

    Elementwise on any shape (*) -> (*); ``lambd`` defaults to 0.5.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Softshrink()(cr.tensor([-1.0, 0.25, 0.75]))
    tensor([-0.5 ,  0.  ,  0.25], shape=(3,), dtype=float32)
    """

    _function, _options = "softshrink", ("lambd",)

    def __init__(self, lambd: float = 0.5):
        super().__init__()
        self.lambd = lambd


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W), at every pixel.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Softmax2d()(cr.zeros(1, 4, 2, 2))[0, :, 0, 0]
    tensor([0.25, 0.25, 0.25, 0.25], shape=(4,), dtype=float32)
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected an input of 3 or 4 dims (N, C, H, W), got shape {input.shape}")
        return F.softmax(input, -3)
