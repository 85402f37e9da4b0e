"""Trainer: the loop, its metrics log and checkpoints, exact resume, and Ctrl-C."""

import io
import json
import os
import signal
import sys
import types

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, datasets
from chainrule.models import MLP
from chainrule.optim.lr_scheduler import OneCycleLR, StepLR
from chainrule.training import (
    LineProgress,
    MetricsLog,
    RunningMetrics,
    Trainer,
    correct_predictions,
    evaluate,
    latest_checkpoint,
    load_checkpoint,
    make_progress,
)
from chainrule.training.checkpoint import checkpoint_progress

EPOCHS = 4
EPOCH_KEYS = ("epoch", "step", "loss", "accuracy", "lr", "samples_per_s", "time", "test_loss", "test_accuracy")


def make_trainer(out_dir, seeded=True, optimizer="adam", **options):
    """A small run with every source of randomness: init, dropout, shuffling, and a per-batch schedule."""
    cr.manual_seed(0)
    train, test = datasets.spirals(n=240, seed=0), datasets.spirals(n=100, seed=1)
    model = MLP([2, 16, 16, 2], dropout=0.1)
    if optimizer == "adam":
        opt = cr.optim.Adam(model.parameters(), lr=0.01)
    else:
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(train, batch_size=32, shuffle=True, seed=0 if seeded else None)
    schedule = OneCycleLR(opt, max_lr=0.05, total_steps=EPOCHS * len(loader))
    options.setdefault("progress", "none")
    return Trainer(
        model,
        opt,
        cr.nn.CrossEntropyLoss(),
        loader,
        DataLoader(test, batch_size=50),
        scheduler=schedule,
        scheduler_interval="batch",
        out_dir=out_dir,
        **options,
    )


def parameters(trainer):
    return [p.detach().numpy().copy() for p in trainer.model.parameters()]


def assert_bitwise_equal(left, right):
    assert len(left) == len(right)
    for a, b in zip(left, right):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Final parameters and history of uninterrupted runs, by (seeded loader, optimizer)."""
    runs = {}
    for seeded, optimizer in [(True, "adam"), (False, "adam"), (True, "sgd")]:
        trainer = make_trainer(tmp_path_factory.mktemp("full"), seeded, optimizer)
        trainer.fit(EPOCHS)
        runs[seeded, optimizer] = parameters(trainer), trainer.history
    return runs


@pytest.mark.parametrize("seeded, optimizer", [(True, "adam"), (False, "adam"), (True, "sgd")])
def test_resume_from_an_epoch_checkpoint_is_bitwise_identical(tmp_path, uninterrupted, seeded, optimizer):
    first = make_trainer(tmp_path, seeded, optimizer)
    first.fit(2)
    assert first.last_checkpoint.name == "checkpoint-epoch002.safetensors"
    resumed = make_trainer(tmp_path, seeded, optimizer)  # a fresh model, optimizer and generator state
    resumed.resume(tmp_path / "checkpoint-epoch002.safetensors")
    assert (resumed.epoch, resumed.step) == (2, 2 * len(resumed.train_loader))
    resumed.fit(EPOCHS)
    expected_parameters, expected_history = uninterrupted[seeded, optimizer]
    assert_bitwise_equal(parameters(resumed), expected_parameters)
    assert [r["test_loss"] for r in resumed.history] == [r["test_loss"] for r in expected_history]


@pytest.mark.parametrize("seeded", [True, False])
def test_keyboard_interrupt_mid_epoch_saves_a_checkpoint_that_resumes_exactly(tmp_path, uninterrupted, seeded):
    def interrupt_at_step_11(trainer, event):
        if event == "batch" and trainer.step == 11:
            raise KeyboardInterrupt

    stream = io.StringIO()
    trainer = make_trainer(tmp_path, seeded, callbacks=[interrupt_at_step_11], progress=LineProgress(stream))
    trainer.fit(EPOCHS)  # returns: the interrupt is handled
    assert trainer.interrupted
    batches = len(trainer.train_loader)
    assert (trainer.epoch, trainer.batch) == (11 // batches, 11 % batches)
    assert trainer.last_checkpoint == tmp_path / f"checkpoint-epoch001-batch{11 % batches:04d}.safetensors"
    assert "checkpoint saved to" in stream.getvalue()
    assert latest_checkpoint(tmp_path) == trainer.last_checkpoint

    resumed = make_trainer(tmp_path, seeded)
    resumed.resume(tmp_path)  # a folder: its latest checkpoint
    resumed.fit(EPOCHS)
    expected_parameters, expected_history = uninterrupted[seeded, "adam"]
    assert_bitwise_equal(parameters(resumed), expected_parameters)
    # the interrupted epoch's training loss covers the batches before and after the interrupt
    assert resumed.history[1]["loss"] == pytest.approx(expected_history[1]["loss"], rel=1e-12)
    events = [line["event"] for line in MetricsLog.read(tmp_path / "metrics.jsonl")]
    assert events == ["epoch", "interrupt", "resume", "epoch", "epoch", "epoch"]


def test_sigint_stops_after_the_current_batch(tmp_path, uninterrupted):
    def press_ctrl_c(trainer, event):
        if event == "batch" and trainer.step == 5:
            os.kill(os.getpid(), signal.SIGINT)  # handled between batches: the run saves and returns

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the tests run as a background job
    trainer = make_trainer(tmp_path, callbacks=[press_ctrl_c])
    trainer.fit(EPOCHS)
    assert trainer.interrupted and trainer.step == 5
    assert signal.getsignal(signal.SIGINT) is before  # restored
    resumed = make_trainer(tmp_path)
    resumed.resume(trainer.last_checkpoint)
    resumed.fit(EPOCHS)
    assert_bitwise_equal(parameters(resumed), uninterrupted[True, "adam"][0])


def test_interrupt_inside_an_optimizer_step_writes_no_torn_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, progress=LineProgress(io.StringIO()))
    real_step = trainer.optimizer.step

    def step_then_interrupt():
        real_step()
        if trainer.step == 3:
            raise KeyboardInterrupt

    trainer.optimizer.step = step_then_interrupt
    trainer.fit(EPOCHS)
    assert trainer.interrupted
    assert "no checkpoint was written" in trainer.progress.stream.getvalue()
    assert latest_checkpoint(tmp_path) is None  # interrupted in epoch 1: nothing saved, nothing torn


def test_checkpoint_holds_the_whole_state_and_a_sidecar(tmp_path):
    trainer = make_trainer(tmp_path, config={"note": "demo"})
    trainer.fit(1)
    path = tmp_path / "checkpoint-epoch001.safetensors"
    sidecar = json.loads((tmp_path / "checkpoint-epoch001.safetensors.json").read_text())
    assert sidecar["file"] == path.name and len(sidecar["sha256"]) == 64
    state = load_checkpoint(path)
    assert {"model", "optimizer", "scheduler", "epoch", "step", "rng_state", "loader", "config"} <= set(state)
    assert (state["epoch"], state["batch"], state["step"]) == (1, 0, len(trainer.train_loader))
    assert state["rng_state"] == cr.get_rng_state()
    assert state["loader"]["seed"] == 0 and state["config"] == {"note": "demo"}
    assert set(state["model"]) == set(trainer.model.state_dict())
    assert checkpoint_progress(path) == (1, 0)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing")


def test_metrics_log_has_epoch_and_periodic_batch_lines(tmp_path):
    trainer = make_trainer(tmp_path, log_every=3)
    history = trainer.fit(2)
    lines = MetricsLog.read(tmp_path / "metrics.jsonl")
    epochs = [line for line in lines if line["event"] == "epoch"]
    batches = [line for line in lines if line["event"] == "batch"]
    assert epochs == history and [line["epoch"] for line in epochs] == [1, 2]
    for line in epochs:
        assert set(EPOCH_KEYS) <= set(line)
        assert 0 <= line["accuracy"] <= 1 and line["samples_per_s"] > 0
    assert [line["step"] for line in batches] == list(range(3, 2 * len(trainer.train_loader) + 1, 3))


def test_epoch_scheduler_and_checkpoint_pruning(tmp_path):
    cr.manual_seed(0)
    model = MLP([2, 4, 2])
    opt = cr.optim.SGD(model.parameters(), lr=1.0)
    loader = DataLoader(datasets.xor(n=64, seed=0), batch_size=16)
    trainer = Trainer(model, opt, cr.nn.CrossEntropyLoss(), loader, scheduler=StepLR(opt, step_size=1, gamma=0.5),
                      out_dir=tmp_path, progress="none", keep_checkpoints=2)  # fmt: skip
    history = trainer.fit(3)
    assert [r["lr"] for r in history] == [1.0, 0.5, 0.25]
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == [
        "checkpoint-epoch002.safetensors",
        "checkpoint-epoch003.safetensors",
    ]


def test_evaluate_and_correct_predictions():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert correct_predictions(logits, np.array([0, 1, 1])) == 2
    assert correct_predictions(np.array([0.5, -1.0, 2.0]), np.array([1, 0, 0])) == 2  # binary scores
    assert correct_predictions(np.array([0.5, -1.0]), np.array([1, -1])) == 2  # -1/+1 labels
    assert correct_predictions(np.zeros((3, 1)), np.zeros((3, 1), dtype=np.float32)) is None  # regression
    model = cr.nn.Linear(2, 2)
    data = datasets.moons(n=50, seed=0)
    result = evaluate(model, DataLoader(data, batch_size=20), cr.nn.CrossEntropyLoss())
    assert result["samples"] == 50 and result["error"] == pytest.approx(1 - result["accuracy"])
    assert model.training  # restored


def test_evaluate_on_a_device_gives_the_cpu_metrics(device):
    data = datasets.moons(n=50, seed=0)
    cr.manual_seed(0)
    model = cr.nn.Linear(2, 2)
    expected = evaluate(model, DataLoader(data, batch_size=20), cr.nn.CrossEntropyLoss())
    got = evaluate(model.to(device), DataLoader(data, batch_size=20), cr.nn.CrossEntropyLoss(), device)
    assert got["samples"] == 50 and got["accuracy"] == expected["accuracy"]
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-6)


def test_progress_reporters(monkeypatch):
    stream = io.StringIO()
    assert isinstance(make_progress("auto", stream), LineProgress)  # not a terminal
    assert type(make_progress("none", stream)).__name__ == "NoProgress"

    class FakeBar:
        instances = []

        def __init__(self, **options):
            self.options, self.updates, self.postfix = options, 0, None
            FakeBar.instances.append(self)

        def update(self, n):
            self.updates += n

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

        def close(self):
            pass

        @staticmethod
        def write(text, file=None):
            print(text, file=file)

    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", types.SimpleNamespace(tqdm=FakeBar))
    stream.isatty = lambda: True
    reporter = make_progress("auto", stream)
    assert type(reporter).__name__ == "BarProgress"
    trainer = make_trainer(None, progress=reporter)
    trainer.fit(1)
    bar = FakeBar.instances[-1]
    assert bar.updates == len(trainer.train_loader) and "samples/s" in bar.postfix
    assert "test acc" in stream.getvalue()


def test_line_progress_prints_periodically():
    stream = io.StringIO()
    reporter = LineProgress(stream, min_interval=0.0)
    reporter.epoch_start(1, 2, 100, 0)
    metrics = RunningMetrics(loss_sum=5.0, correct=90, samples=100)
    for batch in range(1, 101):
        reporter.batch_end(batch, metrics, elapsed=1.0)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 9 and lines[0].startswith("epoch 1/2  10%") and "acc 90.00%" in lines[0]


def test_progress_bar_by_name_needs_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails
    with pytest.raises(ImportError, match="progress='bar' needs tqdm"):
        make_progress("bar", io.StringIO())
    assert isinstance(make_progress("auto", io.StringIO()), LineProgress)  # auto falls back to lines


def lr_after_each_step(trainer, epochs):
    """Run ``trainer`` to ``epochs`` epochs; the learning rate after every optimizer step."""
    rates = []
    trainer.callbacks.append(
        lambda t, event: rates.append(t.optimizer.param_groups[0]["lr"]) if event == "batch" else None
    )
    trainer.fit(epochs)
    return rates


def test_resume_with_a_rebuilt_schedule_joins_the_longer_schedule_at_its_step(tmp_path):
    short = make_trainer(tmp_path / "run")  # OneCycleLR over EPOCHS epochs
    short.fit(2)
    longer = 2 * EPOCHS
    cr.manual_seed(0)
    reference = make_trainer(None)
    reference.scheduler = OneCycleLR(reference.optimizer, max_lr=0.05, total_steps=longer * len(reference.train_loader))
    expected = lr_after_each_step(reference, longer)

    extended = make_trainer(tmp_path / "run")
    extended.scheduler = OneCycleLR(extended.optimizer, max_lr=0.05, total_steps=longer * len(extended.train_loader))
    extended.resume(tmp_path / "run", rebuild_schedule=True)
    joined_at = extended.step
    rates = lr_after_each_step(extended, longer)
    assert rates == pytest.approx(expected[joined_at:], rel=1e-12)
    momentum = extended.optimizer.param_groups[0]["betas"][0]
    assert momentum == pytest.approx(reference.optimizer.param_groups[0]["betas"][0], rel=1e-12)

    restored = make_trainer(tmp_path / "run")  # without rebuilding, the saved 4-epoch schedule runs out
    restored.resume(tmp_path / "run" / "checkpoint-epoch002.safetensors")
    assert restored.scheduler.total_steps == EPOCHS * len(restored.train_loader)


def test_pruning_keeps_the_last_epochs_drops_interrupt_checkpoints_and_keeps_the_best(tmp_path):
    def interrupt_at_step_3(trainer, event):
        if event == "batch" and trainer.step == 3:
            raise KeyboardInterrupt

    make_trainer(tmp_path, callbacks=[interrupt_at_step_3]).fit(EPOCHS)
    assert (tmp_path / "checkpoint-epoch000-batch0003.safetensors").is_file()
    trainer = make_trainer(tmp_path, keep_checkpoints=2, keep_best=True)
    trainer.resume(tmp_path)
    trainer.fit(EPOCHS)
    names = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    assert names == [
        "checkpoint-best.safetensors",
        "checkpoint-epoch003.safetensors",
        "checkpoint-epoch004.safetensors",
    ]
    accuracies = [record["test_accuracy"] for record in trainer.history]
    assert load_checkpoint(tmp_path / "checkpoint-best.safetensors")["epoch"] == accuracies.index(max(accuracies)) + 1
    with pytest.raises(ValueError, match="keep_checkpoints must be at least 1"):
        make_trainer(None, keep_checkpoints=0)
