"""Matrix products: matmul (batched, broadcast), mm, bmm, outer, dot, einsum.

All contractions go to the BLAS library through NumPy/CuPy ``matmul``.
Backprop recipe for ``Y = A B``: ``dL/dA = G B^T``, ``dL/dB = A^T G``, each
summed over broadcast batch dims.
"""

from __future__ import annotations

import re

import numpy as np

from chainrule.autograd.function import Op
from chainrule.autograd.naming import public_name
from chainrule.backend import array_module
from chainrule.ops._args import normalize_dim
from chainrule.ops.casting import promote_all, promote_operands
from chainrule.ops.reduce import norm
from chainrule.ops.shape import broadcast_to, diagonal, matrix_transpose, reshape, stack, sum_to_shape, unsqueeze
from chainrule.tensor import Tensor


class MatMul(Op):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_a = grad_b = None
        if a.ndim == 1 and b.ndim == 1:  # dot product: grad is a scalar
            return (grad * b if ctx.needs_input_grad[0] else None), (grad * a if ctx.needs_input_grad[1] else None)
        # Promote vectors to matrices so one formula serves every case.
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g2 = grad
        if a.ndim == 1:
            g2 = unsqueeze(g2, -2)
        if b.ndim == 1:
            g2 = unsqueeze(g2, -1)
        if ctx.needs_input_grad[0]:
            grad_a = reshape(sum_to_shape(g2 @ matrix_transpose(b2), a2.shape), a.shape)
        if ctx.needs_input_grad[1]:
            grad_b = reshape(sum_to_shape(matrix_transpose(a2) @ g2, b2.shape), b.shape)
        return grad_a, grad_b


def _matmul_shapes_error(a: Tensor, b: Tensor, op: str):
    return RuntimeError(
        f"{public_name(op)}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
        f"(inner dims {a.shape[-1] if a.ndim else '-'} and {b.shape[-2] if b.ndim > 1 else (b.shape[0] if b.ndim else '-')} differ)"
    )


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product ``input @ other`` with NumPy's rules: vectors are promoted, leading dims broadcast.

    ``y[..., i, k] = sum_j a[..., i, j] b[..., j, k]``. A 1-d ``input`` (n,) acts as a row
    (1, n) and a 1-d ``other`` (n,) as a column (n, 1); the added dim is dropped from the
    result, so two vectors give their 0-d dot product. Batch dims (all but the last two)
    broadcast: (b, n, m) @ (m, p) -> (b, n, p). The operands are promoted to a common
    dtype as for ``+`` (int64 @ float32 -> float32; two integer tensors give an integer
    product). Gradients: ``dA = G B^T`` and ``dB = A^T G``, summed over broadcast dims.

    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.matmul(a, a)
    tensor([[ 7., 10.],
            [15., 22.]], shape=(2, 2), dtype=float32)
    >>> cr.matmul(a, cr.tensor([1.0, 1.0]))
    tensor([3., 7.], shape=(2,), dtype=float32)
    """
    a, b = promote_operands(input, other, "matmul")
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"{public_name('matmul')}: both arguments must be tensors of at least 1 dim")
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if a.shape[-1] != inner_b:
        raise _matmul_shapes_error(a, b, "matmul")
    return MatMul.apply(a, b)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices: (n, m) @ (m, p) -> (n, p), no broadcasting.

    ``y[i, k] = sum_j input[i, j] mat2[j, k]``; both must be 2-d (RuntimeError otherwise).
    Dtypes promote as for ``matmul``.

    >>> import chainrule as cr
    >>> cr.mm(cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0], [4.0]]))
    tensor([[11.]], shape=(1, 1), dtype=float32)
    """
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expects two matrices, got shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """A batch of matrix products: (b, n, m) @ (b, m, p) -> (b, n, p), no broadcasting.

    ``y[b] = input[b] @ mat2[b]``; both must be 3-d with the same batch size b.
    Dtypes promote as for ``matmul``.

    >>> import chainrule as cr
    >>> a = cr.ones(2, 1, 3)
    >>> cr.bmm(a, cr.ones(2, 3, 1))
    tensor([[[3.]],
    <BLANKLINE>
            [[3.]]], shape=(2, 1, 1), dtype=float32)
    """
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(
            f"bmm: expects two 3-d tensors with equal batch size, got shapes {input.shape} and {mat2.shape}"
        )
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-d tensors of equal size, as a 0-d tensor.

    ``y = sum_i input_i other_i``; gradients ``d input = g other``, ``d other = g input``.
    ``inner`` is the same function. Dtypes promote as for ``matmul``.

    >>> import chainrule as cr
    >>> cr.dot(cr.tensor([1.0, 2.0, 3.0]), cr.tensor([4.0, 5.0, 6.0]))
    tensor(32., shape=(), dtype=float32)
    """
    if input.ndim != 1 or other.ndim != 1 or input.shape != other.shape:
        raise RuntimeError(f"dot: expects two 1-d tensors of equal size, got shapes {input.shape} and {other.shape}")
    return matmul(input, other)


inner = dot


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two vectors: (n,) and (m,) -> (n, m).

    ``y[i, j] = input_i vec2_j``; ``ger`` is the same function. Dtypes promote as for ``*``.

    >>> import chainrule as cr
    >>> cr.outer(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 10.0, 100.0]))
    tensor([[  1.,  10., 100.],
            [  2.,  20., 200.]], shape=(2, 3), dtype=float32)
    """
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expects two 1-d tensors, got shapes {input.shape} and {vec2.shape}")
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


ger = outer


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix times vector: (n, m) @ (m,) -> (n,).

    ``y_i = sum_j input[i, j] vec_j``. Dtypes promote as for ``matmul``.

    >>> import chainrule as cr
    >>> cr.mv(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, -1.0]))
    tensor([-1., -1.], shape=(2,), dtype=float32)
    """
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expects a matrix and a vector, got shapes {input.shape} and {vec.shape}")
    return matmul(input, vec)


# --------------------------------------------------------------------------- einsum
class Einsum(Op):
    @staticmethod
    def forward(ctx, *operands, equation):
        ctx.equation = equation
        ctx.save_for_backward(*operands)
        return array_module(operands[0]).einsum(equation, *operands, optimize=len(operands) > 2)

    @staticmethod
    def backward(ctx, grad):
        inputs = ctx.saved_tensors
        input_specs, output_spec = ctx.equation.split("->")
        specs = input_specs.split(",")
        grads = []
        for i, spec in enumerate(specs):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            grads.append(_einsum_input_grad(i, spec, specs, output_spec, inputs, grad))
        return tuple(grads)


def _einsum_input_grad(i, spec, specs, output_spec, inputs, grad):
    """d(einsum)/d(operand i): contract the output gradient with the other operands.

    The result is computed for the labels of operand i that appear elsewhere;
    labels summed inside operand i alone are broadcast back afterwards.
    """
    letters = spec.replace("...", "")
    if len(set(letters)) != len(letters):
        raise NotImplementedError(f"einsum backward: a repeated label in operand {i} ({spec!r}) is not supported")
    others = [s for j, s in enumerate(specs) if j != i]
    available = set(output_spec) | set("".join(others))
    target = "".join(c for c in spec.replace("...", "\0") if c == "\0" or c in available).replace("\0", "...")
    equation = ",".join([output_spec, *others]) + "->" + target
    partial = Einsum.apply(grad, *[x for j, x in enumerate(inputs) if j != i], equation=equation)
    x = inputs[i]
    ellipsis_dims = partial.ndim - len(target.replace("...", ""))
    kept_shape, full_shape, position, x_position = [], [], 0, 0
    for char in spec.replace("...", "\0"):
        if char == "\0":
            kept_shape += partial.shape[position : position + ellipsis_dims]
            full_shape += partial.shape[position : position + ellipsis_dims]
            position += ellipsis_dims
            x_position += x.ndim - len(letters)
        elif char in available:
            kept_shape.append(partial.shape[position])
            full_shape.append(partial.shape[position])
            position += 1
            x_position += 1
        else:
            kept_shape.append(1)
            full_shape.append(x.shape[x_position])
            x_position += 1
    result = broadcast_to(reshape(partial, tuple(kept_shape)), tuple(full_shape))
    if result.ndim != x.ndim and not spec.startswith("..."):
        raise NotImplementedError(f"einsum backward: broadcasting of '...' inside {spec!r} is not supported")
    return sum_to_shape(result, x.shape)


_LABELS = re.compile(r"[a-zA-Z]|\.\.\.")


def _explicit_equation(equation: str, operands) -> str:
    """Spaces removed and the implicit output (labels seen once, sorted) written out."""
    equation = equation.replace(" ", "")
    if "->" in equation:
        return equation
    labels = [t for t in _LABELS.findall(equation) if t != "..."]
    once = sorted(c for c in set(labels) if labels.count(c) == 1)
    return equation + "->" + ("..." if "..." in equation else "") + "".join(once)


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; differentiable in every operand.

    Each operand is labelled by one letter per dim (``...`` stands for leading dims);
    labels missing from the output (after ``->``) are summed over. Without ``->`` the
    output is the labels seen once, in alphabetical order. The operands may also be
    given as one list. They are brought to a common dtype first. A label repeated
    inside one operand (a diagonal, ``"ii->"``) works forward, but its backward raises
    NotImplementedError.

    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.einsum('ij,j->i', a, cr.tensor([1.0, 1.0]))
    tensor([3., 7.], shape=(2,), dtype=float32)
    >>> cr.einsum('ij->', a)
    tensor(10., shape=(), dtype=float32)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = promote_all(operands, "einsum")
    equation = _explicit_equation(equation, operands)
    specs = equation.split("->")[0].split(",")
    if len(specs) != len(operands):
        raise ValueError(f"einsum: equation {equation!r} names {len(specs)} operands but {len(operands)} were given")
    for spec, x in zip(specs, operands):
        letters = len(spec.replace("...", ""))
        if ("..." not in spec and letters != x.ndim) or ("..." in spec and letters > x.ndim):
            raise ValueError(f"einsum: operand spec {spec!r} does not match an operand of shape {x.shape}")
    return Einsum.apply(*operands, equation=equation)


# --------------------------------------------------------------------------- the affine map of a linear layer
# Backprop recipe for y = x W^T + b (leading dims of x flattened into rows):
#     dL/dx = g W,  dL/dW = g^T x,  dL/db = sum of g over rows.
# One node replaces the transpose, matmul and broadcast add of the composed form.
def _rows(x):
    """(*, n) viewed as (rows, n); works for arrays and tensors."""
    return x if x.ndim == 2 else x.reshape(-1, x.shape[-1])


class Linear(Op):
    """x W^T + b for x: (*, in), W: (out, in), b: (out,) or None."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        y = x @ weight.T
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        produced = iter(LinearBackward.apply(grad, x, weight, needs=needs))
        return tuple(next(produced) if need else None for need in needs)


class LinearBackward(Op):
    """The linear layer's gradients g W, g^T x and sum(g) (those in ``needs``) as one op, itself differentiable."""

    name = "linear_backward"

    @staticmethod
    def forward(ctx, grad, x, weight, needs):
        ctx.needs = needs
        ctx.save_for_backward(grad, x, weight)
        grad_rows = _rows(grad)
        outputs = []
        if needs[0]:
            outputs.append(grad @ weight)
        if needs[1]:
            outputs.append(grad_rows.T @ _rows(x))
        if needs[2]:
            outputs.append(grad_rows.sum(axis=0))
        return tuple(outputs)

    @staticmethod
    def backward(ctx, *grad_outputs):
        # The outputs are bilinear in (g, x) and (g, W): differentiate each product in turn.
        grad, x, weight = ctx.saved_tensors
        given = iter(grad_outputs)
        gg_x, gg_weight, gg_bias = (next(given) if need else None for need in ctx.needs)
        need_grad, need_x, need_weight = ctx.needs_input_grad
        d_grad = d_x = d_weight = None
        if need_grad:
            terms = []
            if gg_x is not None:
                terms.append(Linear.apply(gg_x, weight, None))
            if gg_weight is not None or gg_bias is not None:
                weight_term = gg_weight if gg_weight is not None else weight * 0.0
                terms.append(Linear.apply(x, weight_term, gg_bias))
            d_grad = terms[0] if len(terms) == 1 else terms[0] + terms[1]
        if need_x and gg_weight is not None:
            d_x = grad @ gg_weight
        if need_weight and gg_x is not None:
            d_weight = _rows(grad).T @ _rows(gg_x)
        return d_grad, d_x, d_weight


# --------------------------------------------------------------------------- fused products, trace, cross, distances
def _scaled_sum(input: Tensor, product: Tensor, beta, alpha) -> Tensor:
    """``beta * input + alpha * product``; beta = 0 ignores ``input`` (NaN in it included), as in PyTorch."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (input if beta == 1 else input * beta) + product


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``: input broadcasts to (n, p) for mat1 (n, m), mat2 (m, p).

    With ``beta = 0`` the input is ignored, NaN and inf included (as in PyTorch).

    >>> import chainrule as cr
    >>> cr.addmm(cr.tensor([1.0, 2.0]), cr.eye(2), cr.tensor([[1.0, 1.0], [1.0, 1.0]]), alpha=2)
    tensor([[3., 4.],
            [3., 4.]], shape=(2, 2), dtype=float32)
    """
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``: input broadcasts to (n,) for mat (n, m), vec (m,).

    With ``beta = 0`` the input is ignored, NaN and inf included (as in PyTorch).

    >>> import chainrule as cr
    >>> cr.addmv(cr.tensor([1.0, 1.0]), cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0]), beta=0.5)
    tensor([3.5, 7.5], shape=(2,), dtype=float32)
    """
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)`` for batches (b, n, m) and (b, m, p).

    ``input`` broadcasts to (b, n, p); with ``beta = 0`` it is ignored (NaN included).

    >>> import chainrule as cr
    >>> cr.baddbmm(cr.zeros(1, 1, 1), cr.ones(2, 1, 3), cr.ones(2, 3, 1))
    tensor([[[3.]],
    <BLANKLINE>
            [[3.]]], shape=(2, 1, 1), dtype=float32)
    """
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``: batches (b, n, m), (b, m, p) -> (n, p).

    ``input`` broadcasts to (n, p); with ``beta = 0`` it is ignored (NaN included).

    >>> import chainrule as cr
    >>> cr.addbmm(cr.ones(1, 1), cr.ones(2, 1, 3), cr.ones(2, 3, 1))
    tensor([[7.]], shape=(1, 1), dtype=float32)
    """
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal, as a 0-d tensor of the matrix's dtype.

    ``y = sum_i input[i, i]`` for a 2-d input (n, m) (RuntimeError otherwise); the
    gradient is ``g`` on the diagonal and 0 elsewhere.

    >>> import chainrule as cr
    >>> cr.trace(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor(5., shape=(), dtype=float32)
    """
    if input.ndim != 2:
        raise RuntimeError(f"trace: expects a matrix, got shape {input.shape}")
    return diagonal(input).sum()


def cross(input: Tensor, other: Tensor, dim=None) -> Tensor:
    """The 3-vector cross product along ``dim`` (default: the first dim of size 3), inputs broadcast.

    ``y = (a_1 b_2 - a_2 b_1, a_2 b_0 - a_0 b_2, a_0 b_1 - a_1 b_0)`` along ``dim``, which
    must have size 3 in the broadcast shape. Dtypes promote as for ``*``.

    >>> import chainrule as cr
    >>> cr.cross(cr.tensor([1.0, 0.0, 0.0]), cr.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.], shape=(3,), dtype=float32)
    """
    shape = tuple(np.broadcast_shapes(input.shape, other.shape))
    if dim is None:
        dim = next((i for i, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dim of size 3 in shapes {input.shape} and {other.shape}")
    axis = normalize_dim(dim, len(shape), "cross")
    if shape[axis] != 3:
        raise RuntimeError(f"cross: dim {dim} must have size 3, got shapes {input.shape} and {other.shape}")
    a, b = broadcast_to(input, shape).unbind(axis), broadcast_to(other, shape).unbind(axis)
    components = [a[(i + 1) % 3] * b[(i + 2) % 3] - a[(i + 2) % 3] * b[(i + 1) % 3] for i in range(3)]
    return stack(components, axis)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """Pairwise p-norm distances between the rows: x1 (*, P, M), x2 (*, R, M) -> (*, P, R).

    ``y[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p`` for ``p >= 0``; batch dims
    broadcast. ``compute_mode`` is accepted for compatibility and ignored (the
    differences are always formed directly, which is exact but uses P R M memory).

    >>> import chainrule as cr
    >>> cr.cdist(cr.tensor([[0.0, 0.0], [1.0, 1.0]]), cr.tensor([[3.0, 4.0]]))
    tensor([[5.    ],
            [3.6056]], shape=(2, 1), dtype=float32)
    """
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"cdist: expects x1 (*, P, M) and x2 (*, R, M) with equal M, got shapes {x1.shape} and {x2.shape}"
        )
    if p < 0:
        raise RuntimeError(f"cdist: p must be non-negative, got {p}")
    differences = unsqueeze(x1, -2) - unsqueeze(x2, -3)
    return norm(differences, p=p, dim=-1)
