"""A small GPT: a decoder-only transformer trained on the same page of the notes.

Notes 002 list attention layers and residual layers; a GPT stacks blocks of both.
Each block is pre-norm: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)).
Attention is causal (position t sees positions <= t), so the model predicts each
next character from the ones before it, all positions at once. The attention is
written out with ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``.
A check compares it with the masked softmax(Q K^T / sqrt(E)) V written by hand.
"""

import math

from _common import CharCorpus, Tutorial, notes_text

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


class CausalSelfAttention(nn.Module):
    """x (N, T, C) -> (N, T, C): ``heads`` heads of C / heads dimensions, each position attending to the past."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        N, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.reshape(N, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))  # (N, H, T, E)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(N, T, C))


class Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """ids (N, T) with T <= block -> next-token logits (N, T, V)."""

    def __init__(self, vocabulary: int, block: int, width: int = 64, heads: int = 4, layers: int = 2):
        super().__init__()
        self.token = nn.Embedding(vocabulary, width)
        self.position = nn.Embedding(block, width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocabulary)

    def forward(self, ids):
        positions = cr.arange(ids.shape[1])
        x = self.token(ids) + self.position(positions)
        return self.head(self.ln(self.blocks(x)))


def attention_by_hand(q, k, v):
    """softmax(Q K^T / sqrt(E) + M) V with M = -inf above the diagonal."""
    T = q.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    future = cr.triu(cr.ones(T, T, dtype=cr.bool), diagonal=1)
    return cr.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v


@cr.no_grad()
def generate(model, corpus: CharCorpus, prompt: str, length: int, generator) -> str:
    model.eval()
    ids = cr.tensor([[corpus.index[c] for c in prompt]])
    for _ in range(length):
        logits = model(ids[:, -corpus.block :])[0, -1]
        nxt = cr.multinomial(cr.softmax(logits / 0.7, dim=-1), 1, generator=generator)
        ids = cr.cat([ids, nxt[None, :]], dim=1)
    return corpus.decode(ids[0].tolist())


def main():
    out = Tutorial("small_gpt")
    cr.manual_seed(0)
    q, k, v = (cr.randn(2, 4, 6, 8, dtype=cr.float64) for _ in range(3))
    difference = (F.scaled_dot_product_attention(q, k, v, is_causal=True) - attention_by_hand(q, k, v)).abs().max()
    out.check(difference.item() < 1e-12, "causal scaled_dot_product_attention is the masked softmax by hand")

    corpus = CharCorpus(notes_text(), block=32)
    model = GPT(corpus.vocabulary, corpus.block)
    count = sum(p.numel() for p in model.parameters())
    out.print(f"GPT: 2 blocks, width 64, 4 heads, context 32, {count:,} parameters; alphabet of {corpus.vocabulary}")
    optimizer = cr.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    generator = cr.Generator().manual_seed(0)
    chance = math.log(corpus.vocabulary)
    for step in range(1, 201):
        inputs, targets = corpus.batch(32, generator)
        loss = F.cross_entropy(model(inputs).reshape(-1, corpus.vocabulary), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in (1, 50, 100, 200):
            out.print(f"step {step:3d}: loss {loss.item():.3f} nats/char (uniform guessing: {chance:.3f})")
    out.check(loss.item() < 0.6 * chance, "the model predicts the next character far better than chance")
    out.print("sample:", repr(generate(model, corpus, "The ", 100, cr.Generator().manual_seed(1))))
    out.finish()


if __name__ == "__main__":
    main()
