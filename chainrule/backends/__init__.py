"""``cr.backends``: PyTorch's backend switches, so the programs that set them run unchanged.

chainrule computes on NumPy (CPU) or CuPy (CUDA) with no cuDNN, TF32 or MPS
paths of its own, so the flags here are accepted, remembered and read back,
and change nothing: ``cudnn.deterministic``, ``cudnn.benchmark``,
``cudnn.enabled``, ``cudnn.allow_tf32``, ``cuda.matmul.allow_tf32``.
``mps.is_available()`` is False (there is no Metal backend).

The global switches PyTorch keeps at its top level live here too:
``use_deterministic_algorithms`` (chainrule's kernels are deterministic
already) and ``set_float32_matmul_precision`` (float32 products are always
computed in float32).
"""

from __future__ import annotations

import warnings

from chainrule.backends import cuda, cudnn, mps

__all__ = [
    "are_deterministic_algorithms_enabled",
    "cuda",
    "cudnn",
    "get_float32_matmul_precision",
    "is_deterministic_algorithms_warn_only_enabled",
    "mps",
    "set_float32_matmul_precision",
    "use_deterministic_algorithms",
]

_deterministic = {"mode": False, "warn_only": False}
_MATMUL_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = "highest"


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Accepted and remembered: every chainrule kernel gives the same result for the same input.

    >>> import chainrule as cr
    >>> cr.use_deterministic_algorithms(True)
    >>> cr.are_deterministic_algorithms_enabled()
    True
    >>> cr.use_deterministic_algorithms(False)
    """
    if not isinstance(mode, bool):
        raise TypeError(f"use_deterministic_algorithms: mode must be a bool, got {type(mode).__name__}")
    _deterministic.update(mode=mode, warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    """The ``mode`` last given to ``use_deterministic_algorithms`` (False until then).

    >>> import chainrule as cr
    >>> cr.are_deterministic_algorithms_enabled()
    False
    """
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """The ``warn_only`` last given to ``use_deterministic_algorithms`` (False until then).

    >>> import chainrule as cr
    >>> cr.is_deterministic_algorithms_warn_only_enabled()
    False
    """
    return _deterministic["warn_only"]


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted ("highest", "high" or "medium") and remembered; products stay in float32 whatever it says.

    >>> import chainrule as cr
    >>> cr.set_float32_matmul_precision("high")
    >>> cr.get_float32_matmul_precision()
    'high'
    >>> cr.set_float32_matmul_precision("highest")
    """
    global _matmul_precision
    if precision not in _MATMUL_PRECISIONS:  # PyTorch warns and ignores the call, too
        warnings.warn(
            f"set_float32_matmul_precision: {precision!r} is not one of "
            f"{', '.join(map(repr, _MATMUL_PRECISIONS))}; the call has no effect",
            stacklevel=2,
        )
        return
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The precision last given to ``set_float32_matmul_precision``: 'highest' until then.

    >>> import chainrule as cr
    >>> cr.get_float32_matmul_precision()
    'highest'
    """
    return _matmul_precision
