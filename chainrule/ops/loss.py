"""Losses as fused primitives: softmax cross-entropy on class indices, and binary cross-entropy.

Backprop recipes (``g`` is the gradient of the loss):
    cross_entropy   dL/dlogits_i = g w_i (softmax(logits_i) - onehot(t_i)) / sum_j w_j
    bce             dL/dp = g (p - y) / max(p (1 - p), 1e-12)
    bce_logits      dL/dx = g (sigmoid(x) (1 + (pw - 1) y) - pw y)

Cross-entropy is the hot path of classification training, so it runs as one op
whose forward keeps the softmax for the backward. Every backward is written
with differentiable ops, so gradient penalties and Hessian-vector products work
through the losses too.
"""

from __future__ import annotations

from chainrule.autograd.function import Op
from chainrule.backend import array_module, library_of
from chainrule.ops.activation import SoftmaxBackward, softmax
from chainrule.ops.elementwise import abs, clamp, exp, log, log1p, relu, sigmoid
from chainrule.ops.shape import sum_to_shape
from chainrule.tensor import Tensor

_LOG_FLOOR = -100.0  # PyTorch's clamp of log(p) in binary cross-entropy
_BCE_EPSILON = 1e-12  # PyTorch's floor of p (1 - p) in the BCE gradient


class CrossEntropy(Op):
    """sum_i w_i (logsumexp(x_i) - x_i[t_i]) / sum_i w_i for logits x: (M, C) and targets t: (M,).

    ``sample_weight`` w (M,) holds the class weight of t_i, and 0 where t_i is
    ignored; None means every w_i = 1. With ``mean=False`` the sum is not divided.
    """

    name = "cross_entropy"

    @staticmethod
    def forward(ctx, logits, target, sample_weight, mean):
        xp = array_module(logits)
        rows = xp.arange(logits.shape[0])
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = xp.exp(shifted)
        total = probs.sum(axis=1, keepdims=True)
        probs /= total
        target_log_prob = shifted[rows, target] - xp.log(total[:, 0])
        if sample_weight is None:  # every row counts once: the weights are one number
            # The mean of no rows is NaN, as in PyTorch.
            sample_weight = xp.asarray((1.0 / len(logits) if len(logits) else xp.nan) if mean else 1.0, logits.dtype)
            loss = -target_log_prob.sum() * sample_weight
        else:
            if mean:
                sample_weight = sample_weight / sample_weight.sum()
            loss = -(sample_weight * target_log_prob).sum()
        ctx.save_for_backward(logits, probs, target, sample_weight)
        return loss

    @staticmethod
    def backward(ctx, grad):
        logits, probs, target, sample_weight = ctx.saved_tensors
        return CrossEntropyBackward.apply(grad, logits, probs, target, sample_weight), None, None


class CrossEntropyBackward(Op):
    """g w_i (p_i - onehot(t_i)) from the saved softmax p; differentiable in g and in the logits.

    ``sample_weight`` is (M,) or a 0-d weight shared by every row.
    """

    name = "cross_entropy_backward"

    @staticmethod
    def forward(ctx, grad, logits, probs, target, sample_weight):
        ctx.save_for_backward(grad, logits, target, sample_weight)
        rows = array_module(probs).arange(probs.shape[0])
        if sample_weight.ndim == 0:
            scale = grad * sample_weight
            result = probs * scale
            result[rows, target] -= scale
            return result
        weighted = probs * sample_weight[:, None]
        weighted[rows, target] -= sample_weight
        return weighted * grad

    @staticmethod
    def backward(ctx, grad_grad):
        grad, logits, target, sample_weight = ctx.saved_tensors
        weight_column = sample_weight.unsqueeze(1) if sample_weight.ndim else sample_weight
        probs = softmax(logits, 1)  # recomputed as a tensor so the logits get their gradient
        d_grad = d_logits = None
        if ctx.needs_input_grad[0]:
            rows = array_module(target._data).arange(target.shape[0])
            d_grad = (grad_grad * probs * weight_column).sum() - (grad_grad[rows, target] * sample_weight).sum()
            d_grad = d_grad.reshape(grad.shape)
        if ctx.needs_input_grad[1]:
            d_logits = SoftmaxBackward.apply(grad_grad * weight_column * grad, probs, dim=1)
        return d_grad, d_logits, None, None, None


def cross_entropy_indices(logits: Tensor, target, sample_weight, mean: bool) -> Tensor:
    """The fused softmax cross-entropy of ``logits`` (M, C) against class indices ``target`` (M,) (an array).

    ``sample_weight`` (M,) weighs each row (0 drops it), None weighs all alike;
    ``mean`` divides by the total weight.
    """
    return CrossEntropy.apply(logits, target, sample_weight, mean=mean)


class BinaryCrossEntropy(Op):
    """-(y log p + (1 - y) log(1 - p)) elementwise, each log clamped to >= -100 as in PyTorch."""

    name = "binary_cross_entropy"

    @staticmethod
    def forward(ctx, probs, target):
        xp = array_module(probs)
        if bool(((probs < 0) | (probs > 1)).any()):
            raise ValueError("all elements of input should be between 0 and 1")
        if bool(((target < 0) | (target > 1)).any()):
            raise ValueError("all elements of target should be between 0 and 1")
        ctx.save_for_backward(probs, target)
        with library_of(probs).errstate(divide="ignore"):  # log(0) = -inf, which the clamp turns into -100
            log_p = xp.maximum(xp.log(probs), _LOG_FLOOR)
            log_not_p = xp.maximum(xp.log1p(-probs), _LOG_FLOOR)
        return -(target * log_p + (1 - target) * log_not_p)

    @staticmethod
    def backward(ctx, grad):
        probs, target = ctx.saved_tensors
        grad_probs = grad_target = None
        if ctx.needs_input_grad[0]:
            grad_probs = grad * (probs - target) / clamp(probs * (1.0 - probs), min=_BCE_EPSILON)
        if ctx.needs_input_grad[1]:
            grad_target = grad * (clamp(log1p(-probs), min=_LOG_FLOOR) - clamp(log(probs), min=_LOG_FLOOR))
        return grad_probs, grad_target


def _softplus_of_negative(x: Tensor) -> Tensor:
    """log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)), with tensor ops."""
    return relu(-x) + log1p(exp(-abs(x)))


class BinaryCrossEntropyWithLogits(Op):
    """(1 - y) x + (1 + (pw - 1) y) log(1 + exp(-x)) elementwise, never overflowing.

    Without ``pos_weight`` this is max(x, 0) - x y + log1p(exp(-|x|)).
    """

    name = "binary_cross_entropy_with_logits"

    @staticmethod
    def forward(ctx, logits, target, pos_weight):
        xp = array_module(logits)
        ctx.save_for_backward(logits, target, pos_weight)
        softplus_neg = xp.maximum(-logits, 0) + xp.log1p(xp.exp(-xp.abs(logits)))
        if pos_weight is None:
            return (1 - target) * logits + softplus_neg
        return (1 - target) * logits + (1 + (pos_weight - 1) * target) * softplus_neg

    @staticmethod
    def backward(ctx, grad):
        logits, target, pos_weight = ctx.saved_tensors
        need_logits, need_target, need_pos_weight = ctx.needs_input_grad
        grad_logits = grad_target = grad_pos_weight = None
        if pos_weight is None:
            if need_logits:
                grad_logits = grad * (sigmoid(logits) - target)
            if need_target:
                grad_target = grad * -logits
            return grad_logits, grad_target, None
        if need_logits:
            grad_logits = grad * (sigmoid(logits) * (1.0 + (pos_weight - 1.0) * target) - pos_weight * target)
        if need_target:
            grad_target = grad * ((pos_weight - 1.0) * _softplus_of_negative(logits) - logits)
        if need_pos_weight:
            grad_pos_weight = sum_to_shape(grad * target * _softplus_of_negative(logits), pos_weight.shape)
        if grad_target is not None:
            grad_target = sum_to_shape(grad_target, target.shape)
        return grad_logits, grad_target, grad_pos_weight
