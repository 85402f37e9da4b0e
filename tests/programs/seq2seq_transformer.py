"""Sequence-to-sequence with nn.Transformer: learn to reverse a sequence of tokens (teacher forcing, greedy decoding)."""

import argparse
import math

import numpy as np
import torch
import torch.nn as nn

PAD, BOS = 0, 1
FIRST_TOKEN, VOCAB = 2, 12


class Seq2Seq(nn.Module):
    def __init__(self, vocab, d_model=32, nhead=2, layers=1, max_len=16):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab, d_model, padding_idx=PAD)
        self.pos = nn.Parameter(torch.randn(1, max_len, d_model) * 0.02)
        self.transformer = nn.Transformer(
            d_model=d_model,
            nhead=nhead,
            num_encoder_layers=layers,
            num_decoder_layers=layers,
            dim_feedforward=64,
            dropout=0.0,
            batch_first=True,
        )
        self.out = nn.Linear(d_model, vocab)

    def embed_tokens(self, tokens):
        return self.embed(tokens) * math.sqrt(self.d_model) + self.pos[:, : tokens.size(1)]

    def forward(self, src, tgt):
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(1)).to(src.device)
        hidden = self.transformer(self.embed_tokens(src), self.embed_tokens(tgt), tgt_mask=tgt_mask)
        return self.out(hidden)


def reversal_batch(rng, batch_size, length):
    src = rng.integers(FIRST_TOKEN, VOCAB, (batch_size, length))
    tgt = src[:, ::-1]
    decoder_in = np.concatenate([np.full((batch_size, 1), BOS), tgt[:, :-1]], axis=1)
    return [torch.from_numpy(np.ascontiguousarray(a)).long() for a in (src, decoder_in, tgt)]


@torch.no_grad()
def greedy_decode(model, src):
    decoded = torch.full((src.size(0), 1), BOS, dtype=torch.long, device=src.device)
    for _ in range(src.size(1)):
        next_token = model(src, decoded)[:, -1].argmax(-1, keepdim=True)
        decoded = torch.cat([decoded, next_token], dim=1)
    return decoded[:, 1:]


def main():
    parser = argparse.ArgumentParser(description="nn.Transformer learns to reverse sequences")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--length", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    model = Seq2Seq(VOCAB).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)

    model.train()
    for step in range(1, args.steps + 1):
        src, decoder_in, tgt = (t.to(device) for t in reversal_batch(rng, args.batch_size, args.length))
        logits = model(src, decoder_in)
        loss = criterion(logits.reshape(-1, VOCAB), tgt.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")

    model.eval()
    src, _, tgt = (t.to(device) for t in reversal_batch(rng, 64, args.length))
    accuracy = (greedy_decode(model, src) == tgt).float().mean().item()
    print(f"token accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
