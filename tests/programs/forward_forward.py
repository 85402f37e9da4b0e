"""Hinton's forward-forward algorithm: each layer learns locally to give positive data high goodness, negative low."""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES, FEATURES = 4, 16


def overlay_label(x, labels):
    """x with its first CLASSES features replaced by the one-hot label (the scaled max of the inputs)."""
    x = x.clone()
    x[:, :CLASSES] = 0.0
    x[range(x.shape[0]), labels] = x.max()
    return x


class FFLayer(nn.Linear):
    def __init__(self, in_features, out_features, lr, threshold=2.0):
        super().__init__(in_features, out_features)
        self.relu = nn.ReLU()
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)
        self.threshold = threshold

    def forward(self, x):
        x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
        return self.relu(torch.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

    def train_step(self, x_pos, x_neg):
        g_pos = self.forward(x_pos).pow(2).mean(1)
        g_neg = self.forward(x_neg).pow(2).mean(1)
        loss = F.softplus(torch.cat([-g_pos + self.threshold, g_neg - self.threshold])).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return self.forward(x_pos).detach(), self.forward(x_neg).detach(), loss.item()


class FFNet(nn.Module):
    def __init__(self, dims, lr):
        super().__init__()
        self.layers = nn.ModuleList([FFLayer(dims[d], dims[d + 1], lr) for d in range(len(dims) - 1)])

    def train_step(self, x_pos, x_neg):
        total = 0.0
        for layer in self.layers:
            x_pos, x_neg, loss = layer.train_step(x_pos, x_neg)
            total += loss
        return total

    @torch.no_grad()
    def predict(self, x):
        goodness_per_label = []
        for label in range(CLASSES):
            h = overlay_label(x, torch.full((x.shape[0],), label, dtype=torch.long))
            goodness = []
            for layer in self.layers:
                h = layer(h)
                goodness.append(h.pow(2).mean(1))
            goodness_per_label.append(sum(goodness).unsqueeze(1))
        return torch.cat(goodness_per_label, 1).argmax(1)


def main():
    parser = argparse.ArgumentParser(description="forward-forward training")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 1, (CLASSES, FEATURES))
    labels_np = rng.integers(0, CLASSES, 256)
    x = torch.tensor(centers[labels_np] + rng.normal(0, 0.3, (256, FEATURES)), dtype=torch.float32).to(device)
    y = torch.from_numpy(labels_np).to(device)
    x_pos = overlay_label(x, y)

    net = FFNet([FEATURES, 64, 64], args.lr).to(device)
    for step in range(1, args.steps + 1):
        wrong = (y + torch.randint(1, CLASSES, y.shape, device=device)) % CLASSES
        loss = net.train_step(x_pos, overlay_label(x, wrong))
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss:.6f}")
    accuracy = (net.predict(x) == y).float().mean().item()
    print(f"train accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
