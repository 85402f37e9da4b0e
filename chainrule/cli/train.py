"""``chainrule train``: train a model on a dataset, with checkpoints, a metrics log and exact resume."""

from __future__ import annotations

import argparse
import contextlib
import sys
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
    add_device_argument,
    build_model,
    check_writable_dir,
    dataset_shape,
    default_loss,
    load_dataset,
    make_loss,
    make_optimizer,
    make_scheduler,
    model_kwargs,
    number,
    positive_int,
    require_package,
    resolve_device,
)
from chainrule.cli.presets import DEFAULT_PRESET, DEFAULTS, PRESETS
from chainrule.data import DataLoader
from chainrule.models import ACTIVATIONS, canonical_name
from chainrule.training import Trainer, load_checkpoint, resolve_checkpoint
from chainrule.training.checkpoint import BEST_CHECKPOINT, list_checkpoints
from chainrule.training.parallel import ShardedLoader
from chainrule.training.progress import NoProgress
from chainrule.training.rundir import RunLock, RunLockedError, remove_stale_temporaries

# Flags that choose the run; on --resume they come from the checkpoint (only --epochs may change).
RUN_KEYS = tuple(DEFAULTS)
KEEP = 3  # --keep's default: the last 3 epoch checkpoints (and the best)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a model and print its test accuracy",
        description=(
            "Train a model on a dataset, printing progress and the test metrics. With no flags: the lecture "
            "notes' 784-200-200-10 ReLU network on MNIST (preset 'notes'), which reaches 98% test accuracy. "
            "Each epoch appends a line to OUT/metrics.jsonl and writes OUT/checkpoint-epochNNN.safetensors "
            f"(the last {KEEP} are kept, see --keep, and the best epoch's as {BEST_CHECKPOINT}); "
            "Ctrl-C saves a checkpoint and stops, and --resume continues a run exactly. "
            "Extending a run (--resume with a larger --epochs): the parameters, optimizer state and data order "
            "continue, and a step, cosine or onecycle schedule is rebuilt for the new number of epochs and joined "
            "at the current step: from there the learning rate is the one a fresh run of the new length has at "
            "that step (it jumps there once, then follows the new schedule to its end). "
            "One run writes in a folder at a time (OUT/.lock); temporary files a killed run left there are "
            "removed when a run starts or resumes. Flag values are checked before any work: errors are one line, "
            "exit status 2 for bad usage, 1 for a failure, 130 after Ctrl-C."
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
    setup.add_argument("--hidden", type=positive_int, nargs="+", metavar="H", help="mlp hidden widths, e.g. 200 200")
    setup.add_argument("--activation", help="hidden activation of mlp/lenet5: relu, tanh, sigmoid, gelu, ...")
    setup.add_argument(
        "--dropout", type=number(at_least=0, below=1), help="mlp dropout after each hidden layer (0: none)"
    )
    setup.add_argument("--features", type=positive_int, help="rff: number of random Fourier features")
    setup.add_argument("--gamma", type=number(above=0), help="rff: RBF kernel width exp(-gamma |x - y|^2)")
    setup.add_argument("--pooling", choices=("max", "avg"), help="lenet5 pooling")
    setup.add_argument(
        "--loss",
        choices=LOSSES,
        help="ce: cross-entropy; mse: squared error to one-hot targets; perceptron "
        "(default: the preset's, or with --model the model's own: perceptron for perceptron, else ce)",
    )

    optimization = parser.add_argument_group("optimization")
    optimization.add_argument("--optimizer", choices=OPTIMIZERS, help="the update rule")
    optimization.add_argument("--lr", type=number(above=0), help="learning rate (the peak rate with onecycle)")
    optimization.add_argument(
        "--momentum", type=number(at_least=0, below=1), help="momentum of sgd and rmsprop, in [0, 1)"
    )
    optimization.add_argument("--weight-decay", type=number(at_least=0), help="L2 penalty coefficient (>= 0)")
    optimization.add_argument(
        "--schedule",
        choices=SCHEDULES,
        help="learning-rate schedule: step (x0.1 every third of the run), cosine (per batch), "
        "onecycle (per batch), inverse-time (lr / (1 + epoch))",
    )
    optimization.add_argument("--batch-size", type=positive_int, help="samples per batch")
    optimization.add_argument(
        "--epochs",
        type=positive_int,
        help="epochs in all (a resumed run counts earlier ones; more than it had extends it, rebuilding the schedule)",
    )
    optimization.add_argument(
        "--seed", type=number(int, at_least=0, below=2**63), help="seeds the initialisation and the data order"
    )

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
    run.add_argument("--limit", type=positive_int, metavar="N", help="train on the first N samples only")
    add_device_argument(run)
    run.add_argument(
        "--log-every",
        type=number(int, at_least=0),
        default=0,
        metavar="N",
        help="also log every N steps (0: per epoch)",
    )
    run.add_argument(
        "--keep",
        type=number(int, at_least=0),
        default=KEEP,
        metavar="K",
        help=f"keep the last K epoch checkpoints (default {KEEP}; 0 keeps all), older ones and those of interrupts "
        f"are deleted; the best epoch's (highest test accuracy, else lowest test loss) is kept as {BEST_CHECKPOINT}",
    )
    run.add_argument(
        "--progress",
        choices=("auto", "bar", "lines", "none"),
        default="auto",
        help="progress display: bar (tqdm, which must be installed), lines, none, or auto (a bar on a terminal "
        "when tqdm is installed, else lines)",
    )
    run.add_argument("--quiet", action="store_true", help="print only the final result")
    run.add_argument(
        "--plots",
        metavar="DIR",
        help="at the end, write training curves, first-layer weights, decision regions and confusion matrix here",
    )
    run.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="threads for matrix products (default 1, or $OPENBLAS_NUM_THREADS / $OMP_NUM_THREADS if set)",
    )
    run.add_argument("--data-dir", metavar="DIR", help="MNIST location (default $CHAINRULE_DATA or ~/.cache/chainrule)")
    run.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing dataset")
    parser.set_defaults(handler=run_train, command_parser=parser)
    return parser


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def resolve_config(args: argparse.Namespace) -> dict:
    """The run's settings: built-in defaults, then the preset's, then the flags given.

    The preset's loss goes with the preset's model: ``--model`` naming another
    one without ``--loss`` trains with that model's own loss.
    """
    preset = args.preset or DEFAULT_PRESET
    config = dict(DEFAULTS)
    config.update({key: value for key, value in PRESETS[preset].items() if key in DEFAULTS})
    if args.model is not None and canonical_name(args.model) != canonical_name(config["model"]):
        config["loss"] = None
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


def check_flags(args: argparse.Namespace, probe_folders: bool = True) -> None:
    """What the flags ask for is possible: folders writable, optional packages present (before any work).

    Folders are probed by writing in them, so under mpiexec rank 0 alone probes
    (``probe_folders``): two ranks probing one folder at once would remove it under each other.
    """
    if args.out and probe_folders:
        check_writable_dir("--out", args.out)
    if args.plots and probe_folders:
        check_writable_dir("--plots", args.plots)
        require_package("--plots", "matplotlib")
    if args.progress == "bar" and not args.quiet:
        require_package("--progress bar", "tqdm")
    if args.data_dir and Path(args.data_dir).exists() and not Path(args.data_dir).is_dir():
        raise CLIError(f"--data-dir {args.data_dir}: exists and is not a folder", status=2)
    if args.activation is not None and args.activation.lower() not in ACTIVATIONS:
        raise CLIError(f"--activation {args.activation!r}: choose one of {', '.join(ACTIVATIONS)}", status=2)
    if args.resume is not None and not (args.resume or args.out):
        raise CLIError("--resume needs a checkpoint (or folder), or --out naming the run's folder", status=2)


def _out_dir(args: argparse.Namespace, config: dict, checkpoint: Path | None) -> Path:
    """The run's folder: --out, the resumed checkpoint's, or a fresh runs/PRESET[-N]."""
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
    if checkpoint is None and _holds_run(out) and not args.overwrite:
        raise CLIError(
            f"{out} already holds a run; pass --resume to continue it, --overwrite to replace it, "
            "or choose another --out"
        )
    return out


def _take_out_dir(out: Path, replace: bool, held: contextlib.ExitStack, say) -> None:
    """Lock the run's folder for this process until ``held`` closes; clear it (``replace``) and its stale files."""
    try:
        check_writable_dir("--out", out)
        held.enter_context(RunLock(out))
    except RunLockedError as error:
        raise CLIError(str(error)) from None
    if replace:
        for path in [*list_checkpoints(out), out / BEST_CHECKPOINT]:
            path.unlink(missing_ok=True)
            Path(str(path) + ".json").unlink(missing_ok=True)
        (out / "metrics.jsonl").unlink(missing_ok=True)
    removed = remove_stale_temporaries(out)
    if removed:
        say(f"Removed {len(removed)} temporary file(s) an earlier run left in {out}")


def _holds_run(folder: Path) -> bool:
    return (folder / "metrics.jsonl").exists() or bool(list_checkpoints(folder))


def run_train(args: argparse.Namespace) -> int:
    """Train as the flags say; under ``mpiexec -n K``, data-parallel on K processes (rank 0 reports)."""
    ranks = _start_ranks()
    if ranks is None:
        return _train(args, rank=0, world_size=1)
    rank, world_size = ranks
    try:
        return _train(args, rank, world_size)
    except CLIError as error:  # a rank that stops alone would leave the others waiting: end the job
        print(f"chainrule train: error (rank {rank}): {error}", file=sys.stderr, flush=True)
        _abort_job(error.status)
        raise


def _start_ranks() -> tuple[int, int] | None:
    """(rank, K) when started by ``mpiexec`` with K > 1 processes, else None (one process)."""
    from chainrule import distributed
    from chainrule.distributed.communicator import launched_by_mpiexec

    if not launched_by_mpiexec():
        return None
    try:
        distributed.init_process_group("mpi")
    except ImportError as error:
        raise CLIError(str(error)) from None
    if distributed.get_world_size() == 1:
        return None
    return distributed.get_rank(), distributed.get_world_size()


def _abort_job(status: int) -> None:
    from chainrule import distributed

    distributed.communicator().abort(status)


def _train(args: argparse.Namespace, rank: int, world_size: int) -> int:
    with contextlib.ExitStack() as held:  # the run folder's lock, released however training ends
        return _train_holding(args, rank, world_size, held)


def _train_holding(args: argparse.Namespace, rank: int, world_size: int, held: contextlib.ExitStack) -> int:
    started = time.perf_counter()
    check_flags(args, probe_folders=rank == 0)
    device = resolve_device(args.device)
    checkpoint_path = state = None
    if args.resume is not None:
        where = args.resume or args.out
        try:
            checkpoint_path = resolve_checkpoint(where)
            state = load_checkpoint(checkpoint_path)
        except (FileNotFoundError, ValueError) as exc:
            raise CLIError(f"cannot resume: {exc}") from None
        config = resumed_config(args, state["config"]["train"])
    else:
        config = resolve_config(args)
    if world_size > 1 and device.type != "cpu":  # the gradients are averaged through MPI in host memory
        raise CLIError(f"--device {device}: data-parallel training under mpiexec runs on the CPU only", status=2)
    if config["batch_size"] % world_size:
        raise CLIError(
            f"--batch-size {config['batch_size']} is the global batch and must divide by the {world_size} processes",
            status=2,
        )
    leader = rank == 0
    say = (lambda text: None) if args.quiet or not leader else (lambda text: print(text, flush=True))
    out = _shared_out_dir(args, config, checkpoint_path, world_size, held, say)
    random.manual_seed(config["seed"])
    train_set = load_dataset(config["dataset"], "train", config["limit"], args.data_dir, not args.no_download)
    test_set = load_dataset(config["dataset"], "test", None, args.data_dir, not args.no_download)
    in_features, classes = dataset_shape(train_set)
    classes = max(classes, dataset_shape(test_set)[1])
    name = canonical_name(config["model"])
    kwargs = model_kwargs(config, in_features, classes)
    model = build_model(name, kwargs).to(device)  # initialised on the host (the seed's draws), then moved
    loss_name = config["loss"] or default_loss(model)
    loss_fn = make_loss(loss_name, model, classes)
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True, seed=config["seed"])
    optimizer = make_optimizer(config, model.parameters())
    scheduler, interval = make_scheduler(config, optimizer, len(train_loader))
    trained = model
    if world_size > 1:
        from chainrule.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model)
        train_loader = ShardedLoader(train_loader, rank, world_size)

    trainer = Trainer(
        trained,
        optimizer,
        loss_fn,
        train_loader,
        DataLoader(test_set, batch_size=1000) if leader else None,
        scheduler=scheduler,
        scheduler_interval=interval,
        out_dir=out if leader else None,
        log_every=args.log_every,
        progress=NoProgress(stream=None) if not leader else "none" if args.quiet else args.progress,
        config={"train": config, "model": name, "model_kwargs": kwargs, "loss": loss_name, "classes": classes},
        keep_checkpoints=args.keep or None,
        keep_best=True,
        device=device,
    )
    if state is not None:
        saved_epochs = state["config"]["train"]["epochs"]
        extending = scheduler is not None and saved_epochs != config["epochs"] > int(state["epoch"])
        trainer.resume(state, rebuild_schedule=extending)
        say(f"Resuming {checkpoint_path} at epoch {trainer.epoch + 1}, batch {trainer.batch} (step {trainer.step})")
        if extending:
            say(
                f"The run now has {config['epochs']} epochs instead of {saved_epochs}: its {config['schedule']} "
                f"schedule is rebuilt for {config['epochs']} epochs from here (lr "
                f"{state['optimizer']['param_groups'][0]['lr']:.3g} -> {optimizer.param_groups[0]['lr']:.3g})"
            )
    parameters = sum(p.numel() for p in model.parameters())
    processes = f", {world_size} processes of {config['batch_size'] // world_size}" if world_size > 1 else ""
    say(
        f"Training {name} ({parameters:,} parameters) on {config['dataset']} "
        f"({len(train_set):,} train / {len(test_set):,} test samples): {config['optimizer']} lr {config['lr']:g}, "
        f"schedule {config['schedule']}, batch {config['batch_size']}{processes}, {config['epochs']} epochs, "
        f"seed {config['seed']}" + ("" if device.type == "cpu" else f", on {device}")
    )
    say(f"Writing checkpoints and metrics.jsonl to {out}")
    trainer.fit(config["epochs"])
    if not leader:
        return 130 if trainer.interrupted else 0
    if trainer.interrupted:
        print(f"Stopped. Continue with: chainrule train --resume {trainer.last_checkpoint or out}", flush=True)
        return 130
    status = _report(trainer, out, time.perf_counter() - started)
    if args.plots:
        _write_plots(out, model.cpu(), test_set, args.plots)
    return status


def _shared_out_dir(
    args: argparse.Namespace, config: dict, checkpoint: Path | None, world_size: int, held: contextlib.ExitStack, say
) -> Path:
    """The run's folder, chosen, locked (and cleared with --overwrite) by rank 0 alone, then told to every rank."""
    replace = checkpoint is None and bool(args.overwrite)
    if world_size == 1:
        out = _out_dir(args, config, checkpoint)
        _take_out_dir(out, replace, held, say)
        return out
    from chainrule import distributed

    outcome = None
    if distributed.get_rank() == 0:
        try:
            out = _out_dir(args, config, checkpoint)
            _take_out_dir(out, replace, held, say)
            outcome = ("ok", str(out))
        except CLIError as error:
            outcome = ("error", (str(error), error.status))
    kind, value = distributed.communicator().broadcast_object(outcome, 0)
    if kind == "error":  # every rank raises the same error and exits with it: no rank is left waiting
        raise CLIError(*value)
    return Path(value)


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
