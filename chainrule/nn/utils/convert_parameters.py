"""Flattening parameters into one vector and back (for second-order methods and weight averaging)."""

from __future__ import annotations

from collections.abc import Iterable

from chainrule.autograd.grad_mode import no_grad
from chainrule.ops.shape import cat
from chainrule.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated, in order, as one differentiable 1-d tensor.

    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 2)
    >>> cr.nn.utils.parameters_to_vector(layer.parameters()).shape
    chainrule.Size([8])
    """
    flat = [p.reshape(-1) for p in parameters]
    if not flat:
        raise ValueError("parameters_to_vector: no parameters given")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters, in order (in place).

    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(2, 1)
    >>> cr.nn.utils.vector_to_parameters(cr.tensor([1.0, 2.0, 3.0]), layer.parameters())
    >>> layer.weight.data, layer.bias.data
    (tensor([[1., 2.]], shape=(1, 2), dtype=float32), tensor([3.], shape=(1,), dtype=float32))
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-d vector, got shape {vec.shape}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if total != vec.numel():
        raise ValueError(f"vector_to_parameters: vector of {vec.numel()} elements for parameters of {total} elements")
    offset = 0
    with no_grad():
        for param in parameters:
            count = param.numel()
            param.copy_(vec._data[offset : offset + count].reshape(param.shape))
            offset += count
