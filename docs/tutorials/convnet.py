"""A LeNet-style convolutional network on the shipped 8 x 8 digits.

Notes 002 list convolutional layers (weights that are filters convolved with
the input) and pooling layers (downsampling). This network is LeNet's pattern
at the scale of 8 x 8 images: two blocks of convolution, ReLU and 2 x 2 max
pooling, then two dense layers. (``chainrule.models.LeNet5`` is the full-size
network for 28 x 28 MNIST: ``chainrule train --preset lenet5``.)
"""

from _common import Tutorial, accuracy, train_classifier

import chainrule as cr
from chainrule import nn
from chainrule.data import datasets


class SmallLeNet(nn.Module):
    """conv 8@3x3 -> pool 2 -> conv 16@3x3 -> pool 2 -> 64 -> 10; x: (N, 1, 8, 8) -> logits (N, 10)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 8, 4, 4)
            nn.Conv2d(8, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 16, 2, 2)
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    out = Tutorial("convnet")
    cr.manual_seed(0)
    X, y = datasets.digits().tensors  # (1800, 1, 8, 8), (1800,)
    order = cr.randperm(len(y), generator=cr.Generator().manual_seed(0))
    X, y = X[order], y[order]
    train = cr.utils.data.TensorDataset(X[:1500], y[:1500])
    model = SmallLeNet()
    out.print(cr.viz.summary(model, (1, 1, 8, 8)))
    optimizer = cr.optim.Adam(model.parameters(), lr=0.01)
    losses = train_classifier(model, train, optimizer, epochs=15, batch_size=50)
    out.print(f"training loss: epoch 1 {losses[0]:.3f}, epoch {len(losses)} {losses[-1]:.3f}")
    test_accuracy = accuracy(model, X[1500:], y[1500:])
    out.print(f"accuracy on 300 held-out digits: {test_accuracy:.1%}")
    out.check(test_accuracy > 0.85, "the convnet classifies held-out digits far above chance (10%)")
    cr.viz.weight_mosaic(model.features[0].weight, path=out.figure("convnet_filters.png"), size=(360, 360))
    out.print("the eight 3 x 3 filters of the first layer: images/tutorials/convnet_filters.png")
    out.finish()


if __name__ == "__main__":
    main()
