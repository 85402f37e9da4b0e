"""``chainrule evaluate`` and ``chainrule predict``: use a checkpoint written by ``chainrule train``."""

from __future__ import annotations

import argparse
import json

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.cli.common import (
    DATASETS,
    CLIError,
    add_device_argument,
    load_dataset,
    make_loss,
    model_from_checkpoint,
    positive_int,
    resolve_device,
)
from chainrule.data import DataLoader
from chainrule.tensor import Tensor
from chainrule.training import evaluate, predicted_classes


def add_parsers(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="print a checkpoint's loss, accuracy and error on a dataset",
        description="Evaluate the model of a checkpoint on a dataset split: mean loss, accuracy and error rate.",
    )
    _checkpoint_argument(parser)
    parser.add_argument("--dataset", choices=DATASETS, help="the data (default: the one it was trained on)")
    parser.add_argument("--split", choices=("test", "train"), default="test", help="which split (default test)")
    parser.add_argument("--batch-size", type=positive_int, default=1000, help="samples per batch (default 1000)")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    _data_arguments(parser)
    parser.set_defaults(handler=run_evaluate, command_parser=parser)

    parser = subparsers.add_parser(
        "predict",
        help="print a checkpoint's predicted classes for inputs",
        description=(
            "Predict classes with the model of a checkpoint, for the samples of an .npy file (one per row; "
            "uint8 arrays are divided by 255 like the datasets' pixels) or for samples of a dataset by index."
        ),
    )
    _checkpoint_argument(parser)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE.npy", help="inputs, shape (N, features), (N, H, W) or (features,)")
    source.add_argument("--indices", type=int, nargs="+", metavar="I", help="indices of samples of --dataset")
    parser.add_argument("--dataset", choices=DATASETS, help="for --indices (default: the one it was trained on)")
    parser.add_argument("--split", choices=("test", "train"), default="test", help="for --indices (default test)")
    _data_arguments(parser)
    parser.set_defaults(handler=run_predict, command_parser=parser)


def _checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint", required=True, metavar="PATH", help="a checkpoint file, or a run folder (its latest)"
    )


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR", help="MNIST location (default $CHAINRULE_DATA or ~/.cache/chainrule)"
    )
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing dataset")
    add_device_argument(parser)


def _dataset(args: argparse.Namespace, config: dict):
    name = args.dataset or config["train"]["dataset"]
    data = load_dataset(name, args.split, None, args.data_dir, not args.no_download)
    features = int(np.prod(data.tensors[0].shape[1:]))
    if features != config["model_kwargs"]["in_features"]:
        raise CLIError(
            f"the {name} samples have {features} features but the model takes {config['model_kwargs']['in_features']}"
        )
    return name, data


def run_evaluate(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    model, config, path = model_from_checkpoint(args.checkpoint)
    name, data = _dataset(args, config)
    loss_fn = make_loss(config["loss"], model, config["classes"])
    result = evaluate(model.to(device), DataLoader(data, batch_size=args.batch_size), loss_fn, device)
    result.update(checkpoint=path, dataset=name, split=args.split)
    if args.json:
        print(json.dumps(result))
        return 0
    line = f"{name} {args.split} ({result['samples']:,} samples): loss {result['loss']:.4f}"
    if result["accuracy"] is not None:
        line += f"  accuracy {result['accuracy']:.2%}  error {result['error']:.2%}"
    print(line)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    model, config, _ = model_from_checkpoint(args.checkpoint)
    features = config["model_kwargs"]["in_features"]
    labels = None
    if args.input is not None:
        inputs = _read_inputs(args.input, features)
        names = [str(i) for i in range(len(inputs))]
    else:
        name, data = _dataset(args, config)
        count = len(data)
        bad = [i for i in args.indices if not -count <= i < count]
        if bad:
            raise CLIError(f"index {bad[0]} is out of range for the {count:,} samples of {name} {args.split}", status=2)
        index = Tensor._wrap(np.asarray(args.indices, dtype=np.int64))
        inputs, labels = (t[index] for t in data.tensors)
        names = [f"{name} {args.split}[{i}]" for i in args.indices]
    with no_grad():
        predicted = predicted_classes(model.to(device)(inputs.to(device))).tolist()
    for position, (label, guess) in enumerate(zip(names, predicted)):
        truth = "" if labels is None else f"  (label {int(labels[position].item())})"
        print(f"{label}: {guess}{truth}")
    return 0


def _read_inputs(path: str, features: int) -> Tensor:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CLIError(f"cannot read {path}: {exc}") from None
    if array.dtype == np.uint8:
        array = array / np.float32(255)
    if array.dtype.kind not in "fiu":
        raise CLIError(f"{path}: expected numbers, got an array of {array.dtype}")
    array = np.asarray(array, dtype=np.float32)
    if array.size % features or array.size == 0:
        raise CLIError(f"{path}: an array of shape {array.shape} is not samples of {features} features")
    return Tensor._wrap(np.ascontiguousarray(array.reshape(-1, features)))
