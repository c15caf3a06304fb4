"""Checkpoint files: safetensors, written atomically, with a checksum per tensor.

The file is plain safetensors (readable by ``safetensors.numpy.load_file``): an 8-byte
little-endian header length, a JSON header ``{name: {dtype, shape, data_offsets}}`` with a
``__metadata__`` entry, then the tensor bytes. flowgrad adds to the metadata
``"flowgrad.crc32"``: a JSON map from tensor name to the CRC-32 of the tensor's name,
dtype, shape and bytes. Reading re-checks the layout and every checksum, so a truncated or
bit-flipped file raises ``DataLossError`` naming the file and the tensor.

Writing goes to a temporary file in the same directory, is flushed and fsync'ed, then
renamed over the target with ``os.replace`` (atomic on POSIX), and the directory is
fsync'ed: a writer killed at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from typing import NoReturn

import numpy as np

from flowgrad.framework import errors

SUFFIX = ".safetensors"
_CRC_KEY = "flowgrad.crc32"
_MAX_HEADER = 100_000_000

_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "I16": np.int16, "I8": np.int8, "U64": np.uint64,
           "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


def _crc(name: str, code: str, shape, data: bytes | memoryview) -> str:
    head = f"{name}\0{code}\0{','.join(str(int(d)) for d in shape)}\0".encode()
    return format(zlib.crc32(data, zlib.crc32(head)) & 0xFFFFFFFF, "08x")


def _layout(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None
            ) -> tuple[bytes, list[memoryview]]:
    """The header bytes and the tensors' buffers in file order (no copy of the data)."""
    header: dict = {}
    blobs = []
    crcs = {}
    offset = 0
    # largest alignment first, then by name: every tensor starts aligned
    items = sorted(tensors.items(), key=lambda kv: (-np.asarray(kv[1]).dtype.itemsize, kv[0]))
    for name, value in items:
        arr = np.asarray(value)
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")       # (ascontiguousarray would make 0-d arrays 1-d)
        code = _CODES.get(arr.dtype)
        if code is None:
            known = sorted(str(np.dtype(d)) for d in _DTYPES.values())
            raise TypeError(f"Cannot save tensor {name!r} of dtype {arr.dtype} in a "
                            f"checkpoint: supported dtypes are {known}")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        data = memoryview(arr.reshape(-1)).cast("B")
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + data.nbytes]}
        crcs[name] = _crc(name, code, arr.shape, data)
        blobs.append(data)
        offset += data.nbytes
    meta = dict(metadata or {})
    meta[_CRC_KEY] = json.dumps(crcs, sort_keys=True)
    header["__metadata__"] = meta
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, blobs


def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of ``tensors`` (name -> array), with per-tensor checksums."""
    head, blobs = _layout(tensors, metadata)
    return head + b"".join(blobs)


def write_atomic(path: str, *chunks) -> None:
    """Writes the concatenated ``chunks`` (bytes-like) to ``path`` so that a crash leaves
    either the old file or the new one."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None
         ) -> None:
    head, blobs = _layout(tensors, metadata)
    write_atomic(path, head, *blobs)          # streamed: no copy of the tensors' bytes


def _first_offset(entry) -> int:
    try:
        return int(entry["data_offsets"][0])
    except (KeyError, TypeError, ValueError, IndexError):
        return -1


class Reader:
    """Reads and verifies one checkpoint file; ``get_tensor(name)`` checks its checksum."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            with open(path, "rb") as f:
                self._buf = f.read()
        except FileNotFoundError:
            raise errors.NotFoundError(None, None, f"Checkpoint file {path} not found") from None
        buf = self._buf
        if len(buf) < 8:
            self._fail(f"file is truncated: {len(buf)} bytes, not even a header")
        (n,) = struct.unpack("<Q", buf[:8])
        if n > _MAX_HEADER or 8 + n > len(buf):
            self._fail(f"file is truncated or corrupt: header of {n} bytes but the file has "
                       f"{len(buf)} bytes")
        try:
            header = json.loads(buf[8:8 + n].decode("utf-8"))
            if not isinstance(header, dict):
                raise ValueError("header is not a JSON object")
        except (UnicodeDecodeError, ValueError) as e:
            self._fail(f"corrupt header ({e})")
        meta = header.pop("__metadata__", None) or {}
        self.metadata = {k: v for k, v in meta.items() if k != _CRC_KEY}
        try:
            self._crcs = json.loads(meta[_CRC_KEY])
        except (KeyError, ValueError, TypeError):
            self._fail("no per-tensor checksums in its metadata (not a flowgrad checkpoint, or "
                       "a corrupt header)")
        self._base = 8 + n
        self._entries = {}
        # checked in file order, so a truncation names the first tensor it cuts into
        items = sorted(header.items(), key=lambda kv: _first_offset(kv[1]))
        for name, e in items:
            try:
                code, shape, (b, end) = e["dtype"], [int(d) for d in e["shape"]], \
                    e["data_offsets"]
                dtype = np.dtype(_DTYPES[code])
            except (KeyError, TypeError, ValueError):
                self._fail(f"corrupt header entry for tensor {name!r}", name)
            if not (0 <= b <= end) or end - b != int(np.prod(shape)) * dtype.itemsize:
                self._fail(f"corrupt header entry for tensor {name!r}: offsets {b}..{end} do "
                           f"not match shape {shape} of {code}", name)
            if self._base + end > len(buf):
                self._fail(f"file is truncated: tensor {name!r} needs bytes up to "
                           f"{self._base + end} but the file has {len(buf)}", name)
            if name not in self._crcs:
                self._fail(f"tensor {name!r} has no checksum", name)
            self._entries[name] = (code, tuple(shape), dtype, b, end)
        missing = set(self._crcs) - set(self._entries)
        if missing:
            self._fail(f"tensor {sorted(missing)[0]!r} listed in the checksums is missing from "
                       "the header", sorted(missing)[0])

    def _fail(self, what: str, tensor: str | None = None) -> NoReturn:
        where = f" (tensor {tensor!r})" if tensor else ""
        raise errors.DataLossError(None, None, f"Checkpoint {self.path}{where}: {what}. The "
                                   "file is damaged; restore an older checkpoint.")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def has_tensor(self, name: str) -> bool:
        return name in self._entries

    def shape(self, name: str) -> tuple[int, ...]:
        return self._entries[name][1]

    def dtype(self, name: str) -> np.dtype:
        return self._entries[name][2]

    def get_tensor(self, name: str) -> np.ndarray:
        if name not in self._entries:
            raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint "
                                       f"{self.path}")
        code, shape, dtype, b, end = self._entries[name]
        data = memoryview(self._buf)[self._base + b:self._base + end]
        if _crc(name, code, shape, data) != self._crcs[name]:
            self._fail(f"checksum mismatch in tensor {name!r}: its bytes were altered", name)
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def verify(self) -> None:
        """Checks every tensor's checksum (raises DataLossError on the first bad one)."""
        for name in self._entries:
            self.get_tensor(name)
