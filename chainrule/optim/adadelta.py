"""Adadelta: steps scaled by running averages of squared gradients and of squared updates."""

from __future__ import annotations

from typing import Any

from chainrule.backend import array_module
from chainrule.optim.optimizer import Optimizer, ParamsT, state_like


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, 2012).

    .. math::
       \begin{aligned}
         &v_0 \leftarrow 0,\ u_0 \leftarrow 0 \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize};\ + \lambda\theta_{t-1} \text{ if } \lambda \neq 0) \\
         &\quad v_t \leftarrow \rho v_{t-1} + (1 - \rho) g_t^2 \\
         &\quad \Delta x_t \leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
         &\quad u_t \leftarrow \rho u_{t-1} + (1 - \rho) \Delta x_t^2 \\
         &\quad \theta_t \leftarrow \theta_{t-1} - \gamma \Delta x_t
       \end{aligned}

    The ratio of the two root-mean-squares gives each coordinate a step in the
    units of the parameter, so ``lr`` (default 1.0) rarely needs tuning.

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: :math:`\gamma`, a factor on the update (default 1.0).
        rho: :math:`\rho`, the decay of both running averages (default 0.9).
        eps: :math:`\epsilon` (default 1e-6).
        weight_decay: :math:`\lambda`, an L2 penalty added to the gradient (default 0).
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``square_avg`` (:math:`v_t`) and ``acc_delta`` (:math:`u_t`).

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adadelta([w], lr=1.0)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.9968, -1.9968], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
        **implementation_options,
    ):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, **implementation_options)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        self._require(0 <= group["rho"] <= 1, f"invalid rho value: {group['rho']}")
        self._require(group["eps"] >= 0, f"invalid epsilon value: {group['eps']}")
        self._require(group["weight_decay"] >= 0, f"invalid weight_decay value: {group['weight_decay']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            state = self.state[p]
            if not state:
                state.update(step=0, square_avg=state_like(p), acc_delta=state_like(p))
            state["step"] += 1
            grad = self._gradient(p, group["maximize"], float(group["weight_decay"]))
            square_avg, acc_delta = state["square_avg"]._data, state["acc_delta"]._data
            work, delta = self._scratch(grad, 1), self._scratch(grad, 2)
            square_avg *= rho
            xp.multiply(grad, 1 - rho, out=work)
            work *= grad
            square_avg += work
            xp.add(square_avg, eps, out=work)
            xp.sqrt(work, out=work)  # sqrt(v_t + eps)
            xp.add(acc_delta, eps, out=delta)
            xp.sqrt(delta, out=delta)
            delta /= work
            delta *= grad  # the update, Delta x_t
            acc_delta *= rho
            xp.multiply(delta, 1 - rho, out=work)
            work *= delta
            acc_delta += work
            delta *= -lr
            p._data += delta
