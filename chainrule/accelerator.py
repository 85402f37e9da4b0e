"""``cr.accelerator``: the device-agnostic questions of ``torch.accelerator``.

chainrule's one accelerator type is CUDA (through CuPy). On a machine
without it, ``is_available()`` is False, ``current_accelerator()`` None and
``device_count()`` 0, so the boilerplate

    device = cr.accelerator.current_accelerator().type if cr.accelerator.is_available() else "cpu"

chooses "cpu"; the calls that need a device (the memory figures too) raise
RuntimeError, as PyTorch's.
"""

from __future__ import annotations

from chainrule import cuda
from chainrule.backend import Device

__all__ = [
    "current_accelerator",
    "current_device_index",
    "device_count",
    "empty_cache",
    "is_available",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_peak_memory_stats",
    "set_device_index",
    "synchronize",
]

_NONE_AVAILABLE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    """Whether an accelerator (a CUDA GPU, through CuPy) is present."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """The accelerator as a device (``device(type='cuda')``), or None when there is none."""
    return Device("cuda") if cuda.is_available() else None


def device_count() -> int:
    return cuda.device_count()


def _require(caller: str) -> None:
    if not cuda.is_available():
        raise RuntimeError(f"accelerator.{caller}: {_NONE_AVAILABLE}")


def current_device_index() -> int:
    _require("current_device_index")
    return cuda.current_device()


def set_device_index(device) -> None:
    _require("set_device_index")
    cuda.set_device(device)


def synchronize(device=None) -> None:
    _require("synchronize")
    cuda.synchronize(device)


def empty_cache() -> None:
    _require("empty_cache")
    cuda.empty_cache()


def memory_allocated(device=None) -> int:
    """Bytes held by arrays on the accelerator (see ``cr.cuda.memory_allocated``)."""
    _require("memory_allocated")
    return cuda.memory_allocated(device)


def max_memory_allocated(device=None) -> int:
    _require("max_memory_allocated")
    return cuda.max_memory_allocated(device)


def memory_reserved(device=None) -> int:
    _require("memory_reserved")
    return cuda.memory_reserved(device)


def max_memory_reserved(device=None) -> int:
    _require("max_memory_reserved")
    return cuda.max_memory_reserved(device)


def memory_stats(device=None) -> dict[str, int]:
    _require("memory_stats")
    return cuda.memory_stats(device)


def reset_peak_memory_stats(device=None) -> None:
    _require("reset_peak_memory_stats")
    cuda.reset_peak_memory_stats(device)
