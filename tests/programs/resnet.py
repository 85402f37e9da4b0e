"""A small ResNet (conv-BN-ReLU blocks with residual adds) on synthetic 3x8x8 images; eval() + no_grad() testing."""

import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, stride=2)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.linear = nn.Linear(16, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer2(self.layer1(out))
        return self.linear(torch.flatten(self.pool(out), 1))


def colour_patterns(n, rng, templates):
    labels = rng.integers(0, len(templates), n)
    images = templates[labels] + rng.normal(0, 0.8, (n, 3, 8, 8))
    return torch.from_numpy(images.astype(np.float32)), torch.from_numpy(labels)


def evaluate(model, images, labels):
    model.eval()
    with torch.no_grad():
        logits = model(images)
        loss = F.cross_entropy(logits, labels).item()
        accuracy = (logits.argmax(1) == labels).float().mean().item()
    model.train()
    return loss, accuracy


def main():
    parser = argparse.ArgumentParser(description="ResNet blocks on synthetic images")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    templates = rng.normal(0, 1, (4, 3, 8, 8))
    train_x, train_y = colour_patterns(512, rng, templates)
    test_x, test_y = colour_patterns(256, rng, templates)
    train_x, train_y, test_x, test_y = (t.to(device) for t in (train_x, train_y, test_x, test_y))

    model = ResNet().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    model.train()
    for step in range(1, args.steps + 1):
        index = torch.randint(0, len(train_x), (args.batch_size,))
        loss = F.cross_entropy(model(train_x[index]), train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f}")

    test_loss, accuracy = evaluate(model, test_x, test_y)
    print(f"test loss {test_loss:.4f} accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
