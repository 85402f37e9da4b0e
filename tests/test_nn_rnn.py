"""RNN, LSTM, GRU and their cells against PyTorch's (same state_dict), and the fused op against its composed form."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from devices import host
from harness import TOLERANCES, needs_torch, torch

import chainrule as cr
import chainrule.nn as nn
from chainrule.ops.rnn import MODES, RecurrentLayer, composed_layer

SEQ, BATCH, FEATURES, HIDDEN = 4, 3, 3, 4
KINDS = {
    "rnn_tanh": ("RNN", {}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def _pair(kind: str, dtype, device: str = "cpu", **options):
    """Our layer (on ``device``) and PyTorch's with the same parameters (loaded from PyTorch's state_dict, strict)."""
    class_name, extra = KINDS[kind]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, class_name)(FEATURES, HIDDEN, **extra, **options)
    ours = getattr(nn, class_name)(FEATURES, HIDDEN, **extra, **options).to(device)
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    state = {key: value.detach().numpy() for key, value in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    for key, value in state.items():
        assert ours.state_dict()[key].shape == value.shape, key
    ours.load_state_dict(state, strict=True)
    return ours, theirs


def _leaf_pair(array, device: str = "cpu"):
    return cr.tensor(array, requires_grad=True, device=device), torch.tensor(array, requires_grad=True)


def _flat_outputs(result) -> list:
    output, state = result
    return [output, *state] if isinstance(state, tuple) else [output, state]


def _compare_run(ours, theirs, x, states, dtype, what: str, device: str = "cpu") -> None:
    """Forward both; compare outputs and final states, then every input, state and parameter gradient."""
    tol = TOLERANCES[dtype]
    our_x, their_x = _leaf_pair(x, device)
    pairs = [_leaf_pair(s, device) for s in states]
    our_hx = their_hx = None
    if pairs:
        our_hx = tuple(p[0] for p in pairs) if len(pairs) == 2 else pairs[0][0]
        their_hx = tuple(p[1] for p in pairs) if len(pairs) == 2 else pairs[0][1]
    our_out = _flat_outputs(ours(our_x, our_hx))
    their_out = _flat_outputs(theirs(their_x, their_hx))
    rng = np.random.default_rng(1)
    our_loss = their_loss = 0
    for i, (mine, ref) in enumerate(zip(our_out, their_out)):
        assert mine.shape == tuple(ref.shape), f"{what}: output {i} shape {mine.shape} vs {tuple(ref.shape)}"
        assert mine.dtype == dtype
        assert mine.device.type == device, f"{what}: output {i} on {mine.device}"
        np.testing.assert_allclose(host(mine), ref.detach().numpy(), **tol, err_msg=f"{what}: output {i}")
        weight = rng.standard_normal(mine.shape).astype(dtype)
        our_loss = our_loss + (mine * cr.tensor(weight, device=device)).sum()
        their_loss = their_loss + (ref * torch.tensor(weight)).sum()
    our_loss.backward()
    their_loss.backward()
    for name, mine, ref in [("input", our_x, their_x), *((f"state {i}", *p) for i, p in enumerate(pairs))]:
        np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol, err_msg=f"{what}: grad of {name}")
    for (name, mine), (_, ref) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert mine.grad is not None, f"{what}: {name} got no gradient"
        np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol, err_msg=f"{what}: grad of {name}")


def _states(kind: str, layers: int, unbatched: bool, rng) -> list:
    shape = (layers, HIDDEN) if unbatched else (layers, BATCH, HIDDEN)
    return [rng.standard_normal(shape) for _ in range(2 if kind == "lstm" else 1)]


# Every combination in float64 (tight); a few in float32 (loose), whose PyTorch kernels are slow to set up.
_GRID = [(*combo, np.float64) for combo in itertools.product([1, 2], [False, True], [False, True], [False, True])]
_GRID += [(1, False, True, False, np.float32), (2, True, False, True, np.float32)]


@needs_torch
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "num_layers, bidirectional, batch_first, with_state, dtype",
    _GRID,
    ids=[f"L{c[0]}-bi{c[1]:d}-bf{c[2]:d}-h0{c[3]:d}-{c[4].__name__}" for c in _GRID],
)
def test_recurrent_layers_match_torch(kind, num_layers, bidirectional, batch_first, with_state, dtype, device):
    ours, theirs = _pair(
        kind, dtype, device, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SEQ, FEATURES) if batch_first else (SEQ, BATCH, FEATURES)).astype(dtype)
    layers = num_layers * (2 if bidirectional else 1)
    states = [s.astype(dtype) for s in _states(kind, layers, False, rng)] if with_state else []
    _compare_run(ours, theirs, x, states, dtype, f"{kind} {num_layers=} {bidirectional=} {batch_first=}", device)


@needs_torch
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional, with_state", [(False, False), (True, True), (False, True)])
def test_unbatched_input_matches_torch(kind, bidirectional, with_state):
    ours, theirs = _pair(kind, np.float64, num_layers=2, bidirectional=bidirectional, batch_first=True)
    rng = np.random.default_rng(2)
    states = _states(kind, 2 * (2 if bidirectional else 1), True, rng) if with_state else []
    _compare_run(ours, theirs, rng.standard_normal((SEQ, FEATURES)), states, np.float64, f"{kind} unbatched")


@needs_torch
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_no_bias_and_eval_dropout_match_torch(kind):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((SEQ, BATCH, FEATURES))
    ours, theirs = _pair(kind, np.float64, bias=False)
    assert "bias_ih_l0" not in ours.state_dict()
    _compare_run(ours, theirs, x, [], np.float64, f"{kind} bias=False")
    ours, theirs = _pair(kind, np.float64, num_layers=2, dropout=0.5)
    ours.eval()
    theirs.eval()
    _compare_run(ours, theirs, x, [], np.float64, f"{kind} eval with dropout")


@needs_torch
@DTYPES
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batched, with_state", [(True, True), (True, False), (False, True)])
def test_cells_match_torch(kind, batched, with_state, dtype, device):
    class_name, extra = KINDS[kind]
    torch.manual_seed(0)
    theirs = getattr(torch.nn, class_name + "Cell")(FEATURES, HIDDEN, **extra)
    ours = getattr(nn, class_name + "Cell")(FEATURES, HIDDEN, **extra).to(device)
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()}, strict=True)
    rng = np.random.default_rng(4)
    lead = (BATCH,) if batched else ()
    our_x, their_x = _leaf_pair(rng.standard_normal(lead + (FEATURES,)).astype(dtype), device)
    states = [rng.standard_normal(lead + (HIDDEN,)).astype(dtype) for _ in range(2 if kind == "lstm" else 1)]
    pairs = [_leaf_pair(state, device) for state in states]
    our_hx = their_hx = None
    if with_state:
        our_hx = tuple(p[0] for p in pairs) if kind == "lstm" else pairs[0][0]
        their_hx = tuple(p[1] for p in pairs) if kind == "lstm" else pairs[0][1]
    our_out, their_out = ours(our_x, our_hx), theirs(their_x, their_hx)
    our_out = list(our_out) if kind == "lstm" else [our_out]
    their_out = list(their_out) if kind == "lstm" else [their_out]
    tol = TOLERANCES[dtype]
    for mine, ref in zip(our_out, their_out):
        assert mine.device.type == device
        np.testing.assert_allclose(host(mine), ref.detach().numpy(), **tol)
    sum((y * (i + 1)).sum() for i, y in enumerate(our_out)).backward()
    sum((y * (i + 1)).sum() for i, y in enumerate(their_out)).backward()
    np.testing.assert_allclose(host(our_x.grad), their_x.grad.numpy(), **tol)
    if with_state:
        for mine, ref in pairs:
            np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol)
    for mine, ref in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol)


# --------------------------------------------------------------------------- no PyTorch needed below
def _layer_inputs(mode: str, rng, seq=4, batch=2, features=3, hidden=3):
    gates = {"lstm": 4, "gru": 3}.get(mode, 1) * hidden
    shapes = [(seq, batch, features), (batch, hidden), (batch, hidden), (gates, features), (gates, hidden)]
    shapes += [(gates,), (gates,)]
    arrays = [rng.standard_normal(shape) for shape in shapes]
    if mode != "lstm":
        arrays[2] = None
    return arrays


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_layer_matches_its_composed_form(mode, reverse):
    arrays = _layer_inputs(mode, np.random.default_rng(5))
    grads = []
    for layer in (RecurrentLayer.apply, composed_layer):
        inputs = [None if a is None else cr.tensor(a, requires_grad=True) for a in arrays]
        outputs = layer(*inputs, mode=mode, reverse=reverse)
        weights = np.random.default_rng(6)
        sum((y * cr.tensor(weights.standard_normal(y.shape))).sum() for y in outputs).backward()
        grads.append(([y.detach().numpy() for y in outputs], [x.grad.numpy() for x in inputs if x is not None]))
    (fused_out, fused_grads), (composed_out, composed_grads) = grads
    for mine, ref in zip(fused_out + fused_grads, composed_out + composed_grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


@needs_torch
@DTYPES
def test_saturated_lstm_gates_match_torch_without_warnings(dtype):
    """Pre-activations of +-1000 drive exp to 0 and inf: every gate lands on its limit, no nan and no warning."""
    ours, theirs = _pair("lstm", dtype)
    x = np.random.default_rng(8).choice([-1000.0, 1000.0], size=(SEQ, BATCH, FEATURES)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine = ours(cr.tensor(x, requires_grad=True))
    reference = theirs(torch.tensor(x, requires_grad=True))
    for a, b in zip([mine[0], *mine[1]], [reference[0], *reference[1]]):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOLERANCES[dtype])


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_gradcheck_and_gradgradcheck(mode):
    arrays = _layer_inputs(mode, np.random.default_rng(7), seq=3, batch=2, features=2, hidden=2)
    inputs = tuple(None if a is None else cr.tensor(a, requires_grad=True) for a in arrays)

    def layer(*args):
        return RecurrentLayer.apply(*args, mode=mode, reverse=True)

    assert cr.autograd.gradcheck(layer, inputs)
    assert cr.autograd.gradgradcheck(layer, inputs)


def test_lstm_module_gradcheck_through_two_bidirectional_layers():
    cr.manual_seed(0)
    lstm = nn.LSTM(2, 2, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(8)
    x = cr.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    h0 = cr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    c0 = cr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    assert cr.autograd.gradcheck(lambda x, h, c: _flat_outputs(lstm(x, (h, c))), (x, h0, c0))


def test_default_initialisation_and_parameter_layout():
    cr.manual_seed(0)
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    names = [name for name, _ in lstm.named_parameters()]
    assert names[:8] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
    ]  # fmt: skip
    assert lstm.weight_ih_l0.shape == (80, 10) and lstm.weight_ih_l1.shape == (80, 40)
    assert nn.GRU(5, 6).weight_hh_l0.shape == (18, 6)
    bound = 1 / np.sqrt(20)
    values = np.concatenate([p.detach().numpy().ravel() for p in lstm.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert len(lstm.all_weights) == 4 and lstm.all_weights[1][0] is lstm.weight_ih_l0_reverse
    assert repr(lstm) == "LSTM(10, 20, num_layers=2, bidirectional=True)"


def test_output_shapes_and_batch_first_layout():
    gru = nn.GRU(3, 5, num_layers=3, bidirectional=True, batch_first=True)
    output, h_n = gru(cr.randn(2, 7, 3))
    assert output.shape == (2, 7, 10) and h_n.shape == (6, 2, 5)
    output, (h_n, c_n) = nn.LSTM(3, 5)(cr.randn(7, 3))
    assert output.shape == (7, 5) and h_n.shape == (1, 5) and c_n.shape == (1, 5)
    assert nn.RNNCell(3, 5)(cr.randn(3)).shape == (5,)


def test_bad_input_names_the_layer_and_both_shapes():
    lstm = nn.LSTM(4, 6, batch_first=True)
    with pytest.raises(RuntimeError) as info:
        lstm(cr.randn(2, 5, 3))
    message = str(info.value)
    assert "LSTM(4, 6, batch_first=True)" in message and "(2, 5, 3)" in message and "(24, 4)" in message
    with pytest.raises(RuntimeError, match=r"h_0 of shape \(1, 2, 6\).*got \(2, 2, 6\)"):
        lstm(cr.randn(2, 5, 4), (cr.zeros(2, 2, 6), cr.zeros(1, 2, 6)))
    with pytest.raises(ValueError, match="2D .* or 3D"):
        nn.GRU(4, 6)(cr.randn(4))
    with pytest.raises(RuntimeError, match="dtype"):
        nn.RNN(4, 6)(cr.randn(3, 2, 4, dtype=cr.float64))
    with pytest.raises(RuntimeError, match=r"GRUCell.*\(2, 3\).*input_size=4"):
        nn.GRUCell(4, 6)(cr.randn(2, 3))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(4, 6, nonlinearity="sigmoid")
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(4, 6, proj_size=2)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(4, 6, proj_size=2)
    with pytest.warns(UserWarning, match="dropout option adds dropout after all but last"):
        nn.LSTM(4, 6, dropout=0.5)


def test_dropout_between_layers_only_in_training():
    cr.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = cr.randn(5, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trained = lstm(x)[0].detach().numpy()
    lstm.eval()
    evaluated = lstm(x)[0].detach().numpy()
    assert not np.allclose(trained, evaluated)
    np.testing.assert_array_equal(lstm(x)[0].detach().numpy(), evaluated)


def test_graph_is_released_after_backward():
    lstm = nn.LSTM(3, 4)
    output, _ = lstm(cr.randn(5, 2, 3, requires_grad=True))
    loss = output.sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
