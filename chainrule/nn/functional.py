"""Functional forms of the layers, activations and losses (``cr.nn.functional`` as ``F``)."""

from chainrule.ops.shape import pad

__all__ = ["pad"]
