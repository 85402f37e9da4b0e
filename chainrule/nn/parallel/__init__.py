"""Data parallelism: ``DistributedDataParallel`` averages gradients over the ranks of ``chainrule.distributed``."""

from chainrule.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
