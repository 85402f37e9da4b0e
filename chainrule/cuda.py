"""``cr.cuda``: what PyTorch programs ask of CUDA, answered through CuPy.

On a machine without CuPy or an NVIDIA GPU, the calls that are safe there
answer as PyTorch's CPU build does (``is_available()`` is False,
``device_count()`` and ``memory_allocated()`` 0; ``manual_seed``,
``manual_seed_all`` and ``empty_cache`` do nothing), and the ones that need
a device (``current_device``, ``set_device``, ``synchronize``,
``get_device_name``) raise RuntimeError saying CUDA is not available, as
PyTorch's lazy CUDA initialisation does. So the usual
boilerplate runs unchanged::

    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    cr.cuda.manual_seed_all(0)
"""

from __future__ import annotations

from chainrule.backend import Device, cuda_is_available, cupy_module
from chainrule.backend.device import require_cuda

__all__ = [
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "is_available",
    "is_initialized",
    "manual_seed",
    "manual_seed_all",
    "memory_allocated",
    "set_device",
    "synchronize",
]


def is_available() -> bool:
    """Whether CuPy is installed and sees an NVIDIA GPU."""
    return cuda_is_available()


def is_initialized() -> bool:
    return cuda_is_available()


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or a GPU)."""
    cupy = cupy_module()
    return 0 if cupy is None else cupy.cuda.runtime.getDeviceCount()


def manual_seed(seed: int) -> None:
    """Accepted for PyTorch's programs; does nothing, since ``cr.manual_seed`` seeds every device.

    chainrule draws random numbers on the CPU and copies them to the device,
    so one generator serves all devices and a seed gives the same numbers on each.
    """
    int(seed)  # the same TypeError as PyTorch for a seed that is not a number


manual_seed_all = manual_seed


def empty_cache() -> None:
    """Return CuPy's cached, unused GPU memory to the driver (nothing to do without CUDA)."""
    cupy = cupy_module()
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()


def _device_index(device, caller: str) -> int:
    cupy = require_cuda(f"cuda.{caller}")
    if device is None:
        return cupy.cuda.runtime.getDevice()
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    device = Device(device)
    if device.type != "cuda":
        raise ValueError(f"cuda.{caller}: expected a CUDA device, got {device}")
    return cupy.cuda.runtime.getDevice() if device.index is None else device.index


def current_device() -> int:
    """The index of the current CUDA device."""
    return _device_index(None, "current_device")


def set_device(device) -> None:
    """Make ``device`` (an index, "cuda:n" or a Device) the current CUDA device."""
    require_cuda("cuda.set_device").cuda.Device(_device_index(device, "set_device")).use()


def synchronize(device=None) -> None:
    """Wait until every kernel queued on ``device`` (default: the current one) has finished."""
    cupy = require_cuda("cuda.synchronize")
    with cupy.cuda.Device(_device_index(device, "synchronize")):
        cupy.cuda.runtime.deviceSynchronize()


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. "NVIDIA H100 80GB HBM3"."""
    cupy = require_cuda("cuda.get_device_name")
    name = cupy.cuda.runtime.getDeviceProperties(_device_index(device, "get_device_name"))["name"]
    return name.decode() if isinstance(name, bytes) else name


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory held by tensors (CuPy's memory pool in use); 0 without CUDA, as PyTorch's."""
    cupy = cupy_module()
    if cupy is None:
        return 0
    with cupy.cuda.Device(_device_index(device, "memory_allocated")):
        return cupy.get_default_memory_pool().used_bytes()
