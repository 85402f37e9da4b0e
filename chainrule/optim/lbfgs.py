"""L-BFGS: a quasi-Newton method that re-evaluates the objective through a closure.

All parameters are handled as one flat vector ``x``; the inverse Hessian is
never formed, only applied, from the last ``history_size`` pairs
``s = x_{k+1} - x_k`` and ``y = g_{k+1} - g_k`` (the two-loop recursion).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.backend import array_module, is_array, to_device
from chainrule.optim.optimizer import Optimizer, ParamsT
from chainrule.tensor import Tensor


class LBFGS(Optimizer):
    r"""Limited-memory BFGS (Nocedal, 1980; Liu and Nocedal, 1989), as PyTorch's ``LBFGS``.

    Each ``step(closure)`` runs up to ``max_iter`` iterations of

    .. math::
       \begin{aligned}
         &d_k \leftarrow -H_k g_k \quad (\text{two-loop recursion over the stored } (s_i, y_i),\
            H_0 = \tfrac{s^\top y}{y^\top y} I) \\
         &t_k \leftarrow \gamma \quad (\text{first iteration: } \min(1, 1/\lVert g_0\rVert_1)\gamma;\
            \text{or a strong-Wolfe line search}) \\
         &x_{k+1} \leftarrow x_k + t_k d_k,\quad s_k = t_k d_k,\ y_k = g_{k+1} - g_k
            \ (\text{stored when } y_k^\top s_k > 10^{-10})
       \end{aligned}

    stopping when the largest gradient entry is at most ``tolerance_grad``, the
    step or the change of the loss is below ``tolerance_change``, or after
    ``max_eval`` evaluations of the closure. The closure clears the gradients,
    computes the loss, calls ``backward()`` and returns the loss::

        def closure():
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss
        optimizer.step(closure)

    Args:
        params: the tensors to optimize (one group only).
        lr: :math:`\gamma`, the step length (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when :math:`\max_i |g_i|` is at most this (default 1e-7).
        tolerance_change: stop when the step or the loss changes less (default 1e-9).
        history_size: how many :math:`(s, y)` pairs to keep (default 100).
        line_search_fn: None (fixed step) or ``"strong_wolfe"``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import optim
        >>> w = cr.tensor([3.0, -1.0], requires_grad=True)
        >>> opt = optim.LBFGS([w], lr=1.0, line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> w.data
        tensor([1., 1.], shape=(2,), dtype=float32)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        search = group["line_search_fn"]
        self._require(
            search in (None, "strong_wolfe"), f"line_search_fn must be None or 'strong_wolfe', got {search!r}"
        )

    def _restore_state_value(self, key: str, value, param: Tensor, where: str):
        """The state is flat vectors over all parameters (and lists of them): copied to the parameters' device."""
        if isinstance(value, list):
            return [self._restore_state_value(key, item, param, where) for item in value]
        array = value._data if isinstance(value, Tensor) else value
        if is_array(array):
            return to_device(array, param.device).copy()
        return copy.deepcopy(value)

    # ------------------------------------------------------------------ the flat view of the parameters
    def _flat_grad(self) -> np.ndarray:
        """Every parameter's gradient in one vector (zeros for a parameter without one)."""
        xp = array_module(self._params[0]._data)
        return xp.concatenate(
            [
                xp.zeros(p._data.size, p._data.dtype) if p.grad is None else p.grad._data.reshape(-1)
                for p in self._params
            ]
        )

    def _add_to_params(self, step, direction: np.ndarray) -> None:
        """``x += step * direction`` over the flat vector of parameters."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (direction[offset : offset + n] * step).reshape(p._data.shape).astype(p._data.dtype, copy=False)
            offset += n
        self._bump_versions()

    def _set_params(self, values: list[np.ndarray]) -> None:
        for p, value in zip(self._params, values):
            p._data[...] = value
        self._bump_versions()

    def _bump_versions(self) -> None:
        for p in self._params:
            p._version += 1

    def _evaluate(self, closure: Callable[[], Any]) -> float:
        with enable_grad():
            return float(closure())

    def _directional_evaluate(self, closure, x: list[np.ndarray], t, d: np.ndarray):
        """The loss and flat gradient at ``x + t d``; the parameters are put back to ``x``."""
        self._add_to_params(t, d)
        loss = self._evaluate(closure)
        flat_grad = self._flat_grad()
        self._set_params(x)
        return loss, flat_grad

    # ------------------------------------------------------------------ one step
    def step(self, closure: Callable[[], Any]):  # noqa: C901 (the algorithm reads best in one place)
        """Run up to ``max_iter`` iterations; returns the loss of the first evaluation of ``closure``."""
        if closure is None:
            raise RuntimeError("LBFGS.step: requires a closure that re-evaluates the model and returns the loss")
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the curvature pair only where it is positive
                    if len(old_dirs) == group["history_size"]:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                d = two_loop_direction(flat_grad, old_dirs, old_stps, ro, H_diag)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            if group["line_search_fn"] is not None:
                x_init = [p._data.copy() for p in self._params]

                def objective(x, step, direction):
                    return self._directional_evaluate(closure, x, step, direction)

                loss, flat_grad, t, evals = strong_wolfe(
                    objective, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_to_params(t, d)
                optimal = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                evals = 0
                optimal = False
                if n_iter != max_iter:
                    loss = self._evaluate(closure)
                    flat_grad = self._flat_grad()
                    optimal = abs(flat_grad).max() <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals
            if n_iter == max_iter or current_evals >= max_eval or optimal:
                break
            if abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_flat_grad,
            prev_loss=prev_loss,
        )
        return orig_loss


def two_loop_direction(flat_grad, old_dirs, old_stps, ro, H_diag) -> np.ndarray:
    """``-H g`` by the two-loop recursion over the stored pairs (``old_dirs`` are y, ``old_stps`` are s)."""
    q = -flat_grad
    alphas = [None] * len(old_dirs)
    for i in range(len(old_dirs) - 1, -1, -1):
        alphas[i] = old_stps[i].dot(q) * ro[i]
        q -= old_dirs[i] * alphas[i]
    r = q * H_diag
    for i in range(len(old_dirs)):
        beta = old_dirs[i].dot(r) * ro[i]
        r += old_stps[i] * (alphas[i] - beta)
    return r


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through ``(x1, f1)``, ``(x2, f2)`` with slopes ``g1``, ``g2``, clipped to bounds.

    Falls back to the middle of the bounds when the cubic has no minimum.
    """
    xmin_bound, xmax_bound = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (xmin_bound + xmax_bound) / 2.0
    d2 = array_module(d2_square).sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, xmin_bound), xmax_bound)


def strong_wolfe(objective, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step ``t`` along ``d`` meeting the strong Wolfe conditions (Nocedal and Wright, algorithms 3.5-3.6).

    Sufficient decrease ``f(x + t d) <= f + c1 t g.d`` and curvature
    ``|g(x + t d).d| <= c2 |g.d|``: first bracket an interval that holds such
    a step (growing ``t`` by cubic extrapolation), then shrink it by cubic
    interpolation ("zoom"). Returns ``(f_new, g_new, t, evaluations)``.
    """
    d_norm = abs(d).max()
    g = g.copy()
    f_new, g_new = objective(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:  # bracketing
        # The conditions are checked in this order: a step that is too long, one that
        # is good enough, one past the minimum.
        too_long = f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev)
        if not too_long and abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if too_long or gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new.copy(), gtd_new
        f_new, g_new = objective(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:  # zoom
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # Keep t away from the ends of the bracket, or the interval shrinks too slowly.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = objective(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals
