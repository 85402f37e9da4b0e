"""``Parameter``: a tensor that a Module registers as one of its learnable weights."""

from __future__ import annotations

import numpy as np

from chainrule.backend import dtypes
from chainrule.ops.creation import empty
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that, assigned as an attribute of a Module, becomes one of its parameters.

    It shares memory with ``data`` (as PyTorch's does) and requires grad by
    default::

        self.weight = cr.nn.Parameter(cr.zeros(3, 4))

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> p = nn.Parameter(cr.zeros(2))
    >>> p.requires_grad, isinstance(p, cr.Tensor)
    (True, True)
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=dtypes.default_float)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def empty_parameter(shape: tuple[int, ...], device=None, dtype=None) -> Parameter:
    """An uninitialised Parameter for a layer's constructor (its ``reset_parameters`` fills it)."""
    return Parameter(empty(*shape, dtype=dtype, device=device))
