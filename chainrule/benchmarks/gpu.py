"""Training on a GPU: chainrule on CuPy beside PyTorch on CUDA, alternating in one run.

Workloads, each written once against the API both frameworks share (``lib``
is ``chainrule`` or ``torch``), with chainrule starting from PyTorch's weights:

- MLP epoch: 784-800-800-10 ReLU, SGD (lr 0.1), batches of 128 over 60,000
  MNIST-shaped images held on the device (random data: the timing does not
  depend on the pixels);
- LeNet-5: 100 batches of 128 images, SGD;
- GPT step: the minGPT model of ``chainrule.benchmarks.gpt`` (4 layers,
  d=256, T=128, batch 16, AdamW), and a larger one (8 layers, d=512, T=256,
  batch 32) where the kernels, not their launches, dominate.

Every timed call ends with a device synchronisation, so times are wall-clock
times of finished GPU work. The loss is read (``.item()``) once per timed call,
not once per step. Reported: ms per call and the median of the paired
per-round ratios chainrule/torch.

    python -m chainrule.benchmarks.gpu                  # on "cuda"
    python -m chainrule.benchmarks.gpu --device fake --quick   # a smoke run without a GPU
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

import chainrule as cr
from chainrule.benchmarks._timing import Result, alternating_timer, markdown_table, result_from_samples
from chainrule.benchmarks.gpt import FULL, QUICK, Config, build_gpt, tokens
from chainrule.benchmarks.lenet import torch_lenet

LARGE_GPT = Config(layers=8, width=512, heads=8, length=256, batch=32)
BATCH, LR = 128, 0.1


def _synchronize(lib: ModuleType, device: str) -> None:
    if device.startswith("cuda"):
        lib.cuda.synchronize()


def _mlp(lib: ModuleType):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 800), nn.ReLU(), nn.Linear(800, 800), nn.ReLU(), nn.Linear(800, 10))


def _lenet(lib: ModuleType):
    """LeNet-5 (ReLU, max pooling, 28 x 28 inputs): the layers of ``chainrule.models.LeNet5``."""
    return torch_lenet(lib)


def _copy_weights(ours, theirs) -> None:
    """chainrule's model takes PyTorch's initial weights."""
    ours.load_state_dict({name: value.detach().cpu().numpy() for name, value in theirs.state_dict().items()})


def _training_run(lib: ModuleType, optimizer, device: str, loss_of: Callable, steps: int) -> Callable[[], float]:
    """``steps`` optimizer steps, step k on ``loss_of(k)``; returns the last loss, read back once at the end."""

    def run() -> float:
        loss = None
        for step in range(steps):
            loss = loss_of(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        value = loss.item()
        _synchronize(lib, device)
        return value

    return run


def classifier_epoch(
    lib: ModuleType, model, images: np.ndarray, labels: np.ndarray, batches: int, device: str
) -> Callable[[], float]:
    """One pass of SGD over ``batches`` batches of ``images`` held on ``device``; returns the last loss."""
    model.to(device)
    X = lib.tensor(images, device=device)
    Y = lib.tensor(labels, device=device)
    cross_entropy = lib.nn.functional.cross_entropy

    def loss_of(b: int):
        rows = slice(b * BATCH, (b + 1) * BATCH)
        return cross_entropy(model(X[rows]), Y[rows])

    return _training_run(lib, lib.optim.SGD(model.parameters(), lr=LR), device, loss_of, batches)


def gpt_steps(lib: ModuleType, model, config: Config, device: str, steps: int) -> Callable[[], float]:
    """``steps`` AdamW training steps of the GPT on one batch; returns the last loss."""
    model.to(device)
    model.train()
    optimizer = lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    inputs, targets = tokens(config)
    idx, target = lib.tensor(inputs, device=device), lib.tensor(targets, device=device)
    return _training_run(lib, optimizer, device, lambda _: model.loss(idx, target), steps)


def _paired(name: str, make: Callable[[ModuleType], Callable[[], float]], torch, rounds: int, scale: float) -> Result:
    fns = [("chainrule", make(cr))]
    if torch is not None:
        fns.append(("torch", make(torch)))
    samples = alternating_timer(fns, rounds=rounds, warmup=1)
    return result_from_samples(name, "ms", samples, scale=scale)


def run(device: str, torch: ModuleType | None, quick: bool, rounds: int) -> list[Result]:
    """Time each workload on ``device``; PyTorch (on CUDA) beside chainrule when ``torch`` is given."""
    torch_device = "cuda" if device.startswith("cuda") else "cpu"
    rng = np.random.default_rng(0)
    n_images = 4 * BATCH if quick else 60_000
    images = rng.random((n_images, 784), dtype=np.float32)
    labels = rng.integers(0, 10, n_images)
    mlp_batches = n_images // BATCH
    lenet_batches = 4 if quick else 100
    results = []

    def classifier(build, shape, batches):
        reference = build(torch) if torch is not None else None

        def make(lib):
            model = build(lib)
            if lib is cr and reference is not None:
                _copy_weights(model, reference)
            if lib is cr:
                return classifier_epoch(cr, model, images.reshape(shape), labels, batches, device)
            return classifier_epoch(lib, reference, images.reshape(shape), labels, batches, torch_device)

        return make

    mlp = classifier(_mlp, (-1, 784), mlp_batches)
    results.append(_paired(f"MLP epoch (784-800-800-10, {mlp_batches} batches of {BATCH})", mlp, torch, rounds, 1e3))
    lenet = classifier(_lenet, (-1, 1, 28, 28), lenet_batches)
    results.append(_paired(f"LeNet-5 ({lenet_batches} batches of {BATCH})", lenet, torch, rounds, 1e3))
    configs = [QUICK] if quick else [FULL, LARGE_GPT]
    steps = 2 if quick else 10
    for config in configs:
        reference = build_gpt(torch, config) if torch is not None else None

        def make(lib, config=config, reference=reference):
            if lib is cr:
                model = build_gpt(cr, config)
                if reference is not None:
                    _copy_weights(model, reference)
                return gpt_steps(cr, model, config, device, steps)
            return gpt_steps(lib, reference, config, torch_device, steps)

        results.append(_paired(f"GPT step ({config.describe()}, AdamW)", make, torch, rounds, 1e3 / steps))
    return results


def report(results: Sequence[Result], header: str = "") -> str:
    """The results as a Markdown table (median ms; ratio chainrule/PyTorch)."""
    rows = []
    for result in results:
        ours = result.summaries["chainrule"].median
        theirs = result.summaries.get("torch")
        ratio = result.ratios.get("torch")
        rows.append(
            [
                result.workload,
                f"{ours:.2f}",
                "-" if theirs is None else f"{theirs.median:.2f}",
                "-" if ratio is None else f"{ratio:.2f}",
            ]
        )
    table = markdown_table(["workload", "chainrule (ms)", "PyTorch (ms)", "ratio"], rows)
    return (header + "\n\n" if header else "") + table + "\n"


def _torch_on(device: str) -> ModuleType | None:
    try:
        import torch  # the oracle, optional: only for the side-by-side figures
    except ImportError:
        return None
    if device.startswith("cuda") and not torch.cuda.is_available():
        return None
    return torch


def main(argv: Sequence[str] | None = None) -> int:
    """Run the GPU benchmarks and print (or write) the Markdown report."""
    parser = argparse.ArgumentParser(prog="python -m chainrule.benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help='"cuda" (default), "cuda:N", or "fake" for a smoke run')
    parser.add_argument("--quick", action="store_true", help="tiny workloads (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 5, quick 1)")
    parser.add_argument("--no-torch", action="store_true", help="time chainrule alone")
    parser.add_argument("--out", default=None, help="write the Markdown report here too")
    args = parser.parse_args(argv)
    torch = None if args.no_torch else _torch_on(args.device)
    rounds = args.rounds or (1 if args.quick else 5)
    results = run(args.device, torch, args.quick, rounds)
    text = report(
        results, f"chainrule on {args.device}" + ("" if torch is None else f" beside PyTorch {torch.__version__}")
    )
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
