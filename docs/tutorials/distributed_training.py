"""Training on several processes: chainrule.distributed and DistributedDataParallel over MPI.

K processes started by ``mpiexec -n K`` each hold a replica of the model and
take 1/K of every global batch. ``DistributedDataParallel`` broadcasts rank 0's
weights at construction and, during ``backward()``, replaces every gradient by
its mean over the ranks, so the replicas take identical steps: K processes on
B/K samples follow one process on B samples. This script runs ``worker`` under
``mpiexec -n 2`` when mpiexec and mpi4py are installed, and checks the result
against one process trained on the whole batches; without them it says so and
runs the worker as a world of one.
"""

import inspect
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import Tutorial

import chainrule as cr
import chainrule.distributed as dist
from chainrule import nn
from chainrule.data import datasets
from chainrule.nn.parallel import DistributedDataParallel as DDP

STEPS, GLOBAL_BATCH = 8, 64


def worker(result_path: str) -> None:
    """What every rank runs: its shard of each global batch, gradients averaged by DDP."""
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    cr.manual_seed(0)  # rank 0's initial weights are broadcast anyway
    model = DDP(nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)))
    optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    X, y = datasets.digits(flatten=True).tensors
    for step in range(STEPS):
        batch = slice(step * GLOBAL_BATCH, (step + 1) * GLOBAL_BATCH)
        shard = slice(rank, None, world)  # this rank's 1/K of the global batch
        loss = nn.functional.cross_entropy(model(X[batch][shard]), y[batch][shard])
        optimizer.zero_grad()
        loss.backward()  # every rank's .grad is now the mean over ranks
        optimizer.step()
    if rank == 0:
        np.savez(result_path, **{name: p.detach().numpy() for name, p in model.module.state_dict().items()})
    dist.destroy_process_group()


def one_process_on_whole_batches() -> dict:
    """The reference: the same model and steps in one process, on all GLOBAL_BATCH samples."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    optimizer = cr.optim.SGD(model.parameters(), lr=0.5)
    X, y = datasets.digits(flatten=True).tensors
    for step in range(STEPS):
        batch = slice(step * GLOBAL_BATCH, (step + 1) * GLOBAL_BATCH)
        loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {name: p.detach().numpy() for name, p in model.state_dict().items()}


def mpi_environment() -> dict:
    """Open MPI settings for a container: run as root, more ranks than cores, one BLAS thread per rank."""
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
        OPENBLAS_NUM_THREADS="1",
    )
    return env


def main():
    out = Tutorial("distributed_training")
    out.print("the worker (runs on every rank):")
    out.print(inspect.getsource(worker))
    command = ["mpiexec", "-n", "2", sys.executable, __file__, "--worker"]
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "rank0.npz"
        if shutil.which("mpiexec") and dist.is_mpi_available():
            out.print("$ mpiexec -n 2 python docs/tutorials/distributed_training.py --worker RESULT.npz")
            run = subprocess.run(
                [*command, str(result)], capture_output=True, text=True, timeout=300, env=mpi_environment()
            )
            if run.returncode != 0:
                print(run.stdout + run.stderr, file=sys.stderr)
                out.check(False, f"mpiexec -n 2 exits with status 0 (got {run.returncode})")
                out.finish()
            ranks = 2
        else:
            out.print("mpiexec or mpi4py is not installed: running the worker as a world of one")
            subprocess.run([sys.executable, __file__, "--worker", str(result)], check=True, timeout=300)
            ranks = 1
        with np.load(result) as saved:
            distributed = {key: saved[key] for key in saved.files}
    reference = one_process_on_whole_batches()
    worst = max(np.abs(distributed[name] - reference[name]).max() for name in reference)
    out.print(
        f"{ranks} rank(s) on {GLOBAL_BATCH // ranks} samples each vs one process on {GLOBAL_BATCH}, "
        f"{STEPS} SGD steps: largest weight difference {worst:.1e}"
    )
    out.check(worst < 1e-5, f"{ranks} rank(s) end with the weights of one process on the whole batches")
    out.finish()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
