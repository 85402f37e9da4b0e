"""Every op against PyTorch (forward and every input gradient) and against finite differences."""

from __future__ import annotations

import re

import numpy as np
import pytest
from devices import ACCELERATORS
from harness import Case, Const, check_gradients, compare_with_torch, needs_torch

import chainrule as cr

idx_repeat = Const(np.array([0, 2, 2, 1, 0]))
mask_34 = Const(np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]]))
gather_index = Const(np.array([[0, 2, 2, 1], [1, 1, 0, 3], [3, 0, 0, 0]]))

CASES = [
    # arithmetic with broadcasting
    Case("add_broadcast", lambda lib, a, b: a + b, [(3, 1, 4), (2, 1)]),
    Case("sub_broadcast", lambda lib, a, b: a - b, [(3, 1, 4), (4,)]),
    Case("mul_broadcast", lambda lib, a, b: a * b, [(3, 1, 4), (2, 1)]),
    Case("div_broadcast", lambda lib, a, b: a / b, [(2, 3), (3,)], low=0.5, high=2.0),
    Case("scalar_ops", lambda lib, a: (2.0 - a) * 3 / (a + 4) + 1.5**a - a / 2, [(5,)]),
    Case("rsub_rdiv", lambda lib, a: 1 / (1 + a) - 3 * a, [(4,)], low=0.1, high=1.0),
    Case("pow_tensor_scalar", lambda lib, a: a**3 + a**0.5, [(2, 3)], low=0.5, high=2.0),
    Case("pow_tensor_tensor", lambda lib, a, b: a**b, [(2, 3), (3,)], low=0.5, high=2.0),
    Case("rpow", lambda lib, a: 2.0**a, [(4,)]),
    Case("neg", lambda lib, a: -a, [(3,)]),
    Case("add_alpha", lambda lib, a, b: lib.add(a, b, alpha=2.5), [(3,), (3,)]),
    Case("keepdim_broadcast", lambda lib, a: a - a.mean(-1, keepdim=True), [(3, 5)]),
    # elementwise math
    Case("exp", lambda lib, a: lib.exp(a), [(3, 4)]),
    Case("log", lambda lib, a: lib.log(a), [(3, 4)], low=0.2, high=3.0),
    Case("log1p", lambda lib, a: lib.log1p(a), [(3, 4)], low=-0.5, high=3.0),
    Case("expm1", lambda lib, a: lib.expm1(a), [(3, 4)]),
    Case("sqrt", lambda lib, a: lib.sqrt(a), [(3, 4)], low=0.2, high=3.0),
    Case("rsqrt", lambda lib, a: lib.rsqrt(a), [(3, 4)], low=0.2, high=3.0),
    Case("abs", lambda lib, a: lib.abs(a), [(3, 4)]),
    Case("sign", lambda lib, a: lib.sign(a) * a, [(3, 4)]),
    Case("sin", lambda lib, a: lib.sin(a), [(3, 4)]),
    Case("cos", lambda lib, a: lib.cos(a), [(3, 4)]),
    Case("tanh", lambda lib, a: lib.tanh(a), [(3, 4)]),
    Case("sigmoid", lambda lib, a: lib.sigmoid(a), [(3, 4)], low=-6, high=6),
    Case("relu", lambda lib, a: lib.relu(a), [(3, 4)], gradgrad=False),
    Case("clamp", lambda lib, a: lib.clamp(a, min=-0.5, max=0.7), [(3, 4)], gradgrad=False),
    Case("clamp_min_only", lambda lib, a: a.clamp(min=0.1), [(3, 4)], gradgrad=False),
    Case("reciprocal", lambda lib, a: lib.reciprocal(a), [(3, 4)], low=0.5, high=2.0),
    Case("floor_ceil_round", lambda lib, a: lib.floor(a) + lib.ceil(a) + lib.round(a) + a, [(3, 4)]),
    Case("where", lambda lib, a, b: lib.where(a > 0, a, b), [(3, 4), (4,)], gradgrad=True),
    Case("where_scalar", lambda lib, a: lib.where(a > 0, a, 0.0), [(3, 4)]),
    Case("maximum", lambda lib, a, b: lib.maximum(a, b), [(3, 4), (4,)], gradgrad=False),
    Case("minimum", lambda lib, a, b: lib.minimum(a, b), [(3, 4), (3, 1)], gradgrad=False),
    # reductions
    Case("sum_all", lambda lib, a: a.sum(), [(3, 4)]),
    Case("sum_dims", lambda lib, a: a.sum(dim=(0, 2)), [(2, 3, 4)]),
    Case("sum_keepdim_negative", lambda lib, a: a.sum(-1, keepdim=True), [(2, 3, 4)]),
    Case("mean", lambda lib, a: a.mean(1), [(2, 3, 4)]),
    Case("mean_all", lambda lib, a: lib.mean(a), [(2, 3)]),
    Case("var_unbiased", lambda lib, a: a.var(1), [(3, 5)]),
    Case("var_biased_keepdim", lambda lib, a: a.var(-1, unbiased=False, keepdim=True), [(3, 5)]),
    Case("std", lambda lib, a: a.std(0), [(4, 3)]),
    Case("std_all", lambda lib, a: a.std(), [(4, 3)]),
    Case("amax", lambda lib, a: lib.amax(a, dim=1), [(3, 5)], gradgrad=False),
    Case("amin_keepdim", lambda lib, a: lib.amin(a, dim=(0, 1), keepdim=True), [(2, 3, 2)], gradgrad=False),
    Case("max_all", lambda lib, a: a.max(), [(3, 4)], gradgrad=False),
    Case("min_all", lambda lib, a: a.min(), [(3, 4)], gradgrad=False),
    Case("max_dim", lambda lib, a: a.max(dim=1), [(3, 4)], gradgrad=False),
    Case("min_dim_keepdim", lambda lib, a: a.min(0, keepdim=True), [(3, 4)], gradgrad=False),
    Case("max_binary", lambda lib, a, b: lib.max(a, b), [(3, 4), (3, 4)], gradgrad=False),
    Case("argmax", lambda lib, a: a.argmax(1), [(3, 4)]),
    Case("argmin_all", lambda lib, a: a.argmin(), [(3, 4)]),
    Case("logsumexp", lambda lib, a: lib.logsumexp(a, dim=1), [(3, 4)]),
    Case("logsumexp_multi", lambda lib, a: lib.logsumexp(a, dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    Case("prod_dim", lambda lib, a: a.prod(1), [(3, 4)], low=0.5, high=1.5),
    Case("prod_all", lambda lib, a: lib.prod(a), [(2, 3)], low=0.5, high=1.5),
    Case("norm", lambda lib, a: a.norm(), [(3, 4)]),
    Case("norm_dim", lambda lib, a: lib.norm(a, dim=1, keepdim=True), [(3, 4)]),
    Case("norm_p1", lambda lib, a: lib.norm(a, p=1, dim=0), [(3, 4)], gradgrad=False),
    Case("norm_p3", lambda lib, a: lib.norm(a, p=3), [(3, 4)]),
    # shape ops
    Case("reshape", lambda lib, a: a.reshape(4, -1) * 2, [(2, 3, 2)]),
    Case("view", lambda lib, a: a.view(6, 2), [(3, 4)]),
    Case("flatten", lambda lib, a: lib.flatten(a, 1), [(2, 3, 4)]),
    Case("unflatten", lambda lib, a: a.unflatten(1, (2, 3)), [(2, 6)]),
    Case("squeeze_unsqueeze", lambda lib, a: a.squeeze(1).unsqueeze(-1), [(3, 1, 4)]),
    Case("squeeze_all", lambda lib, a: a.squeeze(), [(3, 1, 4, 1)]),
    Case("transpose", lambda lib, a: a.transpose(0, 2), [(2, 3, 4)]),
    Case("permute", lambda lib, a: a.permute(2, 0, 1), [(2, 3, 4)]),
    Case("T", lambda lib, a: a.T @ a, [(3, 4)]),
    Case("expand", lambda lib, a: a.expand(2, 3, 4), [(3, 1)]),
    Case("broadcast_to", lambda lib, a: lib.broadcast_to(a, (2, 3, 4)), [(4,)]),
    Case("repeat", lambda lib, a: a.repeat(2, 1, 3), [(3, 2)]),
    Case("split", lambda lib, a: a.split(2, dim=1), [(3, 5)]),
    Case("split_sections", lambda lib, a: lib.split(a, [1, 3], dim=0), [(4, 2)]),
    Case("chunk", lambda lib, a: a.chunk(3, dim=-1), [(2, 7)]),
    Case("flip", lambda lib, a: a.flip(0, 2) if hasattr(a, "grad_fn") and False else lib.flip(a, (0, 2)), [(2, 3, 4)]),
    Case("cat", lambda lib, a, b: lib.cat([a, b], dim=1), [(2, 3), (2, 4)]),
    Case("stack", lambda lib, a, b: lib.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    Case("tril", lambda lib, a: lib.tril(a, diagonal=-1), [(4, 4)]),
    Case("triu_batched", lambda lib, a: lib.triu(a, 1), [(2, 3, 4)]),
    Case("pad_constant", lambda lib, a: lib.nn.functional.pad(a, (1, 2, 0, 1), value=0.5), [(2, 3, 4)]),
    Case("pad_reflect", lambda lib, a: lib.nn.functional.pad(a, (2, 1), mode="reflect"), [(2, 3, 4)]),
    Case("pad_replicate", lambda lib, a: lib.nn.functional.pad(a, (1, 2, 2, 1), mode="replicate"), [(1, 2, 3, 4)]),
    Case("pad_circular", lambda lib, a: lib.nn.functional.pad(a, (1, 2), mode="circular"), [(1, 2, 4)]),
    # indexing
    Case("getitem_basic", lambda lib, a: a[1:, None, ::2, -1], [(3, 4, 5)]),
    Case("getitem_ellipsis", lambda lib, a: a[..., 1], [(2, 3, 4)]),
    Case("getitem_int_array_repeated", lambda lib, a, i: a[i], [(3, 4), idx_repeat]),
    Case("getitem_mixed", lambda lib, a, i: a[1:, i], [(3, 4), Const(np.array([3, 3, 0]))]),
    Case("getitem_two_arrays", lambda lib, a: a[[0, 2, 2], [1, 1, 3]], [(3, 4)]),
    Case("getitem_bool_mask", lambda lib, a, m: a[m], [(3, 4), mask_34]),
    Case("getitem_bool_rows", lambda lib, a: a[a[:, 0] > 0], [(5, 3)]),
    Case("gather", lambda lib, a, i: lib.gather(a, 1, i), [(3, 4), gather_index]),
    Case("gather_dim0_smaller", lambda lib, a, i: a.gather(0, i), [(4, 5), Const(np.array([[0, 3], [2, 2]]))]),
    Case("scatter_add", lambda lib, a, i, s: a.scatter_add(1, i, s), [(3, 4), gather_index, (3, 4)]),
    Case("index_select", lambda lib, a, i: lib.index_select(a, 1, i), [(3, 4), Const(np.array([3, 0, 3]))]),
    Case("masked_fill", lambda lib, a, m: a.masked_fill(m, -1.5), [(3, 4), mask_34]),
    # linear algebra
    Case("matmul_2d", lambda lib, a, b: a @ b, [(3, 4), (4, 5)]),
    Case("matmul_batched_broadcast", lambda lib, a, b: lib.matmul(a, b), [(2, 1, 3, 4), (3, 4, 2)]),
    Case("matmul_vec_mat", lambda lib, a, b: a @ b, [(4,), (2, 4, 3)]),
    Case("matmul_mat_vec", lambda lib, a, b: a @ b, [(2, 3, 4), (4,)]),
    Case("matmul_vec_vec", lambda lib, a, b: lib.matmul(a, b), [(4,), (4,)]),
    Case("mm", lambda lib, a, b: lib.mm(a, b), [(3, 4), (4, 2)]),
    Case("bmm", lambda lib, a, b: lib.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    Case("outer", lambda lib, a, b: lib.outer(a, b), [(3,), (4,)]),
    Case("dot", lambda lib, a, b: lib.dot(a, b), [(5,), (5,)]),
    Case("einsum_attention", lambda lib, q, k: lib.einsum("bhqd,bhkd->bhqk", q, k), [(2, 2, 3, 4), (2, 2, 5, 4)]),
    Case("einsum_bilinear", lambda lib, x, w, y: lib.einsum("bi,oij,bj->bo", x, w, y), [(3, 2), (4, 2, 5), (3, 5)]),
    Case("einsum_trace_out", lambda lib, a, b: lib.einsum("ij,jk", a, b), [(3, 4), (4, 2)]),
    Case("einsum_sum_inside", lambda lib, a, b: lib.einsum("ijk,j->i", a, b), [(2, 3, 4), (3,)]),
    Case("einsum_ellipsis", lambda lib, a, b: lib.einsum("...ij,...jk->...ik", a, b), [(2, 3, 4), (4, 5)]),
    # composites that exercise accumulation of gradients from several uses
    Case("reuse", lambda lib, a: (a * a).sum(0) + lib.exp(a).mean(0) * a[0], [(3, 4)]),
    Case("mlp", lambda lib, x, w1, w2: lib.tanh(x @ w1).relu() @ w2, [(5, 4), (4, 6), (6, 3)], gradgrad=False),
    Case("softmax_by_hand", lambda lib, a: lib.exp(a - lib.logsumexp(a, dim=1, keepdim=True)), [(3, 5)]),
]

NON_DIFFERENTIABLE = {"argmax", "argmin_all"}


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_matches_torch(case, dtype):
    compare_with_torch(case, dtype)


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in NON_DIFFERENTIABLE], ids=str)
def test_gradcheck(case):
    check_gradients(case, second_order=True)


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_matches_torch_on_accelerators(case, device):
    compare_with_torch(case, np.float64, device=device)


INDEX_OPS = {
    "gather": lambda x, i: cr.gather(x, 1, i),
    "scatter_add": lambda x, i: cr.scatter_add(x, 1, i, x),
    "scatter": lambda x, i: cr.scatter(x, 1, i, x),
    "scatter_reduce": lambda x, i: cr.scatter_reduce(x, 1, i, x, "amax"),
    "index_select": lambda x, i: cr.index_select(x, 1, i[0]),
    "index_add": lambda x, i: cr.index_add(x, 1, i[0], x),
    "take": lambda x, i: cr.take(x, i),
    "take_along_dim": lambda x, i: cr.take_along_dim(x, i, 1),
}


@pytest.mark.parametrize("devices", [("fake", "cpu"), ("cpu", "fake"), ("fake:0", "fake:1")], ids="-".join)
@pytest.mark.parametrize("op", INDEX_OPS.values(), ids=INDEX_OPS.keys())
def test_index_ops_refuse_an_index_on_another_device_naming_both(op, devices):
    x = cr.ones(2, 3, device=devices[0], requires_grad=True)
    index = cr.tensor([[0, 2, 1], [1, 1, 0]], device=devices[1])
    both = f"{x.device} and {index.device}"
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device.*" + re.escape(both)):
        op(x, index)


@pytest.mark.parametrize("devices", [("cpu", "fake"), ("fake:0", "fake:1")], ids="-".join)
def test_an_index_tensor_on_another_accelerator_is_refused_naming_both(devices):
    x = cr.zeros(3, 2, device=devices[0])
    index = cr.tensor([0, 2], device=devices[1])
    message = rf"on cpu or on the same device as the indexed tensor \({x.device}\), got indices on {index.device}"
    with pytest.raises(RuntimeError, match="__getitem__: indices should be either " + message):
        x[index]
    with pytest.raises(RuntimeError, match="__setitem__: indices should be either " + message):
        x[index, 1] = 1.0


def test_an_index_tensor_on_the_cpu_indexes_a_device_tensor():
    """As in PyTorch, CPU indices (and masks) may index a tensor on any device; the result stays there."""
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device="fake", requires_grad=True)
    rows = x[cr.tensor([2, 0, 2])]
    assert rows.device == x.device
    np.testing.assert_array_equal(rows.detach().cpu().numpy(), [[5.0, 6.0], [1.0, 2.0], [5.0, 6.0]])
    rows.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]])
    y = x.detach().clone()
    y[cr.tensor([True, False, True])] = 0.0
    np.testing.assert_array_equal(y.cpu().numpy(), [[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
