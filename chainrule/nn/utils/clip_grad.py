"""Gradient clipping, in place on the ``.grad`` of parameters."""

from __future__ import annotations

import math
from collections.abc import Iterable

from chainrule.backend import array_module
from chainrule.tensor import Tensor


def _grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach=None,
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The joint norm is the ``norm_type``-norm of the per-parameter norms (as
    if all gradients were one vector); each gradient is multiplied by
    min(1, max_norm / (norm + 1e-6)), computed in the gradients' dtype on their
    device, as PyTorch does. Returns the norm before clipping.

    >>> import chainrule as cr
    >>> w = cr.tensor([0.0, 0.0], requires_grad=True)
    >>> (w * cr.tensor([3.0, 4.0])).sum().backward()
    >>> cr.nn.utils.clip_grad_norm_([w], max_norm=1.0)
    tensor(5., shape=(), dtype=float32)
    >>> w.grad
    tensor([0.6, 0.8], shape=(2,), dtype=float32)
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(0.0)
    xp = array_module(grads[0]._data)
    if norm_type == math.inf:
        norms = [xp.abs(g._data).max() if g.numel() else xp.asarray(0.0) for g in grads]
        total = xp.max(xp.stack(norms))
    else:
        norms = [(xp.abs(g._data) ** norm_type).sum() for g in grads]
        total = xp.sum(xp.stack(norms)) ** (1.0 / norm_type)
    total = xp.asarray(total, dtype=grads[0].dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} for gradients is non-finite, so it cannot be "
            "clipped. Pass error_if_nonfinite=False to clip anyway"
        )
    # min(1, max_norm / (norm + 1e-6)) stays a device scalar: clipping needs no host round trip.
    scale = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        g._data *= scale
        g._version += 1
    return Tensor._wrap(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place.

    >>> import chainrule as cr
    >>> w = cr.tensor([0.0, 0.0], requires_grad=True)
    >>> (w * cr.tensor([-3.0, 0.5])).sum().backward()
    >>> cr.nn.utils.clip_grad_value_([w], clip_value=1.0)
    >>> w.grad
    tensor([-1. ,  0.5], shape=(2,), dtype=float32)
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        array_module(g._data).clip(g._data, -clip_value, clip_value, out=g._data)
        g._version += 1
