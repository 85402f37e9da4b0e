"""Batch normalization as fused primitives: one op in training mode, one per-channel affine op in evaluation.

Over x (N, C, *S), with ``M = N * prod(S)`` values per channel and the
per-channel statistics taken over every dim but C::

    training   mean = sum(x) / M,   var = sum((x - mean)^2) / M   (biased)
               xhat = (x - mean) invstd,   invstd = 1 / sqrt(var + eps)
               y = w xhat + b
    gradient   dx = w invstd (dy - sum(dy) / M - xhat sum(dy xhat) / M)
               dw = sum(dy xhat),   db = sum(dy)
    evaluation y = x scale + shift,  scale = w / sqrt(running_var + eps),  shift = b - running_mean scale

``BatchNorm`` computes the training forward in three passes over x (centre,
square-sum, scale-and-shift in one output buffer) and updates the running
statistics in place, as PyTorch's kernel does; its backward is the closed form
above, a few in-place passes over one buffer (on a device, each run of
elementwise steps is one fused kernel instead). With ``create_graph=True`` the
backward differentiates ``composed_batch_norm`` (the same function from tensor
ops) instead, so gradients of any order exist. ``ChannelAffine`` is the
evaluation form: ``scale`` and ``shift`` are (C,) tensors computed from the
parameters by the caller, so their gradients reach ``w`` and ``b`` through
ordinary ops.

Memory: ``BatchNorm`` keeps its input and two (C,) vectors until backward.
"""

from __future__ import annotations

from chainrule.autograd.engine import grad as autograd_grad
from chainrule.autograd.function import Op
from chainrule.autograd.grad_mode import GradMode
from chainrule.backend import array_module, library_of
from chainrule.ops.elementwise import rsqrt
from chainrule.ops.norm import affine_normalized, difference_times, normalized_gradient
from chainrule.ops.shape import Reshape
from chainrule.tensor import Tensor


def channel_shape(ndim: int, channels: int) -> tuple[int, ...]:
    """(1, C, 1, ...): a per-channel vector broadcast against an (N, C, *S) array of ``ndim`` dims."""
    return (1, channels) + (1,) * (ndim - 2)


def _rows(x):
    """x (N, C, *S) as a view (N, C, L): the per-channel values of each sample in one row."""
    return x.reshape(x.shape[0], x.shape[1], -1)


def _channel_dot(a, b):
    """sum over N and L of a * b for (N, C, L) arrays: (C,), without a temporary of a's size."""
    return array_module(a).einsum("ncl,ncl->c", a, b)


def composed_batch_norm(x: Tensor, weight, bias, eps: float) -> Tensor:
    """Training-mode batch normalization from elementary tensor ops (the reference of ``BatchNorm``)."""
    dims = (0, *range(2, x.ndim))
    shape = channel_shape(x.ndim, x.shape[1])
    mean = x.mean(dims, keepdim=True)
    variance = x.var(dims, unbiased=False, keepdim=True)
    output = (x - mean) * rsqrt(variance + eps)
    if weight is not None:
        output = output * weight.reshape(shape)
    if bias is not None:
        output = output + bias.reshape(shape)
    return output


class BatchNorm(Op):
    """Training-mode ``y = w (x - mean) / sqrt(var + eps) + b`` per channel: x (N, C, *S), w, b (C,) or None.

    ``running`` is None or the pair (running_mean, running_var) of (C,) arrays
    (either may be None), each updated in place: ``running = (1 - momentum) running + momentum stat``, with the
    unbiased variance ``var M / (M - 1)``.
    """

    name = "batch_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, eps, running=None, momentum=0.1):
        library = library_of(x)
        xp = library.xp
        channels = x.shape[1]
        count = x.size // channels
        rows = _rows(x)
        mean = rows.sum(axis=(0, 2)) / count
        output = xp.empty(x.shape, x.dtype)
        centered = _rows(output)
        xp.subtract(rows, mean[:, None], out=centered)
        variance = _channel_dot(centered, centered) / count
        invstd = 1 / xp.sqrt(variance + eps)
        if library.in_place_chains:
            centered *= (invstd if weight is None else weight * invstd)[:, None]
            if bias is not None:
                centered += bias[:, None]
        else:  # one fused pass from x instead of two over the output
            affine = (1.0 if weight is None else weight[:, None], 0.0 if bias is None else bias[:, None])
            output = library.fused(affine_normalized)(rows, mean[:, None], invstd[:, None], *affine).reshape(x.shape)
        running_mean, running_var = (None, None) if running is None else running
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * count / (count - 1)) * variance
        ctx.eps, ctx.mean, ctx.invstd = eps, mean, invstd
        ctx.save_for_backward(x, weight, bias)
        return output

    @staticmethod
    def backward(ctx, grad):
        if GradMode.enabled:  # create_graph=True: the gradient must itself have a graph
            return _differentiable_backward(ctx, grad)
        x, weight, _ = (None if value is None else value._data for value in ctx.saved_tensors)
        need_x, need_weight, need_bias = ctx.needs_input_grad
        grad = grad._data
        library = library_of(x)
        xp = library.xp
        count = x.size // x.shape[1]
        dy = _rows(grad)
        if library.in_place_chains:
            xhat = xp.subtract(_rows(x), ctx.mean[:, None], out=xp.empty(dy.shape, x.dtype))
            xhat *= ctx.invstd[:, None]
        else:
            xhat = library.fused(difference_times)(_rows(x), ctx.mean[:, None], ctx.invstd[:, None])
        sum_dy = dy.sum(axis=(0, 2))
        sum_dy_xhat = _channel_dot(dy, xhat)
        grad_x = None
        if need_x:
            factor = (ctx.invstd if weight is None else weight * ctx.invstd)[:, None]
            grad_x = _input_gradient(
                library, dy, xhat, (sum_dy / count)[:, None], (sum_dy_xhat / count)[:, None], factor
            )
            grad_x = Tensor._wrap(grad_x.reshape(x.shape))
        grad_weight = Tensor._wrap(sum_dy_xhat) if need_weight else None
        grad_bias = Tensor._wrap(sum_dy) if need_bias else None
        return grad_x, grad_weight, grad_bias


def _input_gradient(library, dy, xhat, mean_dy, mean_dy_xhat, factor):
    """dx = w invstd (dy - sum(dy) / M - xhat sum(dy xhat) / M) for (N, C, L) arrays; on the host in xhat's buffer."""
    if not library.in_place_chains:
        return library.fused(normalized_gradient)(dy, mean_dy, xhat, mean_dy_xhat, factor)
    grad_x = xhat
    grad_x *= -mean_dy_xhat
    grad_x += dy
    grad_x -= mean_dy
    grad_x *= factor
    return grad_x


def _differentiable_backward(ctx, grad):
    """The vector-Jacobian product with a graph: differentiate ``composed_batch_norm`` at the saved inputs.

    Each input that needs a gradient is aliased by an identity node first, so
    the inner ``autograd.grad`` stops there instead of walking into the inputs' history.
    """
    needs = ctx.needs_input_grad
    aliases = [
        Reshape.apply(value, shape=value.shape) if need else value for value, need in zip(ctx.saved_tensors, needs)
    ]
    output = composed_batch_norm(*aliases, ctx.eps)
    wanted = [alias for alias, need in zip(aliases, needs) if need]
    found = iter(autograd_grad(output, wanted, grad, create_graph=True, allow_unused=True))
    return tuple(next(found) if need else None for need in needs)


def _scaled_shifted(library):
    """The elementwise kernel x scale + shift."""

    def scaled_shifted(x, scale, shift):
        return x * scale + shift

    return scaled_shifted


class ChannelAffine(Op):
    """``y = x scale + shift`` per channel: x (N, C, *S), scale and shift (C,) -> (N, C, *S), one output buffer."""

    name = "channel_affine"

    @staticmethod
    def forward(ctx, x, scale, shift):
        library = library_of(x)
        xp = library.xp
        ctx.save_for_backward(x, scale)
        shape = channel_shape(x.ndim, x.shape[1])
        if not library.in_place_chains:
            return library.fused(_scaled_shifted)(x, scale.reshape(shape), shift.reshape(shape))
        output = xp.multiply(x, scale.reshape(shape), out=xp.empty(x.shape, x.dtype))
        output += shift.reshape(shape)
        return output

    @staticmethod
    def backward(ctx, grad):
        x, scale = ctx.saved_tensors
        need_x, need_scale, need_shift = ctx.needs_input_grad
        dims = (0, *range(2, grad.ndim))
        grad_x = grad * scale.reshape(channel_shape(grad.ndim, grad.shape[1])) if need_x else None
        grad_scale = (grad * x).sum(dim=dims) if need_scale else None
        grad_shift = grad.sum(dim=dims) if need_shift else None
        return grad_x, grad_scale, grad_shift
