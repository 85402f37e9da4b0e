"""The notes' MNIST network, 784-200-200-10 with ReLU, and what its hidden units learn.

Notes 003 train a network with two hidden layers of 200 units on MNIST and
show each first-layer unit's 784 weights as a 28 x 28 picture. This script
trains it on a 5,000-image subset of MNIST for 3 epochs (seconds on a CPU)
when MNIST is on this machine (``chainrule.data.datasets.mnist(download=False)``
reads the cache or the IDX files), and otherwise on the 1,800 8 x 8 digits
shipped with chainrule (``datasets.digits()``, a 64-200-200-10 network). The
output says which.
"""

from _common import Tutorial, accuracy, train_classifier

import chainrule as cr
from chainrule import models
from chainrule.data import datasets


def load_data(out: Tutorial):
    """(train inputs, train labels, test inputs, test labels, image side, name)."""
    try:
        train = datasets.mnist("train", flatten=True, download=False)
        test = datasets.mnist("test", flatten=True, download=False)
    except Exception as error:  # not on this machine: fall back to the shipped digits
        out.print(f"MNIST is not available offline ({type(error).__name__}); using datasets.digits()")
        data = datasets.digits(flatten=True)
        X, y = data.tensors
        order = cr.randperm(len(y), generator=cr.Generator().manual_seed(0))
        X, y = X[order], y[order]
        return X[:1500], y[:1500], X[1500:], y[1500:], 8, "digits (8 x 8)"
    Xtr, ytr = train.tensors
    Xte, yte = test.tensors
    return Xtr[:5000], ytr[:5000], Xte[:2000], yte[:2000], 28, "MNIST (28 x 28)"


def main():
    out = Tutorial("mnist_mlp")
    cr.manual_seed(0)
    Xtr, ytr, Xte, yte, side, name = load_data(out)
    d = side * side
    out.print(f"data: {name}, {len(ytr)} training and {len(yte)} test images")

    model = models.MLP([d, 200, 200, 10])
    out.print(model)
    count = sum(p.numel() for p in model.parameters())
    out.print(f"parameters: {count:,} = dH + (L-1)H^2 + HK + biases with d={d}, H=200, L=2, K=10")
    out.check(count == models.mlp_parameter_count(d, 200, 2, 10), "the parameter count is the notes' formula")

    optimizer = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    epochs = 3 if side == 28 else 20
    losses = train_classifier(model, cr.utils.data.TensorDataset(Xtr, ytr), optimizer, epochs, batch_size=50)
    for epoch, loss in enumerate(losses, 1):
        if epoch in (1, len(losses)) or side == 28:
            out.print(f"epoch {epoch}: training loss {loss:.4f}")
    test_accuracy = accuracy(model, Xte, yte)
    out.print(f"test accuracy: {test_accuracy:.2%}")
    out.check(test_accuracy > 0.85, "the network classifies held-out digits far above chance (10%)")

    cr.viz.weight_mosaic(
        model[0].weight,
        image_shape=(side, side),
        max_images=64,
        path=out.figure("mnist_hidden_units.png"),
        size=(600, 600),
    )
    out.print("first-layer weights of 64 hidden units: images/tutorials/mnist_hidden_units.png")
    out.finish()


if __name__ == "__main__":
    main()
