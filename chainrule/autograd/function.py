"""Graph nodes: the ops' forward/backward contract and user-defined Functions.

An op is a subclass of :class:`Op` with two static methods::

    class Exp(Op):
        @staticmethod
        def forward(ctx, x):            # NumPy/CuPy arrays in, an array out
            y = array_module(x).exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):        # Tensors in, one Tensor (or None) per input out
            (y,) = ctx.saved_tensors
            return grad * y             # the vector-Jacobian product

``Exp.apply(x)`` runs ``forward`` on the arrays and, when ``x`` requires grad,
makes the ctx a node of the graph. The backward is written with Tensor ops, so
the gradient graph can itself be differentiated (``create_graph=True``).

Memory contract: a node holds its edges to the nodes of its inputs (never the
input tensors themselves) and what ``forward`` saved. Saved arrays that are an
input's array come back from ``saved_tensors`` as that input tensor (so the
gradient of the backward flows to it); the output's array comes back as the
output; any other saved array is a constant. ``backward`` releases everything
saved unless ``retain_graph=True``; the output tensor is never referenced by
its own node, so no reference cycle keeps activations alive.

Versions and views: every saved tensor remembers its version counter's value,
and ``saved_tensors`` refuses one that an in-place op has changed since. An op
whose output shares memory with its first input (reshape, transpose, basic
indexing; found by looking at the arrays, so no op needs to declare it) ties
the output to the input's base (:class:`ViewInfo`): they share one version
counter, and the view can be remade from the base when an in-place op gives
the base a new place in the graph (see ``chainrule.autograd.inplace``).
"""

from __future__ import annotations

import itertools
import traceback

import numpy as np

from chainrule.autograd.grad_mode import AnomalyMode, GradMode, no_grad
from chainrule.autograd.naming import public_name
from chainrule.backend import array_module, is_array, on_device_of
from chainrule.tensor import Tensor

_RELEASED = "released"
_OUTPUT = object()  # marks a saved entry that is the node's own output
_sequence = itertools.count()  # recording order: every node is numbered after its inputs' nodes


class Node:
    """A recorded operation: edges to its inputs' nodes and what backward needs.

    ``next_edges[i]`` is ``(node, output_nr)`` for an input made by another op,
    ``(leaf_tensor, 0)`` for a leaf that requires grad, or None when input ``i``
    needs no gradient.
    """

    name = "node"
    differentiable = True
    to_save: tuple = ()  # set by save_for_backward during forward
    saved: tuple | str = ()  # resolved entries once the node joins the graph; _RELEASED after backward
    num_outputs = 1
    next_edges: tuple = ()
    needs_input_grad: tuple = ()  # for each input, whether backward must return its gradient
    hooks = None  # TensorHooks of the tensors this node made (register_hook, retain_grad), if any
    output_versions = None  # {output_nr: (version counter, version when saved)} for saved outputs

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    def save_for_backward(self, *values) -> None:
        self.to_save = values

    @property
    def saved_tensors(self) -> tuple:
        saved = self.saved
        if saved is _RELEASED:
            raise RuntimeError(
                f"{self.name} backward: trying to backward through the graph a second time (or to read saved "
                "values after they were freed). Saved values are freed by backward() and autograd.grad(); "
                "pass retain_graph=True to the first call if you need to backward twice."
            )
        values = []
        for kind, value, extra in saved:
            if kind is Tensor:
                if value._version != extra:
                    raise _modified_error(self, f"an input of {self.name}", value._data, value._version, extra)
            elif kind is _OUTPUT:
                counter, version = self.output_versions[extra]
                if counter[0] != version:
                    raise _modified_error(self, f"output {extra} of {self.name}", value, counter[0], version)
                value = Tensor._wrap(value, self, extra)
            values.append(value)
        return tuple(values)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"

    @property
    def next_functions(self) -> tuple:
        """PyTorch's view of the edges: ``((node_or_accumulator, output_nr), ...)``."""
        return tuple(edge if edge is not None else (None, 0) for edge in self.next_edges)


class Op(Node):
    """A primitive whose ``forward`` computes on arrays (see the module docstring).

    >>> import chainrule as cr
    >>> from chainrule.autograd import Op
    >>> class Square(Op):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * grad
    >>> x = cr.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).backward()
    >>> x.grad
    tensor([6.], shape=(1,), dtype=float32)
    """

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on ``inputs`` (Tensors or constants); ``params`` are static arguments."""
        ctx = cls.__new__(cls)
        arrays = []
        record = False
        for x in inputs:  # a plain loop: cheaper than a comprehension for one or two inputs
            if isinstance(x, Tensor):
                view = x._view
                if view is not None and view.source is not view.base.grad_fn:
                    refresh_view(x)  # its base was modified in place since x's grad_fn was made
                arrays.append(x._data)
                if x._requires_grad:
                    record = True
            else:
                arrays.append(x)
        device_array = None if not arrays or type(arrays[0]) is np.ndarray else _first_device_array(arrays)
        try:
            if device_array is None:
                output = cls.forward(ctx, *arrays, **params)
            else:  # run where the inputs live: what forward allocates goes to their device
                with on_device_of(device_array):
                    output = cls.forward(ctx, *arrays, **params)
        except (ValueError, IndexError, TypeError) as exc:
            raise _with_op_context(exc, cls.name, inputs) from exc
        if type(output) is not np.ndarray:
            output = _as_arrays(ctx, output)
            if type(output) is tuple:
                if arrays and any(_aliases(y, arrays[0]) for y in output):
                    return _view_result(cls, ctx, inputs, arrays, output, params, record)
            elif arrays and _aliases(output, arrays[0]):  # a device array (CuPy's, the fake device's)
                return _view_result(cls, ctx, inputs, arrays, output, params, record)
        elif arrays and (output.base is not None or output is arrays[0]) and _aliases(output, arrays[0]):
            return _view_result(cls, ctx, inputs, arrays, output, params, record)
        if AnomalyMode.enabled:
            _check_finite(cls.name, "forward output", output if type(output) is tuple else (output,))
        if record and GradMode.enabled and cls.differentiable:
            return _connect(ctx, inputs, arrays, output)
        if type(output) is tuple:
            return tuple([Tensor._wrap(y) for y in output])
        return Tensor._wrap(output)

    @staticmethod
    def forward(ctx, *arrays, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError


class Function(Node):
    """User-defined differentiable function with PyTorch's contract.

    ``forward(ctx, *args)`` receives tensors (detached, computed without a
    graph); ``backward(ctx, *grad_outputs)`` returns one gradient per argument
    of ``forward`` (None for non-tensors):

    >>> import chainrule as cr
    >>> class Cube(cr.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * grad
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward()
    >>> x.grad
    tensor([ 3., 12.], shape=(2,), dtype=float32)
    """

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls.__new__(cls)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        detached = [a.detach() if isinstance(a, Tensor) else a for a in args]
        with no_grad():
            result = cls.forward(ctx, *detached, **kwargs)
        multiple = isinstance(result, tuple)
        results = result if multiple else (result,)
        for value in results:
            if not isinstance(value, Tensor):
                raise TypeError(f"{cls.__name__}.forward must return Tensors, got {type(value).__name__}")
        # Saved tensors are matched by identity with what forward was given and returned.
        ctx.to_save = tuple(_data_of(v) for v in ctx.to_save)
        arrays = [_data_of(a) for a in detached]
        outputs = tuple(value._data for value in results)
        if AnomalyMode.enabled:
            _check_finite(cls.name, "forward output", outputs)
        if GradMode.enabled and any(ctx.needs_input_grad):
            return _connect(ctx, args, arrays, outputs if multiple else outputs[0])
        return result

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    def mark_non_differentiable(self, *tensors) -> None:
        """Accepted for PyTorch compatibility; integer outputs never carry gradients here."""


def _data_of(value):
    return value._data if isinstance(value, Tensor) else value


def _connect(ctx, inputs, arrays, output):
    """Make ``ctx`` a graph node and return its output(s) as tensors that require grad."""
    edges = []
    needs = []
    for x in inputs:
        if isinstance(x, Tensor) and x._requires_grad:
            edges.append((x.grad_fn or x, x._output_nr))
            needs.append(True)
        else:
            edges.append(None)
            needs.append(False)
    ctx.next_edges = tuple(edges)
    ctx.needs_input_grad = tuple(needs)
    ctx.sequence_nr = next(_sequence)
    if AnomalyMode.enabled:
        ctx.creation_stack = "".join(traceback.format_stack(limit=12)[:-3])
    multiple = type(output) is tuple
    if not multiple:
        result = Tensor._wrap(output, ctx)
    else:
        ctx.num_outputs = len(output)
        ctx.output_shapes = tuple([y.shape for y in output])
        result = tuple(
            [Tensor._wrap(y, ctx, i) if y.dtype.kind == "f" else Tensor._wrap(y) for i, y in enumerate(output)]
        )
    to_save = ctx.to_save
    if to_save:
        ctx.saved = _saved_entries(ctx, to_save, inputs, arrays, result if multiple else (result,))
        ctx.to_save = ()
    return result


def _saved_entries(ctx, to_save, inputs, arrays, outputs) -> tuple:
    """How each saved value comes back: as the input tensor, as the output, or as a constant.

    Entries are ``(kind, value, extra)``: ``(Tensor, input, version)``,
    ``(_OUTPUT, array, output_nr)`` or ``(None, constant, None)``. The version
    of an input, and ``ctx.output_versions`` for an output, let backward refuse
    a value that an in-place op has changed since it was saved.
    """
    entries = []
    for value in to_save:
        for i, array in enumerate(arrays):
            if value is array and isinstance(inputs[i], Tensor):
                x = inputs[i]
                entries.append((Tensor, x, x._version))
                break
        else:
            for nr, output in enumerate(outputs):
                if value is output._data:
                    counter = output._shared_version_counter()
                    if ctx.output_versions is None:
                        ctx.output_versions = {}
                    ctx.output_versions[nr] = (counter, counter[0])
                    entries.append((_OUTPUT, value, nr))
                    break
            else:
                entries.append((None, Tensor._wrap(value) if is_array(value) else value, None))
    return tuple(entries)


def _modified_error(node, which: str, array, version: int, expected: int) -> RuntimeError:
    return RuntimeError(
        f"{node.name} backward: one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: {which} (a {array.dtype} tensor of shape {tuple(array.shape)}) is at version "
        f"{version}; expected version {expected} instead. Compute the value out of place (or clone() it "
        "before the in-place op)."
    )


def _aliases(output, array) -> bool:
    """Whether ``output`` is a view of the memory of ``array`` (NumPy collapses ``base`` to the owner)."""
    base = output.base
    return output is array or base is array or (base is not None and base is getattr(array, "base", None))


def _view_result(cls, ctx, inputs, arrays, output, params, record):
    """Finish an op whose output is a view of its first input: record it and tie it to its base."""
    multiple = type(output) is tuple
    if AnomalyMode.enabled:
        _check_finite(cls.name, "forward output", output if multiple else (output,))
    if record and GradMode.enabled and cls.differentiable:
        result = _connect(ctx, inputs, arrays, output)
    elif multiple:
        result = tuple([Tensor._wrap(y) for y in output])
    else:
        result = Tensor._wrap(output)
    source = inputs[0]
    if not isinstance(source, Tensor):
        return result
    if not multiple:
        mark_view(result, source, (cls, params, None))
    else:
        for nr, view in enumerate(result):
            if _aliases(view._data, arrays[0]):
                mark_view(view, source, (cls, params, nr))
    return result


# --------------------------------------------------------------------------- views
class ViewInfo:
    """What ties a view to its base: how to remake it from the base, and which base graph it reflects.

    ``steps`` are ``(op_class, params, output_nr)`` applied to ``base`` in turn
    (``output_nr`` picks one output of a multi-output op such as split).
    ``source`` is the base's ``grad_fn`` when the view's own ``grad_fn`` was
    made: once an in-place op gives the base a new ``grad_fn``, the view's is
    stale and is remade from the base (:func:`refresh_view`) before its next use.
    """

    __slots__ = ("base", "base_array", "steps", "source", "made_with_grad", "multi_output")

    def __init__(self, base, steps, made_with_grad: bool, multi_output: bool):
        self.base = base
        self.base_array = base._data  # the steps apply to this array; a base given another one cannot remake the view
        self.steps = steps
        self.source = base.grad_fn
        self.made_with_grad = made_with_grad
        self.multi_output = multi_output


def mark_view(view: Tensor, source: Tensor, step: tuple) -> None:
    """Record that ``view`` shares memory with ``source`` (and so with its base) and share their version."""
    parent = source._view
    if parent is None:
        view._view = ViewInfo(source, (step,), GradMode.enabled, step[2] is not None)
        view._version_counter = source._shared_version_counter()
    else:
        base = parent.base
        made_with_grad = GradMode.enabled and parent.made_with_grad
        view._view = ViewInfo(base, parent.steps + (step,), made_with_grad, parent.multi_output or step[2] is not None)
        view._version_counter = base._shared_version_counter()


def apply_view_steps(tensor, steps):
    """The view ``steps`` describe, taken of ``tensor`` (recorded like any op)."""
    for cls, params, output_nr in steps:
        tensor = cls.apply(tensor, **params)
        if output_nr is not None:
            tensor = tensor[output_nr]
    return tensor


def view_of_array(array, steps):
    """The same view of a bare array (a view: the steps made one when the view was taken)."""
    for cls, params, output_nr in steps:
        array = cls.forward(cls.__new__(cls), array, **params)
        if output_nr is not None:
            array = array[output_nr]
    return array


def refresh_view(view: Tensor) -> None:
    """Remake ``view.grad_fn`` from its base's current graph (after an in-place op changed the base)."""
    info = view._view
    if not GradMode.enabled:
        return  # nothing is recorded now; refresh at the next recorded use
    base = info.base
    info.source = base.grad_fn
    if not (base._requires_grad and info.made_with_grad):
        return
    if base._data is not info.base_array:
        raise RuntimeError(
            f"a view of shape {view.shape} is used after its base (shape {base.shape}) was changed in place and "
            "given new data or a new shape (t_, transpose_, squeeze_, unsqueeze_, .data = ...); "
            "take the view again from the base"
        )
    remade = apply_view_steps(base, info.steps)
    view.grad_fn = remade.grad_fn
    view._output_nr = remade._output_nr
    view._requires_grad = remade._requires_grad


def _as_arrays(ctx, output):
    """NumPy turns 0-d results into scalars; keep every tensor backed by an array.

    What forward saved is re-pointed at the converted outputs so it is still
    recognised as the output.
    """
    multiple = type(output) is tuple
    outputs = output if multiple else (output,)
    converted = tuple([y if is_array(y) else np.asarray(y) for y in outputs])
    if ctx.to_save:
        replace = {id(y): c for y, c in zip(outputs, converted) if y is not c}
        if replace:
            ctx.to_save = tuple([replace.get(id(v), v) for v in ctx.to_save])
    return converted if multiple else converted[0]


def _check_finite(name: str, what: str, arrays) -> None:
    for array in arrays:
        if array is not None and array.dtype.kind == "f" and not bool(array_module(array).isfinite(array).all()):
            raise RuntimeError(f"detect_anomaly: the {what} of '{name}' contains NaN or Inf")


def _first_device_array(arrays):
    """The first array among an op's inputs if it is a device's (CuPy's, the fake device's), else None."""
    for array in arrays:
        if is_array(array):
            return None if type(array) is np.ndarray else array
    return None


def _with_op_context(exc: Exception, name: str, inputs) -> Exception:
    """Re-raise a NumPy error as the same kind of error naming the op and its inputs.

    Tensors on two devices get PyTorch's RuntimeError, naming both devices.
    """
    devices = list(dict.fromkeys(str(x.device) for x in inputs if isinstance(x, Tensor)))
    if len(devices) > 1:
        return RuntimeError(
            f"{public_name(name)}: Expected all tensors to be on the same device, but found at least two devices, "
            f"{devices[0]} and {devices[1]}!"
        )
    described = ", ".join(f"{tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else repr(x) for x in inputs)
    message = f"{public_name(name)}: {exc} (inputs: {described})"
    for kind in (IndexError, ValueError, TypeError):
        if isinstance(exc, kind):
            return kind(message)
    return RuntimeError(message)
