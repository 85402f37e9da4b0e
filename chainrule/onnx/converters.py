"""The converter table: one small function per recorded op, emitting its ONNX nodes.

A converter receives the :class:`GraphBuilder` and the op's
:class:`~chainrule.onnx.tracer.Record` and returns the ONNX names of the
op's outputs (one name, or a list for several outputs). Opset differences
(reductions take ``axes`` as an input from opset 18; ``LayerNormalization``
exists from opset 17) are decided inside the converter from ``g.opset``.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule.onnx import tracer
from chainrule.tensor import Tensor

CONVERTERS: dict = {}
BUFFER_MARK = "buffer"  # the doc_string of an initializer that was a buffer (load keeps it out of parameters)


def converts(*op_names: str):
    """Register the decorated function as the converter of the ops named ``op_names``."""

    def register(function):
        for name in op_names:
            CONVERTERS[name] = function
        return function

    return register


class GraphBuilder:
    """Collects nodes and initializers, and the ONNX name of every traced array."""

    def __init__(self, onnx, opset: int):
        self.helper, self.numpy_helper, self.opset = onnx.helper, onnx.numpy_helper, opset
        self.nodes: list = []
        self.initializers: list = []
        self.names: dict = {}  # id(array) -> ONNX name
        self.taken: set = set()
        self.keep: list = []  # arrays named here stay alive, so their ids stay unique
        self.named: dict = {}  # id(array) -> (name, array): parameters and buffers, initializers once used

    def fresh(self, hint: str) -> str:
        name, n = hint, 0
        while name in self.taken:
            n += 1
            name = f"{hint}_{n}"
        self.taken.add(name)
        return name

    def bind(self, array, name: str) -> None:
        self.names[id(array)] = name
        self.keep.append(array)

    def name_as_needed(self, array, name: str, is_buffer: bool) -> None:
        """Give ``array`` (a parameter or buffer) the initializer ``name`` if an op uses it."""
        self.named.setdefault(id(array), (name, array, is_buffer))
        self.taken.add(name)  # reserved, so no made-up name takes it

    def const(self, array, hint: str = "const") -> str:
        """A Constant node holding ``array`` (initializers are kept for the model's parameters and buffers)."""
        name = self.fresh(hint)
        value = self.numpy_helper.from_array(np.array(array, order="C"), name)  # keeps 0-d arrays 0-d
        self.nodes.append(self.helper.make_node("Constant", [], [name], name=self.fresh("Constant"), value=value))
        return name

    def ints(self, values, hint: str = "ints") -> str:
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), hint)

    def scalar(self, value, like) -> str:
        """A 0-d constant of ``like``'s dtype (a Tensor or array)."""
        return self.const(np.asarray(value, dtype=like.dtype if hasattr(like, "shape") else np.float32), "scalar")

    def name_of(self, value, like=None) -> str:
        """The ONNX name of an op input: a traced tensor, a parameter or buffer, or a constant (a Constant node)."""
        if value is None:
            return ""
        array = value._data if isinstance(value, Tensor) else value
        if id(array) in self.names:
            return self.names[id(array)]
        if id(array) in self.named:
            name, array, is_buffer = self.named[id(array)]
            initializer = self.numpy_helper.from_array(np.array(array, order="C"), name)  # keeps 0-d arrays 0-d
            initializer.doc_string = BUFFER_MARK if is_buffer else ""
            self.initializers.append(initializer)
            self.bind(array, name)
            return name
        if not isinstance(array, np.ndarray):  # a Python number: the other operand's dtype, as the op computed
            return self.scalar(array, like)  # not bound: the same number may meet another dtype elsewhere
        name = self.const(array)
        self.bind(array, name)
        return name

    def node(self, op_type: str, inputs, outputs: int = 1, **attributes):
        """Add a node; returns its output name (or list of names when ``outputs`` > 1)."""
        names = [self.fresh(f"{op_type}_out") for _ in range(outputs)]
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, name=self.fresh(op_type), **attributes))
        return names[0] if outputs == 1 else names

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """A Reduce* node: ``axes`` as an input from opset 18 (13 for ReduceSum), an attribute before."""
        if axes is None:
            return self.node(op_type, [x], keepdims=int(keepdims))
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes, "axes")], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=list(axes), keepdims=int(keepdims))

    def unsqueeze(self, x: str, axes) -> str:
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")])

    def squeeze(self, x: str, axes) -> str:
        return self.node("Squeeze", [x, self.ints(axes, "axes")])


def _input(g: GraphBuilder, record, index: int = 0) -> str:
    """The name of input ``index``; Python numbers take the dtype of the op's first tensor."""
    tensors = [x for x in record.inputs if isinstance(x, Tensor)]
    like = next((x for x in tensors if x.dtype.kind != "b"), tensors[0] if tensors else None)  # not Where's condition
    return g.name_of(record.inputs[index], like)


def _first(record) -> Tensor:
    return record.inputs[0]


# --------------------------------------------------------------------------- elementwise
_SAME_NAME = {
    "Add": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "Div": "Div",
    "Pow": "Pow",
    "Neg": "Neg",
    "Exp": "Exp",
    "Log": "Log",
    "Sqrt": "Sqrt",
    "Reciprocal": "Reciprocal",
    "Abs": "Abs",
    "Erf": "Erf",
    "Sin": "Sin",
    "Cos": "Cos",
    "Relu": "Relu",
    "Sigmoid": "Sigmoid",
    "Tanh": "Tanh",
    "MatMul": "MatMul",
    "Where": "Where",
    "Clone": "Identity",
    "Contiguous": "Identity",
}


@converts(*_SAME_NAME)
def _same_name(g, record):
    return g.node(_SAME_NAME[record.name], [_input(g, record, i) for i in range(len(record.inputs))])


@converts("PowScalar")
def _pow_scalar(g, record):
    x = _first(record)
    return g.node("Pow", [g.name_of(x), g.scalar(record.params["exponent"], x)])


@converts("Rsqrt")
def _rsqrt(g, record):
    return g.node("Reciprocal", [g.node("Sqrt", [_input(g, record)])])


@converts("Expm1")
def _expm1(g, record):
    x = _first(record)
    return g.node("Sub", [g.node("Exp", [g.name_of(x)]), g.scalar(1, x)])


@converts("Log1p")
def _log1p(g, record):
    x = _first(record)
    return g.node("Log", [g.node("Add", [g.name_of(x), g.scalar(1, x)])])


@converts("Maximum", "Minimum")
def _maximum(g, record):
    return g.node("Max" if record.name == "Maximum" else "Min", [_input(g, record, 0), _input(g, record, 1)])


@converts("Clamp")
def _clamp(g, record):
    x = _first(record)
    low, high = record.inputs[1:3] if len(record.inputs) == 3 else (record.params.get("low"), record.params.get("high"))
    bounds = ["" if b is None else (g.name_of(b) if isinstance(b, Tensor) else g.scalar(b, x)) for b in (low, high)]
    return g.node("Clip", [g.name_of(x), *bounds])


@converts("Cast")
def _cast(g, record):
    to = g.helper.np_dtype_to_tensor_dtype(np.dtype(record.params["dtype"]))
    return g.node("Cast", [_input(g, record)], to=to)


@converts("BinaryUfunc")
def _compare(g, record):
    ufunc = record.params["ufunc"]
    kinds = {
        "logical_and": "And",
        "logical_or": "Or",
        "logical_xor": "Xor",
        "greater": "Greater",
        "less": "Less",
        "equal": "Equal",
        "greater_equal": "GreaterOrEqual",
        "less_equal": "LessOrEqual",
    }
    a, b = _input(g, record, 0), _input(g, record, 1)
    if ufunc.startswith("logical_"):  # ONNX's And/Or/Xor take booleans; NumPy's take truth values of anything
        boolean = g.helper.np_dtype_to_tensor_dtype(np.dtype(bool))
        a, b = (
            name if getattr(x, "dtype", None) == np.bool_ else g.node("Cast", [name], to=boolean)
            for x, name in zip(record.inputs, (a, b))
        )
    if ufunc == "not_equal":
        return g.node("Not", [g.node("Equal", [a, b])])
    if ufunc not in kinds:
        raise NotImplementedError(f"comparison {ufunc}")
    return g.node(kinds[ufunc], [a, b])


@converts("Floor", "Ceil", "Trunc", "Round")
def _piecewise(g, record):
    ufunc = record.name.lower()
    if ufunc == "round" and record.params.get("decimals", 0):
        raise NotImplementedError("round with decimals")
    name = _input(g, record)
    if ufunc == "trunc":  # toward zero: ceil below zero, floor above
        negative = g.node("Less", [name, g.scalar(0, _first(record))])
        return g.node("Where", [negative, g.node("Ceil", [name]), g.node("Floor", [name])])
    return g.node(ufunc.capitalize(), [name])  # Sign, Floor, Ceil, Round (half to even, as NumPy)


# --------------------------------------------------------------------------- activations
@converts("LeakyRelu")
def _leaky_relu(g, record):
    return g.node("LeakyRelu", [_input(g, record)], alpha=float(record.params["negative_slope"]))


@converts("Elu")
def _elu(g, record):
    return g.node("Elu", [_input(g, record)], alpha=float(record.params["params"]["alpha"]))


@converts("Gelu")
def _gelu(g, record):
    """0.5 x (1 + erf(x / sqrt 2)), or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for approximate='tanh'."""
    x = _first(record)
    name = g.name_of(x)
    if record.params["params"]["approximate"] == "tanh":
        cube = g.node("Mul", [g.node("Pow", [name, g.scalar(3, x)]), g.scalar(0.044715, x)])
        inner = g.node("Mul", [g.node("Add", [name, cube]), g.scalar(math.sqrt(2 / math.pi), x)])
        curve = g.node("Tanh", [inner])
    else:
        curve = g.node("Erf", [g.node("Div", [name, g.scalar(math.sqrt(2), x)])])
    half = g.node("Mul", [name, g.scalar(0.5, x)])
    return g.node("Mul", [half, g.node("Add", [curve, g.scalar(1, x)])])


@converts("Silu")
def _silu(g, record):
    name = _input(g, record)
    return g.node("Mul", [name, g.node("Sigmoid", [name])])


@converts("Softplus")
def _softplus(g, record):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold."""
    x = _first(record)
    beta, threshold = record.params["params"]["beta"], record.params["params"]["threshold"]
    name = g.name_of(x)
    scaled = g.node("Mul", [name, g.scalar(beta, x)])
    smooth = g.node("Div", [g.node("Softplus", [scaled]), g.scalar(beta, x)])
    return g.node("Where", [g.node("Greater", [scaled, g.scalar(threshold, x)]), name, smooth])


@converts("Softmax", "LogSoftmax")
def _softmax(g, record):
    return g.node(record.name, [_input(g, record)], axis=int(record.params["dim"]))


@converts("Step")
def _step(g, record):
    x = _first(record)
    positive = g.node("Greater", [g.name_of(x), g.scalar(0, x)])
    return g.node("Cast", [positive], to=g.helper.np_dtype_to_tensor_dtype(x.dtype))


@converts("Sign", "SignStraightThrough")
def _sign(g, record):
    return g.node("Sign", [_input(g, record)])


# --------------------------------------------------------------------------- reductions
@converts("Sum", "Mean", "LogSumExp")
def _reduce(g, record):
    kind = {"Sum": "ReduceSum", "Mean": "ReduceMean", "LogSumExp": "ReduceLogSumExp"}[record.name]
    return g.reduce(kind, _input(g, record), record.params["axes"], record.params["keepdim"])


@converts("Amax")
def _amax(g, record):
    kind = "ReduceMax" if record.params["largest"] else "ReduceMin"
    return g.reduce(kind, _input(g, record), record.params["axes"], record.params["keepdim"])


@converts("Norm2")
def _norm2(g, record):
    """sqrt(sum x^2) over ``axes``."""
    return g.reduce("ReduceL2", _input(g, record), record.params["axes"], record.params["keepdim"])


@converts("Var")
def _var(g, record):
    """mean((x - mean x)^2) n / (n - correction) over ``axes``; its square root with ``root`` (std)."""
    variance = _variance(g, record)
    return g.node("Sqrt", [variance]) if record.params.get("root") else variance


def _variance(g, record):
    x = _first(record)
    axes, keepdim, correction = record.params["axes"], record.params["keepdim"], record.params["correction"]
    name = g.name_of(x)
    centred = g.node("Sub", [name, g.reduce("ReduceMean", name, axes, True)])
    mean_square = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, keepdim)
    if not correction:
        return mean_square
    count = _count(x.shape, axes)
    if tracer.INPUT_SHAPES in record.varying and _count(record.varying[tracer.INPUT_SHAPES][0], axes) != count:
        raise NotImplementedError("an unbiased variance over a dynamic axis")
    return g.node("Mul", [mean_square, g.scalar(count / (count - correction), x)])


def _count(shape, axes) -> int:
    """How many elements a reduction over ``axes`` (None: all) of ``shape`` takes."""
    return int(np.prod([shape[a] for a in (axes if axes is not None else range(len(shape)))]))


# --------------------------------------------------------------------------- shapes
def _target_shape(record, key: str, copy_marker: int) -> list:
    """A shape param for Reshape (``copy_marker`` 0) or Expand (1), with varying dims left to the input.

    A dim that changes with the dynamic axes and equals the input's dim at the
    same place becomes ``copy_marker`` (Reshape copies it, Expand broadcasts
    it); one other varying dim becomes -1 (Reshape only).
    """
    shape = [int(s) for s in record.params[key]]
    if key not in record.varying:
        return shape
    other, other_input_shapes = record.varying[key]
    x = _first(record)
    input_shape, other_input = tuple(x.shape), other_input_shapes[0]
    for axis, (size, other_size) in enumerate(zip(shape, other)):
        if size == other_size:
            continue
        if axis < len(input_shape) and input_shape[axis] == size and other_input[axis] == other_size:
            shape[axis] = copy_marker
        elif copy_marker == 0 and -1 not in shape:
            shape[axis] = -1
        else:
            raise NotImplementedError(f"a {key} {tuple(record.params[key])} with more than one dynamic dim")
    return shape


@converts("Reshape")
def _reshape(g, record):
    return g.node("Reshape", [_input(g, record), g.ints(_target_shape(record, "shape", 0), "shape")])


@converts("BroadcastTo")
def _broadcast_to(g, record):
    return g.node("Expand", [_input(g, record), g.ints(_target_shape(record, "shape", 1), "shape")])


@converts("Permute")
def _permute(g, record):
    return g.node("Transpose", [_input(g, record)], perm=[int(d) for d in record.params["dims"]])


@converts("Cat")
def _cat(g, record):
    return g.node("Concat", [_input(g, record, i) for i in range(len(record.inputs))], axis=int(record.params["dim"]))


@converts("Stack")
def _stack(g, record):
    dim = record.params["dim"]
    dim = dim if dim >= 0 else dim + record.inputs[0].ndim + 1
    parts = [g.unsqueeze(_input(g, record, i), [dim]) for i in range(len(record.inputs))]
    return g.node("Concat", parts, axis=int(dim)) if len(parts) > 1 else g.node("Identity", parts)


@converts("ConstantPad")
def _pad(g, record):
    x = _first(record)
    widths = record.params["widths"]
    pads = [int(before) for before, _ in widths] + [int(after) for _, after in widths]
    return g.node("Pad", [g.name_of(x), g.ints(pads, "pads"), g.scalar(record.params["value"], x)], mode="constant")


_INT64_MAX, _INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def _expanded_index(index, ndim: int) -> list:
    """``index`` as one entry per output position: Ellipsis expanded, missing trailing dims as ``slice(None)``."""
    index = index if isinstance(index, tuple) else (index,)
    if sum(1 for i in index if i is Ellipsis) > 1:
        raise NotImplementedError("an index with several Ellipsis")
    consumed = sum(1 for i in index if i is not None and i is not Ellipsis)
    expanded = []
    for item in index:
        expanded.extend([slice(None)] * (ndim - consumed) if item is Ellipsis else [item])
    return expanded + [slice(None)] * (ndim + sum(1 for i in expanded if i is None) - len(expanded))


def _slice_bounds(item: slice) -> tuple:
    """(start, end, step) for ONNX Slice, defaults left open so a dynamic axis is not baked in."""
    step = 1 if item.step is None else int(item.step)
    start = (0 if step > 0 else -1) if item.start is None else int(item.start)
    end = (_INT64_MAX if step > 0 else _INT64_MIN) if item.stop is None else int(item.stop)
    return start, end, step


@converts("Index")
def _index(g, record):
    """Indexing: slices become one Slice, integers a Squeeze, None an Unsqueeze, index arrays on adjacent
    axes one Gather (several arrays through their flattened position, as NumPy broadcasts them)."""
    x = _first(record)
    expanded = _expanded_index(record.params["index"], x.ndim)
    has_array = any(isinstance(i, (np.ndarray, list)) for i in expanded)
    slices, dropped, new_axes, advanced = [], [], [], []
    axis = 0
    for position, item in enumerate(expanded):
        if item is None:
            new_axes.append(position)
            continue
        if isinstance(item, (np.ndarray, list)) or (has_array and isinstance(item, (int, np.integer))):
            array = np.asarray(item)
            if array.dtype.kind not in "iu":
                raise NotImplementedError(f"indexing with a {array.dtype} array (boolean masks)")
            advanced.append((axis, array % x.shape[axis]))
        elif isinstance(item, (int, np.integer)):
            slices.append((axis, int(item), int(item) + 1 if item != -1 else _INT64_MAX, 1))
            dropped.append(axis)
        elif isinstance(item, slice):
            if item != slice(None) and item != slice(0, None) and item != slice(None, None, 1):
                slices.append((axis, *_slice_bounds(item)))
        else:
            raise NotImplementedError(f"indexing with {type(item).__name__}")
        axis += 1
    name = g.name_of(x)
    if slices:
        axes, starts, ends, steps = zip(*slices)
        bounds = [g.ints(values, hint) for values, hint in ((starts, "starts"), (ends, "ends"), (axes, "axes"))]
        name = g.node("Slice", [name, *bounds, g.ints(steps, "steps")])
    if advanced:
        if new_axes:
            raise NotImplementedError("indexing that mixes index arrays with None")
        name = _gather_adjacent(g, name, x.shape, advanced)
    if dropped:
        name = g.squeeze(name, dropped)
    if new_axes:
        name = g.unsqueeze(name, new_axes)
    return name if (slices or advanced or new_axes) else g.node("Identity", [name])


def _gather_adjacent(g, name: str, shape, advanced: list) -> str:
    """x[..., i_1, ..., i_k, ...] for index arrays on adjacent axes a..a+k-1: one Gather on their flattened span."""
    axes = [axis for axis, _ in advanced]
    first = axes[0]
    if axes != list(range(first, first + len(axes))):
        raise NotImplementedError("index arrays on axes that are not adjacent")
    if len(advanced) == 1:
        return g.node("Gather", [name, g.const(advanced[0][1].astype(np.int64), "indices")], axis=first)
    arrays = np.broadcast_arrays(*[array for _, array in advanced])
    sizes = [shape[axis] for axis in axes]
    flat = np.ravel_multi_index(arrays, sizes).astype(np.int64)
    merged = g.node("Reshape", [name, g.ints([0] * first + [-1] + list(shape[first + len(axes) :]), "shape")])
    return g.node("Gather", [merged, g.const(flat, "indices")], axis=first)


@converts("Embedding")
def _embedding(g, record):
    return g.node("Gather", [_input(g, record), g.name_of(record.params["indices"])], axis=0)


@converts("Gather")
def _gather(g, record):
    index = g.name_of(record.params["index"])
    return g.node("GatherElements", [_input(g, record), index], axis=int(record.params["axis"]))


# --------------------------------------------------------------------------- linear layers
@converts("Einsum")
def _einsum(g, record):
    equation = record.params["equation"].replace(" ", "")
    return g.node("Einsum", [_input(g, record, i) for i in range(len(record.inputs))], equation=equation)


@converts("Linear")
def _linear(g, record):
    """x W^T + b: one Gemm for a matrix x, else MatMul with W^T (and Add)."""
    x, _, bias = record.inputs
    names = [_input(g, record, i) for i in range(3)]
    if x.ndim == 2:
        return g.node("Gemm", [n for n in names if n], transB=1)
    product = g.node("MatMul", [names[0], g.node("Transpose", [names[1]], perm=[1, 0])])
    return g.node("Add", [product, names[2]]) if bias is not None else product


def _conv_attributes(geometry, kernel) -> dict:
    return dict(
        kernel_shape=[int(k) for k in kernel],
        strides=[int(s) for s in geometry.stride],
        pads=[int(lo) for lo, _ in geometry.padding] + [int(hi) for _, hi in geometry.padding],
        dilations=[int(d) for d in geometry.dilation],
        group=int(geometry.groups),
    )


@converts("Conv")
def _conv(g, record):
    weight = record.inputs[1]
    names = [_input(g, record, i) for i in range(3)]
    return g.node("Conv", [n for n in names if n], **_conv_attributes(record.params["geometry"], weight.shape[2:]))


@converts("ConvTranspose")
def _conv_transpose(g, record):
    """The adjoint of a convolution; output_padding makes up the rows the forward conv would have dropped."""
    y, weight, _ = record.inputs
    geometry, output_shape = record.params["geometry"], record.params["input_shape"]
    attributes = _conv_attributes(geometry, weight.shape[2:])
    extra = []
    for i, (n, k) in enumerate(zip(y.shape[2:], weight.shape[2:])):
        lo, hi = geometry.padding[i]
        natural = (n - 1) * geometry.stride[i] - lo - hi + geometry.dilation[i] * (k - 1) + 1
        extra.append(int(output_shape[2 + i] - natural))
    names = [_input(g, record, i) for i in range(3)]
    return g.node("ConvTranspose", [n for n in names if n], output_padding=extra if any(extra) else None, **attributes)


def _pool_attributes(geometry, input_shape) -> dict:
    """kernel, strides, pads and ceil_mode (when the recorded output is longer than the floor formula gives)."""
    ceil = 0
    for i, n in enumerate(input_shape[2:]):
        lo, hi = geometry.padding[i]
        span = geometry.dilation[i] * (geometry.kernel[i] - 1) + 1
        if (n + lo + hi - span) // geometry.stride[i] + 1 < geometry.output_size[i]:
            ceil = 1
    return dict(
        kernel_shape=[int(k) for k in geometry.kernel],
        strides=[int(s) for s in geometry.stride],
        pads=[int(lo) for lo, _ in geometry.padding] + [int(hi) for _, hi in geometry.padding],
        ceil_mode=ceil,
    )


@converts("MaxPool")
def _max_pool(g, record):
    if record.params["return_indices"]:
        raise NotImplementedError("max pooling with return_indices=True")
    geometry, x = record.params["geometry"], _first(record)
    attributes = _pool_attributes(geometry, x.shape)
    if any(d != 1 for d in geometry.dilation):
        attributes["dilations"] = [int(d) for d in geometry.dilation]
    return g.node("MaxPool", [g.name_of(x)], **attributes)


@converts("AvgPool")
def _avg_pool(g, record):
    """AveragePool (GlobalAveragePool when one window covers the input); the divisor decides count_include_pad."""
    geometry, x = record.params["geometry"], _first(record)
    divisor = np.asarray(record.params["divisor"])
    window = int(np.prod(geometry.kernel))
    if any(d != 1 for d in geometry.dilation):
        raise NotImplementedError("average pooling with dilation")
    no_padding = all(lo == hi == 0 for lo, hi in geometry.padding)
    if no_padding and tuple(geometry.kernel) == tuple(x.shape[2:]):
        return g.node("GlobalAveragePool", [g.name_of(x)])
    attributes = _pool_attributes(geometry, x.shape)
    if np.all(divisor == window):
        attributes["count_include_pad"] = 1
    elif not no_padding and attributes["ceil_mode"] == 0:
        attributes["count_include_pad"] = 0
    elif not no_padding:
        raise NotImplementedError("average pooling with this divisor (divisor_override or ceil_mode with padding)")
    return g.node("AveragePool", [g.name_of(x)], **attributes)


# --------------------------------------------------------------------------- normalisation
@converts("ChannelAffine")
def _channel_affine(g, record):
    """x scale + shift with (C,) scale and shift broadcast over the dims after the channel."""
    x = _first(record)
    trailing = list(range(1, x.ndim - 1))
    scale, shift = (g.unsqueeze(_input(g, record, i), trailing) if trailing else _input(g, record, i) for i in (1, 2))
    return g.node("Add", [g.node("Mul", [g.name_of(x), scale]), shift])


@converts("LayerNorm")
def _layer_norm(g, record):
    """Normalise the last ``count`` dims: LayerNormalization from opset 17, the composed form before."""
    x, weight, bias = record.inputs
    count, eps = record.params["count"], record.params["eps"]
    name = g.name_of(x)
    if g.opset >= 17:
        scale = g.name_of(weight) if weight is not None else g.const(np.ones(x.shape[-count:], x.dtype), "ones")
        inputs = [name, scale] + ([g.name_of(bias)] if bias is not None else [])
        return g.node("LayerNormalization", inputs, axis=-count, epsilon=float(eps))
    axes = list(range(x.ndim - count, x.ndim))
    centred = g.node("Sub", [name, g.reduce("ReduceMean", name, axes, True)])
    variance = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    inverse = g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [variance, g.scalar(eps, x)])])])
    output = g.node("Mul", [centred, inverse])
    if weight is not None:
        output = g.node("Mul", [output, g.name_of(weight)])
    if bias is not None:
        output = g.node("Add", [output, g.name_of(bias)])
    return output


# --------------------------------------------------------------------------- attention
@converts("Attention")
def _attention(g, record):
    """softmax(Q K^T scale + mask) V."""
    q, k, v, mask, keep = record.inputs
    if keep is not None:
        raise NotImplementedError("attention with dropout (export in eval mode)")
    keys = g.node("Transpose", [g.name_of(k)], perm=[*range(k.ndim - 2), k.ndim - 1, k.ndim - 2])
    scores = g.node("Mul", [g.node("MatMul", [g.name_of(q), keys]), g.scalar(record.params["scale"], q)])
    if mask is not None:  # additive, as the op adds it (boolean masks were made additive before the op)
        mask_name = g.name_of(mask)
        if mask.dtype != q.dtype:
            mask_name = g.node("Cast", [mask_name], to=g.helper.np_dtype_to_tensor_dtype(np.dtype(q.dtype)))
        scores = g.node("Add", [scores, mask_name])
    return g.node("MatMul", [g.node("Softmax", [scores], axis=-1), g.name_of(v)])


# --------------------------------------------------------------------------- recurrent layers
# Rows of chainrule's (PyTorch's) gate blocks, in ONNX's order.
_GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn_tanh": (0,), "rnn_relu": (0,)}
_ONNX_RECURRENT = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN", "rnn_relu": "RNN"}


def gate_rows(mode: str, hidden: int) -> np.ndarray:
    """Row indices that reorder chainrule's stacked gate blocks into ONNX's order."""
    return np.concatenate([np.arange(b * hidden, (b + 1) * hidden) for b in _GATE_ORDER[mode]]).astype(np.int64)


@converts("RecurrentLayer")
def _recurrent_layer(g, record):
    """One layer and direction as an ONNX LSTM/GRU/RNN node of one direction; weights reordered by a Gather."""
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = record.inputs
    mode, reverse = record.params["mode"], record.params["reverse"]
    hidden = w_hh.shape[1]
    rows = g.const(gate_rows(mode, hidden), "gate_rows")

    def reordered(weight):
        return g.unsqueeze(g.node("Gather", [g.name_of(weight), rows], axis=0), [0])

    bias = ""
    if b_ih is not None or b_hh is not None:
        parts = [
            g.node(
                "Gather", [g.name_of(b) if b is not None else g.const(np.zeros(w_hh.shape[0], x.dtype)), rows], axis=0
            )
            for b in (b_ih, b_hh)
        ]
        bias = g.unsqueeze(g.node("Concat", parts, axis=0), [0])
    states = ["" if s is None else g.unsqueeze(g.name_of(s), [0]) for s in (h0, c0)]
    inputs = [g.name_of(x), reordered(w_ih), reordered(w_hh), bias, "", states[0]]
    attributes = dict(hidden_size=int(hidden), direction="reverse" if reverse else "forward")
    if mode == "lstm":
        inputs.append(states[1])
    elif mode == "gru":
        attributes["linear_before_reset"] = 1
    else:
        attributes["activations"] = ["Relu" if mode == "rnn_relu" else "Tanh"]
    while inputs[-1] == "":
        inputs.pop()
    outputs = g.node(_ONNX_RECURRENT[mode], inputs, outputs=3 if mode == "lstm" else 2, **attributes)
    y = g.squeeze(outputs[0], [1])  # (T, directions=1, N, H) -> (T, N, H)
    return [y] + [g.squeeze(state, [0]) for state in outputs[1:]]


@converts("ArgExtreme")
def _arg_extreme(g, record):
    axis, keepdim = record.params["axis"], record.params["keepdim"]
    x = _first(record)
    name = g.name_of(x)
    if axis is None:  # over the flattened tensor
        name, axis = g.node("Reshape", [name, g.ints([-1], "shape")]), 0
    kind = "ArgMax" if record.params["largest"] else "ArgMin"
    return g.node(kind, [name], axis=int(axis), keepdims=int(keepdim))
