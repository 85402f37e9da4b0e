"""Backpropagation by hand on the notes' two-layer network sigma(X W1) W2, then with backward().

The notes (001) derive, for the loss l_ce(sigma(X W1) W2, y) averaged over m examples,

    G_3 = (S - I_y) / m                       S = softmax(Z_3), Z_3 = Z_2 W_2, Z_2 = sigma(X W_1)
    grad W_2 = Z_2^T G_3
    G_2 = G_3 W_2^T
    grad W_1 = X^T (G_2 o sigma'(X W_1))

which is the general recurrence G_i = (G_{i+1} o sigma_i'(Z_i W_i)) W_i^T,
grad W_i = Z_i^T (G_{i+1} o sigma_i'(Z_i W_i)) with sigma_2 the identity.
Here sigma is the sigmoid, sigma' = sigma (1 - sigma), everything in float64.
"""

import numpy as np
from _common import Tutorial

import chainrule as cr


def two_layer_by_hand(X, y, W1, W2):
    """Loss and (grad W1, grad W2) of mean cross-entropy(sigmoid(X W1) W2, y), from the notes' formulas."""
    m = X.shape[0]
    A1 = X @ W1  # (m, d)
    Z2 = 1 / (1 + np.exp(-A1))  # sigma(X W1): (m, d)
    Z3 = Z2 @ W2  # logits: (m, k)
    shifted = Z3 - Z3.max(axis=1, keepdims=True)
    S = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    I_y = np.eye(W2.shape[1])[y]
    loss = -np.log(S[np.arange(m), y]).mean()
    G3 = (S - I_y) / m  # gradient of the mean loss w.r.t. the logits
    grad_W2 = Z2.T @ G3  # Z_2^T (G_3 o 1): the last layer has no activation
    G2 = G3 @ W2.T  # G_2 = (G_3 o 1) W_2^T
    grad_W1 = X.T @ (G2 * Z2 * (1 - Z2))  # X^T (G_2 o sigma'(X W_1))
    return loss, grad_W1, grad_W2


def two_layer_autograd(X, y, W1, W2):
    """The same loss and gradients from chainrule's backward()."""
    W1 = cr.tensor(W1, requires_grad=True)
    W2 = cr.tensor(W2, requires_grad=True)
    logits = cr.sigmoid(cr.tensor(X) @ W1) @ W2
    loss = cr.nn.functional.cross_entropy(logits, cr.tensor(y))
    loss.backward()
    return loss.item(), W1.grad.numpy(), W2.grad.numpy()


def main():
    out = Tutorial("backprop_by_hand")
    rng = np.random.default_rng(0)
    m, n, d, k = 32, 5, 16, 3
    X = rng.standard_normal((m, n))
    y = rng.integers(0, k, size=m)
    W1 = rng.standard_normal((n, d)) * 0.5
    W2 = rng.standard_normal((d, k)) * 0.5

    loss_hand, gW1_hand, gW2_hand = two_layer_by_hand(X, y, W1, W2)
    loss_auto, gW1_auto, gW2_auto = two_layer_autograd(X, y, W1, W2)
    out.print(f"X: {X.shape}, W1: {W1.shape}, W2: {W2.shape}, k = {k} classes, float64")
    out.print(f"loss by hand     {loss_hand:.15f}")
    out.print(f"loss by autograd {loss_auto:.15f}")
    diff_W1 = np.abs(gW1_hand - gW1_auto).max()
    diff_W2 = np.abs(gW2_hand - gW2_auto).max()
    out.print(f"max |grad W1 by hand - by backward()| = {diff_W1:.2e}")
    out.print(f"max |grad W2 by hand - by backward()| = {diff_W2:.2e}")
    out.check(abs(loss_hand - loss_auto) < 1e-12, "the losses agree to 1e-12")
    out.check(diff_W1 < 1e-12 and diff_W2 < 1e-12, "the hand-written gradients equal backward()'s to 1e-12")

    # A few steps of gradient descent with the hand-written gradients: the loss falls.
    losses = []
    for _ in range(50):
        loss, gW1, gW2 = two_layer_by_hand(X, y, W1, W2)
        losses.append(loss)
        W1, W2 = W1 - 1.0 * gW1, W2 - 1.0 * gW2
    out.print(f"50 steps of gradient descent (step 1.0): loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    out.check(losses[-1] < losses[0], "gradient descent with the hand-written gradients lowers the loss")
    out.finish()


if __name__ == "__main__":
    main()
