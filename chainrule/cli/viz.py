"""The ``graph``, ``plot``, ``check`` and ``summary`` commands: chainrule.viz on the command line.

Each ``add_*_parser(subparsers)`` adds one command to an argparse sub-parser
set and sets ``func`` (also ``handler``) to a function taking the parsed
arguments and returning the exit status:

    chainrule graph --model mlp --out g.svg          # .svg / .png / .pdf need Graphviz; .dot does not
    chainrule graph --model lenet5 --backward --out g.dot
    chainrule plot runs/mnist-mlp                     # redraw a run's plots into runs/mnist-mlp/plots
    chainrule check --model mlp                       # exit status 1 if a gradient is wrong
    chainrule summary --model lenet5

A bad model name or flag value is a one-line error with exit status 2; a
missing folder or file, status 1.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from chainrule import models, nn
from chainrule.cli.common import CLIError


def _usage_error(message: str) -> CLIError:
    return CLIError(message, status=2)


# ---------------------------------------------------------------------- models by name
def build_model(name: str, in_features: int = 784, classes: int = 10) -> nn.Module:
    """``chainrule.models.build(name, in_features=..., classes=...)``; an unknown name is a usage error."""
    try:
        return models.build(name, in_features=in_features, classes=classes)
    except (KeyError, ValueError, TypeError) as exc:
        reason = exc.args[0] if exc.args else exc  # a KeyError's str() would add quotes
        raise _usage_error(f"cannot build model {name!r}: {reason}") from None


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape like 1,784 or 2x1x28x28, got {text!r}") from None
    if not shape or any(n <= 0 for n in shape):
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return shape


def _model_arguments(parser: argparse.ArgumentParser, batch: int) -> None:
    parser.add_argument("--model", default="mlp", help="a model name of chainrule.models (default mlp)")
    parser.add_argument(
        "--input-shape",
        type=_shape,
        metavar="N,...",
        help=f"the input's shape, batch first (default {batch},IN_FEATURES)",
    )
    parser.add_argument("--in-features", type=int, help="inputs per sample (default: from --input-shape, else 784)")
    parser.add_argument("--classes", type=int, default=10, help="outputs of the model (default 10)")


def _model_and_shape(args: argparse.Namespace, batch: int) -> tuple[nn.Module, tuple[int, ...]]:
    shape = args.input_shape
    in_features = args.in_features or (math.prod(shape[1:]) if shape and len(shape) > 1 else 784)
    model = build_model(args.model, in_features, args.classes)
    return model, shape or (batch, in_features)


def _set_handler(parser: argparse.ArgumentParser, handler) -> None:
    wrapped = _reporting(handler, parser.prog)
    parser.set_defaults(func=wrapped, handler=wrapped, command_parser=parser)


def _reporting(handler, prog: str):
    """Run ``handler``; one-line errors for bad models, shapes and files instead of tracebacks."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(handler(args) or 0)
        except CLIError as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            return error.status
        except (RuntimeError, ImportError, FileNotFoundError) as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            return 1

    return run


# ---------------------------------------------------------------------- graph
def add_graph_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "graph",
        help="draw a model's computation graph",
        description=(
            "Draw the autograd graph of one forward pass of a model on random inputs: parameters and the "
            "input feed the operations, each box showing its output's shape and dtype. --out FILE.svg/.png/.pdf "
            "runs Graphviz's dot (apt-get install graphviz); FILE.dot writes the DOT text; no --out prints it."
        ),
    )
    _model_arguments(parser, batch=1)
    parser.add_argument("--out", metavar="FILE", help="where to write the drawing (.svg, .png, .pdf or .dot)")
    parser.add_argument("--backward", action="store_true", help="also draw the backward pass (vjp nodes, .grad)")
    parser.add_argument("--saved", action="store_true", help="also draw what each op saves for its backward")
    parser.add_argument("--loss", action="store_true", help="end in a cross-entropy loss instead of the raw output")
    _set_handler(parser, run_graph)
    return parser


def run_graph(args: argparse.Namespace) -> int:
    import numpy as np

    from chainrule.nn import functional as F
    from chainrule.tensor import Tensor
    from chainrule.viz.autograd_graph import graph

    model, shape = _model_and_shape(args, batch=1)
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    x = Tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype), requires_grad=True)
    output = model(x)
    if args.loss:
        if output.ndim == 1 or output.shape[-1] == 1:  # one score per sample: a binary classifier
            targets = Tensor(np.zeros(len(output), dtype=output.dtype))
            output = F.binary_cross_entropy_with_logits(output.reshape(-1), targets)
        else:
            output = F.cross_entropy(output, Tensor(np.zeros(len(output), dtype=np.int64)))
    drawing = graph(output, params=dict(model.named_parameters()), show_backward=args.backward, show_saved=args.saved)
    if args.out is None:
        sys.stdout.write(drawing.source)
        return 0
    try:
        path = drawing.render(args.out)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    print(f"wrote {path} ({len(drawing.nodes)} nodes, {len(drawing.edges)} edges)")
    return 0


# ---------------------------------------------------------------------- plot
def add_plot_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot",
        help="draw a run's training curves and model pictures",
        description=(
            "Redraw the plots of a run folder written by 'chainrule train': training curves from metrics.jsonl and, "
            "from its latest checkpoint, the first layer's weights, the decision regions (2-D data) and the "
            "confusion matrix on the test set. PNGs go to RUN_DIR/plots unless --out is given. Needs matplotlib."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (metrics.jsonl, checkpoint-*.safetensors)")
    parser.add_argument("--out", metavar="DIR", help="where the PNGs go (default RUN_DIR/plots)")
    parser.add_argument("--curves-only", action="store_true", help="only the training curves (no checkpoint needed)")
    parser.add_argument("--data-dir", metavar="DIR", help="MNIST location for the confusion matrix")
    parser.add_argument("--no-download", action="store_true", help="skip plots whose dataset would need a download")
    _set_handler(parser, run_plot)
    return parser


def run_plot(args: argparse.Namespace) -> int:
    from chainrule.viz.plots import find_metrics_file, save_training_plots

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise CLIError(f"{run_dir} is not a folder")
    model = dataset = None
    if not args.curves_only:
        model, dataset = _run_model_and_data(run_dir, args)
    if find_metrics_file(run_dir) is None and model is None:
        raise CLIError(f"nothing to plot in {run_dir}: no metrics.jsonl and no checkpoint")
    written = save_training_plots(run_dir, model=model, dataset=dataset, out_dir=args.out)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _run_model_and_data(run_dir: Path, args: argparse.Namespace):
    """The latest checkpoint's model and its test set, or (None, None) with a note saying why not."""
    from chainrule.cli.common import load_dataset, model_from_checkpoint

    try:
        model, config, _ = model_from_checkpoint(str(run_dir))
    except Exception as exc:  # no checkpoint yet, or one this chainrule cannot rebuild: curves only
        print(f"note: no checkpoint plots: {exc}", file=sys.stderr)
        return None, None
    name = (config.get("train") or {}).get("dataset") or config.get("dataset")
    if name is None:
        return model, None
    try:
        return model, load_dataset(name, "test", None, args.data_dir, not args.no_download)
    except Exception as exc:
        print(f"note: no dataset plots: {exc}", file=sys.stderr)
        return model, None


# ---------------------------------------------------------------------- check
def add_check_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "check",
        help="check a model's gradients against finite differences",
        description=(
            "Gradient-check every parameter of a model in float64: backprop against central finite differences "
            "on a random input, sampling up to --samples entries per parameter. Prints the worst relative error "
            "per parameter; the exit status is 1 if any parameter fails."
        ),
    )
    _model_arguments(parser, batch=2)
    parser.add_argument("--samples", type=int, default=16, help="entries checked per parameter (default 16)")
    parser.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)")
    parser.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0, help="for the input and the sampled entries (default 0)")
    _set_handler(parser, run_check)
    return parser


def run_check(args: argparse.Namespace) -> int:
    from chainrule.viz.check import check_model

    if args.samples <= 0:
        raise _usage_error(f"--samples must be positive, got {args.samples}")
    bounds = (("--eps", args.eps, "above"), ("--atol", args.atol, "at least"), ("--rtol", args.rtol, "at least"))
    for flag, value, least in bounds:
        if not (math.isfinite(value) and (value > 0 if least == "above" else value >= 0)):
            raise _usage_error(f"{flag} must be a finite number {least} 0, got {value}")
    model, shape = _model_and_shape(args, batch=2)
    report = check_model(
        model, shape, samples=args.samples, eps=args.eps, atol=args.atol, rtol=args.rtol, seed=args.seed
    )
    print(report)
    return 0 if report.passed else 1


# ---------------------------------------------------------------------- summary
def add_summary_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "summary",
        help="print a model's layers, output shapes and parameter counts",
        description="Run a model once on zeros and print each layer's output shape and parameter count.",
    )
    _model_arguments(parser, batch=1)
    parser.add_argument("--depth", type=int, default=3, help="nesting depth of the layers listed (default 3)")
    _set_handler(parser, run_summary)
    return parser


def run_summary(args: argparse.Namespace) -> int:
    from chainrule.viz.model_summary import summary

    model, shape = _model_and_shape(args, batch=1)
    print(summary(model, shape, depth=args.depth))
    return 0


def add_parsers(subparsers) -> None:
    """Add the ``graph``, ``plot``, ``check`` and ``summary`` commands to ``subparsers``."""
    for add_parser in (add_graph_parser, add_plot_parser, add_check_parser, add_summary_parser):
        add_parser(subparsers)
