"""The notes' linear models: regression, logistic and softmax classifiers, the perceptron, random features.

Each is an ``nn.Module`` whose ``forward`` returns the raw scores (regression
values or logits); ``predict`` turns scores into answers. Binary models return
one score per sample, shape (N,), positive meaning class 1.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import nn
from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import array_module
from chainrule.nn import functional as F
from chainrule.ops.creation import rand, randn, tensor
from chainrule.tensor import Tensor


class LinearRegression(nn.Module):
    """y = x W^T + b for x: (N, in_features) and y: (N, out_features); train it with ``nn.MSELoss``.

    ``closed_form`` gives the least-squares (or ridge) solution to check training against::

        data = cr.data.datasets.linear_regression(n=500, d=3)
        weight, bias = LinearRegression.closed_form(*data.tensors)
    """

    def __init__(self, in_features: int, out_features: int = 1, bias: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x)

    @no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """The predicted values, without recording a graph."""
        return self(x)

    @staticmethod
    def closed_form(X, y, ridge: float = 0.0, bias: bool = True) -> tuple[Tensor, Tensor]:
        """The minimiser of ||X W^T + b - y||^2 + ridge ||W||^2 (the bias is not penalised).

        X: (N, D), y: (N,) or (N, K). Returns ``(weight (K, D), bias (K,))`` shaped like
        ``nn.Linear(D, K)``'s parameters (K = 1 for a 1-d ``y``), solved in float64 and
        returned in X's dtype; the bias is zero with ``bias=False``.
        """
        X = X._data if isinstance(X, Tensor) else np.asarray(X)
        xp = array_module(X)  # solved where X lives
        y = y._data if isinstance(y, Tensor) else xp.asarray(y)
        inputs = X.astype(np.float64)
        targets = y.astype(np.float64).reshape(len(y), -1)
        design = xp.concatenate([inputs, xp.ones((len(inputs), 1))], axis=1) if bias else inputs
        if ridge == 0:
            solution = xp.linalg.lstsq(design, targets, rcond=None)[0]
        else:
            penalty = xp.eye(design.shape[1]) * ridge
            if bias:
                penalty[-1, -1] = 0.0
            solution = xp.linalg.solve(design.T @ design + penalty, design.T @ targets)
        dtype = X.dtype if X.dtype.kind == "f" else np.float32
        weight = solution[: inputs.shape[1]].T
        offset = solution[-1] if bias else xp.zeros(targets.shape[1])
        return tensor(weight.astype(dtype)), tensor(offset.astype(dtype))


class LogisticRegression(nn.Module):
    """Binary logistic regression: the logit w . x + b of P(y = 1 | x), shape (N,).

    Train it with ``nn.BCEWithLogitsLoss`` against float targets in {0, 1}.
    """

    def __init__(self, in_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).reshape(-1)

    @no_grad()
    def predict_proba(self, x: Tensor) -> Tensor:
        """P(y = 1 | x), shape (N,)."""
        return self(x).sigmoid()

    @no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """The class (0 or 1) of each sample: 1 where the logit is positive."""
        return (self(x) > 0).long()


class SoftmaxRegression(nn.Module):
    """Multinomial logistic regression: logits x W^T + b, shape (N, classes); softmax gives P(y = k | x).

    Train it with ``nn.CrossEntropyLoss``. This is the "linear classifier" of the MNIST tables.
    """

    def __init__(self, in_features: int, classes: int):
        super().__init__()
        self.linear = nn.Linear(in_features, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.reshape(len(x), -1))

    @no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self(x).argmax(dim=1)


class Perceptron(nn.Module):
    """Rosenblatt's perceptron: score w . x + b of shape (N,); ``predict`` returns sign(score) in {-1, 0, 1}.

    Train it with ``perceptron_criterion`` (the notes' loss, max(0, -y score)):
    plain SGD with lr 1 on that loss is the classic update w += y x on mistakes.
    """

    def __init__(self, in_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)
        self.sign = nn.Sign()

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).reshape(-1)

    @no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """-1 or +1 (0 exactly on the boundary): the notes' y-hat = sign(w . x + b)."""
        return self.sign(self(x))


def perceptron_criterion(scores: Tensor, target: Tensor) -> Tensor:
    """The perceptron criterion mean(max(0, -y s)) for scores s: (N,) and labels y in {0, 1} or {-1, 1}.

    Labels 0/1 are mapped to -1/+1. The loss is zero on correctly classified
    samples; on a mistake its gradient with respect to w is -y x.
    """
    labels = target.reshape(-1).float()
    if bool((labels >= 0).all()):
        labels = labels * 2 - 1
    return F.relu(-labels * scores.reshape(-1)).mean()


class RandomFourierFeatures(nn.Module):
    """A linear classifier on fixed random features z(x) = sqrt(2 / D) cos(x Omega^T + phase).

    With Omega ~ N(0, 2 gamma) and phase ~ U(0, 2 pi), z(x) . z(x') approximates the
    RBF kernel exp(-gamma ||x - x'||^2) (Rahimi and Recht, 2007), so this is a
    kernel machine trained as cheaply as softmax regression. ``omega`` (D, in) and
    ``phase`` (D,) are buffers (saved, never trained); only ``classifier`` learns.
    The draws come from chainrule's generator, so ``cr.manual_seed`` fixes them.
    """

    def __init__(self, in_features: int, features: int = 1000, gamma: float = 1.0, classes: int = 2):
        super().__init__()
        if gamma <= 0:
            raise ValueError(f"RandomFourierFeatures: gamma must be positive, got {gamma}")
        self.gamma = gamma
        self.register_buffer("omega", randn(features, in_features) * math.sqrt(2 * gamma))
        self.register_buffer("phase", rand(features) * (2 * math.pi))
        self.classifier = nn.Linear(features, classes)

    def features(self, x: Tensor) -> Tensor:
        """z(x): (N, D)."""
        return F.linear(x, self.omega, self.phase).cos() * math.sqrt(2 / self.omega.shape[0])

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    @no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self(x).argmax(dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.omega.shape[1]}, features={self.omega.shape[0]}, gamma={self.gamma}"
