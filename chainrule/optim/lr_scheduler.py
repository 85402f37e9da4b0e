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
    "CosineAnnealingLR",
    "ExponentialLR",
    "InverseTimeLR",
    "LRScheduler",
    "LambdaLR",
    "MultiStepLR",
    "OneCycleLR",
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
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            warnings.warn(
                "passing an epoch to step() is deprecated; call step() once per epoch instead",
                UserWarning,
                stacklevel=2,
            )
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
                    f"LambdaLR: expected {len(optimizer.param_groups)} lr_lambdas (one per parameter group), "
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


def _per_group(name: str, optimizer: Optimizer, value) -> list:
    """``value`` repeated for each parameter group, or checked to have one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"OneCycleLR: expected {len(optimizer.param_groups)} values for {name} (one per parameter group), "
                f"got {len(value)}"
            )
        return list(value)
    return [value] * len(optimizer.param_groups)
