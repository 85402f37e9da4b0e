"""A two-class spiral classifier: nn.Sequential MLP, CrossEntropyLoss, SGD with momentum, full batch."""

import argparse

import numpy as np
import torch
import torch.nn as nn


def make_spirals(n, rng):
    """n points on two interleaved spirals in the plane; labels 0 and 1."""
    turn = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    label = rng.integers(0, 2, n)
    radius = turn / (3 * np.pi)
    angle = turn + label * np.pi
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    points += rng.normal(0, 0.02, points.shape)
    return points.astype(np.float32), label.astype(np.int64)


def main():
    parser = argparse.ArgumentParser(description="MLP on two spirals")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    points, labels = make_spirals(400, np.random.default_rng(0))
    x = torch.from_numpy(points).to(device)
    y = torch.from_numpy(labels).to(device)

    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()

    for step in range(1, args.steps + 1):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")

    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    print(f"train accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
