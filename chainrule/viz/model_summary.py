"""A model's layers as a table: output shapes and parameter counts, from one forward pass on zeros.

>>> import chainrule as cr
>>> model = cr.nn.Sequential(cr.nn.Linear(784, 200), cr.nn.ReLU(), cr.nn.Linear(200, 10))
>>> report = cr.viz.summary(model, (1, 784))
>>> report.total_params                # d H + H K plus the biases H + K
159010
>>> print(report)                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.backend import dtypes
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class LayerRow(NamedTuple):
    """One call of one module during the summary's forward pass.

    ``params`` and ``trainable_params`` count every parameter of the module and
    its descendants (each shared parameter once); ``depth`` is 0 for the model.

    >>> import chainrule as cr
    >>> rows = cr.summary(cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU()), (2, 4)).rows
    >>> [(row.name, row.type, row.output_shape, row.params) for row in rows]
    [('Sequential', 'Sequential', (2, 3), 15), ('0', 'Linear', (2, 3), 15), ('1', 'ReLU', (2, 3), 0)]
    """

    name: str
    type: str
    depth: int
    output_shape: tuple | list | None
    params: int
    trainable_params: int
    own_params: int
    reused: bool


class Summary:
    """What ``summary`` returns: ``rows``, ``total_params``, ``trainable_params``; prints as a table.

    In the printed table a row whose children are also listed shows only the
    parameters it holds itself ("--" for none), so the column adds up to the
    total; a row listed without its children shows all of theirs.

    >>> import chainrule as cr
    >>> table = cr.summary(cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU()), (2, 4))
    >>> table.total_params, table.trainable_params, len(table.rows)
    (15, 15, 3)
    """

    def __init__(self, model: Module, rows: list[LayerRow], input_shapes: list, depth: int):
        self.model_name = type(model).__name__
        self.rows = rows
        self.input_shapes = input_shapes
        self.depth = depth
        unique = {id(p): p for p in model.parameters()}.values()
        self.total_params = int(sum(p.numel() for p in unique))
        self.trainable_params = int(sum(p.numel() for p in unique if p.requires_grad))
        self.non_trainable_params = self.total_params - self.trainable_params
        self.params_bytes = int(sum(p.numel() * p.element_size() for p in unique))
        self.output_shape = rows[0].output_shape if rows else None

    def __str__(self) -> str:
        shown = [row for row in self.rows if row.depth <= self.depth]
        table = [("Layer (type)", "Output Shape", "Param #", "Trainable")]
        for i, row in enumerate(shown):
            expanded = i + 1 < len(shown) and shown[i + 1].depth > row.depth
            count, trainable = (row.own_params, None) if expanded else (row.params, row.trainable_params)
            if row.reused:
                count_text, trainable_text = "(reused)", ""
            else:
                count_text = f"{count:,}" if count else "--"
                trainable_text = _trainable_text(count, row.trainable_params if trainable is None else trainable)
                if expanded and count:
                    trainable_text = ""
            layer = row.type if row.depth == 0 else f"{'  ' * row.depth}{row.name} ({row.type})"
            table.append((layer, _shape_text(row.output_shape), count_text, trainable_text))
        widths = [max(len(line[k]) for line in table) for k in range(4)]
        rule = "=" * (sum(widths) + 6)

        def format_line(line) -> str:
            return f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]:>{widths[2]}}  {line[3]}".rstrip()

        inputs = ", ".join(_shape_text(shape) for shape in self.input_shapes)
        lines = [rule, format_line(table[0]), rule, *(format_line(line) for line in table[1:]), rule]
        lines += [
            f"Input shape: {inputs}",
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Params size (MB): {self.params_bytes / 1e6:.2f}",
            rule,
        ]
        return "\n".join(lines)

    __repr__ = __str__


def _trainable_text(count: int, trainable: int) -> str:
    if count == 0:
        return "--"
    return "yes" if trainable == count else "no" if trainable == 0 else "partial"


def _shape_text(shape) -> str:
    if shape is None:
        return "--"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return str(list(shape))


def _output_shapes(output):
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        shapes = [_output_shapes(item) for item in output]
        return [s for s in shapes if s is not None] or None
    if isinstance(output, dict):
        return _output_shapes(list(output.values()))
    return None


def _count(module: Module) -> tuple[int, int]:
    unique = {id(p): p for p in module.parameters()}.values()
    return sum(p.numel() for p in unique), sum(p.numel() for p in unique if p.requires_grad)


def _as_shapes(input_shape) -> list[tuple[int, ...]]:
    """One shape ``(N, ...)`` or several ``[(N, ...), (N, ...)]`` as a list of int tuples."""
    if isinstance(input_shape, int):
        return [(input_shape,)]
    items = list(input_shape)
    if items and all(isinstance(item, (int, np.integer)) for item in items):
        return [tuple(int(n) for n in items)]
    if items and all(isinstance(item, Sequence) for item in items):
        return [tuple(int(n) for n in item) for item in items]
    raise TypeError(f"summary: input_shape must be a shape like (1, 784) or a list of shapes, got {input_shape!r}")


def summary(
    model: Module,
    input_shape=None,
    dtype=None,
    depth: int = 3,
    *,
    input_size=None,
    input_data=None,
) -> Summary:
    """Run ``model`` once on zeros of ``input_shape`` and list every module it called.

    Args:
        model: any Module; its mode (train/eval) is restored afterwards.
        input_shape: the input's full shape, batch dimension included, e.g. ``(1, 1, 28, 28)``;
            a list of shapes for a model taking several inputs. ``input_size`` is an alias.
        dtype: of the zeros (default float32; an integer dtype for Embedding inputs).
        depth: nesting depth shown when printed (1: the model's children only).
        input_data: a tensor (or tuple of tensors) to run instead of zeros.

    The pass runs in eval mode under ``no_grad``, so BatchNorm statistics and
    parameters are left as they were. Modules are recorded through forward
    pre-hooks (call order) and forward hooks (output shapes).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> print(cr.summary(model, (1, 2, 2)))
        ===============================================
        Layer (type)   Output Shape  Param #  Trainable
        ===============================================
        Sequential     [1, 2]             --  --
          0 (Flatten)  [1, 4]             --  --
          1 (Linear)   [1, 3]             15  yes
          2 (ReLU)     [1, 3]             --  --
          3 (Linear)   [1, 2]              8  yes
        ===============================================
        Input shape: [1, 2, 2]
        Total params: 23
        Trainable params: 23
        Non-trainable params: 0
        Params size (MB): 0.00
        ===============================================
    """
    if input_shape is None:
        input_shape = input_size
    if input_data is None:
        if input_shape is None:
            raise TypeError("summary: give input_shape (batch dimension included, e.g. (1, 784)) or input_data")
        dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.float32
        inputs = [Tensor(np.zeros(shape, dtype=dtype)) for shape in _as_shapes(input_shape)]
    else:
        inputs = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]
    rows: list[LayerRow | None] = []
    handles = []
    modes = [(module, module.training) for module in model.modules()]
    seen: set[int] = set()

    def register(name: str, module: Module) -> None:
        starts: list[int] = []

        def before(_module, _args):
            starts.append(len(rows))
            rows.append(None)  # a placeholder keeps the call order; filled when forward returns

        def after(_module, _args, output):
            index = starts.pop()
            params, trainable = _count(module)
            own = sum(p.numel() for p in module._parameters.values() if p is not None)
            depth = 0 if not name else name.count(".") + 1
            reused = id(module) in seen
            seen.add(id(module))
            rows[index] = LayerRow(
                name or type(module).__name__,
                type(module).__name__,
                depth,
                _output_shapes(output),
                params,
                trainable,
                own,
                reused,
            )

        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))

    try:
        for name, module in model.named_modules():
            register(name, module)
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    return Summary(model, [row for row in rows if row is not None], [tuple(x.shape) for x in inputs], depth)
