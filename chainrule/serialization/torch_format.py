"""Reading the files ``torch.save`` writes, without PyTorch and without running code from them.

The zip archive (PyTorch >= 1.6; uncompressed, each member CRC-checked)::

    <name>/data.pkl      the saved object, pickled (protocol 2)
    <name>/data/<key>    one storage's raw elements
    <name>/byteorder     "little" or "big" (absent in old files: little)
    <name>/version, .format_version, .data/serialization_id   (not needed)

In the pickle, a tensor is a call
``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
requires_grad, backward_hooks)`` and a storage a persistent reference
``("storage", torch.FloatStorage, key, location, numel)``. A parameter wraps a
tensor in ``torch._utils._rebuild_parameter``; a state_dict is an
``OrderedDict`` whose ``_metadata`` attribute is set by BUILD.

The legacy format (``torch.save(..., _use_new_zipfile_serialization=False)``)
is five pickles in a row (magic number, protocol version, system info, the
object, its storage keys) followed, per storage, by its element count (int64,
little-endian) and raw elements.

The pickle runs in ``RestrictedUnpickler`` with the stand-ins of
``_allowed_globals``: the rebuild functions above, storage types, dtypes,
``torch.Size``, ``torch.device`` and plain containers; any other global is
refused before anything is built. Tensors are made in two steps: while the
pickle runs each is a ``TensorRecord`` (storage, offset, shape, strides), and
once it is done the storages are read and ``materialize`` replaces every
record by a chainrule tensor. On the CPU the tensors cut from one storage are
views of one array, so tensors that shared memory in PyTorch still do.
bfloat16 storages become float32 (exactly: each bfloat16 is the top half of
a float32), with a warning, as chainrule has no bfloat16 dtype.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from chainrule.backend import Device, to_device
from chainrule.backend.dtypes import bfloat16_to_float32
from chainrule.serialization.errors import UnreadableCheckpointError
from chainrule.serialization.map_location import target_device
from chainrule.serialization.restricted_pickle import (
    PLAIN_GLOBALS,
    RefusedGlobalError,
    RefusedPickleError,
    RestrictedUnpickler,
)
from chainrule.serialization.safetensors_format import warn_bfloat16_widened
from chainrule.tensor import Size, Tensor

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
BFLOAT16 = "bfloat16"
"""The element type of bfloat16 storages, which NumPy lacks: read as uint16, widened to float32."""

_DTYPES = {
    "float32": (np.float32, "Float", ("float",)),
    "float64": (np.float64, "Double", ("double",)),
    "float16": (np.float16, "Half", ("half",)),
    BFLOAT16: (BFLOAT16, "BFloat16", ()),
    "int64": (np.int64, "Long", ("long",)),
    "int32": (np.int32, "Int", ("int",)),
    "int16": (np.int16, "Short", ("short",)),
    "int8": (np.int8, "Char", ()),
    "uint8": (np.uint8, "Byte", ()),
    "bool": (np.bool_, "Bool", ()),
}
"""torch dtype name -> (element type, legacy storage class prefix, the dtype's other torch names)."""

_UNSUPPORTED_STORAGES = ("ComplexFloat", "ComplexDouble", "ComplexHalf", "QInt8", "QUInt8", "QInt32", "QUInt4x2")


def _element_type(dtype) -> np.dtype | str:
    return BFLOAT16 if dtype is BFLOAT16 or dtype == BFLOAT16 else np.dtype(dtype)


def _itemsize(element_type) -> int:
    return 2 if element_type is BFLOAT16 else element_type.itemsize


# ---------------------------------------------------------------------- what the pickle builds
@dataclass(frozen=True)
class StorageType:
    """Stand-in for ``torch.FloatStorage`` and the like: only names an element type (not callable)."""

    name: str
    element_type: object  # a NumPy dtype, BFLOAT16, or None for a type chainrule cannot hold


@dataclass(frozen=True)
class TorchType:
    """Stand-in for ``torch.Tensor`` / ``torch.nn.Parameter`` as ``_rebuild_from_type_v2`` names them."""

    name: str
    is_parameter: bool


@dataclass
class StorageRef:
    """A storage named by the pickle: its archive key, element type, device and element count."""

    key: str
    element_type: object
    location: str
    numel: int


@dataclass(eq=False)
class TensorRecord:
    """A tensor the pickle described, made into a chainrule tensor by ``materialize``."""

    storage: StorageRef
    offset: int
    size: tuple
    stride: tuple
    requires_grad: bool = False
    element_type: object = None  # overrides the storage's (``_rebuild_tensor_v3`` on an untyped storage)
    is_parameter: bool = False


def _is_int_tuple(value) -> bool:
    return isinstance(value, tuple) and all(type(n) is int for n in value)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``."""
    if not isinstance(storage, StorageRef) or type(storage_offset) is not int:
        raise TypeError(f"_rebuild_tensor_v2 of a {type(storage).__name__} (expected a storage)")
    if not (_is_int_tuple(size) and _is_int_tuple(stride) and len(size) == len(stride)):
        raise TypeError(f"_rebuild_tensor_v2 with size {size!r} and stride {stride!r}")
    return TensorRecord(storage, storage_offset, tuple(size), tuple(stride), bool(requires_grad))


def rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    """Stand-in for ``torch._utils._rebuild_tensor_v3``: v2 with the dtype given apart from the storage."""
    record = rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad)
    if not any(dtype is known or dtype == known for known, _, _ in _DTYPES.values()):
        raise TypeError(f"_rebuild_tensor_v3 with dtype {dtype!r}")
    return replace(record, element_type=_element_type(dtype))


def rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """Stand-in for ``torch._utils._rebuild_parameter`` (and ``_rebuild_parameter_with_state``)."""
    if not isinstance(data, TensorRecord):
        raise TypeError(f"_rebuild_parameter of a {type(data).__name__} (expected a tensor)")
    return replace(data, requires_grad=bool(requires_grad), is_parameter=True)


def rebuild_from_type_v2(function, new_type, args, state):
    """Stand-in for ``torch._tensor._rebuild_from_type_v2``: a tensor of type ``new_type`` (attributes dropped)."""
    if function not in (rebuild_tensor_v2, rebuild_tensor_v3, rebuild_parameter) or not isinstance(new_type, TorchType):
        raise TypeError(f"_rebuild_from_type_v2 of {function!r} as {new_type!r}")
    record = function(*args)
    return replace(record, is_parameter=True) if new_type.is_parameter else record


def _size(items=()):
    """Stand-in for ``torch.Size``."""
    items = tuple(items)
    if not all(type(n) is int for n in items):
        raise TypeError(f"torch.Size of {items!r} (expected ints)")
    return Size(items)


def _allowed_globals() -> dict[str, Callable]:
    """``"module.name"`` -> stand-in, for every global a torch.save file of tensors and containers uses."""
    allowed: dict = dict(PLAIN_GLOBALS)
    allowed.update(
        {
            "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
            "torch._utils._rebuild_tensor_v3": rebuild_tensor_v3,
            "torch._utils._rebuild_parameter": rebuild_parameter,
            "torch._utils._rebuild_parameter_with_state": rebuild_parameter,
            "torch._tensor._rebuild_from_type_v2": rebuild_from_type_v2,
            "torch.Tensor": TorchType("torch.Tensor", False),
            "torch.nn.parameter.Parameter": TorchType("torch.nn.Parameter", True),
            "torch.Size": _size,
            "torch.device": Device,
        }
    )
    for module in ("torch", "torch.storage"):
        allowed[f"{module}.UntypedStorage"] = StorageType("UntypedStorage", np.dtype(np.uint8))
    for name, (element_type, storage_prefix, aliases) in _DTYPES.items():
        element_type = _element_type(element_type)
        allowed[f"torch.{storage_prefix}Storage"] = StorageType(f"{storage_prefix}Storage", element_type)
        for alias in (name, *aliases):
            allowed[f"torch.{alias}"] = element_type
    for prefix in _UNSUPPORTED_STORAGES:
        allowed[f"torch.{prefix}Storage"] = StorageType(f"{prefix}Storage", None)
    return allowed


class _StorageTable:
    """The storages a pickle references, by key; ``persistent_load`` for the unpickler."""

    def __init__(self, source: str):
        self.source = source
        self.refs: dict[str, StorageRef] = {}

    def persistent_load(self, pid) -> StorageRef:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] in ("storage", b"storage")):
            raise RefusedPickleError(
                f"load: {self.source}: refused a persistent reference {pid!r} that is not a storage"
            )
        _, storage_type, key, location, numel = pid[:5]
        if len(pid) == 6 and pid[5] is not None:
            raise UnreadableCheckpointError(
                f"load: {self.source} holds a legacy storage view, which chainrule does not read; "
                "re-save it with a current torch.save (the zip format)"
            )
        if not isinstance(storage_type, StorageType) or type(numel) is not int or numel < 0:
            raise pickle.UnpicklingError(f"load: {self.source}: a malformed storage reference {pid!r}")
        if storage_type.element_type is None:
            raise UnreadableCheckpointError(
                f"load: {self.source} holds a {storage_type.name}; chainrule reads float32/64/16, bfloat16, "
                "int8/16/32/64, uint8 and bool tensors"
            )
        key, location = str(key), str(location)
        if key not in self.refs:
            self.refs[key] = StorageRef(key, storage_type.element_type, location, numel)
        return self.refs[key]


def _unpickle(stream, tables: _StorageTable | None, source: str):
    """Run one pickle; a malformed or truncated one is an UnreadableCheckpointError, a refusal stays one."""
    persistent_load = tables.persistent_load if tables is not None else None
    try:
        return RestrictedUnpickler(stream, _allowed_globals(), persistent_load, f"load: {source}").load()
    except RefusedGlobalError as exc:
        if not exc.global_name.startswith("torch.nn.modules."):
            raise
        raise RefusedGlobalError(
            f"{exc}. The file holds a whole nn.Module: in PyTorch, save its weights with "
            "torch.save(model.state_dict(), f), and load them with model.load_state_dict(cr.load(f))",
            exc.global_name,
        ) from None
    except RefusedPickleError:
        raise
    except pickle.UnpicklingError as exc:
        raise UnreadableCheckpointError(f"{exc}; the file is truncated or corrupt") from None


# ---------------------------------------------------------------------- from records to tensors
def _decode_elements(raw: bytes, element_type, little_endian: bool) -> np.ndarray:
    """The storage's elements as a writable native NumPy array (bfloat16 widened to float32)."""
    order = "<" if little_endian else ">"
    if element_type is BFLOAT16:
        return bfloat16_to_float32(np.frombuffer(raw, dtype=np.dtype(f"{order}u2")))
    return np.frombuffer(raw, dtype=element_type.newbyteorder(order)).astype(element_type)


class _Materializer:
    """Turns TensorRecords into tensors, reading each storage once (``read_bytes(key)``)."""

    def __init__(self, read_bytes: Callable[[str], bytes], little_endian: bool, map_location, source: str):
        self.read_bytes = read_bytes
        self.little_endian = little_endian
        self.map_location = map_location
        self.source = source
        self.arrays: dict = {}
        self.devices: dict = {}
        self.built: dict = {}
        self.widened_bfloat16 = False

    def storage_array(self, ref: StorageRef, element_type) -> np.ndarray:
        cache_key = (ref.key, str(element_type))
        if cache_key not in self.arrays:
            raw = self.read_bytes(ref.key)
            stored_bytes = ref.numel * _itemsize(ref.element_type)
            if len(raw) < stored_bytes:
                raise UnreadableCheckpointError(
                    f"load: {self.source} is corrupt: storage {ref.key} has {len(raw)} bytes, "
                    f"its {ref.numel} elements need {stored_bytes}"
                )
            raw = raw[: stored_bytes - stored_bytes % _itemsize(element_type)]
            self.arrays[cache_key] = _decode_elements(raw, element_type, self.little_endian)
            self.widened_bfloat16 |= element_type is BFLOAT16
        return self.arrays[cache_key]

    def device(self, ref: StorageRef, storage: np.ndarray) -> Device:
        if ref.key not in self.devices:
            self.devices[ref.key] = target_device(self.map_location, ref.location, lambda: Tensor._wrap(storage))
        return self.devices[ref.key]

    def tensor(self, record: TensorRecord) -> Tensor:
        if id(record) in self.built:
            return self.built[id(record)]
        element_type = record.storage.element_type if record.element_type is None else record.element_type
        storage = self.storage_array(record.storage, element_type)
        array = to_device(self.view(storage, record), self.device(record.storage, storage))
        if record.is_parameter:
            from chainrule.nn.parameter import Parameter  # nn sits above serialization

            result = Parameter(array, requires_grad=record.requires_grad)
        else:
            result = Tensor._wrap(array)
            if record.requires_grad:
                result.requires_grad_(True)
        self.built[id(record)] = result
        return result

    def view(self, storage: np.ndarray, record: TensorRecord) -> np.ndarray:
        """The strided window of ``storage`` the record describes, checked to lie inside it."""
        size, stride, offset = record.size, record.stride, record.offset
        if any(n < 0 for n in size) or any(s < 0 for s in stride) or offset < 0:
            raise UnreadableCheckpointError(
                f"load: {self.source} is corrupt: a tensor of size {size}, stride {stride}, offset {offset}"
            )
        if 0 in size:
            return np.empty(size, dtype=storage.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.size:
            raise UnreadableCheckpointError(
                f"load: {self.source} is corrupt: a tensor of size {size}, stride {stride}, offset {offset} "
                f"reaches element {last} of storage {record.storage.key}, which holds {storage.size}"
            )
        strides = tuple(s * storage.itemsize for s in stride)
        return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=strides)

    def materialize(self, obj, done: dict | None = None):
        """``obj`` with every TensorRecord in it replaced by its tensor (dicts and lists edited in place).

        ``done`` maps the id of every container already visited to its result,
        so a container shared many times (a pickle's memo makes that cheap: a
        few hundred bytes can nest 2**60 references) is walked once.
        """
        done = {} if done is None else done
        if isinstance(obj, TensorRecord):
            return self.tensor(obj)
        if isinstance(obj, StorageRef):  # a bare storage: its elements as a 1-D tensor
            return self.tensor(TensorRecord(obj, 0, (obj.numel,), (1,)))
        if id(obj) in done:
            return done[id(obj)]
        if isinstance(obj, dict):
            done[id(obj)] = obj
            for key in list(obj):
                obj[key] = self.materialize(obj[key], done)
        elif isinstance(obj, list):
            done[id(obj)] = obj
            obj[:] = [self.materialize(item, done) for item in obj]
        elif isinstance(obj, tuple):
            items = [self.materialize(item, done) for item in obj]
            done[id(obj)] = result = type(obj)(items) if isinstance(obj, Size) else tuple(items)
            return result
        return obj

    def warn_about_conversions(self) -> None:
        if self.widened_bfloat16:
            warn_bfloat16_widened(self.source, stacklevel=7)  # the caller of cr.load


# ---------------------------------------------------------------------- the two file layouts
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
LEGACY_MAGIC = b"\x80\x02\x8a\x0a"  # PROTO 2, then the 10-byte LEGACY_MAGIC_NUMBER


def is_torch_file(head: bytes) -> bool:
    """Whether a file starting with ``head`` (its first 4 bytes) is a torch.save zip or legacy file."""
    return head[:4] in ZIP_MAGIC or head[:4] == LEGACY_MAGIC


def load_torch_file(stream, source: str, map_location=None):
    """The object a torch.save file holds, tensors rebuilt as chainrule tensors."""
    head = stream.read(4)
    stream.seek(-len(head), io.SEEK_CUR)
    try:
        if head == LEGACY_MAGIC:
            return _load_legacy(stream, source, map_location)
        return _load_zip(stream, source, map_location)
    except RecursionError:  # a pickle can nest lists far deeper than any checkpoint does
        raise UnreadableCheckpointError(f"load: {source} nests containers too deeply to rebuild") from None


def _corrupt_zip(source: str, exc: Exception) -> UnreadableCheckpointError:
    return UnreadableCheckpointError(
        f"load: {source} is not a complete torch.save archive ({type(exc).__name__}: {exc}); "
        "the file is truncated or corrupt"
    )


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, NotImplementedError, OSError)


def _load_zip(stream, source: str, map_location):
    try:
        archive = zipfile.ZipFile(stream)
        pickles = [name for name in archive.namelist() if name == "data.pkl" or name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise UnreadableCheckpointError(
                f"load: {source} is a zip file but not a torch.save archive (it has {len(pickles)} data.pkl)"
            )
        prefix = pickles[0][: -len("data.pkl")]
        members = set(archive.namelist())
        byteorder = archive.read(prefix + "byteorder").decode() if prefix + "byteorder" in members else "little"
        table = _StorageTable(source)
        result = _unpickle(io.BytesIO(archive.read(pickles[0])), table, source)

        def read_bytes(key: str) -> bytes:
            name = f"{prefix}data/{key}"
            if name not in members:
                raise UnreadableCheckpointError(f"load: {source} is corrupt: its storage {name} is missing")
            return archive.read(name)

        materializer = _Materializer(read_bytes, byteorder == "little", map_location, source)
        result = materializer.materialize(result)
    except _ZIP_ERRORS as exc:
        raise _corrupt_zip(source, exc) from None
    materializer.warn_about_conversions()
    return result


def _load_legacy(stream, source: str, map_location):
    """The pre-zip format: header pickles, the object, its storage keys, then each storage's elements."""
    try:
        if _unpickle(stream, None, source) != LEGACY_MAGIC_NUMBER:
            raise UnreadableCheckpointError(f"load: {source} is not a torch.save file (wrong magic number)")
        if _unpickle(stream, None, source) != LEGACY_PROTOCOL_VERSION:
            raise UnreadableCheckpointError(f"load: {source} has a legacy protocol version chainrule does not read")
        system = _unpickle(stream, None, source)
        table = _StorageTable(source)
        result = _unpickle(stream, table, source)
        keys = _unpickle(stream, None, source)
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", stream.read(8))
            ref = table.refs[str(key)]
            storages[ref.key] = stream.read(count * _itemsize(ref.element_type))
            if len(storages[ref.key]) != count * _itemsize(ref.element_type):
                raise EOFError(f"storage {ref.key} ends early")
    except (struct.error, KeyError, TypeError, EOFError) as exc:
        raise UnreadableCheckpointError(
            f"load: {source} is a truncated or corrupt legacy torch.save file ({type(exc).__name__}: {exc})"
        ) from None
    little_endian = not isinstance(system, dict) or system.get("little_endian", True)
    materializer = _Materializer(storages.__getitem__, little_endian, map_location, source)
    result = materializer.materialize(result)
    materializer.warn_about_conversions()
    return result
