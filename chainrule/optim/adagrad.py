"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients."""

from __future__ import annotations

from typing import Any

from chainrule.backend import array_module
from chainrule.optim.optimizer import Optimizer, ParamsT, state_like


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan and Singer, *Adaptive Subgradient Methods*, JMLR 2011).

    .. math::
       \begin{aligned}
         &\textbf{input}: \gamma \text{ (lr)},\ \theta_0 \text{ (params)},\ f(\theta) \text{ (objective)},\
            \lambda \text{ (weight decay)},\ \tau \text{ (initial accumulator value)},\
            \eta \text{ (lr decay)},\ \epsilon,\ \textit{maximize} \\
         &s_0 \leftarrow \tau \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize}) \\
         &\quad \tilde{\gamma} \leftarrow \gamma / \big(1 + (t - 1) \eta\big) \\
         &\quad \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda \theta_{t-1} \\
         &\quad s_t \leftarrow s_{t-1} + g_t^2 \\
         &\quad \theta_t \leftarrow \theta_{t-1} - \tilde{\gamma} g_t / \big(\sqrt{s_t} + \epsilon\big) \\
         &\textbf{return}\ \theta_t
       \end{aligned}

    Coordinates that have seen large gradients take small steps and rarely
    updated ones take large steps. Each coordinate's step only shrinks: for
    gradients of constant size it is :math:`\gamma / \sqrt{t}`, a decaying step
    size like the notes' :math:`\alpha_k = C / k` (see ``lr_scheduler.InverseTimeLR``)
    but chosen per coordinate from the data.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate :math:`\gamma` (default 1e-2).
        lr_decay: :math:`\eta` (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        initial_accumulator_value: :math:`\tau`, the starting value of the sums (default 0).
        eps: :math:`\epsilon`, added to the denominator for stability (default 1e-10).
        maximize: ascend the objective instead of descending it.

    State per parameter (created with the optimizer): ``step`` (an int) and ``sum``
    (:math:`s_t`, shaped as the parameter).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.5, -1.5], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        **implementation_options,
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults, **implementation_options)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        self._require(group["lr_decay"] >= 0, f"invalid lr_decay value: {group['lr_decay']}")
        self._require(group["weight_decay"] >= 0, f"invalid weight_decay value: {group['weight_decay']}")
        self._require(
            group["initial_accumulator_value"] >= 0,
            f"invalid initial_accumulator_value value: {group['initial_accumulator_value']}",
        )
        self._require(group["eps"] >= 0, f"invalid epsilon value: {group['eps']}")

    def _init_state(self, p, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = state_like(p, float(group["initial_accumulator_value"]))
        return state

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        lr_decay = float(group["lr_decay"])
        weight_decay = float(group["weight_decay"])
        eps = float(group["eps"])
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            param = p._data
            state = self._init_state(p, group)
            state["step"] += 1
            grad = self._gradient(p, maximize, weight_decay)
            decayed_lr = lr / (1 + (state["step"] - 1) * lr_decay)
            state_sum = state["sum"]._data
            work = self._scratch(param, 1)
            xp.multiply(grad, grad, out=work)
            state_sum += work
            xp.sqrt(state_sum, out=work)
            work += eps
            xp.divide(grad, work, out=work)
            work *= -decayed_lr
            param += work
