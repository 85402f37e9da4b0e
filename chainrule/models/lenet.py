"""LeNet-5 (LeCun et al., 1998) for 28 x 28 digits, with its activation and pooling configurable."""

from __future__ import annotations

from chainrule import nn
from chainrule.autograd.grad_mode import no_grad
from chainrule.models.mlp import ActivationSpec, activation
from chainrule.tensor import Tensor


class LeNet5(nn.Module):
    """conv 6@5x5 (pad 2) -> pool 2 -> conv 16@5x5 -> pool 2 -> 120 -> 84 -> classes.

    Args:
        in_channels: channels of the input images (1 for MNIST).
        classes: outputs (logits).
        activation: after every layer but the last: "relu" (default), "tanh"
            (closer to the original's scaled tanh), or any name ``MLP`` takes.
        pooling: "max" (default) or "avg" (the original's subsampling, without its
            trainable coefficients).
        input_size: the images' side; with ``padding=2`` a 28 x 28 image maps to the
            original's 32 x 32 geometry (28 -> 28 -> 14 -> 10 -> 5).
        padding: of the first convolution (0 for 32 x 32 inputs).

    Shapes: x: (N, in_channels, S, S), or (N, in_channels * S * S) which is
    reshaped; output (N, classes). ``features`` holds the convolutional part,
    ``classifier`` the fully connected one.
    """

    def __init__(
        self,
        in_channels: int = 1,
        classes: int = 10,
        activation: ActivationSpec = "relu",
        pooling: str = "max",
        input_size: int = 28,
        padding: int = 2,
    ):
        super().__init__()
        pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
        if pooling not in pools:
            raise ValueError(f"LeNet5: pooling must be 'max' or 'avg', got {pooling!r}")
        side = ((input_size + 2 * padding - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet5: a {input_size} x {input_size} input is too small (at least 12 with padding 2)")
        self.in_channels = in_channels
        self.input_size = input_size
        act = _activation_factory(activation)
        pool = pools[pooling]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=padding), act(), pool(2), nn.Conv2d(6, 16, 5), act(), pool(2)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * side * side, 120),
            act(),
            nn.Linear(120, 84),
            act(),
            nn.Linear(84, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2:
            x = x.reshape(len(x), self.in_channels, self.input_size, self.input_size)
        return self.classifier(self.features(x))

    @no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self(x).argmax(dim=1)


def _activation_factory(spec: ActivationSpec):
    activation(spec)  # fail early on an unknown name
    return lambda: activation(spec)
