"""Devices, and the way from an array to its device and its array module.

"cpu" arrays are NumPy's, "cuda" arrays CuPy's, and "fake" arrays the test
double's (host arrays that refuse to act as NumPy arrays; see ``fake.py``).
Every op asks ``array_module(array)`` for the module to call, so one
implementation of an op serves every device; the few questions the modules
answer differently are asked of ``library_of(array)`` (``libraries.py``).
"""

from __future__ import annotations

import contextlib

import numpy as np

from chainrule.backend.libraries import CUPY, FAKE, LIBRARIES, NUMPY, ArrayLibrary

DEVICE_TYPES = ("cpu", "cuda", "mps", "fake")
"""Device types a ``Device`` may name; tensors live on "cpu", on "cuda" where CuPy sees a GPU, or on "fake"."""


class Device:
    """A device, as ``torch.device``: ``Device("cpu")``, ``Device("cuda", 0)``, ``Device("cuda:1")``.

    ``type`` is "cpu", "cuda" or "mps"; ``index`` an int or None ("cuda" alone
    means the current CUDA device). A bare int ``n`` means accelerator ``n``
    ("cuda:n"). Unlike ``torch.device``, a Device also compares equal to its
    string: ``Device("cuda:0") == "cuda:0"``.

    >>> import chainrule as cr
    >>> cr.device("cuda:1")
    device(type='cuda', index=1)
    >>> cr.device("cpu") == "cpu", cr.device("cuda", 0).index
    (True, 0)
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

_LIBRARY_OF_TYPE: dict = {np.ndarray: NUMPY, FAKE.array_type: FAKE}
"""Array type -> its library; CuPy's type joins once CuPy is loaded."""


def cupy_module():
    """CuPy if it is installed and sees a GPU, else None."""
    cupy = CUPY._cupy
    if cupy is not None and cupy.ndarray not in _LIBRARY_OF_TYPE:
        _LIBRARY_OF_TYPE[cupy.ndarray] = CUPY
    return cupy


def cuda_is_available() -> bool:
    return cupy_module() is not None


def library_of(array) -> ArrayLibrary:
    """The array library ``array`` belongs to (NumPy for anything that is not a device array)."""
    library = _LIBRARY_OF_TYPE.get(type(array))
    return NUMPY if library is None else library


def array_module(array):
    """The module (numpy, cupy, or the fake device's) whose functions apply to ``array``."""
    if type(array) is np.ndarray:
        return np
    library = _LIBRARY_OF_TYPE.get(type(array))
    return np if library is None else library.xp


def is_array(value) -> bool:
    """True for a NumPy, CuPy or fake-device ndarray (not for NumPy scalars)."""
    return type(value) in _LIBRARY_OF_TYPE


def is_writable(array) -> bool:
    """Whether writing into ``array`` is safe: NumPy's writeable flag; elsewhere, not a broadcast (0-stride) view."""
    if type(array) is np.ndarray:
        return array.flags.writeable
    return array.size <= 1 or 0 not in array.strides


def device_of(array) -> Device:
    """The device ``array`` lives on."""
    if type(array) is np.ndarray:
        return CPU
    library = library_of(array)
    return Device(library.device_type, library.index_of(array))


def on_device_of(array):
    """A context in which new arrays go to ``array``'s device (CuPy allocates on the current device).

    Ops on a tensor of "cuda:1" run under it, so that what they allocate lands
    beside their inputs whatever the current device is.
    """
    library = _LIBRARY_OF_TYPE.get(type(array))
    if library is None or library is NUMPY:
        return contextlib.nullcontext()
    return library.using(library.index_of(array))


def library_for(device: Device, caller: str = "") -> ArrayLibrary:
    """The array library that holds arrays on ``device``; a RuntimeError naming ``caller`` if it cannot run here."""
    library = LIBRARIES.get(device.type)
    if library is None:
        raise RuntimeError(f"{caller or 'device'}: chainrule runs on 'cpu', 'cuda' and 'fake' devices, not {device}")
    if not library.is_available():
        require_cuda(caller or f"device {device}")  # the only library that can be missing
    if library is CUPY:
        cupy_module()  # registers CuPy's array type
    return library


def require_cuda(caller: str):
    """CuPy, or a RuntimeError naming ``caller`` and saying how to get CUDA."""
    cupy = cupy_module()
    if cupy is None:
        raise RuntimeError(
            f"{caller}: CUDA is not available (install CuPy for your CUDA version, e.g. "
            "`pip install chainrule[cuda12]` or `chainrule[cuda13]`, on a machine with an NVIDIA GPU)"
        )
    return cupy


def resolved(device: Device) -> Device:
    """``device`` with its index filled in: bare "cuda" (or "fake") is the current device of its type."""
    if device.type == "cpu" or device.index is not None:
        return device
    if device.type == "cuda":
        require_cuda(f"device {device}")
    return Device(device.type, library_for(device).current_index())


def module_for(device: Device):
    """The array module that holds arrays on ``device`` (no side effect: see ``allocating_on``)."""
    if device.type == "cpu":
        return np
    return library_for(device, f"device {device}").xp


def allocating_on(device: Device):
    """A context in which the module's constructors allocate on ``device`` (CuPy uses the current device)."""
    if device.type == "cpu" or device.index is None:
        return contextlib.nullcontext()
    return library_for(device).using(device.index)


def to_device(array, device: Device):
    """Copy ``array`` to ``device`` (returns it unchanged when already there)."""
    if device.type == "cpu" and type(array) is np.ndarray:
        return array
    device = resolved(device)
    source = library_of(array)
    if source.device_type == device.type and source.index_of(array) == device.index:
        return array
    if device.type == "cpu":
        return source.to_host(array)
    host = array if source is NUMPY else source.to_host(array)
    if not isinstance(host, np.ndarray):
        host = np.asarray(host)
    return library_for(device, f"to({device})").from_host(host, device.index)
