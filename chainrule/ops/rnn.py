"""Recurrent primitives: one layer of an Elman RNN, LSTM or GRU, in one direction, over a whole sequence.

``RecurrentLayer`` is a single graph node for ``T`` time steps. Its forward
computes the input projection of every step as one matmul before the loop;
each step is then one (N, G*H) matmul for the hidden-to-hidden part and a few
in-place array updates. Its backward is backpropagation through time written
out on arrays: the elementwise factors of every step (the activations'
derivatives) are computed for all steps at once before the loop, so the loop
holds only the sequential part, one matmul and a few products per step, and
the weight gradients are one matmul each after it. Composing the same layer
from tensor ops records about fifteen nodes per step and, for an LSTM(128, 256)
over 50 steps of a batch of 32, takes about 1.6 times as long forward and
backward (``composed_layer`` is that form; it also serves second derivatives).

Gate layouts are PyTorch's: the rows of ``w_ih`` (G*H, I) and ``w_hh``
(G*H, H) are [i, f, g, o] blocks for the LSTM and [r, z, n] for the GRU.

    RNN    h' = act(W_ih x + b_ih + W_hh h + b_hh)                act = tanh or relu
    LSTM   i, f, o = sigmoid(.), g = tanh(.) of W_ih x + b_ih + W_hh h + b_hh
           c' = f c + i g,   h' = o tanh(c')
    GRU    r, z = sigmoid(W_i{r,z} x + b_i{r,z} + W_h{r,z} h + b_h{r,z})
           n = tanh(W_in x + b_in + r (W_hn h + b_hn)),   h' = (1 - z) n + z h

Backprop recipes per step (``dh`` = the output's gradient plus the carry from
the step after; ``s(1 - s)`` and ``1 - t^2`` are sigmoid's and tanh's
derivatives from their outputs):

    RNN    dz = dh act'(z);                 dh_prev = dz W_hh
    LSTM   dc = dc_next + dh o (1 - tanh(c')^2)
           dz = [dc g i(1-i), dc c f(1-f), dc i (1-g^2), dh tanh(c') o(1-o)]
           dc_prev = dc f;                  dh_prev = dz W_hh
    GRU    dn* = dh (1 - z)(1 - n^2),  dz* = dh (h - n) z(1-z),  dr* = dn* (W_hn h + b_hn) r(1-r)
           d(input part) = [dr*, dz*, dn*],  d(hidden part) = [dr*, dz*, dn* r]
           dh_prev = dh z + d(hidden part) W_hh

and over all steps ``dW_ih = dZ_x^T X``, ``dW_hh = dZ_h^T H_prev``, ``db`` the
sums of ``dZ``, ``dX = dZ_x W_ih``.

Sigmoid is computed as ``(1 + tanh(z / 2)) / 2`` (exact, and it never
overflows): with the sigmoid rows of the weights halved, one ``tanh`` call
activates all gates of a step (RNN, GRU). The LSTM activates its gates from
one ``exp`` instead, NumPy's ``exp`` being about three times as fast as its
``tanh``: with its sigmoid rows scaled by -1 and its tanh rows by -2,
``1 / (1 + exp(.))`` is sigmoid(z) for the former and (1 + tanh(z)) / 2 for
the latter; exp overflowing to inf gives the limits 0 and -1 exactly.
"""

from __future__ import annotations

from chainrule.autograd.engine import grad
from chainrule.autograd.function import Op
from chainrule.autograd.grad_mode import GradMode
from chainrule.backend import array_module, library_of
from chainrule.ops.elementwise import relu, sigmoid, tanh
from chainrule.ops.linalg import Linear
from chainrule.ops.shape import Reshape, stack
from chainrule.tensor import Tensor

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


# --------------------------------------------------------------------------- shared pieces
def _steps(length: int, reverse: bool) -> range:
    return range(length - 1, -1, -1) if reverse else range(length)


def _step_slots(t: int, reverse: bool) -> tuple[int, int]:
    """Where step ``t`` reads its previous state and writes its new one in a (T + 1, N, H) state array.

    Forward: slot 0 is the initial state and slot t + 1 the output of step t.
    Reverse: slot T is the initial state and slot t the output of step t.
    Either way the outputs are one contiguous block and ``y[t]`` is slot t + 1 or t.
    """
    return (t + 1, t) if reverse else (t, t + 1)


def _outputs_and_previous(states, reverse: bool):
    """The (T, N, H) outputs and the (T, N, H) previous states, both views of ``states``."""
    return (states[:-1], states[1:]) if reverse else (states[1:], states[:-1])


def _initial_slot(length: int, reverse: bool) -> int:
    return length if reverse else 0


def _input_projection(x, w_ih, bias, scale=None):
    """(x W_ih^T + bias) * scale for all steps at once: (T, N, I) -> (T, N, G*H), a fresh array.

    ``scale`` (G*H,) multiplies the rows of W_ih and the bias (cheaper than the product).
    """
    length, batch, features = x.shape
    if scale is not None:
        w_ih = w_ih * scale[:, None]
        bias = None if bias is None else bias * scale
    z = x.reshape(length * batch, features) @ w_ih.T
    if bias is not None:
        z += bias
    return z.reshape(length, batch, w_ih.shape[0])  # sizes spelled out: an empty batch cannot infer -1


def _sum_biases(b_ih, b_hh):
    return b_ih if b_hh is None else b_hh if b_ih is None else b_ih + b_hh


def _row_factors(xp, hidden: int, blocks: tuple[float, ...], dtype):
    """Per-row factors of the gate rows (G*H,): ``blocks[k]`` for the rows of gate k."""
    return xp.concatenate([xp.full(hidden, factor, dtype=dtype) for factor in blocks])


def _parameter_grads(dz_x, dz_h, x, previous, w_ih, needs):
    """The gradients of x, W_ih, W_hh, b_ih, b_hh from the pre-activation gradients of all steps."""
    length, batch, features = x.shape
    rows_x = dz_x.reshape(length * batch, dz_x.shape[-1])
    rows_h = rows_x if dz_h is None else dz_h.reshape(length * batch, dz_h.shape[-1])
    grad_x = (rows_x @ w_ih).reshape(x.shape) if needs[0] else None
    grad_w_ih = rows_x.T @ x.reshape(length * batch, features) if needs[3] else None
    grad_w_hh = rows_h.T @ previous.reshape(length * batch, previous.shape[-1]) if needs[4] else None
    grad_b_ih = rows_x.sum(axis=0) if needs[5] else None
    grad_b_hh = rows_h.sum(axis=0) if needs[6] else None
    return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


# Large temporaries are slow to allocate (each is fresh memory, faulted in page by page), so the
# backward's factors are built in place through one scratch array.
def _sigmoid_derivative_times(s, other, out, scratch):
    """out = other s (1 - s): sigmoid's derivative, from its output s, times ``other``."""
    xp = array_module(s)
    xp.subtract(1, s, out=scratch)
    scratch *= s
    return xp.multiply(scratch, other, out=out)


def _tanh_derivative_times(t, other, out, scratch):
    """out = other (1 - t^2): tanh's derivative, from its output t, times ``other``."""
    xp = array_module(t)
    xp.multiply(t, t, out=scratch)
    xp.subtract(1, scratch, out=scratch)
    return xp.multiply(scratch, other, out=out)


# --------------------------------------------------------------------------- Elman RNN
def _rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse, relu_activation):
    xp = array_module(x)
    length, batch, _ = x.shape
    z = _input_projection(x, w_ih, _sum_biases(b_ih, b_hh))
    states = xp.empty((length + 1, batch, w_hh.shape[1]), dtype=x.dtype)
    states[_initial_slot(length, reverse)] = h0
    w_hh_t = w_hh.T
    for t in _steps(length, reverse):
        previous, current = _step_slots(t, reverse)
        step = z[t]
        step += states[previous] @ w_hh_t
        if relu_activation:
            xp.maximum(step, 0, out=states[current])
        else:
            xp.tanh(step, out=states[current])
    return states


def _rnn_backward(x, w_ih, w_hh, states, grad_y, grad_h, reverse, relu_activation, needs):
    xp = array_module(x)
    length = x.shape[0]
    outputs, previous = _outputs_and_previous(states, reverse)
    if relu_activation:
        derivative = (outputs > 0).astype(x.dtype)
    else:
        derivative = xp.multiply(outputs, outputs)
        xp.subtract(1, derivative, out=derivative)
    dz = xp.empty_like(derivative)
    grad_h = grad_h.copy()
    for t in _steps(length, not reverse):
        grad_h += grad_y[t]
        xp.multiply(grad_h, derivative[t], out=dz[t])
        grad_h = dz[t] @ w_hh
    return (grad_h, *_parameter_grads(dz, None, x, previous, w_ih, needs))


# --------------------------------------------------------------------------- LSTM
def _activate_lstm_gates(step, hidden: int):
    """In place: step (N, 4H) holds [-z_i, -z_f, -2 z_g, -z_o], then [s(z_i), s(z_f), tanh(z_g), s(z_o)], s sigmoid."""
    xp = array_module(step)
    with library_of(step).errstate(over="ignore"):  # exp -> inf: the gate's limit, exactly
        xp.exp(step, out=step)
    step += 1
    xp.divide(1, step, out=step)
    candidate = step[:, 2 * hidden : 3 * hidden]  # (1 + tanh) / 2 -> tanh
    candidate *= 2
    candidate -= 1


def _lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """States (T + 1, N, H), cells (T + 1, N, H), gate activations (T, N, 4H) and tanh of the cells (T, N, H)."""
    xp = array_module(x)
    length, batch, _ = x.shape
    hidden = w_hh.shape[1]
    scale = _row_factors(xp, hidden, (-1.0, -1.0, -2.0, -1.0), x.dtype)  # exp(-z) for sigmoid, exp(-2z) for tanh
    gates = _input_projection(x, w_ih, _sum_biases(b_ih, b_hh), scale)
    w_hh_t = xp.ascontiguousarray((w_hh * scale[:, None]).T)
    states = xp.empty((length + 1, batch, hidden), dtype=x.dtype)
    cells = xp.empty_like(states)
    tanh_cells = xp.empty((length, batch, hidden), dtype=x.dtype)
    first = _initial_slot(length, reverse)
    states[first] = h0
    cells[first] = c0
    input_times_candidate = xp.empty((batch, hidden), dtype=x.dtype)
    for t in _steps(length, reverse):
        previous, current = _step_slots(t, reverse)
        step = gates[t]
        step += states[previous] @ w_hh_t
        _activate_lstm_gates(step, hidden)
        i, f, g, o = (step[:, k * hidden : (k + 1) * hidden] for k in range(4))
        cell = cells[current]
        xp.multiply(f, cells[previous], out=cell)
        xp.multiply(i, g, out=input_times_candidate)
        cell += input_times_candidate
        xp.tanh(cell, out=tanh_cells[t])
        xp.multiply(o, tanh_cells[t], out=states[current])
    return states, cells, gates, tanh_cells


def _lstm_backward(x, w_ih, w_hh, states, cells, gates, tanh_cells, grad_y, grad_h, grad_c, reverse, needs):
    xp = array_module(x)
    length, batch, _ = x.shape
    hidden = w_hh.shape[1]
    _, previous = _outputs_and_previous(states, reverse)
    _, previous_cells = _outputs_and_previous(cells, reverse)
    i, f, g, o = (gates[..., k * hidden : (k + 1) * hidden] for k in range(4))
    # dz = factors * [dc, dc, dc, dh]: everything but the sequential dc and dh, for all steps at once.
    factors = xp.empty((length, batch, 4, hidden), dtype=x.dtype)
    scratch = xp.empty_like(tanh_cells)
    _sigmoid_derivative_times(i, g, factors[:, :, 0], scratch)
    _sigmoid_derivative_times(f, previous_cells, factors[:, :, 1], scratch)
    _tanh_derivative_times(g, i, factors[:, :, 2], scratch)
    _sigmoid_derivative_times(o, tanh_cells, factors[:, :, 3], scratch)
    output_to_cell = _tanh_derivative_times(tanh_cells, o, xp.empty_like(scratch), scratch)
    dz = xp.empty_like(factors)
    grad_h, grad_c = grad_h.copy(), grad_c.copy()
    for t in _steps(length, not reverse):
        grad_h += grad_y[t]
        grad_cell = grad_h * output_to_cell[t]
        grad_cell += grad_c
        xp.multiply(factors[t, :, :3], grad_cell[:, None, :], out=dz[t, :, :3])
        xp.multiply(factors[t, :, 3], grad_h, out=dz[t, :, 3])
        grad_c = grad_cell * f[t]
        grad_h = dz[t].reshape(batch, 4 * hidden) @ w_hh
    dz = dz.reshape(length, batch, 4 * hidden)
    return (grad_h, grad_c, *_parameter_grads(dz, None, x, previous, w_ih, needs))


# --------------------------------------------------------------------------- GRU
def _gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
    """States (T + 1, N, H), activations [r, z, n] (T, N, 3H) and W_hn h + b_hn (T, N, H)."""
    xp = array_module(x)
    length, batch, _ = x.shape
    hidden = w_hh.shape[1]
    scale = _row_factors(xp, hidden, (0.5, 0.5, 1.0), x.dtype)  # sigmoid(z) = (1 + tanh(z / 2)) / 2
    reset_update_bias = None
    if b_hh is not None:  # b_hr and b_hz add like b_ih; b_hn sits inside r * (...)
        reset_update_bias = xp.concatenate([b_hh[: 2 * hidden], xp.zeros(hidden, dtype=x.dtype)])
    gates = _input_projection(x, w_ih, _sum_biases(b_ih, reset_update_bias), scale)
    w_hh_t = (w_hh * scale[:, None]).T
    hidden_new = xp.empty((length, batch, hidden), dtype=x.dtype)
    states = xp.empty((length + 1, batch, hidden), dtype=x.dtype)
    states[_initial_slot(length, reverse)] = h0
    for t in _steps(length, reverse):
        previous, current = _step_slots(t, reverse)
        projected = states[previous] @ w_hh_t
        reset_update = gates[t, :, : 2 * hidden]
        reset_update += projected[:, : 2 * hidden]
        xp.tanh(reset_update, out=reset_update)
        reset_update *= 0.5
        reset_update += 0.5
        r, z = reset_update[:, :hidden], reset_update[:, hidden:]
        hidden_part = hidden_new[t]
        if b_hh is not None:
            xp.add(projected[:, 2 * hidden :], b_hh[2 * hidden :], out=hidden_part)
        else:
            hidden_part[...] = projected[:, 2 * hidden :]
        n = gates[t, :, 2 * hidden :]
        n += r * hidden_part
        xp.tanh(n, out=n)
        # h' = n + z (h - n)
        new_state = states[current]
        xp.subtract(states[previous], n, out=new_state)
        new_state *= z
        new_state += n
    return states, gates, hidden_new


def _gru_backward(x, w_ih, w_hh, states, gates, hidden_new, grad_y, grad_h, reverse, needs):
    xp = array_module(x)
    length, batch, _ = x.shape
    hidden = w_hh.shape[1]
    _, previous = _outputs_and_previous(states, reverse)
    r, z, n = (gates[..., k * hidden : (k + 1) * hidden] for k in range(3))
    scratch = xp.empty_like(hidden_new)
    to_candidate = xp.subtract(1, z)  # dn* = dh (1 - z)(1 - n^2)
    _tanh_derivative_times(n, to_candidate, to_candidate, scratch)
    to_update = xp.subtract(previous, n)  # dz* = dh (h - n) z (1 - z)
    _sigmoid_derivative_times(z, to_update, to_update, scratch)
    # dr* = dn* (W_hn h + b_hn) r (1 - r)
    candidate_to_reset = _sigmoid_derivative_times(r, hidden_new, xp.empty_like(scratch), scratch)
    dz_x = xp.empty((length, batch, 3 * hidden), dtype=x.dtype)
    dz_h = xp.empty_like(dz_x)
    grad_h = grad_h.copy()
    for t in _steps(length, not reverse):
        grad_h += grad_y[t]
        grad_candidate = dz_x[t, :, 2 * hidden :]
        xp.multiply(grad_h, to_candidate[t], out=grad_candidate)
        xp.multiply(grad_candidate, candidate_to_reset[t], out=dz_h[t, :, :hidden])
        xp.multiply(grad_h, to_update[t], out=dz_h[t, :, hidden : 2 * hidden])
        xp.multiply(grad_candidate, r[t], out=dz_h[t, :, 2 * hidden :])
        carried = grad_h * z[t]
        carried += dz_h[t] @ w_hh
        grad_h = carried
    dz_x[..., : 2 * hidden] = dz_h[..., : 2 * hidden]
    return (grad_h, *_parameter_grads(dz_x, dz_h, x, previous, w_ih, needs))


# --------------------------------------------------------------------------- the op
class RecurrentLayer(Op):
    """One layer and direction over a sequence: (x, h0, c0, W_ih, W_hh, b_ih, b_hh) -> (y, h_n[, c_n]).

    x: (T, N, I), time first; h0, c0: (N, H) (c0 only for the LSTM, else None;
    a None h0 or c0 means zeros); W_ih: (G*H, I); W_hh: (G*H, H); biases
    (G*H,) or None. ``mode`` is one of ``MODES``; ``reverse`` runs from the
    last step to the first (the backward direction of a bidirectional layer).
    y: (T, N, H) holds each step's state at that step's position.
    """

    name = "recurrent_layer"

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode, reverse):
        ctx.mode, ctx.reverse = mode, reverse
        inputs = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)  # all saved: higher derivatives rebuild the layer from them
        xp = array_module(x)
        state_shape = (x.shape[1], w_hh.shape[1])
        h0 = xp.zeros(state_shape, dtype=x.dtype) if h0 is None else h0
        final = 0 if reverse else x.shape[0]
        if mode == "lstm":
            c0 = xp.zeros(state_shape, dtype=x.dtype) if c0 is None else c0
            states, cells, gates, tanh_cells = _lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse)
            ctx.save_for_backward(*inputs, states, cells, gates, tanh_cells)
            return _outputs_and_previous(states, reverse)[0], states[final].copy(), cells[final].copy()
        if mode == "gru":
            states, gates, hidden_new = _gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)
            ctx.save_for_backward(*inputs, states, gates, hidden_new)
        else:
            states = _rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse, mode == "rnn_relu")
            ctx.save_for_backward(*inputs, states)
        return _outputs_and_previous(states, reverse)[0], states[final].copy()

    @staticmethod
    def backward(ctx, *grad_outputs):
        if GradMode.enabled:  # create_graph=True: the gradient must itself have a graph
            return _differentiable_backward(ctx, grad_outputs)
        saved = [value._data if isinstance(value, Tensor) else value for value in ctx.saved_tensors]
        x, _, _, w_ih, w_hh, _, _, *internals = saved
        grads = [g._data for g in grad_outputs]
        needs = ctx.needs_input_grad
        mode, reverse = ctx.mode, ctx.reverse
        if mode == "lstm":
            grad_h0, grad_c0, *rest = _lstm_backward(x, w_ih, w_hh, *internals, *grads, reverse, needs)
        elif mode == "gru":
            grad_h0, *rest = _gru_backward(x, w_ih, w_hh, *internals, *grads, reverse, needs)
            grad_c0 = None
        else:
            grad_h0, *rest = _rnn_backward(x, w_ih, w_hh, *internals, *grads, reverse, mode == "rnn_relu", needs)
            grad_c0 = None
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = rest
        ordered = (grad_x, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh)
        return tuple(Tensor._wrap(g) if need and g is not None else None for g, need in zip(ordered, needs))


def _differentiable_backward(ctx, grad_outputs):
    """The vector-Jacobian product with a graph: differentiate the composed per-step form of the layer.

    Used only for higher derivatives (``create_graph=True``). Each input that
    needs a gradient is aliased by an identity node first, so the inner
    ``autograd.grad`` stops there instead of walking into the inputs' history.
    """
    needs = ctx.needs_input_grad
    inputs = ctx.saved_tensors[:7]
    aliases = [Reshape.apply(value, shape=value.shape) if need else value for value, need in zip(inputs, needs)]
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = aliases
    xp = array_module(x._data)
    state_shape = (x.shape[1], w_hh.shape[1])
    if h0 is None:
        h0 = Tensor._wrap(xp.zeros(state_shape, dtype=x.dtype))
    if c0 is None and ctx.mode == "lstm":
        c0 = Tensor._wrap(xp.zeros(state_shape, dtype=x.dtype))
    outputs = composed_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, ctx.mode, ctx.reverse)
    wanted = [alias for alias, need in zip(aliases, needs) if need]
    found = iter(grad(outputs, wanted, list(grad_outputs), create_graph=True, allow_unused=True))
    return tuple(next(found) if need else None for need in needs)


# --------------------------------------------------------------------------- the composed form
def rnn_cell(x: Tensor, h: Tensor, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh") -> Tensor:
    """One Elman step from tensor ops: act(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    pre = Linear.apply(x, w_ih, b_ih) + Linear.apply(h, w_hh, b_hh)
    return relu(pre) if nonlinearity == "relu" else tanh(pre)


def lstm_cell(x: Tensor, h: Tensor, c: Tensor, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor, Tensor]:
    """One LSTM step from tensor ops; returns (h', c')."""
    gates = Linear.apply(x, w_ih, b_ih) + Linear.apply(h, w_hh, b_hh)
    i, f, g, o = gates.chunk(4, -1)
    c_new = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c_new), c_new


def gru_cell(x: Tensor, h: Tensor, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step from tensor ops."""
    input_r, input_z, input_n = Linear.apply(x, w_ih, b_ih).chunk(3, -1)
    hidden_r, hidden_z, hidden_n = Linear.apply(h, w_hh, b_hh).chunk(3, -1)
    r = sigmoid(input_r + hidden_r)
    z = sigmoid(input_z + hidden_z)
    n = tanh(input_n + r * hidden_n)
    return n + z * (h - n)


def composed_layer(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode: str, reverse: bool = False):
    """``RecurrentLayer`` written with per-step tensor ops (same inputs and outputs; h0 and c0 required)."""
    outputs = [None] * x.shape[0]
    h, c = h0, c0
    for t in _steps(x.shape[0], reverse):
        if mode == "lstm":
            h, c = lstm_cell(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        elif mode == "gru":
            h = gru_cell(x[t], h, w_ih, w_hh, b_ih, b_hh)
        else:
            h = rnn_cell(x[t], h, w_ih, w_hh, b_ih, b_hh, "relu" if mode == "rnn_relu" else "tanh")
        outputs[t] = h
    y = stack(outputs, 0)
    return (y, h, c) if mode == "lstm" else (y, h)
