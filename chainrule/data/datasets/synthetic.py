"""Small synthetic datasets for demos of nonlinear decision boundaries and regression.

Every generator takes ``n`` (the number of samples), ``noise`` (the standard deviation
of Gaussian noise added to each input coordinate, or to the target for regression)
and ``seed``: with a seed the data is a pure function of the arguments; without one
it is drawn from chainrule's global generator, so ``cr.manual_seed`` makes it
reproducible. The rows come shuffled. Inputs are float32 (n, 2) for the 2-d
classification sets, targets int64 class indices (n,).
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import random
from chainrule.data.dataset import TensorDataset
from chainrule.tensor import Tensor


def _generator(seed: int | None) -> np.random.Generator:
    return random.default_generator() if seed is None else np.random.default_rng(seed)


def _check(name: str, n: int, noise: float) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name}: n must be a positive integer, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"{name}: noise must be >= 0, got {noise!r}")


def _classification(points: np.ndarray, labels: np.ndarray, noise: float, rng: np.random.Generator) -> TensorDataset:
    points = points + noise * rng.standard_normal(points.shape)
    order = rng.permutation(len(points))
    return TensorDataset(Tensor._wrap(points[order].astype(np.float32)), Tensor._wrap(labels[order].astype(np.int64)))


def _split_evenly(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if k < n % parts else 0) for k in range(parts)]


def spirals(
    n: int = 1000, noise: float = 0.05, seed: int | None = None, classes: int = 2, turns: float = 1.5
) -> TensorDataset:
    """``classes`` interleaved spiral arms from the origin out to radius 1, one class per arm.

    Arm k of ``turns`` revolutions: r = t, angle = 2 pi (turns t + k / classes), t in [0, 1].
    """
    _check("spirals", n, noise)
    if classes < 2:
        raise ValueError(f"spirals: classes must be at least 2, got {classes}")
    rng = _generator(seed)
    points, labels = [], []
    for k, m in enumerate(_split_evenly(n, classes)):
        t = np.linspace(0.0, 1.0, m)
        angle = 2 * math.pi * (turns * t + k / classes)
        points.append(np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1))
        labels.append(np.full(m, k))
    return _classification(np.concatenate(points), np.concatenate(labels), noise, rng)


def xor(n: int = 1000, noise: float = 0.05, seed: int | None = None) -> TensorDataset:
    """Points uniform in [-1, 1]^2; class 1 where the coordinates' signs differ (before the noise)."""
    _check("xor", n, noise)
    rng = _generator(seed)
    points = rng.uniform(-1.0, 1.0, size=(n, 2))
    labels = (points[:, 0] > 0) != (points[:, 1] > 0)
    return _classification(points, labels, noise, rng)


def circles(n: int = 1000, noise: float = 0.05, seed: int | None = None, factor: float = 0.5) -> TensorDataset:
    """Two concentric circles: radius 1 is class 0, radius ``factor`` (0 < factor < 1) class 1."""
    _check("circles", n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must lie in (0, 1), got {factor}")
    rng = _generator(seed)
    outer, inner = _split_evenly(n, 2)
    angles = [np.linspace(0, 2 * math.pi, m, endpoint=False) for m in (outer, inner)]
    points = np.concatenate([np.stack([np.cos(a), np.sin(a)], axis=1) * r for a, r in zip(angles, (1.0, factor))])
    labels = np.concatenate([np.zeros(outer), np.ones(inner)])
    return _classification(points, labels, noise, rng)


def moons(n: int = 1000, noise: float = 0.1, seed: int | None = None) -> TensorDataset:
    """Two interleaving half circles (class 0 the upper one, class 1 the lower one shifted right)."""
    _check("moons", n, noise)
    rng = _generator(seed)
    upper, lower = _split_evenly(n, 2)
    a, b = np.linspace(0, math.pi, upper), np.linspace(0, math.pi, lower)
    points = np.concatenate(
        [np.stack([np.cos(a), np.sin(a)], axis=1), np.stack([1 - np.cos(b), 0.5 - np.sin(b)], axis=1)]
    )
    labels = np.concatenate([np.zeros(upper), np.ones(lower)])
    return _classification(points, labels, noise, rng)


def linear_regression(
    n: int = 1000,
    d: int = 3,
    noise: float = 0.1,
    seed: int | None = None,
    bias: bool = True,
    return_weights: bool = False,
):
    """Targets y = x w^T + b + noise * eps with x, w, b, eps standard normal.

    Returns a TensorDataset of x float32 (n, d) and y float32 (n, 1) (the shape of
    ``nn.Linear(d, 1)``'s output). The true parameters are the dataset's attributes
    ``weight`` (1, d) and ``bias`` (1,) (zero with ``bias=False``), shaped like
    ``nn.Linear(d, 1)``'s; ``return_weights=True`` returns ``(dataset, weight, bias)``.
    """
    _check("linear_regression", n, noise)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0:
        raise ValueError(f"linear_regression: d must be a positive integer, got {d!r}")
    rng = _generator(seed)
    weight = rng.standard_normal((1, d))
    offset = rng.standard_normal(1) if bias else np.zeros(1)
    inputs = rng.standard_normal((n, d))
    targets = inputs @ weight.T + offset + noise * rng.standard_normal((n, 1))
    dataset = TensorDataset(Tensor._wrap(inputs.astype(np.float32)), Tensor._wrap(targets.astype(np.float32)))
    dataset.weight = Tensor._wrap(weight.astype(np.float32))
    dataset.bias = Tensor._wrap(offset.astype(np.float32))
    if return_weights:
        return dataset, dataset.weight, dataset.bias
    return dataset
