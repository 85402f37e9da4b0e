"""What the subcommands share: datasets by name, losses, and rebuilding a model from a run's config."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from chainrule import models, nn, optim
from chainrule.backend import Device
from chainrule.backend.device import resolved
from chainrule.data import TensorDataset, datasets
from chainrule.nn import functional as F
from chainrule.tensor import Tensor

DATASETS = ("mnist", "digits", "spirals", "xor", "circles", "moons")
SYNTHETIC = {"spirals": datasets.spirals, "xor": datasets.xor, "circles": datasets.circles, "moons": datasets.moons}
SYNTHETIC_SIZE = 1000  # samples per split; train is drawn with seed 0, test with seed 1
DIGITS_TEST = 300  # of the 1,800 digits, held out by a fixed permutation
MODELS = ("mlp", "lenet5", "softmax-regression", "logistic-regression", "perceptron", "rff")
LOSSES = ("ce", "mse", "perceptron")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "cosine", "onecycle", "inverse-time")


class CLIError(Exception):
    """A problem to report in one line (no traceback), with exit status ``status``."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


class MissingDependency(CLIError):
    """An optional package a flag needs is not installed (a usage error: nothing has run yet)."""

    def __init__(self, flag: str, package: str, extra: str = "cli"):
        super().__init__(
            f"{flag} needs {package}, which is not installed: pip install {package} "
            f"(or install chainrule with the [{extra}] extra: pip install 'chainrule[{extra}]')",
            status=2,
        )


# ---------------------------------------------------------------------- flag checks
def number(
    kind: type = float, *, at_least: float | None = None, above: float | None = None, below: float | None = None
):
    """An argparse ``type``: a finite ``kind`` (float or int) with ``at_least <= x``, ``above < x``, ``x < below``.

    A value out of range is a usage error naming the range, e.g. "must be a
    finite number above 0, got -0.1".
    """
    limits = (("at least", at_least), ("above", above), ("below", below))
    bounds = " and ".join(f"{word} {limit:g}" if isinstance(limit, float) else f"{word} {limit}"
                          for word, limit in limits if limit is not None)  # fmt: skip
    wanted = f"{'an integer' if kind is int else 'a finite number'} {bounds}".strip()

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        inside = math.isfinite(value) and (
            (at_least is None or value >= at_least)
            and (above is None or value > above)
            and (below is None or value < below)
        )
        if not inside:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


positive_int = number(int, at_least=1)


def check_writable_dir(flag: str, path: str | os.PathLike) -> Path:
    """``path`` as a folder this process can write in (it may not exist yet: a probe makes it, then removes it).

    A usage error naming ``flag`` if it is a file, or cannot be made or written.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"{flag} {path}: exists and is not a folder", status=2)
    _probe_folder(flag, path, path)
    return path


def check_writable_file(flag: str, path: str | os.PathLike) -> Path:
    """``path`` as a file this process can write (made or replaced): a usage error naming ``flag`` if not."""
    path = Path(path)
    if path.is_dir():
        raise CLIError(f"{flag} {path}: is a folder, not a file", status=2)
    if path.exists() and not os.access(path, os.W_OK):
        raise CLIError(f"{flag} {path}: is not writable", status=2)
    _probe_folder(flag, path, path.parent)
    return path


def _probe_folder(flag: str, given: Path, folder: Path) -> None:
    """Make ``folder`` and a file in it, then remove what was made: a usage error naming ``flag`` if that fails."""
    made = [path for path in (folder, *folder.parents) if not path.exists()]  # deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CLIError(f"{flag} {given}: cannot write there: {error.strerror or error}", status=2) from None
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                path.rmdir()


def add_device_argument(parser) -> None:
    """``--device``: where the model and every batch go."""
    parser.add_argument(
        "--device",
        default="cpu",
        metavar="DEVICE",
        help="where the model and the batches live: cpu (default), cuda or cuda:N (an NVIDIA GPU, through CuPy), "
        "or fake (the test double of a GPU: host arrays that refuse NumPy, for testing device code without one); "
        "checkpoints hold host data, so a run may resume, and a checkpoint be evaluated, on another device",
    )


def resolve_device(text: str) -> Device:
    """The device ``--device`` names; a usage error for a bad name, an error if it cannot run here."""
    try:
        device = Device(text)
        resolved(device)  # fills in the index: raises if the device type cannot run on this machine
    except (RuntimeError, TypeError) as error:
        raise CLIError(f"--device {text}: {error}", status=2 if "device string" in str(error) else 1) from None
    return device


def require_package(flag: str, package: str) -> None:
    """A usage error if ``package`` (which ``flag`` needs) cannot be imported; nothing is imported here."""
    if importlib.util.find_spec(package) is None:
        raise MissingDependency(flag, package)


# ---------------------------------------------------------------------- data
def load_dataset(
    name: str, split: str, limit: int | None = None, data_dir: str | None = None, download: bool = True
) -> TensorDataset:
    """The ``split`` ("train" or "test") of dataset ``name``, inputs flattened to (N, features)."""
    if name not in DATASETS:
        raise CLIError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}", status=2)
    try:
        if name == "mnist":
            data = datasets.mnist(split, flatten=True, root=data_dir, download=download)
        elif name == "digits":
            data = _digits_split(split)
        else:
            data = SYNTHETIC[name](n=SYNTHETIC_SIZE, seed=0 if split == "train" else 1)
    except CLIError:
        raise
    except Exception as exc:  # missing files, failed download, bad checksum: one line, not a traceback
        message = " ".join(str(exc).split()) or type(exc).__name__  # the advice too, but on one line
        raise CLIError(f"could not load the {name} {split} set: {message}") from None
    if limit is not None:
        data = TensorDataset(*(t[:limit] for t in data.tensors))
    return data


def _digits_split(split: str) -> TensorDataset:
    inputs, labels = datasets.digits(flatten=True).tensors
    order = np.random.default_rng(0).permutation(len(labels))
    chosen = order[:DIGITS_TEST] if split == "test" else order[DIGITS_TEST:]
    index = Tensor._wrap(np.sort(chosen))
    return TensorDataset(inputs[index], labels[index])


def dataset_shape(data: TensorDataset) -> tuple[int, int]:
    """(input features, classes) of a classification dataset."""
    inputs, labels = data.tensors
    return int(np.prod(inputs.shape[1:])), int(labels.numpy().max()) + 1


# ---------------------------------------------------------------------- models
def model_kwargs(config: dict, in_features: int, classes: int) -> dict:
    """The ``models.build`` arguments of ``config["model"]`` for data of this shape."""
    name = models.canonical_name(config["model"])
    kwargs: dict = {"in_features": in_features, "classes": classes}
    if name == "mlp":
        kwargs.update(hidden=list(config["hidden"]), activation=config["activation"], dropout=config["dropout"])
    elif name == "lenet5":
        kwargs.update(activation=config["activation"], pooling=config["pooling"])
    elif name == "rff":
        kwargs.update(features=config["features"], gamma=config["gamma"])
    return kwargs


def build_model(name: str, kwargs: dict) -> nn.Module:
    try:
        return models.build(name, **kwargs)
    except (KeyError, ValueError, TypeError) as exc:
        raise CLIError(f"cannot build model {name!r}: {str(exc).strip(chr(39))}") from None


def is_binary(model: nn.Module) -> bool:
    """Whether the model outputs one score per sample (positive: class 1)."""
    return isinstance(model, (models.LogisticRegression, models.Perceptron))


def default_loss(model: nn.Module) -> str:
    return "perceptron" if isinstance(model, models.Perceptron) else "ce"


def make_loss(name: str, model: nn.Module, classes: int):
    """The loss function (output, target) -> scalar for ``name`` and this model's kind of output."""
    binary = is_binary(model)
    if name == "ce":
        if binary:
            return lambda output, target: F.binary_cross_entropy_with_logits(output, target.float())
        return nn.CrossEntropyLoss()
    if name == "mse":
        if binary:  # targets -1 / +1, so that the sign of the output is the class
            return lambda output, target: F.mse_loss(output, target.float() * 2 - 1)
        return lambda output, target: squared_error(output, target, classes)
    if name == "perceptron":
        if not binary:
            raise CLIError("--loss perceptron needs a binary model (perceptron or logistic-regression)", status=2)
        return models.perceptron_criterion
    raise CLIError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}", status=2)


def squared_error(output: Tensor, target: Tensor, classes: int) -> Tensor:
    """||output - one_hot(target)||^2 per sample, averaged over the batch: the MSE of the MNIST tables."""
    difference = output - F.one_hot(target, classes).float()
    return (difference * difference).sum(dim=1).mean()


def make_optimizer(config: dict, parameters) -> optim.Optimizer:
    name, lr, decay = config["optimizer"], config["lr"], config["weight_decay"]
    momentum = config["momentum"]
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=decay)
    if name == "adam":
        return optim.Adam(parameters, lr=lr, weight_decay=decay)
    if name == "adamw":
        return optim.AdamW(parameters, lr=lr, weight_decay=decay)
    if name == "rmsprop":
        return optim.RMSprop(parameters, lr=lr, momentum=momentum, weight_decay=decay)
    if name == "adagrad":
        return optim.Adagrad(parameters, lr=lr, weight_decay=decay)
    raise CLIError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}", status=2)


def make_scheduler(config: dict, optimizer: optim.Optimizer, steps_per_epoch: int):
    """(scheduler or None, "epoch" or "batch"): when ``Trainer`` steps it."""
    from chainrule.optim import lr_scheduler

    name, epochs = config["schedule"], config["epochs"]
    total = max(1, epochs * steps_per_epoch)
    if name == "none":
        return None, "epoch"
    if name == "step":  # a tenth of the rate after each third of the run
        return lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1), "epoch"
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total), "batch"
    if name == "onecycle":
        defaults = optimizer.defaults  # cycle the momentum where there is one (SGD with momentum 0 has none)
        cycle = defaults.get("momentum", 0) > 0 or "betas" in defaults
        return lr_scheduler.OneCycleLR(optimizer, max_lr=config["lr"], total_steps=total, cycle_momentum=cycle), "batch"
    if name == "inverse-time":  # the notes' alpha_k = C / k, k counting epochs
        return lr_scheduler.InverseTimeLR(optimizer, k0=1.0), "epoch"
    raise CLIError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}", status=2)


def model_from_checkpoint(path: str) -> tuple[nn.Module, dict, str]:
    """(model with the checkpoint's parameters, the run's config, the checkpoint file's path)."""
    from chainrule.training import load_checkpoint, resolve_checkpoint

    try:
        resolved = resolve_checkpoint(path)
        state = load_checkpoint(resolved)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(f"cannot read the checkpoint: {exc}") from None
    config = state.get("config") or {}
    if "model" not in config or "model_kwargs" not in config:
        raise CLIError(f"{resolved} does not say which model it holds (not written by chainrule train)")
    model = build_model(config["model"], config["model_kwargs"])
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CLIError(f"{resolved}: the parameters do not fit model {config['model']}: {exc}") from None
    model.eval()
    return model, config, str(resolved)
