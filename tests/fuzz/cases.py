"""What the differential fuzzer runs: random inputs and a table of ops, layers, losses and optimizers.

A case is ``FuzzCase(name, public, fn, inputs)``: ``fn(lib, *tensors)`` is
written once against the names chainrule and PyTorch share, ``public`` is the
name a user typed (an error chainrule raises must contain it), and each input
is an :class:`Input` (a NumPy array, a layout, whether it is differentiated).
``generate(seed, count)`` draws ``count`` cases reproducibly from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHAPES = [(), (0,), (1,), (3,), (2, 3), (3, 1), (1, 3), (0, 3), (2, 0), (2, 3, 4), (2, 1, 4)]
DTYPES = ["bool", "int32", "int64", "float16", "float32", "float64"]
FLOAT_DTYPES = ["float32", "float64"]
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-30, 1e-40, 65504.0]
# Layers square and sum their inputs in float32; with 1e30 that overflows, and the two libraries' overflow
# artefacts differ (NaN in one, 0 in the other) with neither meaningful. Layers get the specials that do not.
LAYER_SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, 1e-40]


@dataclass
class Input:
    """One input: ``array`` as the user sees it; ``layout`` says how the tensor is made non-contiguous.

    ``contiguous``: the array itself. ``transposed``: a leaf holding the
    transpose, viewed back with ``transpose(-1, -2)``. ``strided``: a leaf
    twice as long in the last dimension, viewed with ``[..., ::2]``. Gradients
    are compared on the leaf.
    """

    array: np.ndarray
    layout: str = "contiguous"
    grad: bool = False

    def leaf_array(self) -> np.ndarray:
        if self.layout == "transposed":
            return np.ascontiguousarray(np.swapaxes(self.array, -1, -2))
        if self.layout == "strided":
            wide = np.repeat(self.array, 2, axis=-1)
            return wide
        return self.array


@dataclass
class FuzzCase:
    name: str
    public: str
    fn: object
    inputs: list = field(default_factory=list)
    kind: str = "op"

    def __str__(self) -> str:
        described = ", ".join(f"{i.array.dtype}{list(i.array.shape)}:{i.layout}" for i in self.inputs)
        return f"{self.name}({described})"


# --------------------------------------------------------------------------- inputs
def random_array(rng, shape, dtype: str, specials: bool = True, pool=SPECIALS) -> np.ndarray:
    """Values a user might pass: small normals or integers, sometimes with special floats (from ``pool``) mixed in."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("int"):
        return rng.integers(-4, 6, size=shape).astype(dtype)
    values = rng.standard_normal(shape) * 2
    if specials and values.size and rng.random() < 0.3:
        flat = values.reshape(-1)
        for index in rng.integers(0, flat.size, size=max(1, flat.size // 3)):
            flat[index] = pool[rng.integers(len(pool))]
    with np.errstate(over="ignore"):
        return values.astype(dtype)


def random_input(rng, shape, dtype: str, specials: bool = True, pool=SPECIALS) -> Input:
    array = random_array(rng, shape, dtype, specials, pool)
    layout = "contiguous"
    if len(shape) >= 1 and rng.random() < 0.25:
        layout = "strided"
    elif len(shape) >= 2 and rng.random() < 0.25:
        layout = "transposed"
    return Input(array, layout, grad=dtype in FLOAT_DTYPES)


def pick(rng, options):
    return options[rng.integers(len(options))]


def broadcast_partner(rng, shape) -> tuple:
    """A shape that broadcasts with ``shape`` (mostly) or a random one (sometimes incompatible)."""
    choice = rng.random()
    if choice < 0.4:
        return shape
    if choice < 0.7:
        return tuple(1 if rng.random() < 0.5 else d for d in shape)[rng.integers(0, len(shape) + 1) :]
    return pick(rng, SHAPES)


# --------------------------------------------------------------------------- the op tables
UNARY = [
    "abs", "neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "floor", "ceil", "round",
    "sign", "reciprocal", "square", "logical_not", "isnan", "isinf", "isfinite", "log1p", "expm1", "rsqrt",
    "trunc", "erf",
]  # fmt: skip
BINARY = [
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "remainder", "floor_divide", "eq", "ne", "lt",
    "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "atan2",
]  # fmt: skip
REDUCTIONS = ["sum", "mean", "prod", "amax", "amin", "std", "var", "argmax", "argmin", "all", "any", "logsumexp"]


def unary_case(rng) -> FuzzCase:
    name = pick(rng, UNARY)
    x = random_input(rng, pick(rng, SHAPES), pick(rng, DTYPES))
    return FuzzCase(name, name, lambda lib, a: getattr(lib, name)(a), [x])


def binary_case(rng) -> FuzzCase:
    name = pick(rng, BINARY)
    shape = pick(rng, SHAPES)
    a = random_input(rng, shape, pick(rng, DTYPES))
    b = random_input(rng, broadcast_partner(rng, shape), pick(rng, DTYPES))
    return FuzzCase(name, name, lambda lib, x, y: getattr(lib, name)(x, y), [a, b])


MULTI_DIM_REDUCTIONS = ("sum", "mean", "amax", "amin", "std", "var", "logsumexp")


def reduction_case(rng) -> FuzzCase:
    """All dims, one dim (sometimes out of range), or two dims where PyTorch takes a tuple; keepdim or not."""
    name = pick(rng, REDUCTIONS)
    shape = pick(rng, SHAPES)
    x = random_input(rng, shape, pick(rng, DTYPES))
    ndim = max(len(shape), 1)
    options = [int(rng.integers(-ndim, ndim)), ndim]
    if name != "logsumexp":  # torch.logsumexp needs a dim
        options.append(None)
    if name in MULTI_DIM_REDUCTIONS and len(shape) >= 2:
        options.append((0, -1))
    dim = pick(rng, options)
    keepdim = bool(rng.random() < 0.5)
    if dim is None:
        return FuzzCase(name, name, lambda lib, a: getattr(lib, name)(a), [x], "reduction")
    return FuzzCase(name, name, lambda lib, a: getattr(lib, name)(a, dim, keepdim=keepdim), [x], "reduction")


def shape_case(rng) -> FuzzCase:
    shape = pick(rng, SHAPES)
    x = random_input(rng, shape, pick(rng, DTYPES))
    ndim = len(shape)
    d = int(rng.integers(-ndim - 1, ndim + 1)) if ndim else int(rng.integers(-1, 1))
    options = {
        "reshape": lambda lib, a: a.reshape(-1),
        "transpose": lambda lib, a: lib.transpose(a, 0, -1),
        "squeeze": lambda lib, a: lib.squeeze(a),
        "squeeze_dim": lambda lib, a: lib.squeeze(a, d),
        "unsqueeze": lambda lib, a: lib.unsqueeze(a, d),
        "flatten": lambda lib, a: lib.flatten(a),
        "flip": lambda lib, a: lib.flip(a, (d,)),
        "cat": lambda lib, a: lib.cat([a, a], d),
        "stack": lambda lib, a: lib.stack([a, a], d),
        "permute": lambda lib, a: lib.permute(a, tuple(reversed(range(ndim)))),
        "t": lambda lib, a: a.t(),
        "narrow": lambda lib, a: lib.narrow(a, d, 0, 1),
        "chunk": lambda lib, a: lib.chunk(a, 2, d),
        "expand": lambda lib, a: a.expand(2, *shape),
        "clone": lambda lib, a: a.clone(),
        "masked_fill": lambda lib, a: a.masked_fill(a != a, 2.5),
        "where": lambda lib, a: lib.where(a > 0, a, lib.zeros_like(a)),
        "cumsum": lambda lib, a: lib.cumsum(a, d),
        "clamp": lambda lib, a: lib.clamp(a, -1, 1),
    }
    name = pick(rng, sorted(options))
    public = {"squeeze_dim": "squeeze"}.get(name, name)
    return FuzzCase(name, public, options[name], [x], "shape")


def indexing_case(rng) -> FuzzCase:
    shape = pick(rng, [(3,), (2, 3), (3, 4), (0, 3), (2, 3, 4)])
    x = random_input(rng, shape, pick(rng, ["int64", "float32", "float64", "bool"]))
    ndim = len(shape)
    dim = int(rng.integers(-ndim, ndim))
    size = shape[dim]
    index = (
        rng.integers(-size - 1, size + 2, size=(int(rng.integers(0, 4)),))
        if rng.random() < 0.3
        else (rng.integers(0, max(size, 1), size=(int(rng.integers(0, 4)),)))
    )
    index = Input(index.astype(np.int64))
    name = pick(rng, ["index_select", "gather", "getitem", "take"])
    if name == "index_select":
        return FuzzCase(name, name, lambda lib, a, i: lib.index_select(a, dim, i), [x, index], "indexing")
    if name == "take":
        return FuzzCase(name, name, lambda lib, a, i: lib.take(a, i), [x, index], "indexing")
    if name == "getitem":
        return FuzzCase(name, "index", lambda lib, a, i: a[i], [x, index], "indexing")
    gather_shape = list(shape)
    gather_shape[dim] = int(rng.integers(0, 4))
    high = size + 1 if rng.random() < 0.3 else max(size, 1)
    gather_index = Input(rng.integers(-1 if high > size else 0, high, size=gather_shape).astype(np.int64))
    return FuzzCase(name, name, lambda lib, a, i: lib.gather(a, dim, i), [x, gather_index], "indexing")


def matmul_case(rng) -> FuzzCase:
    n, k, m, b = (int(v) for v in rng.integers(0, 4, size=4))
    k2 = k if rng.random() < 0.85 else k + 1
    dtype = pick(rng, ["float32", "float64", "float64", "int64"])
    options = {
        "matmul": [(b, n, k), (k2, m)],
        "mm": [(n, k), (k2, m)],
        "bmm": [(b, n, k), (b, k2, m)],
        "mv": [(n, k), (k2,)],
        "dot": [(k,), (k2,)],
        "outer": [(n,), (m,)],
    }
    name = pick(rng, sorted(options))
    inputs = [random_input(rng, s, dtype, specials=False) for s in options[name]]
    return FuzzCase(name, name, lambda lib, x, y: getattr(lib, name)(x, y), inputs, "matmul")


LOSSES = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
          "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div"]  # fmt: skip


def loss_case(rng) -> FuzzCase:
    name = pick(rng, LOSSES)
    reduction = pick(rng, ["mean", "sum", "none"])
    batch = pick(rng, [0, 1, 3])
    classes = 4
    kwargs = {"reduction": reduction}
    if name in ("cross_entropy", "nll_loss"):
        logits = random_input(rng, (batch, classes), pick(rng, FLOAT_DTYPES), specials=False)
        high = classes + 1 if rng.random() < 0.1 else classes
        target = Input(rng.integers(0, high, size=(batch,)).astype(np.int64))
        inputs = [logits, target]
    else:
        dtype = pick(rng, ["float32", "float64", "float64", "int64"])
        x = random_input(rng, (batch, 3), dtype, specials=False)
        if name == "binary_cross_entropy" and dtype != "int64":
            x.array = np.clip(np.abs(x.array) / 4, 0.01, 0.99).astype(dtype)
        target_low, target_high = (-0.5, 1.5) if rng.random() < 0.15 else (0.0, 1.0)
        target = Input(rng.uniform(target_low, target_high, size=(batch, 3)).astype(pick(rng, FLOAT_DTYPES)))
        inputs = [x, target]
        if name in ("smooth_l1_loss", "huber_loss"):
            key = "beta" if name == "smooth_l1_loss" else "delta"
            kwargs[key] = pick(rng, [1.0, 0.5, 0.0, -1.0]) if name == "huber_loss" else pick(rng, [1.0, 0.5])
    return FuzzCase(f"{name}[{reduction}]", name, _loss_fn(name, kwargs), inputs, "loss")


def _loss_fn(name, kwargs):
    def run(lib, *tensors):
        functional = lib.nn.functional
        return getattr(functional, name)(*tensors, **kwargs)

    return run


LAYERS = {  # name: (make it from an nn module, the input's shape after the batch dim, its functional name)
    "Linear": (lambda nn: nn.Linear(3, 2), (3,), "linear"),
    "Conv1d": (lambda nn: nn.Conv1d(2, 3, 3, padding=1), (2, 5), "conv1d"),
    "Conv2d": (lambda nn: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 5, 5), "conv2d"),
    "BatchNorm1d": (lambda nn: nn.BatchNorm1d(3), (3,), "batch_norm"),
    "LayerNorm": (lambda nn: nn.LayerNorm(3), (3,), "layer_norm"),
    "GroupNorm": (lambda nn: nn.GroupNorm(1, 2), (2, 4), "group_norm"),
    "Softmax": (lambda nn: nn.Softmax(dim=-1), (3,), "softmax"),
    "LogSoftmax": (lambda nn: nn.LogSoftmax(dim=-1), (3,), "log_softmax"),
    "MaxPool2d": (lambda nn: nn.MaxPool2d(2), (2, 4, 4), "max_pool2d"),
    "AvgPool2d": (lambda nn: nn.AvgPool2d(2), (2, 4, 4), "avg_pool2d"),
    "RNN": (lambda nn: nn.RNN(3, 2, batch_first=True), (4, 3), "rnn"),
    "LSTM": (lambda nn: nn.LSTM(3, 2, batch_first=True), (4, 3), "lstm"),
    "GRU": (lambda nn: nn.GRU(3, 2, batch_first=True), (4, 3), "gru"),
    "GELU": (lambda nn: nn.GELU(), (3,), "gelu"),
    "Tanh": (lambda nn: nn.Tanh(), (3,), "tanh"),
    "Embedding": (lambda nn: nn.Embedding(5, 2), None, "embedding"),
}


def layer_case(rng) -> FuzzCase:
    name = pick(rng, sorted(LAYERS))
    make, feature_shape, functional = LAYERS[name]
    batch = pick(rng, [0, 1, 3])
    train = bool(rng.random() < 0.5)
    if feature_shape is None:
        high = 6 if rng.random() < 0.1 else 5
        x = Input(rng.integers(0, high, size=(batch, 2)).astype(np.int64))
    else:
        dtype = pick(rng, FLOAT_DTYPES)
        x = random_input(rng, (batch, *feature_shape), dtype, specials=rng.random() < 0.3, pool=LAYER_SPECIALS)
    return FuzzCase(f"{name}[{'train' if train else 'eval'}]", functional, ("layer", make, train), [x], "layer")


OPTIMIZERS = {
    "SGD": dict(lr=0.1),
    "SGD-momentum": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": dict(lr=0.01),
    "AdamW": dict(lr=0.01, weight_decay=0.1, amsgrad=True),
    "RMSprop": dict(lr=0.01, momentum=0.5),
    "Adagrad": dict(lr=0.1),
}


def optimizer_case(rng) -> FuzzCase:
    name = pick(rng, sorted(OPTIMIZERS))
    dtype = pick(rng, FLOAT_DTYPES)
    param = Input(random_array(rng, pick(rng, [(3,), (2, 3), (0,), ()]), dtype, specials=False))
    grad = Input(random_array(rng, param.array.shape, dtype, specials=rng.random() < 0.2))
    return FuzzCase(name, name.split("-")[0], ("optimizer", name.split("-")[0], OPTIMIZERS[name]), [param, grad],
                    "optimizer")  # fmt: skip


FAMILIES = [
    (unary_case, 4), (binary_case, 5), (reduction_case, 3), (shape_case, 3), (indexing_case, 2),
    (matmul_case, 1), (loss_case, 2), (layer_case, 2), (optimizer_case, 1),
]  # fmt: skip


def generate(seed: int, count: int) -> list:
    rng = np.random.default_rng(seed)
    makers = [maker for maker, weight in FAMILIES for _ in range(weight)]
    return [makers[rng.integers(len(makers))](rng) for _ in range(count)]
