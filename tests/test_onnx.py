"""ONNX export (checked by onnx.checker and run in onnxruntime) and ``cr.onnx.load`` (run and fine-tuned).

One table of model families; each is exported at opsets 13, 17 and the
newest that onnxruntime runs, checked, run by onnxruntime and compared with
chainrule's own output; then exported with a dynamic batch axis, and loaded
back as a Module.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
helper = onnx.helper


def _newest_runnable_opset() -> int:
    """The newest default-domain opset this onnxruntime accepts (tried on a one-node model)."""
    for opset in range(onnx.defs.onnx_opset_version(), 17, -1):
        x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
        graph = helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"])],
            "probe",
            [x],
            [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
        )
        opsets = [helper.make_opsetid("", opset)]
        model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
        try:
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            return opset
        except Exception:  # noqa: BLE001 - any refusal means "too new for this runtime"
            continue
    return 17


NEWEST = _newest_runnable_opset()
OPSETS = sorted({13, 17, NEWEST})


# --------------------------------------------------------------------------- the model families
class ShapeOps(nn.Module):
    """reshape/view/transpose/permute/cat/slicing/unsqueeze/squeeze, arithmetic with constants, matmul, reductions."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(cr.randn(6, 4))

    def forward(self, x):  # x: (N, 3, 4)
        y = x.permute(0, 2, 1).reshape(x.shape[0], -1)  # (N, 12)
        y = y.view(-1, 6, 2).transpose(1, 2)  # (N, 2, 6)
        y = cr.cat([y, 2.0 * y - 1.0], dim=1)[:, 1:, ::2]  # (N, 3, 3)
        z = (x @ self.weight.t()).unsqueeze(1).squeeze(1)  # (N, 3, 6)
        total = z.sum(dim=-1, keepdim=True) / 3.0 + z.mean(dim=1).unsqueeze(-1)[:, :3] + z.amax(dim=2, keepdim=True)
        return y[..., :1] * total + x[:, :, 0:1].exp() ** 2 + y.flatten(1).max(dim=1).values.reshape(-1, 1, 1)


class Recurrent(nn.Module):
    """A recurrent layer's outputs and final states, all returned."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        output, state = self.layer(x)
        return (output, *state) if isinstance(state, tuple) else (output, state)


def _mlp():
    activations = [
        nn.ReLU(inplace=True),
        nn.LeakyReLU(0.2),
        nn.ELU(0.7),
        nn.GELU(),
        nn.GELU(approximate="tanh"),
        nn.SiLU(),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.Softplus(beta=2.0, threshold=1.5),
        nn.Softmax(dim=-1),
        nn.LogSoftmax(dim=1),
        nn.Dropout(0.5),
    ]
    return nn.Sequential(nn.Linear(5, 8), *activations, nn.Linear(8, 3, bias=False))


def _conv2d():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.AvgPool2d(2, padding=1, count_include_pad=False),
        nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
        nn.GroupNorm(1, 3),
        nn.AvgPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
    )


def _conv1d():
    return nn.Sequential(
        nn.Conv1d(3, 4, 3, padding=1),
        nn.BatchNorm1d(4),
        nn.MaxPool1d(2),
        nn.AvgPool1d(2),
        nn.Flatten(),
        nn.LayerNorm(8),
    )


def _more_layers():
    """PReLU, ReLU6/Hardtanh (clamps through logical_and masks), Hardswish, Mish, SELU, GLU, upsampling."""
    return nn.Sequential(
        nn.Conv2d(2, 8, 1),
        nn.PReLU(8),
        nn.ReLU6(),
        nn.Hardswish(),
        nn.Hardtanh(-0.5, 0.5),
        nn.Mish(),
        nn.SELU(),
        nn.GLU(dim=1),
        nn.Upsample(scale_factor=2),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.PixelShuffle(2),
        nn.AdaptiveAvgPool2d(3),
        nn.ZeroPad2d((1, 2, 0, 1)),
        nn.Flatten(),
    )


class PairFeatures(nn.Module):
    """A bilinear form (einsum) and a cosine similarity (L2 norms) of two inputs."""

    def __init__(self):
        super().__init__()
        self.bilinear = nn.Bilinear(3, 3, 2)

    def forward(self, pair):
        a, b = pair[:, 0], pair[:, 1]
        return self.bilinear(a, b) + nn.functional.cosine_similarity(a, b).unsqueeze(1)


def _steps():
    return nn.Sequential(nn.Linear(5, 4), nn.Step(), nn.Linear(4, 4), nn.Sign())


class CausalEncoder(nn.Module):
    """A pre-norm GELU encoder layer under a causal mask made in forward (folded into a constant)."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True, batch_first=True)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        return self.layer(x, src_mask=mask)


class Statistics(nn.Module):
    """Reductions to scalars (mean, std, max over everything) broadcast back."""

    def forward(self, x):
        return x - x.mean() + x.std() * x.max() + x.var(dim=1, keepdim=True) + x.sum(dim=(0, 1))


def _mha():
    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            return self.attention(x, x, x, need_weights=False)[0]

    return SelfAttention()


# name: (factory, input shape, batch axis, an integer input's table size or None)
FAMILIES = {
    "mlp_activations": (_mlp, (2, 5), 0, None),
    "conv2d_pools_norms": (_conv2d, (2, 3, 12, 12), 0, None),
    "conv1d_batchnorm1d_layernorm": (_conv1d, (2, 3, 8), 0, None),
    "embedding": (lambda: nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Tanh()), (2, 3), 0, 10),
    "shape_ops": (ShapeOps, (2, 3, 4), 0, None),
    "lstm_2layer_bidirectional_batch_first": (
        lambda: Recurrent(nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True)),
        (2, 3, 4),
        0,
        None,
    ),
    "gru_bidirectional": (lambda: Recurrent(nn.GRU(4, 5, bidirectional=True)), (3, 2, 4), 1, None),
    "rnn_relu_2layer": (lambda: Recurrent(nn.RNN(4, 5, num_layers=2, nonlinearity="relu")), (3, 2, 4), 1, None),
    "step_sign": (_steps, (2, 5), 0, None),
    "more_layers": (_more_layers, (2, 2, 3, 3), 0, None),
    "bilinear_cosine": (PairFeatures, (2, 2, 3), 0, None),
    "reflect_padded_conv": (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), (2, 2, 5, 5), 0, None),
    "statistics": (Statistics, (2, 3), None, None),
    "multihead_attention": (_mha, (2, 3, 8), 0, None),
    "causal_transformer_encoder_layer": (CausalEncoder, (2, 3, 8), 0, None),
    "transformer_encoder_layer": (
        lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True),
        (2, 3, 8),
        0,
        None,
    ),
}


def make_input(name: str, batch: int | None = None, seed: int = 0) -> cr.Tensor:
    _, shape, batch_axis, table = FAMILIES[name]
    shape = list(shape)
    if batch is not None:
        shape[batch_axis] = batch
    rng = np.random.default_rng(seed)
    if table is not None:
        return cr.tensor(rng.integers(0, table, size=shape))
    return cr.tensor(rng.standard_normal(shape).astype(np.float32))


def make_model(name: str) -> nn.Module:
    cr.manual_seed(0)
    model = FAMILIES[name][0]()
    for module in model.modules():  # non-trivial running statistics, so eval-mode normalisation is tested
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.copy_(cr.randn(module.num_features) * 0.1)
            module.running_var.copy_(cr.rand(module.num_features) + 0.5)
    return model.eval()


def outputs_of(model, *inputs) -> list:
    with cr.no_grad():
        result = model(*inputs)
    return [t.numpy() for t in (result if isinstance(result, tuple) else (result,))]


def exported(model, x, **kwargs) -> bytes:
    buffer = io.BytesIO()
    cr.onnx.export(model, x, buffer, **kwargs)
    return buffer.getvalue()


def run_onnxruntime(data: bytes, *inputs) -> list:
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feeds = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)


def assert_outputs_close(actual, expected, rtol=1e-5, atol=1e-5):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert np.shape(a) == np.shape(e)
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


# --------------------------------------------------------------------------- export
@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", FAMILIES)
def test_export_checks_and_runs_in_onnxruntime_like_chainrule(name, opset):
    model, x = make_model(name), make_input(name)
    data = exported(model, x, opset_version=opset)
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == opset
    assert_outputs_close(run_onnxruntime(data, x), outputs_of(model, x), atol=1e-4)


@pytest.mark.parametrize("name", [name for name, family in FAMILIES.items() if family[2] is not None])
def test_dynamic_batch_axis_runs_another_batch_size(name):
    model, batch_axis = make_model(name), FAMILIES[name][2]
    outputs = (
        ["out"]
        if name not in ("lstm_2layer_bidirectional_batch_first", "gru_bidirectional", "rnn_relu_2layer")
        else None
    )
    data = exported(
        model,
        make_input(name, batch=2),
        input_names=["x"],
        output_names=outputs,
        dynamic_axes={"x": {batch_axis: "batch"}, **({"out": {0: "batch"}} if outputs else {})},
    )
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[batch_axis].dim_param == "batch"
    x5 = make_input(name, batch=5, seed=1)
    assert_outputs_close(run_onnxruntime(data, x5), outputs_of(model, x5), atol=1e-4)


class WithInitialState(nn.Module):
    """A 2-layer bidirectional LSTM or GRU given its initial state as graph inputs."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind, self.layer = kind, getattr(nn, kind)(4, 5, num_layers=2, bidirectional=True)

    def forward(self, x, h, c=None):
        output, state = self.layer(x, (h, c) if self.kind == "LSTM" else h)
        return output


class CrossAttention(nn.Module):
    """Multi-head attention of one sequence over another, with the averaged attention weights."""

    def __init__(self):
        super().__init__()
        self.attention = nn.MultiheadAttention(8, 2)

    def forward(self, query, memory):
        return self.attention(query, memory, memory)


def _sequences(*shapes, batch: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(cr.tensor(rng.standard_normal((s[0], batch, *s[1:])).astype(np.float32)) for s in shapes)


@pytest.mark.parametrize(
    "model, shapes",
    [
        (lambda: WithInitialState("LSTM"), [(3, 4), (4, 5), (4, 5)]),
        (lambda: WithInitialState("GRU"), [(3, 4), (4, 5)]),
        (CrossAttention, [(3, 8), (4, 8)]),
    ],
    ids=["lstm_initial_state", "gru_initial_state", "cross_attention_with_weights"],
)
def test_several_inputs_with_a_dynamic_batch_in_onnxruntime_and_load(model, shapes):
    cr.manual_seed(0)
    model = model().eval()
    names = [f"in{i}" for i in range(len(shapes))]
    data = exported(
        model,
        _sequences(*shapes, batch=2, seed=0),
        input_names=names,
        dynamic_axes={name: {1: "batch"} for name in names},
    )
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    inputs = _sequences(*shapes, batch=5, seed=1)
    expected = outputs_of(model, *inputs)
    assert_outputs_close(run_onnxruntime(data, *inputs), expected)
    assert_outputs_close(outputs_of(cr.onnx.load(io.BytesIO(data)), *inputs), expected)


def test_pytorch_flags_keep_initializers_as_inputs_and_verbose(capsys):
    model = nn.Linear(3, 2)
    data = exported(model, cr.randn(1, 3), keep_initializers_as_inputs=True, verbose=True, do_constant_folding=True)
    assert [i.name for i in onnx.load_from_string(data).graph.input] == ["input_0", "weight", "bias"]
    assert "Gemm" in capsys.readouterr().out
    x = cr.randn(1, 3)
    assert_outputs_close(run_onnxruntime(data, x), outputs_of(model, x))
    with pytest.raises(ValueError, match="export_params=False is not supported"):
        exported(model, x, export_params=False)


def test_parameters_and_buffers_are_initializers_named_as_in_the_state_dict():
    model = make_model("conv1d_batchnorm1d_layernorm")
    proto = onnx.load_from_string(exported(model, make_input("conv1d_batchnorm1d_layernorm")))
    names = {i.name for i in proto.graph.initializer}
    assert names == {
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "5.weight",
        "5.bias",
    }
    by_name = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    np.testing.assert_array_equal(by_name["1.running_var"], model[1].running_var.numpy())


def test_export_writes_a_file_path_and_restores_training_mode(tmp_path):
    model = _mlp()  # in training mode: export traces in eval mode (dropout removed) and restores the mode
    path = tmp_path / "mlp.onnx"
    cr.onnx.export(model, cr.randn(2, 5), str(path))
    assert model.training and model[12].training
    model.eval()
    x = cr.randn(4, 5)
    data = path.read_bytes()
    assert not any(n.op_type == "Dropout" for n in onnx.load_from_string(data).graph.node)
    with pytest.raises(Exception, match="invalid dimensions for input"):  # static batch axis without dynamic_axes
        run_onnxruntime(data, x)


def test_linear_is_a_gemm_and_lstm_gru_map_to_onnx_recurrent_ops():
    def op_types(name):
        return {node.op_type for node in onnx.load_from_string(exported(make_model(name), make_input(name))).graph.node}

    assert "Gemm" in op_types("mlp_activations")
    assert "LSTM" in op_types("lstm_2layer_bidirectional_batch_first")
    assert "GRU" in op_types("gru_bidirectional")
    assert "RNN" in op_types("rnn_relu_2layer")
    assert "LayerNormalization" in op_types("transformer_encoder_layer")


def test_an_op_without_converter_names_the_op_and_the_module():
    class Cumulative(nn.Module):
        def forward(self, x):
            return x.cumsum(dim=1)

    model = nn.Sequential(nn.Linear(3, 3), Cumulative())
    with pytest.raises(RuntimeError, match=r"no ONNX converter for op Cumsum \(in module '1'\)"):
        exported(model, cr.randn(2, 3))


def test_an_array_computed_outside_the_ops_from_the_inputs_is_refused():
    class OutsideMask(nn.Module):
        def forward(self, x):
            return x * cr.tensor((x.detach().numpy() > 0).astype(np.float32))

    with pytest.raises(RuntimeError, match=r"op Mul \(in the model's own forward\) reads an array that changes"):
        exported(OutsideMask(), cr.randn(2, 3))


@pytest.mark.parametrize("opset", [12, onnx.defs.onnx_opset_version() + 1])
def test_an_unsupported_opset_is_a_value_error(opset):
    with pytest.raises(ValueError, match=rf"onnx.export: opset_version must be in \[13, .*got {opset}"):
        exported(nn.Linear(2, 2), cr.randn(1, 2), opset_version=opset)


def test_without_onnx_installed_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[onnx\]"'):
        exported(nn.Linear(2, 2), cr.randn(1, 2))


# --------------------------------------------------------------------------- load
@pytest.mark.parametrize("name", FAMILIES)
def test_load_runs_an_export_with_the_same_outputs_and_names(name):
    model, x = make_model(name), make_input(name)
    loaded = cr.onnx.load(io.BytesIO(exported(model, x)))
    assert isinstance(loaded, nn.Module)
    assert_outputs_close(outputs_of(loaded, x), outputs_of(model, x))
    expected = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert set(loaded.state_dict()) == expected
    trainable = {k for k, _ in model.named_parameters()}
    assert {k for k, _ in loaded.named_parameters()} == trainable  # buffers stay buffers


@pytest.mark.parametrize(
    "name", ["mlp_activations", "conv1d_batchnorm1d_layernorm", "lstm_2layer_bidirectional_batch_first"]
)
def test_a_gradient_step_on_the_loaded_module_matches_the_same_step_on_the_model(name):
    model, x = make_model(name), make_input(name)
    loaded = cr.onnx.load(io.BytesIO(exported(model, x)))
    before = outputs_of(loaded, x)
    for module in (model, loaded):
        optimizer = cr.optim.SGD(module.parameters(), lr=0.1)
        result = module(x)
        loss = sum(((t - 0.5) ** 2).sum() for t in (result if isinstance(result, tuple) else (result,)))
        loss.backward()
        optimizer.step()
    after = outputs_of(loaded, x)
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(after, before))
    assert_outputs_close(after, outputs_of(model, x), atol=1e-4)
    for key, value in model.state_dict().items():
        if key in loaded.state_dict():
            np.testing.assert_allclose(loaded.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)


def _hand_built_model() -> tuple:
    """Gemm, Relu, Reshape, Transpose, a bidirectional LSTM (ONNX gate order), Transpose, ReduceMean and Softmax by hand."""
    rng = np.random.default_rng(3)
    hidden, features = 3, 4
    initializers = {
        "W1": rng.standard_normal((6, 4)).astype(np.float32),
        "b1": rng.standard_normal(6).astype(np.float32),
        "W": rng.standard_normal((2, 4 * hidden, 2)).astype(np.float32),
        "R": rng.standard_normal((2, 4 * hidden, hidden)).astype(np.float32),
        "B": rng.standard_normal((2, 8 * hidden)).astype(np.float32),
        "shape": np.array([0, 3, 2], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=1, alpha=0.5),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["rows"]),  # (N, 6) -> (N, T=3, 2)
        helper.make_node("Transpose", ["rows"], ["seq"], perm=[1, 0, 2]),  # time first
        helper.make_node("LSTM", ["seq", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hidden, direction="bidirectional"),
        helper.make_node("Transpose", ["Y"], ["Yt"], perm=[2, 0, 1, 3]),
        helper.make_node("ReduceMean", ["Yt"], ["m"], axes=[1, 2], keepdims=0),
        helper.make_node("Softmax", ["m"], ["p"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "hand_built",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", features])],
        [
            helper.make_tensor_value_info("p", onnx.TensorProto.FLOAT, ["N", hidden]),
            helper.make_tensor_value_info("Y_h", onnx.TensorProto.FLOAT, [2, "N", hidden]),
        ],
        [onnx.numpy_helper.from_array(v, k) for k, v in initializers.items()],
    )
    opsets = [helper.make_opsetid("", 17)]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    return model, initializers


def test_a_hand_built_graph_loads_runs_like_onnxruntime_and_trains():
    model, initializers = _hand_built_model()
    loaded = cr.onnx.load(model)
    assert {k for k, _ in loaded.named_parameters()} == {"W1", "b1", "W", "R", "B"}  # int64 "shape" is a buffer
    x = cr.tensor(np.random.default_rng(4).standard_normal((5, 4)).astype(np.float32))
    assert_outputs_close(outputs_of(loaded, x), run_onnxruntime(model.SerializeToString(), x))
    probs, final = loaded(x)
    (probs[:, 0].sum() + final.sum()).backward()
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in loaded.parameters())


def test_a_hand_built_graph_of_shape_ops_at_opset_18_loads_and_runs_like_onnxruntime():
    """Split into equal parts, Shape -> ConstantOfShape, ReduceMean with axes as an input (opset 18), Concat."""
    fill = onnx.numpy_helper.from_array(np.array([2.0], np.float32))
    nodes = [
        helper.make_node("Split", ["x"], ["a", "b"], axis=1, num_outputs=2),
        helper.make_node("Shape", ["a"], ["s"]),
        helper.make_node("ConstantOfShape", ["s"], ["twos"], value=fill),
        helper.make_node("Mul", ["a", "twos"], ["m"]),
        helper.make_node("Constant", [], ["axes"], value_ints=[1]),
        helper.make_node("ReduceMean", ["b", "axes"], ["mean"], keepdims=1),
        helper.make_node("Concat", ["m", "mean", "b"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "shapes",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 7])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model, full_check=True)
    x = cr.randn(3, 6)
    assert_outputs_close(outputs_of(cr.onnx.load(model), x), run_onnxruntime(model.SerializeToString(), x))


def test_load_reads_a_path_and_rejects_unknown_ops(tmp_path):
    path = tmp_path / "m.onnx"
    model = make_model("mlp_activations")
    cr.onnx.export(model, make_input("mlp_activations"), path)
    x = make_input("mlp_activations")
    assert_outputs_close(outputs_of(cr.onnx.load(path), x), outputs_of(model, x))
    graph = helper.make_graph(
        [helper.make_node("Det", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [])],
    )
    with pytest.raises(NotImplementedError, match=r"no chainrule implementation of the ONNX ops \['Det'\]"):
        cr.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


# --------------------------------------------------------------------------- the command
def test_export_command_writes_a_checkpoints_model(tmp_path, capsys):
    from chainrule.cli import main
    from chainrule.cli.common import model_from_checkpoint

    assert (
        main(["train", "--dataset", "spirals", "--hidden", "8", "--epochs", "1", "--quiet", "--out", str(tmp_path)])
        == 0
    )
    out = tmp_path / "model.onnx"
    assert main(["export", "--model", "mlp", "--checkpoint", str(tmp_path), "--out", str(out), "--opset", "13"]) == 0
    assert "wrote" in capsys.readouterr().out
    model, config, _ = model_from_checkpoint(str(tmp_path))
    x = cr.randn(7, config["model_kwargs"]["in_features"])
    assert_outputs_close(run_onnxruntime(out.read_bytes(), x), outputs_of(model, x))
    assert main(["export", "--model", "lenet5", "--checkpoint", str(tmp_path), "--out", str(out)]) == 1
    assert "not 'lenet5'" in capsys.readouterr().err
