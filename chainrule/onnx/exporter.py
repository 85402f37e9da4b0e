"""``export``: trace one forward pass and write it as an ONNX model."""

from __future__ import annotations

import os

import numpy as np

from chainrule.onnx import tracer
from chainrule.onnx.converters import CONVERTERS, GraphBuilder
from chainrule.tensor import Tensor

MIN_OPSET = 13


def require_onnx():
    """The ``onnx`` package, or an ImportError saying how to install it."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            'chainrule.onnx needs the onnx package (and onnxruntime to run models): pip install "chainrule[onnx]"'
        ) from exc
    return onnx


def export(
    model,
    args,
    f,
    input_names=None,
    output_names=None,
    dynamic_axes=None,
    opset_version: int | None = 17,
    *,
    export_params: bool = True,
    verbose: bool = False,
    do_constant_folding: bool = True,
    keep_initializers_as_inputs: bool = False,
    training=None,
    dynamo: bool = False,
) -> None:
    """Trace ``model(*args)`` in eval mode and write it to ``f`` (a path or a binary file object) as ONNX.

    ``args``: a Tensor or a tuple of Tensors. ``input_names`` / ``output_names``
    name the graph's inputs and outputs (default ``input_0``, ``output_0``, ...).
    ``dynamic_axes``: ``{name: {axis: label}}`` or ``{name: [axis, ...]}``
    makes those dims symbolic (e.g. ``{"input_0": {0: "batch"}}``).
    Parameters and buffers become initializers named as in ``state_dict()``.

    PyTorch's other flags are accepted: values computed from constants only are
    always folded into constants (``do_constant_folding``); ``verbose`` prints
    the graph; ``keep_initializers_as_inputs`` also lists the initializers as
    graph inputs; ``training`` and ``dynamo`` are ignored (the trace is always
    of eval mode). ``export_params=False`` is not supported.
    """
    onnx = require_onnx()
    if not export_params:
        raise ValueError("onnx.export: export_params=False is not supported; the parameters are always exported")
    opset_version = 17 if opset_version is None else opset_version
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset_version <= newest:
        raise ValueError(f"onnx.export: opset_version must be in [{MIN_OPSET}, {newest}], got {opset_version}")
    inputs = tracer.as_inputs(args)
    input_names = _names(input_names, len(inputs), "input", "input_names")
    dynamic_axes = {name: _axis_labels(name, axes) for name, axes in (dynamic_axes or {}).items()}
    dynamic_inputs = {i: tuple(dynamic_axes[n]) for i, n in enumerate(input_names) if n in dynamic_axes}
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        records, outputs = tracer.trace(model, inputs)
        other, _ = tracer.trace(model, tracer.other_inputs(inputs, dynamic_inputs))
        tracer.mark_varying(records, other, inputs, bool(dynamic_inputs))
    finally:
        for module, training in modes:
            module.training = training
    output_names = _names(output_names, len(outputs), "output", "output_names")
    unknown = set(dynamic_axes) - set(input_names) - set(output_names)
    if unknown:
        raise ValueError(f"onnx.export: dynamic_axes names {sorted(unknown)} are neither input nor output names")
    proto = build_model(onnx, model, records, inputs, outputs, input_names, output_names, dynamic_axes, opset_version)
    if keep_initializers_as_inputs:
        proto.graph.input.extend(
            onnx.helper.make_tensor_value_info(i.name, i.data_type, list(i.dims)) for i in proto.graph.initializer
        )
    if verbose:
        print(onnx.printer.to_text(proto.graph))
    if isinstance(f, (str, os.PathLike)):
        onnx.save(proto, os.fspath(f))
    else:
        f.write(proto.SerializeToString())


def _names(names, count: int, prefix: str, argument: str) -> list:
    if names is None:
        return [f"{prefix}_{i}" for i in range(count)]
    names = list(names)
    if len(names) != count:
        raise ValueError(f"onnx.export: {argument} has {len(names)} names for {count} {prefix}s")
    return names


def _axis_labels(name: str, axes) -> dict:
    if isinstance(axes, dict):
        return {int(axis): str(label) for axis, label in axes.items()}
    return {int(axis): f"{name}_dim{axis}" for axis in axes}


def build_model(onnx, model, records, inputs, outputs, input_names, output_names, dynamic_axes, opset: int):
    """The ModelProto of a trace: inputs, initializers, one converter's nodes per reachable record, outputs."""
    helper = onnx.helper
    g = GraphBuilder(onnx, opset)
    for name, value in zip(input_names, inputs):
        g.taken.add(name)
        g.bind(value._data, name)
    for name, tensor in model.named_parameters():
        g.name_as_needed(tensor._data, name, is_buffer=False)
    for name, tensor in model.named_buffers():
        g.name_as_needed(tensor._data, name, is_buffer=True)
    live = {id(value._data) for value in inputs}
    live.update(id(tensor._data) for tensor in list(model.parameters()) + list(model.buffers()))
    for record in reachable(records, outputs):
        if any(id(array) in live for array in tracer.arrays_read(record)):
            _convert(g, record)
            live.update(id(out._data) for out in record.outputs)
        else:
            _fold(record)
    graph_outputs = []
    for name, value in zip(output_names, outputs):
        g.taken.add(name)
        g.nodes.append(helper.make_node("Identity", [g.name_of(value)], [name], name=g.fresh("output")))
        graph_outputs.append(_value_info(helper, name, value, dynamic_axes.get(name, {})))
    graph_inputs = [_value_info(helper, n, v, dynamic_axes.get(n, {})) for n, v in zip(input_names, inputs)]
    graph = helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs, g.initializers)
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(
        graph, opset_imports=opsets, producer_name="chainrule", ir_version=helper.find_min_ir_version_for(opsets)
    )


def _fold(record) -> None:
    """An op on constants only (a mask made in forward): its outputs become Constant nodes where used."""
    _check_traced(record)


def _check_traced(record) -> None:
    if tracer.UNTRACED in record.varying:
        raise RuntimeError(
            f"onnx.export: op {record.name}{_where(record)} reads an array that changes with the inputs but was "
            "computed outside chainrule's ops (from a tensor's array, or at random), so it cannot be exported "
            "as a constant; compute it with tensor ops (or leave that axis out of dynamic_axes)"
        )


def _where(record) -> str:
    return f" (in module '{record.module}')" if record.module else " (in the model's own forward)"


def reachable(records: list, outputs: tuple) -> list:
    """The records the outputs depend on, in recording order (dead ops are left out)."""
    producer = {}
    for index, record in enumerate(records):
        for out in record.outputs:
            producer[id(out._data)] = index
    needed, pending = set(), [id(t._data) for t in outputs]
    while pending:
        index = producer.get(pending.pop())
        if index is None or index in needed:
            continue
        needed.add(index)
        record = records[index]
        pending.extend(id(array) for array in tracer.arrays_read(record))
    return [records[i] for i in sorted(needed)]


def _convert(g: GraphBuilder, record) -> None:
    _check_traced(record)
    where = _where(record)
    converter = CONVERTERS.get(record.name)
    if converter is None:
        raise RuntimeError(f"onnx.export: no ONNX converter for op {record.name}{where}")
    try:
        names = converter(g, record)
    except NotImplementedError as exc:
        raise RuntimeError(f"onnx.export: op {record.name}{where} cannot be exported: {exc}") from exc
    names = names if isinstance(names, list) else [names]
    for out, name in zip(record.outputs, names):
        g.bind(out._data, name)


def _value_info(helper, name: str, value: Tensor, labels: dict):
    shape = [labels.get(axis, size) for axis, size in enumerate(value.shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(value.dtype)), shape)
