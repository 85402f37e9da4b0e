"""Adam: adaptive moment estimation, with optional AMSGrad and decoupled weight decay."""

from __future__ import annotations

from typing import Any

from chainrule.backend import array_module
from chainrule.optim.optimizer import Optimizer, ParamsT, state_like
from chainrule.tensor import Tensor


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2014): steps scaled by running estimates of the gradient's moments.

    .. math::
       \begin{aligned}
         &\textbf{input}: \gamma \text{ (lr)},\ \beta_1, \beta_2 \text{ (betas)},\ \theta_0 \text{ (params)},\
            f(\theta) \text{ (objective)},\ \lambda \text{ (weight decay)},\ \epsilon,\
            \textit{amsgrad},\ \textit{maximize} \\
         &m_0 \leftarrow 0,\ v_0 \leftarrow 0,\ \hat{v}_0^{\max} \leftarrow 0 \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize}) \\
         &\quad \textbf{if}\ \lambda \neq 0: \
            g_t \leftarrow g_t + \lambda \theta_{t-1}
            \quad (\text{AdamW instead: } \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1}) \\
         &\quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
         &\quad v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
         &\quad \widehat{m_t} \leftarrow m_t / (1 - \beta_1^t) \\
         &\quad \textbf{if}\ \textit{amsgrad}:\
            v_t^{\max} \leftarrow \max(v_{t-1}^{\max}, v_t),\ \
            \widehat{v_t} \leftarrow v_t^{\max} / (1 - \beta_2^t) \\
         &\quad \textbf{else}:\ \widehat{v_t} \leftarrow v_t / (1 - \beta_2^t) \\
         &\quad \theta_t \leftarrow \theta_{t-1} - \gamma \widehat{m_t} / \big(\sqrt{\widehat{v_t}} + \epsilon\big) \\
         &\textbf{return}\ \theta_t
       \end{aligned}

    The bias corrections :math:`1 - \beta^t` undo the pull of the zero
    initialisation of :math:`m` and :math:`v` during the first steps. AMSGrad is
    from Reddi et al., *On the Convergence of Adam and Beyond* (2018).

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate :math:`\gamma` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)`, decay rates of the moment estimates (default (0.9, 0.999)).
        eps: :math:`\epsilon`, added to the denominator for stability (default 1e-8).
        weight_decay: :math:`\lambda` (default 0), an L2 penalty added to the gradient.
        amsgrad: use the running maximum of :math:`v_t` (default False).
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).

    State per parameter: ``step`` (an int), ``exp_avg`` (:math:`m_t`), ``exp_avg_sq`` (:math:`v_t`),
    and ``max_exp_avg_sq`` with amsgrad; the tensors are shaped as the parameter.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.9, -1.9], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        **implementation_options,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults, **implementation_options)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        validate_adam_group(self, group)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        eps = float(group["eps"])
        amsgrad = group["amsgrad"]
        for p in group["params"]:
            if p.grad is None:
                continue
            xp = array_module(p._data)
            param = p._data
            state = self._state_for(p, amsgrad)
            state["step"] += 1
            step = state["step"]
            grad = decayed_gradient(self, p, group)
            exp_avg = state["exp_avg"]._data
            exp_avg_sq = state["exp_avg_sq"]._data
            work = self._scratch(param, 1)
            update_moments(exp_avg, exp_avg_sq, grad, beta1, beta2, work)
            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            if amsgrad:
                max_exp_avg_sq = state["max_exp_avg_sq"]._data
                xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
                xp.sqrt(max_exp_avg_sq, out=work)
            else:
                xp.sqrt(exp_avg_sq, out=work)
            work /= bias_correction2_sqrt
            work += eps
            xp.divide(exp_avg, work, out=work)
            work *= -(lr / bias_correction1)
            param += work

    def _state_for(self, p: Tensor, amsgrad: bool) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = state_like(p)
            state["exp_avg_sq"] = state_like(p)
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = state_like(p)
        return state


def validate_adam_group(optimizer: Optimizer, group: dict[str, Any]) -> None:
    """The range checks of the Adam family: ``eps >= 0``, two betas in [0, 1), ``weight_decay >= 0``."""
    optimizer._require(group["eps"] >= 0, f"invalid epsilon value: {group['eps']}")
    betas = group["betas"]
    optimizer._require(len(betas) == 2, f"betas must be a pair (beta1, beta2), got {betas}")
    for i, beta in enumerate(betas):
        optimizer._require(0 <= beta < 1, f"invalid beta parameter at index {i}: {beta} (must be in [0, 1))")
    optimizer._require(group["weight_decay"] >= 0, f"invalid weight_decay value: {group['weight_decay']}")


def decayed_gradient(optimizer: Optimizer, p, group: dict[str, Any]):
    """``p``'s gradient with the group's weight decay: added to it (L2), or applied to ``p`` (decoupled)."""
    weight_decay = float(group["weight_decay"])
    if group["decoupled_weight_decay"]:
        if weight_decay != 0:
            p._data *= 1 - float(group["lr"]) * weight_decay
        return optimizer._gradient(p, group["maximize"], 0.0)
    return optimizer._gradient(p, group["maximize"], weight_decay)


def update_moments(exp_avg, exp_avg_sq, grad, beta1: float, beta2: float, work) -> None:
    """Adam's running moments in place: ``m += (1 - b1)(g - m)`` (as a lerp), ``v = b2 v + (1 - b2) g^2``."""
    xp = array_module(grad)
    xp.subtract(grad, exp_avg, out=work)
    work *= 1 - beta1
    exp_avg += work
    exp_avg_sq *= beta2
    xp.multiply(grad, 1 - beta2, out=work)
    work *= grad
    exp_avg_sq += work
