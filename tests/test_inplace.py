"""In-place ops in the graph, version counters, views, retain_grad and tensor hooks, against PyTorch.

Each program is written once against the names both libraries share and run on
both: values and the gradient of every input must agree. The error cases check
that chainrule refuses exactly where PyTorch does, at the same moment (at the
in-place op, or only at backward), with a message saying what went wrong.
"""

from __future__ import annotations

import numpy as np
import pytest
from devices import ACCELERATORS
from harness import Case, Const, check_gradients, compare_with_torch, needs_torch, torch

import chainrule as cr

MASK = Const(np.array([[True, False, True], [False, False, True]]))
ROWS = Const(np.array([1, 0]))
COLUMNS = Const(np.array([2, 0, 1]))
SCATTER_INDEX = Const(np.array([[2, 0], [1, 2]]))


def _setitem_int(lib, x, v):
    y = x * 1
    y[0] = v
    return y


def _setitem_slice(lib, x, v):
    y = x * 1
    y[:, 1:3] = v
    return y


def _setitem_mask(lib, x, v, mask):
    y = x * 1
    y[mask] = v
    return y


def _setitem_scalar_mask(lib, x, mask):
    y = x.exp()
    y = y * 1
    y[mask] = 0.5
    return y


def _setitem_index_array(lib, x, v, rows):
    y = x * 1
    y[rows] = v
    return y


def _setitem_into_constant_buffer(lib, x):
    buffer = lib.zeros(2, 3, dtype=lib.float64)
    buffer[0] = x[1] * 2
    buffer[1, 2] = x[0, 0]
    return buffer


def _setitem_through_views(lib, x, v, rows):
    y = x * 1
    transposed = y.t()
    transposed[1:, 0] = v[0, 1:]  # basic index on a view: a view of a view
    transposed[rows, 1] = v[1, :2]  # array index on a view: Put on the view
    return y, transposed * 1


def _augmented_assignment(lib, x, w):
    y = x * 1
    y += w
    y *= 2
    y -= x
    y /= 3
    return y


def _view_slice_mul(lib, x):
    y = x * 1
    y[0:1].mul_(3)
    return y


def _view_reshape_add(lib, x, w):
    y = x * 1
    y.view(-1)[2:4].add_(w)
    return y


def _view_transpose_relu(lib, x):
    y = x * 2
    y.t()[1].relu_()
    return y


def _view_sigmoid_then_use_base(lib, x):
    y = x * 2
    y[1].sigmoid_()
    return y.sum(0) * y[0]


def _base_changed_then_old_view_used(lib, x):
    y = x * 2
    row = y[0]
    y.mul_(3)
    return row * 1


def _sibling_views(lib, x):
    y = x * 1
    first = y[:, 0:2]
    second = y[:, 1:3]
    first.mul_(3)
    return second * 1


def _view_of_constant_buffer(lib, x):
    buffer = lib.zeros(2, 3, dtype=lib.float64)
    row = buffer[1]
    row.copy_(x[0] * 3)
    return buffer, row * 1


def _split_piece_mul(lib, x):
    y = x * 1
    y.split(1)[0].mul_(2)  # chainrule's pieces are plain slices; PyTorch refuses, the same program by slicing:
    return y


def _slice_mul(lib, x):
    y = x * 1
    y[0:1].mul_(2)
    return y


def _view_of_view(lib, x):
    y = x * 1
    row = y[1]
    middle = row[1:3]
    middle.mul_(2)
    return y, row * 1


def _base_changed_then_view_of_view_used(lib, x):
    y = x * 1
    inner = y.view(6)[1:5].view(2, 2)
    y.exp_()
    return inner * 1


def _augmented_assignment_at_index(lib, x, v, rows):
    y = x * 1
    y[0:1] += v[0]
    y[rows] *= v
    return y


def _constant_buffer_accumulates(lib, x, w):
    total = lib.zeros(2, 3, dtype=lib.float64)
    total += x * w
    total += x
    return total


def _chain_of_inplace(lib, x, w):
    y = x * 1
    y.add_(w).mul_(w).clamp_(-1.0, 1.0)
    y.tanh_()
    return y


def _inplace_on_input_of_later_ops(lib, x):
    y = x * 1
    z = y + 1
    y.mul_(2)
    return z * y


def _unsqueeze_and_transpose(lib, x):
    y = x * 1
    y.unsqueeze_(0)
    y.t_() if y.ndim == 2 else y.transpose_(0, 2)
    return y * 1


CASES = [
    Case("mul_ scalar", lambda lib, x: (x * 2).mul_(3), [(2, 3)]),
    Case("add_ alpha", lambda lib, x, y: (x * 1).add_(y, alpha=2), [(2, 3), (2, 3)]),
    Case("sub_ broadcast other", lambda lib, x, y: (x * 1).sub_(y), [(2, 3), (3,)]),
    Case("mul_ by tensor (needs old self)", lambda lib, x, y: (x * 1).mul_(y), [(2, 3), (2, 3)]),
    Case("div_", lambda lib, x, y: (x * 1).div_(y.exp()), [(2, 3), (2, 3)]),
    Case("pow_ scalar", lambda lib, x: (x * 1).pow_(2), [(2, 3)]),
    Case("pow_ tensor", lambda lib, x, y: (x * 1 + 3).pow_(y), [(2, 3), (2, 3)]),
    Case("relu_", lambda lib, x: (x * 1).relu_(), [(2, 3)]),
    Case("sigmoid_", lambda lib, x: (x * 1).sigmoid_(), [(2, 3)]),
    Case("tanh_", lambda lib, x: (x * 1).tanh_(), [(2, 3)]),
    Case("exp_", lambda lib, x: (x * 1).exp_(), [(2, 3)]),
    Case("log_", lambda lib, x: (x * x + 1).log_(), [(2, 3)]),
    Case("sqrt_", lambda lib, x: (x * x + 1).sqrt_(), [(2, 3)]),
    Case("abs_", lambda lib, x: (x * 1).abs_(), [(2, 3)]),
    Case("neg_", lambda lib, x: (x * 1).neg_(), [(2, 3)]),
    Case("clamp_", lambda lib, x: (x * 1).clamp_(-0.5, 0.7), [(2, 3)]),
    Case("clamp_min_", lambda lib, x: (x * 1).clamp_min_(0.1), [(2, 3)]),
    Case("addcmul_", lambda lib, x, y, z: (x * 1).addcmul_(y, z, value=0.5), [(2, 3), (2, 3), (3,)]),
    Case("addcdiv_", lambda lib, x, y, z: (x * 1).addcdiv_(y, z.exp(), value=2), [(2, 3), (2, 3), (2, 3)]),
    Case("lerp_", lambda lib, x, y: (x * 1).lerp_(y, 0.3), [(2, 3), (2, 3)]),
    Case("masked_fill_", lambda lib, x, mask: (x * 1).masked_fill_(mask, 0.5), [(2, 3), MASK]),
    Case("index_fill_", lambda lib, x, i: (x * 1).index_fill_(1, i, -1.0), [(2, 3), COLUMNS]),
    Case("index_copy_", lambda lib, x, s, i: (x * 1).index_copy_(0, i, s), [(2, 3), (2, 3), ROWS]),
    Case("index_add_", lambda lib, x, s, i: (x * 1).index_add_(1, i, s, alpha=2), [(2, 3), (2, 3), COLUMNS]),
    Case("scatter_", lambda lib, x, s, i: (x * 1).scatter_(1, i, s), [(2, 3), (2, 2), SCATTER_INDEX]),
    Case("scatter_add_", lambda lib, x, s, i: (x * 1).scatter_add_(1, i, s), [(2, 3), (2, 2), SCATTER_INDEX]),
    Case("copy_ broadcast source", lambda lib, x, y: (x * 1).copy_(y), [(2, 3), (3,)]),
    Case("fill_ with 0-dim tensor", lambda lib, x, s: (x * 1).fill_(s), [(2, 3), ()]),
    Case("zero_ then add", lambda lib, x, y: (x * 2).zero_() + y, [(2, 3), (2, 3)]),
    Case("setitem int", _setitem_int, [(2, 3), (3,)]),
    Case("setitem slice", _setitem_slice, [(2, 3), (2, 1)]),
    Case("setitem bool mask", _setitem_mask, [(2, 3), (3,), MASK]),
    Case("setitem scalar at mask", _setitem_scalar_mask, [(2, 3), MASK]),
    Case("setitem index array", _setitem_index_array, [(2, 3), (2, 3), ROWS]),
    Case("setitem into a constant buffer", _setitem_into_constant_buffer, [(2, 3)]),
    Case("setitem through views", _setitem_through_views, [(2, 3), (2, 3), ROWS]),
    Case("+= -= *= /=", _augmented_assignment, [(2, 3), (2, 3)]),
    Case("view: slice mul_", _view_slice_mul, [(2, 3)]),
    Case("view: reshape then slice add_", _view_reshape_add, [(2, 3), (2,)]),
    Case("view: transpose relu_", _view_transpose_relu, [(2, 3)]),
    Case("view: sigmoid_ then base used", _view_sigmoid_then_use_base, [(2, 3)]),
    Case("view taken before the base changed", _base_changed_then_old_view_used, [(2, 3)]),
    Case("sibling views overlap", _sibling_views, [(2, 3)]),
    Case("view of a constant buffer copy_", _view_of_constant_buffer, [(2, 3)]),
    Case("split piece mul_", _split_piece_mul, [(2, 3)], torch_fn=_slice_mul),
    Case("view of a view mul_", _view_of_view, [(2, 3)]),
    Case("view of a view taken before exp_", _base_changed_then_view_of_view_used, [(2, 3)]),
    Case("y[index] += v, y[rows] *= v", _augmented_assignment_at_index, [(2, 3), (2, 3), ROWS]),
    Case("constant buffer += graph values", _constant_buffer_accumulates, [(2, 3), (2, 3)]),
    Case("chain add_ mul_ clamp_ tanh_", _chain_of_inplace, [(2, 3), (2, 3)]),
    Case("input of a later op changed", _inplace_on_input_of_later_ops, [(2, 3)]),
    Case("unsqueeze_ t_", lambda lib, x: _unsqueeze_and_transpose(lib, x[0]), [(2, 3)]),
    Case("unsqueeze_ transpose_ squeeze_", lambda lib, x: (x * 1).unsqueeze_(0).transpose_(1, 2).squeeze_(0), [(2, 3)]),
]

INPLACE_METHODS = (
    "add_ sub_ mul_ div_ pow_ addcmul_ addcdiv_ lerp_ clamp_ clip_ clamp_min_ clamp_max_ relu_ sigmoid_ tanh_ exp_ "
    "log_ sqrt_ abs_ neg_ masked_fill_ index_fill_ index_copy_ index_add_ scatter_ scatter_add_ copy_ fill_ zero_ "
    "uniform_ normal_ bernoulli_ exponential_ random_ t_ transpose_ unsqueeze_ squeeze_ __setitem__ __iadd__ "
    "__isub__ __imul__ __itruediv__"
).split()


@needs_torch
def test_every_in_place_method_of_torch_listed_here_exists():
    assert [name for name in INPLACE_METHODS if hasattr(torch.Tensor, name) and not hasattr(cr.Tensor, name)] == []


VIEWS = {
    "view": lambda t: t.view(3, 2),
    "reshape": lambda t: t.reshape(-1),
    "flatten": lambda t: t.flatten(),
    "unflatten": lambda t: t.unflatten(1, (3, 1)),
    "t": lambda t: t.t(),
    "T": lambda t: t.T,
    "permute": lambda t: t.permute(1, 0),
    "transpose": lambda t: t.transpose(0, 1),
    "movedim": lambda t: t.movedim(0, 1),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "squeeze": lambda t: t[0:1].squeeze(0),
    "select": lambda t: t[1],
    "narrow": lambda t: t.narrow(1, 1, 2),
    "strided slice": lambda t: t[:, ::2],
    "ellipsis and None": lambda t: t[..., None, 1:],
}


def _through_view(make_view):
    def program(lib, x, w):
        y = x * 1
        view = make_view(y)
        view.mul_(2)
        view.add_(make_view(w * 1))
        return y, view * 1

    return program


VIEW_CASES = [Case(f"in place through {name}", _through_view(fn), [(2, 3), (2, 3)]) for name, fn in VIEWS.items()]


@needs_torch
@pytest.mark.parametrize("case", CASES + VIEW_CASES, ids=str)
def test_inplace_program_matches_torch(case):
    compare_with_torch(case)


BUILDS_HOST_TENSORS = {
    "setitem into a constant buffer",
    "view of a constant buffer copy_",
    "constant buffer += graph values",
}
"""Programs that make their buffer with ``lib.zeros`` (on the CPU) and write device values into it."""


@needs_torch
@pytest.mark.parametrize("device", ACCELERATORS)
@pytest.mark.parametrize("case", CASES + VIEW_CASES, ids=str)
def test_inplace_program_matches_torch_on_accelerators(case, device):
    if case.name in BUILDS_HOST_TENSORS:
        pytest.skip("the program makes a CPU buffer inside, which cannot take values from another device")
    compare_with_torch(case, np.float64, device=device)


@needs_torch
def test_host_buffer_programs_do_meet_device_values_with_the_device_error():
    """The programs skipped on accelerators fail there for the stated reason, not another."""
    for case in (c for c in CASES if c.name in BUILDS_HOST_TENSORS):
        with pytest.raises((RuntimeError, AssertionError), match="same device|output on cpu"):
            compare_with_torch(case, np.float64, device="fake")


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.name in ("mul_ by tensor (needs old self)", "setitem slice", "view: sigmoid_ then base used")
    ],
    ids=str,
)
def test_inplace_gradients_match_finite_differences(case):
    check_gradients(case)


# --------------------------------------------------------------------------- errors, raised where torch raises them
def _sigmoid_then_mul(lib, x):
    y = x.sigmoid()
    y.mul_(2)
    return y


def _exp_then_add(lib, x):
    y = x.exp()
    y.add_(1)
    return y


def _relu_twice(lib, x):
    y = x * 2
    y.relu_()
    y.mul_(2)
    return y


def _saved_input_changed(lib, x):
    y = x * 2
    z = y * x
    y.add_(1)
    return z


def _saved_input_changed_through_view(lib, x):
    y = x * 2
    z = y * x
    y[0].zero_()
    return z


def _saved_view_changed_through_base(lib, x):
    y = x * 2
    row = y[0]
    z = row * x[0]
    y.add_(1)
    return z


def _saved_input_then_exp_(lib, x):
    y = x * 1
    z = y.sin()
    y.exp_()
    return z + y


def _detached_alias_changed(lib, x):
    y = x.tanh()
    y.detach().zero_()
    return y


@needs_torch
@pytest.mark.parametrize(
    "program, producer, versions",
    [
        (_sigmoid_then_mul, "output 0 of sigmoid", "is at version 1; expected version 0"),
        (_exp_then_add, "output 0 of exp", "is at version 1; expected version 0"),
        (_relu_twice, "output 0 of relu", "is at version 2; expected version 1"),
        (_saved_input_changed, "an input of mul", "is at version 1; expected version 0"),
        (_saved_input_changed_through_view, "an input of mul", "is at version 1; expected version 0"),
        (_saved_view_changed_through_base, "an input of mul", "is at version 1; expected version 0"),
        (_detached_alias_changed, "output 0 of tanh", "is at version 1; expected version 0"),
        (_saved_input_then_exp_, "an input of sin", "is at version 1; expected version 0"),
    ],
    ids=lambda p: getattr(p, "__name__", ""),
)
def test_modified_saved_value_raises_at_backward(program, producer, versions):
    data = np.linspace(-1, 1, 6).reshape(2, 3)
    ours = program(cr, cr.tensor(data, requires_grad=True))  # the in-place op itself is allowed
    theirs = program(torch, torch.tensor(data, requires_grad=True))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        theirs.sum().backward()
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as raised:
        ours.sum().backward()
    assert producer in str(raised.value) and versions in str(raised.value)


def _leaf_mul(lib, w):
    w.mul_(2)


def _leaf_setitem(lib, w):
    w[0] = 1.0


def _leaf_iadd(lib, w):
    w += 1


def _leaf_view(lib, w):
    w[0].add_(1)


def _view_made_in_no_grad(lib, w):
    y = w * 1
    with lib.no_grad():
        row = y[0]
    row.mul_(2)


def _expanded_view(lib, w):
    (w * 1)[0:1].expand(4, 3).mul_(2)


@needs_torch
@pytest.mark.parametrize(
    "program, message",
    [
        (_leaf_mul, "a leaf Variable that requires grad is being used in an in-place operation"),
        (_leaf_setitem, "a leaf Variable that requires grad is being used in an in-place operation"),
        (_leaf_iadd, "a leaf Variable that requires grad is being used in an in-place operation"),
        (_leaf_view, "a view of a leaf Variable that requires grad is being used in an in-place operation"),
        (_view_made_in_no_grad, "view was created in no_grad mode"),
        (_expanded_view, "clone()"),
    ],
    ids=lambda p: getattr(p, "__name__", ""),
)
def test_refused_in_place_ops_raise_at_the_op(program, message):
    data = np.ones((2, 3))
    with pytest.raises(RuntimeError):
        program(torch, torch.tensor(data, requires_grad=True))
    with pytest.raises(RuntimeError, match=message):
        program(cr, cr.tensor(data, requires_grad=True))


def test_in_place_results_must_fit_the_tensor():
    with pytest.raises(RuntimeError, match=r"add_: the result of shape \(2, 3\) doesn't match the shape \(3,\)"):
        cr.zeros(3).add_(cr.ones(2, 3))
    with pytest.raises(RuntimeError, match="mul_: result type float32 can't be cast to the tensor's dtype int64"):
        cr.tensor([1, 2]).mul_(0.5)
    with pytest.raises(RuntimeError, match="fill_: only a 0-dim value tensor"):
        cr.zeros(3).fill_(cr.ones(2))
    with pytest.raises(IndexError, match="__setitem__"):
        cr.zeros(3)[5] = 1.0


# --------------------------------------------------------------------------- what stays allowed
def test_leaf_updates_under_no_grad_and_through_aliases():
    w = cr.ones(3, requires_grad=True)
    with cr.no_grad():
        w.mul_(2)
        w[0] = 5.0
    assert w._version == 2 and w.requires_grad and w.is_leaf
    w.data.add_(1)
    w.detach().sub_(1)
    assert w._version == 4
    np.testing.assert_allclose(w.detach().numpy(), [5.0, 2.0, 2.0])
    (w * w).sum().backward()
    before = w
    with cr.no_grad():
        w -= 0.25 * w.grad  # the hand-written SGD step
    assert w is before and w.is_leaf and w._version == 5
    np.testing.assert_allclose(w.detach().numpy(), [2.5, 1.0, 1.0])
    w.grad.zero_()
    np.testing.assert_allclose(w.grad.numpy(), 0.0)
    w.data = cr.zeros(3)
    np.testing.assert_allclose(w.detach().numpy(), 0.0)


def test_in_place_keeps_identity_and_memory():
    x = cr.ones(2, 3, requires_grad=True)
    y = x * 2
    array = y.detach().numpy()
    returned = y.mul_(3)
    assert returned is y and y.detach().numpy() is array and array[0, 0] == 6.0
    assert y.grad_fn is not None and not y.is_leaf


@needs_torch
def test_version_counters_match_torch():
    def program(lib):
        x = lib.ones(2, 3, requires_grad=True)
        y = x * 2
        view = y.view(6)
        row = y[0]
        detached = y.detach()
        view.add_(1)
        row.mul_(2)
        detached.zero_()
        y.relu_()
        other = x * 3
        other.add_(1)
        return [t._version for t in (x, y, view, row, detached, other)]

    assert program(cr) == program(torch)


@needs_torch
def test_buffer_that_takes_a_value_requiring_grad_enters_the_graph():
    for lib in (cr, torch):
        w = lib.ones(1, requires_grad=True)
        buffer = lib.zeros(3)
        buffer[1] = w[0] * 2
        assert buffer.requires_grad and not buffer.is_leaf
        buffer.sum().backward()
        np.testing.assert_allclose(np.asarray(w.grad.detach()), [2.0])


def test_a_pickled_view_carries_its_values_not_its_base():
    import pickle

    base = cr.arange(10000, dtype=cr.float32)
    view = base[2:4]
    restored = pickle.loads(pickle.dumps(view))
    assert len(pickle.dumps(view)) < 1000
    np.testing.assert_array_equal(restored.numpy(), [2.0, 3.0])
    restored.add_(1)
    assert restored._version == 1 and base._version == 0


def test_random_fills_draw_from_a_generator():
    first = cr.empty(1000).uniform_(-2, 3, generator=cr.Generator().manual_seed(7))
    again = cr.empty(1000).uniform_(-2, 3, generator=cr.Generator().manual_seed(7))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert -2 <= first.numpy().min() and first.numpy().max() < 3
    normal = cr.empty(4000, dtype=cr.float64).normal_(1.0, 2.0, generator=cr.Generator().manual_seed(0))
    assert abs(normal.numpy().mean() - 1.0) < 0.15 and abs(normal.numpy().std() - 2.0) < 0.15
    coins = cr.empty(4000).bernoulli_(0.25, generator=cr.Generator().manual_seed(0))
    assert set(np.unique(coins.numpy())) <= {0.0, 1.0} and abs(coins.numpy().mean() - 0.25) < 0.03
    waits = cr.empty(4000, dtype=cr.float64).exponential_(2.0, generator=cr.Generator().manual_seed(0))
    assert waits.numpy().min() >= 0 and abs(waits.numpy().mean() - 0.5) < 0.05
    dice = cr.empty(1000).random_(1, 7, generator=cr.Generator().manual_seed(0))
    assert set(np.unique(dice.numpy())) == {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}


@needs_torch
def test_random_fill_of_a_graph_tensor_gives_zero_gradient():
    for lib in (cr, torch):
        x = lib.ones(3, requires_grad=True)
        y = x * 2
        y.uniform_()
        assert y.requires_grad
        y.sum().backward()
        np.testing.assert_array_equal(np.asarray(x.grad), 0.0)


# --------------------------------------------------------------------------- retain_grad and hooks
@needs_torch
def test_retain_grad_matches_torch():
    def program(lib):
        x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
        x.retain_grad()  # a no-op on a leaf
        y = x * 2
        y.retain_grad()
        z = y.tanh()
        z.retain_grad()
        (z * z).sum().backward(retain_graph=True)
        (z * 3).sum().backward()  # retained gradients accumulate, as .grad of leaves do
        moved = x * 1
        moved.retain_grad()
        moved.mul_(5)  # retain_grad follows the tensor to its new node
        moved.sum().backward()
        flags = (x.retains_grad, y.retains_grad, z.retains_grad, moved.retains_grad)
        return [np.asarray(t.grad.detach()) for t in (x, y, z, moved)], flags

    ours, ours_flags = program(cr)
    theirs, their_flags = program(torch)
    assert ours_flags == their_flags == (False, True, True, True)
    for mine, ref in zip(ours, theirs):
        np.testing.assert_allclose(mine, ref, rtol=1e-6)


@needs_torch
def test_hooks_match_torch():
    def program(lib):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        seen = []
        x.register_hook(lambda g: g * 3)
        y = x * 2
        y.register_hook(lambda g: seen.append(np.asarray(g.detach()).copy()))
        removed = y.register_hook(lambda g: g * 100)
        removed.remove()
        y.register_hook(lambda g: g + 1)
        y.retain_grad()  # retain_grad sees the gradient after every hook
        y.mul_(4)  # hooks registered before stay with the old value
        y.register_hook(lambda g: g * 10)
        y.sum().backward()
        return np.asarray(x.grad), np.asarray(y.grad), seen

    ours, theirs = program(cr), program(torch)
    np.testing.assert_allclose(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1])
    np.testing.assert_allclose(np.array(ours[2]), np.array(theirs[2]))


def test_hook_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cr.ones(2).register_hook(lambda g: g)
    x = cr.ones(2, requires_grad=True)
    x.register_hook(lambda g: cr.ones(3))
    with pytest.raises(RuntimeError, match=r"expected None or a Tensor of shape \(2,\)"):
        (x * 2).sum().backward()


def test_hooks_apply_to_autograd_grad():
    x = cr.ones(2, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 5)
    (grad,) = cr.autograd.grad(y.sum(), [x])
    np.testing.assert_allclose(grad.numpy(), [10.0, 10.0])


class _Halves(cr.autograd.Op):
    """Two views of a vector's halves from one op (as NumPy's split gives them)."""

    @staticmethod
    def forward(ctx, x):
        return tuple(np.split(x, 2))

    @staticmethod
    def backward(ctx, first, second):
        return cr.cat([first, second])


def test_views_from_a_multi_output_op_are_not_modified_in_place_in_the_graph():
    with cr.no_grad():
        _, second = _Halves.apply(cr.ones(4))
    assert second._view is not None and second._view.multi_output
    x = cr.ones(4, requires_grad=True)
    y = x * 2
    first, _ = _Halves.apply(y)
    with pytest.raises(RuntimeError, match="mul_: .* one of several views returned by one op"):
        first.mul_(3)
    with cr.no_grad():
        first.mul_(3)
    assert y._version == 1
    np.testing.assert_array_equal(y.detach().numpy(), [6.0, 6.0, 2.0, 2.0])


def test_in_place_ops_and_views_leave_no_reference_cycles():
    import gc
    import weakref

    gc.disable()
    try:
        x = cr.ones(2, 3, requires_grad=True)
        y = x * 2
        y[1] = x[0] * 3
        row = y[0]
        row.sigmoid_()
        y.retain_grad()
        y.register_hook(lambda g: g)
        loss = (y * 1).sum()
        nodes = [weakref.ref(y.grad_fn), weakref.ref(row.grad_fn), weakref.ref(loss.grad_fn)]
        tensors = [weakref.ref(y), weakref.ref(row), weakref.ref(loss)]
        loss.backward()
        del y, row, loss
        assert all(ref() is None for ref in nodes + tensors)  # freed by reference counting alone
    finally:
        gc.enable()


@needs_torch
def test_post_accumulate_grad_hooks_and_final_callbacks_match_torch():
    def program(lib, queue_callback):
        w = lib.ones(3, requires_grad=True)
        events = []

        def after_accumulation(param):
            events.append(("accumulated", float(param.grad.sum())))
            queue_callback(lambda: events.append(("finished", float(param.grad.sum()))))

        handle = w.register_post_accumulate_grad_hook(after_accumulation)
        (w * 2).sum().backward()
        handle.remove()
        (w * 2).sum().backward()
        return events

    from chainrule.autograd.engine import queue_callback

    ours = program(cr, queue_callback)
    theirs = program(torch, torch.autograd.Variable._execution_engine.queue_callback)
    assert ours == theirs == [("accumulated", 6.0), ("finished", 6.0)]
    with pytest.raises(RuntimeError, match="only be installed during the backward pass"):
        queue_callback(lambda: None)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (cr.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_a_view_of_a_base_reshaped_in_place_is_refused_not_silently_wrong():
    x = cr.ones(2, 3, requires_grad=True)
    y = x * 1
    row = y[0]
    y.t_()  # y's array is now a transposed view: row's recipe (y[0]) no longer names the same elements
    with pytest.raises(RuntimeError, match="changed in place and given new data or a new shape"):
        row * 1
