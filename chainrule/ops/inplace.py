"""In-place tensor methods: ``x.op_(...)`` is ``x.op(...)`` written back into ``x``.

Every method here is one entry of a table: the out-of-place function that
computes the new value. :func:`chainrule.autograd.inplace.apply_inplace` does
the rest for all of them (the write into x's array, the version counter, the
rebase of x's ``grad_fn``, PyTorch's errors). The few ops with no out-of-place
twin are small ops below: :class:`Overwrite` (fill_, copy_, zero_ and the
random fills: the old values get zero gradient, the new value its gradient
summed back to its shape) and :class:`Put` (``x[index] = value``, scatter_,
index_fill_, index_copy_: the overwritten elements get zero gradient, the
value the gradient at ``index``).
"""

from __future__ import annotations

import numpy as np

from chainrule import random
from chainrule.autograd.function import Op, ViewInfo
from chainrule.autograd.inplace import _check_not_leaf, _check_view, _rebase, apply_inplace, needs_graph
from chainrule.backend import array_module, is_array
from chainrule.ops._args import normalize_dim
from chainrule.ops.elementwise import to_dtype
from chainrule.ops.indexing import Index, _check_index_tensor, _index_on, check_index_devices, normalize_index
from chainrule.ops.shape import sum_to_shape
from chainrule.tensor import Tensor


def _fit(op: str, tensor: Tensor, result: Tensor) -> Tensor:
    """The new value checked against the tensor it replaces: same shape, castable to its dtype."""
    if result.shape != tensor.shape:
        raise RuntimeError(
            f"{op}: the result of shape {result.shape} doesn't match the shape {tensor.shape} of the tensor "
            "being modified in place (an in-place op cannot broadcast the tensor it writes to)"
        )
    if result.dtype != tensor.dtype:
        if not np.can_cast(result.dtype, tensor.dtype, "same_kind"):
            raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the tensor's dtype {tensor.dtype}")
        result = to_dtype(result, tensor.dtype)
    return result


def _operands(args, kwargs) -> tuple:
    return args + tuple(kwargs.values())


def inplace_method(function, op: str):
    """``x.op_(*args)``: ``function(x, *args)`` made x's new value.

    The in-place methods ``x.exp_()``, ``x.add_(y)``, ``x.clamp_(0, 1)``... are made by this factory: each computes the
    out-of-place op and writes the result into ``x`` (same shape and dtype), recording the change for autograd. See the
    out-of-place op for the math.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 4.0])
    >>> x.sqrt_()
    tensor([1., 2.], shape=(2,), dtype=float32)
    >>> x.add_(cr.tensor([1.0, 1.0]), alpha=2).mul_(10)
    tensor([30., 40.], shape=(2,), dtype=float32)
    >>> x
    tensor([30., 40.], shape=(2,), dtype=float32)
    """

    def method(self, *args, **kwargs):
        return apply_inplace(
            self, op, lambda source: _fit(op, self, function(source, *args, **kwargs)), _operands(args, kwargs)
        )

    method.__name__ = op
    method.__doc__ = f"In-place ``{function.__name__}``: writes the result into this tensor and returns it."
    return method


# --------------------------------------------------------------------------- overwriting
class Overwrite(Op):
    """``values`` broadcast to x's shape and dtype: the new value of fill_, copy_, zero_ and random fills."""

    @staticmethod
    def forward(ctx, x, values):
        xp = array_module(x)
        ctx.shape, ctx.dtype = x.shape, x.dtype
        ctx.values_shape = _shape_of(values)
        return xp.broadcast_to(xp.asarray(values), x.shape).astype(x.dtype, copy=True)

    @staticmethod
    def backward(ctx, grad):
        grad_x = grad_values = None
        if ctx.needs_input_grad[0]:
            grad_x = Tensor._wrap(array_module(grad._data).zeros(ctx.shape, dtype=grad.dtype))
        if ctx.needs_input_grad[1]:
            grad_values = sum_to_shape(grad, ctx.values_shape)
        return grad_x, grad_values


def _shape_of(value) -> tuple[int, ...]:
    """The shape of an array of any device, or of a number or nested list."""
    return value.shape if is_array(value) else np.shape(value)


def _overwrite(tensor: Tensor, op: str, values) -> Tensor:
    """Replace every element of ``tensor`` by ``values`` (broadcast, cast to its dtype)."""
    array = values._data if isinstance(values, Tensor) else values

    def write(target):
        target[...] = array

    return apply_inplace(tensor, op, lambda source: Overwrite.apply(source, values), (values,), write)


def zero_(self: Tensor) -> Tensor:
    """Fill this tensor with zeros, in place; returns it.

    >>> import chainrule as cr
    >>> cr.ones(2, 2).zero_()
    tensor([[0., 0.],
            [0., 0.]], shape=(2, 2), dtype=float32)
    """
    return _overwrite(self, "zero_", 0)


def fill_(self: Tensor, value) -> Tensor:
    """Fill this tensor with ``value`` (a number or a 0-d tensor), cast to its dtype, in place; returns it.

    >>> import chainrule as cr
    >>> cr.zeros(3, dtype=cr.int64).fill_(7)
    tensor([7, 7, 7], shape=(3,), dtype=int64)
    """
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"fill_: only a 0-dim value tensor can fill a tensor, got shape {value.shape}")
    return _overwrite(self, "fill_", value)


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast to this tensor's shape, cast to its dtype) into this tensor.

    Returns this tensor; gradients flow back to ``src``.

    >>> import chainrule as cr
    >>> x = cr.zeros(2, 3)
    >>> x.copy_(cr.tensor([1.0, 2.0, 3.0]))
    tensor([[1., 2., 3.],
            [1., 2., 3.]], shape=(2, 3), dtype=float32)
    """
    if isinstance(src, Tensor) and src.device != self.device:
        src = src.to(self.device)
    if not isinstance(src, Tensor):
        src = array_module(self._data).asarray(src)
    shape = tuple(src.shape)
    try:
        broadcast = np.broadcast_shapes(shape, self.shape)
    except ValueError:
        broadcast = None
    if broadcast != self.shape:
        raise RuntimeError(f"copy_: source of shape {shape} does not broadcast to the tensor's shape {self.shape}")
    return _overwrite(self, "copy_", src)


def _random_fill(op: str, draw, doc: str):
    """An in-place random fill: ``draw(tensor, generator, *args)`` gives the new values as an array."""

    def method(self, *args, generator=None, **kwargs):
        return _overwrite(self, op, draw(self, generator, *args, **kwargs))

    method.__name__ = op
    method.__doc__ = (
        f"{doc}\n\nDrawn on the tensor's device from the global generator (``cr.manual_seed``), or from "
        "``generator``; returns this tensor."
    )
    return method


def _uniform(tensor, generator, a=0.0, b=1.0):
    return random.uniform(tensor.shape, a, b, tensor.dtype, tensor.device, generator)


def _normal(tensor, generator, mean=0.0, std=1.0):
    return random.normal(tensor.shape, mean, std, tensor.dtype, tensor.device, generator)


def _bernoulli(tensor, generator, p=0.5):
    """1 where a uniform draw (float64, on the tensor's device) falls below ``p`` (a number or a tensor there)."""
    draws = random.uniform(tensor.shape, dtype=np.float64, device=tensor.device, generator=generator)
    return (draws < (p._data if isinstance(p, Tensor) else p)).astype(tensor.dtype)


def _exponential(tensor, generator, lambd=1.0):
    if lambd <= 0:
        raise RuntimeError(f"exponential_: expects lambd > 0, got {lambd}")
    return random.exponential(tensor.shape, lambd, tensor.dtype, tensor.device, generator)


def _random(tensor, generator, from_=0, to=None):
    if to is None:  # random_(to) draws from [0, to); random_() from [0, 2**mantissa] for floats
        from_, to = (0, from_) if from_ else (0, _random_default_high(tensor.dtype))
    if from_ >= to:
        raise RuntimeError(f"random_: expects 'from' < 'to', got from={from_} >= to={to}")
    return random.integers(from_, to, tensor.shape, np.int64, tensor.device, generator).astype(tensor.dtype)


def _random_default_high(dtype) -> int:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 2 ** (np.finfo(dtype).nmant + 1) + 1
    if dtype.kind == "b":
        return 2
    top = int(np.iinfo(dtype).max)
    return top if dtype.itemsize == 8 else top + 1  # the whole range, where int64 draws can express its end


# --------------------------------------------------------------------------- writing at an index
class Put(Op):
    """x with ``value`` written at ``index`` (a NumPy index): ``x[index] = value`` as an op."""

    @staticmethod
    def forward(ctx, x, value, index):
        index = _index_on(array_module(x), index)
        ctx.index, ctx.value_shape = index, _shape_of(value)
        out = x.copy()
        out[index] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_x = grad_value = None
        if ctx.needs_input_grad[0]:
            keep = array_module(grad._data).ones(grad.shape, dtype=grad.dtype)
            keep[ctx.index] = 0
            grad_x = grad * Tensor._wrap(keep)
        if ctx.needs_input_grad[1]:
            grad_value = sum_to_shape(Index.apply(grad, index=ctx.index), ctx.value_shape)
        return grad_x, grad_value


def _put(tensor: Tensor, op: str, index, value) -> Tensor:
    """Write ``value`` at the NumPy ``index`` of ``tensor`` (recorded as a :class:`Put` in the graph)."""
    array = value._data if isinstance(value, Tensor) else value
    if isinstance(value, Tensor) and value.dtype != tensor.dtype and tensor.dtype.kind == "f":
        value = to_dtype(value, tensor.dtype)  # the value's gradient then comes back in its own dtype

    def write(target):
        target[index] = array

    return apply_inplace(tensor, op, lambda source: Put.apply(source, value, index=index), (value,), write)


def setitem(self: Tensor, index, value) -> None:
    """``self[index] = value`` with ints, slices, None, ..., integer arrays and bool masks; differentiable.

    In the graph, a basic index (ints, slices, None, ...) writes through the
    view ``self[index]``, so the recorded work is the size of the region, not
    of the whole tensor; other indices record a :class:`Put`.
    """
    check_index_devices(self, index, "__setitem__")
    index = normalize_index(index)
    try:
        if needs_graph(self, (value,)) and _is_basic(index):
            region = Index.apply(self, index=index)
            if region._view is not None:  # NumPy gives a copy, not a view, for a single element
                _overwrite(region, "__setitem__", value)
                return
        _put(self, "__setitem__", index, value)
    except (ValueError, IndexError, TypeError) as exc:
        raise type(exc)(f"__setitem__: {exc} (tensor shape {self.shape}, dtype {self.dtype})") from None


def _is_basic(index) -> bool:
    """Whether ``index`` selects a view: only ints, slices, None and Ellipsis."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(part is None or part is Ellipsis or isinstance(part, (int, slice)) for part in parts)


def _along(axis: int, index_array) -> tuple:
    return (slice(None),) * axis + (index_array.reshape(-1),)


def index_fill_(self: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """Fill the slices at positions ``index`` along ``dim`` with the number (or 0-d tensor) ``value``.

    >>> import chainrule as cr
    >>> cr.zeros(2, 3).index_fill_(1, cr.tensor([0, 2]), 5.0)
    tensor([[5., 0., 5.],
            [5., 0., 5.]], shape=(2, 3), dtype=float32)
    """
    axis = normalize_dim(dim, self.ndim, "index_fill_")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill_: value must be a number or a 0-dim tensor, got shape {value.shape}")
    return _put(self, "index_fill_", _along(axis, _check_index_tensor(index, "index_fill_")), value)


def index_copy_(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """Copy the slices of ``source`` into this tensor at positions ``index`` along ``dim``.

    ``source`` has this tensor's shape with dim ``dim`` of size ``len(index)``.

    >>> import chainrule as cr
    >>> cr.zeros(3, 2).index_copy_(0, cr.tensor([2, 0]), cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[3., 4.],
            [0., 0.],
            [1., 2.]], shape=(3, 2), dtype=float32)
    """
    axis = normalize_dim(dim, self.ndim, "index_copy_")
    index_array = _check_index_tensor(index, "index_copy_")
    expected = self.shape[:axis] + (index_array.size,) + self.shape[axis + 1 :]
    if index_array.ndim > 1 or source.shape != expected:
        raise RuntimeError(
            f"index_copy_: source of shape {source.shape} must be {expected} for index of shape {index.shape} "
            f"along dim {axis} of a tensor of shape {self.shape}"
        )
    return _put(self, "index_copy_", _along(axis, index_array), source)


# --------------------------------------------------------------------------- in-place changes of shape
def _restride_method(op: str, function):
    """``t_``, ``transpose_``, ``unsqueeze_``, ``squeeze_``: the tensor becomes a view of itself of a new shape."""

    def method(self, *args):
        graph = needs_graph(self, ())
        if graph:
            if self._view is None:
                _check_not_leaf(self, op)
            else:
                _check_view(self, op)
        result = function(self._alias(), *args)
        self._data = result._data
        if self._view is not None and result._view is not None:
            info = self._view
            steps = info.steps + result._view.steps
            self._view = ViewInfo(info.base, steps, info.made_with_grad, info.multi_output)
        if graph:
            _rebase(self, result)
        self._version += 1
        return self

    method.__name__ = op
    method.__doc__ = (
        f"In-place ``{function.__name__}``: this tensor becomes the view ``self.{function.__name__}(*args)`` "
        "of its own memory (same data, new shape and strides); returns it.\n\n"
        ">>> import chainrule as cr\n"
        ">>> x = cr.zeros(2, 3)\n"
        f">>> x.{op}({_RESTRIDE_EXAMPLE_ARGS[op]}).shape\n"
        f"chainrule.Size({_RESTRIDE_EXAMPLE_SHAPES[op]})\n"
    )
    return method


_RESTRIDE_EXAMPLE_ARGS = {"t_": "", "transpose_": "0, 1", "unsqueeze_": "0", "squeeze_": ""}
_RESTRIDE_EXAMPLE_SHAPES = {"t_": "[3, 2]", "transpose_": "[3, 2]", "unsqueeze_": "[1, 2, 3]", "squeeze_": "[2, 3]"}

# --------------------------------------------------------------------------- the table
# in-place name -> the out-of-place Tensor method it writes back (bound when Tensor has it)
_FROM_METHODS = (
    "relu sigmoid tanh exp expm1 log log1p log2 log10 sqrt rsqrt abs neg reciprocal sin cos floor ceil trunc "
    "round sign square add sub mul div pow remainder floor_divide clamp clamp_min clamp_max lerp "
    "masked_fill scatter scatter_add index_add erf erfinv logical_not addcmul addcdiv"
)
_RESTRIDES = "t transpose unsqueeze squeeze"
_OWN = {
    "zero_": zero_,
    "fill_": fill_,
    "copy_": copy_,
    "index_fill_": index_fill_,
    "index_copy_": index_copy_,
    "uniform_": _random_fill(
        "uniform_",
        _uniform,
        "Fill with draws from the uniform distribution on [from, to) (``uniform_(from=0, to=1)``).\n\n>>> import chainrule as cr\n>>> x = cr.empty(1000).uniform_(2.0, 3.0)\n>>> bool(((x >= 2.0) & (x < 3.0)).all())\nTrue",
    ),
    "normal_": _random_fill(
        "normal_",
        _normal,
        "Fill with draws from N(mean, std^2) (``normal_(mean=0, std=1)``).\n\n>>> import chainrule as cr\n>>> x = cr.empty(10000, dtype=cr.float64).normal_(5.0, 0.1)\n>>> abs(x.mean().item() - 5.0) < 0.01, abs(x.std().item() - 0.1) < 0.01\n(True, True)",
    ),
    "bernoulli_": _random_fill(
        "bernoulli_",
        _bernoulli,
        "Fill with 1 with probability ``p`` (a number or a tensor of probabilities), else 0.\n\n>>> import chainrule as cr\n>>> cr.empty(4).bernoulli_(cr.tensor([0.0, 1.0, 0.0, 1.0]))\ntensor([0., 1., 0., 1.], shape=(4,), dtype=float32)",
    ),
    "exponential_": _random_fill(
        "exponential_",
        _exponential,
        "Fill with draws from the exponential distribution of rate ``lambd`` (mean 1 / lambd).\n\n>>> import chainrule as cr\n>>> x = cr.empty(10000, dtype=cr.float64).exponential_(4.0)\n>>> abs(x.mean().item() - 0.25) < 0.02, bool((x >= 0).all())\n(True, True)",
    ),
    "random_": _random_fill(
        "random_",
        _random,
        "Fill with integers drawn uniformly from [from, to) (``random_(to)``: [0, to)).\n\n>>> import chainrule as cr\n>>> x = cr.empty(1000, dtype=cr.int64).random_(3, 5)\n>>> sorted(set(x.tolist()))\n[3, 4]",
    ),
    "__setitem__": setitem,
}
_OPERATORS = {"__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_", "__ipow__": "pow_"}


def bind_tensor_methods() -> None:
    """Give Tensor its in-place methods (after the out-of-place ones are bound)."""
    for name in _FROM_METHODS.split():
        if hasattr(Tensor, name):
            setattr(Tensor, f"{name}_", inplace_method(getattr(Tensor, name), f"{name}_"))
    for name in _RESTRIDES.split():
        setattr(Tensor, f"{name}_", _restride_method(f"{name}_", getattr(Tensor, name)))
    for name, method in _OWN.items():
        setattr(Tensor, name, method)
    for operator, name in _OPERATORS.items():
        setattr(Tensor, operator, getattr(Tensor, name))
    Tensor.clip_ = Tensor.clamp_
