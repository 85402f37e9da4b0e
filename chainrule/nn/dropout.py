"""``Dropout`` and its channel-wise and SELU forms: random zeroing in training, the identity in evaluation."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the rest by 1/(1-p).

    The scaling keeps each element's expected value, so evaluation mode
    (``model.eval()``) is simply the identity. Draws come from chainrule's
    generator (``cr.manual_seed``).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> drop = nn.Dropout(p=0.5)
    >>> _ = cr.manual_seed(0)
    >>> sorted(set(drop(cr.ones(8)).tolist()))
    [0.0, 2.0]
    >>> drop.eval()(cr.ones(3))
    tensor([1., 1., 1.], shape=(3,), dtype=float32)
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _DropoutVariant(Dropout):
    """Dropout through one of F's functions (``_function``), same options as ``Dropout``."""

    _function: str

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, self._function)(input, self.p, self.training)


class Dropout1d(_DropoutVariant):
    """Zero whole channels of (N, C, L) or (C, L) with probability ``p`` in training; scale the rest by 1/(1-p).

    The output has the input's shape; the identity in eval mode.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Dropout1d(0.5).eval()(cr.ones(1, 2, 3)).shape
    chainrule.Size([1, 2, 3])
    """

    _function = "dropout1d"


class Dropout2d(_DropoutVariant):
    """Zero whole channels of (N, C, H, W) or (C, H, W) with probability ``p`` in training.

    Scales the rest by 1/(1-p); the output has the input's shape; the identity in eval mode.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> _ = cr.manual_seed(0)
    >>> out = nn.Dropout2d(0.5)(cr.ones(1, 8, 2, 2))
    >>> sorted(set(out.flatten().tolist()))
    [0.0, 2.0]
    """

    _function = "dropout2d"


class Dropout3d(_DropoutVariant):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability ``p`` in training.

    Scales the rest by 1/(1-p); the output has the input's shape; the identity in eval mode.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.Dropout3d(0.5).eval()(cr.ones(1, 2, 1, 1, 1)).flatten()
    tensor([1., 1.], shape=(2,), dtype=float32)
    """

    _function = "dropout3d"


class AlphaDropout(_DropoutVariant):
    """Dropout for SELU networks: dropped elements take SELU's negative limit, and an affine map
    keeps the mean and variance (``F.alpha_dropout``).

    The output has the input's shape; the identity in eval mode.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.AlphaDropout(0.5).eval()(cr.tensor([1.0, -1.0]))
    tensor([ 1., -1.], shape=(2,), dtype=float32)
    """

    _function = "alpha_dropout"
