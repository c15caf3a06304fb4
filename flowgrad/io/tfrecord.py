"""TFRecord files: ``tf.python_io.TFRecordWriter``, ``tf_record_iterator`` and their options.

A TFRecord file is a sequence of records, each framed as

    uint64 length | uint32 masked CRC-32C of the length's 8 bytes | data | uint32 masked CRC-32C
    of the data

(little-endian), optionally compressed as a whole as a GZIP or ZLIB stream; files are
byte-compatible with TensorFlow's.

    with tf.python_io.TFRecordWriter(path) as w:
        w.write(example.SerializeToString())
    for record in tf.python_io.tf_record_iterator(path):
        ...
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from typing import BinaryIO, Iterator

from flowgrad.framework import errors
from flowgrad.io.crc32c import masked_crc32c

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


class TFRecordCompressionType:
    """``tf.python_io.TFRecordCompressionType``: NONE, ZLIB or GZIP."""

    NONE = 0
    ZLIB = 1
    GZIP = 2


_TYPE_NAMES = {TFRecordCompressionType.NONE: "", TFRecordCompressionType.ZLIB: "ZLIB",
               TFRecordCompressionType.GZIP: "GZIP"}


def _compression_name(value, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, TFRecordOptions):
        return _compression_name(value.compression_type, what)
    if isinstance(value, int) and value in _TYPE_NAMES:
        return _TYPE_NAMES[value]
    if isinstance(value, str | bytes):
        name = os.fsdecode(value).upper()
        if name in ("", "ZLIB", "GZIP"):
            return name
    raise ValueError(f"{what}: compression type must be None, '', 'ZLIB', 'GZIP' or a "
                     f"TFRecordCompressionType, got {value!r}.")


class TFRecordOptions:
    """``tf.python_io.TFRecordOptions``: the compression of a TFRecord file.

    ``compression_type`` is a ``TFRecordCompressionType`` or one of ``''``, ``'ZLIB'``,
    ``'GZIP'``; ``compression_level`` (0-9, default 6) and ``window_bits`` apply to writing.
    The buffer sizes, ``flush_mode``, ``mem_level``, ``compression_method`` and
    ``compression_strategy`` are zlib tuning knobs: accepted, and passed to zlib where it
    has them."""

    compression_type_map = {TFRecordCompressionType.ZLIB: "ZLIB",
                            TFRecordCompressionType.GZIP: "GZIP",
                            TFRecordCompressionType.NONE: ""}

    def __init__(self, compression_type=None, flush_mode=None, input_buffer_size=None,
                 output_buffer_size=None, window_bits=None, compression_level=None,
                 compression_method=None, mem_level=None, compression_strategy=None) -> None:
        _compression_name(compression_type, "TFRecordOptions")
        self.compression_type = compression_type
        self.flush_mode = flush_mode
        self.input_buffer_size = input_buffer_size
        self.output_buffer_size = output_buffer_size
        self.window_bits = window_bits
        self.compression_level = compression_level
        self.compression_method = compression_method
        self.mem_level = mem_level
        self.compression_strategy = compression_strategy

    @classmethod
    def get_compression_type_string(cls, options) -> str:
        """``''``, ``'ZLIB'`` or ``'GZIP'`` for options, a type or a name (None: ``''``)."""
        return _compression_name(options, "TFRecordOptions.get_compression_type_string")


def _compressor(name: str, options) -> "zlib._Compress | None":
    if not name:
        return None
    level = getattr(options, "compression_level", None)
    bits = getattr(options, "window_bits", None) or zlib.MAX_WBITS
    mem = getattr(options, "mem_level", None) or zlib.DEF_MEM_LEVEL
    strategy = getattr(options, "compression_strategy", None) or zlib.Z_DEFAULT_STRATEGY
    level = zlib.Z_DEFAULT_COMPRESSION if level is None else int(level)
    wbits = 16 + bits if name == "GZIP" else bits
    return zlib.compressobj(level, zlib.DEFLATED, wbits, mem, strategy)


def encode_record(data: bytes) -> bytes:
    """One record's framing around ``data``."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + \
        struct.pack("<I", masked_crc32c(data))


class TFRecordWriter:
    """``tf.python_io.TFRecordWriter(path, options=None)``: writes records to a TFRecord file.

    ``options`` is a ``TFRecordOptions``, a ``TFRecordCompressionType`` or a compression
    name. A context manager; ``close`` finishes the compressed stream."""

    def __init__(self, path, options=None) -> None:
        self._name = _compression_name(options, "TFRecordWriter")
        self._zip = _compressor(self._name, options if isinstance(options, TFRecordOptions)
                                else None)
        try:
            self._file: BinaryIO | None = open(os.fspath(path), "wb")
        except FileNotFoundError:
            raise errors.NotFoundError(None, None, f"{os.fspath(path)}; No such file or "
                                       "directory") from None

    def _put(self, data: bytes) -> None:
        if self._file is None:
            raise errors.FailedPreconditionError(None, None, "TFRecordWriter is closed.")
        self._file.write(self._zip.compress(data) if self._zip is not None else data)

    def write(self, record) -> None:
        """Appends one record (bytes; a str is encoded as UTF-8)."""
        if isinstance(record, str):
            record = record.encode()
        self._put(encode_record(bytes(record)))

    def flush(self) -> None:
        """Writes everything so far to the file (a compressed stream is sync-flushed)."""
        if self._file is None:
            raise errors.FailedPreconditionError(None, None, "TFRecordWriter is closed.")
        if self._zip is not None:
            self._file.write(self._zip.flush(zlib.Z_SYNC_FLUSH))
        self._file.flush()

    def close(self) -> None:
        if self._file is None:
            return
        if self._zip is not None:
            self._file.write(self._zip.flush(zlib.Z_FINISH))
        self._file.close()
        self._file = None

    def __enter__(self) -> "TFRecordWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            self.close()


class _ZlibReader:
    """A ``read(n)`` file over a ZLIB stream, decompressed as it is read."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw, self._z, self._buf = raw, zlib.decompressobj(), b""

    def read(self, n: int) -> bytes:
        while len(self._buf) < n and not self._z.eof:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                break
            self._buf += self._z.decompress(chunk)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._raw.close()


def _open(path: str, name: str):
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
    if name == "GZIP":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    if name == "ZLIB":
        return _ZlibReader(raw), raw
    return raw, raw


def read_records(path, compression: str = "", what: str = "tf_record_iterator"
                 ) -> Iterator[bytes]:
    """The records of one file; a bad checksum or a truncated record raises DataLossError."""
    path = os.fsdecode(path)
    f, raw = _open(path, compression)
    offset = 0
    try:
        while True:
            try:
                header = f.read(12)
                if not header:
                    return
                if len(header) < 12:
                    raise errors.DataLossError(None, None, f"{what}: truncated record at "
                                               f"byte {offset} of {path}")
                length, length_crc = _HEADER.unpack(header)
                if masked_crc32c(header[:8]) != length_crc:
                    raise errors.DataLossError(None, None, f"{what}: corrupted record at byte "
                                               f"{offset} of {path} (length checksum "
                                               "mismatch)")
                body = f.read(length + 4)
            except (OSError, EOFError, zlib.error) as e:
                raise errors.DataLossError(None, None, f"{what}: cannot read {path} as a "
                                           f"{compression or 'uncompressed'} TFRecord file: "
                                           f"{e}") from None
            if len(body) < length + 4:
                raise errors.DataLossError(None, None, f"{what}: truncated record at byte "
                                           f"{offset} of {path}")
            data = body[:length]
            if masked_crc32c(data) != _FOOTER.unpack(body[length:])[0]:
                raise errors.DataLossError(None, None, f"{what}: corrupted record at byte "
                                           f"{offset} of {path} (data checksum mismatch)")
            yield data
            offset += 12 + length + 4
    finally:
        f.close()
        raw.close()


def tf_record_iterator(path, options=None) -> Iterator[bytes]:
    """``tf.python_io.tf_record_iterator(path, options=None)``: the records of a TFRecord
    file, as bytes, in order."""
    name = _compression_name(options, "tf_record_iterator")
    return read_records(path, name)
