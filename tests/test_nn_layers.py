"""Every layer against PyTorch's: the same state_dict, then outputs, input gradients and parameter gradients."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from devices import host
from harness import TOLERANCES, needs_torch, torch

import chainrule as cr
import chainrule.nn as nn


@dataclass
class LayerCase:
    """``make(lib)`` builds the layer with ``lib.nn``; ``inputs`` are float shapes or integer arrays."""

    name: str
    make: object
    inputs: list
    train: bool = True
    tolerance_scale: float = 1.0
    torch_make: object = None
    extra: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


def _torch_state_as_numpy(layer) -> dict:
    return {key: value.detach().numpy() for key, value in layer.state_dict().items()}


def _make_pair(case: LayerCase, dtype, device: str = "cpu"):
    """Torch's layer and ours (moved to ``device``, then given torch's state: it must stay there)."""
    torch.manual_seed(0)
    try:
        theirs = (case.torch_make or case.make)(torch)
    except TypeError as error:  # an older PyTorch than the oracle this suite pins (e.g. on a GPU machine)
        pytest.skip(f"PyTorch {torch.__version__} lacks this layer's arguments: {error}")
    ours = case.make(cr).to(device)
    if dtype == np.float64:
        theirs, ours = theirs.double(), ours.double()
    their_state = _torch_state_as_numpy(theirs)
    our_state = ours.state_dict()
    assert list(our_state) == list(their_state), f"{case}: state_dict keys {list(our_state)} vs {list(their_state)}"
    for key, value in their_state.items():
        assert tuple(our_state[key].shape) == value.shape, f"{case}: {key} shape"
        assert str(our_state[key].dtype) == str(value.dtype), f"{case}: {key} dtype"
    result = ours.load_state_dict(their_state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(t.device.type == device for t in ours.state_dict().values()), f"{case}: state left {device}"
    ours.train(case.train)
    theirs.train(case.train)
    return ours, theirs


def _inputs(case: LayerCase, dtype, seed=0, device: str = "cpu"):
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for spec in case.inputs:
        if isinstance(spec, np.ndarray):  # indices: passed as they are, never differentiated
            ours.append(cr.tensor(spec, device=device))
            theirs.append(torch.tensor(spec))
        else:
            array = rng.standard_normal(spec).astype(dtype)
            ours.append(cr.tensor(array, requires_grad=True, device=device))
            theirs.append(torch.tensor(array, requires_grad=True))
    return ours, theirs


def _check_step(case, dtype, ours, theirs, seed=0, device: str = "cpu"):
    tol = {k: v * case.tolerance_scale for k, v in TOLERANCES[dtype].items()}
    our_inputs, their_inputs = _inputs(case, dtype, seed, device)
    our_out = ours(*our_inputs)
    their_out = theirs(*their_inputs)
    assert tuple(our_out.shape) == tuple(their_out.shape), f"{case}: output shape"
    assert str(our_out.dtype) == str(their_out.dtype).replace("torch.", "")
    assert our_out.device.type == device, f"{case}: output on {our_out.device}"
    np.testing.assert_allclose(host(our_out), their_out.detach().numpy(), **tol, err_msg=f"{case}: forward")
    weights = np.random.default_rng(seed + 1).standard_normal(tuple(our_out.shape)).astype(dtype)
    (our_out * cr.tensor(weights, device=device)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    for i, (mine, ref) in enumerate(zip(our_inputs, their_inputs)):
        if ref.requires_grad:
            np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol, err_msg=f"{case}: input {i} grad")
    their_params = dict(theirs.named_parameters())
    our_params = dict(ours.named_parameters())
    assert list(our_params) == list(their_params)
    for name, ref in their_params.items():
        mine = our_params[name]
        assert mine.grad is not None, f"{case}: {name} got no gradient"
        np.testing.assert_allclose(host(mine.grad), ref.grad.numpy(), **tol, err_msg=f"{case}: grad of {name}")


def _torch_residual(torch_module_factory):
    def make(lib):
        class Residual(torch.nn.Module):
            def __init__(self, fn):
                super().__init__()
                self.fn = fn

            def forward(self, x):
                return x + self.fn(x)

        return Residual(torch_module_factory(lib))

    return make


INDICES = np.array([[1, 0, 4, 4], [9, 1, 0, 2]])

CASES = [
    LayerCase("linear", lambda lib: lib.nn.Linear(5, 3), [(4, 5)]),
    LayerCase("linear_batched_no_bias", lambda lib: lib.nn.Linear(5, 3, bias=False), [(2, 3, 5)]),
    LayerCase("linear_vector_input", lambda lib: lib.nn.Linear(4, 2), [(4,)]),
    LayerCase("bilinear", lambda lib: lib.nn.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    LayerCase("bilinear_no_bias", lambda lib: lib.nn.Bilinear(2, 3, 4, bias=False), [(2, 2, 2), (2, 2, 3)]),
    LayerCase("identity", lambda lib: lib.nn.Identity(3, foo=1), [(2, 3)]),
    LayerCase("flatten", lambda lib: lib.nn.Flatten(), [(2, 3, 4, 5)]),
    LayerCase("flatten_dims", lambda lib: lib.nn.Flatten(0, 2), [(2, 3, 4, 5)]),
    LayerCase("unflatten", lambda lib: lib.nn.Unflatten(1, (2, 6)), [(3, 12)]),
    LayerCase("dropout_eval", lambda lib: lib.nn.Dropout(0.5), [(3, 4)], train=False),
    LayerCase("layer_norm", lambda lib: lib.nn.LayerNorm(5), [(3, 5)]),
    LayerCase("layer_norm_2d_shape", lambda lib: lib.nn.LayerNorm((4, 5), eps=1e-3), [(2, 4, 5)]),
    LayerCase("layer_norm_no_affine", lambda lib: lib.nn.LayerNorm(6, elementwise_affine=False), [(2, 3, 6)]),
    LayerCase("layer_norm_no_bias", lambda lib: lib.nn.LayerNorm(6, bias=False), [(2, 6)]),
    LayerCase("group_norm", lambda lib: lib.nn.GroupNorm(2, 4), [(3, 4, 5)]),
    LayerCase("group_norm_one_group_4d", lambda lib: lib.nn.GroupNorm(1, 4, affine=False), [(2, 4, 3, 3)]),
    LayerCase("group_norm_instance", lambda lib: lib.nn.GroupNorm(4, 4, eps=1e-3), [(2, 4, 6)]),
    LayerCase("batch_norm1d", lambda lib: lib.nn.BatchNorm1d(4), [(8, 4)]),
    LayerCase("batch_norm1d_3d", lambda lib: lib.nn.BatchNorm1d(3, momentum=0.3), [(4, 3, 5)]),
    LayerCase("batch_norm2d", lambda lib: lib.nn.BatchNorm2d(3), [(4, 3, 5, 5)]),
    LayerCase("batch_norm2d_no_affine", lambda lib: lib.nn.BatchNorm2d(2, affine=False), [(3, 2, 4, 4)]),
    LayerCase("batch_norm2d_no_bias", lambda lib: lib.nn.BatchNorm2d(2, bias=False), [(3, 2, 3, 3)]),
    LayerCase("group_norm_no_bias", lambda lib: lib.nn.GroupNorm(2, 4, bias=False), [(2, 4, 3)]),
    LayerCase("batch_norm1d_eval", lambda lib: lib.nn.BatchNorm1d(4), [(8, 4)], train=False),
    LayerCase(
        "batch_norm2d_untracked_eval",
        lambda lib: lib.nn.BatchNorm2d(2, track_running_stats=False),
        [(3, 2, 3, 3)],
        train=False,
    ),
    LayerCase("embedding", lambda lib: lib.nn.Embedding(10, 3), [INDICES]),
    LayerCase("embedding_padding", lambda lib: lib.nn.Embedding(10, 3, padding_idx=4), [INDICES]),
    LayerCase("embedding_negative_padding", lambda lib: lib.nn.Embedding(10, 3, padding_idx=-1), [INDICES + 0]),
    LayerCase("relu", lambda lib: lib.nn.ReLU(), [(3, 4)]),
    LayerCase("leaky_relu", lambda lib: lib.nn.LeakyReLU(0.2), [(3, 4)]),
    LayerCase("elu", lambda lib: lib.nn.ELU(0.7), [(3, 4)]),
    LayerCase("gelu", lambda lib: lib.nn.GELU(), [(3, 4)]),
    LayerCase("gelu_tanh", lambda lib: lib.nn.GELU(approximate="tanh"), [(3, 4)]),
    LayerCase("silu", lambda lib: lib.nn.SiLU(), [(3, 4)]),
    LayerCase("sigmoid", lambda lib: lib.nn.Sigmoid(), [(3, 4)]),
    LayerCase("tanh", lambda lib: lib.nn.Tanh(), [(3, 4)]),
    LayerCase("softplus", lambda lib: lib.nn.Softplus(beta=2.0, threshold=1.0), [(3, 4)]),
    LayerCase("softmax", lambda lib: lib.nn.Softmax(dim=1), [(3, 4)]),
    LayerCase("log_softmax", lambda lib: lib.nn.LogSoftmax(dim=-1), [(2, 3, 4)]),
    LayerCase(
        "sequential_mlp",
        lambda lib: lib.nn.Sequential(
            lib.nn.Linear(6, 8), lib.nn.Tanh(), lib.nn.LayerNorm(8), lib.nn.Linear(8, 3), lib.nn.LogSoftmax(1)
        ),
        [(5, 6)],
    ),
    LayerCase(
        "residual",
        lambda lib: lib.nn.Residual(lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.ReLU(), lib.nn.Linear(4, 4))),
        [(3, 4)],
        torch_make=_torch_residual(
            lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.ReLU(), lib.nn.Linear(4, 4))
        ),
    ),
]

_CONV_CASES = [
    LayerCase("conv1d", lambda lib: lib.nn.Conv1d(3, 4, 3, padding=1), [(2, 3, 7)]),
    LayerCase("conv2d", lambda lib: lib.nn.Conv2d(2, 3, 3, stride=2, padding=1), [(2, 2, 7, 6)]),
    LayerCase(
        "conv2d_groups_dilation", lambda lib: lib.nn.Conv2d(4, 6, 3, groups=2, bias=False, dilation=2), [(1, 4, 7, 7)]
    ),
    LayerCase(
        "conv2d_same_reflect",
        lambda lib: lib.nn.Conv2d(2, 2, 3, padding="same", padding_mode="reflect"),
        [(2, 2, 5, 5)],
    ),
    LayerCase(
        "conv_transpose2d",
        lambda lib: lib.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
        [(2, 3, 4, 4)],
    ),
    LayerCase("max_pool1d", lambda lib: lib.nn.MaxPool1d(2), [(2, 3, 8)]),
    LayerCase("max_pool2d", lambda lib: lib.nn.MaxPool2d(2), [(2, 3, 6, 6)]),
    LayerCase("max_pool2d_overlap", lambda lib: lib.nn.MaxPool2d(3, stride=2, padding=1), [(1, 2, 7, 7)]),
    LayerCase("avg_pool2d", lambda lib: lib.nn.AvgPool2d(2), [(2, 3, 6, 6)]),
    LayerCase("adaptive_avg_pool2d", lambda lib: lib.nn.AdaptiveAvgPool2d((1, 1)), [(2, 3, 5, 5)]),
    LayerCase(
        "lenet_block",
        lambda lib: lib.nn.Sequential(
            lib.nn.Conv2d(1, 4, 3, padding=1),
            lib.nn.BatchNorm2d(4),
            lib.nn.ReLU(),
            lib.nn.MaxPool2d(2),
            lib.nn.Flatten(),
            lib.nn.Linear(4 * 3 * 3, 5),
        ),
        [(4, 1, 6, 6)],
        tolerance_scale=5.0,
    ),
]


def _conv_and_pool_available() -> bool:
    try:
        from chainrule.ops import conv, pool  # noqa: F401
    except ImportError:
        return False
    return True


needs_conv = pytest.mark.skipif(
    not _conv_and_pool_available(), reason="chainrule.ops.conv / chainrule.ops.pool are not written yet"
)

DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


@needs_torch
@DTYPES
@pytest.mark.parametrize("case", CASES, ids=str)
def test_layer_matches_torch(case, dtype, device):
    ours, theirs = _make_pair(case, dtype, device)
    _check_step(case, dtype, ours, theirs, device=device)


@needs_torch
@needs_conv
@DTYPES
@pytest.mark.parametrize("case", _CONV_CASES, ids=str)
def test_conv_and_pool_layers_match_torch(case, dtype, device):
    ours, theirs = _make_pair(case, dtype, device)
    _check_step(case, dtype, ours, theirs, device=device)


@needs_torch
@DTYPES
@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda lib: lib.nn.BatchNorm1d(4), (8, 4)),
        (lambda lib: lib.nn.BatchNorm1d(3, momentum=None), (6, 3, 5)),
        (lambda lib: lib.nn.BatchNorm2d(3, momentum=0.5, eps=1e-3), (4, 3, 5, 5)),
        (lambda lib: lib.nn.BatchNorm2d(2, affine=False), (3, 2, 4, 4)),
    ],
    ids=["bn1d", "bn1d_cumulative", "bn2d_momentum", "bn2d_no_affine"],
)
def test_batch_norm_running_stats_follow_torch(make, shape, dtype, device):
    case = LayerCase("batch_norm_steps", make, [shape])
    ours, theirs = _make_pair(case, dtype, device)
    tol = TOLERANCES[dtype]
    for step in range(4):
        _check_step(case, dtype, ours, theirs, seed=step, device=device)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(host(ours.state_dict()[key]), value.numpy(), **tol, err_msg=key)
    assert ours.num_batches_tracked.item() == 4 and ours.num_batches_tracked.dtype == cr.int64
    ours.eval()
    theirs.eval()
    _check_step(case, dtype, ours, theirs, seed=10, device=device)
    # Evaluation leaves the running statistics alone.
    np.testing.assert_allclose(host(ours.running_mean), theirs.running_mean.numpy(), **tol)


def test_batch_norm_checks_its_input():
    with pytest.raises(ValueError, match="2D or 3D"):
        nn.BatchNorm1d(3)(cr.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="num_features=3"):
        nn.BatchNorm2d(3)(cr.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.randn(1, 3))


def test_dropout_identity_in_eval_and_scaled_in_train():
    layer = nn.Dropout(p=0.25)
    x = cr.ones(200, 50, requires_grad=True)
    layer.eval()
    assert layer(x) is x
    layer.train()
    cr.manual_seed(3)
    y = layer(x)
    values = np.unique(y.detach().numpy())
    np.testing.assert_allclose(values, [0.0, 1 / 0.75], rtol=1e-6)
    kept = (y.detach().numpy() != 0).mean()
    assert abs(kept - 0.75) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # the same mask scales the gradient
    cr.manual_seed(3)
    np.testing.assert_array_equal(layer(x).detach().numpy(), y.detach().numpy())  # reproducible from the seed
    assert not nn.Dropout(1.0)(x).detach().numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_embedding_padding_row_is_zero_and_gets_no_gradient():
    cr.manual_seed(0)
    layer = nn.Embedding(6, 3, padding_idx=2)
    assert not layer.weight.detach().numpy()[2].any()
    out = layer(cr.tensor([[2, 1, 2], [5, 1, 0]]))
    out.sum().backward()
    grad = layer.weight.grad.numpy()
    np.testing.assert_array_equal(grad[:, 0], [1, 2, 0, 0, 0, 1])
    with pytest.raises(IndexError, match="out of range"):
        layer(cr.tensor([6]))
    with pytest.raises(TypeError, match="integer"):
        layer(cr.tensor([1.0]))
    frozen = nn.Embedding.from_pretrained(cr.eye(3))
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(cr.tensor([2])).numpy(), [[0, 0, 1]])


def test_linear_wrong_input_size_names_the_layer_and_both_shapes():
    layer = nn.Linear(5, 3)
    with pytest.raises(RuntimeError) as info:
        layer(cr.randn(2, 4))
    message = str(info.value)
    assert "Linear(in_features=5, out_features=3" in message
    assert "(2, 4)" in message and "(3, 5)" in message
    with pytest.raises(RuntimeError, match="dtype"):
        layer(cr.randn(2, 5, dtype=cr.float64))


def test_default_initialisation_matches_torch_ranges():
    cr.manual_seed(0)
    linear = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    weight = linear.weight.detach().numpy()
    assert abs(weight).max() <= bound and abs(weight).max() > 0.95 * bound
    assert abs(weight.std() - bound / np.sqrt(3)) < 0.01 * bound
    assert abs(linear.bias.detach().numpy()).max() <= bound
    conv = nn.Conv2d(8, 16, 3)
    conv_bound = 1 / np.sqrt(8 * 9)
    assert abs(conv.weight.detach().numpy()).max() <= conv_bound
    assert abs(conv.bias.detach().numpy()).max() <= conv_bound
    transposed = nn.ConvTranspose2d(8, 4, 3)
    assert transposed.weight.shape == (8, 4, 3, 3)
    assert abs(transposed.weight.detach().numpy()).max() <= 1 / np.sqrt(4 * 9)
    embedding = nn.Embedding(1000, 20).weight.detach().numpy()
    assert abs(embedding.std() - 1) < 0.05
    norm = nn.LayerNorm(4)
    np.testing.assert_array_equal(norm.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(norm.bias.detach().numpy(), 0)


def test_layers_accept_dtype_and_reset():
    layer = nn.Linear(3, 2, dtype=cr.float64)
    assert layer.weight.dtype == cr.float64 and layer.bias.dtype == cr.float64
    norm = nn.BatchNorm1d(3, dtype=cr.float64)
    assert norm.running_mean.dtype == cr.float64 and norm.num_batches_tracked.dtype == cr.int64


@needs_conv
def test_conv_transpose_output_size_and_checks():
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    x = cr.randn(1, 2, 4, 4)
    assert layer(x).shape == (1, 3, 7, 7)
    assert layer(x, output_size=(8, 8)).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError, match="output size"):
        layer(x, output_size=(10, 10))
    with pytest.raises(RuntimeError, match="in_channels=2"):
        layer(cr.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv2d(3, 4, 3, groups=2)
