"""Tensor hooks: ``register_hook`` and ``retain_grad``.

A hook sees a tensor's gradient as the backward pass computes it and may
replace it (``hook(grad) -> new_grad or None``). Where a hook lives follows
from the memory contract of :mod:`chainrule.autograd.function` (nodes never
hold the tensors they made):

* a leaf keeps its hooks itself (``tensor._hooks``, a :class:`LeafHooks`):
  ``register_hook`` functions run before the gradient is accumulated into
  ``.grad``, ``register_post_accumulate_grad_hook`` functions after it (they
  receive the leaf; data-parallel training starts communication there);
* a non-leaf's hooks live on the node that made it, keyed by output number;
  they run once all the gradient for that output has been summed, before the
  node's backward. ``retain_grad`` is such a hook that always runs last and
  stores the gradient into ``.grad`` through a weak reference to the tensor.

An in-place op gives a tensor a new node: its ``register_hook`` hooks stay
with the old value (they see the gradient of the value they were registered
on), while ``retain_grad`` moves to the new node, as in PyTorch.
"""

from __future__ import annotations

import itertools
import weakref

from chainrule.tensor import Tensor

_handle_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.id = next(_handle_ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info) -> bool:
        self.remove()
        return False


class LeafHooks:
    """A leaf's hooks: ``before`` see and may replace its gradient, ``after`` run once it is in ``.grad``."""

    __slots__ = ("before", "after")

    def __init__(self):
        self.before: dict = {}
        self.after: dict = {}


class TensorHooks:
    """The hooks of the tensors one node made: ``functions[output_nr]`` and ``retained[output_nr]``."""

    __slots__ = ("functions", "retained")

    def __init__(self):
        self.functions: dict[int, dict] = {}
        self.retained: dict[int, weakref.ref] = {}

    def run(self, grad_outputs: list, create_graph: bool) -> list:
        """The node's output gradients after its tensors' hooks; stores retained gradients."""
        grad_outputs = list(grad_outputs)
        for output_nr, hooks in self.functions.items():
            grad_outputs[output_nr] = run_hooks(hooks, grad_outputs[output_nr])
        for output_nr, reference in self.retained.items():
            tensor = reference()
            gradient = grad_outputs[output_nr]
            if tensor is not None and gradient is not None:
                accumulate_retained(tensor, gradient, create_graph)
        return grad_outputs


def run_hooks(hooks: dict, gradient):
    """Pass ``gradient`` through each hook in registration order."""
    if gradient is None:
        return None
    for hook in list(hooks.values()):
        replaced = hook(gradient)
        if replaced is not None:
            if not isinstance(replaced, Tensor) or replaced.shape != gradient.shape:
                raise RuntimeError(
                    f"register_hook: a hook returned {type(replaced).__name__} "
                    f"{getattr(replaced, 'shape', '')}; expected None or a Tensor of shape {gradient.shape}"
                )
            gradient = replaced
    return gradient


def accumulate_retained(tensor: Tensor, gradient: Tensor, create_graph: bool) -> None:
    if not create_graph:
        gradient = Tensor._wrap(gradient._data.copy())
    tensor.grad = gradient if tensor.grad is None else tensor.grad + gradient


def _node_hooks(node) -> TensorHooks:
    hooks = node.hooks
    if hooks is None:
        hooks = node.hooks = TensorHooks()
    return hooks


def register_hook(tensor: Tensor, hook) -> RemovableHandle:
    """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces the gradient.

    Returns a handle whose ``remove()`` unregisters the hook (``Tensor.register_hook``).

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> handle = x.register_hook(lambda grad: grad * 10)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([20., 40.], shape=(2,), dtype=float32)
    >>> handle.remove()
    """
    if not tensor._requires_grad:
        raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
    if not callable(hook):
        raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
    if tensor.grad_fn is None:
        hooks = _leaf_hooks(tensor).before
    else:
        hooks = _node_hooks(tensor.grad_fn).functions.setdefault(tensor._output_nr, {})
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(tensor: Tensor, hook) -> RemovableHandle:
    """On a leaf: call ``hook(tensor)`` each time backward has accumulated a gradient into ``.grad``.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> seen = []
    >>> _ = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.item()))
    >>> (3 * w).sum().backward()
    >>> seen
    [3.0]
    """
    if tensor.grad_fn is not None:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on non-leaf tensors"
        )
    if not tensor._requires_grad:
        raise RuntimeError(
            "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require gradient"
        )
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: expected a callable, got {type(hook).__name__}")
    hooks = _leaf_hooks(tensor).after
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _leaf_hooks(tensor: Tensor) -> LeafHooks:
    if tensor._hooks is None:
        tensor._hooks = LeafHooks()
    return tensor._hooks


def retain_grad(tensor: Tensor) -> None:
    """Keep this non-leaf's gradient in ``.grad`` after backward (accumulating); a no-op on leaves.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> y = x * 3
    >>> y.retain_grad()
    >>> (y * y).sum().backward()
    >>> y.grad
    tensor([ 6., 12.], shape=(2,), dtype=float32)
    """
    if not tensor._requires_grad:
        raise RuntimeError("retain_grad: can't retain_grad on a Tensor that has requires_grad=False")
    if tensor.grad_fn is not None:
        _node_hooks(tensor.grad_fn).retained[tensor._output_nr] = weakref.ref(tensor)


def retains_grad(tensor: Tensor) -> bool:
    """Whether ``retain_grad`` was called on this non-leaf (``Tensor.retains_grad``).

    >>> import chainrule as cr
    >>> y = cr.ones(1, requires_grad=True) * 2
    >>> y.retains_grad
    False
    >>> y.retain_grad()
    >>> y.retains_grad
    True
    """
    node = tensor.grad_fn
    if node is None or node.hooks is None:
        return False
    reference = node.hooks.retained.get(tensor._output_nr)
    return reference is not None and reference() is tensor


def move_retained_grad(tensor: Tensor, old_node, old_output_nr: int) -> None:
    """After an in-place op gave ``tensor`` a new node, its retained gradient follows it there."""
    if old_node is None or old_node.hooks is None:
        return
    reference = old_node.hooks.retained.get(old_output_nr)
    if reference is not None and reference() is tensor:
        del old_node.hooks.retained[old_output_nr]
        if tensor.grad_fn is not None:
            _node_hooks(tensor.grad_fn).retained[tensor._output_nr] = reference
