"""chainrule.viz: graph drawings, summaries, plots, model gradient checks and their subcommands."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import struct
import sys
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule import viz
from chainrule.cli import main as cli_main
from chainrule.cli import viz as viz_cli
from chainrule.viz import autograd_graph

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


# ---------------------------------------------------------------------- helpers
def small_graph():
    """y = (x @ W + b).relu().sum(): four ops, two parameter leaves, x needs no gradient."""
    cr.manual_seed(0)
    x = cr.randn(4, 3)
    W = cr.randn(3, 5, requires_grad=True)
    b = cr.randn(5, requires_grad=True)
    return (x @ W + b).relu().sum(), {"W": W, "b": b}


def first_line(node) -> str:
    return node.label.split("\n")[0]


def by_label(drawing) -> dict[str, str]:
    """First label line -> node id (the labels of the small graph are unique)."""
    return {first_line(node): node.id for node in drawing.nodes}


def edge_pairs(drawing, kind: str) -> set[tuple[str, str]]:
    names = {node.id: first_line(node) for node in drawing.nodes}
    return {(names[e.tail], names[e.head]) for e in drawing.edges if e.kind == kind}


def parse_dot(text: str):
    """The DOT text parsed by pydot (a test-only dependency); skips the test without it."""
    pydot = pytest.importorskip("pydot")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pydot's use of old pyparsing names
        (parsed,) = pydot.graph_from_dot_data(text)
    return parsed


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def mlp(sizes: list[int]) -> nn.Sequential:
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def lenet5() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


class BadSquare(cr.autograd.Function):
    """x^2 with a deliberately wrong backward (x * grad instead of 2 x * grad)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


class BrokenModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(4, 5)
        self.second = nn.Linear(5, 2)

    def forward(self, x):
        return self.second(BadSquare.apply(self.first(x)))


# ---------------------------------------------------------------------- graph
def test_graph_of_a_known_small_graph_has_one_node_per_op_and_the_data_flow_edges():
    loss, params = small_graph()
    drawing = viz.graph(loss, params=params)
    kinds = {first_line(node): node.kind for node in drawing.nodes}
    assert kinds == {
        "sum": "op",
        "relu": "op",
        "add": "op",
        "matmul": "op",
        "W": "parameter",
        "b": "parameter",
        "loss": "output",
    }
    assert edge_pairs(drawing, "data") == {
        ("W", "matmul"),
        ("matmul", "add"),
        ("b", "add"),
        ("add", "relu"),
        ("relu", "sum"),
        ("sum", "loss"),
    }
    assert len(drawing.edges) == 6
    labels = {first_line(node): node.label for node in drawing.nodes}
    assert labels["matmul"] == "matmul\n(4, 5) float32"  # shapes of intermediates are recovered
    assert labels["sum"] == "sum\n() float32"
    assert labels["W"] == "W\n(3, 5) float32"


def test_graph_dot_text_parses_with_pydot_and_matches_the_nodes_and_edges():
    loss, params = small_graph()
    drawing = viz.graph(loss, params=params, show_backward=True, show_saved=True)
    parsed = parse_dot(drawing.source)
    node_ids = {node.get_name() for node in parsed.get_nodes()} - {"node", "edge", "graph"}
    assert node_ids == {node.id for node in drawing.nodes}
    parsed_edges = sorted((edge.get_source(), edge.get_destination()) for edge in parsed.get_edges())
    assert parsed_edges == sorted((edge.tail, edge.head) for edge in drawing.edges)


def test_graph_labels_are_escaped():
    W = cr.randn(2, 2, requires_grad=True)
    name = 'a "quoted" name\\with {braces}; and\na newline'
    drawing = viz.graph((W * 2).sum(), params={name: W})
    parsed = parse_dot(drawing.source)
    leaf = next(node for node in drawing.nodes if node.kind == "parameter")
    (parsed_leaf,) = parsed.get_node(leaf.id)
    label = parsed_leaf.get_label()
    assert label.startswith('"a \\"quoted\\" name\\\\with {braces}; and\\na newline')
    assert "\n" not in drawing.source.split(leaf.id, 1)[1].split(";\n", 1)[0]  # one line per statement


def test_graph_names_leaves_from_a_module_and_marks_unnamed_inputs():
    model = mlp([3, 4, 2])
    x = cr.randn(5, 3, requires_grad=True)
    drawing = viz.graph(model(x), params=model)
    labels = [node.label for node in drawing.nodes]
    assert "0.weight\n(4, 3) float32" in labels and "2.bias\n(2,) float32" in labels
    assert "input\n(5, 3) float32" in labels
    assert "output\n(5, 2) float32" in labels
    unnamed = viz.graph(model(x))
    assert sum(node.label.startswith("parameter\n") for node in unnamed.nodes) == 4


def test_graph_backward_pass_has_a_vjp_per_op_and_reversed_gradient_edges():
    loss, params = small_graph()
    drawing = viz.graph(loss, params=params, show_backward=True)
    vjps = sorted(first_line(node) for node in drawing.nodes if node.kind == "vjp")
    assert vjps == ["AddBackward: vjp", "MatMulBackward: vjp", "ReluBackward: vjp", "SumBackward: vjp"]
    grads = edge_pairs(drawing, "grad")
    assert grads == {
        ("grad of output = 1", "SumBackward: vjp"),
        ("SumBackward: vjp", "ReluBackward: vjp"),
        ("ReluBackward: vjp", "AddBackward: vjp"),
        ("AddBackward: vjp", "MatMulBackward: vjp"),
    }
    assert edge_pairs(drawing, "accumulate") == {("AddBackward: vjp", "b.grad"), ("MatMulBackward: vjp", "W.grad")}
    labelled = {e.label for e in drawing.edges if e.kind in ("grad", "accumulate")}
    assert labelled == {"()", "(4, 5)", "(5,)", "(3, 5)"}  # each gradient's shape
    assert "style=dashed" in drawing.source


def test_graph_backward_accumulates_a_reused_leaf_once():
    W = cr.randn(3, 3, requires_grad=True)
    x = cr.randn(2, 3)
    y = ((x @ W).tanh() @ W).sum()
    drawing = viz.graph(y, params={"W": W}, show_backward=True)
    grad_nodes = [node for node in drawing.nodes if node.kind == "grad"]
    assert len(grad_nodes) == 1
    incoming = [e for e in drawing.edges if e.head == grad_nodes[0].id and e.kind == "accumulate"]
    assert len(incoming) == 2


def test_graph_show_saved_draws_what_backward_keeps():
    loss, params = small_graph()
    drawing = viz.graph(loss, params=params, show_saved=True)
    saved = sorted(node.label for node in drawing.nodes if node.kind == "saved")
    assert saved == ["saved input\n(4, 3) float32", "saved output\n(4, 5) float32"]
    assert ("W", "matmul") in edge_pairs(drawing, "saved")


def test_graph_is_deterministic():
    first = viz.graph(small_graph()[0], show_backward=True, show_saved=True).source
    second = viz.graph(small_graph()[0], show_backward=True, show_saved=True).source
    assert first == second
    assert first.startswith('digraph "chainrule" {') and first.rstrip().endswith("}")


def test_graph_of_a_10000_op_chain_needs_no_recursion():
    x = cr.randn(3, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    limit = sys.getrecursionlimit()
    drawing = viz.graph(y, show_backward=True)
    assert sys.getrecursionlimit() == limit
    assert sum(node.kind == "op" for node in drawing.nodes) == 10_000
    assert sum(node.kind == "vjp" for node in drawing.nodes) == 10_000


def test_graph_after_backward_marks_freed_nodes():
    model = mlp([3, 4, 2])
    output = model(cr.randn(5, 3)).sum()
    output.backward()
    drawing = viz.graph(output, params=model)
    assert any("(saved values freed)" in node.label for node in drawing.nodes)


def test_graph_of_a_tensor_without_a_graph_is_an_error():
    with pytest.raises(ValueError, match="does not require grad"):
        viz.graph(cr.randn(3) * 2)


def test_graph_writes_dot_text_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(autograd_graph.shutil, "which", lambda name: None)
    drawing = viz.graph(small_graph()[0])
    path = drawing.render(tmp_path / "g.dot")
    assert path.read_text() == drawing.source
    assert drawing._repr_svg_() is None
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        drawing.render(tmp_path / "g.svg")
    with pytest.raises(ValueError, match="format"):
        drawing.render(tmp_path / "g.unknown")


@needs_dot
def test_graph_renders_svg_and_png(tmp_path):
    loss, params = small_graph()
    drawing = viz.graph(loss, params=params, show_backward=True, show_saved=True)
    svg = drawing.render(tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "MatMulBackward: vjp" in svg
    width, height = png_size(drawing.render(tmp_path / "g.png"))
    assert width > 100 and height > 100
    assert "<svg" in drawing._repr_svg_()


# ---------------------------------------------------------------------- summary
@pytest.mark.parametrize("hidden_layers", [1, 2, 3, 5])
def test_summary_counts_an_mlp_like_the_notes(hidden_layers):
    d, H, K = 784, 32, 10
    model = mlp([d] + [H] * hidden_layers + [K])
    report = viz.summary(model, (1, d))
    weights = d * H + (hidden_layers - 1) * H**2 + H * K  # the notes' dH + (L-1)H^2 + HK
    biases = hidden_layers * H + K
    assert report.total_params == weights + biases
    assert report.trainable_params == report.total_params
    linear_rows = [row for row in report.rows if row.type == "Linear"]
    assert len(linear_rows) == hidden_layers + 1
    assert linear_rows[-1].output_shape == (1, K)
    assert sum(row.params for row in linear_rows) == report.total_params
    text = str(report)
    assert f"Total params: {report.total_params:,}" in text
    assert text.count("(Linear)") == hidden_layers + 1


def test_summary_of_lenet5_has_61706_parameters_and_its_shapes():
    report = viz.summary(lenet5(), input_size=(1, 1, 28, 28))
    assert report.total_params == 61_706
    shapes = [row.output_shape for row in report.rows[1:]]
    assert shapes[:7] == [
        (1, 6, 28, 28),
        (1, 6, 28, 28),
        (1, 6, 14, 14),
        (1, 16, 10, 10),
        (1, 16, 10, 10),
        (1, 16, 5, 5),
        (1, 400),
    ]
    assert report.output_shape == (1, 10)
    text = str(report)
    assert "Total params: 61,706" in text
    for line in ("0 (Conv2d)", "156", "2,416", "48,120", "10,164", "850", "[1, 16, 5, 5]"):
        assert line in text


def test_summary_reports_frozen_parameters_and_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2))
    model[0].weight.requires_grad_(False)
    mean_before = model[1].running_mean.numpy().copy()
    report = viz.summary(model, [3, 4], depth=1)
    assert report.total_params == 4 * 8 + 8 + 16 + 8 * 2 + 2
    assert report.non_trainable_params == 32
    assert "partial" in str(report)
    assert model.training and all(m.training for m in model.modules())
    np.testing.assert_array_equal(model[1].running_mean.numpy(), mean_before)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_summary_depth_collapses_nested_modules():
    inner = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    model = nn.Sequential(inner, nn.Linear(4, 2))
    collapsed = str(viz.summary(model, (1, 3), depth=1))
    assert "0 (Sequential)" in collapsed and "0.0 (Linear)" not in collapsed and " 16 " in collapsed
    expanded = str(viz.summary(model, (1, 3), depth=2))
    assert "0.0 (Linear)" in expanded


# ---------------------------------------------------------------------- plots
@pytest.fixture
def metrics_log(tmp_path):
    lines = []
    step = 0
    for epoch in range(1, 4):
        for _ in range(5):
            step += 1
            lines.append({"event": "batch", "epoch": epoch, "step": step, "loss": 2.0 / step, "lr": 0.1 / step})
        lines.append(
            {
                "event": "epoch",
                "epoch": epoch,
                "step": step,
                "loss": 1.5 / epoch,
                "accuracy": None,
                "test_accuracy": 0.5 + 0.1 * epoch,
            }
        )
    text = "\n".join(json.dumps(line) for line in lines) + '\n\n{"loss": 0.1, "torn'
    (tmp_path / "metrics.jsonl").write_text(text)
    return tmp_path


def test_training_curves_png_has_the_requested_pixel_size(metrics_log):
    pytest.importorskip("matplotlib")
    with pytest.warns(UserWarning, match="not JSON"):
        figure = viz.training_curves(metrics_log, path=metrics_log / "curves.png", size=(901, 333))
    assert png_size(metrics_log / "curves.png") == (901, 333)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["loss", "accuracy", "learning rate"]
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["loss [batch]", "loss [epoch]"]


def test_training_curves_tolerates_missing_fields():
    pytest.importorskip("matplotlib")
    figure = viz.training_curves([{"epoch": 1, "test_accuracy": 0.9}, {"epoch": 2, "test_accuracy": 0.95}])
    assert [ax.get_title() for ax in figure.axes] == ["accuracy"]
    assert figure.axes[0].get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="no loss, accuracy or lr"):
        viz.training_curves([{"epoch": 1, "time": 3.0}])


def test_weight_mosaic_of_a_linear_layer_and_of_conv_kernels(tmp_path):
    pytest.importorskip("matplotlib")
    layer = nn.Linear(784, 30)
    figure = viz.weight_mosaic(layer.weight, path=tmp_path / "linear.png", max_images=25)
    assert png_size(tmp_path / "linear.png") == (800, 800)
    mosaic = figure.axes[0].get_images()[0].get_array()
    assert mosaic.shape == (5 * 29 + 1, 5 * 29 + 1)  # 25 images of 28 x 28 with 1-pixel gaps
    viz.weight_mosaic(lenet5(), image_shape=None, path=tmp_path / "conv.png", size=(400, 300))
    assert png_size(tmp_path / "conv.png") == (400, 300)
    with pytest.raises(ValueError, match="image_shape"):
        viz.weight_mosaic(nn.Linear(10, 3).weight)


def test_decision_regions_binary_and_multiclass(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    binary = nn.Sequential(nn.Linear(2, 1))
    with cr.no_grad():
        binary[0].weight.copy_(cr.tensor([[5.0, 0.0]]))
        binary[0].bias.zero_()
    figure = viz.decision_regions(binary, X, y, resolution=40, path=tmp_path / "binary.png")
    assert png_size(tmp_path / "binary.png") == (700, 600)
    assert "100.0%" in figure.axes[0].get_title()
    labels = rng.integers(0, 3, 60)
    viz.decision_regions(mlp([2, 8, 3]), X, labels, resolution=30, path=tmp_path / "three.png", size=(500, 500))
    assert png_size(tmp_path / "three.png") == (500, 500)


def test_confusion_matrix_counts_and_png(tmp_path):
    pytest.importorskip("matplotlib")
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(viz.confusion_counts(y_true, y_pred), expected)
    scores = np.eye(3)[y_pred]  # (N, K) scores are argmax-ed
    figure = viz.confusion_matrix(cr.tensor(y_true), scores, classes=["a", "b", "c"], path=tmp_path / "cm.png")
    np.testing.assert_array_equal(figure.counts, expected)
    assert png_size(tmp_path / "cm.png") == (600, 600)
    cells = sorted(text.get_text() for text in figure.axes[0].texts)
    assert cells == sorted(str(n) for n in expected.ravel())


def test_save_training_plots_writes_every_applicable_plot(metrics_log):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 2)).astype(np.float32)
    data = cr.data.TensorDataset(cr.tensor(X), cr.tensor(rng.integers(0, 2, 40)))
    with pytest.warns(UserWarning):
        written = viz.save_training_plots(metrics_log, model=mlp([2, 4, 2]), dataset=data)
    assert set(written) == {"training_curves", "decision_regions", "confusion_matrix"}
    for path in written.values():
        assert path.parent == metrics_log / "plots" and png_size(path)[0] > 0
    images = viz.save_training_plots(metrics_log / "none", model=mlp([64, 4, 3]), out_dir=metrics_log / "w")
    assert set(images) == {"weights"}


# ---------------------------------------------------------------------- check_model
def test_check_model_passes_on_an_mlp_and_leaves_it_alone():
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 7), nn.Sigmoid(), nn.Linear(7, 3))
    report = viz.check_model(model, (3, 5), samples=6)
    assert report.passed
    assert [row.name for row in report.rows] == [name for name, _ in model.named_parameters()]
    assert all(row.worst_relative_error < 1e-5 for row in report.rows)
    assert model[0].weight.dtype == np.float32
    assert "all 6 parameters pass" in str(report)


def test_check_model_fails_on_a_wrong_backward():
    report = viz.check_model(BrokenModel(), (2, 4))
    assert not report.passed
    failed = {row.name for row in report.failures}
    assert failed == {"first.weight", "first.bias"}  # below the wrong vjp; the layer above it is fine
    worst = max(row.worst_relative_error for row in report.failures)
    assert worst == pytest.approx(0.5, abs=1e-3)  # x grad instead of 2 x grad: half the true gradient
    assert "FAIL" in str(report)


def test_check_model_of_a_conv_net():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
    assert viz.check_model(model, (2, 1, 4, 4), samples=4).passed


# ---------------------------------------------------------------------- command line
def parse(argv):
    parser = argparse.ArgumentParser(prog="chainrule")
    commands = parser.add_subparsers(dest="command", required=True)
    viz_cli.add_graph_parser(commands)
    viz_cli.add_plot_parser(commands)
    viz_cli.add_check_parser(commands)
    return parser.parse_args(argv)


def test_cli_graph_writes_dot(tmp_path, capsys):
    out = tmp_path / "g.dot"
    args = parse(["graph", "--model", "mlp", "--input-shape", "1,6", "--classes", "3", "--backward", "--out", str(out)])
    assert args.func(args) == 0
    text = out.read_text()
    assert "0.weight" in text and "LinearBackward: vjp" in text and "input" in text


def test_cli_check_exit_status(capsys):
    args = parse(["check", "--model", "mlp", "--input-shape", "2,5", "--classes", "3", "--samples", "3"])
    assert args.func(args) == 0
    assert re.search(r"all \d+ parameters pass", capsys.readouterr().out)
    bad = parse(["check", "--model", "no-such-model"])
    assert bad.func(bad) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_cli_plot_redraws_the_curves(metrics_log, capsys):
    pytest.importorskip("matplotlib")
    args = parse(["plot", str(metrics_log), "--curves-only", "--out", str(metrics_log / "redrawn")])
    with pytest.warns(UserWarning):
        assert args.func(args) == 0
    assert png_size(metrics_log / "redrawn" / "training_curves.png") == (1200, 400)


def test_cli_graph_prints_dot_without_out(capsys):
    assert cli_main(["graph", "--model", "mlp", "--input-shape", "1,4", "--classes", "2"]) == 0
    assert capsys.readouterr().out.startswith('digraph "chainrule"')


def test_cli_unknown_model_is_a_usage_error(capsys):
    assert cli_main(["summary", "--model", "no-such-model"]) == 2
    assert capsys.readouterr().err.startswith("chainrule summary: error: cannot build model 'no-such-model'")


def test_plots_without_matplotlib_say_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"chainrule\[plots\]"):
        viz.training_curves([{"loss": 1.0}])
