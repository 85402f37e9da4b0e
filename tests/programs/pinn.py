"""A physics-informed network: torch.autograd.grad(create_graph=True) puts du/dx in the loss of u' = -u, u(0) = 1."""

import argparse
import math

import numpy as np
import torch
import torch.nn as nn


def main():
    parser = argparse.ArgumentParser(description="PINN for u' = -u on [0, 2]")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    points = np.random.default_rng(0).uniform(0, 2, (64, 1))
    x = torch.tensor(points, dtype=torch.float32, device=device).requires_grad_(True)
    x0 = torch.zeros(1, 1, device=device)

    net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    for step in range(1, args.steps + 1):
        u = net(x)
        (du_dx,) = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)
        residual = du_dx + u
        loss = residual.pow(2).mean() + (net(x0) - 1.0).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")

    with torch.no_grad():
        grid = torch.linspace(0, 2, 21, device=device).unsqueeze(1)
        error = (net(grid) - torch.exp(-grid)).abs().max().item()
    print(f"max error against exp(-x) {error:.4f} (u(2) should be {math.exp(-2):.4f})")


if __name__ == "__main__":
    main()
