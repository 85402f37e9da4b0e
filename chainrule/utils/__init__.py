"""Helpers that PyTorch programs import from ``torch.utils``: ``chainrule.utils.data``."""

from chainrule.utils import data

__all__ = ["data"]
