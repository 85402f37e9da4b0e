"""One training step of a variational auto-encoder on 28x28 images: chainrule vs PyTorch.

The model is PyTorch's VAE example: an MLP encoder 784-400-(20, 20) giving
the mean and log-variance of q(z|x), the reparameterisation z = mu + eps
exp(logvar / 2) with eps ~ N(0, I) (``randn_like``), an MLP decoder 20-400-784
with a sigmoid output, and the loss BCE(x_hat, x, sum) + KL(q(z|x) || N(0, I)),
trained with Adam (lr 1e-3). The same source builds the model in both
frameworks (``build_vae(lib)``); chainrule starts from PyTorch's initial
weights. Batch 128 of random images in [0, 1] (``--quick``: batch 16).
Reported: ms per step and the median of the paired per-round ratios.

    python -m chainrule.benchmarks.vae            # full run
    python -m chainrule.benchmarks.vae --quick    # smoke run
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

import chainrule as cr
from chainrule.benchmarks._timing import Result, alternating_timer, result_from_samples
from chainrule.benchmarks.runner import Options, module_main

IMAGE, HIDDEN, LATENT = 784, 400, 20


def build_vae(lib: ModuleType):
    """PyTorch's example VAE made of ``lib.nn`` (``lib`` is ``torch`` or ``chainrule``), with a ``loss`` method."""
    nn, F = lib.nn, lib.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(IMAGE, HIDDEN)
            self.fc21 = nn.Linear(HIDDEN, LATENT)
            self.fc22 = nn.Linear(HIDDEN, LATENT)
            self.fc3 = nn.Linear(LATENT, HIDDEN)
            self.fc4 = nn.Linear(HIDDEN, IMAGE)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = lib.exp(0.5 * logvar)
            eps = lib.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            return lib.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, IMAGE))
            return self.decode(self.reparameterize(mu, logvar)), mu, logvar

        def loss(self, x):
            recon, mu, logvar = self(x)
            bce = F.binary_cross_entropy(recon, x.view(-1, IMAGE), reduction="sum")
            kld = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
            return bce + kld

    return VAE()


def training_step(lib: ModuleType, model, images: np.ndarray) -> Callable[[], None]:
    """Forward, backward and an Adam step of ``model`` on one batch, in framework ``lib``."""
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(images)
    model.train()

    def step() -> None:
        optimizer.zero_grad()
        loss = model.loss(x)
        loss.backward()
        optimizer.step()

    return step


def run(options: Options) -> list[Result]:
    """Milliseconds per training step, chainrule and torch alternating."""
    batch = 16 if options.quick else 128
    images = np.random.default_rng(0).random((batch, 1, 28, 28), dtype=np.float32)
    ours, torch = build_vae(cr), options.torch
    theirs = build_vae(torch) if torch is not None else None
    if theirs is not None:
        ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    fns = [("chainrule", training_step(cr, ours, images))]
    if theirs is not None:
        fns.append(("torch", training_step(torch, theirs, images)))
    samples = alternating_timer(fns, rounds=options.rounds_or(3, 20), warmup=2)
    name = f"VAE training step (784-400-20, batch {batch}, Adam)"
    return [result_from_samples(name, "ms", samples, scale=1e3, target="vae-step")]


def main(argv: Sequence[str] | None = None) -> int:
    """Time the VAE step and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
