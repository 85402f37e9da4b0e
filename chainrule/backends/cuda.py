"""``cr.backends.cuda``: CUDA's math switches, accepted and without effect."""

from __future__ import annotations

from chainrule.backend import cuda_is_available


class _MatmulFlags:
    """``cr.backends.cuda.matmul``: settable flags; an unknown name raises AttributeError, as PyTorch's."""

    __slots__ = ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction")

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built() -> bool:
    """Whether chainrule can run CUDA here (CuPy and a GPU)."""
    return cuda_is_available()
