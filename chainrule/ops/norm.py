"""Layer normalization as one fused op: forward and gradient each a few passes over the rows.

Each row x of length D (the trailing ``normalized_shape`` dims, flattened) is
standardized and then scaled and shifted::

    mu = mean(x),  r = 1 / sqrt(mean((x - mu)^2) + eps),  xhat = (x - mu) r
    y = xhat * w + b

Backprop recipe (``g`` the gradient of y, means taken along the row)::

    gw    = g * w
    dL/dx = r (gw - mean(gw) - xhat mean(gw xhat))
    dL/dw = sum over rows of g xhat,   dL/db = sum over rows of g

The forward saves only the per-row mu and r (two numbers a row, as PyTorch),
and the backward recomputes xhat from x. Without ``create_graph`` the gradient
is computed on arrays, with in-place buffers on the host and one fused kernel
per elementwise step on a device; with it, the same formula runs as Tensor ops,
so the gradient can be differentiated again to any order.
"""

from __future__ import annotations

from chainrule.autograd.function import Op
from chainrule.autograd.grad_mode import GradMode
from chainrule.backend import array_module, library_of
from chainrule.ops.elementwise import rsqrt
from chainrule.ops.shape import sum_to_shape
from chainrule.tensor import Tensor


def row_sums(rows):
    """Sums of the rows of a (R, D) array as (R, 1): a matrix-vector product, far cheaper than ``sum(axis=1)``."""
    return (rows @ array_module(rows).ones(rows.shape[1], dtype=rows.dtype))[:, None]


# On a device the elementwise steps run fused (``ArrayLibrary.fused``): one kernel each where the host
# makes several in-place passes.


def difference_times(library):
    """The elementwise kernel (a - b) * factor."""

    def difference_times(a, b, factor):
        return (a - b) * factor

    return difference_times


def affine_normalized(library):
    """The elementwise kernel (x - mean) rstd w + b."""

    def affine_normalized(x, mean, rstd, weight, bias):
        return ((x - mean) * rstd * weight + bias).astype(x.dtype, copy=False)

    return affine_normalized


def normalized_gradient(library):
    """The elementwise kernel (gw - mean(gw) - xhat mean(gw xhat)) rstd: a normalization's input gradient."""

    def normalized_gradient(gw, mean_gw, xhat, mean_gw_xhat, rstd):
        return (gw - mean_gw - xhat * mean_gw_xhat) * rstd

    return normalized_gradient


def _row_statistics(rows, eps: float):
    """(mean, rstd) of (R, D) rows, each (R, 1), with the biased variance: for a device, no in-place passes."""
    xp = array_module(rows)
    mean = row_sums(rows) / rows.shape[1]
    centered = rows - mean
    variance = xp.einsum("ij,ij->i", centered, centered)[:, None] / rows.shape[1]
    return mean, 1.0 / xp.sqrt(variance + eps)


def _standardize_rows(rows, eps: float):
    """(xhat, mean, rstd) of (R, D) rows: xhat a new array, mean and rstd (R, 1), with the biased variance."""
    xp = array_module(rows)
    width = rows.shape[1]
    mean = row_sums(rows)
    mean /= width
    xhat = rows - mean
    variance = xp.einsum("ij,ij->i", xhat, xhat)[:, None]
    variance /= width
    variance += eps
    rstd = xp.divide(1.0, xp.sqrt(variance, out=variance), out=variance)
    xhat *= rstd
    return xhat, mean, rstd


class LayerNorm(Op):
    """y = (x - mean) / sqrt(var + eps) * w + b over the last ``count`` dims; ``w`` and ``b`` may be None."""

    name = "layer_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, count, eps):
        ctx.count, ctx.eps = count, eps
        rows = x.reshape(-1, _row_width(x.shape, count))
        ctx.save_for_backward(x, weight, bias)
        library = library_of(x)
        if not library.in_place_chains:
            ctx.mean, ctx.rstd = _row_statistics(rows, eps)
            affine = (1.0 if weight is None else weight.reshape(-1), 0.0 if bias is None else bias.reshape(-1))
            return library.fused(affine_normalized)(rows, ctx.mean, ctx.rstd, *affine).reshape(x.shape)
        y, ctx.mean, ctx.rstd = _standardize_rows(rows, eps)  # (R, 1) statistics: small, kept on the node
        if weight is not None:
            y *= weight.reshape(-1)
        if bias is not None:
            y += bias.reshape(-1)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x, weight, bias = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if GradMode.enabled:  # the gradient's graph is being recorded: Tensor ops
            dims = tuple(range(x.ndim - ctx.count, x.ndim))
            return _composed_gradients(grad, x, weight, bias, dims, ctx.eps, needs)
        return tuple(
            None if gradient is None else Tensor._wrap(gradient)
            for gradient in _fused_gradients(grad._data, x._data, _data(weight), ctx.mean, ctx.rstd, ctx.count, needs)
        )


def _data(tensor):
    return None if tensor is None else tensor._data


def _row_width(shape: tuple[int, ...], count: int) -> int:
    width = 1
    for size in shape[len(shape) - count :]:
        width *= size
    return width


def _fused_gradients(grad, x, weight, mean, rstd, count: int, needs):
    """(dL/dx, dL/dw, dL/db) on arrays: the recipe of the module docstring (in-place buffers on the host)."""
    library = library_of(x)
    xp = library.xp
    width = _row_width(x.shape, count)
    normalized_shape = x.shape[x.ndim - count :]
    g = xp.ascontiguousarray(grad).reshape(-1, width)  # a broadcast gradient (of a sum) would defeat BLAS
    if library.in_place_chains:
        xhat = x.reshape(-1, width) - mean
        xhat *= rstd
    else:
        xhat = library.fused(difference_times)(x.reshape(-1, width), mean, rstd)
    grad_x = grad_weight = grad_bias = None
    if needs[1]:
        grad_weight = xp.einsum("ij,ij->j", g, xhat).reshape(normalized_shape)
    if needs[2]:
        grad_bias = (xp.ones(g.shape[0], dtype=g.dtype) @ g).reshape(normalized_shape)
    if needs[0]:
        gw = g * weight.reshape(-1) if weight is not None else g.copy()
        mean_gw = row_sums(gw)
        mean_gw /= width
        mean_gw_xhat = xp.einsum("ij,ij->i", gw, xhat)[:, None]
        mean_gw_xhat /= width
        grad_x = _input_gradient(library, gw, mean_gw, xhat, mean_gw_xhat, rstd).reshape(x.shape)
    return grad_x, grad_weight, grad_bias


def _input_gradient(library, gw, mean_gw, xhat, mean_gw_xhat, rstd):
    """r (gw - mean(gw) - xhat mean(gw xhat)): on the host in gw's buffer (xhat's is overwritten)."""
    if not library.in_place_chains:
        return library.fused(normalized_gradient)(gw, mean_gw, xhat, mean_gw_xhat, rstd)
    gw -= mean_gw
    xhat *= mean_gw_xhat
    gw -= xhat
    gw *= rstd
    return gw


def _composed_gradients(grad: Tensor, x: Tensor, weight, bias, dims: tuple[int, ...], eps: float, needs):
    """The same gradients as Tensor ops (differentiable), recomputing xhat from x."""
    centered = x - x.mean(dims, keepdim=True)
    rstd = rsqrt((centered * centered).mean(dims, keepdim=True) + eps)
    xhat = centered * rstd
    grad_x = grad_weight = grad_bias = None
    if needs[0]:
        gw = grad * weight if weight is not None else grad
        grad_x = (gw - gw.mean(dims, keepdim=True) - xhat * (gw * xhat).mean(dims, keepdim=True)) * rstd
    if needs[1]:
        grad_weight = sum_to_shape(grad * xhat, weight.shape)
    if needs[2]:
        grad_bias = sum_to_shape(grad, bias.shape)
    return grad_x, grad_weight, grad_bias


def layer_norm(input: Tensor, count: int, weight: Tensor | None, bias: Tensor | None, eps: float) -> Tensor:
    """Layer normalization of ``input`` over its last ``count`` dims; ``weight`` and ``bias`` have their shape."""
    if input.dtype.kind != "f":
        raise TypeError(f"layer_norm: expected a floating-point input, got {input.dtype}")
    normalized_shape = tuple(input.shape[input.ndim - count :])
    for name, parameter in (("weight", weight), ("bias", bias)):
        if parameter is None:
            continue
        if tuple(parameter.shape) != normalized_shape:
            raise RuntimeError(
                f"layer_norm: expected {name} of shape normalized_shape {normalized_shape}, got {tuple(parameter.shape)}"
            )
        if parameter.dtype != input.dtype:
            raise RuntimeError(f"layer_norm: {name} ({parameter.dtype}) must have the input's dtype ({input.dtype})")
    return LayerNorm.apply(input, weight, bias, count=count, eps=eps)
