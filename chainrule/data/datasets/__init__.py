"""Ready-made datasets, each a TensorDataset of (inputs float32, targets).

- ``mnist(split, flatten)``: the 70,000 MNIST digits, loaded offline and checksum-verified.
- ``digits(flatten)``: 1,800 8 x 8 digits shipped with chainrule (no download).
- ``spirals, xor, circles, moons``: 2-d classification with nonlinear boundaries.
- ``linear_regression``: a linear model plus noise, with the true weights attached.
"""

from chainrule.data.datasets._digits import digits
from chainrule.data.datasets._files import ChecksumError, cache_dir
from chainrule.data.datasets._mnist import mnist
from chainrule.data.datasets.synthetic import circles, linear_regression, moons, spirals, xor

__all__ = [
    "ChecksumError",
    "cache_dir",
    "circles",
    "digits",
    "linear_regression",
    "mnist",
    "moons",
    "spirals",
    "xor",
]
