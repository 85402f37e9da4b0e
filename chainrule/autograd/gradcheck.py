"""Checking analytic gradients against central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from chainrule.autograd.engine import grad
from chainrule.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised when an analytic gradient disagrees with finite differences.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    >>> class WrongSquare(cr.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return x * grad
    >>> try:
    ...     cr.autograd.gradcheck(WrongSquare.apply, (x,))
    ... except cr.autograd.GradcheckError:
    ...     print("caught")
    caught
    """


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _differentiable_inputs(inputs) -> list[tuple[int, Tensor]]:
    chosen = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            if x.dtype != np.float64:
                raise GradcheckError(
                    f"gradcheck: input {i} is {x.dtype}; finite differences need float64 inputs (use .double())"
                )
            chosen.append((i, x))
    if not chosen:
        raise GradcheckError("gradcheck: no input requires grad")
    return chosen


def _float_outputs(fn, inputs) -> list[Tensor]:
    return [y for y in _as_tuple(fn(*inputs)) if isinstance(y, Tensor) and y.dtype.kind == "f"]


def _flat_outputs(fn, inputs) -> np.ndarray:
    return np.concatenate([y._data.reshape(-1).astype(np.float64) for y in _float_outputs(fn, inputs)])


def numerical_jacobian(fn: Callable, inputs: Sequence, eps: float = 1e-6) -> list[np.ndarray]:
    """J[k] of shape (numel of input k, total numel of the float outputs), by central differences."""
    inputs = _as_tuple(inputs)
    jacobians = []
    for _, x in _differentiable_inputs(inputs):
        flat = x._data.reshape(-1)  # a view: perturbing it perturbs x
        columns = []
        # Evaluated with grad enabled: fn may itself differentiate (gradgradcheck).
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = _flat_outputs(fn, inputs)
            flat[j] = original - eps
            minus = _flat_outputs(fn, inputs)
            flat[j] = original
            columns.append((plus - minus) / (2 * eps))
        jacobians.append(np.array(columns).reshape(flat.size, -1))
    return jacobians


def analytical_jacobian(fn: Callable, inputs: Sequence) -> list[np.ndarray]:
    """The same Jacobians from reverse mode: one vector-Jacobian product per output element."""
    inputs = _as_tuple(inputs)
    chosen = [x for _, x in _differentiable_inputs(inputs)]
    outputs = [y for y in _float_outputs(fn, inputs) if y.requires_grad]
    sizes = [y.numel() for y in outputs]
    total = sum(sizes)
    jacobians = [np.zeros((x.numel(), total)) for x in chosen]
    column = 0
    for k, y in enumerate(outputs):
        for j in range(sizes[k]):
            seed = np.zeros(y.numel(), dtype=y.dtype)
            seed[j] = 1.0
            grads = grad([y], chosen, [Tensor(seed.reshape(y.shape))], retain_graph=True, allow_unused=True)
            for jacobian, g in zip(jacobians, grads):
                if g is not None:
                    jacobian[:, column] = g._data.reshape(-1)
            column += 1
    return jacobians


def gradcheck(
    fn: Callable,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """True if ``fn``'s analytic gradients match central finite differences.

    ``inputs``: a tensor or tuple; those with ``requires_grad`` must be float64.
    Raises GradcheckError naming the input and the worst element otherwise
    (or returns False when ``raise_exception=False``).

    >>> import chainrule as cr
    >>> x = cr.tensor([0.5, 2.0], dtype=cr.float64, requires_grad=True)
    >>> cr.autograd.gradcheck(lambda t: (t.exp() * t).sum(), (x,))
    True
    """
    inputs = _as_tuple(inputs)
    numerical = numerical_jacobian(fn, inputs, eps)
    analytical = analytical_jacobian(fn, inputs)
    for (index, x), num, ana in zip(_differentiable_inputs(inputs), numerical, analytical):
        error = np.abs(num - ana) - (atol + rtol * np.abs(num))
        if error.size and error.max() > 0:
            worst = np.unravel_index(np.argmax(error), error.shape)
            element = np.unravel_index(worst[0], x.shape) if x.ndim else ()
            message = (
                f"gradcheck: Jacobian mismatch for input {index} (shape {x.shape}) at element {element}, "
                f"output element {worst[1]}: analytical {ana[worst]:.8g} vs numerical {num[worst]:.8g}"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(
    fn: Callable,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> v^T J(inputs) built with create_graph.

    >>> import chainrule as cr
    >>> x = cr.tensor([0.5, 2.0], dtype=cr.float64, requires_grad=True)
    >>> cr.autograd.gradgradcheck(lambda t: t.sin() * t, (x,))
    True
    """
    inputs = _as_tuple(inputs)
    chosen = [x for _, x in _differentiable_inputs(inputs)]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        outputs = [y for y in _float_outputs(fn, inputs) if y.requires_grad]
        grad_outputs = [Tensor(rng.standard_normal(y.shape), requires_grad=True) for y in outputs]
    grad_outputs = list(_as_tuple(grad_outputs))
    count = len(inputs)

    def first_derivative(*args):
        outputs = [y for y in _float_outputs(fn, args[:count]) if y.requires_grad]
        differentiable = [x for x in args[:count] if isinstance(x, Tensor) and x.requires_grad]
        grads = grad(outputs, differentiable, list(args[count:]), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    del chosen
    return gradcheck(first_derivative, (*inputs, *grad_outputs), eps, atol, rtol, raise_exception)
