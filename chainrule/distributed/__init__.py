"""Training on several processes: collectives over MPI, as ``torch.distributed``.

Start K processes with ``mpiexec -n K python train.py``; in each::

    import chainrule.distributed as dist
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = cr.nn.parallel.DistributedDataParallel(model)   # gradients averaged over ranks

Without ``mpiexec`` the process group is a world of one (rank 0 of 1) and every
collective is the identity, so the same script runs on a laptop. Collectives
work in place on a tensor's array and must be called in the same order on
every rank. An uncaught exception on any rank, once the group is initialised
under ``mpiexec``, prints that rank's traceback and aborts the whole job with a
non-zero exit (no rank is left waiting). Needs ``pip install "chainrule[mpi]"``
(mpi4py and Open MPI), imported only when a group starts under ``mpiexec``.
"""

from __future__ import annotations

import enum
import os

import numpy as np

from chainrule.distributed.communicator import (
    INSTALL_HINT,
    MPICommunicator,
    SingleProcess,
    install_abort_on_exception,
    launched_by_mpiexec,
)
from chainrule.tensor import Tensor

__all__ = [
    "ReduceOp",
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
]

# PyTorch's backend names; all of them run over MPI here (gloo and nccl are accepted so
# that scripts written for them run unchanged on the CPU).
BACKENDS = ("mpi", "gloo", "nccl")


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values.

    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> t = cr.tensor([1.0, 5.0])
    >>> dist.all_reduce(t, op=dist.ReduceOp.MAX)
    >>> t, [op.name for op in dist.ReduceOp]
    (tensor([1., 5.], shape=(2,), dtype=float32), ['SUM', 'PRODUCT', 'MIN', 'MAX', 'AVG'])
    >>> dist.destroy_process_group()
    """

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


_state = {"communicator": None, "backend": None}


def is_available() -> bool:
    """Always True: the world of one needs nothing, and MPI is found when a group starts.

    >>> import chainrule as cr
    >>> cr.distributed.is_available()
    True
    """
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py can be imported (without importing it).

    >>> import chainrule as cr
    >>> cr.distributed.is_mpi_available() in (True, False)
    True
    """
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def init_process_group(backend: str | None = "mpi", init_method=None, timeout=None, world_size=-1, rank=-1, **kwargs):
    """Join the process group: every process of ``mpiexec -n K`` becomes one rank of K.

    Args:
        backend: ``"mpi"`` (also ``"gloo"``/``"nccl"``, run over MPI; None means mpi).
        init_method, timeout: accepted for PyTorch compatibility; MPI's launcher does the rendezvous.
        world_size, rank: if given, must agree with what ``mpiexec`` started.

    Raises:
        RuntimeError: if the group is already initialised, or ``world_size``/``rank`` disagree with MPI.
        ImportError: under ``mpiexec`` without mpi4py, naming the install command.

    Run without ``mpiexec``, the process is a world of one (rank 0 of 1), where every collective
    leaves its tensors as they are, so a script written for K processes also runs alone.

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> dist.get_rank(), dist.get_world_size(), dist.is_initialized()
    (0, 1, True)
    >>> dist.destroy_process_group()
    """
    if _state["communicator"] is not None:
        raise RuntimeError("init_process_group: the default process group is already initialised")
    backend = (backend or "mpi").lower()
    if backend.split(":")[0] not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; chainrule runs {BACKENDS} over MPI")
    if launched_by_mpiexec():
        communicator = MPICommunicator()
        if communicator.size > 1:
            install_abort_on_exception(communicator)
    else:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RuntimeError(
                f"init_process_group: WORLD_SIZE={os.environ['WORLD_SIZE']} but this process was not started by "
                f"mpiexec; chainrule's ranks are MPI processes: run `mpiexec -n K python script.py` ({INSTALL_HINT})"
            )
        communicator = SingleProcess()
    for name, given, actual in (("world_size", world_size, communicator.size), ("rank", rank, communicator.rank)):
        if given not in (-1, None) and int(given) != actual:
            raise RuntimeError(
                f"init_process_group: {name}={given} but mpiexec started this process as {name} {actual}"
            )
    _state.update(communicator=communicator, backend=backend)


def is_initialized() -> bool:
    """Whether ``init_process_group`` has been called (and ``destroy_process_group`` not since).

    >>> import chainrule.distributed as dist
    >>> dist.is_initialized()
    False
    >>> dist.init_process_group()
    >>> dist.is_initialized()
    True
    >>> dist.destroy_process_group()
    """
    return _state["communicator"] is not None


def destroy_process_group(group=None) -> None:
    """Leave the process group (MPI itself is finalised when the process exits).

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> dist.is_initialized()
    True
    >>> dist.destroy_process_group()
    """
    _state.update(communicator=None, backend=None)


def communicator():
    """The communicator of the default group; raises if ``init_process_group`` was not called."""
    comm = _state["communicator"]
    if comm is None:
        raise RuntimeError(
            "chainrule.distributed: the default process group has not been initialised; "
            "call chainrule.distributed.init_process_group() first"
        )
    return comm


def get_backend(group=None) -> str:
    """The backend name given to ``init_process_group`` (lower case; collectives run over MPI whatever it says).

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group("gloo")
    >>> dist.get_backend()
    'gloo'
    >>> dist.destroy_process_group()
    """
    communicator()
    return _state["backend"]


def get_rank(group=None) -> int:
    """This process's rank, 0 .. world_size - 1.

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> dist.get_rank()
    0
    >>> dist.destroy_process_group()
    """
    return communicator().rank


def get_world_size(group=None) -> int:
    """The number of processes in the group.

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> dist.get_world_size()
    1
    >>> dist.destroy_process_group()
    """
    return communicator().size


def barrier(group=None, async_op: bool = False, device_ids=None) -> None:
    """Wait until every rank has reached this call.

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> dist.barrier()
    >>> dist.destroy_process_group()
    """
    communicator().barrier()


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Combine ``tensor`` over all ranks, in place: afterwards every rank holds the sum (or op) of all.

    ``ReduceOp.AVG`` is the sum divided by the world size. With ``async_op=True``
    returns a work object whose ``wait()`` completes the reduction.

    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> grad = cr.tensor([1.0, 2.0])
    >>> dist.all_reduce(grad)  # with K processes: the sum of the K ranks' tensors
    >>> grad / dist.get_world_size()
    tensor([1., 2.], shape=(2,), dtype=float32)
    >>> dist.destroy_process_group()
    """
    comm = communicator()
    array = _contiguous_array(tensor, "all_reduce")
    op = ReduceOp(op) if not isinstance(op, ReduceOp) else op
    mpi_op = "sum" if op is ReduceOp.AVG else op.value
    if async_op:
        request = comm.iallreduce(array, mpi_op)
        return _Work(request, array if op is ReduceOp.AVG else None, comm.size)
    comm.allreduce(array, mpi_op)
    if op is ReduceOp.AVG:
        array /= comm.size
    return None


class _Work:
    """A started collective; ``wait()`` completes it (and finishes an average)."""

    def __init__(self, request, average_of=None, size: int = 1):
        self._request, self._average_of, self._size = request, average_of, size

    def wait(self, timeout=None) -> bool:
        self._request.wait()
        if self._average_of is not None:
            self._average_of /= self._size
            self._average_of = None
        return True

    def is_completed(self) -> bool:
        return self._average_of is None


def broadcast(tensor: Tensor, src: int = 0, group=None, async_op: bool = False) -> None:
    """Overwrite ``tensor`` on every rank with rank ``src``'s values, in place.

    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> weights = cr.tensor([0.5, 1.5])
    >>> dist.broadcast(weights, src=0)
    >>> weights
    tensor([0.5, 1.5], shape=(2,), dtype=float32)
    >>> dist.destroy_process_group()
    """
    comm = communicator()
    if not 0 <= src < comm.size:
        raise ValueError(f"broadcast: src={src} is not a rank of a world of {comm.size} processes")
    comm.broadcast(_contiguous_array(tensor, "broadcast"), src)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False) -> None:
    """Fill ``tensor_list[r]`` (one tensor per rank, shaped like ``tensor``) with rank r's ``tensor``.

    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> gathered = [cr.zeros(2) for _ in range(dist.get_world_size())]
    >>> dist.all_gather(gathered, cr.tensor([1.0, 2.0]))
    >>> gathered
    [tensor([1., 2.], shape=(2,), dtype=float32)]
    >>> dist.destroy_process_group()
    """
    comm = communicator()
    if len(tensor_list) != comm.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors but the world has {comm.size} ranks")
    gathered = comm.allgather(tensor._data)
    for r, (out, value) in enumerate(zip(tensor_list, gathered)):
        if tuple(out.shape) != tuple(tensor.shape):
            raise ValueError(
                f"all_gather: tensor_list[{r}] has shape {tuple(out.shape)}, expected {tuple(tensor.shape)}"
            )
        out._data[...] = value
        out._version += 1


def all_gather_object(object_list: list, obj, group=None) -> None:
    """Fill ``object_list[r]`` with rank r's picklable ``obj`` (ranks trust each other's pickles).

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> results = [None] * dist.get_world_size()
    >>> dist.all_gather_object(results, {"rank": dist.get_rank(), "loss": 0.5})
    >>> results
    [{'rank': 0, 'loss': 0.5}]
    >>> dist.destroy_process_group()
    """
    gathered = communicator().allgather_object(obj)
    object_list[: len(gathered)] = gathered


def broadcast_object_list(object_list: list, src: int = 0, group=None, device=None) -> None:
    """Replace ``object_list``'s items on every rank by rank ``src``'s (picklable objects).

    >>> import chainrule.distributed as dist
    >>> dist.init_process_group()
    >>> config = [{"lr": 0.1}] if dist.get_rank() == 0 else [None]
    >>> dist.broadcast_object_list(config, src=0)
    >>> config
    [{'lr': 0.1}]
    >>> dist.destroy_process_group()
    """
    object_list[:] = communicator().broadcast_object(list(object_list), src)


def _contiguous_array(tensor: Tensor, name: str) -> np.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(tensor).__name__}")
    array = tensor._data
    if not array.flags.c_contiguous:
        raise ValueError(
            f"{name}: the tensor must be contiguous (call .contiguous() first); shape {tuple(tensor.shape)}"
        )
    tensor._version += 1
    return array
