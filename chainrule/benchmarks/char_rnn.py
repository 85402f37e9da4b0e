"""Character-level LSTM training step, chainrule vs PyTorch, alternating in one run.

The model (built by the same code from either framework's ``nn``):
Embedding(65, 64) -> LSTM(64, 256, batch_first) -> Linear(256, 65), the
next-character logits of every position. A training step is softmax
cross-entropy over all N x T positions, backward through time, gradient
clipping to norm 1 (``clip_grad_norm_``) and an Adam step, on batches of 32
sequences of 64 characters. torch's copy starts from chainrule's initial
weights (through ``state_dict``); both see the same random characters. A round
is ``STEPS`` training steps per framework. Reported: ms per step and the median
of the paired per-round ratio chainrule/torch. ``--quick``: a tiny model on 2
sequences of 5.

    python -m chainrule.benchmarks.char_rnn            # full run
    python -m chainrule.benchmarks.char_rnn --quick    # smoke run
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import NamedTuple

import numpy as np

import chainrule as cr
from chainrule.benchmarks._timing import Result, alternating_timer, result_from_samples
from chainrule.benchmarks.runner import Options, module_main

VOCABULARY, LR, MAX_NORM = 65, 2e-3, 1.0


class Size(NamedTuple):
    """The model's and the batch's dimensions."""

    embedding: int
    hidden: int
    batch: int
    length: int
    steps: int  # training steps per round


FULL, QUICK = Size(64, 256, 32, 64, 3), Size(8, 16, 2, 5, 1)


def char_rnn(framework: ModuleType, size: Size):
    """Embedding -> LSTM -> Linear from ``framework.nn`` (chainrule or torch): tokens (N, T) -> logits (N, T, V)."""
    nn = framework.nn

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCABULARY, size.embedding)
            self.lstm = nn.LSTM(size.embedding, size.hidden, batch_first=True)
            self.head = nn.Linear(size.hidden, VOCABULARY)

        def forward(self, tokens):
            states, _ = self.lstm(self.embedding(tokens))
            return self.head(states)

    return CharRNN()


def models(torch: ModuleType | None, size: Size, seed: int = 0):
    """chainrule's model and, with ``torch``, its copy in PyTorch (same weights); else (model, None)."""
    cr.manual_seed(seed)
    ours = char_rnn(cr, size)
    if torch is None:
        return ours, None
    theirs = char_rnn(torch, size)
    theirs.load_state_dict({name: torch.from_numpy(value.numpy().copy()) for name, value in ours.state_dict().items()})
    return ours, theirs


def training_steps(framework: ModuleType, model, text: np.ndarray, steps: int) -> Callable:
    """``steps`` Adam steps on predicting ``text[:, 1:]`` from ``text[:, :-1]``; the same code for both frameworks."""
    optimizer = framework.optim.Adam(model.parameters(), lr=LR)
    inputs = framework.from_numpy(np.ascontiguousarray(text[:, :-1]))
    targets = framework.from_numpy(np.ascontiguousarray(text[:, 1:]).reshape(-1))
    cross_entropy = framework.nn.functional.cross_entropy
    clip = framework.nn.utils.clip_grad_norm_

    def run() -> None:
        for _ in range(steps):
            logits = model(inputs)
            loss = cross_entropy(logits.reshape(-1, VOCABULARY), targets)
            optimizer.zero_grad()
            loss.backward()
            clip(model.parameters(), MAX_NORM)
            optimizer.step()

    return run


def run(options: Options) -> list[Result]:
    """Milliseconds per training step of the character LSTM, the frameworks alternating."""
    size = QUICK if options.quick else FULL
    text = np.random.default_rng(0).integers(0, VOCABULARY, (size.batch, size.length + 1))
    ours, theirs = models(options.torch, size)
    fns = [("chainrule", training_steps(cr, ours, text, size.steps))]
    if theirs is not None:
        fns.append(("torch", training_steps(options.torch, theirs, text, size.steps)))
    samples = alternating_timer(fns, rounds=options.rounds_or(2, 7), warmup=1)
    workload = f"char-RNN LSTM({size.embedding},{size.hidden}) training, batch {size.batch} of {size.length} characters"
    return [result_from_samples(workload, "ms/batch", samples, scale=1e3 / size.steps, target="char-rnn")]


def main(argv: Sequence[str] | None = None) -> int:
    """Time the character LSTM's training and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
