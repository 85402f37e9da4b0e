"""K ranks, each on 1/K of a global batch, train a model with DistributedDataParallel.

Run as ``mpiexec -n K python ddp_train.py MODEL OPTIMIZER STEPS OUT.npz [--no-sync]``
(or as a plain process: a world of one training on the whole batch). Rank 0
saves the final parameters to OUT.npz; ``--no-sync`` trains every step inside
``no_sync()`` (the negative control: the ranks then drift apart).
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

import chainrule as cr
import chainrule.distributed as dist
import chainrule.nn as nn

GLOBAL_BATCH = 24


def make_model(name: str) -> nn.Module:
    cr.manual_seed(1234 + 17 * dist.get_rank())  # different on every rank: DDP's broadcast must fix it
    if name == "mlp":
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    if name == "cnn":
        model = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(4 * 4 * 4, 3),
        )
        with cr.no_grad():  # non-trivial running statistics, used in eval mode
            model[1].running_mean.copy_(cr.linspace(-0.2, 0.3, 4))
            model[1].running_var.copy_(cr.linspace(0.5, 2.0, 4))
        return model.eval()
    if name == "unused":  # a branch that only rank 0's data reaches on some steps
        return Branchy()
    raise ValueError(name)


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(6, 8)
        self.head = nn.Linear(8, 3)
        self.extra = nn.Linear(8, 3)

    def forward(self, x, use_extra: bool):
        h = self.trunk(x).tanh()
        return self.head(h) + (self.extra(h) if use_extra else 0)


def data(name: str, step: int):
    rng = np.random.default_rng(100 + step)
    x = rng.standard_normal((GLOBAL_BATCH, 2, 8, 8) if name == "cnn" else (GLOBAL_BATCH, 6)).astype(np.float32)
    y = rng.integers(0, 3, GLOBAL_BATCH)
    return x, y


def main() -> None:
    name, optimizer_name, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    no_sync = "--no-sync" in sys.argv
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = nn.parallel.DistributedDataParallel(make_model(name), bucket_cap_mb=0.0005)
    if optimizer_name == "sgd":
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = cr.optim.Adam(model.parameters(), lr=0.01)
    shard = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
    for step in range(steps):
        x, y = data(name, step)
        x, y = cr.tensor(x[shard]), cr.tensor(y[shard])
        opt.zero_grad()
        with model.no_sync() if no_sync else contextlib.nullcontext():
            if name == "unused":
                use_extra = step % 2 == 0 and rank == 0 if world > 1 else step % 2 == 0
                output = model(x, use_extra)
            else:
                output = model(x)
            loss = nn.functional.cross_entropy(output, y)
            if name == "unused" and world == 1 and step % 2 == 0:
                loss = _reference_loss_for_unused(model, x, y, step)
            loss.backward()
        opt.step()
    if rank == 0:
        np.savez(out, **{k: v.numpy() for k, v in model.module.state_dict().items()})
    dist.destroy_process_group()


def _reference_loss_for_unused(model, x, y, step):
    """One process's equivalent of K ranks where only rank 0's shard goes through ``extra``.

    Set by the test through the environment: the shard of rank 0 of K.
    """
    import os

    k = int(os.environ.get("REFERENCE_WORLD", "1"))
    first = slice(0, GLOBAL_BATCH // k)
    rest = slice(GLOBAL_BATCH // k, GLOBAL_BATCH)
    module = model.module
    h_first = module.trunk(x[first]).tanh()
    h_rest = module.trunk(x[rest]).tanh()
    out_first = module.head(h_first) + module.extra(h_first)
    out_rest = module.head(h_rest)
    # mean over ranks of each rank's mean loss
    losses = [nn.functional.cross_entropy(out_first, y[first])]
    per_rank = (GLOBAL_BATCH - GLOBAL_BATCH // k) // max(k - 1, 1)
    for r in range(k - 1):
        part = slice(r * per_rank, (r + 1) * per_rank)
        losses.append(nn.functional.cross_entropy(out_rest[part], y[rest][part]))
    return sum(losses) / k


if __name__ == "__main__":
    main()
