"""A strict reader of IDX files, the format of the original MNIST distribution.

An IDX file is a 4-byte magic number ``0 0 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the values in C order, big-endian. MNIST ships them
gzip-compressed (``train-images-idx3-ubyte.gz``); both forms are read.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_NDIM = 16


class IDXFormatError(ValueError):
    """The bytes are not a well-formed IDX file."""


def read_idx_bytes(path: str | os.PathLike) -> bytes:
    """The uncompressed bytes of an IDX file (gzip is detected by its magic bytes, not the name)."""
    with open(path, "rb") as stream:
        data = stream.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise IDXFormatError(f"{path}: the gzip stream is truncated or corrupt ({exc})") from None
    return data


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """The array an IDX file holds, in native byte order; IDXFormatError (naming ``name``) if malformed."""
    if len(data) < 4:
        raise IDXFormatError(f"{name}: too short for an IDX header ({len(data)} bytes, need at least 4)")
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        raise IDXFormatError(
            f"{name}: bad magic number 0x{data[:4].hex()} (an IDX file starts with two zero bytes, "
            "a dtype code and the number of dimensions)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXFormatError(f"{name}: unknown dtype code 0x{code:02X} in magic number (known: {known})")
    if not 1 <= ndim <= MAX_NDIM:
        raise IDXFormatError(f"{name}: the magic number gives {ndim} dimensions (expected 1 to {MAX_NDIM})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(f"{name}: truncated header: {ndim} dimensions need {header} bytes, got {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise IDXFormatError(
            f"{name}: {problem}: shape {shape} of {dtype.name} needs {expected} bytes in all, the file has {len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array in the IDX file at ``path`` (gzip-compressed or not)."""
    return parse_idx(read_idx_bytes(path), name=os.fspath(path))


def _code(dtype: np.dtype) -> int:
    for code, idx_dtype in IDX_DTYPES.items():
        if dtype.newbyteorder("=") == idx_dtype.newbyteorder("="):
            return code
    raise ValueError(f"IDX cannot hold {dtype} (it holds {', '.join(d.name for d in IDX_DTYPES.values())})")


def idx_header(array: np.ndarray) -> bytes:
    """The IDX header (magic number and sizes) of a file holding ``array``."""
    return bytes([0, 0, _code(array.dtype), array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` encoded as an IDX file (the inverse of ``parse_idx``)."""
    big_endian = IDX_DTYPES[_code(array.dtype)]
    return idx_header(array) + np.ascontiguousarray(array, dtype=big_endian).tobytes()
