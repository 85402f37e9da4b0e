"""Saving and loading tensors and checkpoints: ``cr.save`` / ``cr.load``, with no pickled code run.

``cr.save(obj, f)`` takes a nested structure of dicts, lists and tuples whose
leaves are tensors, NumPy arrays, numbers, strings, booleans or None (a model's
``state_dict()``, an optimizer's, a whole training checkpoint) and writes one
safetensors file (see ``native``): the arrays as its tensors, the structure
around them and their sha256 checksums in its header. ``f`` is a path or a
binary file object. A path is written atomically (temporary file, fsync,
rename: a crash never leaves a half-written checkpoint), with a human-readable
JSON sidecar (``path`` + ``.json``) listing the structure, each tensor's shape
and dtype, and the file's sha256.

``cr.load(f)`` reads that format, plain safetensors files, and the ``.pt`` /
``.pth`` files of ``torch.save`` (see ``torch_format``), from a path or a
binary file object, rebuilding only tensors and plain containers::

    cr.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors")
    checkpoint = cr.load("ckpt.safetensors")
    model.load_state_dict(cr.load("resnet.pth", map_location="cpu"))
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

from chainrule.ops.creation import to
from chainrule.serialization import native, torch_format
from chainrule.serialization.atomic import atomic_open, atomic_write_bytes
from chainrule.serialization.errors import UnreadableCheckpointError
from chainrule.serialization.map_location import target_device
from chainrule.serialization.restricted_pickle import RefusedGlobalError, RefusedPickleError
from chainrule.tensor import Tensor

__all__ = [
    "RefusedGlobalError",
    "RefusedPickleError",
    "UnreadableCheckpointError",
    "atomic_open",
    "atomic_write_bytes",
    "load",
    "save",
    "sidecar_path",
]


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON description ``save`` writes beside a checkpoint at ``path``."""
    return Path(str(path) + ".json")


def _is_file_object(f) -> bool:
    return not isinstance(f, (str, bytes, os.PathLike)) and (hasattr(f, "write") or hasattr(f, "read"))


def save(obj, f, pickle_module=None, pickle_protocol: int = 2, *, sidecar: bool = True, **torch_options) -> None:
    """Write ``obj`` (tensors and plain data, nested) to ``f``, a path or a binary file object.

    A path is written atomically, with a JSON sidecar unless ``sidecar=False``;
    a file object receives the bytes at its position (and no sidecar).
    ``pickle_module``, ``pickle_protocol`` and torch.save's other options are
    accepted and unused: nothing is pickled. A whole ``nn.Module`` (or any
    other object) is refused with a TypeError naming its type and where it is.

    >>> import chainrule as cr
    >>> import io
    >>> buffer = io.BytesIO()
    >>> cr.save({"w": cr.tensor([1.0, 2.0]), "step": 3}, buffer)
    >>> _ = buffer.seek(0)
    >>> cr.load(buffer)
    {'w': tensor([1., 2.], shape=(2,), dtype=float32), 'step': 3}
    """
    payload, description = native.encode(obj)
    if _is_file_object(f):
        f.write(payload)
        return
    atomic_write_bytes(f, payload)
    if sidecar:
        described = {
            "format": "chainrule checkpoint (safetensors)",
            "file": Path(f).name,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "structure": description,
        }
        atomic_write_bytes(sidecar_path(f), (json.dumps(described, indent=2) + "\n").encode())


def load(
    f,
    map_location=None,
    pickle_module=None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    as_tensors: bool = True,
    **pickle_load_args,
):
    """Read a checkpoint from ``f`` (a path or a binary file object): chainrule's, safetensors or torch.save's.

    Tensors come back as chainrule tensors (NumPy arrays with ``as_tensors=False``,
    chainrule's format only), on the device ``map_location`` chooses (a device,
    a string, a dict of locations or a callable, as ``torch.load``; see
    ``map_location``). Nothing in the file is executed, whatever
    ``weights_only`` says: a torch.save pickle that names anything but tensors,
    storages and plain containers raises ``RefusedGlobalError`` naming it (a
    ``pickle.UnpicklingError``, as ``torch.load`` raises) before anything is built.
    ``mmap`` is accepted for PyTorch's signature and unused; a ``pickle_module``
    is refused, as ``torch.load`` refuses it for a weights-only load.

    Raises FileNotFoundError for a missing path and ``UnreadableCheckpointError``
    (a ValueError and a RuntimeError) for a truncated, corrupt or unknown file.

    >>> import chainrule as cr
    >>> import io
    >>> buffer = io.BytesIO()
    >>> cr.save([cr.arange(3)], buffer)
    >>> _ = buffer.seek(0)
    >>> cr.load(buffer)
    [tensor([0, 1, 2], shape=(3,), dtype=int64)]
    >>> _ = buffer.seek(0)
    >>> cr.load(buffer, as_tensors=False)
    [array([0, 1, 2])]
    """
    if pickle_module is not None:
        raise TypeError("load: pickle_module is not supported (chainrule never unpickles with pickle's own loader)")
    if _is_file_object(f):
        return _load_stream(_seekable(f), getattr(f, "name", f"<{type(f).__name__}>"), map_location, as_tensors)
    path = Path(f)
    if not path.is_file():
        raise FileNotFoundError(f"load: no file at {path}")
    with open(path, "rb") as stream:
        return _load_stream(stream, str(path), map_location, as_tensors)


def _seekable(stream):
    """``stream`` itself if it can seek, else its remaining bytes in memory."""
    try:
        if stream.seekable():
            return stream
    except AttributeError:
        pass
    return io.BytesIO(stream.read())


def _load_stream(stream, source: str, map_location, as_tensors: bool):
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start)
    if torch_format.is_torch_file(head):
        return torch_format.load_torch_file(stream, source, map_location)
    payload = stream.read()
    if not native.is_safetensors(payload):
        raise UnreadableCheckpointError(
            f"load: {source} is not a readable safetensors file or torch.save archive "
            f"(it starts with {payload[:16]!r}; {len(payload)} bytes)"
        )
    if not as_tensors:
        return native.decode(payload, source, lambda array: array)

    def wrap(array) -> Tensor:
        tensor = Tensor._wrap(array)
        if map_location is None:
            return tensor
        return to(tensor, target_device(map_location, "cpu", lambda: tensor))

    return native.decode(payload, source, wrap)
