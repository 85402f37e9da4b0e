"""Models by name: ``build("mlp", in_features=784, classes=10, hidden=[200, 200])``.

Every factory takes the data's shape as ``in_features`` (inputs per sample) and
``classes`` (outputs), plus its model's own options, so a command line can make
any model from a dataset and a few flags. Names are case-insensitive and "_" and
"-" are interchangeable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chainrule import nn
from chainrule.models.classic import (
    LinearRegression,
    LogisticRegression,
    Perceptron,
    RandomFourierFeatures,
    SoftmaxRegression,
)
from chainrule.models.lenet import LeNet5
from chainrule.models.mlp import MLP

_FACTORIES: dict[str, Callable[..., nn.Module]] = {}
_ALIASES: dict[str, str] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def register(name: str, factory: Callable[..., nn.Module] | None = None, aliases: Sequence[str] = ()):
    """Make ``factory`` available to ``build`` as ``name``; usable as a decorator."""

    def add(function: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _FACTORIES[_key(name)] = function
        for alias in aliases:
            _ALIASES[_key(alias)] = _key(name)
        return function

    return add if factory is None else add(factory)


def available() -> list[str]:
    """The registered names (without aliases), sorted."""
    return sorted(_FACTORIES)


def canonical_name(name: str) -> str:
    """The registered name that ``name`` (or an alias) refers to; KeyError listing the choices if none."""
    key = _key(name)
    key = _ALIASES.get(key, key)
    if key not in _FACTORIES:
        raise KeyError(f"unknown model {name!r}; choose one of {', '.join(available())}")
    return key


def build(name: str, **kwargs) -> nn.Module:
    """A new model ``name`` made with ``kwargs`` (see each factory for the options)."""
    return _FACTORIES[canonical_name(name)](**kwargs)


@register("mlp")
def _mlp(
    in_features: int,
    classes: int,
    hidden: Sequence[int] = (200, 200),
    activation="relu",
    dropout: float = 0.0,
    bias: bool = True,
) -> MLP:
    return MLP([in_features, *hidden, classes], activation=activation, dropout=dropout, bias=bias)


@register("lenet5", aliases=["lenet", "lenet-5"])
def _lenet5(
    in_features: int = 784,
    classes: int = 10,
    in_channels: int = 1,
    activation="relu",
    pooling: str = "max",
    padding: int = 2,
) -> LeNet5:
    side = round((in_features / in_channels) ** 0.5)
    if side * side * in_channels != in_features:
        raise ValueError(f"lenet5: {in_features} inputs are not {in_channels} square image(s)")
    return LeNet5(in_channels, classes, activation=activation, pooling=pooling, input_size=side, padding=padding)


@register("softmax-regression", aliases=["softmax", "linear"])
def _softmax_regression(in_features: int, classes: int) -> SoftmaxRegression:
    return SoftmaxRegression(in_features, classes)


@register("logistic-regression", aliases=["logistic"])
def _logistic_regression(in_features: int, classes: int = 2) -> LogisticRegression:
    _require_binary("logistic-regression", classes)
    return LogisticRegression(in_features)


@register("perceptron")
def _perceptron(in_features: int, classes: int = 2) -> Perceptron:
    _require_binary("perceptron", classes)
    return Perceptron(in_features)


@register("rff", aliases=["random-fourier-features"])
def _random_fourier_features(
    in_features: int, classes: int, features: int = 1000, gamma: float = 1.0
) -> RandomFourierFeatures:
    return RandomFourierFeatures(in_features, features=features, gamma=gamma, classes=classes)


@register("linear-regression")
def _linear_regression(in_features: int, classes: int = 1, bias: bool = True) -> LinearRegression:
    return LinearRegression(in_features, classes, bias=bias)


def _require_binary(name: str, classes: int) -> None:
    if classes != 2:
        raise ValueError(f"{name} is a binary classifier, but the data has {classes} classes")
