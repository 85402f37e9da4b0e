"""``cr.accelerator``: the device-agnostic questions of ``torch.accelerator``.

chainrule's one accelerator type is CUDA (through CuPy). On a machine
without it, ``is_available()`` is False, ``current_accelerator()`` None and
``device_count()`` 0, so the boilerplate

    device = cr.accelerator.current_accelerator().type if cr.accelerator.is_available() else "cpu"

chooses "cpu"; the calls that need a device raise RuntimeError, as PyTorch's.
"""

from __future__ import annotations

from chainrule import cuda
from chainrule.backend import Device

__all__ = ["current_accelerator", "current_device_index", "device_count", "is_available", "synchronize"]

_NONE_AVAILABLE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    """Whether an accelerator (a CUDA GPU, through CuPy) is present."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """The accelerator as a device (``device(type='cuda')``), or None when there is none."""
    return Device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    if not cuda.is_available():
        raise RuntimeError(f"accelerator.current_device_index: {_NONE_AVAILABLE}")
    return cuda.current_device()


def synchronize(device=None) -> None:
    if not cuda.is_available():
        raise RuntimeError(f"accelerator.synchronize: {_NONE_AVAILABLE}")
    cuda.synchronize(device)
