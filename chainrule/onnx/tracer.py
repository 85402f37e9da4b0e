"""Record the ops of one forward pass: the graph that ``export`` turns into ONNX nodes.

Every primitive runs through ``Op.apply``; :func:`recording` wraps it for
the duration of a ``with`` block so that each call leaves a :class:`Record`
(op class, static params, inputs, outputs, and the module whose forward was
running). Values are identified by their arrays: the trace keeps every
array alive, so ``id(array)`` is a stable key while it lasts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from chainrule.autograd.function import Op
from chainrule.autograd.grad_mode import enable_grad
from chainrule.tensor import Tensor

UNTRACED = "untraced"  # the key of ``Record.varying`` noting an input computed outside the traced ops
INPUT_SHAPES = "input shapes"  # the key of ``Record.varying`` holding the other trace's input shapes, if they differ


@dataclass
class Record:
    """One op call: ``op.apply(*inputs, **params)`` gave ``outputs``, inside module ``module``."""

    op: type
    params: dict
    inputs: tuple  # Tensors, or constants (None, Python numbers, arrays) as passed
    outputs: tuple  # Tensors
    module: str  # the qualified name of the innermost running module ("" for the model itself)
    varying: dict = field(default_factory=dict)  # what differs in a second trace (see mark_varying)

    @property
    def name(self) -> str:
        return self.op.__name__


@contextlib.contextmanager
def recording(records: list, module_stack: list):
    """While active, append a :class:`Record` to ``records`` for every ``Op.apply`` call."""
    original = Op.__dict__["apply"]

    def apply(cls, *inputs, **params):
        result = original.__func__(cls, *inputs, **params)
        outputs = result if isinstance(result, tuple) else (result,)
        records.append(Record(cls, params, inputs, outputs, module_stack[-1] if module_stack else ""))
        return result

    Op.apply = classmethod(apply)
    try:
        yield records
    finally:
        Op.apply = original


@contextlib.contextmanager
def module_scopes(model, module_stack: list):
    """Keep ``module_stack`` holding the qualified names of the modules whose forward is running."""

    def enter(name):
        def hook(module, args):
            module_stack.append(name)  # returns None: the args are left as they are

        return hook

    def leave(module, args, output):
        module_stack.pop()

    handles = []
    for name, module in model.named_modules():
        handles.append(module.register_forward_pre_hook(enter(name)))
        handles.append(module.register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def as_inputs(args) -> tuple:
    """The model's positional inputs as a tuple of Tensors (float ones require grad, so every op records)."""
    args = args if isinstance(args, tuple) else (args,)
    inputs = []
    for index, value in enumerate(args):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"onnx.export: args must be Tensors or a tuple of Tensors, got {type(value).__name__} "
                f"at position {index}"
            )
        value = value.detach()
        if value.dtype.kind == "f":
            value.requires_grad_(True)
        inputs.append(value)
    return tuple(inputs)


def trace(model, inputs: tuple):
    """Run ``model(*inputs)`` recording its ops; returns (records, outputs as a tuple of Tensors)."""
    records: list = []
    stack: list = []
    with enable_grad(), module_scopes(model, stack), recording(records, stack):
        result = model(*inputs)
    outputs = _flatten_outputs(result)
    return records, outputs


def _flatten_outputs(result) -> tuple:
    """Model outputs in order: a Tensor, or nested tuples/lists of Tensors (e.g. an LSTM's (y, (h, c)))."""
    if isinstance(result, Tensor):
        return (result,)
    if isinstance(result, (tuple, list)):
        return tuple(t for item in result for t in _flatten_outputs(item))
    raise TypeError(f"onnx.export: the model returned {type(result).__name__}; expected Tensors (or tuples of them)")


def other_inputs(inputs: tuple, dynamic: dict) -> tuple:
    """Inputs for a second trace: every dynamic axis one longer and other values (floats redrawn, integers
    rolled so indices stay valid, booleans flipped)."""
    rng = np.random.default_rng(1)
    changed = []
    for index, value in enumerate(inputs):
        array = value._data
        axes = dynamic.get(index, ())
        if axes:
            shape = list(array.shape)
            for axis in axes:
                shape[axis] += 1
            array = np.resize(array, shape)  # repeats the values, so integer indices stay valid
        if array.dtype.kind == "f":
            array = rng.standard_normal(array.shape).astype(array.dtype)
        elif array.dtype.kind == "b":
            array = ~array
        else:
            array = np.roll(array.reshape(-1), 1).reshape(array.shape)
        copy = Tensor(np.ascontiguousarray(array))
        if copy.dtype.kind == "f":
            copy.requires_grad_(True)
        changed.append(copy)
    return tuple(changed)


def mark_varying(records: list, other: list, inputs: tuple, dynamic: bool) -> None:
    """Compare the trace ``records`` with ``other``, a trace of :func:`other_inputs`.

    Shape-like params that differ are noted as ``record.varying[param] =
    (value in the other trace, its input shapes)`` (converters turn them into
    dims taken from the input). An array the op reads that no traced op made
    and that differs between the traces was computed from the inputs outside
    the ops (or drawn at random): ``record.varying[UNTRACED]`` notes it, as
    it cannot be exported as a constant.
    """
    if len(records) != len(other) or any(a.op is not b.op for a, b in zip(records, other)):
        if dynamic:
            raise RuntimeError(
                "onnx.export: the model runs different ops for other input sizes or values, so its dynamic_axes "
                "cannot be exported; export with static shapes (no dynamic_axes)"
            )
        return  # value-dependent control flow: the traced branch is exported, as PyTorch's tracer does
    traced = {id(x._data) for x in inputs} | {id(out._data) for r in records for out in r.outputs}
    for record, twin in zip(records, other):
        shapes = tuple(x.shape if isinstance(x, Tensor) else None for x in twin.inputs)
        if shapes != tuple(x.shape if isinstance(x, Tensor) else None for x in record.inputs):
            record.varying[INPUT_SHAPES] = shapes
        for key, value in record.params.items():
            if _is_shape(value) and value != twin.params[key]:
                record.varying[key] = (twin.params[key], shapes)
        for mine, theirs in zip(arrays_read(record), arrays_read(twin)):
            if id(mine) not in traced and (mine.shape != theirs.shape or not np.array_equal(mine, theirs)):
                record.varying[UNTRACED] = True


def _is_shape(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(v, (int, np.integer)) for v in value)


def arrays_read(record) -> list:
    """The arrays an op reads, in a fixed order: its tensor and array inputs, then array params (indices)."""
    arrays = [x._data if isinstance(x, Tensor) else x for x in record.inputs]
    arrays += list(record.params.values())
    return [a for a in arrays if isinstance(a, np.ndarray)]
