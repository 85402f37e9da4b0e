"""``chainrule train``: train a model on a dataset, with checkpoints, a metrics log and exact resume."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from chainrule import random
from chainrule.cli.common import (
    DATASETS,
    LOSSES,
    MODELS,
    OPTIMIZERS,
    SCHEDULES,
    CLIError,
    build_model,
    dataset_shape,
    default_loss,
    load_dataset,
    make_loss,
    make_optimizer,
    make_scheduler,
    model_kwargs,
)
from chainrule.cli.presets import DEFAULT_PRESET, DEFAULTS, PRESETS
from chainrule.data import DataLoader
from chainrule.models import canonical_name
from chainrule.training import Trainer, load_checkpoint, resolve_checkpoint
from chainrule.training.checkpoint import list_checkpoints

# Flags that choose the run; on --resume they come from the checkpoint (only --epochs may change).
RUN_KEYS = tuple(DEFAULTS)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a model and print its test accuracy",
        description=(
            "Train a model on a dataset, printing progress and the test metrics. With no flags: the lecture "
            "notes' 784-200-200-10 ReLU network on MNIST (preset 'notes'), which reaches 98% test accuracy. "
            "Each epoch appends a line to OUT/metrics.jsonl and writes OUT/checkpoint-epochNNN.safetensors; "
            "Ctrl-C saves a checkpoint and stops, and --resume continues a run exactly."
        ),
    )
    setup = parser.add_argument_group("what to train (defaults come from the preset)")
    setup.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help=f"a named setup (default {DEFAULT_PRESET}): "
        + "; ".join(f"{name}: {p['description']}" for name, p in PRESETS.items()).replace("%", "%%"),
    )
    setup.add_argument("--model", choices=MODELS, help="the model (lenet5 needs square images: mnist)")
    setup.add_argument("--dataset", choices=DATASETS, help="the data; mnist and digits have 10 classes")
    setup.add_argument("--hidden", type=_positive_int, nargs="+", metavar="H", help="mlp hidden widths, e.g. 200 200")
    setup.add_argument("--activation", help="hidden activation of mlp/lenet5: relu, tanh, sigmoid, gelu, ...")
    setup.add_argument("--dropout", type=float, help="mlp dropout after each hidden layer (0: none)")
    setup.add_argument("--features", type=_positive_int, help="rff: number of random Fourier features")
    setup.add_argument("--gamma", type=float, help="rff: RBF kernel width exp(-gamma |x - y|^2)")
    setup.add_argument("--pooling", choices=("max", "avg"), help="lenet5 pooling")
    setup.add_argument(
        "--loss", choices=LOSSES, help="ce: cross-entropy; mse: squared error to one-hot targets; perceptron"
    )

    optimization = parser.add_argument_group("optimization")
    optimization.add_argument("--optimizer", choices=OPTIMIZERS, help="the update rule")
    optimization.add_argument("--lr", type=float, help="learning rate (the peak rate with onecycle)")
    optimization.add_argument("--momentum", type=float, help="momentum of sgd and rmsprop")
    optimization.add_argument("--weight-decay", type=float, help="L2 penalty coefficient")
    optimization.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="learning-rate schedule: step (x0.1 every third of the run), cosine (per batch), "
        "onecycle (per batch), inverse-time (lr / (1 + epoch))",
    )
    optimization.add_argument("--batch-size", type=_positive_int, help="samples per batch")
    optimization.add_argument("--epochs", type=_positive_int, help="epochs in all (a resumed run counts earlier ones)")
    optimization.add_argument("--seed", type=int, help="seeds the initialisation and the data order")

    run = parser.add_argument_group("the run")
    run.add_argument("--out", metavar="DIR", help="where checkpoints and metrics.jsonl go (default: runs/PRESET)")
    run.add_argument("--overwrite", action="store_true", help="replace the checkpoints and log already in --out")
    run.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="CHECKPOINT",
        help="continue a run from a checkpoint file, or a folder's latest (default: --out's)",
    )
    run.add_argument("--limit", type=_positive_int, metavar="N", help="train on the first N samples only")
    run.add_argument("--log-every", type=int, default=0, metavar="N", help="also log every N steps (0: per epoch)")
    run.add_argument("--keep", type=_positive_int, metavar="K", help="keep only the last K epoch checkpoints")
    run.add_argument("--progress", choices=("auto", "bar", "lines", "none"), default="auto", help="progress display")
    run.add_argument("--quiet", action="store_true", help="print only the final result")
    run.add_argument(
        "--plots",
        metavar="DIR",
        help="at the end, write training curves, first-layer weights, decision regions and confusion matrix here",
    )
    run.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="threads for matrix products (default 1, or $OPENBLAS_NUM_THREADS / $OMP_NUM_THREADS if set)",
    )
    run.add_argument("--data-dir", metavar="DIR", help="MNIST location (default $CHAINRULE_DATA or ~/.cache/chainrule)")
    run.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing dataset")
    parser.set_defaults(handler=run_train, command_parser=parser)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def resolve_config(args: argparse.Namespace) -> dict:
    """The run's settings: built-in defaults, then the preset's, then the flags given."""
    preset = args.preset or DEFAULT_PRESET
    config = dict(DEFAULTS)
    config.update({key: value for key, value in PRESETS[preset].items() if key in DEFAULTS})
    config.update({key: getattr(args, key) for key in RUN_KEYS if getattr(args, key) is not None})
    config["preset"] = preset
    config["limit"] = args.limit
    return config


def resumed_config(args: argparse.Namespace, saved: dict) -> dict:
    """The checkpoint's settings; a flag that would change them (other than --epochs) is an error."""
    config = dict(saved)
    for key in (*RUN_KEYS, "preset", "limit"):
        given = getattr(args, key, None)
        if given is None or key == "epochs":
            continue
        if given != saved.get(key):
            raise CLIError(
                f"{_flag(key)} {given} differs from the checkpoint's run ({saved.get(key)}); leave it out with "
                "--resume (only --epochs may change)",
                status=2,
            )
    if args.epochs is not None:
        config["epochs"] = args.epochs
    return config


def _out_dir(args: argparse.Namespace, config: dict, checkpoint: Path | None) -> Path:
    if args.out:
        out = Path(args.out)
    elif checkpoint is not None:
        return checkpoint.parent
    else:  # runs/notes, runs/notes-2, ...: a fresh folder per run
        base = Path("runs") / config["preset"]
        out, n = base, 1
        while _holds_run(out):
            n += 1
            out = base.with_name(f"{base.name}-{n}")
        return out
    if checkpoint is None and _holds_run(out):
        if not args.overwrite:
            raise CLIError(
                f"{out} already holds a run; pass --resume to continue it, --overwrite to replace it, "
                "or choose another --out"
            )
        for path in list_checkpoints(out):
            path.unlink()
            Path(str(path) + ".json").unlink(missing_ok=True)
        (out / "metrics.jsonl").unlink(missing_ok=True)
    return out


def _holds_run(folder: Path) -> bool:
    return (folder / "metrics.jsonl").exists() or bool(list_checkpoints(folder))


def run_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    checkpoint_path = state = None
    if args.resume is not None:
        where = args.resume or args.out
        if not where:
            raise CLIError("--resume needs a checkpoint (or folder), or --out naming the run's folder", status=2)
        try:
            checkpoint_path = resolve_checkpoint(where)
            state = load_checkpoint(checkpoint_path)
        except (FileNotFoundError, ValueError) as exc:
            raise CLIError(f"cannot resume: {exc}") from None
        config = resumed_config(args, state["config"]["train"])
    else:
        config = resolve_config(args)

    say = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    random.manual_seed(config["seed"])
    train_set = load_dataset(config["dataset"], "train", config["limit"], args.data_dir, not args.no_download)
    test_set = load_dataset(config["dataset"], "test", None, args.data_dir, not args.no_download)
    in_features, classes = dataset_shape(train_set)
    classes = max(classes, dataset_shape(test_set)[1])
    name = canonical_name(config["model"])
    kwargs = model_kwargs(config, in_features, classes)
    model = build_model(name, kwargs)
    loss_name = config["loss"] or default_loss(model)
    loss_fn = make_loss(loss_name, model, classes)
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True, seed=config["seed"])
    test_loader = DataLoader(test_set, batch_size=1000)
    optimizer = make_optimizer(config, model.parameters())
    scheduler, interval = make_scheduler(config, optimizer, len(train_loader))
    out = _out_dir(args, config, checkpoint_path)

    trainer = Trainer(
        model,
        optimizer,
        loss_fn,
        train_loader,
        test_loader,
        scheduler=scheduler,
        scheduler_interval=interval,
        out_dir=out,
        log_every=args.log_every,
        progress="none" if args.quiet else args.progress,
        config={"train": config, "model": name, "model_kwargs": kwargs, "loss": loss_name, "classes": classes},
        keep_checkpoints=args.keep,
    )
    if state is not None:
        trainer.resume(state)
        say(f"Resuming {checkpoint_path} at epoch {trainer.epoch + 1}, batch {trainer.batch} (step {trainer.step})")
    parameters = sum(p.numel() for p in model.parameters())
    say(
        f"Training {name} ({parameters:,} parameters) on {config['dataset']} "
        f"({len(train_set):,} train / {len(test_set):,} test samples): {config['optimizer']} lr {config['lr']:g}, "
        f"schedule {config['schedule']}, batch {config['batch_size']}, {config['epochs']} epochs, seed {config['seed']}"
    )
    say(f"Writing checkpoints and metrics.jsonl to {out}")
    trainer.fit(config["epochs"])
    if trainer.interrupted:
        print(f"Stopped. Continue with: chainrule train --resume {trainer.last_checkpoint or out}", flush=True)
        return 130
    status = _report(trainer, out, time.perf_counter() - started)
    if args.plots:
        _write_plots(out, model, test_set, args.plots)
    return status


def _write_plots(run_dir: Path, model, test_set, plots_dir: str) -> None:
    """The pictures of the run (``--plots``); needs matplotlib."""
    try:
        from chainrule.viz.plots import save_training_plots

        written = save_training_plots(run_dir, model=model, dataset=test_set, out_dir=plots_dir)
    except ImportError as exc:
        raise CLIError(f"--plots: {exc}") from None
    for name, path in written.items():
        print(f"{name}: {path}", flush=True)


def _report(trainer: Trainer, out: Path, seconds: float) -> int:
    if not trainer.history:
        print("Nothing to train: the run already has its epochs (raise --epochs to train longer)")
        return 0
    last = trainer.history[-1]
    if last.get("test_accuracy") is not None:
        result = f"test accuracy {last['test_accuracy']:.2%} (error {1 - last['test_accuracy']:.2%}), "
    else:
        result = ""
    if last.get("test_loss") is not None:
        result += f"test loss {last['test_loss']:.4f}; "
    print(f"Done: {result}{last['epoch']} epochs, {seconds:.1f} s. Checkpoint: {trainer.last_checkpoint}", flush=True)
    return 0
