"""chainrule's own checkpoint format: one safetensors file, its structure and checksums in the header.

A nested structure of dicts, lists and tuples whose leaves are tensors, NumPy
arrays, numbers, strings, booleans or None is split in two: its arrays become
the safetensors file's tensors (named by their path, "model/fc.weight"), and
the rest (the "skeleton", with ``{"__tensor__": name}`` where an array was)
goes into the header's metadata as JSON, with the sha256 of that JSON and of
each tensor. Loading parses JSON and raw arrays only: nothing in the file is
executed, and a file whose bytes changed after saving fails a checksum, which
the error names.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from chainrule.backend import is_array
from chainrule.serialization import safetensors_format
from chainrule.serialization.errors import UnreadableCheckpointError
from chainrule.tensor import Tensor

HEADER_KEY = "chainrule"
STRUCTURE_DIGEST_KEY = "sha256.structure"
TENSOR_DIGESTS_KEY = "sha256.tensors"
_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_ITEMS = "__items__"
_INT_KEYS = "__int_keys__"
_FORMAT_VERSION = 1


# ---------------------------------------------------------------------- structure
def _unsupported(obj, key: str) -> TypeError:
    from chainrule.nn.module import Module  # nn sits above this module; only needed for the message

    where = f"at '{key}'" if key else "at the top level"
    if isinstance(obj, Module):
        return TypeError(
            f"save: cannot save a whole nn.Module ({type(obj).__name__}) {where}; save its parameters with "
            "cr.save(model.state_dict(), f) and restore them with model.load_state_dict(cr.load(f))"
        )
    return TypeError(
        f"save: cannot store an object of type {type(obj).__name__} {where} (tensors, arrays, numbers, strings, "
        "bools, None, dicts, lists and tuples only)"
    )


def flatten(obj, arrays: dict, key: str = ""):
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
        items = [(name, flatten(value, arrays, f"{key}/{name}" if key else str(name))) for name, value in obj.items()]
        if all(isinstance(name, str) for name in obj):
            return dict(items)
        return {_ITEMS: [list(item) for item in items]}  # JSON keeps int keys apart from str keys here
    if isinstance(obj, (list, tuple)):
        items = [flatten(value, arrays, f"{key}/{i}") for i, value in enumerate(obj)]
        return {_TUPLE: items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise _unsupported(obj, key)


def _expect(value, kind: type, marker: str):
    """``value`` if it is a ``kind``; else TypeError (a damaged header: the loader reports it with the file)."""
    if not isinstance(value, kind):
        raise TypeError(f"its {marker} entry holds a {type(value).__name__}, not a {kind.__name__}")
    return value


def unflatten(skeleton, arrays: dict, wrap):
    """Rebuild what ``flatten`` split, each array passed through ``wrap``."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            return wrap(arrays[_expect(skeleton[_TENSOR], str, _TENSOR)])
        if set(skeleton) == {_TUPLE}:
            return tuple(unflatten(value, arrays, wrap) for value in _expect(skeleton[_TUPLE], list, _TUPLE))
        if set(skeleton) == {_ITEMS}:
            items = _expect(skeleton[_ITEMS], list, _ITEMS)
            return {name: unflatten(value, arrays, wrap) for name, value in (_expect(i, list, _ITEMS) for i in items)}
        if set(skeleton) == {_INT_KEYS}:  # files of an earlier version: a dict of int keys only
            return {int(k): unflatten(v, arrays, wrap) for k, v in skeleton[_INT_KEYS].items()}
        return {name: unflatten(value, arrays, wrap) for name, value in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten(value, arrays, wrap) for value in skeleton]
    return skeleton


def describe(skeleton, arrays: dict):
    """The sidecar's view of a skeleton: tensors shown as their shape and dtype."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            array = arrays[skeleton[_TENSOR]]
            return {"tensor": skeleton[_TENSOR], "shape": list(array.shape), "dtype": str(array.dtype)}
        if set(skeleton) == {_ITEMS}:
            return {str(name): describe(value, arrays) for name, value in skeleton[_ITEMS]}
        return {name: describe(value, arrays) for name, value in skeleton.items()}
    if isinstance(skeleton, list):
        return [describe(value, arrays) for value in skeleton]
    return skeleton


def tensor_digest(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and bytes."""
    array = np.ascontiguousarray(array)
    hasher = hashlib.sha256(f"{array.dtype.str}\0{array.shape}\0".encode())
    hasher.update(array.view(np.uint8).reshape(-1) if array.size else b"")
    return hasher.hexdigest()


def digests(header: str, arrays: dict) -> dict[str, str]:
    """The header's checksums: sha256 of the structure's JSON, and of each tensor by name."""
    tensors = {name: tensor_digest(array) for name, array in arrays.items()}
    return {
        STRUCTURE_DIGEST_KEY: hashlib.sha256(header.encode()).hexdigest(),
        TENSOR_DIGESTS_KEY: json.dumps(tensors, sort_keys=True),
    }


def verify(metadata: dict, header: str, arrays: dict, source: str) -> None:
    """Raise UnreadableCheckpointError naming what no longer matches the checksums ``encode`` recorded."""
    if (
        STRUCTURE_DIGEST_KEY in metadata
        and metadata[STRUCTURE_DIGEST_KEY] != hashlib.sha256(header.encode()).hexdigest()
    ):
        raise UnreadableCheckpointError(
            f"load: {source} is corrupt: its structure (the JSON in its header) does not match the sha256 "
            "recorded when it was saved"
        )
    if TENSOR_DIGESTS_KEY not in metadata:
        return
    try:
        recorded = json.loads(metadata[TENSOR_DIGESTS_KEY])
    except ValueError:
        raise UnreadableCheckpointError(f"load: {source} is corrupt: its tensor checksums are unreadable") from None
    changed = sorted(set(recorded) ^ set(arrays)) + sorted(
        name for name in set(recorded) & set(arrays) if recorded[name] != tensor_digest(arrays[name])
    )
    if changed:
        raise UnreadableCheckpointError(
            f"load: {source} is corrupt: these tensors differ from the sha256 recorded when it was saved: "
            f"{', '.join(map(repr, changed[:5]))}{' and others' if len(changed) > 5 else ''}"
        )


# ---------------------------------------------------------------------- bytes
def encode(obj) -> tuple[bytes, dict]:
    """The safetensors bytes of ``obj`` and the sidecar's description of them."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = flatten(obj, arrays)
    header = json.dumps({"version": _FORMAT_VERSION, "structure": skeleton})
    payload = safetensors_format.encode(arrays, {HEADER_KEY: header, **digests(header, arrays)})
    return payload, describe(skeleton, arrays)


def is_safetensors(payload: bytes) -> bool:
    return safetensors_format.read_header(payload) is not None


def decode(payload: bytes, source: str, wrap):
    """Rebuild what ``encode`` wrote (or a plain safetensors file, as a flat dict), checking its checksums."""
    file_header = safetensors_format.read_header(payload)
    if file_header is None:
        raise UnreadableCheckpointError(f"load: {source} is not a readable safetensors file")
    arrays = safetensors_format.decode(payload, file_header, source)
    metadata = file_header.get("__metadata__") or {}
    if not isinstance(metadata, dict) or HEADER_KEY not in metadata:  # a plain safetensors file
        return {name: wrap(array) for name, array in arrays.items()}
    header = metadata[HEADER_KEY]
    verify(metadata, header, arrays, source)
    try:
        structure = json.loads(header)["structure"]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise UnreadableCheckpointError(f"load: {source} has an unreadable chainrule header ({exc})") from None
    try:
        return unflatten(structure, arrays, wrap)
    except KeyError as exc:
        raise UnreadableCheckpointError(f"load: {source} names a tensor {exc} that it does not hold") from None
    except (TypeError, ValueError, RecursionError) as exc:  # a header edited or damaged into another shape
        raise UnreadableCheckpointError(f"load: {source} has a malformed chainrule structure ({exc})") from None
