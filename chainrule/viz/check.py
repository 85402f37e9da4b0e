"""Gradient checking of a whole model: backprop against finite differences, parameter by parameter.

For a loss L(theta) = sum_k c_k * f(x; theta)_k with fixed random c (so every
output element matters, with a different weight), each sampled entry theta_i
gets the central difference

    (L(theta + eps e_i) - L(theta - eps e_i)) / (2 eps)

and is compared with the backward pass's dL/dtheta_i, all in float64. A wrong
vector-Jacobian product anywhere between the output and a parameter shows up
as a large error for that parameter.

    >>> import chainrule as cr
    >>> model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 3))
    >>> report = cr.viz.check_model(model, (2, 4))
    >>> report.passed
    True
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np

from chainrule.autograd.engine import grad
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class ParameterCheck(NamedTuple):
    """The result for one parameter: errors over its ``sampled`` entries.

    >>> import chainrule as cr
    >>> row = cr.viz.check_model(cr.nn.Linear(3, 2), (2, 3), samples=4).rows[0]
    >>> row.name, row.shape, row.sampled, row.passed
    ('weight', (2, 3), 4, True)
    """

    name: str
    shape: tuple[int, ...]
    sampled: int
    worst_relative_error: float
    max_abs_error: float
    passed: bool


class CheckReport:
    """What ``check_model`` returns: ``rows`` (one ParameterCheck each) and ``passed``; prints as a table.

    >>> import chainrule as cr
    >>> report = cr.viz.check_model(cr.nn.Linear(3, 2), (2, 3), samples=2)
    >>> report.passed, [row.name for row in report.rows]
    (True, ['weight', 'bias'])
    """

    def __init__(self, model_name: str, rows: list[ParameterCheck], settings: dict):
        self.model_name = model_name
        self.rows = rows
        self.settings = settings

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def failures(self) -> list[ParameterCheck]:
        return [row for row in self.rows if not row.passed]

    def __str__(self) -> str:
        table = [("Parameter", "Shape", "Checked", "Worst rel. error", "Max abs. error", "Result")]
        for row in self.rows:
            table.append(
                (
                    row.name,
                    str(list(row.shape)),
                    str(row.sampled),
                    f"{row.worst_relative_error:.2e}",
                    f"{row.max_abs_error:.2e}",
                    "pass" if row.passed else "FAIL",
                )
            )
        widths = [max(len(line[k]) for line in table) for k in range(len(table[0]))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in table]
        rule = "-" * len(lines[0])
        settings = ", ".join(f"{key}={value}" for key, value in self.settings.items())
        failed = len(self.failures)
        verdict = (
            f"all {len(self.rows)} parameters pass"
            if not failed
            else f"{failed} of {len(self.rows)} parameters FAIL: their backward disagrees with finite differences"
        )
        return "\n".join(
            [f"Gradient check of {self.model_name} ({settings})", lines[0], rule, *lines[1:], rule, verdict]
        )

    __repr__ = __str__


def check_model(
    model: Module,
    input_shape=None,
    *,
    input_data=None,
    samples: int = 16,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    train: bool = False,
) -> CheckReport:
    """Compare every parameter's backprop gradient with central finite differences, in float64.

    Args:
        model: checked on a deep copy converted to float64 (the model itself is untouched).
        input_shape: shape of a random standard-normal input, batch included (keep it small:
            each sampled entry costs two forward passes). Or give ``input_data``.
        samples: at most this many entries per parameter, chosen at random.
        eps: the finite-difference step.
        atol, rtol: an entry passes when |analytic - numeric| <= atol + rtol * |numeric|
            (``cr.autograd.gradcheck``'s rule).
        seed: for the input, the output weights c and the sampled entries.
        train: check in training mode (default eval mode: Dropout would make the loss random).

    The relative error reported is |analytic - numeric| / max(|analytic|, |numeric|, atol),
    so entries whose gradient is ~0 both ways read as 0 rather than 0/0.

    Example:
        >>> import chainrule as cr
        >>> report = cr.viz.check_model(cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.Tanh()), (2, 4))
        >>> report.passed
        True
    """
    rng = np.random.default_rng(seed)
    checked = copy.deepcopy(model).double().train(train)
    inputs = _inputs(input_shape, input_data, rng)
    named = [(name, p) for name, p in checked.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError(f"check_model: {type(model).__name__} has no parameters that require grad")
    with no_grad():
        outputs = _float_outputs(checked(*inputs))
    weights = [Tensor(rng.standard_normal(y.shape)) for y in outputs]

    def loss() -> Tensor:
        total = None
        for y, c in zip(_float_outputs(checked(*inputs)), weights):
            term = (y * c).sum()
            total = term if total is None else total + term
        return total

    analytic = grad([loss()], [p for _, p in named], allow_unused=True)
    rows = []
    for (name, param), gradient in zip(named, analytic):
        indices = np.sort(rng.choice(param.numel(), size=min(samples, param.numel()), replace=False))
        expected = np.zeros(len(indices)) if gradient is None else gradient.numpy(force=True).reshape(-1)[indices]
        numeric = np.array([_central_difference(loss, param, int(i), eps) for i in indices])
        error = np.abs(expected - numeric)
        scale = np.maximum(np.maximum(np.abs(expected), np.abs(numeric)), atol)
        rows.append(
            ParameterCheck(
                name,
                tuple(param.shape),
                len(indices),
                float((error / scale).max(initial=0.0)),
                float(error.max(initial=0.0)),
                bool(np.all(error <= atol + rtol * np.abs(numeric))),
            )
        )
    settings = {"samples": samples, "eps": eps, "atol": atol, "rtol": rtol, "input": [list(x.shape) for x in inputs]}
    return CheckReport(type(model).__name__, rows, settings)


def _inputs(input_shape, input_data, rng) -> list[Tensor]:
    if input_data is not None:
        given = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]
        return [x.double() if isinstance(x, Tensor) and x.is_floating_point() else x for x in given]
    if input_shape is None:
        raise TypeError("check_model: give input_shape (batch included, e.g. (2, 784)) or input_data")
    shapes = [input_shape] if all(isinstance(n, (int, np.integer)) for n in input_shape) else list(input_shape)
    return [Tensor(rng.standard_normal(tuple(int(n) for n in shape))) for shape in shapes]


def _float_outputs(output) -> list[Tensor]:
    items = list(output) if isinstance(output, (tuple, list)) else [output]
    return [y for y in items if isinstance(y, Tensor) and y.is_floating_point()]


def _central_difference(loss, param: Tensor, flat_index: int, eps: float) -> float:
    """(L(p + eps) - L(p - eps)) / 2 eps for one entry, writing into the parameter's array and restoring it."""
    position = np.unravel_index(flat_index, param.shape)
    array = param._data
    original = array[position].item()
    try:
        with no_grad():
            array[position] = original + eps
            plus = loss().item()
            array[position] = original - eps
            minus = loss().item()
    finally:
        array[position] = original
    return (plus - minus) / (2 * eps)
