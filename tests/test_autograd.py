"""The autograd engine: chain rule, accumulation, graph lifetime, higher order, custom Functions."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from harness import needs_torch, torch

import chainrule as cr


def test_two_layer_network_gradients_match_hand_derivation():
    # The notes' two-layer network: loss = 0.5 |relu(X W1) W2 - y|^2, gradients by hand.
    rng = np.random.default_rng(0)
    X, W1, W2, y = (rng.standard_normal(s) for s in [(8, 5), (5, 4), (4, 3), (8, 3)])
    w1, w2 = cr.tensor(W1, requires_grad=True), cr.tensor(W2, requires_grad=True)
    loss = 0.5 * ((cr.tensor(X) @ w1).relu() @ w2 - cr.tensor(y)).pow(2).sum()
    loss.backward()
    Z1 = X @ W1
    H = np.maximum(Z1, 0)
    G2 = H @ W2 - y  # d loss / d output
    np.testing.assert_allclose(w2.grad.numpy(), H.T @ G2, rtol=1e-12)
    np.testing.assert_allclose(w1.grad.numpy(), X.T @ ((G2 @ W2.T) * (Z1 > 0)), rtol=1e-12)


def test_gradients_accumulate_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_shared_gradient_arrays_are_not_aliased_between_leaves():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(10)  # must not change b.grad
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_leaf_backward_directly():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.backward(cr.tensor([0.5, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -1.0])


def test_backward_on_non_scalar_needs_gradient():
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(3,\)"):
        (x * 2).backward()
    y = x * 2
    y.backward(cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        (x * 2).backward(cr.ones(2))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(3).sum().backward()


def test_second_backward_through_freed_graph_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_no_grad_and_enable_grad():
    x = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
        with cr.enable_grad():
            z = x * 2
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @cr.no_grad()
    def doubled(t):
        return t * 2

    assert not doubled(x).requires_grad
    assert cr.is_grad_enabled()


def test_detach_and_leaf_flags():
    x = cr.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.numpy(), y.detach().numpy())


def test_requires_grad_only_for_floats():
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2], requires_grad=True)


def test_autograd_grad_does_not_touch_dot_grad_and_handles_non_leaf_inputs():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * x
    y = (h * 2).sum()
    gx, gh = cr.autograd.grad(y, [x, h])
    np.testing.assert_allclose(gx.numpy(), 4 * x.detach().numpy())
    np.testing.assert_allclose(gh.numpy(), [2.0, 2.0, 2.0])
    assert x.grad is None


def test_autograd_grad_allow_unused():
    x = cr.ones(2, requires_grad=True)
    unused = cr.ones(2, requires_grad=True)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not used"):
        cr.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = cr.autograd.grad(y, [x, unused], allow_unused=True)
    assert gu is None and np.allclose(gx.numpy(), 2.0)


def test_hessian_vector_product_of_mlp_matches_finite_differences():
    rng = np.random.default_rng(1)
    X = cr.tensor(rng.standard_normal((6, 4)))
    W1 = rng.standard_normal((4, 5))
    W2 = cr.tensor(rng.standard_normal((5, 1)))
    v = rng.standard_normal((4, 5))

    def loss_grad(w_array):
        w = cr.tensor(w_array, requires_grad=True)
        loss = (cr.tanh(X @ w) @ W2).pow(2).mean()
        (g,) = cr.autograd.grad(loss, [w], create_graph=True)
        return w, g

    w, g = loss_grad(W1)
    (hvp,) = cr.autograd.grad((g * cr.tensor(v)).sum(), [w])
    eps = 1e-6
    numeric = (loss_grad(W1 + eps * v)[1].detach().numpy() - loss_grad(W1 - eps * v)[1].detach().numpy()) / (2 * eps)
    np.testing.assert_allclose(hvp.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_create_graph_backward_gives_differentiable_grad():
    x = cr.tensor([1.5, -0.5], dtype=cr.float64, requires_grad=True)
    y = (x**3).sum()
    y.backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = cr.autograd.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(g2.numpy(), 6 * x.detach().numpy())


@needs_torch
def test_gradient_penalty_matches_torch():
    rng = np.random.default_rng(2)
    xs, ws = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))

    def penalty(lib, x, w):
        out = lib.sigmoid(x @ w).sum()
        (gx,) = lib.autograd.grad(out, [x], create_graph=True)
        return (gx**2).sum()

    ours = [cr.tensor(a, requires_grad=True) for a in (xs, ws)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (xs, ws)]
    penalty(cr, *ours).backward()
    penalty(torch, *theirs).backward()
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-10)


class Cube(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x**3 * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2 * ctx.scale, None


def test_custom_function():
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn is not None and not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy() ** 2)
    assert cr.autograd.gradcheck(lambda t: Cube.apply(t, 2.0), (x,))
    assert cr.autograd.gradgradcheck(lambda t: Cube.apply(t, 2.0), (x,))


class SplitSigns(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0), x.clamp(max=0)

    @staticmethod
    def backward(ctx, grad_pos, grad_neg):
        (x,) = ctx.saved_tensors
        return cr.where(x > 0, grad_pos, grad_neg)


def test_custom_function_with_two_outputs():
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    pos, neg = SplitSigns.apply(x)
    (pos * 2 + neg * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 5.0, 2.0])
    x.grad = None
    pos, _ = SplitSigns.apply(x)  # the unused output gets a zero gradient
    pos.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 1.0])


def test_custom_function_wrong_gradient_count_raises():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradients.*2 inputs"):
        Bad.apply(x, x).sum().backward()


def test_detect_anomaly_names_forward_op():
    x = cr.tensor([-1.0, 1.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="'log'"):
            cr.log(x)
    cr.log(cr.tensor([1.0]))  # outside the context nothing is checked


def test_detect_anomaly_names_backward_op():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        y = cr.sqrt(x)  # finite forward, infinite gradient at 0
        with pytest.raises(RuntimeError, match="'sqrt'"):
            y.sum().backward()


def test_in_place_change_of_saved_input_is_detected():
    x = cr.tensor([1.0, 2.0])
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    y = (w * x).sum()
    x[0] = 10.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_in_place_on_leaf_requiring_grad_raises_outside_no_grad():
    w = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place"):
        w[0] = 2.0
    with cr.no_grad():
        w[0] = 2.0
        w.mul_(2)
    np.testing.assert_allclose(w.detach().numpy(), [4.0, 2.0, 2.0])


def test_long_chain_has_no_recursion_limit():
    x = cr.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000], rtol=1e-3)


def test_graph_is_freed_by_reference_counting_without_gc():
    gc.collect()
    gc.disable()
    try:
        w = cr.randn(50, 50, requires_grad=True)
        x = cr.randn(8, 50)
        h = cr.tanh(x @ w)
        out = cr.sigmoid(h @ w)
        loss = out.sum()
        probes = [weakref.ref(t) for t in (h, out)] + [weakref.ref(loss.grad_fn), weakref.ref(h.grad_fn)]
        loss.backward()
        del h, out, loss
        assert all(p() is None for p in probes), "the graph or its activations outlived their last reference"
    finally:
        gc.enable()


def test_saved_arrays_released_after_backward():
    x = cr.randn(100, requires_grad=True)
    y = cr.exp(x)
    probe = weakref.ref(y.grad_fn.saved[0][1])  # the saved output array
    z = y.sum()
    del y
    z.backward()
    assert probe() is None


def test_repr_shows_values_shape_dtype_and_grad_fn():
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    text = repr(x * 2)
    assert "2., 4." in text and "shape=(1, 2)" in text and "dtype=float32" in text and "MulBackward" in text
    assert "requires_grad=True" in repr(x)


def test_float32_stays_float32_through_forward_and_backward():
    cr.manual_seed(0)
    x = cr.randn(8, 5)
    w1 = cr.randn(5, 7, requires_grad=True)
    w2 = cr.randn(7, 3, requires_grad=True)
    h = cr.sigmoid(x @ w1 * 0.5 + 1)
    out = cr.tanh(h @ w2).relu()
    loss = (cr.logsumexp(out, dim=1) - out.mean(1)).var() + out.std() + (h**2).sum() / 3
    for t in (h, out, loss):
        assert t.dtype == cr.float32
    loss.backward()
    assert w1.grad.dtype == cr.float32 and w2.grad.dtype == cr.float32


@pytest.mark.parametrize("outer", [True, False])
@pytest.mark.parametrize("inner", [True, False])
def test_set_grad_enabled_as_a_context_restores_the_mode_before_the_call(outer, inner):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (cr, torch):
        with lib.set_grad_enabled(outer):
            with lib.set_grad_enabled(inner):
                inside = lib.is_grad_enabled()
            results.append((inside, lib.is_grad_enabled()))
        results[-1] += (lib.is_grad_enabled(),)
    assert results[0] == results[1] == (inner, outer, True)
