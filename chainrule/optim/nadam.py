"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import array_module
from chainrule.optim.adam import decayed_gradient, update_moments, validate_adam_group
from chainrule.optim.optimizer import Optimizer, ParamsT, state_like


class NAdam(Optimizer):
    r"""NAdam (Dozat, *Incorporating Nesterov Momentum into Adam*, 2016).

    .. math::
       \begin{aligned}
         &m_0 \leftarrow 0,\ v_0 \leftarrow 0,\ \Pi_0 \leftarrow 1 \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize}) \\
         &\quad \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda\theta_{t-1}
            \quad (\text{decoupled: } \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda)) \\
         &\quad \mu_t \leftarrow \beta_1 \big(1 - \tfrac12\, 0.96^{t\psi}\big),\quad
                \mu_{t+1} \leftarrow \beta_1 \big(1 - \tfrac12\, 0.96^{(t+1)\psi}\big),\quad
                \Pi_t \leftarrow \Pi_{t-1}\mu_t \\
         &\quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t,\quad
                v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
         &\quad d_t \leftarrow \sqrt{v_t / (1 - \beta_2^t)} + \epsilon \\
         &\quad \theta_t \leftarrow \theta_{t-1}
                - \gamma \frac{1 - \mu_t}{1 - \Pi_t} \frac{g_t}{d_t}
                - \gamma \frac{\mu_{t+1}}{1 - \Pi_t \mu_{t+1}} \frac{m_t}{d_t}
       \end{aligned}

    The momentum coefficient :math:`\mu_t` warms up with the momentum decay
    :math:`\psi`; the step looks one momentum step ahead (Nesterov).

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: :math:`\gamma` (default 2e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        momentum_decay: :math:`\psi` (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW does (NAdamW; default False).
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``mu_product`` (:math:`\Pi_t`, kept in float32 as PyTorch
    keeps it), ``exp_avg`` and ``exp_avg_sq``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.8944, -1.8944], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
        **implementation_options,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults, **implementation_options)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        validate_adam_group(self, group)
        self._require(group["momentum_decay"] >= 0, f"invalid momentum_decay value: {group['momentum_decay']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, psi = float(group["lr"]), float(group["eps"]), float(group["momentum_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            state = self.state[p]
            if not state:
                state.update(step=0, mu_product=1.0, exp_avg=state_like(p), exp_avg_sq=state_like(p))
            state["step"] += 1
            step = state["step"]
            grad = decayed_gradient(self, p, group)
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
            mu_product = float(np.float32(state["mu_product"]) * np.float32(mu))
            state["mu_product"] = mu_product
            exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
            work, denom = self._scratch(grad, 1), self._scratch(grad, 2)
            update_moments(exp_avg, exp_avg_sq, grad, beta1, beta2, work)
            xp.divide(exp_avg_sq, 1 - beta2**step, out=denom)
            xp.sqrt(denom, out=denom)
            denom += eps
            xp.divide(grad, denom, out=work)
            work *= -lr * (1.0 - mu) / (1.0 - mu_product)
            p._data += work
            xp.divide(exp_avg, denom, out=work)
            work *= -lr * mu_next / (1.0 - mu_product * mu_next)
            p._data += work
