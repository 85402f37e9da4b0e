"""One training epoch of the notes' MLPs: chainrule vs PyTorch vs a hand-written NumPy floor.

Workloads: 784-200-200-10 and 784-800-10 ReLU networks, softmax cross-entropy,
plain SGD (lr 0.1), batch 128, one pass over MNIST's 60,000 training images
(``--quick``: 2,560 random images). All three start from the same weights and
see the same batches in the same order; they alternate round by round in one
process. The NumPy floor is the forward/backward written out by hand
(three GEMMs forward, five backward), the least work any framework can do.

BLAS threads are fixed for both frameworks (``--threads``, default 1): see
``chainrule.backend.threads`` for why two spinning thread pools in one process
distort the comparison on a 2-core machine.

    python benchmarks/mlp_epoch.py            # full run
    python benchmarks/mlp_epoch.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import chainrule as cr  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from benchmarks._timing import alternating_timer, format_load, machine_load, paired_ratio_median, print_table  # noqa: E402
from chainrule.backend.threads import set_blas_threads  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

BATCH, LR = 128, 0.1


def _data(quick: bool) -> tuple[np.ndarray, np.ndarray]:
    if quick:
        rng = np.random.default_rng(0)
        return rng.random((2560, 784), dtype=np.float32), rng.integers(0, 10, 2560)
    images, labels = cr.data.datasets.mnist("train", flatten=True).tensors
    return images.numpy(), labels.numpy()


def _initial_weights(sizes) -> list[np.ndarray]:
    """PyTorch-style uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights (out, in) and biases."""
    rng = np.random.default_rng(0)
    arrays = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        arrays += [rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)]
        arrays += [rng.uniform(-bound, bound, fan_out).astype(np.float32)]
    return arrays


def _batches(n: int):
    order = np.random.default_rng(1).permutation(n)
    return [order[i : i + BATCH] for i in range(0, n - BATCH + 1, BATCH)]


def chainrule_epoch(sizes, X, Y):
    layers = []
    for i in range(len(sizes) - 1):
        layers += [cr.nn.Linear(sizes[i], sizes[i + 1]), cr.nn.ReLU()]
    model = cr.nn.Sequential(*layers[:-1])
    model.load_state_dict(dict(zip(model.state_dict(), _initial_weights(sizes))))
    optimizer = cr.optim.SGD(model.parameters(), lr=LR)
    batches = _batches(len(X))

    def epoch():
        for index in batches:
            loss = F.cross_entropy(model(cr.from_numpy(X[index])), cr.from_numpy(Y[index]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


def torch_epoch(sizes, X, Y):
    layers = []
    for i in range(len(sizes) - 1):
        layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in zip(model.state_dict(), _initial_weights(sizes))})
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    batches = [torch.from_numpy(index) for index in _batches(len(X))]

    def epoch():
        for index in batches:
            loss = torch.nn.functional.cross_entropy(model(Xt[index]), Yt[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return epoch


def numpy_epoch(sizes, X, Y):
    """The floor: forward and backward of the MLP written out with NumPy, in place SGD."""
    params = _initial_weights(sizes)
    batches = _batches(len(X))
    rows = np.arange(BATCH)

    def epoch():
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,560 random images, few rounds (smoke run)")
    parser.add_argument("--rounds", type=int, help="timed epochs per framework")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / intra-op threads for all")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    args = parser.parse_args(argv)
    set_blas_threads(args.threads)
    use_torch = torch is not None and not args.no_torch
    if use_torch:
        torch.set_num_threads(args.threads)
    X, Y = _data(args.quick)
    rounds = args.rounds or (2 if args.quick else 5)
    start = machine_load()
    rows = []
    for sizes in ((784, 200, 200, 10), (784, 800, 10)):
        fns = [("chainrule", chainrule_epoch(sizes, X, Y)), ("numpy", numpy_epoch(sizes, X, Y))]
        if use_torch:
            fns.append(("torch", torch_epoch(sizes, X, Y)))
        samples = alternating_timer(fns, rounds=rounds, warmup=1)
        median = {k: float(np.median(v)) for k, v in samples.items()}
        vs_torch = paired_ratio_median(samples["chainrule"], samples["torch"]) if use_torch else float("nan")
        vs_numpy = paired_ratio_median(samples["chainrule"], samples["numpy"])
        rows.append(
            [
                "-".join(map(str, sizes)),
                f"{median['chainrule']:.3f}",
                f"{median.get('torch', float('nan')):.3f}",
                f"{median['numpy']:.3f}",
                f"{vs_torch:.2f}",
                f"{vs_numpy:.2f}",
            ]
        )
    print(
        f"{len(X):,} images, batch {BATCH}, threads {args.threads}; load {format_load(start)} -> {format_load(machine_load())}"
    )
    print_table(["MLP epoch", "chainrule s", "torch s", "numpy s", "cr/torch", "cr/numpy"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
