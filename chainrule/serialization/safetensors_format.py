"""The safetensors file format, read and written with NumPy alone.

A safetensors file is::

    8 bytes        N, the header's length (unsigned, little-endian)
    N bytes        the header: JSON, padded with spaces to a multiple of 8 bytes,
                   {"__metadata__": {str: str}, name: {"dtype": "F32",
                    "shape": [2, 3], "data_offsets": [begin, end]}, ...}
    the rest       the tensors' bytes, little-endian and C-ordered, each at
                   [begin, end) counted from the end of the header

Nothing else is in it: reading parses JSON and slices bytes, so a file can
carry data but no code. BF16 tensors (NumPy has no bfloat16) are read as
float32, exactly, with a warning.
"""

from __future__ import annotations

import json
import struct
import warnings

import numpy as np

from chainrule.backend.dtypes import bfloat16_to_float32
from chainrule.serialization.errors import UnreadableCheckpointError

BFLOAT16 = "BF16"
_DTYPES = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("uint8"),
    "I8": np.dtype("int8"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    BFLOAT16: np.dtype("<u2"),  # the stored bits; widened to float32 on reading
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items() if code != BFLOAT16}
_MAX_HEADER = 100_000_000  # as the reference implementation: a longer header is a corrupt length


def encode(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors bytes holding ``arrays`` (C-ordered, in name order) and string ``metadata``."""
    header: dict = {"__metadata__": metadata}
    chunks, offset = [], 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        code = _CODES.get(array.dtype.newbyteorder("="))
        if code is None:
            raise TypeError(f"save: tensor '{name}' has dtype {array.dtype}, which safetensors cannot hold")
        data = array.astype(_DTYPES[code], copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def read_header(payload: bytes) -> dict | None:
    """The parsed header of a safetensors file, or None if ``payload`` does not start like one."""
    if len(payload) < 8:
        return None
    (length,) = struct.unpack("<Q", payload[:8])
    if not 2 <= length <= min(len(payload) - 8, _MAX_HEADER) or payload[8:9] != b"{":
        return None
    try:
        header = json.loads(payload[8 : 8 + length])
    except (UnicodeDecodeError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def decode(payload: bytes, header: dict, source: str) -> dict[str, np.ndarray]:
    """The arrays a safetensors file holds (writable, native byte order), checked against its size."""
    start = 8 + struct.unpack("<Q", payload[:8])[0]
    data = bytearray(payload[start:])  # one writable copy; the arrays are views of it
    arrays, widened = {}, []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = _entry(entry, name, source)
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise UnreadableCheckpointError(
                f"load: {source} is not a readable safetensors file (tensor '{name}' of shape {tuple(shape)} "
                f"claims bytes {begin}..{end} of {len(data)}; the file is truncated or corrupt)"
            )
        array = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(shape)
        if entry["dtype"] == BFLOAT16:
            array = bfloat16_to_float32(array)
            widened.append(name)
        arrays[name] = array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))
    if widened:
        warn_bfloat16_widened(source, stacklevel=6)  # the caller of cr.load: decode, native.decode, load
    return arrays


def warn_bfloat16_widened(source: str, stacklevel: int) -> None:
    """Tell the caller of ``cr.load`` (``stacklevel`` frames up) that bfloat16 tensors came back as float32."""
    warnings.warn(
        f"load: {source} holds bfloat16 tensors; chainrule has no bfloat16 and loads them as float32 "
        "(exactly: each bfloat16 value is a float32 value)",
        stacklevel=stacklevel,
    )


def _entry(entry, name: str, source: str):
    """(dtype, shape, offsets) of one header entry, or UnreadableCheckpointError saying what is wrong."""
    try:
        dtype = _DTYPES[entry["dtype"]]
        shape = [int(n) for n in entry["shape"]]
        begin, end = (int(n) for n in entry["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise UnreadableCheckpointError(
            f"load: {source}: tensor '{name}' has an unreadable or unsupported header entry {entry!r} "
            f"(dtypes read: {', '.join(_DTYPES)})"
        ) from None
    if any(n < 0 for n in shape):
        raise UnreadableCheckpointError(f"load: {source}: tensor '{name}' has a negative shape {shape}")
    return dtype, shape, (begin, end)
