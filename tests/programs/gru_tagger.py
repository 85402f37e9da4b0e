"""A sequence tagger: nn.Embedding(padding_idx) + nn.GRU + Linear, padded batches, CrossEntropyLoss(ignore_index)."""

import argparse

import numpy as np
import torch
import torch.nn as nn

PAD = 0
IGNORE = -100
VOCAB, TAGS = 10, 3


def tagged_batch(rng, batch_size, max_len):
    """Token sequences of random lengths, padded with PAD; the tag of a token is the previous token mod 3."""
    tokens = np.full((batch_size, max_len), PAD)
    tags = np.full((batch_size, max_len), IGNORE)
    for row, length in enumerate(rng.integers(3, max_len + 1, batch_size)):
        sequence = rng.integers(1, VOCAB, length)
        tokens[row, :length] = sequence
        tags[row, :length] = np.concatenate([[0], sequence[:-1] % TAGS])
    return torch.from_numpy(tokens).long(), torch.from_numpy(tags).long()


class Tagger(nn.Module):
    def __init__(self, embed=16, hidden=32):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, embed, padding_idx=PAD)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.classifier = nn.Linear(hidden, TAGS)

    def forward(self, tokens):
        output, _ = self.gru(self.embedding(tokens))
        return self.classifier(output)


def main():
    parser = argparse.ArgumentParser(description="GRU tagger")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    model = Tagger().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss(ignore_index=IGNORE)
    for step in range(1, args.steps + 1):
        tokens, tags = (t.to(device) for t in tagged_batch(rng, args.batch_size, args.max_len))
        logits = model(tokens)
        loss = criterion(logits.view(-1, TAGS), tags.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")

    tokens, tags = (t.to(device) for t in tagged_batch(rng, 256, args.max_len))
    with torch.no_grad():
        predicted = model(tokens).argmax(-1)
    real = tags != IGNORE
    print(f"tag accuracy {(predicted[real] == tags[real]).float().mean().item():.4f}")


if __name__ == "__main__":
    main()
