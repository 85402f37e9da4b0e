"""Ready-to-use models of the lecture notes, as ``nn.Module``s, and a registry to build them by name.

from chainrule import models
net = models.MLP([784, 200, 200, 10])                      # the notes' MNIST network
net = models.build("mlp", in_features=784, classes=10)      # the same, by name (as the CLI does)
"""

from chainrule.models.classic import (
    LinearRegression,
    LogisticRegression,
    Perceptron,
    RandomFourierFeatures,
    SoftmaxRegression,
    perceptron_criterion,
)
from chainrule.models.lenet import LeNet5
from chainrule.models.mlp import ACTIVATIONS, MLP, activation, mlp_parameter_count
from chainrule.models.registry import available, build, canonical_name, register

__all__ = [
    "ACTIVATIONS",
    "LeNet5",
    "LinearRegression",
    "LogisticRegression",
    "MLP",
    "Perceptron",
    "RandomFourierFeatures",
    "SoftmaxRegression",
    "activation",
    "available",
    "build",
    "canonical_name",
    "mlp_parameter_count",
    "perceptron_criterion",
    "register",
]
