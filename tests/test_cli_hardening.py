"""The command line under misuse: extended and interrupted runs, bad flags, errors, Ctrl-C, locks, leftovers."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.data import DataLoader, datasets
from chainrule.models import MLP
from chainrule.optim.lr_scheduler import StepLR
from chainrule.training import Trainer
from chainrule.training.metrics import MetricsLog
from chainrule.training.rundir import LOCK_NAME, RunLock, RunLockedError, remove_stale_temporaries

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "spirals", "--hidden", "16", "--batch-size", "100", "--quiet"]


def run_main(args, capsys):
    """``main(args)`` in this process: (exit status, stdout, stderr); argparse's exits count as statuses."""
    try:
        status = main(list(args))
    except SystemExit as exit_info:
        status = exit_info.code
    out, err = capsys.readouterr()
    return status, out, err


def epoch_lrs(run_dir):
    return {line["epoch"]: line["lr"] for line in MetricsLog.read(Path(run_dir) / "metrics.jsonl")
            if line["event"] == "epoch"}  # fmt: skip


def final_groups(run_dir, epoch):
    state = cr.load(Path(run_dir) / f"checkpoint-epoch{epoch:03d}.safetensors")
    return [{k: g[k] for k in ("lr", "momentum") if k in g} for g in state["optimizer"]["param_groups"]]


# ---------------------------------------------------------------------- extending a run
@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "step", "inverse-time"])
def test_extending_a_run_rebuilds_its_schedule_for_the_new_length(tmp_path, capsys, schedule):
    options = [*SMALL, "--schedule", schedule]
    assert main(["train", *options, "--epochs", "6", "--out", str(tmp_path / "fresh")]) == 0
    assert main(["train", *options, "--epochs", "3", "--out", str(tmp_path / "extended")]) == 0
    capsys.readouterr()
    status, out, err = run_main(["train", "--resume", str(tmp_path / "extended"), "--epochs", "6"], capsys)
    assert status == 0, err
    fresh, extended = epoch_lrs(tmp_path / "fresh"), epoch_lrs(tmp_path / "extended")
    # from the join on, the rates are those of a run made 6 epochs long from the start
    later = (4, 5, 6)
    assert [extended[e] for e in later] == pytest.approx([fresh[e] for e in later], rel=1e-12, abs=1e-15)
    for mine, reference in zip(final_groups(tmp_path / "extended", 6), final_groups(tmp_path / "fresh", 6)):
        assert mine.keys() == reference.keys()
        assert [mine[k] for k in mine] == pytest.approx([reference[k] for k in mine], rel=1e-12, abs=1e-15)
    if schedule != "inverse-time":  # a schedule without a length is simply continued
        assert "rebuilt for 6 epochs" in out


def test_the_help_says_what_extending_a_run_means(capsys):
    status, out, _ = run_main(["train", "--help"], capsys)
    assert status == 0
    text = " ".join(out.split())
    assert "Extending a run" in text and "rebuilt for the new number of epochs" in text


def make_epoch_scheduled_trainer(out_dir, callbacks=(), scheduler_class=StepLR):
    cr.manual_seed(0)
    model = MLP([2, 8, 2])
    optimizer = cr.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    loader = DataLoader(datasets.xor(n=64, seed=0), batch_size=16, shuffle=True, seed=0)
    return Trainer(model, optimizer, cr.nn.CrossEntropyLoss(), loader, scheduler=scheduler_class(optimizer, 1, 0.5),
                   out_dir=out_dir, progress="none", callbacks=callbacks)  # fmt: skip


def test_interrupt_right_after_an_epoch_schedule_step_resumes_with_one_step(tmp_path):
    class InterruptedStepLR(StepLR):
        """Raises KeyboardInterrupt just after its step at the end of epoch 2, as a second Ctrl-C might."""

        def step(self, *args):
            super().step(*args)
            if self.last_epoch == 2 and not getattr(self, "fired", False):
                self.fired = True
                raise KeyboardInterrupt

    full = make_epoch_scheduled_trainer(tmp_path / "full")
    full.fit(4)
    cut = make_epoch_scheduled_trainer(tmp_path / "cut", scheduler_class=InterruptedStepLR)
    cut.fit(4)
    assert cut.interrupted
    resumed = make_epoch_scheduled_trainer(tmp_path / "cut")
    resumed.resume(tmp_path / "cut")
    resumed.fit(4)
    assert [r["lr"] for r in resumed.history] == [r["lr"] for r in full.history] == [0.5, 0.25, 0.125, 0.0625]
    for mine, theirs in zip(resumed.model.parameters(), full.model.parameters()):
        assert np.array_equal(mine.detach().numpy(), theirs.detach().numpy())


# ---------------------------------------------------------------------- flags checked before any work
@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--lr", "-0.1"], "--lr: must be a finite number above 0"),
        (["train", "--lr", "nan"], "--lr: must be a finite number above 0"),
        (["train", "--momentum", "-1"], "--momentum: must be a finite number at least 0 and below 1"),
        (["train", "--weight-decay", "-1"], "--weight-decay: must be a finite number at least 0"),
        (["train", "--dropout", "1"], "--dropout: must be a finite number at least 0 and below 1"),
        (["train", "--seed", "-1"], "--seed: must be an integer at least 0"),
        (["train", "--keep", "-1"], "--keep: must be an integer at least 0"),
        (["train", "--activation", "bogus"], "--activation 'bogus': choose one of"),
        (["train", "--out", "{file}"], "exists and is not a folder"),
        (["train", "--out", "{file}/run"], "cannot write there"),
        (["train", "--plots", "{file}"], "--plots {file}: exists and is not a folder"),
        (["check", "--eps", "0"], "--eps must be a finite number above 0"),
        (["bench", "--only", "ops", "--output", "{dir}"], "--output {dir}: is a folder"),
        (["bench", "--only", "ops", "--output", "{file}/report.md"], "--output {file}/report.md: cannot write"),
    ],
)
def test_bad_flag_values_are_one_line_usage_errors(args, message, a_file, tmp_path, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the flags were checked")

    monkeypatch.setattr("chainrule.cli.train.load_dataset", no_work)
    monkeypatch.setattr("chainrule.benchmarks.cli.run_and_report", no_work)
    fill = {"file": str(a_file), "dir": str(tmp_path)}
    status, out, err = run_main([arg.format(**fill) for arg in args], capsys)
    assert status == 2
    assert message.format(**fill) in err
    assert "Traceback" not in out + err
    assert [line for line in err.splitlines() if "error:" in line] == [err.splitlines()[-1]]


@pytest.mark.parametrize("flags, package", [(["--plots", "PLOTS"], "matplotlib"), (["--progress", "bar"], "tqdm")])
def test_a_missing_optional_package_fails_before_training(flags, package, tmp_path, capsys, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == package else real_find_spec(name, *a)
    )
    flags = [flag.replace("PLOTS", str(tmp_path / "plots")) for flag in flags]
    args = ["train", "--dataset", "spirals", "--epochs", "1", "--out", str(tmp_path / "run"), *flags]
    status, _, err = run_main(args, capsys)
    assert status == 2
    assert f"needs {package}" in err and "chainrule[cli]" in err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_the_cli_extra_installs_the_whole_command_line():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {requirement.split(">")[0].split("=")[0] for requirement in extras["cli"]}
    assert {"tqdm", "matplotlib", "safetensors"} <= names


def test_unexpected_errors_are_one_line_unless_debug(capsys, monkeypatch):
    def broken(args):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr("chainrule.cli.train.run_train", broken)
    status, out, err = run_main(["train"], capsys)
    assert status == 1
    assert err.strip() == (
        "chainrule train: error: ZeroDivisionError: float division by zero (--debug shows the traceback)"
    )
    with pytest.raises(ZeroDivisionError):
        main(["train", "--debug"])
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "train"])


def test_ctrl_c_in_bench_and_before_training_is_one_line_and_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("chainrule.benchmarks.cli.run_and_report", interrupted)
    status, _, err = run_main(["bench", "--only", "ops"], capsys)
    assert (status, err) == (130, "chainrule bench: interrupted\n")
    monkeypatch.setattr("chainrule.cli.train.load_dataset", interrupted)
    status, _, err = run_main(["train", *SMALL, "--out", str(tmp_path / "run")], capsys)
    assert (status, err) == (130, "chainrule train: interrupted\n")
    assert not (tmp_path / "run").exists()  # the lock released after Ctrl-C, and the folder it made removed
    (tmp_path / "run").mkdir()
    assert run_main(["train", *SMALL, "--out", str(tmp_path / "run")], capsys)[0] == 130
    assert list((tmp_path / "run").iterdir()) == []  # a folder that was there stays


def test_bench_ctrl_c_in_a_real_process_prints_no_traceback():
    program = (
        "import sys; import chainrule.benchmarks.cli as bench\n"
        "def interrupted(*a, **k): raise KeyboardInterrupt\n"
        "bench.run_and_report = interrupted\n"
        "from chainrule.cli import main; sys.exit(main(['bench', '--only', 'ops']))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 130 and done.stderr == "chainrule bench: interrupted\n"


# ---------------------------------------------------------------------- defaults that were surprising
def test_perceptron_model_trains_with_its_own_loss(tmp_path, capsys):
    assert main(["train", *SMALL, "--model", "perceptron", "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert cr.load(tmp_path / "checkpoint-epoch001.safetensors")["config"]["loss"] == "perceptron"
    args = ["train", *SMALL, "--model", "perceptron", "--loss", "ce", "--epochs", "1", "--out", str(tmp_path / "ce")]
    assert main(args) == 0  # an explicit --loss still wins
    assert cr.load(tmp_path / "ce" / "checkpoint-epoch001.safetensors")["config"]["loss"] == "ce"


def test_keep_defaults_to_the_last_three_checkpoints_and_the_best(tmp_path, capsys):
    assert main(["train", *SMALL, "--epochs", "5", "--out", str(tmp_path / "run")]) == 0
    names = sorted(p.name for p in (tmp_path / "run").glob("*.safetensors"))
    assert names == ["checkpoint-best.safetensors", *[f"checkpoint-epoch00{e}.safetensors" for e in (3, 4, 5)]]
    scores = [r["test_accuracy"] for r in MetricsLog.read(tmp_path / "run" / "metrics.jsonl")]
    best = cr.load(tmp_path / "run" / "checkpoint-best.safetensors")
    assert best["epoch"] == scores.index(max(scores)) + 1  # the first epoch with the highest test accuracy
    assert main(["train", *SMALL, "--epochs", "5", "--keep", "0", "--out", str(tmp_path / "all")]) == 0
    assert len(list((tmp_path / "all").glob("checkpoint-epoch*.safetensors"))) == 5


# ---------------------------------------------------------------------- one writer per run folder
def hold_lock_in_another_process(folder):
    """A process holding ``folder``'s lock until killed (started here, ended by the caller by its pid)."""
    program = f"from chainrule.training.rundir import RunLock; import time; RunLock({str(folder)!r}).acquire(); " \
              "print('held', flush=True); time.sleep(120)"  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_and_a_dead_writers_lock_is_taken_over(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(run)]) == 0
    before = sorted(p.name for p in run.iterdir())
    holder = hold_lock_in_another_process(run)
    try:
        status, _, err = run_main(["train", *SMALL, "--epochs", "1", "--out", str(run), "--overwrite"], capsys)
        assert status == 1
        assert f"in use by process {holder.pid} on host {socket.gethostname()}" in err
        assert len(err.strip().splitlines()) == 1
        assert sorted(p.name for p in run.iterdir()) == sorted([*before, LOCK_NAME])  # nothing replaced
        status, _, err = run_main(["train", "--resume", str(run), "--epochs", "2"], capsys)
        assert status == 1 and "in use by process" in err
    finally:
        holder.kill()
        holder.wait()
    assert (run / LOCK_NAME).exists()  # killed: its lock stays behind, stale
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    assert not (run / LOCK_NAME).exists()
    assert (run / "checkpoint-epoch002.safetensors").is_file()


def test_run_lock_unit(tmp_path):
    with RunLock(tmp_path) as lock:
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder == {"pid": os.getpid(), "host": socket.gethostname()} and lock.held
        with pytest.raises(RunLockedError, match=f"in use by process {os.getpid()}"):
            RunLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere"}))
    with pytest.raises(RunLockedError, match="on host elsewhere"):  # another host's pid cannot be checked
        RunLock(tmp_path).acquire()


def test_stale_temporary_files_are_removed_when_a_run_starts_or_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    leftover = run / ".checkpoint-epoch001.safetensors.k2j3h4.tmp"
    leftover.write_bytes(b"half a checkpoint")
    keep = run / "notes.tmp"  # not an atomic write's: left alone
    keep.write_text("mine")
    status, out, _ = run_main(["train", *SMALL[:-1], "--epochs", "1", "--out", str(run), "--progress", "none"],
                              capsys)  # fmt: skip
    assert status == 0 and "Removed 1 temporary file(s)" in out
    assert not leftover.exists() and keep.exists()
    leftover.write_bytes(b"again")
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 0
    assert not leftover.exists()
    assert remove_stale_temporaries(tmp_path / "missing") == []


# ---------------------------------------------------------------------- confusion matrix colours
def contrast(rgb_a, rgb_b):
    def luminance(rgb):
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(rgb_a), luminance(rgb_b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("counts", [[[500, 480], [490, 510]], [[98, 2, 0], [1, 97, 2], [0, 3, 97]], [[5, 5], [5, 5]]])
def test_confusion_matrix_counts_are_readable_on_their_cells(counts):
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_rgb

    from chainrule.viz.plots import confusion_matrix

    counts = np.array(counts)
    y_true = np.repeat(np.arange(len(counts)).repeat(len(counts)), counts.ravel())
    y_pred = np.repeat(np.tile(np.arange(len(counts)), len(counts)), counts.ravel())
    figure = confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(figure.counts, counts)
    ax = figure.axes[0]
    image = ax.images[0]
    for text in ax.texts:
        column, row = (round(v) for v in text.get_position())
        cell = image.cmap(image.norm(counts[row, column]))
        assert contrast(to_rgb(text.get_color()), cell) >= 4.5, (row, column, text.get_color())
