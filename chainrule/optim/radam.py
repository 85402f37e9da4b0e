"""RAdam: Adam whose adaptive step is switched on as the variance of its estimate becomes tractable."""

from __future__ import annotations

import math
from typing import Any

from chainrule.backend import array_module
from chainrule.optim.adam import decayed_gradient, update_moments, validate_adam_group
from chainrule.optim.optimizer import Optimizer, ParamsT, state_like


class RAdam(Optimizer):
    r"""RAdam (Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*, 2019).

    .. math::
       \begin{aligned}
         &\rho_\infty \leftarrow 2/(1 - \beta_2) - 1 \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t,\ m_t,\ v_t \text{ as in Adam (weight decay L2, or decoupled)} \\
         &\quad \widehat{m_t} \leftarrow m_t / (1 - \beta_1^t) \\
         &\quad \rho_t \leftarrow \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t) \\
         &\quad \textbf{if}\ \rho_t > 5:\
                r_t \leftarrow \sqrt{\frac{(\rho_t - 4)(\rho_t - 2)\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\rho_t}},\
                \theta_t \leftarrow \theta_{t-1} - \gamma\, \widehat{m_t}\, r_t \frac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon} \\
         &\quad \textbf{else}:\ \theta_t \leftarrow \theta_{t-1} - \gamma\, \widehat{m_t}
       \end{aligned}

    In the first steps (:math:`\rho_t \le 5`) the second moment is too noisy to
    trust, and the step is plain momentum SGD; the rectification :math:`r_t`
    then phases the adaptive step in.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: :math:`\gamma` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: :math:`\lambda` (default 0).
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``exp_avg`` and ``exp_avg_sq``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.RAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.8, -1.6], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
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
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults, **implementation_options)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        validate_adam_group(self, group)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        rho_inf = 2 / (1 - beta2) - 1
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            state = self.state[p]
            if not state:
                state.update(step=0, exp_avg=state_like(p), exp_avg_sq=state_like(p))
            state["step"] += 1
            step = state["step"]
            grad = decayed_gradient(self, p, group)
            exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data
            work = self._scratch(grad, 1)
            update_moments(exp_avg, exp_avg_sq, grad, beta1, beta2, work)
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
            xp.divide(exp_avg, bias_correction1, out=work)
            work *= lr
            if rho_t > 5.0:
                rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                denom = self._scratch(grad, 2)
                xp.sqrt(exp_avg_sq, out=denom)
                denom += eps
                xp.divide(bias_correction2**0.5, denom, out=denom)
                work *= denom
                work *= rect
            p._data -= work
