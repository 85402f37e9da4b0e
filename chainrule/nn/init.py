"""Weight initialisation, in place and outside the graph, drawing from chainrule's generator.

Each function fills its tensor and returns it; ``cr.manual_seed(n)`` makes the
draws reproducible. The scaled schemes keep activations' variance steady
through depth:

    xavier (Glorot):   std = gain * sqrt(2 / (fan_in + fan_out))
    kaiming (He):      std = gain / sqrt(fan)    fan = fan_in or fan_out (``mode``)

A uniform draw on [-b, b] has std b / sqrt(3), so the uniform variants use
b = sqrt(3) * std. ``fan_in`` of a weight (out, in, *kernel) is in * prod(kernel).
"""

from __future__ import annotations

import math
import warnings

from chainrule import random
from chainrule.autograd.grad_mode import no_grad
from chainrule.ops.creation import eye
from chainrule.tensor import Tensor

_LINEAR_GAIN = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps a nonlinearity's output variance at its input's: tanh 5/3, relu sqrt(2), ...

    >>> from chainrule.nn import init
    >>> init.calculate_gain("tanh"), round(init.calculate_gain("relu") ** 2, 6), init.calculate_gain("linear")
    (1.6666666666666667, 2.0, 1)
    """
    if nonlinearity in _LINEAR_GAIN or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {tensor.shape})"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, array) -> Tensor:
    with no_grad():
        tensor.copy_(array)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from U(a, b).

    In place, outside the graph; returns the tensor.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> w = init.uniform_(cr.empty(1000), -2.0, 2.0)
    >>> w.min().item() >= -2.0, w.max().item() < 2.0
    (True, True)
    """
    return _fill(tensor, random.uniform(tensor.shape, a, b, tensor.dtype, tensor.device, generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from N(mean, std^2).

    In place, outside the graph; returns the tensor.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> _ = cr.manual_seed(0)
    >>> w = init.normal_(cr.empty(10000), mean=3.0, std=0.5)
    >>> round(w.mean().item(), 1), round(w.std().item(), 1)
    (3.0, 0.5)
    """
    return _fill(tensor, random.normal(tensor.shape, mean, std, tensor.dtype, tensor.device, generator))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` with ``val`` in place (outside the graph); returns it.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> init.constant_(cr.empty(2, 2), 0.5)
    tensor([[0.5, 0.5],
            [0.5, 0.5]], shape=(2, 2), dtype=float32)
    """
    with no_grad():
        tensor.fill_(val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with zeros in place (outside the graph); returns it.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> init.zeros_(cr.empty(3))
    tensor([0., 0., 0.], shape=(3,), dtype=float32)
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` with ones in place (outside the graph); returns it.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> init.ones_(cr.empty(3))
    tensor([1., 1., 1.], shape=(3,), dtype=float32)
    """
    return constant_(tensor, 1.0)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (a 2-d tensor).

    In place, outside the graph; returns it. A non-square matrix gets ones on its main diagonal.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> init.eye_(cr.empty(2, 3))
    tensor([[1., 0., 0.],
            [0., 1., 0.]], shape=(2, 3), dtype=float32)
    """
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape {tensor.shape}")

    return _fill(tensor, eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device)._data)


def _no_op_for_empty(tensor: Tensor) -> bool:
    if tensor.numel() == 0:
        warnings.warn("init: initializing a zero-element tensor is a no-op", stacklevel=3)
        return True
    return False


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).

    For a weight (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel). In place; returns the
    tensor.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> w = init.xavier_uniform_(cr.empty(30, 20))
    >>> w.abs().max().item() <= (6 / 50) ** 0.5
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    For a weight (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel). In place; returns the
    tensor.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> _ = cr.manual_seed(0)
    >>> w = init.xavier_normal_(cr.empty(300, 100))
    >>> round(w.var().item() * (300 + 100) / 2, 1)
    1.0
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); ``a`` is the leaky_relu slope of the gain.

    ``fan`` is fan_in (``mode='fan_in'``) or fan_out. In place; returns the tensor.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> w = init.kaiming_uniform_(cr.empty(100, 50), nonlinearity="relu")
    >>> w.abs().max().item() <= (2 ** 0.5) * (3 / 50) ** 0.5
    True
    """
    if _no_op_for_empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan).

    ``fan`` is fan_in (``mode='fan_in'``) or fan_out; for a weight (out, in, *kernel), fan_in = in * prod(kernel). In
    place; returns the tensor.

    >>> import chainrule as cr
    >>> from chainrule.nn import init
    >>> _ = cr.manual_seed(0)
    >>> w = init.kaiming_normal_(cr.empty(400, 200), nonlinearity="relu")
    >>> round(w.std().item() ** 2 * 200, 1)
    2.0
    """
    if _no_op_for_empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


__all__ = [
    "calculate_gain",
    "constant_",
    "eye_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def default_layer_init_(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default for Linear and Conv layers: kaiming_uniform_(a=sqrt(5)) weights,
    biases uniform in +-1/sqrt(fan_in)."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
