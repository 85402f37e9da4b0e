"""Argument normalisation shared by the ops: dims, sizes, and the axis/keepdims aliases."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.autograd.naming import public_name


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative axis, or IndexError naming the op."""
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(
            f"{public_name(op)}: dimension out of range (expected to be in range of [{-bound}, {bound - 1}], but got {dim})"
        )
    return dim % bound if ndim else 0


def normalize_dims(dim, ndim: int, op: str) -> tuple[int, ...] | None:
    """None (all dims) or a sorted tuple of non-negative axes."""
    if dim is None:
        return None
    if isinstance(dim, int):
        dim = (dim,)
    axes = tuple(sorted({normalize_dim(d, ndim, op) for d in dim}))
    if len(axes) != len(tuple(dim)):
        raise RuntimeError(f"{public_name(op)}: dim {tuple(dim)} appears multiple times in the list of dims")
    return axes


def dim_alias(dim, axis):
    """PyTorch's ``dim`` with NumPy's ``axis`` accepted as an alias."""
    return axis if dim is None else dim


def size_args(sizes: Sequence) -> tuple[int, ...]:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean the size (2, 3)."""
    if len(sizes) == 1 and not isinstance(sizes[0], int):
        sizes = sizes[0]
    return tuple(int(s) for s in sizes)


def kept_shape(shape: tuple[int, ...], axes) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` set to 1 (the keepdim shape)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))
