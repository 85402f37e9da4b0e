"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any

from chainrule.backend import array_module
from chainrule.optim.adam import validate_adam_group
from chainrule.optim.optimizer import Optimizer, ParamsT, state_like


class Adamax(Optimizer):
    r"""Adamax (Kingma and Ba, 2014, section 7): Adam's step divided by a running maximum of :math:`|g|`.

    .. math::
       \begin{aligned}
         &m_0 \leftarrow 0,\ u_0 \leftarrow 0 \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize};\ + \lambda\theta_{t-1} \text{ if } \lambda \neq 0) \\
         &\quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
         &\quad u_t \leftarrow \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
         &\quad \theta_t \leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t} \frac{m_t}{u_t}
       \end{aligned}

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: :math:`\gamma` (default 2e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda`, an L2 penalty added to the gradient (default 0).
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``exp_avg`` (:math:`m_t`) and ``exp_inf`` (:math:`u_t`).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adamax([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.9, -1.9], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        **implementation_options,
    ):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, **implementation_options)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        validate_adam_group(self, group)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            state = self.state[p]
            if not state:
                state.update(step=0, exp_avg=state_like(p), exp_inf=state_like(p))
            state["step"] += 1
            grad = self._gradient(p, group["maximize"], float(group["weight_decay"]))
            exp_avg, exp_inf = state["exp_avg"]._data, state["exp_inf"]._data
            work = self._scratch(grad, 1)
            xp.subtract(grad, exp_avg, out=work)  # m += (1 - beta1)(g - m), as lerp
            work *= 1 - beta1
            exp_avg += work
            exp_inf *= beta2
            xp.abs(grad, out=work)
            work += eps
            xp.maximum(exp_inf, work, out=exp_inf)
            xp.divide(exp_avg, exp_inf, out=work)
            work *= -lr / (1 - beta1 ** state["step"])
            p._data += work
