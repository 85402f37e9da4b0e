"""One training step of a small GPT, written as PyTorch users write it: chainrule vs PyTorch.

The model is minGPT's (token and position ``nn.Embedding``, pre-norm blocks of
``nn.LayerNorm``, hand-written causal self-attention with ``masked_fill`` and
``F.softmax``, an MLP with the tanh GELU spelled out through ``torch.pow(x,
3.0)``, dropout 0.1 everywhere minGPT puts it, a final ``LayerNorm`` and a
``Linear`` head), trained with ``F.cross_entropy`` and ``AdamW``. The same
source code builds the model in both frameworks (``build_gpt(lib, ...)``
takes the module ``torch`` or ``chainrule``); chainrule starts from PyTorch's
initial weights. Workload: 4 layers, d=256, 4 heads, T=128, batch 16, a
vocabulary of 256 tokens (``--quick``: 1 layer, d=32, T=16, batch 2).
Reported: ms per step (forward, backward, optimizer step) and the median of
the paired per-round ratios chainrule/torch.

    python -m chainrule.benchmarks.gpt            # full run
    python -m chainrule.benchmarks.gpt --quick    # smoke run
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np

import chainrule as cr
from chainrule.benchmarks._timing import Result, alternating_timer, result_from_samples
from chainrule.benchmarks.runner import Options, module_main


@dataclass(frozen=True)
class Config:
    """The model's sizes and the batch it trains on."""

    layers: int
    width: int
    heads: int
    length: int
    batch: int
    vocabulary: int = 256
    dropout: float = 0.1

    def describe(self) -> str:
        return f"{self.layers} layers, d={self.width}, {self.heads} heads, T={self.length}, batch {self.batch}"


FULL = Config(layers=4, width=256, heads=4, length=128, batch=16)
QUICK = Config(layers=1, width=32, heads=2, length=16, batch=2)


def build_gpt(lib: ModuleType, config: Config):
    """minGPT's model made of ``lib.nn`` (``lib`` is ``torch`` or ``chainrule``), with a ``loss`` method."""
    nn, F = lib.nn, lib.nn.functional

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + lib.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * lib.pow(x, 3.0))))

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(config.width, 3 * config.width)
            self.c_proj = nn.Linear(config.width, config.width)
            self.attn_dropout = nn.Dropout(config.dropout)
            self.resid_dropout = nn.Dropout(config.dropout)
            causal = lib.tril(lib.ones(config.length, config.length))
            self.register_buffer("bias", causal.view(1, 1, config.length, config.length))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(config.width, dim=2)
            heads = config.heads
            k = k.view(B, T, heads, C // heads).transpose(1, 2)
            q = q.view(B, T, heads, C // heads).transpose(1, 2)
            v = v.view(B, T, heads, C // heads).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            att = self.attn_dropout(att)
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.width)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(config.width)
            self.mlp = nn.ModuleDict(
                dict(
                    c_fc=nn.Linear(config.width, 4 * config.width),
                    c_proj=nn.Linear(4 * config.width, config.width),
                    act=NewGELU(),
                    dropout=nn.Dropout(config.dropout),
                )
            )

        def forward(self, x):
            m = self.mlp
            x = x + self.attn(self.ln_1(x))
            return x + m.dropout(m.c_proj(m.act(m.c_fc(self.ln_2(x)))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(config.vocabulary, config.width)
            self.wpe = nn.Embedding(config.length, config.width)
            self.drop = nn.Dropout(config.dropout)
            self.h = nn.ModuleList([Block() for _ in range(config.layers)])
            self.ln_f = nn.LayerNorm(config.width)
            self.lm_head = nn.Linear(config.width, config.vocabulary, bias=False)

        def forward(self, idx):
            _, t = idx.size()
            pos = lib.arange(0, t, dtype=lib.long, device=idx.device).unsqueeze(0)
            x = self.drop(self.wte(idx) + self.wpe(pos))
            for block in self.h:
                x = block(x)
            return self.lm_head(self.ln_f(x))

        def loss(self, idx, targets):
            logits = self(idx)
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    return GPT()


def tokens(config: Config, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random input tokens (batch, T) and their targets, the inputs shifted by one."""
    stream = np.random.default_rng(seed).integers(0, config.vocabulary, (config.batch, config.length + 1))
    return stream[:, :-1].copy(), stream[:, 1:].copy()


def training_step(lib: ModuleType, model, inputs: np.ndarray, targets: np.ndarray) -> Callable[[], None]:
    """Forward, backward and an AdamW step of ``model`` on one batch, in framework ``lib``."""
    optimizer = lib.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    idx, target = lib.tensor(inputs), lib.tensor(targets)
    model.train()

    def step() -> None:
        loss = model.loss(idx, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def models(config: Config, torch: ModuleType | None):
    """chainrule's model, and torch's (None without torch) whose initial weights chainrule's copies."""
    ours = build_gpt(cr, config)
    if torch is None:
        return ours, None
    theirs = build_gpt(torch, config)
    ours.load_state_dict({name: value.detach().numpy() for name, value in theirs.state_dict().items()})
    return ours, theirs


def memory_workload(framework: str, quick: bool) -> Callable[[], None]:
    """Two training steps (the second with AdamW's state allocated) in ``framework`` alone, for ``memory``.

    Only the "torch" workload imports PyTorch; chainrule's model keeps its own initial weights.
    """
    lib = cr
    if framework == "torch":
        import torch as lib
    config = QUICK if quick else FULL
    inputs, targets = tokens(config)
    step = training_step(lib, build_gpt(lib, config), inputs, targets)

    def two_steps() -> None:
        step()
        step()

    return two_steps


def run(options: Options) -> list[Result]:
    """Milliseconds per training step, chainrule and torch alternating."""
    config = QUICK if options.quick else FULL
    inputs, targets = tokens(config)
    ours, theirs = models(config, options.torch)
    fns = [("chainrule", training_step(cr, ours, inputs, targets))]
    if theirs is not None:
        fns.append(("torch", training_step(options.torch, theirs, inputs, targets)))
    samples = alternating_timer(fns, rounds=options.rounds_or(2, 10), warmup=1)
    name = f"GPT training step ({config.describe()}, AdamW)"
    return [result_from_samples(name, "ms", samples, scale=1e3, target="gpt-step")]


def main(argv: Sequence[str] | None = None) -> int:
    """Time the GPT step and print the report."""
    return module_main(__spec__.name, __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
