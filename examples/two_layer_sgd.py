"""The lecture notes' two-layer network, sigma(X W1) W2, trained by minibatch SGD.

Data: two interleaved spirals, a boundary no linear classifier can draw.
Loss: softmax cross-entropy, written with log-sum-exp so it stays finite.
Step size: alpha_k = C / k per epoch, the notes' decaying schedule.

    python examples/two_layer_sgd.py
"""

from __future__ import annotations

import numpy as np

import chainrule as cr


def spirals(n: int, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two spirals of n points each: X (2n, 2) float32, y (2n,) int64."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    X = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n, 2)) / 3
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    return X.astype(np.float32), y


def cross_entropy(logits: cr.Tensor, targets: cr.Tensor) -> cr.Tensor:
    """Mean of -log softmax(logits)[target]: logsumexp(z) - z_target."""
    picked = logits[cr.arange(logits.shape[0]), targets]
    return (cr.logsumexp(logits, dim=1) - picked).mean()


def main(hidden: int = 64, epochs: int = 200, batch_size: int = 32, C: float = 2.0) -> float:
    cr.manual_seed(0)
    X, y = spirals(500)
    W1 = (cr.randn(2, hidden) * (2 / 2) ** 0.5).requires_grad_()
    b1 = cr.zeros(hidden, requires_grad=True)
    W2 = (cr.randn(hidden, 2) * (1 / hidden) ** 0.5).requires_grad_()
    params = [W1, b1, W2]
    rng = np.random.default_rng(0)
    for epoch in range(1, epochs + 1):
        step_size = C / (1 + epoch / 50)  # alpha_k = C / k, with k counted in 50-epoch units
        for batch in np.array_split(rng.permutation(len(X)), len(X) // batch_size):
            logits = cr.relu(cr.tensor(X[batch]) @ W1 + b1) @ W2
            loss = cross_entropy(logits, cr.tensor(y[batch]))
            loss.backward()
            with cr.no_grad():
                for p in params:
                    p -= step_size * p.grad
                    p.grad = None
    with cr.no_grad():
        predictions = (cr.relu(cr.tensor(X) @ W1 + b1) @ W2).argmax(dim=1)
    accuracy = float((predictions.numpy() == y).mean())
    print(f"two-layer network on spirals: final loss {loss.item():.4f}, training accuracy {accuracy:.1%}")
    return accuracy


if __name__ == "__main__":
    main()
