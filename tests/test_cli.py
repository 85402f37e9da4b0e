"""The ``chainrule`` command: train, resume, evaluate, predict, and its errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import build_parser, main
from chainrule.cli.train import resolve_config
from chainrule.training import Trainer

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "spirals", "--hidden", "16", "16", "--quiet"]


def run_command(*args):
    """``python -m chainrule ARGS`` in a fresh process: (exit status, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def model_arrays(path):
    return {name: t.numpy() for name, t in cr.load(path)["model"].items()}


def test_train_writes_checkpoints_sidecars_and_a_metrics_log(tmp_path):
    status, out, err = run_command("train", "--dataset", "spirals", "--epochs", "1", "--out", str(tmp_path))
    assert status == 0, err
    assert "test accuracy" in out and "Traceback" not in err
    checkpoint = tmp_path / "checkpoint-epoch001.safetensors"
    assert checkpoint.is_file()
    sidecar = json.loads((tmp_path / "checkpoint-epoch001.safetensors.json").read_text())
    assert "model" in sidecar["structure"]
    (line,) = [json.loads(text) for text in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert line["event"] == "epoch" and line["epoch"] == 1 and 0 <= line["test_accuracy"] <= 1
    state = cr.load(checkpoint)
    assert state["config"]["train"]["dataset"] == "spirals" and state["config"]["model"] == "mlp"


def test_resume_after_an_interrupted_run_gives_bitwise_identical_parameters(tmp_path):
    options = [*SMALL, "--optimizer", "adam", "--lr", "0.01", "--dropout", "0.1", "--schedule", "inverse-time"]
    assert main(["train", *options, "--epochs", "4", "--out", str(tmp_path / "full")]) == 0
    assert main(["train", *options, "--epochs", "2", "--out", str(tmp_path / "cut")]) == 0
    resume_from = tmp_path / "cut" / "checkpoint-epoch002.safetensors"
    assert main(["train", "--resume", str(resume_from), "--epochs", "4", "--quiet"]) == 0
    full = model_arrays(tmp_path / "full" / "checkpoint-epoch004.safetensors")
    resumed = model_arrays(tmp_path / "cut" / "checkpoint-epoch004.safetensors")
    assert full.keys() == resumed.keys()
    for name in full:
        assert np.array_equal(full[name], resumed[name]), name


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, monkeypatch, capsys):
    class InterruptedTrainer(Trainer):
        def __init__(self, *args, **options):
            super().__init__(*args, **options)
            self.callbacks.append(self._interrupt_at_step_3)

        @staticmethod
        def _interrupt_at_step_3(trainer, event):
            if trainer.step == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr("chainrule.cli.train.Trainer", InterruptedTrainer)
    assert main(["train", *SMALL, "--epochs", "2", "--batch-size", "100", "--out", str(tmp_path)]) == 130
    assert "--resume" in capsys.readouterr().out
    assert (tmp_path / "checkpoint-epoch000-batch0003.safetensors").is_file()
    assert not (tmp_path / ".lock").exists()  # the run folder's lock goes with the run
    monkeypatch.undo()
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "checkpoint-epoch002.safetensors").is_file()


def test_evaluate_and_predict_use_the_checkpoint(tmp_path, capsys):
    assert main(["train", *SMALL, "--epochs", "2", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(tmp_path)]) == 0
    line = capsys.readouterr().out
    assert line.startswith("spirals test (1,000 samples): loss") and "accuracy" in line and "error" in line
    assert main(["evaluate", "--checkpoint", str(tmp_path), "--json", "--split", "train"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 1000 and result["error"] == pytest.approx(1 - result["accuracy"])
    last = cr.load(tmp_path / "checkpoint-epoch002.safetensors")["history"][-1]
    assert main(["evaluate", "--checkpoint", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == last["test_accuracy"]

    assert main(["predict", "--checkpoint", str(tmp_path), "--indices", "0", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [text.split(":")[0] for text in lines] == ["spirals test[0]", "spirals test[5]"]
    assert all("(label " in text for text in lines)
    inputs = tmp_path / "points.npy"
    np.save(inputs, np.array([[0.1, 0.2], [-0.5, 0.3], [0.0, 0.0]], dtype=np.float32))
    assert main(["predict", "--checkpoint", str(tmp_path), "--input", str(inputs)]) == 0
    predictions = [text.split(": ") for text in capsys.readouterr().out.splitlines()]
    assert [index for index, _ in predictions] == ["0", "1", "2"] and all(c in ("0", "1") for _, c in predictions)


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--bogus"],
        ["train", "--epochs", "zero"],
        ["train", "--epochs", "0"],
        ["train", "--dataset", "imagenet"],
        ["train", "--optimizer", "lbfgs"],
        ["evaluate"],
        ["predict", "--checkpoint", "x"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_flags_are_usage_errors_without_a_traceback(args):
    status, out, err = run_command(*args)
    assert status == 2
    assert "usage: chainrule" in err and "error:" in err
    assert "Traceback" not in err + out


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    empty = tmp_path / "no-data"
    empty.mkdir()
    args = ["train", "--dataset", "mnist", "--data-dir", str(empty), "--no-download", "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("chainrule train: error: could not load the mnist train set: mnist: no MNIST data")


def test_other_one_line_errors(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nothing")]) == 1
    assert "cannot read the checkpoint" in capsys.readouterr().err
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path)]) == 1  # would mix two runs
    assert "--overwrite" in capsys.readouterr().err
    assert main(["train", *SMALL, "--epochs", "1", "--out", str(tmp_path), "--overwrite"]) == 0
    assert main(["train", "--resume", str(tmp_path), "--lr", "0.5", "--epochs", "2"]) == 2  # a different run
    assert "--lr" in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", "--model", "lenet5", "--quiet", "--out", str(tmp_path / "x")]) == 1
    assert "too small" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "bench", "graph", "plot", "check", "summary"])
def test_help_documents_every_flag(command, capsys):
    try:
        status = main([command, "--help"])
    except SystemExit as exit_info:  # argparse's help action
        status = exit_info.code
    assert status == 0
    text = capsys.readouterr().out
    if command == "bench":  # its own parser prints its help
        assert "usage: " in text
        return
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    for action in subparsers.choices[command]._actions:
        for flag in action.option_strings:
            assert flag in text
        if action.option_strings and action.dest != "help":
            assert action.help, f"{command} {action.option_strings} has no help"


def test_no_flags_means_the_notes_network_on_mnist():
    args = build_parser().parse_args(["train"])
    config = resolve_config(args)
    assert (config["preset"], config["model"], config["dataset"]) == ("notes", "mlp", "mnist")
    assert (config["hidden"], config["activation"], config["loss"]) == ([200, 200], "relu", "ce")
    lenet = resolve_config(build_parser().parse_args(["train", "--preset", "lenet5", "--epochs", "3"]))
    assert lenet["model"] == "lenet5" and lenet["epochs"] == 3


def test_train_plots_flag_writes_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    status = main(
        [
            "train",
            "--dataset",
            "spirals",
            "--epochs",
            "2",
            "--quiet",
            "--out",
            str(tmp_path / "run"),
            "--plots",
            str(plots),
        ]
    )
    assert status == 0
    for name in ("training_curves.png", "decision_regions.png", "confusion_matrix.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
