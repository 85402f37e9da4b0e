"""A character-level LSTM language model that samples text with torch.multinomial."""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TEXT = ("the quick brown fox jumps over the lazy dog. a stitch in time saves nine. all that glitters is not gold. ") * 8


class CharRNN(nn.Module):
    def __init__(self, vocab_size, embed_size=16, hidden_size=64, num_layers=1):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        output, state = self.lstm(self.embed(tokens), state)
        return self.head(output), state


@torch.no_grad()
def sample(model, start, length, stoi, itos, device, temperature=0.8):
    model.eval()
    tokens = torch.tensor([[stoi[c] for c in start]], dtype=torch.long, device=device)
    logits, state = model(tokens)
    text = start
    for _ in range(length):
        probs = F.softmax(logits[:, -1] / temperature, dim=-1)
        next_token = torch.multinomial(probs, num_samples=1)
        text += itos[next_token.item()]
        logits, state = model(next_token, state)
    model.train()
    return text


def main():
    parser = argparse.ArgumentParser(description="char-RNN (LSTM)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chars = sorted(set(TEXT))
    stoi = {c: i for i, c in enumerate(chars)}
    itos = {i: c for c, i in stoi.items()}
    data = torch.tensor([stoi[c] for c in TEXT], dtype=torch.long)
    batch_starts = np.random.default_rng(0)  # the same batches for every run

    model = CharRNN(len(chars)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    for step in range(1, args.steps + 1):
        starts = batch_starts.integers(0, len(data) - args.seq_len - 1, args.batch_size)
        x = torch.stack([data[s : s + args.seq_len] for s in starts]).to(device)
        y = torch.stack([data[s + 1 : s + args.seq_len + 1] for s in starts]).to(device)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")

    print("sample:", repr(sample(model, "the ", 40, stoi, itos, device)))


if __name__ == "__main__":
    main()
