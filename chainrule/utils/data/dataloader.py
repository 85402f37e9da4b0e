"""``torch.utils.data.dataloader``: the DataLoader and what it uses by default."""

from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataloader import DataLoader
from chainrule.data.worker import get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
