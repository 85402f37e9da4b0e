"""``cr.cuda``: what PyTorch programs ask of CUDA, answered by the CuPy array library of the backend.

On a machine without CuPy or an NVIDIA GPU, the calls that are safe there
answer as PyTorch's CPU build does (``is_available()`` and
``is_initialized()`` are False; ``device_count()``, ``memory_allocated()``,
``max_memory_allocated()``, ``memory_reserved()`` and
``max_memory_reserved()`` 0; ``memory_stats()`` empty; ``manual_seed``,
``manual_seed_all`` and ``empty_cache`` do nothing), and the ones that need a
device (``current_device``, ``set_device``, ``synchronize``,
``get_device_name``, ``reset_peak_memory_stats``) raise RuntimeError saying
CUDA is not available, as PyTorch's lazy CUDA initialisation does. So the
usual boilerplate runs unchanged::

    device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    cr.cuda.manual_seed_all(0)

Memory is CuPy's default memory pool: "allocated" is what arrays hold,
"reserved" what the pool holds (allocated plus cached blocks), and the peaks
are the most of each held at once since CuPy loaded or
``reset_peak_memory_stats()``.
"""

from __future__ import annotations

from chainrule import random
from chainrule.backend import Device
from chainrule.backend.device import require_cuda
from chainrule.backend.libraries import CUPY

__all__ = [
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "is_available",
    "is_initialized",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "max_memory_reserved",
    "memory_allocated",
    "memory_reserved",
    "memory_stats",
    "reset_peak_memory_stats",
    "set_device",
    "synchronize",
]


def is_available() -> bool:
    """Whether CuPy is installed and sees an NVIDIA GPU.

    The check that picks a device: ``cr.device("cuda" if cr.cuda.is_available() else "cpu")``.

    >>> import chainrule as cr
    >>> cr.cuda.is_available() == (cr.cuda.device_count() > 0)
    True
    """
    return CUPY.is_available()


def is_initialized() -> bool:
    """Whether CUDA is ready for use (chainrule initialises it with CuPy, so: whether it is available).

    >>> import chainrule as cr
    >>> cr.cuda.is_initialized() == cr.cuda.is_available()
    True
    """
    return CUPY.is_available()


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CuPy or a GPU).

    >>> import chainrule as cr
    >>> cr.cuda.device_count() >= 0
    True
    """
    return CUPY.device_count()


def manual_seed(seed: int) -> None:
    """Reseed the generator of the current CUDA device (nothing to seed without CUDA, as in PyTorch).

    ``cr.manual_seed`` reseeds every device's generator as well as the host's.

    >>> import chainrule as cr
    >>> cr.cuda.manual_seed(0)
    """
    seed = int(seed)  # the same TypeError as PyTorch for a seed that is not a number
    if CUPY.is_available():
        random.seed_device_generators(seed, "cuda")


def manual_seed_all(seed: int) -> None:
    """Reseed the generator of every CUDA device (nothing to seed without CUDA, as in PyTorch).

    >>> import chainrule as cr
    >>> cr.cuda.manual_seed_all(0)
    """
    seed = int(seed)
    for index in range(CUPY.device_count()):
        random.seed_device_generators(seed, Device("cuda", index))


def empty_cache() -> None:
    """Return CuPy's cached, unused GPU memory to the driver (nothing to do without CUDA).

    >>> import chainrule as cr
    >>> cr.cuda.empty_cache()
    >>> cr.cuda.memory_reserved() >= cr.cuda.memory_allocated()
    True
    """
    CUPY.empty_cache()


def _device_index(device, caller: str) -> int:
    """The CUDA device index ``device`` names (None: the current device); RuntimeError without CUDA."""
    require_cuda(f"cuda.{caller}")
    if device is None:
        return CUPY.current_index()
    if isinstance(device, int) and not isinstance(device, bool):
        index = device
    else:
        device = Device(device)
        if device.type != "cuda":
            raise ValueError(f"cuda.{caller}: expected a CUDA device, got {device}")
        index = CUPY.current_index() if device.index is None else device.index
    if not 0 <= index < CUPY.device_count():
        raise RuntimeError(f"cuda.{caller}: invalid device ordinal {index} ({CUPY.device_count()} CUDA devices)")
    return index


def current_device() -> int:
    """The index of the current CUDA device.

    RuntimeError without CUDA.

    >>> import chainrule as cr
    >>> cr.cuda.current_device() if cr.cuda.is_available() else 0
    0
    """
    return _device_index(None, "current_device")


def set_device(device) -> None:
    """Make ``device`` (an index, "cuda:n" or a Device) the current CUDA device.

    RuntimeError without CUDA.

    >>> import chainrule as cr
    >>> if cr.cuda.is_available():
    ...     cr.cuda.set_device(0)
    """
    CUPY.set_current_index(_device_index(device, "set_device"))


def synchronize(device=None) -> None:
    """Wait until every kernel queued on ``device`` (default: the current one) has finished.

    RuntimeError without CUDA. Time GPU work between two calls: kernels run asynchronously.

    >>> import chainrule as cr
    >>> if cr.cuda.is_available():
    ...     cr.cuda.synchronize()
    """
    CUPY.synchronize(_device_index(device, "synchronize"))


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. "NVIDIA H200".

    RuntimeError without CUDA.

    >>> import chainrule as cr
    >>> name = cr.cuda.get_device_name() if cr.cuda.is_available() else "no GPU"
    >>> isinstance(name, str)
    True
    """
    return CUPY.device_name(_device_index(device, "get_device_name"))


def _memory(device, key: str, caller: str) -> int:
    """One of the library's memory figures for ``device``; 0 without CUDA, as PyTorch's CPU build answers."""
    if not CUPY.is_available():
        return 0
    return CUPY.memory_stats(_device_index(device, caller))[key]


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory held by arrays now.

    0 without CUDA.

    >>> import chainrule as cr
    >>> cr.cuda.memory_allocated() >= 0
    True
    """
    return _memory(device, "allocated", "memory_allocated")


def max_memory_allocated(device=None) -> int:
    """The most bytes held by arrays at once, since CuPy loaded or ``reset_peak_memory_stats``.

    0 without CUDA.

    >>> import chainrule as cr
    >>> cr.cuda.max_memory_allocated() >= cr.cuda.memory_allocated()
    True
    """
    return _memory(device, "peak_allocated", "max_memory_allocated")


def memory_reserved(device=None) -> int:
    """Bytes of GPU memory the pool holds now: in use plus cached for reuse.

    0 without CUDA.

    >>> import chainrule as cr
    >>> cr.cuda.memory_reserved() >= cr.cuda.memory_allocated()
    True
    """
    return _memory(device, "reserved", "memory_reserved")


def max_memory_reserved(device=None) -> int:
    """The most bytes the pool has held at once, since CuPy loaded or ``reset_peak_memory_stats``.

    0 without CUDA.

    >>> import chainrule as cr
    >>> cr.cuda.max_memory_reserved() >= cr.cuda.memory_reserved()
    True
    """
    return _memory(device, "peak_reserved", "max_memory_reserved")


def memory_stats(device=None) -> dict[str, int]:
    """PyTorch's keys for the figures above ("allocated_bytes.all.current", ...); empty without CUDA.

    >>> import chainrule as cr
    >>> stats = cr.cuda.memory_stats()
    >>> stats == {} or stats["allocated_bytes.all.current"] == cr.cuda.memory_allocated()
    True
    """
    if not CUPY.is_available():
        return {}
    stats = CUPY.memory_stats(_device_index(device, "memory_stats"))
    return {
        "allocated_bytes.all.current": stats["allocated"],
        "allocated_bytes.all.peak": stats["peak_allocated"],
        "reserved_bytes.all.current": stats["reserved"],
        "reserved_bytes.all.peak": stats["peak_reserved"],
    }


def reset_peak_memory_stats(device=None) -> None:
    """Start the peaks of ``max_memory_allocated`` and ``max_memory_reserved`` over from the current use.

    RuntimeError without CUDA.

    >>> import chainrule as cr
    >>> if cr.cuda.is_available():
    ...     cr.cuda.reset_peak_memory_stats()
    >>> cr.cuda.max_memory_allocated() >= cr.cuda.memory_allocated()
    True
    """
    CUPY.reset_peak_memory(_device_index(device, "reset_peak_memory_stats"))
