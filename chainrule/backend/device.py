"""Devices and the array module behind each: NumPy for "cpu", CuPy for "cuda".

This is the only module that imports CuPy. Every op asks ``array_module(array)``
for the module to call, so one implementation of an op serves both devices.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

DEVICE_TYPES = ("cpu", "cuda", "mps")
"""Device types a ``Device`` may name; tensors live on "cpu", or on "cuda" where CuPy sees a GPU."""


class Device:
    """A device, as ``torch.device``: ``Device("cpu")``, ``Device("cuda", 0)``, ``Device("cuda:1")``.

    ``type`` is "cpu", "cuda" or "mps"; ``index`` an int or None ("cuda" alone
    means the current CUDA device). A bare int ``n`` means accelerator ``n``
    ("cuda:n"). Unlike ``torch.device``, a Device also compares equal to its
    string: ``Device("cuda:0") == "cuda:0"``.
    """

    __slots__ = ("type", "index")

    def __init__(self, spec: str | int | Device = "cpu", index: int | None = None):
        if isinstance(spec, Device) and index is None:
            self.type, self.index = spec.type, spec.index
            return
        if isinstance(spec, int) and not isinstance(spec, bool):
            if not cuda_is_available():
                raise RuntimeError(f"device({spec}): an int names an accelerator device, and none is available")
            spec, index = "cuda", spec
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, colon, number = spec.partition(":")
        if kind not in DEVICE_TYPES:
            raise RuntimeError(
                f"device: expected one of {', '.join(DEVICE_TYPES)} device type at the start of the device string, "
                f"got {spec!r}"
            )
        if colon:
            if index is not None:
                raise RuntimeError(
                    f"device: the type string {spec!r} must not include an index because index was passed explicitly"
                )
            if not number.isdigit():
                raise RuntimeError(f"device: invalid device string {spec!r}")
            index = int(number)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise RuntimeError(f"device: the index must be a non-negative int, got {index!r}")
        self.type = kind
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = Device("cpu")


@functools.cache
def cupy_module():
    """CuPy if it is installed and sees a GPU, else None."""
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None
    except Exception:  # no driver or no device: CuPy imports but cannot run
        return None
    return cupy


def cuda_is_available() -> bool:
    return cupy_module() is not None


def array_module(array):
    """The module (numpy or cupy) whose functions apply to ``array``."""
    if type(array) is np.ndarray:
        return np
    cupy = cupy_module()
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return np


def is_array(value) -> bool:
    """True for a NumPy or CuPy ndarray (not for NumPy scalars)."""
    if type(value) is np.ndarray:
        return True
    cupy = cupy_module() if "cupy" in sys.modules else None
    return cupy is not None and isinstance(value, cupy.ndarray)


def device_of(array) -> Device:
    if type(array) is np.ndarray:
        return CPU
    return Device("cuda", array.device.id)


def require_cuda(caller: str):
    """CuPy, or a RuntimeError naming ``caller`` and saying how to get CUDA."""
    cupy = cupy_module()
    if cupy is None:
        raise RuntimeError(
            f"{caller}: CUDA is not available (install CuPy for your CUDA version, "
            "e.g. `pip install cupy-cuda12x`, on a machine with an NVIDIA GPU)"
        )
    return cupy


def resolved(device: Device) -> Device:
    """``device`` with a CUDA index filled in: bare "cuda" is the current CUDA device."""
    if device.type != "cuda" or device.index is not None:
        return device
    return Device("cuda", require_cuda(f"device {device}").cuda.runtime.getDevice())


def module_for(device: Device):
    """The array module that allocates on ``device``."""
    if device.type == "cpu":
        return np
    if device.type != "cuda":
        raise RuntimeError(f"device {device}: chainrule runs on 'cpu' and 'cuda' devices only")
    cupy = require_cuda(f"device {device}")
    cupy.cuda.Device(resolved(device).index).use()
    return cupy


def to_device(array, device: Device):
    """Copy ``array`` to ``device`` (returns it unchanged when already there)."""
    if device.type == "cpu" and type(array) is np.ndarray:
        return array
    device = resolved(device)
    if device_of(array) == device:
        return array
    if device.type == "cpu":
        return array.get()
    xp = module_for(device)
    with xp.cuda.Device(device.index):
        return xp.asarray(array)
