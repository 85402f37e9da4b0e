"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``.

Each standardizes activations to zero mean and unit variance over some dims,
then applies a learnable per-feature scale (``weight``, initially 1) and shift
(``bias``, initially 0).
"""

from __future__ import annotations

from chainrule.backend import dtypes
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import empty_parameter
from chainrule.ops.creation import ones, tensor, zeros
from chainrule.tensor import Tensor


class _Normalization(Module):
    def _affine_parameters(self, shape: tuple[int, ...], affine: bool, bias: bool, device, dtype) -> None:
        """Register ``weight`` (and ``bias`` unless ``bias=False``) of ``shape``, or None without ``affine``."""
        self.register_parameter("weight", empty_parameter(shape, device, dtype) if affine else None)
        self.register_parameter("bias", empty_parameter(shape, device, dtype) if affine and bias else None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(_Normalization):
    """Standardize each channel over the batch (and spatial) dims, with running statistics for evaluation.

    In training mode the batch's mean and biased variance normalize the input,
    and the buffers ``running_mean`` and ``running_var`` (with the unbiased
    variance) follow ``running = (1 - momentum) running + momentum batch``;
    ``momentum=None`` gives the cumulative average instead. In evaluation mode
    the running statistics normalize the input. ``num_batches_tracked`` counts
    training steps.
    """

    _expected_dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._affine_parameters((num_features,), affine, bias, device, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input: Tensor) -> None:
        if input.ndim not in self._expected_dims:
            expected = " or ".join(f"{n}D" for n in self._expected_dims)
            raise ValueError(
                f"{self._get_name()}: expected {expected} input, got {input.ndim}D input of shape {input.shape}"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{self._get_name()}: input of shape {input.shape} has {input.shape[1]} channels in dim 1, "
                f"expected num_features={self.num_features}"
            )

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C.

    ``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``:
    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, in training with the batch's statistics (and the running
    estimates updated), in eval mode with the running estimates.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> bn = nn.BatchNorm1d(2)
    >>> bn(cr.tensor([[1.0, 10.0], [3.0, 10.0]]))
    tensor([[-1.,  0.],
            [ 1.,  0.]], shape=(2, 2), dtype=float32, grad_fn=<BatchNormBackward>)
    >>> bn.running_mean
    tensor([0.2, 1. ], shape=(2,), dtype=float32)
    """

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel C.

    ``BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True)``: as
    ``BatchNorm1d``, the statistics of each channel over N, H and W.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> bn = nn.BatchNorm2d(3)
    >>> out = bn(cr.randn(4, 3, 5, 5))
    >>> out.shape, abs(out.mean().item()) < 1e-5
    (chainrule.Size([4, 3, 5, 5]), True)
    """

    _expected_dims = (4,)


class LayerNorm(_Normalization):
    """Standardize each sample over its trailing dims ``normalized_shape`` (e.g. the features of a token).

    ``weight`` and ``bias`` have shape ``normalized_shape`` (``bias=False``
    drops the shift; ``elementwise_affine=False`` drops both).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.LayerNorm(2)(cr.tensor([[1.0, 3.0], [2.0, 2.0]]))
    tensor([[-1.,  1.],
            [ 0.,  0.]], shape=(2, 2), dtype=float32, grad_fn=<LayerNormBackward>)
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self._affine_parameters(self.normalized_shape, elementwise_affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(_Normalization):
    """Standardize each sample over groups of ``num_channels / num_groups`` channels of (N, C, *).

    ``weight`` and ``bias`` are per channel (num_channels,).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.GroupNorm(2, 4)(cr.tensor([[[1.0], [3.0], [5.0], [5.0]]]))
    tensor([[[-1.],
             [ 1.],
             [ 0.],
             [ 0.]]], shape=(1, 4, 1), dtype=float32, grad_fn=<AddBackward>)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device=None,
        dtype=None,
        *,
        bias: bool = True,
    ):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self._affine_parameters((num_channels,), affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected an input (N, {self.num_channels}, *), got shape {tuple(input.shape)}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"
