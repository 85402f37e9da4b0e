"""LeNet-5 training, chainrule vs PyTorch: 100 batches of 128 MNIST images, alternating in one run.

chainrule's ``chainrule.models.LeNet5`` (ReLU, max pooling, 28 x 28 inputs)
against the same network built here from ``torch.nn``, with chainrule's initial
weights copied into it through ``state_dict``. Both train with plain SGD (lr
0.1) on softmax cross-entropy, on the same batches in the same order; the
frameworks alternate round by round, a round being the 100 batches. Reported:
ms per batch and the median of the paired per-round ratio chainrule/torch.
``--quick``: 4 batches of random 28 x 28 images.

    python -m chainrule.benchmarks.lenet            # full run
    python -m chainrule.benchmarks.lenet --quick    # smoke run
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Sequence
from types import ModuleType

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.benchmarks._timing import Result, alternating_timer, result_from_samples
from chainrule.benchmarks.mlp_epoch import BATCH, LR, Epoch, batch_indices, training_data, training_epoch
from chainrule.benchmarks.runner import Options, module_main
from chainrule.models import LeNet5

BATCHES, QUICK_BATCHES = 100, 4


def torch_lenet(torch: ModuleType):
    """``LeNet5()``'s layers in ``torch.nn``, under the same ``state_dict`` keys (features.*, classifier.*)."""
    nn = torch.nn
    features = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2)
    )
    classifier = nn.Sequential(
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)
    )
    return nn.Sequential(OrderedDict(features=features, classifier=classifier))


def models(torch: ModuleType | None, seed: int = 0):
    """chainrule's LeNet-5 and, with ``torch``, its copy in PyTorch (same weights); else (model, None)."""
    cr.manual_seed(seed)
    ours = LeNet5()
    if torch is None:
        return ours, None
    theirs = torch_lenet(torch)
    theirs.load_state_dict({name: torch.from_numpy(value.numpy().copy()) for name, value in ours.state_dict().items()})
    return ours, theirs


def images(n_batches: int, quick: bool) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Images (N, 1, 28, 28), labels (N,) and the first ``n_batches`` batches' rows (MNIST; random if ``quick``)."""
    X, Y = training_data(quick, quick_images=n_batches * BATCH)
    return X.reshape(-1, 1, 28, 28), Y, batch_indices(len(X))[:n_batches]


def chainrule_training(model, X: np.ndarray, Y: np.ndarray, batches: list[np.ndarray]) -> Epoch:
    """Train chainrule's ``model`` once over ``batches`` of X, Y."""
    optimizer = cr.optim.SGD(model.parameters(), lr=LR)

    def take(index):
        return cr.from_numpy(X[index]), cr.from_numpy(Y[index])

    return training_epoch(model, optimizer, F.cross_entropy, take, batches)


def torch_training(torch: ModuleType, model, X: np.ndarray, Y: np.ndarray, batches: list[np.ndarray]) -> Epoch:
    """Train PyTorch's ``model`` once over the same ``batches``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    indices = [torch.from_numpy(index) for index in batches]
    return training_epoch(model, optimizer, torch.nn.functional.cross_entropy, lambda i: (Xt[i], Yt[i]), indices)


def run(options: Options) -> list[Result]:
    """Milliseconds per training batch of LeNet-5, the frameworks alternating."""
    n_batches = QUICK_BATCHES if options.quick else BATCHES
    X, Y, batches = images(n_batches, options.quick)
    ours, theirs = models(options.torch)
    fns = [("chainrule", chainrule_training(ours, X, Y, batches))]
    if theirs is not None:
        fns.append(("torch", torch_training(options.torch, theirs, X, Y, batches)))
    samples = alternating_timer(fns, rounds=options.rounds_or(2, 5), warmup=1)
    workload = f"LeNet-5 training, {n_batches} batches of {BATCH}" + (" (random images)" if options.quick else "")
    return [result_from_samples(workload, "ms/batch", samples, scale=1e3 / n_batches, target="lenet5")]


def main(argv: Sequence[str] | None = None) -> int:
    """Time LeNet-5 training and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
