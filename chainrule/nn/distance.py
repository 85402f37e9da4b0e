"""Distances between two batches of vectors as layers: ``CosineSimilarity`` and ``PairwiseDistance``."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class CosineSimilarity(Module):
    """x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim``: (*, D, *) twice -> (*, *).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.CosineSimilarity(dim=1)(cr.tensor([[1.0, 0.0]]), cr.tensor([[1.0, 1.0]])) ** 2
    tensor([0.5], shape=(1,), dtype=float32)
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim: (N, D) twice -> (N,) (or (N, 1) with ``keepdim``).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.PairwiseDistance(eps=0.0)(cr.tensor([[3.0, 4.0]]), cr.zeros(1, 2))
    tensor([5.], shape=(1,), dtype=float32)
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
