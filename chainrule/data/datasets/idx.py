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


MAX_IDX_BYTES = 1 << 31  # the largest array read_idx_bytes accepts (MNIST's largest file is 47 MB)
MAX_DEFLATE_RATIO = 1032  # deflate cannot expand its input more than this (RFC 1951's longest match per bit)


def read_idx_bytes(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> bytes:
    """The uncompressed bytes of an IDX file (gzip is detected by its magic bytes, not the name).

    The header is read first and the size it declares checked against
    ``max_bytes`` and, for gzip, against what the compressed size can inflate
    to; then exactly that many bytes are read. So a small gzip bomb is refused
    before it is inflated, and nothing past the declared end is decompressed.
    """
    name = os.fspath(path)
    with open(path, "rb") as raw:
        stored = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compressed else raw
        try:
            head = stream.read(4)
            _check_magic(head, name)
            head += stream.read(4 * head[3])
            shape, dtype, _ = _parse_header(head, name)
            declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            limit = min(max_bytes, stored * MAX_DEFLATE_RATIO) if compressed else max_bytes
            if declared > limit:
                source = f"a gzip stream of {stored} bytes" if compressed else f"a file of {stored} bytes"
                raise IDXFormatError(
                    f"{name}: the header declares shape {shape} of {dtype.name} ({declared} bytes), more than "
                    f"{source} can hold (limit {limit} bytes); the file is corrupt or hostile"
                )
            return head + stream.read(declared + 1)  # one byte more shows trailing bytes to parse_idx
        except (EOFError, OSError, zlib.error) as exc:
            raise IDXFormatError(f"{name}: the gzip stream is truncated or corrupt ({exc})") from None


def _check_magic(data: bytes, name: str) -> None:
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


def _parse_header(data: bytes, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header size) from the first bytes of an IDX file, checked."""
    _check_magic(data, name)
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(f"{name}: truncated header: {ndim} dimensions need {header} bytes, got {len(data)}")
    return struct.unpack(f">{ndim}I", data[4:header]), IDX_DTYPES[data[2]], header


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """The array an IDX file holds, in native byte order; IDXFormatError (naming ``name``) if malformed."""
    shape, dtype, header = _parse_header(data, name)
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
