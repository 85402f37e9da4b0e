"""Devices and the array module behind each: NumPy for "cpu", CuPy for "cuda".

This is the only module that imports CuPy. Every op asks ``array_module(array)``
for the module to call, so one implementation of an op serves both devices.
"""

from __future__ import annotations

import functools
import sys

import numpy as np


class Device:
    """A device name such as ``cpu`` or ``cuda:0``; compares equal to its string."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | Device = "cpu", index: int | None = None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, number = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {kind!r} (expected 'cpu' or 'cuda')")
        if number:
            index = int(number)
        if kind == "cuda" and index is None:
            index = 0
        self.type = kind
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = Device(other)
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


def module_for(device: Device):
    """The array module that allocates on ``device``."""
    if device.type == "cpu":
        return np
    cupy = cupy_module()
    if cupy is None:
        raise RuntimeError(
            f"device {device}: CUDA is not available (install CuPy for your CUDA version, "
            "e.g. `pip install cupy-cuda12x`, on a machine with an NVIDIA GPU)"
        )
    cupy.cuda.Device(device.index).use()
    return cupy


def to_device(array, device: Device):
    """Copy ``array`` to ``device`` (returns it unchanged when already there)."""
    if device_of(array) == device:
        return array
    if device.type == "cpu":
        return array.get()
    xp = module_for(device)
    with xp.cuda.Device(device.index):
        return xp.asarray(array)
