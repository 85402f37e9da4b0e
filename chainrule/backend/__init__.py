"""The backend: the only layer that knows whether arrays live in NumPy or CuPy."""

from chainrule.backend import dtypes
from chainrule.backend.device import (
    CPU,
    Device,
    array_module,
    cuda_is_available,
    cupy_module,
    device_of,
    is_array,
    module_for,
    to_device,
)

__all__ = [
    "CPU",
    "Device",
    "array_module",
    "cuda_is_available",
    "cupy_module",
    "device_of",
    "dtypes",
    "is_array",
    "module_for",
    "to_device",
]
