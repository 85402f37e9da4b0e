"""Stochastic gradient descent, with optional (Nesterov) momentum and weight decay."""

from __future__ import annotations

from typing import Any

from chainrule.backend import array_module
from chainrule.optim.optimizer import Optimizer, ParamsT
from chainrule.tensor import Tensor


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum: PyTorch's update, step for step.

    .. math::
       \begin{aligned}
         &\textbf{input}: \gamma \text{ (lr)},\ \theta_0 \text{ (params)},\ f(\theta) \text{ (objective)},\
            \lambda \text{ (weight decay)},\ \mu \text{ (momentum)},\ \tau \text{ (dampening)},\
            \textit{nesterov},\ \textit{maximize} \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize}) \\
         &\quad \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda \theta_{t-1} \\
         &\quad \textbf{if}\ \mu \neq 0: \\
         &\qquad b_t \leftarrow g_t \ \text{ if } t = 1, \text{ else }\ \mu b_{t-1} + (1 - \tau) g_t \\
         &\qquad g_t \leftarrow g_t + \mu b_t \ \text{ if } \textit{nesterov}, \text{ else }\ b_t \\
         &\quad \theta_t \leftarrow \theta_{t-1} - \gamma g_t \\
         &\textbf{return}\ \theta_t
       \end{aligned}

    With momentum the lecture notes' "heavy ball" update is recovered: the step
    is an exponentially weighted sum of past gradients, :math:`\gamma \sum_k \mu^{t-k} g_k`
    (for :math:`\tau = 0`). Nesterov momentum is the form of Sutskever et al.,
    *On the importance of initialization and momentum in deep learning* (2013).

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate :math:`\gamma` (default 1e-3).
        momentum: momentum factor :math:`\mu` (default 0).
        dampening: dampening :math:`\tau` of the momentum (default 0).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        nesterov: use Nesterov momentum; needs ``momentum > 0`` and ``dampening = 0``.
        maximize: ascend the objective instead of descending it.

    State per parameter: ``momentum_buffer`` (:math:`b_t`, shaped as the parameter), once momentum is used.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.tolist()
        [0.800000011920929, -1.600000023841858]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        **implementation_options,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults, **implementation_options)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        self._require(group["momentum"] >= 0, f"invalid momentum value: {group['momentum']}")
        self._require(group["weight_decay"] >= 0, f"invalid weight_decay value: {group['weight_decay']}")
        self._require(
            not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
            "Nesterov momentum requires a momentum and zero dampening "
            f"(got momentum={group['momentum']}, dampening={group['dampening']})",
        )

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])
        nesterov = group["nesterov"]
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            grad = self._gradient(p, maximize, weight_decay)
            if momentum != 0:
                state = self.state[p]
                buffer = state.get("momentum_buffer")
                if buffer is None:
                    buffer = state["momentum_buffer"] = Tensor._wrap(grad.astype(p._data.dtype, copy=True))
                    buf = buffer._data
                else:
                    buf = buffer._data
                    buf *= momentum
                    if dampening == 0:
                        buf += grad
                    else:
                        damped = self._scratch(grad, 1)
                        xp.multiply(grad, 1 - dampening, out=damped)
                        buf += damped
                if nesterov:
                    lookahead = self._scratch(grad, 1)
                    xp.multiply(buf, momentum, out=lookahead)
                    lookahead += grad
                    grad = lookahead
                else:
                    grad = buf
            step = self._scratch(grad, 1)
            xp.multiply(grad, lr, out=step)
            xp.subtract(p._data, step, out=p._data)
