"""CRC-32C (Castagnoli), the checksum of TFRecord framing, and TensorFlow's masking of it.

The checksum comes from ``google-crc32c`` (hardware instructions; ``pip install
'flowgrad[tfrecord]'``) or the ``crc32c`` package when either is installed, else from a
table-driven pure-Python loop (about 1000x slower: ~5 MB/s, enough for small files).
``implementation()`` says which one this process uses.
"""

from __future__ import annotations

from typing import Callable

_POLY = 0x82F63B78                  # Castagnoli polynomial, bit-reflected
_MASK_DELTA = 0xA282EAD8


def _make_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc32c_python(data: bytes) -> int:
    """CRC-32C of ``data``, one table lookup per byte."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _select() -> tuple[Callable[[bytes], int], str]:
    try:
        import google_crc32c  # noqa: PLC0415
        if google_crc32c.implementation == "c":
            return google_crc32c.value, "google-crc32c"
    except ImportError:
        pass
    try:
        import crc32c as _crc32c  # noqa: PLC0415
        return _crc32c.crc32c, "crc32c"
    except ImportError:
        pass
    return crc32c_python, "python"


_chosen: list = []          # (function, name), found on first use


def implementation() -> str:
    """Which CRC-32C this process uses: ``'google-crc32c'``, ``'crc32c'`` or ``'python'``."""
    if not _chosen:
        _chosen.extend(_select())
    return _chosen[1]


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data``."""
    if not _chosen:
        _chosen.extend(_select())
    return _chosen[0](data)


def mask(crc: int) -> int:
    """TensorFlow's masked CRC: rotated right by 15 bits plus a constant, so that a checksum
    stored inside checksummed data does not checksum to a fixed value."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    return mask(crc32c(data))
