"""Scaled dot-product attention as one fused op.

For queries Q (..., L, E), keys K (..., S, E), values V (..., S, E_v), an
additive mask M broadcasting against (..., L, S) (0 allowed, -inf masked) and
an optional dropout keep-mask D scaled by 1 / (1 - p)::

    P = softmax(Q K^T s + M)        (..., L, S), rows summing to 1; a row masked entirely is all zeros
    A = P * D                       (A = P without dropout)
    O = A V                         (..., L, E_v)

Backprop recipe (G the gradient of O)::

    dV = A^T G
    dP = (G V^T) * D
    dS = P (dP - sum_j(dP P)) s     (softmax's vector-Jacobian product, times the scale)
    dQ = dS K,   dK = dS^T Q

One node replaces the matmuls, scale, mask, softmax and dropout of the composed
form, and its gradient works in place on the (L, S) buffers. The forward saves
P (and the dropout mask), as the composed form would. With ``create_graph``
the backward recomputes P from Q and K with Tensor ops and applies the same
recipe, so the gradient is itself differentiable.
"""

from __future__ import annotations

from chainrule.autograd.function import Op
from chainrule.autograd.grad_mode import GradMode
from chainrule.backend import library_of
from chainrule.ops.activation import _dot_along, _exp_shifted, _sum_along, softmax
from chainrule.ops.dropout import masked_scale
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor


def _swap(a):
    return a.swapaxes(-1, -2)


# On the host the elementwise steps are in-place passes over the (..., L, S) buffers; on a device they
# run fused (``ArrayLibrary.fused``), one kernel between each pair of reductions or matmuls.


def _scaled_masked(library):
    def scaled_masked(scores, scale, mask):
        return (scores * scale + mask).astype(scores.dtype, copy=False)

    return scaled_masked


def _scaled_softmax_vjp(library):
    def scaled_softmax_vjp(d_probs, dot, probs, scale):
        return ((d_probs - dot) * probs * scale).astype(probs.dtype, copy=False)

    return scaled_softmax_vjp


def _scores(q, k, mask, scale: float):
    """Q K^T s + M on arrays (M may be None)."""
    library = library_of(q)
    scores = q @ _swap(k)
    if not library.in_place_chains:
        return library.fused(_scaled_masked)(scores, scale, 0.0 if mask is None else mask)
    scores *= scale
    if mask is not None:
        scores += mask
    return scores


def _probabilities(q, k, mask, scale: float):
    """softmax(Q K^T s + M) on arrays; rows with no allowed key are zeros instead of NaN."""
    library = library_of(q)
    xp = library.xp
    scores = _scores(q, k, mask, scale)
    row_max = scores.max(axis=-1, keepdims=True)
    dead = xp.isneginf(row_max)
    if dead.any():
        row_max[dead] = 0.0
    if library.in_place_chains:
        scores -= row_max
        xp.exp(scores, out=scores)
    else:
        scores = library.fused(_exp_shifted)(scores, row_max)
    total = _sum_along(scores, scores.ndim - 1)
    if dead.any():
        total[dead] = 1.0
    scores /= total
    return scores


class Attention(Op):
    """softmax(Q K^T scale + mask) (dropped out by ``keep``) V; ``mask``, ``keep`` are constant arrays or None."""

    name = "scaled_dot_product_attention"

    @staticmethod
    def forward(ctx, q, k, v, mask, keep, keep_scale, scale):
        probs = _probabilities(q, k, mask, scale)
        ctx.keep_scale, ctx.scale = keep_scale, scale
        ctx.save_for_backward(q, k, v, probs, mask, keep)  # saved, so that backward frees them
        return _dropped(probs, keep, keep_scale) @ v

    @staticmethod
    def backward(ctx, grad):
        q, k, v, probs, mask, keep = ctx.saved_tensors
        constants = tuple(None if c is None else c._data for c in (probs, mask, keep))
        if GradMode.enabled:  # the gradient's graph is being recorded: Tensor ops
            return _composed_gradients(ctx, constants, grad, q, k, v) + (None, None)
        gradients = _fused_gradients(ctx, constants, grad._data, q._data, k._data, v._data, ctx.needs_input_grad)
        return tuple(None if g is None else Tensor._wrap(g) for g in gradients) + (None, None)


def _dropped(probs, keep, keep_scale: float):
    """P * D: a new array with dropout, P itself without."""
    if keep is None:
        return probs
    library = library_of(probs)
    if not library.in_place_chains:
        return library.fused(masked_scale)(probs, keep, keep_scale)
    dropped = probs * keep
    dropped *= keep_scale
    return dropped


def _fused_gradients(ctx, constants, grad, q, k, v, needs):
    """(dQ, dK, dV) on arrays, the recipe of the module docstring; ``constants`` = (P, mask, keep)."""
    probs, _, keep = constants
    grad_v = _swap(_dropped(probs, keep, ctx.keep_scale)) @ grad if needs[2] else None
    if not (needs[0] or needs[1]):
        return None, None, grad_v
    d_probs = _score_gradient(probs, keep, grad @ _swap(v), ctx.keep_scale, ctx.scale)
    grad_q = d_probs @ k if needs[0] else None
    grad_k = _swap(d_probs) @ q if needs[1] else None
    return grad_q, grad_k, grad_v


def _score_gradient(probs, keep, d_dropped, keep_scale: float, scale: float):
    """dS = P (dP - sum_j(dP P)) s with dP = (G V^T) * D, from ``d_dropped`` = G V^T (overwritten on the host)."""
    library = library_of(probs)
    if not library.in_place_chains:
        d_probs = d_dropped if keep is None else library.fused(masked_scale)(d_dropped, keep, keep_scale)
        dot = _dot_along(d_probs, probs, probs.ndim - 1)
        return library.fused(_scaled_softmax_vjp)(d_probs, dot, probs, scale)
    d_probs = d_dropped
    if keep is not None:
        d_probs *= keep
        d_probs *= keep_scale
    d_probs -= _dot_along(d_probs, probs, probs.ndim - 1)
    d_probs *= probs
    d_probs *= scale
    return d_probs


def _composed_gradients(ctx, constants, grad: Tensor, q: Tensor, k: Tensor, v: Tensor):
    """(dQ, dK, dV) with Tensor ops, P recomputed from Q and K so that every path is differentiable."""
    saved_probs, mask, keep = constants
    scores = (q @ k.transpose(-2, -1)) * ctx.scale
    if mask is not None:
        scores = scores + Tensor._wrap(mask)
    dead = saved_probs.max(axis=-1, keepdims=True) == 0  # rows with no allowed key (a live row sums to 1)
    if dead.any():
        dead = Tensor._wrap(dead)
        probs = where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))
    else:
        probs = softmax(scores, -1)
    keep = None if keep is None else Tensor._wrap((keep * ctx.keep_scale).astype(saved_probs.dtype))
    dropped = probs if keep is None else probs * keep
    grad_v = dropped.transpose(-2, -1) @ grad
    d_probs = grad @ v.transpose(-2, -1)
    if keep is not None:
        d_probs = d_probs * keep
    d_scores = probs * (d_probs - (d_probs * probs).sum(-1, keepdim=True)) * ctx.scale
    return d_scores @ k, d_scores.transpose(-2, -1) @ q, grad_v


def attention(q: Tensor, k: Tensor, v: Tensor, mask, keep, keep_scale: float, scale: float) -> Tensor:
    """The fused attention of Q, K, V (checked, same leading dims) with a constant additive ``mask`` array
    (or None) and a bool dropout ``keep`` array (or None)."""
    return Attention.apply(q, k, v, mask, keep, keep_scale=keep_scale, scale=scale)
