"""Losses as layers: each holds its options (and weights as buffers) and calls its functional form.

``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'`` (the per-element
or per-sample losses).
"""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """(x - y)^2: the squared error.

    Input and target of the same shape (*); reduced by ``reduction``: 'mean' (default), 'sum' or 'none'.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MSELoss()(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0]))
    tensor(5., shape=(), dtype=float32)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """|x - y|: the absolute error.

    Input and target of the same shape (*); reduced by ``reduction``: 'mean' (default), 'sum' or 'none'.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.L1Loss(reduction="sum")(cr.tensor([1.0, -3.0]), cr.tensor([0.0, 0.0]))
    tensor(4., shape=(), dtype=float32)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Squared error below ``delta``, absolute error (times delta) above it.

    0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), for d = x - y; input and target of the same shape.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.HuberLoss(reduction="none")(cr.tensor([0.5, 3.0]), cr.zeros(2))
    tensor([0.125, 2.5  ], shape=(2,), dtype=float32)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta``.

    0.5 d^2 / beta where |d| < beta, else |d| - beta / 2; input and target of the same shape.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.SmoothL1Loss(reduction="none")(cr.tensor([0.5, 3.0]), cr.zeros(2))
    tensor([0.125, 2.5  ], shape=(2,), dtype=float32)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C, *) against class indices (N, *) or class probabilities.

    loss = CrossEntropyLoss()(logits, labels)     # logits (N, C), labels (N,) int64

    ``loss_n = -log softmax(x_n)[y_n] = logsumexp(x_n) - x_n[y_n]``, averaged over the batch by default.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> loss = nn.CrossEntropyLoss()
    >>> loss(cr.zeros(3, 4), cr.tensor([0, 1, 3])).exp()
    tensor(4., shape=(), dtype=float32)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """-x[t]: the negative log-likelihood of log-probabilities (N, C, *) at class indices (N, *).

    Usually after ``LogSoftmax``: together they are ``CrossEntropyLoss``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> log_probs = cr.log(cr.tensor([[0.25, 0.75]]))
    >>> nn.NLLLoss()(log_probs, cr.tensor([0])).exp()
    tensor(4., shape=(), dtype=float32)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """-(y log p + (1 - y) log(1 - p)) for probabilities p (after a sigmoid).

    Input and target of the same shape; each log is clamped to >= -100.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.BCELoss()(cr.tensor([0.5, 0.5]), cr.tensor([1.0, 0.0])).exp()
    tensor(2., shape=(), dtype=float32)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable step, from logits; ``pos_weight`` weighs positives.

    ``loss = -(y log sigmoid(x) + (1 - y) log sigmoid(-x))``; input and target of the same shape.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.BCEWithLogitsLoss()(cr.tensor([0.0, 0.0]), cr.tensor([1.0, 0.0])).exp()
    tensor(2., shape=(), dtype=float32)
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin - x) where y = -1 (x often a distance).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.HingeEmbeddingLoss(reduction="none")(cr.tensor([0.3, 0.2]), cr.tensor([1.0, -1.0]))
    tensor([0.3, 0.8], shape=(2,), dtype=float32)
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """The multi-class hinge: sum over wrong classes j of max(0, margin - x[y] + x[j])^p / C.

    Input (N, C) scores, target (N,) class indices.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MultiMarginLoss()(cr.tensor([[1.0, 0.5, -1.0]]), cr.tensor([0]))
    tensor(0.1667, shape=(), dtype=float32)
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got p={p}")
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multi_margin_loss(
            input, target, p=self.p, margin=self.margin, weight=self.weight, reduction=self.reduction
        )


class KLDivLoss(_Loss):
    """KL(target || exp(input)) for log-probabilities ``input``; ``reduction='batchmean'`` is the true KL.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> target = cr.tensor([[1.0, 0.0]])
    >>> nn.KLDivLoss(reduction="batchmean")(cr.log(cr.tensor([[0.25, 0.75]])), target).exp()
    tensor(4., shape=(), dtype=float32)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        batchmean = reduction == "batchmean"
        super().__init__(size_average, reduce, "mean" if batchmean else reduction)
        if batchmean:
            self.reduction = reduction
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x)) for targets y in {1, -1}.

    Input and target of the same shape.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.SoftMarginLoss()(cr.tensor([0.0]), cr.tensor([1.0])).exp()
    tensor(2., shape=(), dtype=float32)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class _MarginLoss(_Loss):
    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class CosineEmbeddingLoss(_MarginLoss):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1.

    Inputs (N, D) or (D,), target (N,) or () of 1 and -1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CosineEmbeddingLoss()(cr.tensor([[1.0, 0.0]]), cr.tensor([[0.0, 1.0]]), cr.tensor([1.0]))
    tensor(1., shape=(), dtype=float32)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_MarginLoss):
    """max(0, -y (x1 - x2) + margin).

    Inputs and target broadcast; y is 1 (x1 should rank higher) or -1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MarginRankingLoss(margin=0.5)(cr.tensor([1.0]), cr.tensor([2.0]), cr.tensor([1.0]))
    tensor(1.5, shape=(), dtype=float32)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) - d(a, n) + margin), d the p-norm distance (``swap``: min(d(a, n), d(p, n))).

    Anchor, positive and negative are (N, D) or (D,).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> a, pos, neg = cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), cr.tensor([[6.0, 8.0]])
    >>> nn.TripletMarginLoss(margin=1.0, eps=0.0)(a, neg, pos)
    tensor(6., shape=(), dtype=float32)
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be greater than 0, got {margin}")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, reduction=self.reduction
        )


class PoissonNLLLoss(_Loss):
    """exp(x) - t x (``log_input``) or x - t log(x + eps): the Poisson negative log-likelihood.

    Input and target of the same shape.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.PoissonNLLLoss(reduction="none")(cr.tensor([0.0, 1.0]), cr.tensor([1.0, 0.0]))
    tensor([1.    , 2.7183], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average=None,
        eps: float = 1e-8,
        reduce=None,
        reduction: str = "mean",
    ):
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(
            log_input, target, log_input=self.log_input, full=self.full, eps=self.eps, reduction=self.reduction
        )


class GaussianNLLLoss(_Loss):
    """(log var + (x - t)^2 / var) / 2: the Gaussian negative log-likelihood; ``forward(input, target, var)``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.GaussianNLLLoss(reduction="none")(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 4.0]), cr.tensor([1.0, 4.0]))
    tensor([0.    , 1.1931], shape=(2,), dtype=float32)
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)) averaged over classes: independent binary labels.

    Input and target (N, C); target entries are 0 or 1.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.MultiLabelSoftMarginLoss()(cr.tensor([[1000.0, -1000.0]]), cr.tensor([[1.0, 0.0]]))
    tensor(0., shape=(), dtype=float32)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)
