"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` over whole sequences, and their one-step ``...Cell`` forms.

Parameters, their names and shapes, their initialisation (U(-1/sqrt(H),
1/sqrt(H)) for every weight and bias) and the shapes of inputs and outputs are
PyTorch's, so a PyTorch state_dict loads unchanged::

    lstm = cr.nn.LSTM(128, 256, num_layers=2, batch_first=True)
    output, (h_n, c_n) = lstm(x)      # x: (N, T, 128) -> output (N, T, 256); h_n, c_n: (2, N, 256)

Each layer and direction runs as one fused graph node (``chainrule.ops.rnn``):
one matmul projects the inputs of all time steps, one (N, G*H) matmul per step
does the hidden-to-hidden part, and its backward is backpropagation through
time written out on arrays.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import empty_parameter
from chainrule.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence
from chainrule.ops.rnn import GATES, RecurrentLayer
from chainrule.ops.shape import cat, stack
from chainrule.tensor import Tensor

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_MODE_NAMES = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}


def _check_positive_int(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero, got {value}")


def _shape_text(shape) -> str:
    return str(tuple(shape))


class RNNBase(Module):
    """The machinery shared by ``RNN``, ``LSTM`` and ``GRU``: parameters, state checks and the layer loop.

    ``mode`` is PyTorch's: "RNN_TANH", "RNN_RELU", "LSTM" or "GRU". For layer k
    and direction d (suffix "" or "_reverse") the parameters are
    ``weight_ih_l{k}{d}`` (G*H, I_k), ``weight_hh_l{k}{d}`` (G*H, H) and, with
    ``bias``, ``bias_ih_l{k}{d}``, ``bias_hh_l{k}{d}`` (G*H,), where G is 1, 4
    or 3 gates and I_k is ``input_size`` for k = 0, else H times the number of
    directions.

    >>> from chainrule import nn
    >>> lstm = nn.LSTM(4, 8, num_layers=2)
    >>> [name for name, _ in lstm.named_parameters()][:4]
    ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
    """

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if mode not in _MODE_NAMES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        _check_positive_int(input_size, "input_size")
        _check_positive_int(hidden_size, "hidden_size")
        _check_positive_int(num_layers, "num_layers")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element being "
                f"zeroed, got {dropout!r}"
            )
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size:
            if proj_size >= hidden_size:
                raise ValueError("proj_size has to be smaller than hidden_size")
            raise NotImplementedError("LSTM: proj_size > 0 (projected LSTM states) is not supported by chainrule yet")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._op_mode = _MODE_NAMES[mode]
        gate_size = GATES[self._op_mode] * hidden_size
        num_directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * num_directions
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input_size), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                names = []
                for name, shape in shapes.items():
                    setattr(self, name + suffix, empty_parameter(shape, device, dtype))
                    names.append(name + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """Accepted for PyTorch compatibility (a cuDNN memory-layout call); nothing to do here."""

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters of each layer and direction: [[w_ih, w_hh, b_ih, b_hh], ...]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    @property
    def _num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    # ------------------------------------------------------------------ checks
    def _check_input(self, input: Tensor) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._get_name()}: expected a Tensor input, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{self._get_name()}: expected input to be 2D (unbatched) or 3D, got {input.ndim}D input "
                f"of shape {_shape_text(input.shape)}"
            )
        weight = self.weight_ih_l0
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{self!r}: input of shape {_shape_text(input.shape)} has {input.shape[-1]} features in its last "
                f"dim, but the layer expects input_size={self.input_size} "
                f"(weight_ih_l0 of shape {_shape_text(weight.shape)})"
            )
        if input.dtype != weight.dtype:
            raise RuntimeError(
                f"{self._get_name()}: input dtype {input.dtype} does not match the parameters' dtype {weight.dtype}; "
                "convert the input with .to(dtype) or the layer with .to(dtype)"
            )

    def _check_state(self, state, name: str, batch: int, batched: bool, input: Tensor) -> Tensor:
        """A given initial state, checked against (L * D, N, H) (or (L * D, H) unbatched), as 3-D."""
        if not isinstance(state, Tensor):
            raise TypeError(f"{self._get_name()}: {name} must be a Tensor, got {type(state).__name__}")
        layers = self.num_layers * self._num_directions
        expected = (layers, batch, self.hidden_size) if batched else (layers, self.hidden_size)
        if tuple(state.shape) != expected:
            kind = "3-D" if batched else "2-D"
            raise RuntimeError(
                f"{self._get_name()}: expected {name} of shape {expected} ({kind} for a "
                f"{'batched' if batched else 'unbatched'} input of shape {_shape_text(input.shape)}), "
                f"got {_shape_text(state.shape)}"
            )
        if state.dtype != input.dtype:
            raise RuntimeError(
                f"{self._get_name()}: {name} dtype {state.dtype} does not match the input's {input.dtype}"
            )
        return state if batched else state.unsqueeze(1)

    # ------------------------------------------------------------------ running it
    def _run(self, input: Tensor, states: tuple):
        """The layer loop on a time-first (T, N, I) input; ``states`` are (L * D, N, H) tensors or None."""
        num_directions = self._num_directions
        layer_input = input
        finals = [[] for _ in range(2 if self._op_mode == "lstm" else 1)]
        all_weights = self.all_weights
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                index = layer * num_directions + direction
                initial = [None if s is None else s[index] for s in states]
                if self._op_mode != "lstm":
                    initial.append(None)
                weights = all_weights[index]
                if not self.bias:
                    weights = [*weights, None, None]
                output, *last = RecurrentLayer.apply(
                    layer_input, *initial, *weights, mode=self._op_mode, reverse=direction == 1
                )
                outputs.append(output)
                for collected, value in zip(finals, last):
                    collected.append(value)
            layer_input = outputs[0] if num_directions == 1 else cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, [stack(collected, 0) for collected in finals]

    def _forward(self, input: Tensor | PackedSequence, hx: tuple):
        """Checks, layout changes and the layer loop; ``hx`` holds the given states (or Nones)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        self._check_input(input)
        batched = input.ndim == 3
        batch = (input.shape[0] if self.batch_first else input.shape[1]) if batched else 1
        states = tuple(
            None if state is None else self._check_state(state, name, batch, batched, input)
            for state, name in zip(hx, ("h_0", "c_0"))
        )
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        output, finals = self._run(input, states)
        if not batched:
            return output.squeeze(1), [final.squeeze(1) for final in finals]
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, finals

    def _forward_packed(self, packed: PackedSequence, hx: tuple):
        """The layers over a PackedSequence: one run per group of equal-length sequences.

        Within a group every sequence ends at the same step, so the plain padded run
        is exact (the reverse direction starts at each sequence's own last step, and
        the final states are those of each sequence's last step).
        """
        self._check_input(packed.data)
        padded, _ = pad_packed_sequence(packed._replace(sorted_indices=None, unsorted_indices=None))
        lengths = packed.lengths()
        states = []
        for state, name in zip(hx, ("h_0", "c_0")):
            if state is not None:
                state = self._check_state(state, name, len(lengths), True, padded)
                if packed.sorted_indices is not None:
                    state = state[:, packed.sorted_indices.numpy()]
            states.append(state)
        outputs, finals = [], []
        for start in np.flatnonzero(np.diff(lengths, prepend=-1)):
            end, length = int(start + (lengths == lengths[start]).sum()), int(lengths[start])
            group_states = tuple(None if state is None else state[:, start:end] for state in states)
            output, group_finals = self._run(padded[:length, start:end], group_states)
            outputs.append(F.pad(output, (0, 0, 0, 0, 0, padded.shape[0] - length)))
            finals.append(group_finals)
        output = pack_padded_sequence(cat(outputs, 1), lengths)
        finals = [cat(parts, 1) for parts in zip(*finals)]
        if packed.unsorted_indices is not None:
            finals = [final[:, packed.unsorted_indices.numpy()] for final in finals]
        return packed._replace(data=output.data), finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``.

    ``forward(input, hx=None)``: input (T, N, I), (N, T, I) with
    ``batch_first``, or (T, I) unbatched; hx (L * D, N, H) or (L * D, H),
    zeros when None. Returns ``(output, h_n)``: output (T, N, D * H) (each
    step's last-layer state, both directions concatenated) and h_n
    (L * D, N, H), each layer's and direction's final state.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> rnn = nn.RNN(input_size=4, hidden_size=8, batch_first=True)
    >>> output, h = rnn(cr.zeros(2, 5, 4))
    >>> output.shape, h.shape
    (chainrule.Size([2, 5, 8]), chainrule.Size([1, 2, 8]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:  # PyTorch's positional order puts nonlinearity fourth
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(modes[self.nonlinearity], *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gates [i, f, g, o]:

        i, f, o = sigmoid(x W_i{i,f,o}^T + b_i{i,f,o} + h W_h{i,f,o}^T + b_h{i,f,o})
        g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)
        c' = f c + i g,    h' = o tanh(c')

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, proj_size=0)`` (``proj_size`` > 0 is not
    supported). ``forward(input, hx=None)`` with hx = (h_0, c_0), each
    (L * D, N, H) or (L * D, H) unbatched, zeros when None; returns
    ``(output, (h_n, c_n))`` with the shapes of ``RNN``.

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> lstm = nn.LSTM(input_size=4, hidden_size=8, num_layers=2)
    >>> output, (h, c) = lstm(cr.zeros(5, 2, 4))
    >>> output.shape, h.shape, c.shape
    (chainrule.Size([5, 2, 8]), chainrule.Size([2, 2, 8]), chainrule.Size([2, 2, 8]))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
        output, (h_n, c_n) = self._forward(input, tuple(hx))
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gates [r, z, n]:

        r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})
        n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),    h' = (1 - z) n + z h

    Constructor, inputs and outputs as ``RNN`` (without ``nonlinearity``).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> gru = nn.GRU(4, 8, bidirectional=True)
    >>> output, h = gru(cr.zeros(5, 2, 4))
    >>> output.shape, h.shape
    (chainrule.Size([5, 2, 16]), chainrule.Size([2, 2, 8]))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n


# --------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step: ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,).

    >>> from chainrule import nn
    >>> cell = nn.GRUCell(4, 8)
    >>> cell.weight_ih.shape, cell.weight_hh.shape, cell.bias_ih.shape
    (chainrule.Size([24, 4]), chainrule.Size([24, 8]), chainrule.Size([24]))
    """

    _mode = "rnn_tanh"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        _check_positive_int(input_size, "input_size")
        _check_positive_int(hidden_size, "hidden_size")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = empty_parameter((num_chunks * hidden_size, input_size), device, dtype)
        self.weight_hh = empty_parameter((num_chunks * hidden_size, hidden_size), device, dtype)
        if bias:
            self.bias_ih = empty_parameter((num_chunks * hidden_size,), device, dtype)
            self.bias_hh = empty_parameter((num_chunks * hidden_size,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _check(self, input: Tensor, states: tuple) -> tuple[bool, list]:
        """Whether the input is batched, and the given states as (N, H) tensors (None where not given)."""
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            got = f"{input.ndim}D" if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{self._get_name()}: Expected input to be 1D or 2D, got {got} instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{self!r}: input of shape {_shape_text(input.shape)} has {input.shape[-1]} features, but the cell "
                f"expects input_size={self.input_size} (weight_ih of shape {_shape_text(self.weight_ih.shape)})"
            )
        if input.dtype != self.weight_ih.dtype:
            raise RuntimeError(
                f"{self._get_name()}: input dtype {input.dtype} does not match the parameters' {self.weight_ih.dtype}"
            )
        batched = input.ndim == 2
        expected = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        checked = []
        for state in states:
            if state is not None and tuple(state.shape) != expected:
                raise RuntimeError(
                    f"{self._get_name()}: expected a hidden state of shape {expected} for input of shape "
                    f"{_shape_text(input.shape)}, got {_shape_text(state.shape)}"
                )
            checked.append(state if state is None or batched else state.unsqueeze(0))
        return batched, checked

    def _step(self, input: Tensor, states: tuple):
        batched, (h, c) = self._check(input, states)
        x = input if batched else input.unsqueeze(0)
        _, *finals = RecurrentLayer.apply(
            x.unsqueeze(0),
            h,
            c,
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            mode=self._mode,
            reverse=False,
        )
        return finals if batched else [final.squeeze(0) for final in finals]

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            text += f", nonlinearity={nonlinearity}"
        return text


class RNNCell(RNNCellBase):
    """One Elman step: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh); ``forward(input, hx=None)`` returns h'.

    Input (N, I) or (I,), h (N, H) or (H,).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.RNNCell(4, 8)(cr.zeros(2, 4)).shape
    chainrule.Size([2, 8])
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None, dtype=None
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity
        self._mode = f"rnn_{nonlinearity}"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        (h,) = self._step(input, (hx, None))
        return h


class LSTMCell(RNNCellBase):
    """One LSTM step (gates as ``LSTM``); ``forward(input, hx=None)`` with hx = (h, c) returns (h', c').

    Input (N, I) or (I,); h and c (N, H) or (H,).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> h, c = nn.LSTMCell(4, 8)(cr.zeros(2, 4))
    >>> h.shape, c.shape
    (chainrule.Size([2, 8]), chainrule.Size([2, 8]))
    """

    _mode = "lstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        h, c = (None, None) if hx is None else hx
        h_new, c_new = self._step(input, (h, c))
        return h_new, c_new


class GRUCell(RNNCellBase):
    """One GRU step (gates as ``GRU``); ``forward(input, hx=None)`` returns h'.

    Input (N, I) or (I,), h (N, H) or (H,).

    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> nn.GRUCell(4, 8)(cr.zeros(2, 4)).shape
    chainrule.Size([2, 8])
    """

    _mode = "gru"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        (h,) = self._step(input, (hx, None))
        return h
