"""One training epoch of the notes' MLPs: chainrule vs PyTorch vs a hand-written NumPy floor.

Workloads: 784-200-200-10 and 784-800-10 ReLU networks, softmax cross-entropy,
plain SGD (lr 0.1), batch 128, one pass over MNIST's 60,000 training images
(``--quick``: 2,560 random images). All three start from the same weights and
see the same batches in the same order; they alternate round by round in one
process. The NumPy floor is the forward/backward written out by hand
(three GEMMs forward, five backward), the least work any framework can do.
Reported: seconds per epoch and the paired ratios chainrule/torch and
chainrule/NumPy.

The data and the epoch builders here are shared: ``lenet`` trains on the same
data with ``training_epoch``, ``memory`` runs one of ``EPOCHS`` per process.

    python -m chainrule.benchmarks.mlp_epoch            # full run
    python -m chainrule.benchmarks.mlp_epoch --quick    # smoke run
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.benchmarks._timing import Result, alternating_timer, result_from_samples
from chainrule.benchmarks.runner import Options, module_main

BATCH, LR = 128, 0.1
QUICK_IMAGES = 2560
NETWORKS = ((784, 200, 200, 10), (784, 800, 10))

Epoch = Callable[[], None]


def training_data(quick: bool, quick_images: int = QUICK_IMAGES) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training set, images (60000, 784) float32 and labels (60000,) int64; ``quick``: random ones."""
    if quick:
        rng = np.random.default_rng(0)
        return rng.random((quick_images, 784), dtype=np.float32), rng.integers(0, 10, quick_images)
    images, labels = cr.data.datasets.mnist("train", flatten=True).tensors
    return images.numpy(), labels.numpy()


def batch_indices(n: int) -> list[np.ndarray]:
    """The rows of each full batch of ``BATCH`` in one fixed shuffled order of ``n`` examples."""
    order = np.random.default_rng(1).permutation(n)
    return [order[i : i + BATCH] for i in range(0, n - BATCH + 1, BATCH)]


def training_epoch(model, optimizer, cross_entropy, take: Callable, batches: Sequence) -> Epoch:
    """A callable that trains ``model`` on each of ``batches`` once; ``take(batch) -> (inputs, labels)``.

    The same loop for chainrule and torch (their APIs match); ``take`` does the
    indexing, inside the timed loop for every framework alike.
    """

    def epoch() -> None:
        for batch in batches:
            inputs, labels = take(batch)
            loss = cross_entropy(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


def initial_weights(sizes: Sequence[int]) -> list[np.ndarray]:
    """PyTorch-style uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights (out, in) and biases (out,), in order."""
    rng = np.random.default_rng(0)
    arrays = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        arrays += [rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)]
        arrays += [rng.uniform(-bound, bound, fan_out).astype(np.float32)]
    return arrays


def _mlp(nn, sizes: Sequence[int]):
    """Linear/ReLU layers of ``sizes`` from ``nn`` (chainrule's or torch's), no ReLU after the last."""
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def chainrule_epoch(sizes: Sequence[int], X: np.ndarray, Y: np.ndarray) -> Epoch:
    """chainrule's epoch over X (N, 784), Y (N,), from ``initial_weights(sizes)``."""
    model = _mlp(cr.nn, sizes)
    model.load_state_dict(dict(zip(model.state_dict(), initial_weights(sizes))))
    optimizer = cr.optim.SGD(model.parameters(), lr=LR)

    def take(index):
        return cr.from_numpy(X[index]), cr.from_numpy(Y[index])

    return training_epoch(model, optimizer, F.cross_entropy, take, batch_indices(len(X)))


def torch_epoch(sizes: Sequence[int], X: np.ndarray, Y: np.ndarray) -> Epoch:
    """PyTorch's epoch, as ``chainrule_epoch`` (torch is imported only here, so other processes stay without it)."""
    import torch

    model = _mlp(torch.nn, sizes)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in zip(model.state_dict(), initial_weights(sizes))})
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    batches = [torch.from_numpy(index) for index in batch_indices(len(X))]
    return training_epoch(model, optimizer, torch.nn.functional.cross_entropy, lambda i: (Xt[i], Yt[i]), batches)


def numpy_epoch(sizes: Sequence[int], X: np.ndarray, Y: np.ndarray) -> Epoch:
    """The floor: forward and backward of the MLP written out with NumPy, in-place SGD."""
    params = initial_weights(sizes)
    batches = batch_indices(len(X))
    rows = np.arange(BATCH)

    def epoch() -> None:
        for index in batches:
            activations = [X[index]]
            for i in range(0, len(params), 2):
                z = activations[-1] @ params[i].T + params[i + 1]
                activations.append(np.maximum(z, 0) if i + 2 < len(params) else z)
            logits = activations[-1]
            probabilities = np.exp(logits - logits.max(1, keepdims=True))
            probabilities /= probabilities.sum(1, keepdims=True)
            probabilities[rows, Y[index]] -= 1
            grad = probabilities / BATCH
            for i in range(len(params) - 2, -1, -2):
                below = activations[i // 2]
                grad_input = grad @ params[i] if i else None
                params[i] -= LR * (grad.T @ below)
                params[i + 1] -= LR * grad.sum(0)
                if grad_input is not None:
                    grad = grad_input * (below > 0)

    return epoch


EPOCHS = {"chainrule": chainrule_epoch, "torch": torch_epoch, "numpy": numpy_epoch}


def network_name(sizes: Sequence[int]) -> str:
    """``'784-200-200-10'``."""
    return "-".join(map(str, sizes))


def run(options: Options) -> list[Result]:
    """Seconds per epoch of every network in ``NETWORKS``, all frameworks alternating."""
    X, Y = training_data(options.quick)
    frameworks = [name for name in EPOCHS if name != "torch" or options.torch is not None]
    results = []
    for sizes in NETWORKS:
        fns = [(name, EPOCHS[name](sizes, X, Y)) for name in frameworks]
        samples = alternating_timer(fns, rounds=options.rounds_or(2, 5), warmup=1)
        workload = f"MLP {network_name(sizes)} epoch ({len(X):,} images)"
        results.append(result_from_samples(workload, "s", samples, target=f"mlp-{network_name(sizes)}"))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Time the MLP epochs and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
