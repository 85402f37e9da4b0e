"""The optimizer base: parameter groups, per-parameter state, and checkpoints of both.

An algorithm subclasses :class:`Optimizer` and writes one method,
``_update_group(group)``, that moves every parameter of a group with a gradient.
Updates work on the raw arrays (``p._data``, ``p.grad._data``) in place, with
``out=`` arguments, so a step records no graph and allocates nothing per step
beyond the reusable scratch buffers of :meth:`Optimizer._scratch`.

Every device works the same way: an update calls the functions of its
parameter's array module (``array_module(p._data)``: NumPy, CuPy or the fake
device's), its state tensors live on the parameter's device, and a step reads
nothing back to the host (the hyperparameters are Python numbers).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import enable_grad
from chainrule.backend import array_module, device_of, is_array, on_device_of, to_device
from chainrule.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]
StateDict = dict[str, Any]


class Optimizer:
    """Base class of the optimizers: holds ``param_groups`` and ``state``.

    Args:
        params: an iterable of tensors, or of dicts each holding ``"params"``
            (the tensors of one group) and the options that differ for that
            group from ``defaults``.
        defaults: every option's default value, e.g. ``{"lr": 1e-3}``.

    Attributes:
        param_groups: a list of dicts, each ``{"params": [tensors], option: value, ...}``.
        state: ``state[p]`` is a dict of ``p``'s running quantities (momentum
            buffers, moment estimates, step counts), created on its first step.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
        >>> opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [group["lr"] for group in opt.param_groups]
        [0.1, 0.5]
        >>> sorted(opt.state_dict())
        ['param_groups', 'state']
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any], **implementation_options):
        _check_implementation_options(type(self).__name__, implementation_options)
        self.defaults = defaults
        self._validate_group(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._workspace: dict[tuple, Any] = {}
        self._step_count = 0
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, but got a Tensor "
                "(pass model.parameters() or [tensor])"
            )
        param_groups = list(params)
        if not param_groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own options, to those being optimized.

        Options the group leaves out take the optimizer's defaults. Useful for
        fine-tuning: unfreeze layers and add them with a smaller ``lr``.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: parameters must be given in an ordered collection, not a set (order varies)")
        elif params is None:
            raise ValueError(f"{name}.add_param_group: the group has no 'params' entry")
        else:
            params = list(params)
        for index, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but parameter {index} is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (parameter {index} has a grad_fn)")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group contains the same parameter more than once")
        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        self._validate_group(group)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _validate_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError for an option outside its range; each algorithm adds its own checks."""
        self._require(group.get("lr", 0) >= 0, f"invalid learning rate: {group.get('lr')}")

    def _require(self, condition: bool, message: str) -> None:
        if not condition:
            raise ValueError(f"{type(self).__name__}: {message}")

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to None (default; frees the memory) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    p.grad._data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with
        gradient recording on, and usually calls ``zero_grad`` and ``backward``).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = group["params"]
            if params and params[0]._data.__class__ is not np.ndarray:  # state goes beside a device's parameters
                with on_device_of(params[0]._data):
                    self._update_group(group)
            else:
                self._update_group(group)
        self._step_count += 1
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update_group")

    def _scratch(self, like, slot: int = 0):
        """A reusable array shaped and typed like ``like``; distinct slots never overlap.

        Each (slot, dtype, device) keeps one flat buffer as large as the largest
        parameter seen, so a step allocates no temporaries once warm.
        """
        key = (slot, like.dtype) if type(like) is np.ndarray else (slot, like.dtype, device_of(like))
        buffer = self._workspace.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = array_module(like).empty(like.size, dtype=like.dtype)
            self._workspace[key] = buffer
        return buffer[: like.size].reshape(like.shape)

    def _gradient(self, p: Tensor, maximize: bool, weight_decay: float):
        """``p``'s gradient as an array, negated if maximizing, plus ``weight_decay * p`` (L2).

        Returns ``p.grad``'s own array (never to be written) when neither applies,
        else scratch slot 0.
        """
        grad = p.grad._data
        if not maximize and weight_decay == 0:
            return grad
        xp = array_module(grad)
        direction = self._scratch(grad, 0)
        if weight_decay == 0:
            xp.negative(grad, out=direction)
        else:
            xp.multiply(p._data, weight_decay, out=direction)
            # (wd * p) - g is exactly (-g) + wd * p: one pass either way.
            (xp.subtract if maximize else xp.add)(direction, grad, out=direction)
        return direction

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> StateDict:
        """A snapshot of the optimizer: ``{"state": {...}, "param_groups": [...]}``, as PyTorch's.

        Parameters are named by their index over all groups in order: ``"state"``
        maps index -> that parameter's state (tensors copied, so later steps do not
        change the snapshot), and each group's ``"params"`` is a list of indices.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {key: _snapshot(value) for key, value in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore a snapshot from :meth:`state_dict` into an optimizer over parameters of the same shapes.

        Group options are replaced by the saved ones; state tensors are copied onto
        each parameter's device and (if floating) dtype. Raises ValueError, changing
        nothing, when the groups or shapes do not match.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}: expected a dict with 'state' and 'param_groups', as state_dict() returns")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the state dict has {len(saved_groups)} parameter groups but the optimizer has "
                f"{len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}: parameter group {i} has {len(saved['params'])} parameters in the state dict but "
                    f"{len(group['params'])} in the optimizer"
                )
        params_by_index = {
            index: p
            for group, saved in zip(self.param_groups, saved_groups)
            for index, p in zip(saved["params"], group["params"])
        }
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, saved_state in state_dict["state"].items():
            if index not in params_by_index:
                raise ValueError(f"{name}: the state dict has state for parameter {index}, which is in no group")
            p = params_by_index[index]
            state[p] = {
                key: self._restore_state_value(key, value, p, f"{name}: state {key!r} of parameter {index}")
                for key, value in saved_state.items()
            }
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new_group = dict(group)
            new_group.update({key: copy.deepcopy(value) for key, value in saved.items() if key != "params"})
            new_groups.append(new_group)
        self.param_groups = new_groups
        self.state = state

    def _restore_state_value(self, key: str, value, param: Tensor, where: str):
        """One saved state value made ready for ``param``: arrays shaped like it, copied to its device and dtype."""
        return _restore(key, value, param, where)

    # ------------------------------------------------------------------ display and pickling
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_workspace"] = {}
        return state


# PyTorch's switches between implementations of the same update. Every step here
# is already one fused pass over each parameter's arrays, so they change nothing.
IMPLEMENTATION_OPTIONS = ("foreach", "fused", "capturable", "differentiable")


def _check_implementation_options(name: str, options: dict[str, Any]) -> None:
    """Accept PyTorch's ``foreach``/``fused``/``capturable`` flags; refuse unknown keywords and ``differentiable``."""
    for key, value in options.items():
        if key not in IMPLEMENTATION_OPTIONS:
            raise TypeError(f"{name}.__init__() got an unexpected keyword argument '{key}'")
        if key == "differentiable" and value:
            raise NotImplementedError(f"{name}: differentiable=True (a step recorded in the graph) is not supported")


def state_like(p: Tensor, fill_value: float = 0.0) -> Tensor:
    """A new state tensor of ``p``'s shape, dtype and device, filled with ``fill_value``."""
    return Tensor._wrap(array_module(p._data).full_like(p._data, fill_value))


def _snapshot(value):
    """A copy of one state value that later in-place steps cannot change."""
    if isinstance(value, Tensor):
        return Tensor._wrap(value._data.copy())
    return copy.deepcopy(value)


def _restore(key: str, value, param: Tensor, where: str):
    """A saved state value made ready for ``param``: arrays copied to its device and dtype, shapes checked."""
    array = value._data if isinstance(value, Tensor) else value
    if key == "step" and (is_array(array) or isinstance(array, np.generic)) and array.size == 1:
        # PyTorch keeps the step count as a scalar tensor; here it is a Python number.
        number = array.item()
        return int(number) if float(number).is_integer() else number
    if not is_array(array):
        return copy.deepcopy(value)
    if array.shape != param.shape:
        raise ValueError(f"{where} has shape {tuple(array.shape)} but the parameter has shape {tuple(param.shape)}")
    array = to_device(array, param.device)
    dtype = param.dtype if array.dtype.kind == "f" and param.dtype.kind == "f" else array.dtype
    return Tensor._wrap(array.astype(dtype, copy=True))
