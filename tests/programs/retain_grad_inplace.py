"""A network trained by hand: raw tensors, retain_grad() on a hidden layer, in-place ops on activations and weights."""

import argparse

import numpy as np
import torch


def main():
    parser = argparse.ArgumentParser(description="hand-written training loop with retain_grad and in-place ops")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.uniform(-1, 1, (200, 2)), dtype=torch.float32, device=device)
    y = ((x[:, 0] * x[:, 1]) > 0).float().unsqueeze(1)  # XOR of the signs

    w1 = torch.empty(2, 32, device=device)
    torch.nn.init.kaiming_uniform_(w1, a=5**0.5)
    w1.requires_grad_()
    b1 = torch.zeros(32, device=device, requires_grad=True)
    w2 = (torch.randn(32, 1, device=device) * 0.1).requires_grad_()
    b2 = torch.zeros(1, device=device, requires_grad=True)
    params = [w1, b1, w2, b2]

    for step in range(1, args.steps + 1):
        pre = x @ w1 + b1
        pre.retain_grad()
        hidden = pre.clone()
        hidden.relu_()  # in place on a non-leaf: differentiated through
        logits = hidden @ w2
        logits.add_(b2)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.sub_(args.lr * p.grad)
                p.grad.zero_()
        if step % args.log_interval == 0 or step == 1:
            print(f"step {step} loss {loss.item():.6f} hidden grad norm {pre.grad.norm().item():.6f}")

    with torch.no_grad():
        accuracy = (((x @ w1 + b1).relu() @ w2 + b2 > 0).float() == y).float().mean().item()
    print(f"train accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
