"""Worker processes of a DataLoader (``num_workers > 0``).

The main process decides every task (the indices of each batch, in the sampler's
order), sends task k to worker ``k mod N`` (skipping workers whose stream has
ended), keeps at most ``prefetch_factor * N`` tasks in flight, and yields the
results in task order, so the batches are those of ``num_workers=0``, in the
same order. Workers only fetch and collate.

Each worker has two one-way pipes: tasks in, results out. A result is
``(epoch, task_id, kind, payload)`` with kind "batch", "end" (an iterable
dataset's stream is done) or "error" (a ``WorkerFailure``). The main process
waits on all result pipes at once, so a worker that dies shows up at once as an
end-of-file on its pipe. Shutdown (end of epoch, ``break``, an exception or
Ctrl-C in the main process, an error in a worker) sends each worker ``None``,
joins it for a moment and terminates what is left; workers ignore SIGINT and
exit by themselves if the main process disappears.

Worker ``i`` seeds Python's ``random`` and chainrule's global generator with
``base_seed + i`` and NumPy's legacy global generator from ``(i, base_seed)``,
as PyTorch does; the DataLoader draws ``base_seed`` from its generator each epoch.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import random as _python_random
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.reduction import ForkingPickler

import numpy as np

from chainrule import random
from chainrule.data.fetch import make_fetcher

PARENT_CHECK_INTERVAL = 1.0  # seconds between a worker's checks that the main process is alive
JOIN_TIMEOUT = 1.0  # seconds a worker gets to exit before it is terminated (its results are not needed)


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``, ``dataset``.

    ``dataset`` is the worker's own copy of the dataset.

    In an ``IterableDataset``'s ``__iter__``, worker ``id`` of ``num_workers`` takes
    every ``num_workers``-th sample from the ``id``-th on::

        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)

    >>> from chainrule.utils.data import WorkerInfo
    >>> info = WorkerInfo(id=1, num_workers=2, seed=7, dataset=None)
    >>> list(range(10))[info.id :: info.num_workers]
    [1, 3, 5, 7, 9]
    """

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id: int, num_workers: int, seed: int, dataset):
        for name, value in zip(self.__slots__, (id, num_workers, seed, dataset)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise RuntimeError(f"WorkerInfo: cannot set {name!r}; a worker's info is read-only")

    def __repr__(self) -> str:
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The current DataLoader worker's ``WorkerInfo``, or None in the main process.

    An ``IterableDataset`` uses it to give each worker its own share of the stream,
    and a ``worker_init_fn`` to configure the worker's copy of the dataset.

    >>> from chainrule.utils.data import get_worker_info
    >>> get_worker_info() is None
    True
    """
    return _worker_info


class _Verbatim(str):
    """A KeyError message shown as written (KeyError shows the repr of its argument)."""

    def __repr__(self) -> str:
        return str(self)


@dataclass
class WorkerFailure:
    """An exception raised in a worker, sent to the main process to be raised there."""

    worker_id: int
    where: str  # "while fetching sample index 13", "in worker_init_fn", ...
    exc_type: type
    traceback: str

    @classmethod
    def current(cls, worker_id: int, where: str, error: BaseException) -> WorkerFailure:
        exc_type = type(error)
        try:
            pickle.loads(pickle.dumps(exc_type))
        except Exception:  # a class the main process could not import
            exc_type = RuntimeError
        return cls(worker_id, where, exc_type, "".join(traceback.format_exception(error)))

    def error(self) -> BaseException:
        """The exception to raise in the main process: the worker's type, its traceback in the message."""
        message = (
            f"Caught {self.exc_type.__name__} in DataLoader worker {self.worker_id} {self.where}.\n"
            f"Original traceback in the worker:\n{self.traceback}"
        )
        try:
            error = self.exc_type(_Verbatim(message) if issubclass(self.exc_type, KeyError) else message)
        except Exception:  # an exception type that does not take a message
            error = RuntimeError(message)
        error.worker_id = self.worker_id
        return error


def _describe(index) -> str:
    """Where a fetch failed: one sample index, or the indices of a batch being collated or indexed at once."""
    if isinstance(index, str):
        return f"while fetching {index}"
    if isinstance(index, (list, tuple, np.ndarray)):
        return f"while fetching the batch of sample indices {list(np.asarray(index).tolist())}"
    return f"while fetching sample index {index}"


# --------------------------------------------------------------------------- inside a worker
def seed_worker(worker_id: int, base_seed: int) -> int:
    """Seed this process's generators for worker ``worker_id``; returns its seed ``base_seed + worker_id``."""
    seed = base_seed + worker_id
    _python_random.seed(seed)
    random.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def worker_loop(
    dataset,
    fetch_options: dict,
    tasks,
    results,
    worker_id: int,
    num_workers: int,
    base_seed: int,
    worker_init_fn: Callable | None,
    parent_pid: int,
    inherited_pipes: list,
) -> None:
    """The body of worker ``worker_id``: answer each task on ``tasks`` with its batch on ``results``.

    ``inherited_pipes``: the main process's ends of the other workers' pipes, which a
    forked worker holds copies of; closing them lets a closed pipe read as closed.
    """
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    for pipe in inherited_pipes:
        pipe.close()
    seed = seed_worker(worker_id, base_seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init = _call(worker_init_fn, worker_id, "in worker_init_fn", worker_id) if worker_init_fn else None
    init_failure = init if isinstance(init, WorkerFailure) else None
    fetcher, fetcher_epoch = init_failure, None
    for epoch, task_id, task in _tasks(tasks, parent_pid):
        if init_failure is None and fetcher_epoch != epoch:  # a new epoch restarts an iterable dataset's stream
            fetcher_epoch = epoch
            fetcher = _call(make_fetcher, worker_id, "in iter(dataset)", dataset, **fetch_options)
        try:
            results.send_bytes(_result(fetcher, epoch, task_id, task, worker_id))
        except OSError:
            break  # the main process closed the pipe: it is shutting down
    results.close()


def _call(function: Callable, worker_id: int, where: str, *args, **kwargs):
    """``function(*args, **kwargs)``, or the WorkerFailure of its exception."""
    try:
        return function(*args, **kwargs)
    except Exception as error:
        return WorkerFailure.current(worker_id, where, error)


def _tasks(tasks, parent_pid: int) -> Iterator:
    """The tasks from the main process until it sends None, closes the pipe, or dies."""
    while True:
        try:
            if not tasks.poll(PARENT_CHECK_INTERVAL):
                if os.getppid() != parent_pid:
                    return
                continue
            message = tasks.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        yield message


def _result(fetcher, epoch: int, task_id: int, task, worker_id: int) -> bytes:
    """The pickled answer to one task: its batch, "end" of a stream, or the error (``fetcher`` may be a failure)."""
    if isinstance(fetcher, WorkerFailure):
        return pickle.dumps((epoch, task_id, "error", fetcher))
    try:
        return ForkingPickler.dumps((epoch, task_id, "batch", fetcher.fetch(task)))  # an unpicklable batch fails here
    except StopIteration:
        return pickle.dumps((epoch, task_id, "end", None))
    except Exception as error:
        failure = WorkerFailure.current(worker_id, _describe(fetcher.current), error)
        return pickle.dumps((epoch, task_id, "error", failure))


# --------------------------------------------------------------------------- in the main process
def default_context():
    """Fork where the platform has it (workers inherit the dataset without pickling), else the default."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class WorkerPool:
    """``num_workers`` processes that serve a DataLoader's tasks, one epoch at a time."""

    def __init__(self, loader, base_seed: int):
        context = loader.multiprocessing_context or default_context()
        fetch_options = dict(
            batch_size=loader.batch_size,
            auto_collation=loader._auto_collation,
            collate_fn=loader.collate_fn,
            drop_last=loader.drop_last,
        )
        self.num_workers = loader.num_workers
        self.task_pipes, self.result_pipes, self.workers = [], [], []
        self.epoch = -1
        try:
            for worker_id in range(self.num_workers):
                self._start(context, loader, fetch_options, worker_id, base_seed)
        except BaseException:
            self.shutdown()
            raise

    def _start(self, context, loader, fetch_options: dict, worker_id: int, base_seed: int) -> None:
        task_reader, task_writer = context.Pipe(duplex=False)
        result_reader, result_writer = context.Pipe(duplex=False)
        inherited = self.task_pipes + self.result_pipes if context.get_start_method() == "fork" else []
        args = (
            loader.dataset,
            fetch_options,
            task_reader,
            result_writer,
            worker_id,
            self.num_workers,
            base_seed,
            loader.worker_init_fn,
            os.getpid(),
            inherited,
        )
        worker = context.Process(target=worker_loop, args=args, daemon=True, name=f"DataLoader worker {worker_id}")
        worker.start()
        # Close the main process's copies of the worker's ends, so that a dead worker reads as end-of-file
        # (and later workers do not inherit them).
        task_reader.close()
        result_writer.close()
        self.task_pipes.append(task_writer)
        self.result_pipes.append(result_reader)
        self.workers.append(worker)

    @property
    def alive(self) -> bool:
        return bool(self.workers) and all(worker.is_alive() for worker in self.workers)

    def epoch_batches(self, tasks: Iterator, prefetch_factor: int, timeout: float, owns_pool: bool) -> EpochIterator:
        self.epoch += 1
        return EpochIterator(self, self.epoch, tasks, prefetch_factor, timeout, owns_pool)

    def send(self, worker_id: int, message) -> None:
        self.task_pipes[worker_id].send(message)

    def receive(self, timeout: float | None):
        """The next result of any worker: ``(worker_id, message)``; raises if a worker died or time ran out."""
        if not self.result_pipes:
            raise RuntimeError("DataLoader: its worker processes have been shut down (after an error in this epoch)")
        ready = wait(self.result_pipes, timeout)
        if not ready:
            raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for a batch from its workers")
        pipe = ready[0]
        worker_id = self.result_pipes.index(pipe)
        try:
            return worker_id, pipe.recv()
        except (EOFError, OSError):
            worker = self.workers[worker_id]
            worker.join(0.1)
            raise RuntimeError(
                f"DataLoader worker {worker_id} (pid {worker.pid}) exited unexpectedly with exit code {worker.exitcode}"
            ) from None

    def shutdown(self) -> None:
        """Stop every worker and wait for it; terminate the ones that do not stop in time."""
        workers, self.workers = self.workers, []
        for pipe in self.task_pipes:
            try:
                pipe.send(None)
            except (OSError, ValueError):
                pass  # the worker is gone already
        for pipe in self.result_pipes:
            pipe.close()  # a worker still sending a batch gets an error at once instead of blocking
        for worker in workers:
            worker.join(JOIN_TIMEOUT)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for pipe in self.task_pipes:
            pipe.close()
        self.task_pipes, self.result_pipes = [], []

    def __del__(self):
        if getattr(self, "workers", None):
            try:
                self.shutdown()
            except Exception:  # at interpreter exit multiprocessing may have stopped the workers already
                pass


class EpochIterator:
    """One epoch's batches from a WorkerPool, in task order."""

    def __init__(
        self, pool: WorkerPool, epoch: int, tasks: Iterator, prefetch_factor: int, timeout: float, owns_pool: bool
    ):
        self.pool = pool
        self.epoch = epoch
        self.tasks = tasks
        self.in_flight_limit = max(1, prefetch_factor * pool.num_workers)
        self.timeout = timeout if timeout > 0 else None
        self.owns_pool = owns_pool
        self.active = [True] * pool.num_workers  # False once a worker's stream has ended
        self.next_worker = 0
        self.sent = 0  # task ids 0 .. sent-1 have been sent
        self.received = 0  # the id of the next result to yield
        self.ready: dict[int, tuple] = {}
        self.tasks_left = True
        self.finished = False
        try:
            self._send_tasks()
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> EpochIterator:
        return self

    def __next__(self):
        if self.finished:
            raise StopIteration
        if self.pool.epoch != self.epoch:
            self.finished = True  # the pool serves the newer epoch now; leave it running
            raise RuntimeError("DataLoader: a newer iteration over this loader's persistent workers has started")
        try:
            return self._next_batch()
        except StopIteration:
            self.close()
            raise
        except BaseException:  # an error in a worker, a timeout, Ctrl-C: no worker outlives it
            self.close(shutdown=True)
            raise

    def _next_batch(self):
        while True:
            while self.received not in self.ready:
                if self.received == self.sent:
                    raise StopIteration
                self._receive_one()
            kind, payload = self.ready.pop(self.received)
            self.received += 1
            if kind == "end":
                continue
            if kind == "error":
                raise payload.error()
            self._send_tasks()
            return payload

    def _receive_one(self) -> None:
        worker_id, (epoch, task_id, kind, payload) = self.pool.receive(self.timeout)
        if epoch != self.epoch:
            return  # a result of an epoch abandoned earlier (persistent workers)
        if kind == "end":
            self.active[worker_id] = False
        self.ready[task_id] = (kind, payload)

    def _send_tasks(self) -> None:
        while self.tasks_left and self.sent - self.received < self.in_flight_limit and any(self.active):
            task = next(self.tasks, _NO_TASK)
            if task is _NO_TASK:
                self.tasks_left = False
                return
            while not self.active[self.next_worker]:
                self.next_worker = (self.next_worker + 1) % len(self.active)
            self.pool.send(self.next_worker, (self.epoch, self.sent, task))
            self.next_worker = (self.next_worker + 1) % len(self.active)
            self.sent += 1

    def close(self, shutdown: bool = False) -> None:
        """End the epoch: stop the workers unless they persist (an error stops them too)."""
        self.finished = True
        if self.owns_pool or shutdown:
            self.pool.shutdown()

    def __del__(self):
        if not getattr(self, "finished", True):
            self.close()


_NO_TASK = object()
