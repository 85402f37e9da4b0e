"""ResNet-style training step, chainrule vs PyTorch: conv-BN-ReLU blocks with residual adds, alternating in one run.

The network (built by the same code from either framework's ``nn``): a 3x3
stem convolution to 16 channels, then three stages of basic residual blocks
(two 3x3 conv-BN layers, ReLU, the input added back; widths 16, 32, 64, the
later stages entering with a stride-2 convolution and a 1x1 conv-BN shortcut),
global average pooling and a linear classifier, on 32 x 32 RGB images (CIFAR's
geometry) in batches of 64. Training: softmax cross-entropy, SGD with momentum
0.9 and weight decay, BatchNorm in training mode. torch's copy starts from
chainrule's initial weights (through ``state_dict``); both see the same random
images and labels. A round is ``STEPS`` training steps per framework.
Reported: ms per step and the median of the paired per-round ratio
chainrule/torch. ``--quick``: two stages of width 4 and 8 on 2 images of 8 x 8.

    python -m chainrule.benchmarks.resnet            # full run
    python -m chainrule.benchmarks.resnet --quick    # smoke run
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

import chainrule as cr
from chainrule.benchmarks._timing import Result, alternating_timer, result_from_samples
from chainrule.benchmarks.runner import Options, module_main

BATCH, SIDE, WIDTHS, CLASSES = 64, 32, (16, 32, 64), 10
QUICK_BATCH, QUICK_SIDE, QUICK_WIDTHS = 2, 8, (4, 8)
STEPS, QUICK_STEPS = 3, 1
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4


def conv_bn(nn: ModuleType, cin: int, cout: int, kernel: int, stride: int):
    """A bias-free ``kernel`` x ``kernel`` convolution ("same" padding for stride 1) and its BatchNorm2d."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout))


def resnet(framework: ModuleType, widths: Sequence[int]):
    """The residual network of the module docstring, built from ``framework.nn`` (chainrule or torch)."""
    nn = framework.nn

    class BasicBlock(nn.Module):
        """relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)); the shortcut is a 1x1 conv-BN when the shape changes."""

        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.first = conv_bn(nn, cin, cout, 3, stride)
            self.second = conv_bn(nn, cout, cout, 3, 1)
            self.shortcut = nn.Identity() if stride == 1 and cin == cout else conv_bn(nn, cin, cout, 1, stride)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.second(self.relu(self.first(x))) + self.shortcut(x))

    layers = [conv_bn(nn, 3, widths[0], 3, 1), nn.ReLU()]
    for stage, width in enumerate(widths):
        cin = widths[max(stage - 1, 0)]
        layers.append(BasicBlock(cin, width, 1 if stage == 0 else 2))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1], CLASSES)]
    return nn.Sequential(*layers)


def models(torch: ModuleType | None, widths: Sequence[int], seed: int = 0):
    """chainrule's network and, with ``torch``, its copy in PyTorch (same weights and buffers); else (model, None)."""
    cr.manual_seed(seed)
    ours = resnet(cr, widths)
    if torch is None:
        return ours, None
    theirs = resnet(torch, widths)
    theirs.load_state_dict({name: torch.from_numpy(value.numpy().copy()) for name, value in ours.state_dict().items()})
    return ours, theirs


def training_steps(framework: ModuleType, model, images: np.ndarray, labels: np.ndarray, steps: int) -> Callable:
    """``steps`` SGD-with-momentum steps of ``model`` on one batch; the same code for chainrule and torch."""
    optimizer = framework.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    x, y = framework.from_numpy(images), framework.from_numpy(labels)
    cross_entropy = framework.nn.functional.cross_entropy
    model.train()

    def run() -> None:
        for _ in range(steps):
            loss = cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return run


def run(options: Options) -> list[Result]:
    """Milliseconds per training step of the residual network, the frameworks alternating."""
    quick = options.quick
    batch, side, widths = (QUICK_BATCH, QUICK_SIDE, QUICK_WIDTHS) if quick else (BATCH, SIDE, WIDTHS)
    steps = QUICK_STEPS if quick else STEPS
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 3, side, side)).astype(np.float32)
    labels = rng.integers(0, CLASSES, batch)
    ours, theirs = models(options.torch, widths)
    fns = [("chainrule", training_steps(cr, ours, images, labels, steps))]
    if theirs is not None:
        fns.append(("torch", training_steps(options.torch, theirs, images, labels, steps)))
    samples = alternating_timer(fns, rounds=options.rounds_or(2, 7), warmup=1)
    stages = "-".join(str(width) for width in widths)
    workload = f"ResNet blocks {stages} training, batch {batch} of {side}x{side}"
    return [result_from_samples(workload, "ms/batch", samples, scale=1e3 / steps, target="resnet")]


def main(argv: Sequence[str] | None = None) -> int:
    """Time the residual network's training and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
