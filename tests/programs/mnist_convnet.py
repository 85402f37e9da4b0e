"""The PyTorch MNIST example's convnet, train/test loop and flags, on synthetic 14x14 digit-like images.

No dataset can be downloaded here, so the "digits" are ten fixed random stroke
patterns (NumPy seed 0) with pixel noise and random shifts of one pixel.
"""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


def synthetic_digits(n, rng, prototypes):
    """n images (n, 1, 14, 14) in [0, 1]: a shifted, noisy copy of one of the prototypes; and its class."""
    labels = rng.integers(0, 10, n)
    images = prototypes[labels]
    shifts = rng.integers(-1, 2, (n, 2))
    images = np.stack([np.roll(image, tuple(shift), axis=(0, 1)) for image, shift in zip(images, shifts)])
    images = np.clip(images + rng.normal(0, 0.3, images.shape), 0, 1)
    return images[:, None].astype(np.float32), labels.astype(np.int64)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 5 * 5, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def train(args, model, device, train_loader, optimizer, step):
    model.train()
    for data, target in train_loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        step += 1
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")
        if step == args.steps:
            break
    return step


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print(f"test loss {test_loss:.4f} accuracy {correct / len(test_loader.dataset):.4f}")


def main():
    parser = argparse.ArgumentParser(description="PyTorch MNIST-style example (synthetic digits)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--test-batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200, help="training batches in all")
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7, help="learning rate step gamma (per epoch)")
    parser.add_argument("--no-cuda", action="store_true", default=False)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    use_cuda = not args.no_cuda and torch.cuda.is_available()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if use_cuda else "cpu")

    rng = np.random.default_rng(0)
    prototypes = (rng.uniform(0, 1, (10, 14, 14)) > 0.7).astype(np.float32)
    train_set = TensorDataset(*map(torch.from_numpy, synthetic_digits(512, rng, prototypes)))
    test_set = TensorDataset(*map(torch.from_numpy, synthetic_digits(256, rng, prototypes)))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    step = 0
    while step < args.steps:
        step = train(args, model, device, train_loader, optimizer, step)
        test(model, device, test_loader)
        scheduler.step()


if __name__ == "__main__":
    main()
