"""Saving and loading tensors and checkpoints: safetensors files, never pickle.

``cr.save(obj, path)`` takes a nested structure of dicts, lists and tuples whose
leaves are tensors, NumPy arrays, numbers, strings, booleans or None (a model's
``state_dict()``, an optimizer's, a whole training checkpoint). Arrays go into a
safetensors file; the structure around them goes into that file's header as
JSON, so one file holds everything and ``cr.load`` rebuilds it without running
any code from the file. A human-readable JSON sidecar (``path`` + ``.json``)
lists the same structure with each tensor's shape and dtype and the file's
sha256. Both are written atomically (temporary file, fsync, rename): a crash
never leaves a half-written checkpoint in place.

    cr.save({"model": model.state_dict(), "epoch": 3}, "ckpt.safetensors")
    checkpoint = cr.load("ckpt.safetensors")
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from chainrule.backend import is_array
from chainrule.tensor import Tensor

_HEADER_KEY = "chainrule"
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_FORMAT_VERSION = 1


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError:  # an optional extra
        raise ImportError(
            "chainrule.save/load need the safetensors package: pip install 'chainrule[io]' (or pip install safetensors)"
        ) from None
    return safetensors


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", permissions: int = 0o644):
    """A file to write that appears at ``path`` whole when the block ends, or not at all.

    Written to a temporary file beside ``path``, flushed to disk, then renamed
    over ``path``: readers see the old file or the new one, never a torn one,
    even if the writer is interrupted. ``mode`` is "wb" or "w" (UTF-8).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, permissions)  # mkstemp makes the file private
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically (see ``atomic_open``)."""
    with atomic_open(path) as file:
        file.write(payload)


def _flatten(obj, arrays: dict, key: str):
    """The JSON-able skeleton of ``obj``, its arrays moved into ``arrays`` under path-like names."""
    if isinstance(obj, Tensor) or is_array(obj):
        array = obj._data if isinstance(obj, Tensor) else obj
        array = array if type(array) is np.ndarray else array.get()
        arrays[key] = np.ascontiguousarray(array)
        return {_TENSOR: key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        for name in obj:
            if not isinstance(name, (str, int)):
                raise TypeError(
                    f"save: dict keys must be str or int, got {type(name).__name__} at {key or 'top level'}"
                )
        skeleton = {
            str(name): _flatten(value, arrays, f"{key}/{name}" if key else str(name)) for name, value in obj.items()
        }
        if any(isinstance(name, int) for name in obj):
            return {"__int_keys__": skeleton}
        return skeleton
    if isinstance(obj, (list, tuple)):
        items = [_flatten(value, arrays, f"{key}/{i}") for i, value in enumerate(obj)]
        return {_TUPLE: items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(
        f"save: cannot store an object of type {type(obj).__name__} at '{key}' (tensors, arrays, numbers, strings, None, dicts, lists and tuples only)"
    )


def _unflatten(skeleton, arrays: dict, as_tensors: bool):
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            array = arrays[skeleton[_TENSOR]]
            return Tensor._wrap(array) if as_tensors else array
        if set(skeleton) == {_TUPLE}:
            return tuple(_unflatten(value, arrays, as_tensors) for value in skeleton[_TUPLE])
        if set(skeleton) == {"__int_keys__"}:
            return {int(k): _unflatten(v, arrays, as_tensors) for k, v in skeleton["__int_keys__"].items()}
        return {name: _unflatten(value, arrays, as_tensors) for name, value in skeleton.items()}
    if isinstance(skeleton, list):
        return [_unflatten(value, arrays, as_tensors) for value in skeleton]
    return skeleton


def _describe(skeleton, arrays: dict):
    """The sidecar's view: tensors shown as their shape and dtype."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            array = arrays[skeleton[_TENSOR]]
            return {"tensor": skeleton[_TENSOR], "shape": list(array.shape), "dtype": str(array.dtype)}
        return {name: _describe(value, arrays) for name, value in skeleton.items()}
    if isinstance(skeleton, list):
        return [_describe(value, arrays) for value in skeleton]
    return skeleton


def save(obj, path: str | os.PathLike, sidecar: bool = True) -> None:
    """Write ``obj`` (tensors and plain data, nested) to ``path`` as safetensors, atomically."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = _flatten(obj, arrays, "")
    header = json.dumps({"version": _FORMAT_VERSION, "structure": skeleton})
    payload = _safetensors().numpy.save(arrays, metadata={_HEADER_KEY: header})
    atomic_write_bytes(path, payload)
    if sidecar:
        description = {
            "format": "chainrule checkpoint (safetensors)",
            "file": Path(path).name,
            "sha256": hashlib.sha256(payload).hexdigest(),
            "structure": _describe(skeleton, arrays),
        }
        atomic_write_bytes(sidecar_path(path), (json.dumps(description, indent=2) + "\n").encode())


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + ".json")


def load(path: str | os.PathLike, as_tensors: bool = True, map_location=None):
    """Read what ``save`` wrote; tensors come back as chainrule tensors (or arrays with ``as_tensors=False``).

    Only the safetensors file is read; nothing in it is executed.
    """
    safetensors = _safetensors()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load: no file at {path}")
    try:
        with safetensors.safe_open(str(path), framework="numpy") as file:
            metadata = file.metadata() or {}
            arrays = {name: file.get_tensor(name) for name in file.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"load: {path} is not a readable safetensors file ({exc})") from None
    if _HEADER_KEY not in metadata:
        structure = {name: {_TENSOR: name} for name in arrays}  # a plain safetensors file: a flat dict
    else:
        structure = json.loads(metadata[_HEADER_KEY])["structure"]
    result = _unflatten(structure, arrays, as_tensors)
    if map_location is not None and as_tensors:
        from chainrule.ops.creation import to

        result = _map_tensors(result, lambda t: to(t, map_location))
    return result


def _map_tensors(obj, function):
    if isinstance(obj, Tensor):
        return function(obj)
    if isinstance(obj, dict):
        return {k: _map_tensors(v, function) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tensors(v, function) for v in obj)
    return obj
