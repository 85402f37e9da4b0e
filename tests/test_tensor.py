"""The Tensor API: creation, dtypes and promotion, conversion, indexing writes, and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from harness import needs_torch, torch

import chainrule as cr


def test_tensor_from_data_infers_pytorch_dtypes():
    assert cr.tensor([1.0, 2.0]).dtype == cr.float32
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True, False]).dtype == cr.bool
    assert cr.tensor(2.5).shape == ()
    assert cr.tensor(np.zeros(2, dtype=np.float64)).dtype == cr.float64
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == cr.float64


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(3, dtype=np.float32)
    copied, shared = cr.tensor(a), cr.from_numpy(a)
    a[0] = 5
    assert copied[0].item() == 0 and shared[0].item() == 5


def test_creation_functions():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).dtype == cr.float32
    assert cr.ones([4]).numpy().tolist() == [1, 1, 1, 1]
    assert cr.full((2,), 7).dtype == cr.int64 and cr.full((2,), 1.5).dtype == cr.float32
    assert cr.empty(3, 1).shape == (3, 1)
    x = cr.randn(2, 3, dtype=cr.float64)
    assert cr.zeros_like(x).dtype == cr.float64 and cr.ones_like(x).shape == (2, 3)
    assert cr.full_like(x, 3.0).numpy().tolist() == [[3.0] * 3] * 2
    assert cr.arange(5).tolist() == [0, 1, 2, 3, 4] and cr.arange(5).dtype == cr.int64
    assert cr.arange(0, 1, 0.25).dtype == cr.float32 and cr.arange(1, 7, 2).tolist() == [1, 3, 5]
    np.testing.assert_allclose(cr.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    assert cr.eye(3).numpy().trace() == 3 and cr.eye(2, 3).shape == (2, 3)
    assert cr.rand(100).numpy().min() >= 0 and cr.rand(100).numpy().max() < 1
    r = cr.randint(3, 7, (1000,))
    assert r.dtype == cr.int64 and r.min().item() == 3 and r.max().item() == 6
    assert cr.randint(5, (3,)).max().item() < 5
    assert cr.rand_like(x).dtype == cr.float64 and cr.randn_like(x).shape == x.shape


def test_manual_seed_makes_draws_reproducible():
    cr.manual_seed(123)
    first = (cr.rand(3).tolist(), cr.randn(2, 2).tolist(), cr.randint(0, 100, (4,)).tolist())
    cr.manual_seed(123)
    second = (cr.rand(3).tolist(), cr.randn(2, 2).tolist(), cr.randint(0, 100, (4,)).tolist())
    assert first == second
    assert cr.randn(3).tolist() != cr.randn(3).tolist()


def test_attributes():
    x = cr.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple)
    assert x.ndim == 3 and x.size() == (2, 3, 4) and x.size(1) == 3 and x.numel() == 24
    assert x.device == "cpu" and str(x.device) == "cpu"
    assert x.T.shape == (4, 3, 2)
    assert x.grad is None and x.grad_fn is None and x.is_leaf and not x.requires_grad
    assert isinstance(x.data, cr.Tensor) and np.shares_memory(x.data.numpy(), x.numpy())


def test_conversions():
    x = cr.tensor([[1.5, 2.0]])
    assert x.tolist() == [[1.5, 2.0]]
    assert cr.tensor([3.0]).item() == 3.0
    assert np.asarray(x).dtype == np.float32
    assert x.double().dtype == cr.float64 and x.long().dtype == cr.int64 and x.float() is x
    assert x.to(cr.float64).dtype == cr.float64 and x.to("cpu") is x
    with pytest.raises(RuntimeError, match="item"):
        x.item()
    with pytest.raises(RuntimeError, match="requires grad"):
        cr.ones(2, requires_grad=True).numpy()


def test_cast_is_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 2
    y.sum().backward()
    assert x.grad.dtype == cr.float32 and x.grad.tolist() == [2.0, 2.0]


def test_clone_keeps_graph_and_detach_cuts_it():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x.clone() * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert not x.detach().requires_grad


@needs_torch
@pytest.mark.parametrize(
    "left,right",
    [
        ("float32", "float64"),
        ("int64", "float32"),
        ("int32", "int64"),
        ("bool", "int64"),
        ("bool", "float32"),
        ("float32", "float32"),
    ],
)
def test_type_promotion_matches_torch(left, right):
    for a_shape, b_shape in [((2,), (2,)), ((2,), ()), ((), (2,))]:
        a = np.ones(a_shape, dtype=left)
        b = np.ones(b_shape, dtype=right)
        ours = (cr.tensor(a) + cr.tensor(b)).dtype
        theirs = (torch.tensor(a) + torch.tensor(b)).dtype
        assert str(ours) == str(theirs).replace("torch.", ""), (a_shape, b_shape)


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool"])
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_python_scalars_do_not_promote_within_category(dtype, scalar):
    a = np.ones(3, dtype=dtype)
    ours = (cr.tensor(a) * scalar).dtype
    theirs = (torch.tensor(a) * scalar).dtype
    assert str(ours) == str(theirs).replace("torch.", "")


@needs_torch
def test_integer_division_and_floor_division_match_torch():
    a, b = np.array([7, -7, 5]), np.array([2, 2, -3])
    for op in (lambda x, y: x / y, lambda x, y: x // y, lambda x, y: x % y):
        ours, theirs = op(cr.tensor(a), cr.tensor(b)), op(torch.tensor(a), torch.tensor(b))
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_numpy_scalar_does_not_promote_float32():
    assert (cr.ones(2) * np.float64(2.0)).dtype == cr.float32


def test_comparisons_return_bool_without_grad():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x == 2, x != 2, x < 2, x <= 2, x > 2, x >= 2):
        assert result.dtype == cr.bool and not result.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]


def test_reduction_aliases_and_max_with_dim():
    x = cr.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert x.sum(axis=1, keepdims=True).shape == (2, 1)
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 6.0] and indices.tolist() == [1, 2] and indices.dtype == cr.int64
    result = cr.min(x, 0)
    assert result.values.tolist() == [1.0, 2.0, 3.0] and result.indices.tolist() == [0, 1, 0]
    assert x.argmax().item() == 5
    assert x.var(unbiased=False).item() == pytest.approx(np.var(x.numpy()))


def test_setitem_on_plain_tensor():
    x = cr.zeros(3, 4)
    x[0] = 1.0
    x[1, 1:3] = cr.tensor([2.0, 3.0])
    x[x > 2.5] = -1.0
    x[cr.tensor([2, 2]), cr.tensor([0, 3])] = 7.0
    assert x.tolist() == [[1, 1, 1, 1], [0, 2, -1, 0], [7, 0, 0, 7]]


def test_in_place_methods():
    x = cr.ones(3)
    x.add_(cr.tensor([1.0, 2.0, 3.0]), alpha=2).mul_(0.5).sub_(1.0)
    assert x.tolist() == [0.5, 1.5, 2.5]
    x.zero_()
    assert x.tolist() == [0, 0, 0]
    x.fill_(4.0).clamp_(max=3.0)
    assert x.tolist() == [3.0, 3.0, 3.0]
    x += 1
    assert x.tolist() == [4.0, 4.0, 4.0]


def test_binary_op_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"add.*\(3,\).*\(4,\)"):
        cr.ones(3) + cr.ones(4)
    with pytest.raises(ValueError, match=r"mul.*\(2, 3\).*\(2,\)"):
        cr.ones(2, 3) * cr.ones(2)


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        cr.ones(2, 3) @ cr.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"mm.*\(3,\)"):
        cr.mm(cr.ones(3), cr.ones(3, 2))


def test_bad_dims_and_shapes_raise_clear_errors():
    x = cr.ones(2, 3)
    with pytest.raises(IndexError, match="sum.*range"):
        x.sum(dim=2)
    with pytest.raises(RuntimeError, match=r"reshape.*\(4, 2\).*6"):
        x.reshape(4, 2)
    with pytest.raises(RuntimeError, match=r"cat.*\(2, 3\).*\(3, 3\)"):
        cr.cat([x, cr.ones(3, 3)], dim=1)
    with pytest.raises(IndexError, match="index"):
        x[5]
    with pytest.raises(TypeError, match="gather"):
        cr.gather(x, 1, cr.tensor([[0.5]]))


def test_cat_stack_where_promote_like_binary_ops():
    assert cr.cat([cr.ones(2), cr.ones(2, dtype=cr.float64)]).dtype == cr.float64
    assert cr.where(cr.tensor([True, False]), cr.ones(2), 0).dtype == cr.float32
    assert cr.stack([cr.ones(2), cr.zeros(2)], dim=1).shape == (2, 2)


def test_split_and_chunk_shapes():
    x = cr.arange(10)
    assert [p.shape for p in x.split(4)] == [(4,), (4,), (2,)]
    assert [p.shape for p in x.chunk(3)] == [(4,), (4,), (2,)]
    assert [p.tolist() for p in cr.split(x, [2, 8])] == [[0, 1], list(range(2, 10))]


def test_einsum_implicit_output():
    a, b = cr.randn(2, 3), cr.randn(3, 4)
    np.testing.assert_allclose(cr.einsum("ij,jk", a, b).numpy(), (a @ b).numpy(), rtol=1e-5)


def test_pad_matches_numpy():
    x = cr.arange(12).reshape(1, 3, 4).float()
    padded = cr.nn.functional.pad(x, (1, 2, 1, 0), mode="reflect")
    expected = np.pad(x.numpy(), ((0, 0), (1, 0), (1, 2)), mode="reflect")
    np.testing.assert_array_equal(padded.numpy(), expected)


@needs_torch
@pytest.mark.parametrize("name", ["add", "sub"])
@pytest.mark.parametrize("other", [1, 2.5, np.array([0.5, -1.0])])
def test_alpha_scales_a_number_or_a_tensor_as_torch(name, other):
    import torch

    for values in ([1.0, 2.0], [1, 2]):
        ours = getattr(cr, name)(
            cr.tensor(values), cr.tensor(other) if isinstance(other, np.ndarray) else other, alpha=3
        )
        theirs = getattr(torch, name)(
            torch.tensor(values), torch.tensor(other) if isinstance(other, np.ndarray) else other, alpha=3
        )
        np.testing.assert_allclose(ours.numpy(), theirs.numpy())
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize(
    "name", "bitwise_and bitwise_or bitwise_xor greater greater_equal less less_equal not_equal".split()
)
def test_comparison_and_bitwise_aliases_are_top_level_functions(name):
    assert callable(getattr(cr, name))
