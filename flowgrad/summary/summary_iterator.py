"""``tf.train.summary_iterator(path)``: the ``Event`` records of one event file.

    for event in tf.train.summary_iterator(path):
        for value in event.summary.value:
            print(event.step, value.tag, value.simple_value)

Records use TFRecord framing (length, masked CRC-32C of the length, data, masked CRC-32C
of the data); both checksums are verified. A record cut short at the end of the file (a
writer still appending) ends the iteration; a wrong checksum raises ``DataLossError``.
"""

from __future__ import annotations

import struct
from typing import Iterator

from flowgrad.framework import errors


def summary_iterator(path: str) -> Iterator:
    """Yields the ``Event`` protocol buffers of the event file ``path`` in order."""
    try:
        from tensorboardX.proto import event_pb2  # noqa: PLC0415
        from tensorboardX.record_writer import masked_crc32c  # noqa: PLC0415
    except ImportError:
        raise ImportError("summary_iterator needs tensorboardX: pip install "
                          "'flowgrad[tensorboard]'") from None
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 12 <= len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if masked_crc32c(header) != header_crc:
            raise errors.DataLossError(None, None, f"{path}: corrupted record length at byte "
                                       f"{pos} (checksum mismatch)")
        end = pos + 12 + length + 4
        if end > len(data):
            return
        body = data[pos + 12:pos + 12 + length]
        (body_crc,) = struct.unpack("<I", data[end - 4:end])
        if masked_crc32c(body) != body_crc:
            raise errors.DataLossError(None, None, f"{path}: corrupted record at byte {pos} "
                                       "(checksum mismatch)")
        event = event_pb2.Event()
        event.ParseFromString(body)
        yield event
        pos = end
