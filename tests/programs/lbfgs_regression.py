"""Curve fitting with optim.LBFGS and a closure (strong Wolfe line search): a small MLP fits sin(3x)."""

import argparse

import numpy as np
import torch
import torch.nn as nn


def main():
    parser = argparse.ArgumentParser(description="regression with L-BFGS")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    x_np = np.sort(rng.uniform(-1, 1, (128, 1)), axis=0)
    y_np = np.sin(3 * x_np) + rng.normal(0, 0.05, x_np.shape)
    x = torch.tensor(x_np, dtype=torch.float32, device=device)
    y = torch.tensor(y_np, dtype=torch.float32, device=device)

    model = nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 1)).to(device)
    optimizer = torch.optim.LBFGS(
        model.parameters(), lr=args.lr, max_iter=5, history_size=10, line_search_fn="strong_wolfe"
    )
    loss_fn = nn.MSELoss()

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    for step in range(1, args.steps + 1):
        loss = optimizer.step(closure)
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")
    print(f"final loss {closure().item():.6f}")


if __name__ == "__main__":
    main()
