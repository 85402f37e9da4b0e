"""RMSprop: steps divided by a running root-mean-square of the gradient."""

from __future__ import annotations

from typing import Any

from chainrule.backend import array_module
from chainrule.optim.optimizer import Optimizer, ParamsT, state_like


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, Lecture 6e of *Neural Networks for Machine Learning*, 2012).

    .. math::
       \begin{aligned}
         &\textbf{input}: \gamma \text{ (lr)},\ \alpha \text{ (smoothing)},\ \theta_0 \text{ (params)},\
            f(\theta) \text{ (objective)},\ \lambda \text{ (weight decay)},\ \mu \text{ (momentum)},\
            \epsilon,\ \textit{centered},\ \textit{maximize} \\
         &v_0 \leftarrow 0,\ b_0 \leftarrow 0,\ g^{ave}_0 \leftarrow 0 \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize}) \\
         &\quad \textbf{if}\ \lambda \neq 0:\ g_t \leftarrow g_t + \lambda \theta_{t-1} \\
         &\quad v_t \leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
         &\quad \tilde{v}_t \leftarrow v_t \\
         &\quad \textbf{if}\ \textit{centered}:\
            g^{ave}_t \leftarrow \alpha g^{ave}_{t-1} + (1 - \alpha) g_t,\ \
            \tilde{v}_t \leftarrow \tilde{v}_t - \big(g^{ave}_t\big)^2 \\
         &\quad \textbf{if}\ \mu > 0:\
            b_t \leftarrow \mu b_{t-1} + g_t / \big(\sqrt{\tilde{v}_t} + \epsilon\big),\ \
            \theta_t \leftarrow \theta_{t-1} - \gamma b_t \\
         &\quad \textbf{else}:\
            \theta_t \leftarrow \theta_{t-1} - \gamma g_t / \big(\sqrt{\tilde{v}_t} + \epsilon\big) \\
         &\textbf{return}\ \theta_t
       \end{aligned}

    The centered form divides by an estimate of the gradient's variance rather
    than its second moment (Graves, *Generating Sequences With Recurrent Neural
    Networks*, 2013).

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate :math:`\gamma` (default 1e-2).
        alpha: smoothing constant :math:`\alpha` (default 0.99).
        eps: :math:`\epsilon`, added to the denominator for stability (default 1e-8).
        weight_decay: L2 penalty :math:`\lambda` (default 0).
        momentum: momentum factor :math:`\mu` (default 0).
        centered: normalise by the estimated variance of the gradient (default False).
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step`` (an int), ``square_avg`` (:math:`v_t`), ``momentum_buffer``
    (:math:`b_t`) when ``momentum > 0``, ``grad_avg`` (:math:`g^{ave}_t`) when centered.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.RMSprop([w], lr=0.01, alpha=0.75)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.98, -1.98], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        **implementation_options,
    ):
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults, **implementation_options)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        self._require(group["eps"] >= 0, f"invalid epsilon value: {group['eps']}")
        self._require(group["momentum"] >= 0, f"invalid momentum value: {group['momentum']}")
        self._require(group["weight_decay"] >= 0, f"invalid weight_decay value: {group['weight_decay']}")
        self._require(group["alpha"] >= 0, f"invalid alpha value: {group['alpha']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        momentum = float(group["momentum"])
        centered = group["centered"]
        maximize = group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            param = p._data
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = state_like(p)
            state["step"] += 1
            grad = self._gradient(p, maximize, weight_decay)
            square_avg = state["square_avg"]._data
            work = self._scratch(param, 1)
            square_avg *= alpha
            xp.multiply(grad, 1 - alpha, out=work)
            work *= grad
            square_avg += work
            if centered:
                if "grad_avg" not in state:
                    state["grad_avg"] = state_like(p)
                grad_avg = state["grad_avg"]._data
                # g_avg += (1 - alpha) (g - g_avg): PyTorch's lerp_, the same rounding.
                xp.subtract(grad, grad_avg, out=work)
                work *= 1 - alpha
                grad_avg += work
                xp.multiply(grad_avg, grad_avg, out=work)
                xp.subtract(square_avg, work, out=work)
                xp.sqrt(work, out=work)
            else:
                xp.sqrt(square_avg, out=work)
            work += eps
            xp.divide(grad, work, out=work)
            if momentum > 0:
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = state_like(p)
                buf = state["momentum_buffer"]._data
                buf *= momentum
                buf += work
                xp.multiply(buf, lr, out=work)
                param -= work
            else:
                work *= -lr
                param += work
