"""Functional forms of the layers, activations and losses (``cr.nn.functional``, imported as ``F``).

Each function takes its weights as arguments (``F.linear(x, weight, bias)``)
and has PyTorch's name, argument names and defaults; the ``nn`` layer classes
hold the weights and call these. The convolution and pooling functions
(``conv2d``, ``max_pool2d``, ...) live in ``chainrule.ops.conv`` and
``chainrule.ops.pool`` and are reachable here under the same names.
"""

from __future__ import annotations

import importlib
import math
import warnings

from chainrule.autograd.naming import public_name
from chainrule.backend import array_module
from chainrule.ops import batch_norm as _batch_norm
from chainrule.ops import dropout as _dropout
from chainrule.ops import indexing, linalg
from chainrule.ops import norm as _norm
from chainrule.ops.activation import elu, gelu, leaky_relu, log_softmax, silu, softmax, softplus, step
from chainrule.ops.elementwise import abs, clamp, exp, log, log1p, minimum, rsqrt, sigmoid, sign, tanh, to_dtype, where
from chainrule.ops.elementwise import relu as _relu
from chainrule.ops.indexing import gather
from chainrule.ops.linalg import einsum
from chainrule.ops.loss import BinaryCrossEntropy, BinaryCrossEntropyWithLogits, cross_entropy_indices
from chainrule.ops.reduce import norm
from chainrule.ops.resample import (
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
)
from chainrule.ops.shape import pad
from chainrule.tensor import Tensor

__all__ = [
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "alpha_dropout",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "elu",
    "embedding",
    "gaussian_nll_loss",
    "gelu",
    "glu",
    "group_norm",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hinge_embedding_loss",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "margin_ranking_loss",
    "mish",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "sign",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "step",
    "tanh",
    "tanhshrink",
    "threshold",
    "triplet_margin_loss",
]


def __getattr__(name: str):
    """``F.conv2d``, ``F.max_pool2d``, ...: the functions of ``chainrule.ops.conv`` and ``chainrule.ops.pool``,
    and ``F.scaled_dot_product_attention`` from ``chainrule.nn.attention`` (imported late: it imports this module)."""
    if name == "scaled_dot_product_attention":
        return importlib.import_module("chainrule.nn.attention").scaled_dot_product_attention
    family = "conv" if name.startswith("conv") else "pool" if "pool" in name else None
    if family is not None:
        module = importlib.import_module(f"chainrule.ops.{family}")
        if hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module 'chainrule.nn.functional' has no attribute '{name}'")


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0).

    Same shape and dtype as ``input``; the gradient is ``1[x > 0]``. ``inplace`` is accepted (a new tensor is returned).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.relu(cr.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 2.], shape=(3,), dtype=float32)
    """
    return _relu(input)


# --------------------------------------------------------------------------- linear layers
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x W^T + b for x: (*, in_features), W: (out_features, in_features), b: (out_features,).

    Returns (*, out_features).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.tensor([[1.0, 2.0]])
    >>> F.linear(x, cr.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]]), cr.tensor([0.0, 0.5, 1.0]))
    tensor([[ 1. ,  3.5, -1. ]], shape=(1, 3), dtype=float32)
    """
    if weight.ndim != 2:
        raise RuntimeError(f"linear: weight must be a matrix (out_features, in_features), got shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"linear: input of shape {input.shape} does not fit weight of shape {weight.shape} "
            f"(the input's last dim must be in_features = {weight.shape[1]})"
        )
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise RuntimeError(
            f"linear: input ({input.dtype}), weight ({weight.dtype})"
            + (f" and bias ({bias.dtype})" if bias is not None else "")
            + " must have the same dtype; convert the input with .to(weight.dtype) or the layer with .to(dtype)"
        )
    return linalg.Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T A_k x2 + b_k for x1: (*, in1), x2: (*, in2), A: (out, in1, in2).

    Returns (*, out); ``bias`` is (out,) or None.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> A = cr.eye(2).reshape(1, 2, 2)
    >>> F.bilinear(cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0]]), A)
    tensor([[11.]], shape=(1, 1), dtype=float32)
    """
    expected_weight = (input1.shape[-1], input2.shape[-1])
    if input1.shape[:-1] != input2.shape[:-1] or weight.ndim != 3 or weight.shape[1:] != expected_weight:
        raise RuntimeError(
            f"bilinear: inputs of shapes {input1.shape} and {input2.shape} do not fit weight of shape {weight.shape}"
        )
    lead = input1.shape[:-1]
    rows1 = input1.reshape(-1, input1.shape[-1])
    rows2 = input2.reshape(-1, input2.shape[-1])
    output = einsum("bi,oij,bj->bo", rows1, weight, rows2)
    if bias is not None:
        output = output + bias
    return output.reshape(*lead, weight.shape[0])


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """In training, zero each element with probability p and scale the rest by 1/(1-p); else the identity.

    Same shape and dtype as ``input``; the expected value of each element is unchanged.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.ones(6)
    >>> F.dropout(x, p=0.5, training=False)
    tensor([1., 1., 1., 1., 1., 1.], shape=(6,), dtype=float32)
    >>> _ = cr.manual_seed(0)
    >>> sorted(set(F.dropout(x, p=0.5).tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return _dropout.dropout(input, p)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """The rows ``weight[input]``: (*) integer indices give (*, embedding_dim).

    ``weight`` is (num_embeddings, embedding_dim); the row ``padding_idx`` gets no gradient.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> weight = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> F.embedding(cr.tensor([[2, 1], [0, 2]]), weight)
    tensor([[[3., 4.],
             [1., 2.]],
    <BLANKLINE>
            [[0., 0.],
             [3., 4.]]], shape=(2, 2, 2), dtype=float32)
    """
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings {num_embeddings}")
        padding_idx %= num_embeddings
    indices = indexing.check_indices(input, num_embeddings, "embedding")
    return indexing.Embedding.apply(weight, indices=indices, padding_idx=padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(*) class indices as (*, num_classes) int64 rows of zeros with a one at the index.

    ``num_classes=-1`` takes the largest index plus one. Bad indices raise RuntimeError, as in PyTorch.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.one_hot(cr.tensor([0, 2, 1]), num_classes=3)
    tensor([[1, 0, 0],
            [0, 0, 1],
            [0, 1, 0]], shape=(3, 3), dtype=int64)
    """
    if tensor.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: is only applicable to an integer (long) tensor of indices, got {tensor.dtype}")
    xp = array_module(tensor._data)
    if num_classes < 0:
        if not tensor.numel():
            raise RuntimeError(f"one_hot: can not infer the number of classes from an empty tensor {tensor.shape}")
        num_classes = int(tensor._data.max()) + 1
    if tensor.numel() and int(tensor._data.min()) < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {int(tensor._data.min())}")
    if tensor.numel() and int(tensor._data.max()) >= num_classes:
        raise RuntimeError(
            f"one_hot: class values must be smaller than num_classes={num_classes}, got {int(tensor._data.max())}"
        )
    return Tensor._wrap((tensor._data[..., None] == xp.arange(num_classes)).astype(xp.int64))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``.

    Same shape as ``input``; ``p=2`` and ``dim=1`` by default (unit-length rows of a matrix).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.normalize(cr.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[0.6, 0.8],
            [0. , 0. ]], shape=(2, 2), dtype=float32)
    """
    return input / clamp(norm(input, p, dim, keepdim=True), min=eps)


# --------------------------------------------------------------------------- normalization
def _standardize(input: Tensor, dims: tuple[int, ...], eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over ``dims``, with the biased variance."""
    mean = input.mean(dims, keepdim=True)
    variance = input.var(dims, unbiased=False, keepdim=True)
    return (input - mean) * rsqrt(variance + eps)


def _channel_shape(input: Tensor) -> tuple[int, ...]:
    """(1, C, 1, ...): a per-channel vector broadcast against (N, C, *)."""
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def layer_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Standardize over the trailing dims ``normalized_shape``, then scale by ``weight`` and shift by ``bias``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, the statistics over the last
    ``len(normalized_shape)`` dims (biased variance); the output has ``input``'s shape.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.layer_norm(cr.tensor([[1.0, 3.0], [2.0, 2.0]]), (2,))
    tensor([[-1.,  1.],
            [ 0.,  0.]], shape=(2, 2), dtype=float32)
    """
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    count = len(normalized_shape)
    if input.shape[input.ndim - count :] != normalized_shape or input.ndim < count:
        raise RuntimeError(
            f"layer_norm: input of shape {input.shape} does not end with normalized_shape {normalized_shape}"
        )
    return _norm.layer_norm(input, count, weight, bias, eps)


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Standardize each sample over groups of C / num_groups channels (and all spatial positions).

    ``input`` is (N, C, *); ``weight`` and ``bias`` are (C,); the output has ``input``'s shape.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.tensor([[[1.0], [3.0], [5.0], [5.0]]])
    >>> F.group_norm(x, 2)
    tensor([[[-1.],
             [ 1.],
             [ 0.],
             [ 0.]]], shape=(1, 4, 1), dtype=float32)
    """
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise RuntimeError(
            f"group_norm: expected an input (N, C, *) with C divisible by num_groups={num_groups}, got shape {input.shape}"
        )
    grouped = input.reshape(input.shape[0], num_groups, math.prod(input.shape[1:]) // num_groups)
    output = _standardize(grouped, (2,), eps).reshape(input.shape)
    if weight is not None:
        output = output * weight.reshape(_channel_shape(input))
    if bias is not None:
        output = output + bias.reshape(_channel_shape(input))
    return output


def _channel_affine_of_empty(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """``input * weight + bias`` per channel, for an empty input (nothing to standardize)."""
    output = input * 1.0
    if weight is not None:
        output = output * weight.reshape(_channel_shape(input))
    if bias is not None:
        output = output + bias.reshape(_channel_shape(input))
    return output


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Standardize each channel of (N, C, *) over the batch and spatial dims.

    In training the batch statistics are used (biased variance), and the
    running estimates, when given, are updated in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, with the
    unbiased variance. Otherwise the running estimates are used.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.tensor([[1.0, 10.0], [3.0, 10.0]])
    >>> mean, var = cr.zeros(2), cr.ones(2)
    >>> F.batch_norm(x, mean, var, training=True, momentum=0.5)
    tensor([[-1.,  0.],
            [ 1.,  0.]], shape=(2, 2), dtype=float32)
    >>> mean, var
    (tensor([1., 5.], shape=(2,), dtype=float32), tensor([1.5, 0.5], shape=(2,), dtype=float32))
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, *), got shape {input.shape}")
    channels = input.shape[1]
    for name, vector in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if vector is not None and tuple(vector.shape) != (channels,):
            raise RuntimeError(
                f"batch_norm: {name} of shape {tuple(vector.shape)} does not match the {channels} channels "
                f"of input {tuple(input.shape)}"
            )
    if training and input.numel() == 0:  # an empty batch: an empty result, running statistics unchanged
        return _channel_affine_of_empty(input, weight, bias)
    if training:
        if input.numel() // channels <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input {input.shape}"
            )
        running = tuple(None if vector is None else vector._data for vector in (running_mean, running_var))
        return _batch_norm.BatchNorm.apply(input, weight, bias, eps=eps, running=running, momentum=momentum)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
    scale = rsqrt(running_var + eps) if weight is None else weight * rsqrt(running_var + eps)
    shift = -running_mean * scale if bias is None else bias - running_mean * scale
    return _batch_norm.ChannelAffine.apply(input, scale, shift)


# --------------------------------------------------------------------------- losses
_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected 'mean', 'sum' or 'none')")


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's deprecated ``size_average``/``reduce`` flags, translated to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    warnings.warn("size_average and reduce are deprecated, please use reduction='mean'|'sum'|'none'", stacklevel=3)
    return "none" if not reduce else "mean" if size_average else "sum"


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    _check_reduction(reduction, op)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _weighted_reduce(loss: Tensor, weight: Tensor | None, reduction: str, op: str) -> Tensor:
    """Reduce ``loss`` times the elementwise ``weight``; the weighted mean divides by the weights' sum."""
    if weight is None:
        return _reduce(loss, reduction, op)
    _check_reduction(reduction, op)
    if weight.shape != loss.shape:
        raise ValueError(f"{op}: weight of shape {weight.shape} must have the input's shape {loss.shape}")
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return loss.sum() if reduction == "sum" else loss


def _check_same_size(input: Tensor, target: Tensor, op: str) -> None:
    if input.shape != target.shape:
        warnings.warn(
            f"{op}: using a target size {target.shape} that is different to the input size {input.shape}; "
            "they will be broadcast, which is likely not what you want",
            stacklevel=3,
        )


def _as_float_target(target: Tensor, input: Tensor) -> Tensor:
    return to_dtype(target, input.dtype) if target.dtype != input.dtype else target


def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """(x - y)^2, averaged (or summed) over all elements; ``weight`` (the input's shape) weighs each.

    ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'`` (the elementwise losses).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.mse_loss(cr.tensor([1.0, 2.0, 3.0]), cr.tensor([1.0, 0.0, 0.0]))
    tensor(4.3333, shape=(), dtype=float32)
    >>> F.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0]), reduction="none")
    tensor([1., 4.], shape=(2,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "mse_loss")
    difference = input - target  # promoted as in PyTorch: an integer input and a float target give floats
    return _weighted_reduce(difference * difference, weight, reduction, "mse_loss")


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """|x - y|, averaged (or summed) over all elements; ``weight`` (the input's shape) weighs each.

    ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'`` (the elementwise losses).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.l1_loss(cr.tensor([1.0, -2.0, 3.0]), cr.tensor([0.0, 0.0, 0.0]), reduction="sum")
    tensor(6., shape=(), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "l1_loss")
    return _weighted_reduce(abs(input - target), weight, reduction, "l1_loss")


def huber_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0, weight: Tensor | None = None
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), for d = x - y.

    Reduced by ``reduction`` (``'mean'``, ``'sum'`` or ``'none'``).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), reduction="none")
    tensor([0.125, 2.5  ], shape=(2,), dtype=float32)
    """
    _check_same_size(input, target, "huber_loss")
    if not delta > 0:
        raise RuntimeError(f"huber_loss: delta must be positive, got {delta}")
    if input.dtype.kind != "f":
        raise TypeError(f"huber_loss: expects a floating point input, got {input.dtype}")
    difference = input - _as_float_target(target, input)  # PyTorch's huber_loss keeps the input's dtype
    size = abs(difference)
    loss = where(size < delta, difference * difference * 0.5, (size - 0.5 * delta) * delta)
    if weight is not None:  # PyTorch's weighted Huber mean is the plain mean of the weighted terms
        if weight.shape != loss.shape:
            raise ValueError(f"huber_loss: weight of shape {weight.shape} must have the input's shape {loss.shape}")
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


def smooth_l1_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (Huber divided by beta).

    Reduced by ``reduction`` (``'mean'``, ``'sum'`` or ``'none'``).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), reduction="none", beta=2.0)
    tensor([0.0625, 2.    ], shape=(2,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "smooth_l1_loss")
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must not be negative, got {beta}")
    difference = input - target
    size = abs(difference)
    if beta == 0.0:
        return _reduce(size, reduction, "smooth_l1_loss")
    loss = where(size < beta, difference * difference * (0.5 / beta), size - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def _checked_classes(target: Tensor, num_classes: int, op: str, ignore_index: int | None = None):
    """The array of class indices ``target`` (ignored ones replaced by 0), each checked to be in [0, C)."""
    return _class_indices(target, num_classes, op, ignore_index)[0]


def _class_indices(target: Tensor, num_classes: int, op: str, ignore_index: int | None):
    """``target``'s class indices checked to be in [0, C), and the mask of those not ignored.

    Ignored entries are replaced by 0 in the indices; the mask is None when no
    entry is ignored (the common case costs a min and a max, nothing more).
    """
    if not isinstance(target, Tensor) or target.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected a target of class indices of integer dtype, got {target.dtype}")
    indices, kept = target._data, None
    if not indices.size:
        return indices, kept
    low, high = indexing.min_and_max(indices)
    if ignore_index is not None and low <= ignore_index <= high:
        kept = indices != ignore_index
        indices = array_module(indices).where(kept, indices, 0)
        low, high = indexing.min_and_max(indices)
    if low < 0 or high >= num_classes:
        raise IndexError(
            f"{public_name(op)}: target {low if low < 0 else high} is out of bounds for {num_classes} classes"
        )
    return indices, kept


def _class_weights(target: Tensor, num_classes: int, weight: Tensor | None, ignore_index: int, dtype, op: str):
    """Checked class indices (ignored ones replaced by 0) and each sample's weight (0 where ignored).

    The weights are None when every sample counts once (no class weights, none ignored).
    """
    indices, kept = _class_indices(target, num_classes, op, ignore_index)
    if weight is None:
        sample_weight = None if kept is None else kept.astype(dtype)
    else:
        if weight.shape != (num_classes,):
            raise ValueError(f"{op}: weight of shape {weight.shape} should have one entry per class ({num_classes},)")
        sample_weight = weight._data[indices].astype(dtype, copy=False)
        if kept is not None:
            sample_weight = sample_weight * kept
    return indices, sample_weight


def _check_index_target(input: Tensor, target: Tensor, op: str) -> None:
    """The target of class indices has the input's shape less the class dim, and lives on the input's device."""
    if target.device != input.device:
        raise RuntimeError(
            f"{op}: Expected all tensors to be on the same device, but found at least two devices, "
            f"{input.device} and {target.device}!"
        )
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        raise ValueError(
            f"{op}: expected a target of shape {expected} for input of shape {input.shape}, got {target.shape}"
        )


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-w[t] x[t]: the negative log-likelihood of log-probabilities (N, C, *) at class indices (N, *).

    The mean divides by the total weight of the targets that are not ignored.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> log_probs = cr.log(cr.tensor([[0.5, 0.25, 0.25], [0.125, 0.125, 0.75]]))
    >>> F.nll_loss(log_probs, cr.tensor([0, 2]), reduction="none").exp()
    tensor([2.    , 1.3333], shape=(2,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    if input.ndim == 1:  # one unbatched sample
        loss = nll_loss(input.unsqueeze(0), target.reshape(1), weight, None, ignore_index, None, reduction)
        return loss.reshape(()) if reduction == "none" else loss
    _check_index_target(input, target, "nll_loss")
    indices, sample_weight = _class_weights(target, input.shape[1], weight, ignore_index, input.dtype, "nll_loss")
    losses = -gather(input, 1, Tensor._wrap(indices).unsqueeze(1)).squeeze(1)
    if sample_weight is not None:
        losses = losses * Tensor._wrap(sample_weight)
    if reduction == "none":
        return losses
    if reduction == "sum" or sample_weight is None:
        return losses.sum() if reduction == "sum" else losses.mean()
    return losses.sum() / float(sample_weight.sum())


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C, *) or (C,) against class indices (N, *) or class probabilities.

    Computed from the logits with log-sum-exp, so it stays finite for logits of
    any magnitude. Class indices may be ``ignore_index``; ``weight`` (C,)
    weighs the classes; ``label_smoothing`` mixes the target with the uniform
    distribution.

    A 0-d loss by default (``reduction='mean'``); ``reduction='none'`` gives one per target, (N, *).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> logits = cr.tensor([[0.0, 0.0], [1000.0, 0.0]])
    >>> F.cross_entropy(logits, cr.tensor([0, 1]), reduction="none")
    tensor([6.9315e-01, 1.0000e+03], shape=(2,), dtype=float32)
    >>> F.cross_entropy(cr.tensor([[0.0, 0.0, 0.0, 0.0]]), cr.tensor([3])).exp()
    tensor(4., shape=(), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dim, got a 0-d tensor")
    if target.dtype.kind == "f":
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    if input.ndim == 1:  # one unbatched sample
        loss = cross_entropy(
            input.unsqueeze(0), target.reshape(1), weight, None, ignore_index, None, reduction, label_smoothing
        )
        return loss.reshape(()) if reduction == "none" else loss
    _check_index_target(input, target, "cross_entropy")
    num_classes = input.shape[1]
    if label_smoothing == 0.0 and reduction != "none":
        logits = input if input.ndim == 2 else input.permute(0, *range(2, input.ndim), 1).reshape(-1, num_classes)
        flat_target = target if target.ndim == 1 else target.reshape(-1)
        indices, sample_weight = _class_weights(
            flat_target, num_classes, weight, ignore_index, input.dtype, "cross_entropy"
        )
        return cross_entropy_indices(logits, indices, sample_weight, mean=reduction == "mean")
    log_probs = log_softmax(input, 1)
    loss = nll_loss(log_probs, target, weight, None, ignore_index, None, reduction)
    if label_smoothing == 0.0:
        return loss
    # PyTorch's smoothing term: the (weighted) mean of -log p over the classes, ignored targets dropped.
    _, sample_weight = _class_weights(target, num_classes, weight, ignore_index, input.dtype, "cross_entropy")
    weighted = log_probs if weight is None else log_probs * weight.reshape(_channel_shape(input))
    kept = Tensor._wrap((target._data != ignore_index).astype(input.dtype))
    smooth = -weighted.sum(1) * kept
    if reduction == "mean":
        smooth = smooth.sum() / (float(sample_weight.sum()) if sample_weight is not None else target.numel())
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1.0 - label_smoothing) + smooth * (label_smoothing / num_classes)


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing) -> Tensor:
    if target.shape != input.shape:
        raise ValueError(
            f"cross_entropy: class probabilities must have the input's shape {input.shape}, got {target.shape}"
        )
    class_dim = 0 if input.ndim == 1 else 1
    num_classes = input.shape[class_dim]
    target = _as_float_target(target, input)
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    terms = log_softmax(input, class_dim) * target
    if weight is not None:
        terms = terms * weight.reshape((num_classes,) + (1,) * (input.ndim - class_dim - 1))
    if reduction == "none":
        return -terms.sum(class_dim)
    if reduction == "sum":
        return -terms.sum()
    return -terms.sum() / (input.numel() // num_classes)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p; each log is clamped to >= -100.

    ``input`` and ``target`` have the same shape; ``weight`` broadcasts.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.binary_cross_entropy(cr.tensor([0.5, 0.75, 0.0]), cr.tensor([1.0, 0.0, 1.0]), reduction="none")
    tensor([  0.6931,   1.3863, 100.    ], shape=(3,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy: target of shape {target.shape} must have the input's shape {input.shape}"
        )
    loss = BinaryCrossEntropy.apply(input, _as_float_target(target, input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(x), computed from the logits x without overflow.

    ``pos_weight`` (broadcast along the last dim) weighs the positive term.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> logits, targets = cr.tensor([0.0, 1000.0, -1000.0]), cr.tensor([1.0, 0.0, 1.0])
    >>> F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    tensor([6.9315e-01, 1.0000e+03, 1.0000e+03], shape=(3,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    if target.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target size {target.shape} must be the same as input size {input.shape}"
        )
    if pos_weight is not None:
        pos_weight = _as_float_target(pos_weight, input)
    loss = BinaryCrossEntropyWithLogits.apply(input, _as_float_target(target, input), pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1.

    Targets are 1 or -1, of ``input``'s shape.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.hinge_embedding_loss(cr.tensor([0.3, 0.2, 2.0]), cr.tensor([1.0, -1.0, -1.0]), reduction="none")
    tensor([0.3, 0.8, 0. ], shape=(3,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    zeros = input * 0.0
    margin_term = where(target != 1, clamp(margin - input, min=0.0), zeros)
    self_term = where(target != -1, input, zeros)
    return _reduce(margin_term + self_term, reduction, "hinge_embedding_loss")


def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """sum over j != y of max(0, margin - x[y] + x[j])^p / C (times weight[y]): the multi-class hinge.

    ``input`` is (N, C) scores, ``target`` (N,) class indices.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.multi_margin_loss(cr.tensor([[1.0, 0.5, -1.0]]), cr.tensor([0]))
    tensor(0.1667, shape=(), dtype=float32)
    """
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported, got p={p}")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "multi_margin_loss")
    if input.ndim == 1:
        loss = multi_margin_loss(input.unsqueeze(0), target.reshape(1), p, margin, weight, reduction=reduction)
        return loss.reshape(()) if reduction == "none" else loss
    if input.ndim != 2 or target.shape != (input.shape[0],):
        raise ValueError(
            f"multi_margin_loss: expected input (N, C) and target (N,), got shapes {input.shape} and {target.shape}"
        )
    num_classes = input.shape[1]
    indices = _checked_classes(target, num_classes, "multi_margin_loss")
    margins = _relu(input - gather(input, 1, Tensor._wrap(indices[:, None])) + margin)
    if p == 2:
        margins = margins * margins
    if weight is not None:
        margins = margins * Tensor._wrap(weight._data[indices][:, None])
    is_target = Tensor._wrap(indices[:, None] == array_module(indices).arange(num_classes))
    loss = where(is_target, 0.0, margins).sum(1) / num_classes
    return _reduce(loss, reduction, "multi_margin_loss")


# --------------------------------------------------------------------------- channel and alpha dropout
def _channel_dropout(input: Tensor, p: float, training: bool, spatial: int, op: str) -> Tensor:
    """Zero whole channels: (N, C, *spatial) or unbatched (C, *spatial), one draw per (n, c)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{op}: Expected {spatial + 1}D or {spatial + 2}D input, but received a {input.ndim}D input "
            f"of shape {input.shape} (channel-wise dropout over {spatial} spatial dims)"
        )
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    channels = input.shape[: input.ndim - spatial]
    return _dropout.dropout(input, p, mask_shape=channels + (1,) * spatial)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) with probability p; scale the rest by 1/(1-p).

    Same shape as ``input``; in eval (``training=False``) the identity.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.dropout1d(cr.ones(1, 2, 3), p=0.5, training=False).shape
    chainrule.Size([1, 2, 3])
    >>> _ = cr.manual_seed(0)
    >>> out = F.dropout1d(cr.ones(1, 8, 3), p=0.5)
    >>> all(len(set(channel)) == 1 for channel in out[0].tolist())
    True
    """
    return _channel_dropout(input, p, training, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) or (C, H, W) with probability p; scale the rest by 1/(1-p).

    A 3-D input is read as (N, C, L), as PyTorch does (with a warning).

    Same shape as ``input``; in eval (``training=False``) the identity.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> _ = cr.manual_seed(0)
    >>> out = F.dropout2d(cr.ones(1, 8, 2, 2), p=0.5)
    >>> sorted(set(out.flatten().tolist())), all(len(set(c.flatten().tolist())) == 1 for c in out[0])
    ([0.0, 2.0], True)
    """
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L). Use dropout1d for (N, C, L) inputs.",
            stacklevel=2,
        )
        return _channel_dropout(input, p, training, 1, "dropout2d")
    return _channel_dropout(input, p, training, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p.

    Scale the rest by 1/(1-p); same shape as ``input``; in eval (``training=False``) the identity.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.dropout3d(cr.ones(1, 2, 1, 1, 1), p=0.5, training=False).flatten()
    tensor([1., 1.], shape=(2,), dtype=float32)
    """
    return _channel_dropout(input, p, training, 3, "dropout3d")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout that keeps SELU's zero mean and unit variance.

    Dropped elements are set to alpha' = -scale * alpha (SELU's negative limit),
    then ``a (x or alpha') + b`` with a = ((1 - p)(1 + p alpha'^2))^(-1/2),
    b = -a alpha' p restores the mean and variance.

    Same shape as ``input``; in eval (``training=False``) the identity.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.alpha_dropout(cr.tensor([1.0, -1.0]), p=0.5, training=False)
    tensor([ 1., -1.], shape=(2,), dtype=float32)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"alpha_dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    saturation = -_SELU_SCALE * _SELU_ALPHA
    a = ((1 - p) * (1 + p * saturation**2)) ** -0.5
    keep = Tensor._wrap(_dropout.keep_mask(input.shape, p, input.device).astype(input.dtype))
    return (input * keep + saturation * (1.0 - keep)) * a - a * saturation * p


# --------------------------------------------------------------------------- more activations
def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside, 0 on the edges (PyTorch's rule).

    Same shape and dtype as ``input``; defaults [-1, 1].

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.hardtanh(cr.tensor([-3.0, 0.5, 3.0]))
    tensor([-1. ,  0.5,  1. ], shape=(3,), dtype=float32)
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    inside = (input > min_val).logical_and(input < max_val)
    return where(inside, input, clamp(input.detach(), min_val, max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6).

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.relu6(cr.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.], shape=(3,), dtype=float32)
    """
    return hardtanh(input, 0.0, 6.0)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else a x, with a learned slope per channel (dim 1) or one shared slope.

    ``input`` (N, C, *) and ``weight`` of (C,) or (1,) slopes; the output has ``input``'s shape.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.prelu(cr.tensor([[-2.0, -2.0], [4.0, -4.0]]), cr.tensor([0.5, 0.25]))
    tensor([[-1. , -0.5],
            [ 4. , -1. ]], shape=(2, 2), dtype=float32)
    """
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim >= 2 else None
        if weight.ndim != 1 or weight.shape[0] != channels:
            raise RuntimeError(
                f"prelu: weight of shape {weight.shape} needs one slope or one per channel (dim 1) of the input "
                f"of shape {input.shape}"
            )
        weight = weight.reshape(channels, *([1] * (input.ndim - 2)))
    elif weight.ndim:
        weight = weight.reshape(())
    return where(input > 0, input, weight * input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x)).

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.mish(cr.tensor([0.0, 20.0]))
    tensor([ 0., 20.], shape=(2,), dtype=float32)
    """
    return input * tanh(softplus(input))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x relu6(x + 3) / 6: 0 up to -3, x from 3 on, x (x + 3) / 6 between.

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.hardswish(cr.tensor([-4.0, 0.0, 1.0, 4.0]))
    tensor([0.    , 0.    , 0.6667, 4.    ], shape=(4,), dtype=float32)
    """
    return where(input <= -3.0, 0.0, where(input < 3.0, input * (input + 3.0) * (1.0 / 6.0), input))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 up to -3, 1 from 3 on, linear between (gradient 0 on the edges).

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.hardsigmoid(cr.tensor([-4.0, 0.0, 1.5, 4.0]))
    tensor([0.  , 0.5 , 0.75, 1.  ], shape=(4,), dtype=float32)
    """
    inside = (input > -3.0).logical_and(input < 3.0)
    return where(inside, input * (1.0 / 6.0) + 0.5, (input >= 3.0).to(input.dtype))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|).

    Same shape and dtype as ``input``; values in (-1, 1).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softsign(cr.tensor([-3.0, 0.0, 1.0]))
    tensor([-0.75,  0.  ,  0.5 ], shape=(3,), dtype=float32)
    """
    return input / (abs(input) + 1.0)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x).

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.tanhshrink(cr.tensor([0.0, 100.0]))
    tensor([ 0., 99.], shape=(2,), dtype=float32)
    """
    return input - tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value.

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.threshold(cr.tensor([0.5, 1.0, 2.0]), 1.0, -9.0)
    tensor([-9., -9.,  2.], shape=(3,), dtype=float32)
    """
    return where(input > threshold, input, value)


def logsigmoid(input: Tensor) -> Tensor:
    """log(1 / (1 + exp(-x))) = -softplus(-x).

    Same shape and dtype as ``input``; finite for large negative x.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.logsigmoid(cr.tensor([0.0, -1000.0]))
    tensor([-6.9315e-01, -1.0000e+03], shape=(2,), dtype=float32)
    """
    return -softplus(-input)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``.

    Same shape as ``input``, each slice along ``dim`` summing to 1.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softmin(cr.tensor([[0.0, 0.0], [0.0, 1000.0]]), dim=1)
    tensor([[0.5, 0.5],
            [1. , 0. ]], shape=(2, 2), dtype=float32)
    """
    return softmax(-input, dim, dtype=dtype)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a sigmoid(b), where a and b are the two halves of ``input`` along ``dim``.

    ``input``'s size along ``dim`` (default -1) must be even; the result has half of it.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.glu(cr.tensor([[2.0, 4.0, 0.0, 1000.0]]))
    tensor([[1., 4.]], shape=(1, 2), dtype=float32)
    """
    if input.ndim == 0:
        raise RuntimeError("glu: does not support scalars (0-D tensors)")
    if input.shape[dim] % 2:
        raise RuntimeError(
            f"glu: Halving dimension must be even, but dimension {dim % input.ndim} is size {input.shape[dim]} "
            f"(input of shape {input.shape})"
        )
    first, second = input.chunk(2, dim)
    return first * sigmoid(second)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1)) = alpha elu(x / alpha).

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.celu(cr.tensor([-1000.0, 0.0, 2.0]), alpha=2.0)
    tensor([-2.,  0.,  2.], shape=(3,), dtype=float32)
    """
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError, alpha must not be 0")
    return elu(input * (1.0 / alpha)) * alpha


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale elu(x, alpha) with the self-normalising constants scale = 1.0507..., alpha = 1.6733....

    Same shape and dtype as ``input``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.selu(cr.tensor([0.0, 1.0]))
    tensor([0.    , 1.0507], shape=(2,), dtype=float32)
    """
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0.

    Same shape and dtype as ``input``; ``lambd`` defaults to 0.5.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.hardshrink(cr.tensor([-1.0, 0.25, 0.75]))
    tensor([-1.  ,  0.  ,  0.75], shape=(3,), dtype=float32)
    """
    return where(abs(input) > lambd, input, 0.0)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between (the proximal map of lambd |x|).

    Same shape and dtype as ``input``; ``lambd`` defaults to 0.5.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softshrink(cr.tensor([-1.0, 0.25, 0.75]))
    tensor([-0.5 ,  0.  ,  0.25], shape=(3,), dtype=float32)
    """
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}")
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


# --------------------------------------------------------------------------- distances
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (inputs broadcast).

    The result has the broadcast shape without ``dim`` (default 1).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.cosine_similarity(cr.tensor([[1.0, 0.0], [1.0, 1.0]]), cr.tensor([[0.0, 2.0], [3.0, 3.0]]))
    tensor([0., 1.], shape=(2,), dtype=float32)
    """
    return (normalize(x1, 2.0, dim, eps) * normalize(x2, 2.0, dim, eps)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim (inputs broadcast).

    (N, D) inputs give (N,) (``keepdim=True``: (N, 1)); ``p`` defaults to 2, ``eps`` to 1e-6.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.pairwise_distance(cr.tensor([[3.0, 4.0]]), cr.tensor([[0.0, 0.0]]), eps=0.0)
    tensor([5.], shape=(1,), dtype=float32)
    """
    if x1.ndim == 0 and x2.ndim == 0:
        raise RuntimeError("pairwise_distance: inputs must have at least one dim, got two scalars")
    dim = -1 if max(x1.ndim, x2.ndim) > 0 else None
    return norm(x1 - x2 + eps, p, dim, keepdim=keepdim)


# --------------------------------------------------------------------------- more losses
def _xlogy(x: Tensor, y: Tensor) -> Tensor:
    """x log y, 0 where x == 0 (the convention of entropy)."""
    positive = x != 0
    return where(positive, x * log(where(positive, y, 1.0)), 0.0)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL(target || exp(input)) pointwise: t (log t - x), or exp(t) (t - x) with ``log_target``.

    ``input`` holds log-probabilities. ``reduction='batchmean'`` divides the sum by the
    batch size (the true KL divergence); ``'mean'`` divides by the number of elements.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> p = cr.tensor([[0.5, 0.5]])
    >>> F.kl_div(cr.log(p), p, reduction="batchmean")
    tensor(0., shape=(), dtype=float32)
    >>> F.kl_div(cr.log(cr.tensor([[0.25, 0.75]])), cr.tensor([[1.0, 0.0]]), reduction="sum").exp()
    tensor(4., shape=(), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = _xlogy(target, target) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction: 'mean' divides the total loss by both the batch size and the support size. "
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition.",
            stacklevel=2,
        )
    return _reduce(loss, reduction, "kl_div")


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)) for targets y in {1, -1}: the two-class logistic loss.

    ``input`` and ``target`` have the same shape; reduced by ``reduction``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.soft_margin_loss(cr.tensor([0.0, 1000.0]), cr.tensor([1.0, 1.0]), reduction="none")
    tensor([0.6931, 0.    ], shape=(2,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce(log1p(exp(-_as_float_target(target, input) * input)), reduction, "soft_margin_loss")


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1; rows of (N, D) or one (D,).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x1, x2 = cr.tensor([[1.0, 0.0], [1.0, 0.0]]), cr.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> F.cosine_embedding_loss(x1, x2, cr.tensor([1.0, -1.0]), reduction="none")
    tensor([1., 1.], shape=(2,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.shape != input2.shape or input1.ndim not in (1, 2) or target.ndim != input1.ndim - 1:
        raise RuntimeError(
            f"cosine_embedding_loss: expected inputs (N, D) and target (N,) or inputs (D,) and a 0-D target, "
            f"got {input1.shape}, {input2.shape} and {target.shape}"
        )
    tiny = 1e-12  # keeps the denominator of a zero row away from 0, as PyTorch does
    products = (input1 * input2).sum(-1)
    squared_norms = ((input1 * input1).sum(-1) + tiny) * ((input2 * input2).sum(-1) + tiny)
    cosine = products / squared_norms.sqrt()
    zeros = cosine * 0.0
    loss = where(target == 1, 1.0 - cosine, zeros) + where(target == -1, clamp(cosine - margin, min=0.0), zeros)
    return _reduce(loss, reduction, "cosine_embedding_loss")


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -y (x1 - x2) + margin): x1 should rank above x2 where y = 1, below where y = -1.

    Inputs and target broadcast; reduced by ``reduction``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x1, x2, y = cr.tensor([2.0, 1.0]), cr.tensor([1.0, 2.0]), cr.tensor([1.0, 1.0])
    >>> F.margin_ranking_loss(x1, x2, y, margin=0.5, reduction="none")
    tensor([0. , 1.5], shape=(2,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(
            f"margin_ranking_loss: All input tensors should have same dimension but got sizes: "
            f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape}"
        )
    loss = _relu(-_as_float_target(target, input1) * (input1 - input2) + margin)
    return _reduce(loss, reduction, "margin_ranking_loss")


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin) with d the ``pairwise_distance``; ``swap`` uses min(d(a, n), d(p, n)).

    ``anchor``, ``positive`` and ``negative`` are (N, D) or (D,); reduced by ``reduction``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> a, pos, neg = cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), cr.tensor([[6.0, 8.0]])
    >>> F.triplet_margin_loss(a, pos, neg, margin=1.0, eps=0.0)
    tensor(0., shape=(), dtype=float32)
    >>> F.triplet_margin_loss(a, neg, pos, margin=1.0, eps=0.0)
    tensor(6., shape=(), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not (anchor.ndim == positive.ndim == negative.ndim) or anchor.ndim not in (1, 2):
        raise RuntimeError(
            f"triplet_margin_loss: expected anchor, positive and negative all (N, D) or all (D,), got "
            f"{anchor.shape}, {positive.shape} and {negative.shape}"
        )
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    distance_positive = pairwise_distance(anchor, positive, p, eps)
    distance_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        distance_negative = minimum(distance_negative, pairwise_distance(positive, negative, p, eps))
    return _reduce(_relu(distance_positive - distance_negative + margin), reduction, "triplet_margin_loss")


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """The negative log-likelihood of Poisson(target; rate): exp(x) - t x with ``log_input``, else x - t log(x + eps).

    ``full`` adds Stirling's approximation of log(t!), t log t - t + log(2 pi t) / 2, where t > 1.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.poisson_nll_loss(cr.tensor([0.0, 1.0]), cr.tensor([1.0, 0.0]), reduction="none")
    tensor([1.    , 2.7183], shape=(2,), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_float_target(target, input)
    loss = exp(input) - target * input if log_input else input - target * log(input + eps)
    if full:
        stirling = _xlogy(target, target) - target + 0.5 * log(where(target > 1, target, 1.0) * (2 * math.pi))
        loss = loss + where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """The negative log-likelihood of N(target; input, var): (log var + (x - t)^2 / var) / 2.

    ``var`` has the input's shape, or one dim fewer (one variance per row), or a
    last dim of 1; a float is one shared variance. Variances are clamped to ``eps``
    for the value only (the gradient passes as if unclamped, as in PyTorch).
    ``full`` adds log(2 pi) / 2.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.gaussian_nll_loss(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 4.0]), cr.tensor([1.0, 4.0]), reduction="none")
    tensor([0.    , 1.1931], shape=(2,), dtype=float32)
    """
    if not isinstance(var, Tensor):
        var = Tensor._wrap(array_module(input._data).full(input.shape, float(var), dtype=input.dtype))
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (input.shape[:-1] == var.shape[:-1] and var.shape[-1:] == (1,)):
            raise ValueError(
                f"gaussian_nll_loss: var of shape {var.shape} is of incorrect size for input {input.shape}"
            )
    _check_reduction(reduction, "gaussian_nll_loss")
    if bool((var._data < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    clamped = array_module(var._data).maximum(var._data, eps)
    var = var + Tensor._wrap((clamped - var._data).astype(var.dtype, copy=False))
    difference = input - _as_float_target(target, input)
    loss = (log(var) + difference * difference / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)) averaged over the C classes of (N, C) (times ``weight``).

    ``input`` and ``target`` (N, C); the loss per sample is (N,) before ``reduction``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.multilabel_soft_margin_loss(cr.tensor([[1000.0, -1000.0]]), cr.tensor([[1.0, 0.0]]))
    tensor(0., shape=(), dtype=float32)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    target = _as_float_target(target, input)
    loss = -(target * logsigmoid(input) + (1.0 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.mean(input.ndim - 1) if input.ndim else loss
    return _reduce(loss, reduction, "multilabel_soft_margin_loss")
