"""``torch.utils.data.distributed``: ``DistributedSampler``, each process's share of a dataset."""

from chainrule.data.sampler import DistributedSampler

__all__ = ["DistributedSampler"]
