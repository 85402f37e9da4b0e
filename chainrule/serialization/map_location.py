"""``map_location``: on which device ``cr.load`` puts each tensor, as ``torch.load`` decides it.

A torch.save archive records each storage's device ("cpu", "cuda:0"). Without
``map_location`` a tensor goes back there, or to the CPU when that device is
absent (PyTorch raises instead; a checkpoint written on a GPU machine then
needs ``map_location="cpu"``). ``map_location`` may be a device ("cpu",
``cr.device("cuda", 0)``): every tensor goes there; a dict from recorded
device names to targets; or a callable ``fn(storage, location)`` returning a
tensor on the wanted device (its device is used) or None (the default).
Asking explicitly for a device that is absent raises, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

from chainrule.backend import CPU, Device, cuda_is_available


def default_device(location: str) -> Device:
    """Where a storage recorded on ``location`` goes without ``map_location``."""
    try:
        device = Device(location)
    except (TypeError, RuntimeError):  # a device type chainrule does not know ("xla:0")
        return CPU
    return device if device.type == "cuda" and cuda_is_available() else CPU


def target_device(map_location, location: str, storage: Callable | None = None) -> Device:
    """The device for a storage recorded on ``location``; ``storage()`` makes the callable form's argument."""
    if map_location is None:
        return default_device(location)
    if isinstance(map_location, (str, Device)):
        return Device(map_location)
    if isinstance(map_location, dict):
        mapped = map_location.get(location, location)
        return Device(mapped) if mapped != location else default_device(location)
    if callable(map_location):
        result = map_location(storage() if storage is not None else None, location)
        if result is None:
            return default_device(location)
        if not hasattr(result, "device"):
            raise TypeError(
                f"load: map_location returned a {type(result).__name__}; it must return a tensor (or storage) "
                "on the wanted device, or None"
            )
        return Device(result.device)
    raise TypeError(
        f"load: map_location must be a device, a string, a dict or a callable, got {type(map_location).__name__}"
    )
