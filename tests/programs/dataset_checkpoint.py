"""A custom Dataset + DataLoader(shuffle=True), an lr scheduler, and a torch.save / torch.load state_dict round trip."""

import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset


class NoisyPlane(Dataset):
    """Samples (x, y) with y = x . w + b + noise: a linear regression problem with 8 features."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(0, 1, (n, 8)).astype(np.float32)
        weights = np.linspace(-1, 1, 8).astype(np.float32)
        self.y = (self.x @ weights + 0.5 + rng.normal(0, 0.1, n)).astype(np.float32)[:, None]

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return torch.from_numpy(self.x[index]), torch.from_numpy(self.y[index])


def make_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))


def main():
    parser = argparse.ArgumentParser(description="custom Dataset, DataLoader, scheduler and checkpoint")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--checkpoint", default="model.pt")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    loader = DataLoader(NoisyPlane(256, seed=0), batch_size=args.batch_size, shuffle=True)
    model = make_model().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    loss_fn = nn.MSELoss()

    step = 0
    while step < args.steps:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % args.log_interval == 0 or step == 1:
                print(f"step {step} loss {loss.item():.6f} lr {scheduler.get_last_lr()[0]:.4f}")
            if step == args.steps:
                break
        scheduler.step()

    torch.save(model.state_dict(), args.checkpoint)
    restored = make_model().to(device)
    restored.load_state_dict(torch.load(args.checkpoint))
    restored.eval()
    model.eval()
    probe = torch.randn(5, 8, device=device)
    with torch.no_grad():
        difference = (restored(probe) - model(probe)).abs().max().item()
    print(f"restored max difference {difference:.3g}")
    assert difference == 0.0


if __name__ == "__main__":
    main()
