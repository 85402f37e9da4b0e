"""Learning-rate schedules: each one rewrites ``group["lr"]`` of an optimizer's groups once per ``step()``.

Semantics are PyTorch's: constructing a scheduler records each group's
``initial_lr`` (the ``base_lrs``) and performs the initial step (epoch 0);
call ``scheduler.step()`` after ``optimizer.step()``, once per epoch (or per
batch for :class:`OneCycleLR`).

Example:
    >>> import chainrule as cr
    >>> from chainrule.optim import SGD
    >>> from chainrule.optim.lr_scheduler import StepLR
    >>> opt = SGD([cr.zeros(2, requires_grad=True)], lr=0.1)
    >>> scheduler = StepLR(opt, step_size=2, gamma=0.5)
    >>> for epoch in range(4):
    ...     opt.step()
    ...     scheduler.step()
    >>> scheduler.get_last_lr()
    [0.025]
"""

from __future__ import annotations

import math
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from chainrule.optim.optimizer import Optimizer

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "ExponentialLR",
    "InverseTimeLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


class LRScheduler:
    """Base class of the schedules: subclasses write ``get_lr()``, the learning rates at ``last_epoch``.

    Args:
        optimizer: the optimizer whose groups' ``lr`` this scheduler sets.
        last_epoch: the index of the last epoch done; -1 (default) starts the
            schedule, a larger value resumes it (the groups then need ``initial_lr``).

    Attributes:
        base_lrs: each group's ``initial_lr``, the learning rate the schedule starts from.
        last_epoch: how many times ``step()`` has been called since epoch 0.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> class Halving(lr_scheduler.LRScheduler):
        ...     def get_lr(self):
        ...         return [base / 2 ** self.last_epoch for base in self.base_lrs]
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = Halving(opt)
        >>> for _ in range(3):
        ...     opt.step()
        ...     scheduler.step()
        >>> scheduler.get_last_lr()
        [0.125]
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr', needed to resume with "
                        f"last_epoch={last_epoch}; load the optimizer's state_dict first, or use last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Set the learning rates of epoch ``last_epoch + 1`` (epoch 0 for a new schedule)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of each group at ``last_epoch`` (called by ``step``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set last, one per parameter group."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one epoch and write the new learning rates into the optimizer.

        ``epoch`` (deprecated, as in PyTorch) jumps to that epoch, using the
        closed form of the schedule where there is one.
        """
        if self._step_count == 1 and _optimizer_not_stepped(self.optimizer):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`: call them in the opposite "
                "order, or the first value of the learning rate schedule is skipped",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        if epoch is not None:
            warnings.warn(
                "passing an epoch to step() is deprecated; call step() once per epoch instead",
                UserWarning,
                stacklevel=2,
            )
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        """Move to the next epoch (or to ``epoch``) and write its learning rates into the optimizer."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state: every attribute except the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`."""
        self.__dict__.update(state_dict)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


def _optimizer_not_stepped(optimizer: Optimizer) -> bool:
    # Only the base class's step() counts its calls; an override may not.
    return type(optimizer).step is Optimizer.step and getattr(optimizer, "_step_count", 1) == 0


class LambdaLR(LRScheduler):
    r"""Sets each group's learning rate to its initial one times ``lr_lambda(epoch)``.

    .. math:: \eta_t = \eta_0 \cdot \lambda(t)

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the epoch index returning a factor, or a list
            of such functions, one per parameter group.
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> scheduler = LambdaLR(opt, lr_lambda=lambda epoch: 0.95**epoch)  # doctest: +SKIP
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ):
        self.optimizer = optimizer
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(
                    f"{type(self).__name__}: expected {len(optimizer.param_groups)} lr_lambdas (one per parameter group), "
                    f"but got {len(lr_lambda)}"
                )
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * factor(self.last_epoch) for factor, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        """The state; of the lambdas only callable objects' attributes are kept (functions are not saved)."""
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else fn.__dict__.copy() for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        saved_lambdas = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for fn, saved in zip(self.lr_lambdas, saved_lambdas):
            if saved is not None:
                fn.__dict__.update(saved)


class StepLR(LRScheduler):
    r"""Multiplies the learning rate by ``gamma`` every ``step_size`` epochs.

    .. math:: \eta_t = \eta_0 \cdot \gamma^{\lfloor t / \text{step\_size} \rfloor}

    Computed recursively, as PyTorch does, so it composes with other changes to ``lr``.

    Args:
        optimizer: the optimizer.
        step_size: the period of the decay, in epochs.
        gamma: the factor of each decay (default 0.1).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Multiplies the learning rate by ``gamma`` at each epoch listed in ``milestones``.

    .. math:: \eta_t = \eta_0 \cdot \gamma^{\#\{m \in \text{milestones} : m \le t\}}

    Args:
        optimizer: the optimizer.
        milestones: epoch indices (a milestone listed twice decays twice).
        gamma: the factor of each decay (default 0.1).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 0.1, 0.1, 0.01, 0.01]
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    r"""Multiplies the learning rate by ``gamma`` every epoch.

    .. math:: \eta_t = \eta_0 \cdot \gamma^t

    Args:
        optimizer: the optimizer.
        gamma: the factor of each epoch's decay.
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> rates = []
        >>> for _ in range(4):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 0.5, 0.25, 0.125]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # A resumed schedule's initial step must not decay a second time.
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneals the learning rate along a half cosine from its initial value to ``eta_min`` over ``T_max`` epochs.

    The closed form (Loshchilov and Hutter, *SGDR*, 2017, without restarts) is

    .. math::
        \eta_t = \eta_{\min} + \tfrac{1}{2} (\eta_0 - \eta_{\min})
            \left(1 + \cos\left(\frac{t \pi}{T_{\max}}\right)\right),

    computed, as in PyTorch, by the recursion

    .. math::
        \eta_{t} = \eta_{\min} + (\eta_{t-1} - \eta_{\min})
            \frac{1 + \cos\left(t \pi / T_{\max}\right)}{1 + \cos\left((t - 1) \pi / T_{\max}\right)},

    which also follows changes made to ``lr`` from outside. Past ``T_max`` the
    learning rate climbs back up the cosine (period ``2 T_max``).

    Args:
        optimizer: the optimizer.
        T_max: the number of epochs from the initial learning rate to ``eta_min``.
        eta_min: the minimum learning rate (default 0).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and epoch > 0:
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(epoch * math.pi / T_max)) / 2 for base_lr in self.base_lrs
            ]
        if (epoch - 1 - T_max) % (2 * T_max) == 0:
            # At the bottom of the cosine the ratio below would be 0/0; step by the first difference instead.
            return [
                lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
                for base_lr, lr in zip(self.base_lrs, self._current_lrs())
            ]
        ratio = (1 + math.cos(math.pi * epoch / T_max)) / (1 + math.cos(math.pi * (epoch - 1) / T_max))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class InverseTimeLR(LRScheduler):
    r"""The lecture notes' decaying step size :math:`\alpha_k = C / k`, shifted to start at the initial rate.

    .. math:: \eta_t = \eta_0 \cdot \frac{k_0}{k_0 + t}

    After ``t`` calls of ``step()`` the learning rate is ``base_lr * k0 / (k0 + t)``:
    with ``k0 = 1`` the step sizes are :math:`\eta_0, \eta_0/2, \eta_0/3, \ldots`,
    i.e. :math:`\alpha_k = C/k` with :math:`C = \eta_0` and :math:`k = t + 1`. Such
    steps satisfy :math:`\sum_k \alpha_k = \infty` and :math:`\sum_k \alpha_k^2 < \infty`,
    the Robbins-Monro conditions under which SGD converges. A larger ``k0``
    keeps the rate near :math:`\eta_0` for about ``k0`` steps before the decay.

    The rate is computed from ``base_lrs`` in closed form each step, so changes
    made to ``group["lr"]`` from outside do not carry over.

    Args:
        optimizer: the optimizer.
        k0: the offset :math:`k_0 > 0` (default 1.0).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.InverseTimeLR(opt, k0=1)
        >>> rates = []
        >>> for _ in range(4):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 0.5, 0.3333, 0.25]
    """

    def __init__(self, optimizer: Optimizer, k0: float = 1.0, last_epoch: int = -1):
        if not k0 > 0:
            raise ValueError(f"InverseTimeLR: k0 must be positive, got {k0}")
        self.k0 = k0
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.k0 / (self.k0 + self.last_epoch) for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith and Topin, *Super-Convergence*, 2018): warm up to ``max_lr``, then anneal far below.

    Per batch (call ``step()`` after every batch), over ``total_steps`` steps:

    - phase 1, the first ``pct_start`` of the steps: from ``max_lr / div_factor`` up to ``max_lr``;
    - phase 2, the rest: from ``max_lr`` down to ``max_lr / (div_factor * final_div_factor)``.

    With ``three_phase=True`` phase 2 returns to the initial rate in as many steps as
    phase 1 took, and a third phase anneals to the minimum. Each phase interpolates
    with a half cosine (``anneal_strategy='cos'``) or a line (``'linear'``):

    .. math:: \eta = \eta_{end} + \tfrac{1}{2} (\eta_{start} - \eta_{end}) (1 + \cos(\pi p)),
        \quad p \in [0, 1] \text{ the fraction of the phase done.}

    With ``cycle_momentum`` (default) the momentum (SGD's and RMSprop's
    ``momentum``, Adam's :math:`\beta_1`) moves inversely, from ``max_momentum``
    down to ``base_momentum`` while the learning rate rises, and back.

    Args:
        optimizer: the optimizer.
        max_lr: the peak learning rate, or a list with one per group.
        total_steps: the number of steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs: with ``steps_per_epoch``, gives ``total_steps = epochs * steps_per_epoch``.
        steps_per_epoch: the number of batches per epoch.
        pct_start: the fraction of the cycle spent warming up (default 0.3).
        anneal_strategy: ``'cos'`` (default) or ``'linear'``.
        cycle_momentum: cycle the momentum inversely to the learning rate (default True).
        base_momentum: the lowest momentum, at the peak learning rate (default 0.85), or one per group.
        max_momentum: the highest momentum, at the ends (default 0.95), or one per group.
        div_factor: the initial learning rate is ``max_lr / div_factor`` (default 25).
        final_div_factor: the final learning rate is ``initial_lr / final_div_factor`` (default 1e4).
        three_phase: use the paper's three phases instead of fastai's two (default False).
        last_epoch: the index of the last batch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.OneCycleLR(
        ...     opt, max_lr=1.0, total_steps=5, anneal_strategy="linear", cycle_momentum=False
        ... )
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [0.04, 0.8571, 0.5714, 0.2857, 0.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected a float between 0 and 1 for pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self._schedule_phases = _one_cycle_phases(self.total_steps, pct_start, three_phase)
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, peak in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"OneCycleLR: cycle_momentum needs an optimizer with momentum or betas, "
                    f"and {type(optimizer).__name__} has neither; pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, max_momentums, base_momentums):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {step_num} times; the specified number of total steps is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        start, end = group[phase["start_momentum"]], group[phase["end_momentum"]]
                        self._set_momentum(group, self._anneal(start, end, pct))
                    break
                start_step = end_step
        return lrs


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"OneCycleLR: expected a positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"OneCycleLR: expected a positive integer epochs, but got {epochs}")
    if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
        raise ValueError(f"OneCycleLR: expected a positive integer steps_per_epoch, but got {steps_per_epoch}")
    return epochs * steps_per_epoch


def _one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict[str, Any]]:
    """Each phase: the step it ends at, and the group keys of its start and end lr and momentum."""
    warmup_end = float(pct_start * total_steps) - 1
    warmup = dict(
        end_step=warmup_end,
        start_lr="initial_lr",
        end_lr="max_lr",
        start_momentum="max_momentum",
        end_momentum="base_momentum",
    )
    if not three_phase:
        anneal = dict(
            end_step=total_steps - 1,
            start_lr="max_lr",
            end_lr="min_lr",
            start_momentum="base_momentum",
            end_momentum="max_momentum",
        )
        return [warmup, anneal]
    cooldown = dict(
        end_step=float(2 * pct_start * total_steps) - 2,
        start_lr="max_lr",
        end_lr="initial_lr",
        start_momentum="base_momentum",
        end_momentum="max_momentum",
    )
    annihilate = dict(
        end_step=total_steps - 1,
        start_lr="initial_lr",
        end_lr="min_lr",
        start_momentum="max_momentum",
        end_momentum="max_momentum",
    )
    return [warmup, cooldown, annihilate]


def _per_group(name: str, optimizer: Optimizer, value, owner: str = "OneCycleLR") -> list:
    """``value`` repeated for each parameter group, or checked to have one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{owner}: expected {len(optimizer.param_groups)} values for {name} (one per parameter group), "
                f"got {len(value)}"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)


class MultiplicativeLR(LambdaLR):
    r"""Multiplies each group's learning rate by ``lr_lambda(epoch)`` at every step.

    .. math:: \eta_t = \eta_{t-1} \cdot \lambda(t)

    Args:
        optimizer: the optimizer.
        lr_lambda: a function of the epoch index returning a factor, or one per group.
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.MultiplicativeLR(opt, lambda epoch: 0.5)
        >>> rates = []
        >>> for _ in range(4):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 0.5, 0.25, 0.125]
    """

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [
            group["lr"] * factor(self.last_epoch) for factor, group in zip(self.lr_lambdas, self.optimizer.param_groups)
        ]


class ConstantLR(LRScheduler):
    r"""Scales the learning rate by ``factor`` for the first ``total_iters`` epochs, then restores it.

    .. math:: \eta_t = \eta_0 \cdot (\text{factor if } t < \text{total\_iters} \text{ else } 1)

    Args:
        optimizer: the optimizer.
        factor: the scale in [0, 1] (default 1/3).
        total_iters: how many epochs it lasts (default 5).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2)
        >>> rates = []
        >>> for _ in range(4):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        scale = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [base_lr * scale for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    r"""Scales the learning rate by a factor going linearly from ``start_factor`` to ``end_factor``.

    .. math:: \eta_t = \eta_0 \Big(s + (e - s)\frac{\min(t, T)}{T}\Big)

    with :math:`s`, :math:`e` the start and end factors and :math:`T` = ``total_iters``;
    a linear warm-up with the defaults. Computed recursively, as PyTorch does.

    Args:
        optimizer: the optimizer.
        start_factor: :math:`s` in (0, 1] (default 1/3).
        end_factor: :math:`e` in [0, 1] (default 1).
        total_iters: :math:`T` (default 5).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [
            base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
            for base_lr in self.base_lrs
        ]


class PolynomialLR(LRScheduler):
    r"""Decays the learning rate polynomially to zero over ``total_iters`` epochs.

    .. math:: \eta_t = \eta_0 \big(1 - \min(t, T)/T\big)^{p}

    Args:
        optimizer: the optimizer.
        total_iters: :math:`T` (default 5).
        power: :math:`p` (default 1.0: linear).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        t, total = self.last_epoch, self.total_iters
        decay = ((1.0 - t / total) / (1.0 - (t - 1) / total)) ** self.power
        return [lr * decay for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        remaining = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * remaining**self.power for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing restarted every ``T_i`` epochs, with periods growing by ``T_mult``.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})\big(1 + \cos(\pi T_{cur} / T_i)\big)

    where :math:`T_{cur}` counts the epochs (possibly fractional, with
    ``step(epoch)``) since the last restart (SGDR, Loshchilov and Hutter, 2017).

    Args:
        optimizer: the optimizer.
        T_0: the length of the first period (a positive int).
        T_mult: the factor by which each period is longer than the last (an int >= 1, default 1).
        eta_min: :math:`\eta_{\min}` (default 0).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2)
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(round(scheduler.get_last_lr()[0], 4))
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        if not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected a positive integer T_0, got {T_0}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"CosineAnnealingWarmRestarts: expected an integer T_mult >= 1, got {T_mult}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or jump to ``epoch`` (fractional epochs allowed, e.g. ``epoch + i / iters``)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        elif epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts.step: expected a non-negative epoch, got {epoch}")
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult**n
        else:
            self.T_i = self.T_0
            self.T_cur = epoch
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class _SchedulerSequence(LRScheduler):
    """Checks and checkpoints shared by the schedulers made of other schedulers."""

    def _check_schedulers(self, schedulers: list[LRScheduler], optimizer: Optimizer) -> None:
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name}: expects at least one scheduler, got none")
        for index, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"{name}: ReduceLROnPlateau (at index {index}) needs a metric at each step; it cannot be combined"
                )
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(
                    f"{name}: every scheduler must belong to the same optimizer; the one at index {index} "
                    f"({type(scheduler).__name__}) does not"
                )

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for scheduler, state in zip(self._schedulers, saved):
            scheduler.load_state_dict(state)


class SequentialLR(_SchedulerSequence):
    """Runs ``schedulers`` one after another, switching at the epochs in ``milestones``.

    ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, 95)], milestones=[5])``
    warms up for 5 epochs, then anneals; each scheduler starts from the base rate at its milestone.

    Args:
        optimizer: the optimizer all the schedulers belong to.
        schedulers: the schedulers, in order.
        milestones: the epochs at which the next scheduler takes over (one fewer than the schedulers).
        last_epoch: the index of the last epoch (default -1: start).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> warmup = lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> scheduler = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
        >>> rates = []
        >>> for _ in range(5):
        ...     rates.append(scheduler.get_last_lr()[0])
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int], last_epoch: int = -1
    ):
        self._check_schedulers(schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expects one milestone fewer than schedulers, got {len(schedulers)} schedulers "
                f"and {len(milestones)} milestones"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        self._step_count = 0
        for group in optimizer.param_groups:  # undo what constructing the schedulers did
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            scheduler.last_epoch -= 1
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self._step_count += 1
        self.last_epoch += 1
        index = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)  # the next scheduler starts its schedule from epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_SchedulerSequence):
    """Steps every scheduler of ``schedulers`` at each ``step()``: their effects on ``lr`` compose.

    Args:
        schedulers: the schedulers (of one optimizer).
        optimizer: that optimizer (default: the first scheduler's).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.ChainedScheduler(
        ...     [lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2), lr_scheduler.ExponentialLR(opt, gamma=0.5)]
        ... )
        >>> rates = []
        >>> for _ in range(4):
        ...     rates.append(scheduler.get_last_lr()[0])
        ...     opt.step()
        ...     scheduler.step()
        >>> rates
        [0.5, 0.25, 0.25, 0.125]
    """

    def __init__(self, schedulers: list[LRScheduler], optimizer: Optimizer | None = None):
        optimizer = optimizer or (schedulers[0].optimizer if schedulers else None)
        self._check_schedulers(list(schedulers), optimizer)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._step_count = 0
        self._last_lr = self._current_lrs()

    def step(self) -> None:
        self._step_count += 1
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()


class ReduceLROnPlateau(LRScheduler):
    r"""Multiplies the learning rate by ``factor`` when a metric has stopped improving for ``patience`` epochs.

    ``scheduler.step(val_loss)`` after each evaluation. An epoch improves on the
    best value when, for ``mode="min"``, the metric is below
    :math:`\text{best}(1 - \text{threshold})` (``threshold_mode="rel"``) or
    :math:`\text{best} - \text{threshold}` (``"abs"``); ``"max"`` mirrors it.
    After a reduction, ``cooldown`` epochs pass before bad epochs count again;
    the rate never goes below ``min_lr``, and changes smaller than ``eps`` are skipped.

    Args:
        optimizer: the optimizer.
        mode: ``"min"`` or ``"max"`` (default "min").
        factor: the factor, below 1 (default 0.1).
        patience: epochs without improvement tolerated (default 10).
        threshold: the improvement that counts (default 1e-4).
        threshold_mode: ``"rel"`` or ``"abs"`` (default "rel").
        cooldown: epochs to wait after a reduction (default 0).
        min_lr: a lower bound, or one per group (default 0).
        eps: the smallest change applied (default 1e-8).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> from chainrule.optim import lr_scheduler
        >>> opt = optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        >>> for val_loss in [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]:
        ...     scheduler.step(val_loss)
        >>> opt.param_groups[0]["lr"]
        0.25
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: list[float] | float = 0,
        eps: float = 1e-8,
    ):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: {type(optimizer).__name__} is not an Optimizer")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            self.min_lrs = _per_group("min_lr", optimizer, min_lr, owner="ReduceLROnPlateau")
            self.default_min_lr = None
        else:
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
            self.default_min_lr = min_lr
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._step_count = 0
        self._last_lr = self._current_lrs()
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return value < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return value > (best * (1.0 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record this epoch's metric (a number or a one-element tensor); reduce the rate after a plateau."""
        current = float(metrics)
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        if len(self.min_lrs) != len(self.optimizer.param_groups):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(self.optimizer.param_groups)} parameter groups but "
                    f"{len(self.min_lrs)} min_lrs were given; set scheduler.min_lrs to match"
                )
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
