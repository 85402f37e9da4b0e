"""The MPI communicator behind ``chainrule.distributed``, and the world of one without it.

Transport is MPI (mpi4py over Open MPI or any MPI a cluster runs): every rank
is a process started by ``mpiexec``. mpi4py is imported only when a process
group is initialised under ``mpiexec`` (importing it costs about a second and
initialises MPI), so ``import chainrule`` stays fast and needs no MPI.

Buffers are NumPy arrays, reduced in place; collectives must be called in the
same order on every rank, as MPI requires.
"""

from __future__ import annotations

import os
import sys
import traceback

import numpy as np

INSTALL_HINT = 'pip install "chainrule[mpi]"  (installs mpi4py and Open MPI)'

# Environment variables that the common MPI launchers set in every rank.
_LAUNCHER_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS")


def launched_by_mpiexec() -> bool:
    """Whether this process is a rank of a job that ``mpiexec`` (or ``srun``) started."""
    return any(name in os.environ for name in _LAUNCHER_SIZE_VARIABLES[:3]) or "PMIX_RANK" in os.environ


def import_mpi():
    """mpi4py's ``MPI`` module (initialising MPI), or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI  # optional dependency, imported lazily: it initialises MPI
    except ImportError as error:
        raise ImportError(
            f"chainrule.distributed: training on several processes needs mpi4py and an MPI library: {INSTALL_HINT}"
        ) from error
    return MPI


class SingleProcess:
    """The communicator of a world of one: every collective is the identity."""

    rank = 0
    size = 1

    def allreduce(self, array: np.ndarray, op: str) -> None:
        pass

    def iallreduce(self, array: np.ndarray, op: str):
        return CompletedRequest()

    def broadcast(self, array: np.ndarray, src: int) -> None:
        if src != 0:
            raise ValueError(f"broadcast: src={src} is not a rank of a world of 1 process")

    def allgather(self, array: np.ndarray) -> np.ndarray:
        return array[None].copy()

    def allgather_object(self, obj) -> list:
        return [obj]

    def broadcast_object(self, obj, src: int):
        return obj

    def barrier(self) -> None:
        pass

    def abort(self, code: int) -> None:
        os._exit(code)


class CompletedRequest:
    """A request that is already done (the world of one has nothing to wait for)."""

    def wait(self) -> None:
        pass

    def Test(self) -> bool:  # noqa: N802 (mpi4py's name)
        return True


class MPICommunicator:
    """Collectives over an mpi4py communicator (``MPI.COMM_WORLD`` by default)."""

    def __init__(self, comm=None):
        self.MPI = import_mpi()
        self.comm = comm if comm is not None else self.MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._ops = {"sum": self.MPI.SUM, "product": self.MPI.PROD, "min": self.MPI.MIN, "max": self.MPI.MAX}

    def allreduce(self, array: np.ndarray, op: str) -> None:
        self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self._ops[op])

    def iallreduce(self, array: np.ndarray, op: str):
        """Start a non-blocking in-place allreduce; ``.wait()`` on the result completes it."""
        return self.comm.Iallreduce(self.MPI.IN_PLACE, array, op=self._ops[op])

    def broadcast(self, array: np.ndarray, src: int) -> None:
        self.comm.Bcast(array, root=src)

    def allgather(self, array: np.ndarray) -> np.ndarray:
        gathered = np.empty((self.size, *array.shape), dtype=array.dtype)
        self.comm.Allgather(np.ascontiguousarray(array), gathered)
        return gathered

    def allgather_object(self, obj) -> list:
        return self.comm.allgather(obj)

    def broadcast_object(self, obj, src: int):
        return self.comm.bcast(obj, root=src)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int) -> None:
        self.comm.Abort(code)


def install_abort_on_exception(communicator) -> None:
    """Make an uncaught exception on this rank print its traceback and abort the whole job.

    Without this, the other ranks would wait forever in their next collective.
    """
    previous = sys.excepthook

    def abort_job(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            message = f"[rank {communicator.rank}] interrupted; aborting all {communicator.size} processes\n"
        else:
            text = "".join(traceback.format_exception(kind, value, tb))
            message = (
                f"[rank {communicator.rank}] uncaught exception; aborting all {communicator.size} processes\n{text}"
            )
        try:
            sys.stderr.write(message)
            sys.stderr.flush()
        finally:
            communicator.abort(1)
        previous(kind, value, tb)

    sys.excepthook = abort_job
