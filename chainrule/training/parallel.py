"""Training on K MPI processes: each rank's share of every global batch, and stopping together.

``chainrule train`` under ``mpiexec -n K`` wraps the model in
``DistributedDataParallel`` and the data loader in :class:`ShardedLoader`:
every rank walks the same global batches, in the order a single process would
(the same seed), and trains on its 1/K of each. With the gradients averaged,
K processes then follow the 1-process run exactly whenever each batch divides
by K (a last, smaller batch that does not is split as evenly as it can be,
and weighted per rank). Rank 0 alone evaluates, prints, logs and writes
checkpoints.
"""

from __future__ import annotations

import numpy as np

from chainrule import distributed
from chainrule.nn.parallel import DistributedDataParallel


def world():
    """The communicator of an initialised process group of more than one rank, else None."""
    if not distributed.is_initialized() or distributed.get_world_size() == 1:
        return None
    return distributed.communicator()


def any_rank(communicator, flag: bool) -> bool:
    """Whether ``flag`` is set on any rank (every rank gets the same answer; one tiny allreduce)."""
    value = np.array([1.0 if flag else 0.0])
    communicator.allreduce(value, "max")
    return bool(value[0])


def unwrap(model):
    """The model inside a ``DistributedDataParallel`` wrapper (its state_dict has no ``module.`` prefix)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


class ShardedLoader:
    """Yields rank ``rank``'s rows ``[r b / K, (r + 1) b / K)`` of each batch of ``loader`` (size b).

    ``len``, ``seed``, ``set_epoch`` and ``dataset`` are the wrapped loader's,
    so checkpoints and resume see the global loader.
    """

    def __init__(self, loader, rank: int, world_size: int):
        if not 0 <= rank < world_size:
            raise ValueError(f"ShardedLoader: rank {rank} is not in a world of {world_size}")
        self.loader, self.rank, self.world_size = loader, rank, world_size

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def seed(self):
        return getattr(self.loader, "seed", None)

    @property
    def dataset(self):
        return self.loader.dataset

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)

    def __iter__(self):
        for batch in self.loader:
            yield tuple(self._share(part) for part in batch)

    def _share(self, part):
        n = len(part)
        return part[self.rank * n // self.world_size : (self.rank + 1) * n // self.world_size]
