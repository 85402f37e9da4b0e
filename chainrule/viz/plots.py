"""Pictures of training: learning curves, first-layer weights, decision regions, confusion matrices.

Every function returns a matplotlib ``Figure`` and, given ``path``, also saves
it as a PNG of exactly ``size = (width, height)`` pixels: the figure is made
``width / 100`` by ``height / 100`` inches at 100 dpi and saved at that dpi,
without ``bbox_inches="tight"`` (which would change the size).

Figures are drawn on matplotlib's Agg canvas directly, never through pyplot,
so nothing here changes the global backend or keeps figures alive in pyplot's
registry. matplotlib is an optional extra: ``pip install 'chainrule[plots]'``.

    >>> import chainrule as cr
    >>> fig = cr.viz.training_curves("runs/mlp/metrics.jsonl", path="curves.png")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

DPI = 100
METRICS_FILENAMES = ("metrics.jsonl", "metrics.json", "log.jsonl", "history.jsonl")
_STEP_KEYS = ("step", "global_step", "iteration", "iter")
_LR_KEYS = ("lr", "learning_rate")
_EVENT_KEYS = ("event", "kind", "phase")
_GAP_RGB = (0.69, 0.77, 0.87)  # between the images of weight_mosaic: light steel blue
# Class colours shared by decision_regions' regions and points (matplotlib's tab10).
_PALETTE = np.array(
    [
        [0.122, 0.467, 0.706],
        [1.000, 0.498, 0.055],
        [0.173, 0.627, 0.173],
        [0.839, 0.153, 0.157],
        [0.580, 0.404, 0.741],
        [0.549, 0.337, 0.294],
        [0.890, 0.467, 0.761],
        [0.498, 0.498, 0.498],
        [0.737, 0.741, 0.133],
        [0.090, 0.745, 0.812],
    ]
)


# ---------------------------------------------------------------------- figures
def _figure(size: tuple[int, int]):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "chainrule.viz plots need matplotlib: pip install 'chainrule[plots]' (or pip install matplotlib)"
        ) from None
    width, height = size
    if width < 50 or height < 50:
        raise ValueError(f"plots: size must be at least 50 x 50 pixels, got {size}")
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _finish(figure, path: str | Path | None):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI, format="png")
    return figure


def _numpy(value) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().numpy(force=True)
    return np.asarray(value)


# ---------------------------------------------------------------------- training curves
def load_metrics(source) -> list[dict]:
    """Metric records from a JSON-lines file, a run directory holding one, or a list of dicts.

    Blank lines are skipped and lines that are not JSON objects are skipped with
    a warning (a run killed mid-write leaves a torn last line).

    >>> import chainrule as cr
    >>> cr.viz.load_metrics([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}])[-1]
    {'epoch': 2, 'loss': 0.25}
    """
    if isinstance(source, (str, Path)):
        path = find_metrics_file(source)
        if path is None:
            raise FileNotFoundError(f"training_curves: no metrics log ({', '.join(METRICS_FILENAMES)}) in {source}")
        return _read_json_lines(path)
    records = [dict(record) for record in source]
    return [record for record in records if isinstance(record, Mapping)]


def find_metrics_file(source: str | Path) -> Path | None:
    """``source`` itself if it is a file; else the run directory's metrics log, if any."""
    path = Path(source)
    if path.is_file():
        return path
    if not path.is_dir():
        return None
    for name in METRICS_FILENAMES:
        if (path / name).is_file():
            return path / name
    candidates = sorted(path.glob("*.jsonl"))
    return candidates[0] if candidates else None


def _read_json_lines(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return [record for record in json.loads(text) if isinstance(record, dict)]
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            warnings.warn(f"training_curves: skipping line {number} of {path}: not JSON", stacklevel=3)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _number(value) -> float | None:
    if isinstance(value, (list, tuple)) and value:
        value = value[0]  # one learning rate per parameter group: the first
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _positions(records: list[dict]) -> tuple[list[float], str]:
    """The x of each record and the axis name: step, else epoch, else the record's number.

    A record without a step (an end-of-epoch evaluation) takes the step of the
    latest record before it in the log, so per-step and per-epoch metrics share
    one axis.
    """
    step_key = next((key for key in _STEP_KEYS if any(_number(r.get(key)) is not None for r in records)), None)
    if step_key is not None:
        positions, last = [], 0.0
        for record in records:
            step = _number(record.get(step_key))
            last = step if step is not None else last
            positions.append(last)
        return positions, "step"
    if any(_number(r.get("epoch")) is not None for r in records):
        positions, last = [], 0.0
        for record in records:
            epoch = _number(record.get("epoch"))
            last = epoch if epoch is not None else last
            positions.append(last)
        return positions, "epoch"
    return [float(i + 1) for i in range(len(records))], "record"


def _panel_of(key: str) -> str | None:
    lowered = key.lower()
    if lowered in _LR_KEYS or lowered.endswith("_lr") or lowered.startswith("lr_"):
        return "learning rate"
    if "loss" in lowered:
        return "loss"
    if "acc" in lowered:
        return "accuracy"
    return None


def _event(record: dict) -> str | None:
    """The kind of a record ("batch", "epoch", ...) when the log mixes kinds under one field name."""
    for key in _EVENT_KEYS:
        if isinstance(record.get(key), str):
            return record[key]
    return None


def _series(records: list[dict]) -> tuple[dict[str, dict[str, tuple[list, list]]], str]:
    """panel -> metric name -> (xs, ys), in the order the metrics first appear.

    When records carry an "event" (the Trainer logs "batch" windows and "epoch"
    summaries, both with a "loss"), each kind is its own line: "loss [batch]".
    """
    positions, axis = _positions(records)
    several_kinds = len({_event(record) for record in records}) > 1
    panels: dict[str, dict[str, tuple[list, list]]] = {"loss": {}, "accuracy": {}, "learning rate": {}}
    for x, record in zip(positions, records):
        event = _event(record)
        for key, value in record.items():
            panel, number = _panel_of(key), _number(value)
            if panel is None or number is None:
                continue
            name = f"{key} [{event}]" if several_kinds and event is not None else key
            xs, ys = panels[panel].setdefault(name, ([], []))
            xs.append(x)
            ys.append(number)
    return {name: series for name, series in panels.items() if series}, axis


def training_curves(
    metrics,
    path: str | Path | None = None,
    size: tuple[int, int] = (1200, 400),
    title: str | None = None,
):
    """Loss, accuracy and learning rate against step (or epoch) from a run's metrics log.

    Args:
        metrics: a JSON-lines file (one object per line, e.g.
            ``{"epoch": 1, "step": 100, "loss": 0.4, "lr": 0.1}``), a run directory
            holding ``metrics.jsonl``, or a list of such dicts. Any numeric field
            whose name contains "loss" goes to the loss panel (train_loss, test_loss),
            "acc" to the accuracy panel, and lr / learning_rate to the last panel;
            missing fields and panels are simply left out.
        path: save a PNG of ``size`` pixels there.
    """
    records = load_metrics(metrics)
    panels, axis = _series(records)
    if not panels:
        raise ValueError(
            "training_curves: no loss, accuracy or lr fields in the metrics "
            f"(fields seen: {sorted({key for r in records for key in r})})"
        )
    figure = _figure(size)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (panel, series) in zip(axes, panels.items()):
        for name, (xs, ys) in series.items():
            ax.plot(xs, ys, label=name, marker="o" if len(xs) <= 30 else None, markersize=3, linewidth=1.2)
        values = [y for _, ys in series.values() for y in ys]
        if panel != "accuracy" and min(values) > 0 and max(values) / min(values) > 100:
            ax.set_yscale("log")
        ax.set_xlabel(axis)
        ax.set_ylabel(panel)
        ax.set_title(panel)
        ax.grid(True, alpha=0.3)
        if len(series) > 1 or panel != "learning rate":
            ax.legend(fontsize=8)
    if title:
        figure.suptitle(title)
    return _finish(figure, path)


# ---------------------------------------------------------------------- weights
def first_weight(model: Module):
    """The first parameter named ``*weight`` with two or more dims (the first Linear or Conv layer's)."""
    for name, param in model.named_parameters():
        if name.split(".")[-1] == "weight" and param.ndim >= 2:
            return name, param
    raise ValueError(f"weight_mosaic: {type(model).__name__} has no weight matrix or convolution kernel")


def _images(weight: np.ndarray, image_shape: tuple[int, ...] | None) -> np.ndarray:
    """(n, h, w) grey or (n, h, w, 3) colour images, one per hidden unit or filter."""
    if weight.ndim == 2:
        units, features = weight.shape
        if image_shape is None or math.prod(image_shape) != features:
            side = math.isqrt(features)
            if side * side != features:
                raise ValueError(
                    f"weight_mosaic: a weight of shape {weight.shape} has {features} inputs per unit, which is not "
                    f"image_shape {image_shape}; pass image_shape=(height, width) with height * width = {features}"
                )
            image_shape = (side, side)
        images = weight.reshape(units, *image_shape)
        return np.moveaxis(images, 1, -1) if images.ndim == 4 and images.shape[1] == 3 else images
    if weight.ndim == 4:
        out_channels, in_channels, height, width = weight.shape
        if in_channels == 3:
            return np.moveaxis(weight, 1, -1)
        return weight.reshape(out_channels * in_channels, height, width)
    raise ValueError(f"weight_mosaic: expected a (units, features) or (out, in, kh, kw) weight, got {weight.shape}")


def _normalised(images: np.ndarray) -> np.ndarray:
    """Each image scaled on its own: grey images so that 0 is mid-grey, colour images to [0, 1]."""
    flat = images.reshape(len(images), -1)
    if images.ndim == 3:
        scale = np.abs(flat).max(axis=1)
        scale[scale == 0] = 1
        return 0.5 + 0.5 * images / scale[:, None, None]
    low, high = flat.min(axis=1), flat.max(axis=1)
    span = np.where(high > low, high - low, 1)
    return (images - low[:, None, None, None]) / span[:, None, None, None]


def _tile(images: np.ndarray, columns: int, pad: int = 1) -> np.ndarray:
    count, height, width = images.shape[:3]
    rows = math.ceil(count / columns)
    # NaN gaps: drawn in a colour of their own, so a white (most positive) edge pixel is not lost in them
    mosaic = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, *images.shape[3:]), np.nan)
    for k, image in enumerate(images):
        top, left = pad + (k // columns) * (height + pad), pad + (k % columns) * (width + pad)
        mosaic[top : top + height, left : left + width] = image
    return mosaic


def weight_mosaic(
    weight,
    image_shape: tuple[int, int] | None = (28, 28),
    max_images: int = 100,
    path: str | Path | None = None,
    size: tuple[int, int] = (800, 800),
    cmap: str = "gray",
):
    """The first layer's weights as a grid of images: what each hidden unit "looks for".

    Args:
        weight: a (units, features) matrix (``nn.Linear(784, H).weight``: unit i's
            image is row i reshaped to ``image_shape``; a square number of features
            is reshaped to a square when ``image_shape`` does not fit), a
            (out, in, kh, kw) convolution kernel (one image per filter, colour when
            in = 3, else one per input channel), or a Module (its first such weight).
        max_images: draw the first ``max_images`` units.

    Each image is scaled by its own largest |w|, so mid-grey is 0, white the most
    positive and black the most negative weight (colour kernels: min-max scaled).
    """
    label = "weight"
    if isinstance(weight, Module):
        label, weight = first_weight(weight)
    values = _numpy(weight).astype(np.float64)
    images = _images(values, tuple(image_shape) if image_shape is not None else None)
    total = len(images)
    images = _normalised(images[: max(1, max_images)])
    columns = math.ceil(math.sqrt(len(images)))
    figure = _figure(size)
    ax = figure.add_subplot()
    import matplotlib

    mosaic = _tile(images, columns)
    if mosaic.ndim == 3:  # colour: NaN would not be masked, so paint the gaps
        mosaic[np.isnan(mosaic).any(axis=-1)] = _GAP_RGB
    ax.imshow(
        mosaic,
        cmap=matplotlib.colormaps[cmap].with_extremes(bad=_GAP_RGB),
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_axis_off()
    ax.set_title(
        f"{label} {tuple(values.shape)}\n{len(images)} of {total} images, "
        + ("each min-max scaled" if images.ndim == 4 else "each scaled to its max |w| (grey = 0)"),
        fontsize=min(11, size[0] / 40),
    )
    return _finish(figure, path)


# ---------------------------------------------------------------------- classifiers
def _model_dtype(model) -> np.dtype:
    if isinstance(model, Module):
        for param in model.parameters():
            return param.dtype
    return np.dtype(np.float32)


def predict_scores(model, X, batch_size: int = 4096) -> np.ndarray:
    """The model's outputs on the rows of ``X`` as a NumPy array, in eval mode and without a graph."""
    inputs = _numpy(X).astype(_model_dtype(model), copy=False)
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, Module) else []
    if isinstance(model, Module):
        model.eval()
    try:
        with no_grad():
            chunks = [_numpy(model(Tensor(inputs[i : i + batch_size]))) for i in range(0, len(inputs), batch_size)]
    finally:
        for module, training in modes:
            module.training = training
    return np.concatenate(chunks).astype(np.float64)


def class_probabilities(scores: np.ndarray, outputs: str = "auto") -> np.ndarray:
    """(N, K) class probabilities from (N, K) scores, or (N, 2) from one score per sample.

    ``outputs``: "logits" (softmax, or the sigmoid of a single score),
    "probabilities" (used as they are), or "auto": probabilities when every
    value lies in [0, 1] (and rows sum to 1 for K > 1), else logits.
    """
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if outputs == "auto":
        in_unit = bool(np.all((scores >= 0) & (scores <= 1)))
        sums_to_one = scores.ndim == 1 or bool(np.allclose(scores.sum(axis=1), 1, atol=1e-3))
        outputs = "probabilities" if in_unit and sums_to_one else "logits"
    if outputs not in ("logits", "probabilities"):
        raise ValueError(f"outputs must be 'auto', 'logits' or 'probabilities', got {outputs!r}")
    if scores.ndim == 1:
        positive = scores if outputs == "probabilities" else 1 / (1 + np.exp(-np.clip(scores, -500, 500)))
        return np.stack([1 - positive, positive], axis=1)
    if outputs == "probabilities":
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def decision_regions(
    model,
    X,
    y,
    resolution: int = 200,
    path: str | Path | None = None,
    size: tuple[int, int] = (700, 600),
    outputs: str = "auto",
    margin: float = 0.1,
):
    """A classifier on 2-D data, as in the TensorFlow playground: its regions over a grid, and the points.

    Args:
        model: a Module (or callable) mapping (M, 2) inputs to (M, K) scores or (M,) binary scores.
        X: (N, 2) points; y: (N,) class labels.
        resolution: grid points per axis (resolution^2 forward evaluations).
        outputs: how to read the scores (see ``class_probabilities``).

    Binary classifiers get a filled contour of P(class 1) with the 0.5 boundary
    drawn; with K > 2 classes each grid cell takes its predicted class's colour,
    paler where the classifier is less sure.
    """
    points, labels = _numpy(X).astype(np.float64), _numpy(y).reshape(-1).astype(np.int64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"decision_regions: X must be (N, 2) points, got shape {points.shape}")
    low, high = points.min(axis=0), points.max(axis=0)
    pad = margin * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    probabilities = class_probabilities(predict_scores(model, grid), outputs)
    if probabilities.shape[1] == 2:
        labels = _binary_labels(labels)
    classes = max(probabilities.shape[1], int(labels.max()) + 1 if len(labels) else 0)
    figure = _figure(size)
    ax = figure.add_subplot()
    if probabilities.shape[1] == 2:
        surface = probabilities[:, 1].reshape(grid_x.shape)
        from matplotlib.colors import LinearSegmentedColormap

        pale = LinearSegmentedColormap.from_list("pale_rdbu", ["#e8837a", "#f7f7f7", "#73a9d6"])
        filled = ax.contourf(grid_x, grid_y, surface, levels=np.linspace(0, 1, 11), cmap=pale)
        ax.contour(grid_x, grid_y, surface, levels=[0.5], colors="black", linewidths=1.2)
        figure.colorbar(filled, ax=ax, label="P(class 1)")
    else:
        predicted = probabilities.argmax(axis=1)
        confidence = (probabilities.max(axis=1) - 1 / classes) / (1 - 1 / classes)
        strength = (0.15 + 0.4 * confidence)[:, None]  # pale, so the points stand out
        colours = _PALETTE[predicted % len(_PALETTE)] * strength + (1 - strength)
        ax.imshow(
            colours.reshape(*grid_x.shape, 3),
            origin="lower",
            extent=(xs[0], xs[-1], ys[0], ys[-1]),
            aspect="auto",
            interpolation="bilinear",
        )
        ax.contour(
            grid_x, grid_y, predicted.reshape(grid_x.shape), levels=np.arange(classes) + 0.5, colors="k", linewidths=0.6
        )
    point_colours = _binary_colours(labels) if probabilities.shape[1] == 2 else _PALETTE[labels % len(_PALETTE)]
    ax.scatter(points[:, 0], points[:, 1], c=point_colours, s=16, edgecolors="black", linewidths=0.4)
    accuracy = float(np.mean(class_probabilities(predict_scores(model, points), outputs).argmax(axis=1) == labels))
    ax.set_title(f"decision regions: {accuracy:.1%} of {len(labels)} points classified correctly")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return _finish(figure, path)


def _binary_labels(labels: np.ndarray) -> np.ndarray:
    """-1/+1 labels (the perceptron's) as 0/1; 0/1 labels unchanged."""
    return (labels > 0).astype(np.int64) if len(labels) and labels.min() < 0 else labels


def _binary_colours(labels: np.ndarray) -> np.ndarray:
    # Strong red and blue: class 0 and class 1, as in the (paler) filled contour.
    return np.where(labels[:, None] == 1, [[0.13, 0.40, 0.67]], [[0.70, 0.09, 0.17]])


def confusion_counts(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """counts[i, j]: how many samples of true class i were predicted as class j.

    ``y_pred`` may be labels (N,) or scores (N, K), which are argmax-ed.

    >>> import chainrule as cr
    >>> cr.viz.confusion_counts([0, 1, 1, 2], [0, 2, 1, 2])
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    true = _numpy(y_true).reshape(-1).astype(np.int64)
    predicted = _numpy(y_pred)
    predicted = predicted.argmax(axis=1) if predicted.ndim == 2 else predicted.reshape(-1)
    predicted = predicted.astype(np.int64)
    if len(true) != len(predicted):
        raise ValueError(f"confusion_matrix: {len(true)} true labels but {len(predicted)} predictions")
    if num_classes is None:
        num_classes = int(max(true.max(initial=-1), predicted.max(initial=-1))) + 1
    for name, labels in (("y_true", true), ("y_pred", predicted)):
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} has labels outside 0..{num_classes - 1}")
    return np.bincount(true * num_classes + predicted, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def _text_colour_on(rgba) -> str:
    """Black on a light background, white on a dark one: by relative luminance (sRGB, Rec. 709 weights)."""
    red, green, blue = (
        channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4 for channel in rgba[:3]
    )
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.179 else "white"


def confusion_matrix(
    y_true,
    y_pred,
    classes: int | Sequence[str] | None = None,
    path: str | Path | None = None,
    size: tuple[int, int] = (600, 600),
):
    """Counts of (true class, predicted class), drawn with each count written in its cell.

    ``classes``: the number of classes or their names (default: inferred from the labels).
    The counts are in ``figure.counts`` (also ``confusion_counts``).
    """
    names = None if classes is None or isinstance(classes, int) else [str(name) for name in classes]
    counts = confusion_counts(y_true, y_pred, len(names) if names is not None else classes)
    k = len(counts)
    names = names or [str(i) for i in range(k)]
    figure = _figure(size)
    ax = figure.add_subplot()
    image = ax.imshow(counts, cmap="Blues", interpolation="nearest")
    figure.colorbar(image, ax=ax, shrink=0.8)
    if k <= 30:
        cells = image.cmap(image.norm(counts))  # the colour each cell is drawn in, (k, k, 4)
        for i in range(k):
            for j in range(k):
                colour = _text_colour_on(cells[i, j])
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour, fontsize=max(6, 12 - k // 4))
    ax.set_xticks(range(k), names, rotation=45 if max(len(n) for n in names) > 2 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = counts.sum()
    accuracy = np.trace(counts) / total if total else float("nan")
    ax.set_title(f"confusion matrix: {accuracy:.1%} of {total} correct")
    figure.counts = counts
    return _finish(figure, path)


# ---------------------------------------------------------------------- a run's plots
def _has_image_weights(model: Module) -> bool:
    """Whether the first layer's weights are pictures: kernels, or rows of a square number (>= 64) of inputs."""
    try:
        _, weight = first_weight(model)
    except ValueError:
        return False
    if weight.ndim == 4:
        return True
    features = weight.shape[-1]
    return weight.ndim == 2 and features >= 64 and math.isqrt(features) ** 2 == features


def dataset_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) as arrays from a TensorDataset, an (X, y) pair, or any indexable dataset."""
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2:
        return _numpy(dataset[0]), _numpy(dataset[1])
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None and len(tensors) >= 2:
        return _numpy(tensors[0]), _numpy(tensors[1])
    samples = [dataset[i] for i in range(len(dataset))]
    return np.stack([_numpy(s[0]) for s in samples]), np.stack([_numpy(s[1]) for s in samples])


def save_training_plots(
    run_dir: str | Path,
    model: Module | None = None,
    dataset=None,
    out_dir: str | Path | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write every plot that applies to ``out_dir`` (default ``run_dir/plots``); returns name -> path.

    * ``training_curves.png`` when ``run_dir`` holds a metrics log;
    * ``weights.png`` when ``model`` has a first-layer weight that is an image (a
      square number of inputs per unit, or a convolution kernel);
    * ``decision_regions.png`` for a model and a dataset of 2-D points;
    * ``confusion_matrix.png`` for a model and a dataset with class labels.
    """
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "plots"
    written: dict[str, Path] = {}
    if find_metrics_file(run_dir) is not None:
        written["training_curves"] = out / "training_curves.png"
        training_curves(run_dir, path=written["training_curves"], title=run_dir.name)
    if model is not None and _has_image_weights(model):
        written["weights"] = out / "weights.png"
        weight_mosaic(model, image_shape=None, path=written["weights"])
    if model is not None and dataset is not None:
        inputs, targets = dataset_arrays(dataset)
        if targets.dtype.kind in "iu" or (targets.dtype.kind == "f" and np.all(targets == np.round(targets))):
            if inputs.ndim == 2 and inputs.shape[1] == 2:
                written["decision_regions"] = out / "decision_regions.png"
                decision_regions(model, inputs, targets, path=written["decision_regions"])
            written["confusion_matrix"] = out / "confusion_matrix.png"
            probabilities = class_probabilities(predict_scores(model, inputs))
            predictions = probabilities.argmax(axis=1)
            labels = targets.reshape(-1).astype(np.int64)
            labels = _binary_labels(labels) if probabilities.shape[1] == 2 else labels
            names = classes if classes is not None else max(int(labels.max()), int(predictions.max())) + 1
            confusion_matrix(labels, predictions, names, path=written["confusion_matrix"])
    return written
