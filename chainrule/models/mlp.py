"""Multilayer perceptrons: L hidden layers of any widths and activations, and their parameter count."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from chainrule import nn

ActivationSpec = str | Callable[[], nn.Module] | None

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


def activation(spec: ActivationSpec) -> nn.Module:
    """A new activation layer from a name in ``ACTIVATIONS``, a Module class or factory, or None (identity)."""
    if spec is None:
        return nn.Identity()
    if isinstance(spec, str):
        key = spec.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(f"unknown activation {spec!r}; choose one of {', '.join(ACTIVATIONS)}")
        return ACTIVATIONS[key]()
    if isinstance(spec, nn.Module):
        raise TypeError("pass an activation's name or class (a new layer is made for each use), not a Module instance")
    return spec()


class MLP(nn.Sequential):
    """h_l = g(W_l h_{l-1} + b_l) for l = 1..L, then logits W_out h_L + b_out: the notes' L-layer network.

    Args:
        sizes: the widths ``[d, H_1, ..., H_L, K]`` (input, hidden layers, outputs).
        activation: ``g``, one spec for every hidden layer or a list with one per
            hidden layer: a name ("relu", "tanh", "sigmoid", ...) or a Module class.
        output_activation: applied to the outputs (default None: raw logits, as
            ``nn.CrossEntropyLoss`` wants).
        bias: give every Linear layer a bias.
        dropout: if positive, a Dropout layer after each hidden activation.

    The layers are children "0", "1", ... as in an ``nn.Sequential``, so the
    state dict of ``MLP([784, 200, 200, 10])`` is that of PyTorch's
    ``Sequential(Linear(784, 200), ReLU(), Linear(200, 200), ReLU(), Linear(200, 10))``.

    Example::

        model = MLP([784, 200, 200, 10])  # x: (N, 784) -> logits (N, 10)
        assert model.num_parameters() == mlp_parameter_count(784, 200, 2, 10)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: ActivationSpec | Sequence[ActivationSpec] = "relu",
        output_activation: ActivationSpec = None,
        bias: bool = True,
        dropout: float = 0.0,
    ):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or any(n <= 0 for n in sizes):
            raise ValueError(f"MLP: sizes must list at least an input and an output width, all positive; got {sizes}")
        hidden = len(sizes) - 2
        if isinstance(activation, (list, tuple)):
            if len(activation) != hidden:
                raise ValueError(f"MLP: {len(activation)} activations given for {hidden} hidden layers")
            activations = list(activation)
        else:
            activations = [activation] * hidden
        layers: list[nn.Module] = []
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out, bias=bias))
            if index < hidden:
                layers.append(_activation(activations[index]))
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        if output_activation is not None:
            layers.append(_activation(output_activation))
        super().__init__(*layers)
        self.sizes = sizes

    def __getitem__(self, index):
        if isinstance(index, slice):  # a slice is a plain Sequential: it has no ``sizes`` of its own
            return nn.Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @staticmethod
    def count_parameters(sizes: Sequence[int], bias: bool = True) -> int:
        """Weights (and biases) of ``MLP(sizes)``: sum over layers of n_in * n_out (+ n_out)."""
        return sum(a * b + (b if bias else 0) for a, b in zip(sizes[:-1], sizes[1:]))


_activation = activation  # MLP.__init__'s argument shadows the function


def mlp_parameter_count(d: int, hidden: int, layers: int, classes: int, bias: bool = True) -> int:
    """The notes' count for L hidden layers of H units: d H + (L - 1) H^2 + H K, plus L H + K biases.

    For d = 784, H = 200, L = 2, K = 10: 156,800 + 40,000 + 2,000 weights and 410 biases = 199,210.
    """
    weights = d * hidden + (layers - 1) * hidden**2 + hidden * classes
    return weights + (layers * hidden + classes if bias else 0)
