"""Linear models vs learned features: decision regions on two spirals.

Notes 001: a linear hypothesis theta^T x cuts the plane into linear regions, so
it cannot separate two spirals. A linear classifier on fixed nonlinear features
phi(x) = cos(W^T x + b) with random Gaussian W ("random Fourier features") can;
a two-layer network sigma(X W1) W2 learns its features W1 instead.
"""

import numpy as np
from _common import Tutorial, accuracy, pyplot, train_classifier

import chainrule as cr
from chainrule import models, nn
from chainrule.data import datasets


def regions(model, grid_side: int = 150):
    """The predicted class over a grid covering [-1.2, 1.2]^2: (xs, ys, classes)."""
    axis = np.linspace(-1.2, 1.2, grid_side)
    xs, ys = np.meshgrid(axis, axis)
    points = cr.tensor(np.stack([xs.ravel(), ys.ravel()], axis=1), dtype=cr.float32)
    with cr.no_grad():
        classes = model(points).argmax(dim=1).numpy()
    return xs, ys, classes.reshape(xs.shape)


def main():
    out = Tutorial("linear_vs_features")
    cr.manual_seed(0)
    train = datasets.spirals(n=600, noise=0.03, seed=0)
    test = datasets.spirals(n=600, noise=0.03, seed=1)
    contenders = {
        "linear: theta^T x": nn.Linear(2, 2),
        "random Fourier features: theta^T cos(W^T x + b)": models.RandomFourierFeatures(2, 400, gamma=10.0),
        "MLP: sigma(X W1) W2, 64 ReLU units, 2 layers": models.MLP([2, 64, 64, 2]),
    }
    plt = pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    X, y = train.tensors
    Xte, yte = test.tensors
    scores = {}
    for ax, (name, model) in zip(axes, contenders.items()):
        optimizer = cr.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.02)
        train_classifier(model, train, optimizer, epochs=60, batch_size=100)
        scores[name] = accuracy(model, Xte, yte)
        out.print(f"{name:<50} test accuracy {scores[name]:.1%}")
        xs, ys, classes = regions(model)
        ax.contourf(xs, ys, classes, levels=[-0.5, 0.5, 1.5], colors=["#cfe2f3", "#f4cccc"])
        ax.scatter(X[:, 0].numpy(), X[:, 1].numpy(), c=y.numpy(), cmap="coolwarm", s=6)
        ax.set_title(f"{name.split(':')[0]}: {scores[name]:.0%}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    figure.savefig(out.figure("spirals_decision_regions.png"), dpi=90)
    linear, fourier, mlp = scores.values()
    out.check(linear < 0.75, "the linear model cannot separate the spirals")
    out.check(fourier > 0.9 and mlp > 0.9, "random features and the MLP both separate them (above 90%)")
    out.finish()


if __name__ == "__main__":
    main()
