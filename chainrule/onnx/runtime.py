"""``load``: an ONNX model as a chainrule ``nn.Module`` whose nodes run as chainrule ops.

Initializers become Parameters (or buffers, for integer tensors and for
what ``export`` marked as a buffer) registered under their names: a name
with dots becomes nested submodules, so ``state_dict()`` keys equal the
initializer names. ``forward`` walks the nodes in order, each one a small
function of the ``OPS`` table calling chainrule ops, so the module runs
backward too and can be fine-tuned. Operator semantics are those of opset
13 and newer; Dropout and BatchNormalization run as in inference (identity,
running statistics) whatever the module's mode.
"""

from __future__ import annotations

import os
import re

import numpy as np

from chainrule import nn
from chainrule.nn import functional as F
from chainrule.onnx.converters import BUFFER_MARK, gate_rows
from chainrule.onnx.exporter import MIN_OPSET, require_onnx
from chainrule.ops import elementwise, linalg, reduce, shape
from chainrule.ops.rnn import RecurrentLayer
from chainrule.ops.special import erf
from chainrule.tensor import Tensor

OPS: dict = {}
OUTPUT_COUNT = "_outputs"  # added to every node's attributes: how many outputs the node names


def runs(*op_types: str):
    """Register the decorated ``function(inputs, attributes)`` as the runner of ``op_types``."""

    def register(function):
        for op_type in op_types:
            OPS[op_type] = function
        return function

    return register


def load(f) -> OnnxModule:
    """The ONNX model in ``f`` (a path, a binary file object, bytes, or a ModelProto) as an :class:`OnnxModule`."""
    onnx = require_onnx()
    if isinstance(f, (str, os.PathLike)):
        proto = onnx.load(os.fspath(f))
    elif isinstance(f, (bytes, bytearray)):
        proto = onnx.load_from_string(bytes(f))
    elif hasattr(f, "read"):
        proto = onnx.load_from_string(f.read())
    else:
        proto = f
    return OnnxModule(proto)


class OnnxModule(nn.Module):
    """Runs an ONNX graph: ``forward(*inputs)`` takes the graph inputs in order and returns its outputs."""

    def __init__(self, proto):
        super().__init__()
        onnx = require_onnx()
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        if opset < MIN_OPSET:
            raise ValueError(f"onnx.load: the model uses opset {opset}; opset {MIN_OPSET} or newer is supported")
        graph = proto.graph
        self._initializer_names = []
        for initializer in graph.initializer:
            array = onnx.numpy_helper.to_array(initializer).copy()
            self._register_initializer(initializer.name, array, initializer.doc_string == BUFFER_MARK)
        initialized = {i.name for i in graph.initializer}
        self.input_names = [v.name for v in graph.input if v.name not in initialized]
        self.output_names = [v.name for v in graph.output]
        self.nodes = [_parse_node(onnx, node) for node in graph.node]
        unknown = sorted({op_type for op_type, *_ in self.nodes if op_type not in OPS})
        if unknown:
            raise NotImplementedError(f"onnx.load: no chainrule implementation of the ONNX ops {unknown}")

    def _register_initializer(self, name: str, array: np.ndarray, is_buffer: bool) -> None:
        *path, leaf = [re.sub(r"\W", "_", part) or "_" for part in name.split(".")]
        owner = self
        for part in path:
            if part not in owner._modules:
                owner.add_module(part, nn.Module())
            owner = owner._modules[part]
        tensor = Tensor(array)
        if is_buffer or array.dtype.kind not in "fc":
            owner.register_buffer(leaf, tensor)
        else:
            owner.register_parameter(leaf, nn.Parameter(tensor))
        self._initializer_names.append((name, owner, leaf))

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(
                f"OnnxModule.forward: expected {len(self.input_names)} inputs {self.input_names}, got {len(inputs)}"
            )
        values = {name: getattr(owner, leaf) for name, owner, leaf in self._initializer_names}
        values.update(zip(self.input_names, inputs))
        values[""] = None
        for op_type, input_names, output_names, attributes, node_name in self.nodes:
            arguments = [values[name] for name in input_names]
            try:
                result = OPS[op_type](arguments, attributes)
            except NotImplementedError as exc:
                raise NotImplementedError(f"onnx.load: node {node_name!r} ({op_type}): {exc}") from exc
            results = result if isinstance(result, tuple) else (result,)
            values.update(zip(output_names, results))
        outputs = tuple(values[name] for name in self.output_names)
        return outputs[0] if len(outputs) == 1 else outputs


def _parse_node(onnx, node) -> tuple:
    attributes = {}
    for attribute in node.attribute:
        value = onnx.helper.get_attribute_value(attribute)
        if isinstance(value, onnx.TensorProto):
            value = onnx.numpy_helper.to_array(value)
        elif isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode() for v in value]
        attributes[attribute.name] = value
    attributes[OUTPUT_COUNT] = len(node.output)
    return node.op_type, list(node.input), list(node.output), attributes, node.name or node.op_type


def _ints(value) -> list:
    """A shape-like input (a Tensor of int64) as a list of Python ints."""
    return [int(v) for v in np.asarray(value._data if isinstance(value, Tensor) else value).reshape(-1)]


def _constant(array) -> Tensor:
    return Tensor(np.asarray(array))


# --------------------------------------------------------------------------- elementwise
_BINARY = {
    "Add": elementwise.add,
    "Sub": elementwise.sub,
    "Mul": elementwise.mul,
    "Div": elementwise.div,
    "Pow": elementwise.pow,
    "MatMul": linalg.matmul,
    "Greater": elementwise.gt,
    "Less": elementwise.lt,
    "Equal": elementwise.eq,
    "GreaterOrEqual": elementwise.ge,
    "LessOrEqual": elementwise.le,
    "And": elementwise.logical_and,
    "Or": elementwise.logical_or,
    "Xor": elementwise.logical_xor,
}
_UNARY = {
    "Neg": elementwise.neg,
    "Exp": elementwise.exp,
    "Log": elementwise.log,
    "Sqrt": elementwise.sqrt,
    "Reciprocal": elementwise.reciprocal,
    "Abs": elementwise.abs,
    "Sin": elementwise.sin,
    "Cos": elementwise.cos,
    "Relu": elementwise.relu,
    "Sigmoid": elementwise.sigmoid,
    "Tanh": elementwise.tanh,
    "Sign": elementwise.sign,
    "Floor": elementwise.floor,
    "Ceil": elementwise.ceil,
    "Round": elementwise.round,
    "Not": elementwise.logical_not,
    "Erf": erf,
}


def _make_binary(function):
    return lambda inputs, attributes: function(inputs[0], inputs[1])


def _make_unary(function):
    return lambda inputs, attributes: function(inputs[0])


OPS.update({op_type: _make_binary(function) for op_type, function in _BINARY.items()})
OPS.update({op_type: _make_unary(function) for op_type, function in _UNARY.items()})


@runs("Identity")
def _identity(inputs, attributes):
    return inputs[0]


@runs("Dropout")
def _dropout(inputs, attributes):
    """Inference: the input unchanged (and an all-true mask)."""
    return inputs[0], _constant(np.ones(inputs[0].shape, dtype=bool))


@runs("Constant")
def _constant_node(inputs, attributes):
    if "value" in attributes:
        return _constant(attributes["value"])
    for key, dtype in (
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if key in attributes:
            return _constant(np.asarray(attributes[key], dtype=dtype))
    raise NotImplementedError(f"a Constant with attributes {sorted(attributes)}")


@runs("Where")
def _where(inputs, attributes):
    return elementwise.where(*inputs)


def _variadic(function):
    def run(inputs, attributes):
        result = inputs[0]
        for other in inputs[1:]:
            result = function(result, other)
        return result

    return run


OPS["Max"], OPS["Min"] = _variadic(elementwise.maximum), _variadic(elementwise.minimum)
OPS["Sum"] = _variadic(elementwise.add)


@runs("Clip")
def _clip(inputs, attributes):
    x, low, high = (inputs + [None, None])[:3]
    low = float(low._data) if low is not None else attributes.get("min")
    high = float(high._data) if high is not None else attributes.get("max")
    return elementwise.clamp(x, low, high)


@runs("Cast")
def _cast(inputs, attributes):
    onnx = require_onnx()
    return elementwise.to_dtype(inputs[0], onnx.helper.tensor_dtype_to_np_dtype(attributes["to"]))


@runs("Gemm")
def _gemm(inputs, attributes):
    """alpha A' B' + beta C with A' = A^T when transA, B' = B^T when transB."""
    a, b, c = (inputs + [None])[:3]
    a = a.t() if attributes.get("transA", 0) else a
    b = b.t() if attributes.get("transB", 0) else b
    y = linalg.matmul(a, b)
    alpha, beta = attributes.get("alpha", 1.0), attributes.get("beta", 1.0)
    y = y * alpha if alpha != 1.0 else y
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@runs("Einsum")
def _einsum(inputs, attributes):
    return linalg.einsum(attributes["equation"], *inputs)


# --------------------------------------------------------------------------- activations
@runs("LeakyRelu")
def _leaky_relu(inputs, attributes):
    return F.leaky_relu(inputs[0], attributes.get("alpha", 0.01))


@runs("Elu")
def _elu(inputs, attributes):
    return F.elu(inputs[0], attributes.get("alpha", 1.0))


@runs("Softplus")
def _softplus(inputs, attributes):
    return F.softplus(inputs[0], threshold=float("inf"))


@runs("Gelu")
def _gelu(inputs, attributes):
    return F.gelu(inputs[0], approximate=attributes.get("approximate", "none"))


@runs("Softmax")
def _softmax(inputs, attributes):
    return F.softmax(inputs[0], attributes.get("axis", -1))


@runs("LogSoftmax")
def _log_softmax(inputs, attributes):
    return F.log_softmax(inputs[0], attributes.get("axis", -1))


# --------------------------------------------------------------------------- reductions
_REDUCTIONS = {
    "ReduceSum": reduce.sum,
    "ReduceMean": reduce.mean,
    "ReduceMax": reduce.amax,
    "ReduceMin": reduce.amin,
    "ReduceLogSumExp": reduce.logsumexp,
    "ReduceL2": lambda x, axes, keepdim: elementwise.sqrt(reduce.sum(x * x, axes, keepdim)),
}


def _reduction(function):
    def run(inputs, attributes):
        x = inputs[0]
        axes = attributes.get("axes")
        if len(inputs) > 1 and inputs[1] is not None:
            axes = _ints(inputs[1])
        if not axes:
            if attributes.get("noop_with_empty_axes", 0):
                return x
            axes = range(x.ndim)
        return function(x, tuple(int(a) for a in axes), bool(attributes.get("keepdims", 1)))

    return run


for _op_type, _function in _REDUCTIONS.items():
    OPS[_op_type] = _reduction(_function)


def _arg(function):
    def run(inputs, attributes):
        if attributes.get("select_last_index", 0):
            raise NotImplementedError("select_last_index=1")
        return function(inputs[0], attributes.get("axis", 0), bool(attributes.get("keepdims", 1)))

    return run


OPS["ArgMax"], OPS["ArgMin"] = _arg(reduce.argmax), _arg(reduce.argmin)


# --------------------------------------------------------------------------- shapes
@runs("Reshape")
def _reshape(inputs, attributes):
    """0 copies the input's dim at that place (unless allowzero), -1 is inferred."""
    x, target = inputs[0], _ints(inputs[1])
    if not attributes.get("allowzero", 0):
        target = [x.shape[i] if size == 0 else size for i, size in enumerate(target)]
    return shape.reshape(x, tuple(target))


@runs("Flatten")
def _flatten(inputs, attributes):
    x = inputs[0]
    axis = attributes.get("axis", 1) % (x.ndim + 1) if x.ndim else 0
    return shape.reshape(x, (int(np.prod(x.shape[:axis], dtype=np.int64)), -1))


@runs("Transpose")
def _transpose(inputs, attributes):
    x = inputs[0]
    return shape.permute(x, tuple(attributes.get("perm", range(x.ndim - 1, -1, -1))))


@runs("Expand")
def _expand(inputs, attributes):
    x = inputs[0]
    return shape.broadcast_to(x, np.broadcast_shapes(tuple(x.shape), tuple(_ints(inputs[1]))))


@runs("Concat")
def _concat(inputs, attributes):
    return shape.cat([x for x in inputs if x is not None], attributes["axis"])


@runs("Unsqueeze")
def _unsqueeze(inputs, attributes):
    x = inputs[0]
    axes = _ints(inputs[1]) if len(inputs) > 1 else attributes["axes"]
    rank = x.ndim + len(axes)
    sizes = iter(x.shape)
    new = {a % rank for a in axes}
    return shape.reshape(x, tuple(1 if i in new else next(sizes) for i in range(rank)))


@runs("Squeeze")
def _squeeze(inputs, attributes):
    x = inputs[0]
    axes = _ints(inputs[1]) if len(inputs) > 1 and inputs[1] is not None else attributes.get("axes")
    if axes is None:
        axes = [i for i, size in enumerate(x.shape) if size == 1]
    gone = {a % x.ndim for a in axes}
    return shape.reshape(x, tuple(size for i, size in enumerate(x.shape) if i not in gone))


@runs("Slice")
def _slice(inputs, attributes):
    x, starts, ends = inputs[0], _ints(inputs[1]), _ints(inputs[2])
    axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else range(len(starts))
    steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.ndim
    for axis, start, end, step in zip(axes, starts, ends, steps):
        size = x.shape[axis]
        if step < 0 and end < -size:
            end = None  # ONNX's "before the first element"
        index[axis % x.ndim] = slice(start, end, step)
    return x[tuple(index)]


@runs("Gather")
def _gather(inputs, attributes):
    x, indices = inputs
    axis = attributes.get("axis", 0) % x.ndim
    return x[(slice(None),) * axis + (np.asarray(indices._data),)]


@runs("GatherElements")
def _gather_elements(inputs, attributes):
    x, indices = inputs
    return x.gather(attributes.get("axis", 0), indices)


@runs("Split")
def _split(inputs, attributes):
    """Sizes from the ``split`` input (or attribute), else equal parts, one per output."""
    x = inputs[0]
    axis = attributes.get("axis", 0) % x.ndim
    if len(inputs) > 1 and inputs[1] is not None:
        sizes = _ints(inputs[1])
    elif "split" in attributes:
        sizes = list(attributes["split"])
    else:
        parts = attributes.get("num_outputs", attributes[OUTPUT_COUNT])
        chunk = -(-x.shape[axis] // parts)  # ONNX: equal parts, the last one smaller if need be
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(parts)]
    return tuple(shape.split(x, sizes, axis))


@runs("ConstantOfShape")
def _constant_of_shape(inputs, attributes):
    fill = attributes.get("value", np.zeros(1, np.float32))
    return _constant(np.full(_ints(inputs[0]), fill.reshape(-1)[0], dtype=fill.dtype))


@runs("Shape")
def _shape(inputs, attributes):
    sizes = inputs[0].shape
    return _constant(np.asarray(sizes[attributes.get("start", 0) : attributes.get("end", len(sizes))], np.int64))


@runs("Pad")
def _pad(inputs, attributes):
    """Constant padding; ONNX pads are (all befores, all afters), F.pad wants (last before, last after, ...)."""
    x, pads = inputs[0], _ints(inputs[1])
    if attributes.get("mode", "constant") != "constant":
        raise NotImplementedError(f"Pad mode {attributes['mode']!r}")
    value = float(inputs[2]._data) if len(inputs) > 2 and inputs[2] is not None else 0.0
    axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else list(range(x.ndim))
    widths = [(0, 0)] * x.ndim
    for i, axis in enumerate(axes):
        widths[axis % x.ndim] = (pads[i], pads[i + len(axes)])
    flat = [w for before_after in reversed(widths) for w in before_after]
    return F.pad(x, flat, value=value)


# --------------------------------------------------------------------------- convolution and pooling
def _padding(x, attributes, what: str, fill: float | None) -> tuple:
    """(x, symmetric pads for the chainrule op): the part of asymmetric ``pads`` beyond the symmetric one is
    padded explicitly with ``fill`` (refused when ``fill`` is None)."""
    dims = x.ndim - 2
    if attributes.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise NotImplementedError(f"{what} with auto_pad={attributes['auto_pad']}")
    pads = [int(p) for p in attributes.get("pads", [0] * (2 * dims))]
    before, after = pads[:dims], pads[dims:]
    common = [min(b, a) for b, a in zip(before, after)]
    if before != after:
        if fill is None:
            raise NotImplementedError(f"{what} with asymmetric pads {pads}")
        extra = [(b - c, a - c) for b, a, c in zip(before, after, common)]
        x = F.pad(x, [w for pair in reversed(extra) for w in pair], value=fill)
    return x, tuple(common)


@runs("Conv")
def _conv(inputs, attributes):
    x, weight, bias = (inputs + [None])[:3]
    dims = x.ndim - 2
    x, padding = _padding(x, attributes, "Conv", 0.0)
    conv = getattr(F, f"conv{dims}d")
    return conv(
        x,
        weight,
        bias,
        tuple(attributes.get("strides", [1] * dims)),
        padding,
        tuple(attributes.get("dilations", [1] * dims)),
        attributes.get("group", 1),
    )


@runs("ConvTranspose")
def _conv_transpose(inputs, attributes):
    x, weight, bias = (inputs + [None])[:3]
    dims = x.ndim - 2
    if "output_shape" in attributes:
        raise NotImplementedError("ConvTranspose with output_shape (give pads and output_padding)")
    conv = getattr(F, f"conv_transpose{dims}d")
    return conv(
        x,
        weight,
        bias,
        tuple(attributes.get("strides", [1] * dims)),
        _padding(x, attributes, "ConvTranspose", None)[1],
        tuple(attributes.get("output_padding", [0] * dims)),
        attributes.get("group", 1),
        tuple(attributes.get("dilations", [1] * dims)),
    )


@runs("MaxPool")
def _max_pool(inputs, attributes):
    x = inputs[0]
    dims = x.ndim - 2
    kernel = tuple(attributes["kernel_shape"])
    x, padding = _padding(x, attributes, "MaxPool", float("-inf"))
    return getattr(F, f"max_pool{dims}d")(
        x,
        kernel,
        tuple(attributes.get("strides", [1] * dims)),
        padding,
        tuple(attributes.get("dilations", [1] * dims)),
        bool(attributes.get("ceil_mode", 0)),
    )


@runs("AveragePool")
def _average_pool(inputs, attributes):
    x = inputs[0]
    dims = x.ndim - 2
    if any(d != 1 for d in attributes.get("dilations", [1] * dims)):
        raise NotImplementedError("AveragePool with dilations")
    include_pad = bool(attributes.get("count_include_pad", 0))
    x, padding = _padding(
        x,
        attributes,
        "AveragePool (count_include_pad=0)" if not include_pad else "AveragePool",
        0.0 if include_pad else None,
    )
    return getattr(F, f"avg_pool{dims}d")(
        x,
        tuple(attributes["kernel_shape"]),
        tuple(attributes.get("strides", [1] * dims)),
        padding,
        bool(attributes.get("ceil_mode", 0)),
        include_pad,
    )


@runs("GlobalAveragePool")
def _global_average_pool(inputs, attributes):
    x = inputs[0]
    return reduce.mean(x, tuple(range(2, x.ndim)), True)


@runs("GlobalMaxPool")
def _global_max_pool(inputs, attributes):
    x = inputs[0]
    return reduce.amax(x, tuple(range(2, x.ndim)), True)


# --------------------------------------------------------------------------- normalisation
@runs("BatchNormalization")
def _batch_norm(inputs, attributes):
    if attributes.get("training_mode", 0):
        raise NotImplementedError("BatchNormalization with training_mode=1")
    x, scale, bias, mean, var = inputs[:5]
    return F.batch_norm(x, mean, var, scale, bias, False, 0.0, attributes.get("epsilon", 1e-5))


@runs("LayerNormalization")
def _layer_norm(inputs, attributes):
    x, scale, bias = (inputs + [None])[:3]
    axis = attributes.get("axis", -1) % x.ndim
    return F.layer_norm(x, tuple(x.shape[axis:]), scale, bias, attributes.get("epsilon", 1e-5))


# --------------------------------------------------------------------------- recurrent layers
_MODES = {"LSTM": "lstm", "GRU": "gru"}


def _recurrent(op_type: str):
    def run(inputs, attributes):
        """Each direction as one RecurrentLayer with the weights put back into chainrule's gate order."""
        x, w, r, b, lengths, h0, c0 = (inputs + [None] * 7)[:7]
        mode = _recurrent_mode(op_type, attributes)
        if lengths is not None or (len(inputs) > 7 and inputs[7] is not None):
            raise NotImplementedError("sequence_lens or peepholes")
        if attributes.get("clip") is not None:
            raise NotImplementedError("clip")
        batch_first = attributes.get("layout", 0) == 1
        if batch_first:
            x, h0, c0 = (None if t is None else shape.transpose(t, 0, 1) for t in (x, h0, c0))
        hidden = attributes["hidden_size"]
        rows = np.argsort(gate_rows(mode, hidden))  # ONNX's gate order back to chainrule's
        direction = attributes.get("direction", "forward")
        reverses = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[direction]
        outputs = []
        for d, reverse in enumerate(reverses):
            b_ih = b_hh = None
            if b is not None:
                b_ih, b_hh = b[d][: len(rows)][rows], b[d][len(rows) :][rows]
            states = [None if s is None else s[d] for s in (h0, c0 if mode == "lstm" else None)]
            outputs.append(
                RecurrentLayer.apply(
                    x, states[0], states[1], w[d][rows], r[d][rows], b_ih, b_hh, mode=mode, reverse=reverse
                )
            )
        y = shape.stack([out[0] for out in outputs], 1)  # (T, D, N, H)
        finals = [shape.stack([out[i] for out in outputs], 0) for i in range(1, len(outputs[0]))]
        if batch_first:
            return (shape.permute(y, (2, 0, 1, 3)), *(shape.transpose(f, 0, 1) for f in finals))
        return (y, *finals)

    return run


def _recurrent_mode(op_type: str, attributes) -> str:
    activations = attributes.get("activations")
    if op_type == "RNN":
        kind = (activations or ["Tanh"])[0].lower()
        if kind not in ("tanh", "relu"):
            raise NotImplementedError(f"RNN activation {kind}")
        return f"rnn_{kind}"
    if activations is not None and [a.lower() for a in activations[:3]] != (
        ["sigmoid", "tanh", "tanh"] if op_type == "LSTM" else ["sigmoid", "tanh"]
    ):
        raise NotImplementedError(f"{op_type} activations {activations}")
    if op_type == "GRU" and not attributes.get("linear_before_reset", 0):
        raise NotImplementedError("GRU with linear_before_reset=0 (PyTorch's GRU resets after the linear map)")
    return _MODES[op_type]


for _op_type in ("LSTM", "GRU", "RNN"):
    OPS[_op_type] = _recurrent(_op_type)
