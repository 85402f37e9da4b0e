"""A variational autoencoder on 8x8 bar images: the reparameterisation trick, loss = BCE + KL."""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def bar_images(n, rng):
    """n flattened 8x8 images, each one horizontal and one vertical bar at random rows/columns, lightly blurred."""
    images = np.zeros((n, 8, 8), dtype=np.float32)
    rows, cols = rng.integers(0, 8, n), rng.integers(0, 8, n)
    images[np.arange(n), rows, :] = 1.0
    images[np.arange(n), :, cols] = 1.0
    return np.clip(images * 0.9 + 0.05, 0, 1).reshape(n, 64)


class VAE(nn.Module):
    def __init__(self, latent=4, hidden=64):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc_mu = nn.Linear(hidden, latent)
        self.fc_logvar = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, 64)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Negative ELBO summed over the batch: reconstruction BCE + KL(q(z|x) || N(0, I))."""
    bce = F.binary_cross_entropy(recon_x, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    parser = argparse.ArgumentParser(description="VAE on bar images")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = torch.from_numpy(bar_images(512, np.random.default_rng(0))).to(device)
    model = VAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    model.train()
    for step in range(1, args.steps + 1):
        batch = data[torch.randperm(len(data))[: args.batch_size]]
        recon, mu, logvar = model(batch)
        loss = loss_function(recon, batch, mu, logvar)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item() / len(batch):.6f}")

    model.eval()
    with torch.no_grad():
        samples = model.decode(torch.randn(16, 4, device=device))
    print(f"sample pixel mean {samples.mean().item():.4f}")


if __name__ == "__main__":
    main()
