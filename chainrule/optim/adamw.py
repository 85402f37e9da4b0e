"""AdamW: Adam with the weight decay applied to the weights, not added to the gradient."""

from __future__ import annotations

from chainrule.optim.adam import Adam
from chainrule.optim.optimizer import ParamsT


class AdamW(Adam):
    r"""AdamW (Loshchilov and Hutter, *Decoupled Weight Decay Regularization*, 2019).

    Adam's update with the decay taken out of the adaptive scaling: each step
    first shrinks the weights by :math:`1 - \gamma\lambda`, then takes Adam's step
    on the plain gradient.

    .. math::
       \begin{aligned}
         &\textbf{input}: \gamma \text{ (lr)},\ \beta_1, \beta_2 \text{ (betas)},\ \theta_0 \text{ (params)},\
            f(\theta) \text{ (objective)},\ \lambda \text{ (weight decay)},\ \epsilon,\
            \textit{amsgrad},\ \textit{maximize} \\
         &m_0 \leftarrow 0,\ v_0 \leftarrow 0,\ v_0^{\max} \leftarrow 0 \\
         &\textbf{for}\ t = 1, 2, \ldots\ \textbf{do} \\
         &\quad g_t \leftarrow \nabla_\theta f_t(\theta_{t-1})
            \quad (\text{negated if } \textit{maximize}) \\
         &\quad \theta_{t-1} \leftarrow \theta_{t-1} - \gamma \lambda \theta_{t-1} \\
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

    Args:
        params: tensors to optimize, or dicts defining parameter groups.
        lr: learning rate :math:`\gamma` (default 1e-3).
        betas: :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
        eps: :math:`\epsilon` (default 1e-8).
        weight_decay: decoupled decay :math:`\lambda` (default 1e-2).
        amsgrad: use the running maximum of :math:`v_t` (default False).
        maximize: ascend the objective instead of descending it.

    State per parameter: as :class:`Adam`'s.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.data
        tensor([ 0.85, -1.8 ], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        **implementation_options,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            **implementation_options,
        )

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # a checkpoint of plain Adam must not turn the decay back to L2
            group["decoupled_weight_decay"] = True
