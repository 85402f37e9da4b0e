"""``Trainer``: the epoch loop, evaluation, metrics log, checkpoints, exact resume and Ctrl-C.

    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), train_loader, test_loader, out_dir="runs/mnist")
    trainer.fit(epochs=10)                  # prints progress, writes metrics.jsonl and a checkpoint per epoch
    ...
    trainer.resume("runs/mnist")            # a new Trainer over a fresh model: continue where it stopped
    trainer.fit(epochs=10)                  # ends with exactly the parameters of an uninterrupted run

A resumed run is bit-for-bit the run that was not interrupted because the
checkpoint holds every input of the remaining computation: parameters,
optimizer and scheduler state, the counters, chainrule's random generator, and
the data order (the loader's epoch, and the generator state at the epoch's start
for a loader that shuffles from the global generator).

Extending a run to more epochs (``fit(more)`` after ``resume``) keeps all of
that, but a schedule made for the old length would run past its end: build the
new Trainer's scheduler for the new length and resume with
``rebuild_schedule=True``; the schedule then joins the new one at the current
step (see ``Trainer.resume``). An interrupt at any point, even inside the
end-of-epoch schedule step, leaves a checkpoint whose resume steps the schedule
exactly as often as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.nn.loss import CrossEntropyLoss
from chainrule.nn.module import Module
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.sgd import SGD
from chainrule.random import get_rng_state, set_rng_state
from chainrule.tensor import Tensor
from chainrule.training.checkpoint import (
    BEST_CHECKPOINT,
    checkpoint_name,
    checkpoint_progress,
    list_checkpoints,
    load_checkpoint,
    remove_checkpoint,
    save_checkpoint,
)
from chainrule.training.metrics import MetricsLog, RunningMetrics, is_best
from chainrule.training.parallel import any_rank, unwrap, world
from chainrule.training.progress import make_progress

LossFn = Callable[[Tensor, Tensor], Tensor]
Callback = Callable[["Trainer", str], None]


def evaluate(model: Module, loader: Iterable, loss_fn: LossFn | None = None, device=None) -> dict[str, Any]:
    """Mean loss, accuracy and error of ``model`` over ``loader`` (eval mode, no graph).

    Returns ``{"loss", "accuracy", "error", "samples", "time"}``; loss is None
    without ``loss_fn``, accuracy and error are None for regression targets.
    """
    was_training = model.training
    model.eval()
    metrics = RunningMetrics()
    start = time.perf_counter()
    try:
        with no_grad():
            for inputs, target in loader:
                if device is not None:
                    inputs, target = inputs.to(device), target.to(device)
                output = model(inputs)
                metrics.add(None if loss_fn is None else loss_fn(output, target), output, target)
    finally:
        model.train(was_training)
    accuracy = metrics.accuracy
    return {
        "loss": None if loss_fn is None else metrics.loss,
        "accuracy": accuracy,
        "error": None if accuracy is None else 1.0 - accuracy,
        "samples": metrics.samples,
        "time": time.perf_counter() - start,
    }


class Trainer:
    """Trains ``model`` on ``train_loader`` epoch by epoch and evaluates it on ``test_loader``.

    Args:
        model: the network; ``loss_fn(model(inputs), target)`` is minimised.
        optimizer: over ``model``'s parameters.
        loss_fn: maps (output, target) of a batch to a scalar mean loss.
        train_loader: yields (inputs, target) batches; a chainrule ``DataLoader``
            (``set_epoch`` gives exact resume; with a ``seed`` its order is a
            function of (seed, epoch), otherwise of the global generator).
        test_loader: evaluated after every epoch (loss, accuracy), or None.
        scheduler: an ``lr_scheduler``, stepped after each epoch, or after each
            batch with ``scheduler_interval="batch"`` (as ``OneCycleLR`` wants).
        out_dir: where ``metrics.jsonl`` and the checkpoints go; None keeps nothing.
        log_every: also log a "batch" line every this many steps (0: epochs only).
        progress: "auto" (tqdm bar on a terminal if installed, else a line every
            10% of an epoch), "bar", "lines", "none"/False, or a reporter object.
        callbacks: functions ``callback(trainer, event)`` called with event
            "batch" after every optimizer step and "epoch" after every epoch.
        config: plain data stored in every checkpoint (how to rebuild the run).
        keep_checkpoints: keep only this many end-of-epoch checkpoints, the last
            ones (None: all); older ones, and those written on an interrupt, go.
        keep_best: also keep the best epoch's checkpoint as
            ``checkpoint-best.safetensors`` (best: highest test accuracy, else
            lowest test loss, else lowest training loss; the earliest on ties).
        device: where to train: the model is moved there (in place, so ``optimizer``
            keeps its parameters) and each batch is moved there once, before its
            forward pass (None: leave the model and the batches where they are).
            The losses stay there as running sums; they are read back only when
            reported (progress, log lines, the epoch's record), so a step waits
            for no device.

    Counters: ``epoch`` (epochs completed), ``batch`` (batches done in the
    current epoch), ``step`` (optimizer steps in all). ``history`` holds one
    record per epoch, as logged.
    """

    def __init__(
        self,
        model: Module,
        optimizer: Optimizer,
        loss_fn: LossFn,
        train_loader,
        test_loader=None,
        *,
        scheduler=None,
        scheduler_interval: str = "epoch",
        out_dir: str | Path | None = None,
        log_every: int = 0,
        progress: Any = "auto",
        callbacks: Sequence[Callback] = (),
        config: dict | None = None,
        keep_checkpoints: int | None = None,
        keep_best: bool = False,
        device=None,
    ):
        if scheduler_interval not in ("epoch", "batch"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.log_every = int(log_every)
        self.progress = progress if hasattr(progress, "batch_end") else make_progress(progress)
        self.callbacks = list(callbacks)
        self.config = dict(config or {})
        if keep_checkpoints is not None and keep_checkpoints < 1:
            raise ValueError(f"Trainer: keep_checkpoints must be at least 1 (or None: all), got {keep_checkpoints}")
        self.keep_checkpoints = keep_checkpoints
        self.keep_best = keep_best
        self.device = device
        if device is not None:
            model.to(device)

        self.epoch = 0
        self.batch = 0
        self.step = 0
        self.epochs: int | None = None
        self.history: list[dict] = []
        self.interrupted = False
        self.last_checkpoint: Path | None = None
        self._running = RunningMetrics()  # this epoch's training loss and accuracy so far
        self._epoch_time = 0.0  # seconds of training in this epoch so far
        self._epoch_rng_state: dict | None = None  # the generator before this epoch drew its order
        self._batch_rng_state: dict | None = None
        self._mid_batch = False
        self._stepping = False
        self._epoch_end: tuple | None = None  # (epoch, batch, scheduler state, hyperparameters) before its step
        self._stop_requested = False
        self._exit_after_step = False  # under mpiexec: a signal arrived during an optimizer step
        self._started = time.perf_counter()  # when fit() began, for the records' "elapsed"
        self._log: MetricsLog | None = None
        self._world = world()  # the MPI ranks, which must stop at the same batch; None in one process

    # ------------------------------------------------------------------ the loop
    def fit(self, epochs: int) -> list[dict]:
        """Train until ``epochs`` epochs are complete (counting those before a resume); return ``history``.

        Ctrl-C stops at the end of the current batch, saves a checkpoint and
        returns with ``interrupted`` set (a second Ctrl-C stops at once).
        """
        self.epochs = int(epochs)
        self.interrupted = False
        self._stop_requested = False
        self._started = time.perf_counter()
        if self.out_dir is not None:
            self._log = MetricsLog(self.out_dir / "metrics.jsonl")
        try:
            with self._sigint_requests_stop():
                while self.epoch < self.epochs and not self._stop_requested:
                    if self._train_epoch():
                        self._finish_epoch()
                if self._stop_requested:
                    self._interrupt()
        except KeyboardInterrupt:
            self._interrupt()
        finally:
            self.progress.close()
            if self._log is not None:
                self._log.close()
                self._log = None
        return self.history

    def _train_epoch(self) -> bool:
        """Run the (rest of the) current epoch; True if it got to its end."""
        loader, model, optimizer, loss_fn = self.train_loader, self.model, self.optimizer, self.loss_fn
        per_batch_scheduler = self.scheduler if self.scheduler_interval == "batch" else None
        batches = self._epoch_batches()
        total = len(loader)
        self.progress.epoch_start(self.epoch + 1, self.epochs, total, self.batch)
        window, window_start = RunningMetrics(), time.perf_counter()
        start = time.perf_counter() - self._epoch_time
        model.train()
        for inputs, target in batches:
            self._batch_rng_state = get_rng_state()
            self._mid_batch = True
            if self.device is not None:
                inputs, target = inputs.to(self.device), target.to(self.device)
            output = model(inputs)
            loss = loss_fn(output, target)
            optimizer.zero_grad()
            loss.backward()
            self._stepping = True
            optimizer.step()
            if per_batch_scheduler is not None:
                per_batch_scheduler.step()
            self._stepping = False
            self.step += 1
            self.batch += 1
            self._running.add(loss, output, target)
            self._mid_batch = False
            if self._exit_after_step:
                self._save_and_exit()
            self.progress.batch_end(self.batch, self._running, time.perf_counter() - start)
            if self.log_every:
                window.add(loss, output, target)
                if self.step % self.log_every == 0:
                    self._log_window(window, time.perf_counter() - window_start, time.perf_counter() - start)
                    window, window_start = RunningMetrics(), time.perf_counter()
            for callback in self.callbacks:
                callback(self, "batch")
            if self._world is not None:  # Ctrl-C reaches the ranks at different batches: stop together
                self._stop_requested = any_rank(self._world, self._stop_requested)
            if self._stop_requested:
                break
        self._epoch_time = time.perf_counter() - start
        return self.batch >= total

    def _epoch_batches(self):
        """An iterator over the current epoch's batches, past those already done if resuming mid-epoch."""
        loader = self.train_loader
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(self.epoch)
        if self.batch == 0:
            self._epoch_rng_state = get_rng_state()
            self._running, self._epoch_time = RunningMetrics(), 0.0
            return iter(loader)
        # Resuming inside an epoch: draw its order again from the generator state it
        # was drawn from, then carry on with the generator where the run stopped.
        current = get_rng_state()
        set_rng_state(self._epoch_rng_state)
        batches = iter(loader)
        set_rng_state(current)
        return itertools.islice(batches, self.batch, None)

    def _finish_epoch(self) -> None:
        """Step an epoch scheduler, evaluate, log, checkpoint."""
        lr = self.optimizer.param_groups[0]["lr"]
        # Until the counters have moved on, an interrupt undoes this (see _settle_epoch_end): the checkpoint
        # then holds the epoch's batches done and the schedule not yet stepped, which the resume steps once.
        epoch_scheduler = self.scheduler if self.scheduler_interval == "epoch" else None
        schedule = None if epoch_scheduler is None else epoch_scheduler.state_dict()
        self._epoch_end = (self.epoch, self.batch, schedule, _hyperparameters(self.optimizer))
        if epoch_scheduler is not None:
            epoch_scheduler.step()
        self.epoch += 1
        self.batch = 0
        self._epoch_end = None
        train = self._running
        record = {
            "event": "epoch",
            "epoch": self.epoch,
            "step": self.step,
            "loss": train.loss,
            "accuracy": train.accuracy,
            "lr": lr,
            "samples_per_s": train.samples / self._epoch_time if self._epoch_time > 0 else 0.0,
            "time": self._epoch_time,
        }
        if self.test_loader is not None:
            test = evaluate(self.model, self.test_loader, self.loss_fn, self.device)
            record.update(test_loss=test["loss"], test_accuracy=test["accuracy"], eval_time=test["time"])
        record["elapsed"] = time.perf_counter() - self._started
        self.history.append(record)
        self._write_log(record)
        self.progress.epoch_end(record)
        if self.out_dir is not None:
            self.save_checkpoint()
            if self.keep_best and is_best(self.history):
                save_checkpoint(self.state_dict(), self.out_dir / BEST_CHECKPOINT)
            self._prune_checkpoints()
        for callback in self.callbacks:
            callback(self, "epoch")

    def _log_window(self, window: RunningMetrics, seconds: float, epoch_seconds: float) -> None:
        self._write_log(
            {
                "event": "batch",
                "epoch": self.epoch + 1,
                "step": self.step,
                "loss": window.loss,
                "accuracy": window.accuracy,
                "lr": self.optimizer.param_groups[0]["lr"],
                "samples_per_s": window.samples / seconds if seconds > 0 else 0.0,
                "time": epoch_seconds,
            }
        )

    def _write_log(self, record: dict) -> None:
        if self._log is not None:
            self._log.write(record)

    # ------------------------------------------------------------------ Ctrl-C
    @contextlib.contextmanager
    def _sigint_requests_stop(self):
        """Within: the first SIGINT asks the loop to stop after the current batch; a second one raises."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        if self._world is not None:
            with self._signals_save_and_exit():
                yield
            return

        def request_stop(signum, frame):
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            self.progress.write(
                "\nInterrupted: finishing this batch, then saving a checkpoint (Ctrl-C again to quit now)"
            )

        previous = signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    @contextlib.contextmanager
    def _signals_save_and_exit(self):
        """Under mpiexec: Ctrl-C (or SIGTERM) leaves one checkpoint, written by rank 0, and ends every rank.

        ``mpiexec`` answers Ctrl-C by sending SIGTERM to every rank and SIGKILL
        about a quarter of a second later: too soon to finish a batch together,
        or even to write a checkpoint on a busy machine. Rank 0's parameters
        after its last completed step are every rank's (the gradients were
        averaged), so rank 0 forks: the child, in a session of its own that the
        kill does not reach, writes the checkpoint from that state (finishing
        first an optimizer step under way, which needs no other rank) and
        exits, and rank 0 exits with 130. (On a heavily loaded machine the kill
        can still reach the writer before it has left the job's session; the
        last epoch's checkpoint is then the one to resume from.) The other ranks carry on until the
        kill: rank 0 may be inside a collective, where its handler runs only
        once they have joined it.
        """

        def save_and_exit(signum, frame):
            if self.out_dir is None:
                # Not rank 0: carry on until mpiexec's kill, so that rank 0, perhaps waiting in a
                # collective (where its handler cannot run), gets out of it.
                return
            escaped_read, escaped_write = os.pipe()
            if os.fork() != 0:  # rank 0 itself: give the writer the CPU until it has escaped, then leave
                select.select([escaped_read], [], [], 0.2)
                with contextlib.suppress(OSError):  # the launcher's pipes may be gone already
                    sys.stdout.flush()
                os._exit(130)
            os.setsid()  # the checkpoint writer outlives the job's kill
            os.write(escaped_write, b"1")
            if self._stepping:  # parameters half-updated: save once the step is done
                self._exit_after_step = True
                return
            self._save_and_exit()

        previous = {sig: signal.signal(sig, save_and_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _save_and_exit(self) -> None:
        """In rank 0's checkpoint writer: save what a resume needs, then exit without unwinding."""
        with contextlib.suppress(OSError):  # the job's output pipes may be gone: the file is what matters
            self._interrupt()
            self.progress.close()
            if self._log is not None:
                self._log.close()
            sys.stdout.flush()
        os._exit(0)  # no exception: unwinding could call into MPI, which this process must not use

    def _interrupt(self) -> None:
        """Save what a resume needs after Ctrl-C (or a KeyboardInterrupt from inside the loop) and say so."""
        self.interrupted = True
        where = f"epoch {self.epoch + 1}, after {self.batch} of {len(self.train_loader)} batches (step {self.step})"
        if self._stepping:
            self.progress.write(
                f"Interrupted inside an optimizer step in {where}: the parameters may be partly updated, "
                f"so no checkpoint was written; the last one is {self.last_checkpoint}"
            )
            return
        if self._mid_batch:  # the unfinished batch is redone on resume, with the same random draws
            set_rng_state(self._batch_rng_state)
            self._mid_batch = False
        self._settle_epoch_end()
        self._write_log({"event": "interrupt", "epoch": self.epoch + 1, "batch": self.batch, "step": self.step})
        if self.out_dir is None:
            self.progress.write(f"Interrupted in {where}; no out_dir, so no checkpoint was written")
            return
        if self.last_checkpoint is None or checkpoint_progress(self.last_checkpoint) != (self.epoch, self.batch):
            self.save_checkpoint()
        self.progress.write(f"Interrupted in {where}; checkpoint saved to {self.last_checkpoint}")

    def _settle_epoch_end(self) -> None:
        """After an interrupt while ``_finish_epoch`` stepped the schedule and moved the counters: make them agree.

        If the epoch counter had not moved on, the schedule (and the learning
        rates it wrote) go back to before the step, so that the resume steps it
        once; if it had, the epoch is over and the batch counter is 0.
        """
        if self._epoch_end is None:
            return
        epoch, batch, schedule, hyperparameters = self._epoch_end
        if self.epoch == epoch:
            if schedule is not None:
                self.scheduler.load_state_dict(schedule)
            _set_hyperparameters(self.optimizer, hyperparameters)
            self.batch = batch
        else:
            self.batch = 0
        self._epoch_end = None

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly; what ``save_checkpoint`` writes."""
        mid_epoch = self.batch > 0
        loader = self.train_loader
        return {
            "model": unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.step,
            "rng_state": get_rng_state(),
            "epoch_rng_state": self._epoch_rng_state if mid_epoch else None,
            "loader": {"epoch": self.epoch, "seed": getattr(loader, "seed", None), "batches": len(loader)},
            "running": self._running.state_dict() if mid_epoch else None,
            "epoch_time": self._epoch_time if mid_epoch else 0.0,
            "history": self.history,
            "config": self.config,
        }

    def load_state_dict(self, state: dict, rebuild_schedule: bool = False) -> None:
        """Restore a ``state_dict()``: model, optimizer, scheduler, counters, generator, data position.

        With ``rebuild_schedule`` the saved schedule is not restored: this
        Trainer's (new) scheduler joins the run at the checkpoint's position
        (see ``resume``).
        """
        unwrap(self.model).load_state_dict(state["model"])
        fresh = _hyperparameters(self.optimizer)
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.batch, self.step = int(state["epoch"]), int(state["batch"]), int(state["step"])
        if self.scheduler is not None and rebuild_schedule:
            self._join_schedule(fresh)
        elif self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history = list(state.get("history") or [])
        self._epoch_rng_state = state.get("epoch_rng_state")
        running = state.get("running")
        self._running = RunningMetrics.from_state(running) if running else RunningMetrics()
        self._epoch_time = float(state.get("epoch_time") or 0.0)
        saved_seed = (state.get("loader") or {}).get("seed")
        if saved_seed != getattr(self.train_loader, "seed", None):
            warnings.warn(
                f"Trainer.resume: the checkpoint's loader had seed {saved_seed}, this one has "
                f"{getattr(self.train_loader, 'seed', None)}: the data order will differ",
                stacklevel=3,
            )
        if hasattr(self.train_loader, "set_epoch"):
            self.train_loader.set_epoch(self.epoch)
        set_rng_state(state["rng_state"])

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write ``state_dict()`` to ``path`` (default: ``out_dir``/checkpoint-epochNNN[-batchNNNN].safetensors)."""
        if path is None:
            if self.out_dir is None:
                raise ValueError("Trainer.save_checkpoint: give a path, or make the Trainer with an out_dir")
            path = self.out_dir / checkpoint_name(self.epoch, self.batch)
        self.last_checkpoint = save_checkpoint(self.state_dict(), path)
        return self.last_checkpoint

    def resume(self, checkpoint: str | Path | dict, *, rebuild_schedule: bool = False) -> dict:
        """Continue from a checkpoint: a file, a folder (its latest checkpoint), or one already loaded.

        Returns the checkpoint; notes the resume in ``metrics.jsonl``.

        Extending (or shortening) a run: a schedule made for the run's length
        (cosine, one-cycle, a step every third of the run) does not fit another
        length; restored as saved it would run past its end. Make this Trainer
        with a scheduler built for the new length, from the optimizer as built
        (its hyperparameters as at the run's start), and pass
        ``rebuild_schedule=True``: the scheduler is advanced to the checkpoint's
        position (``step`` for a per-batch schedule, ``epoch`` for a per-epoch
        one), so from there on the learning rates (and a cycled momentum) are
        those a fresh run of the new length has at the same point, while the
        parameters, the optimizer's state, the counters and the data order come
        from the checkpoint. The rate jumps once, to the new schedule's value at
        that point, then follows it to its end. The scheduler must step without
        arguments (not ``ReduceLROnPlateau``).
        """
        state = checkpoint if isinstance(checkpoint, dict) else load_checkpoint(checkpoint)
        self.load_state_dict(state, rebuild_schedule=rebuild_schedule)
        if self.out_dir is not None:
            with contextlib.closing(MetricsLog(self.out_dir / "metrics.jsonl")) as log:
                log.write({"event": "resume", "epoch": self.epoch, "batch": self.batch, "step": self.step})
        return state

    def _join_schedule(self, fresh: list[dict]) -> None:
        """Advance this Trainer's new scheduler from its start (hyperparameters ``fresh``) to the run's position."""
        _set_hyperparameters(self.optimizer, fresh)
        position = self.step if self.scheduler_interval == "batch" else self.epoch
        with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": intended here
            warnings.simplefilter("ignore")
            for _ in range(position):
                self.scheduler.step()

    def _prune_checkpoints(self) -> None:
        """Keep the last ``keep_checkpoints`` end-of-epoch checkpoints; drop every older one (interrupts' too)."""
        if self.keep_checkpoints is None:
            return
        found = list_checkpoints(self.out_dir)
        kept = [p for p in found if checkpoint_progress(p)[1] == 0][-self.keep_checkpoints :]
        if not kept:
            return
        newest = checkpoint_progress(kept[-1])
        for path in found:
            if path not in kept and checkpoint_progress(path) < newest:
                remove_checkpoint(path)


def _hyperparameters(optimizer: Optimizer) -> list[dict]:
    """Each parameter group's settings (lr, momentum, ...: all but its parameters), copied."""
    return [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]


def _set_hyperparameters(optimizer: Optimizer, settings: list[dict]) -> None:
    for group, values in zip(optimizer.param_groups, settings):
        group.update(values)


def fit(
    model: Module,
    train_loader,
    epochs: int,
    *,
    optimizer: Optimizer | None = None,
    lr: float = 0.01,
    loss_fn: LossFn | None = None,
    test_loader=None,
    **trainer_options,
) -> Trainer:
    """Train ``model`` for ``epochs`` epochs (SGD at ``lr`` and cross-entropy unless given); returns the Trainer.

    ``trainer_options`` are ``Trainer``'s keyword arguments (``scheduler``,
    ``out_dir``, ``progress``, ...).
    """
    trainer = Trainer(
        model,
        optimizer if optimizer is not None else SGD(model.parameters(), lr=lr),
        loss_fn if loss_fn is not None else CrossEntropyLoss(),
        train_loader,
        test_loader,
        **trainer_options,
    )
    trainer.fit(epochs)
    return trainer
