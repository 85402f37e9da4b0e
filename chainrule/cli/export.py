"""``chainrule export``: write the model of a ``chainrule train`` checkpoint as an ONNX file."""

from __future__ import annotations

import argparse

from chainrule.cli.common import CLIError, model_from_checkpoint
from chainrule.tensor import Tensor


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="write a checkpoint's model as an ONNX file",
        description=(
            "Rebuild the model of a checkpoint (from the config it was saved with) and write it as an ONNX "
            "model with input 'input' (batch, features), a dynamic batch axis, and output 'output'. "
            'Needs the onnx package: pip install "chainrule[onnx]".'
        ),
    )
    parser.add_argument(
        "--checkpoint", required=True, metavar="PATH", help="a checkpoint file, or a run folder (its latest)"
    )
    parser.add_argument("--out", required=True, metavar="FILE.onnx", help="where to write the ONNX model")
    parser.add_argument("--model", metavar="NAME", help="the model the checkpoint must hold (default: its own)")
    parser.add_argument("--opset", type=int, default=17, metavar="N", help="ONNX opset version (default 17)")
    parser.set_defaults(handler=run_export, command_parser=parser)
    return parser


def run_export(args: argparse.Namespace) -> int:
    from chainrule import onnx
    from chainrule.models.registry import canonical_name

    model, config, path = model_from_checkpoint(args.checkpoint)
    if args.model is not None:
        try:
            wanted, held = canonical_name(args.model), canonical_name(config["model"])
        except KeyError as exc:
            raise CLIError(str(exc.args[0]), status=2) from None
        if wanted != held:
            raise CLIError(f"{path} holds model {config['model']!r}, not {args.model!r}")
    example = _example_input(config)
    try:
        onnx.export(
            model,
            example,
            args.out,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=args.opset,
        )
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    except ValueError as exc:
        raise CLIError(str(exc), status=2) from None
    print(f"wrote {args.out} (model {config['model']}, opset {args.opset}, from {path})")
    return 0


def _example_input(config: dict) -> Tensor:
    """One zero sample of the model's input: (1, in_features), float32 as the datasets give."""
    import numpy as np

    return Tensor(np.zeros((1, int(config["model_kwargs"]["in_features"])), dtype=np.float32))
