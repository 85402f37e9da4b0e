"""The backend: the only layer that knows whether arrays live in NumPy, CuPy or the fake device."""

from chainrule.backend import dtypes
from chainrule.backend.device import (
    CPU,
    Device,
    allocating_on,
    array_module,
    cuda_is_available,
    cupy_module,
    device_of,
    is_array,
    is_writable,
    library_for,
    library_of,
    module_for,
    on_device_of,
    to_device,
)

__all__ = [
    "CPU",
    "Device",
    "allocating_on",
    "array_module",
    "cuda_is_available",
    "cupy_module",
    "device_of",
    "dtypes",
    "is_array",
    "is_writable",
    "library_for",
    "library_of",
    "module_for",
    "on_device_of",
    "to_device",
]
