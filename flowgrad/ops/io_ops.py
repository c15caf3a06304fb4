"""TF1's readers: ``tf.TFRecordReader``, ``tf.WholeFileReader``, ``tf.TextLineReader``,
``tf.FixedLengthRecordReader``, ``tf.IdentityReader`` (all ``tf.ReaderBase``).

A reader turns work units (file names) from a string queue into records. ``read(queue)``
returns the next (key, value) pair of string scalars; when the reader's current file is
exhausted it dequeues the next file name, so a reader blocks as a dequeue does, and once
the queue is closed and empty ``read`` raises OutOfRangeError (which ends a queue runner's
loop). A reader's position is session state, kept in the session's resources as a queue's
contents are; one reader serves the threads that share it one record at a time.

    files = tf.train.string_input_producer(["a.tfrecord", "b.tfrecord"], num_epochs=2)
    key, record = tf.TFRecordReader().read(files)       # b"a.tfrecord:0", b"..."
"""

from __future__ import annotations

import collections
import gzip
import io
import os
import threading
import zlib

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import get_default_graph, name_scope
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.io.tfrecord import _compression_name, read_records
from flowgrad.ops import queue_ops as _queues
from flowgrad.runtime.placement import register_host_only


# ----- per-session state -----------------------------------------------------------------------
class _ReaderState:
    """One reader's position in one session (TF's ReaderBase counters and current work)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.work = b""
        self.records = None          # iterator of (key, value, last) over the current work
        self.work_started = 0
        self.work_finished = 0
        self.produced = 0
        self.position = 0            # records produced from the current work

    def in_progress(self) -> bool:
        return self.work_finished < self.work_started

    def finish_work(self) -> None:
        if self.records is not None:
            self.records.close()
        self.records = None
        self.work_finished = self.work_started

    def reset(self) -> None:
        self.finish_work()
        self.work, self.work_started, self.work_finished, self.produced = b"", 0, 0, 0
        self.position = 0


def _state(ctx, spec) -> _ReaderState:
    res = ctx.resources
    key = ("reader", spec[0])
    st = res.get(key)
    if st is None:
        st = res.setdefault(key, _ReaderState())
    return st


def _what(spec) -> str:
    return f"{spec[1]} '{spec[3]}'"


# ----- the records of one work unit --------------------------------------------------------------
def _open(path: str, ctx, spec):
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise errors.NotFoundError(None, ctx.op, f"{path}; No such file or directory "
                                   f"({_what(spec)})") from None
    except PermissionError:
        raise errors.PermissionDeniedError(None, ctx.op, f"{path}; Permission denied "
                                           f"({_what(spec)})") from None
    except OSError as e:
        raise errors.FailedPreconditionError(None, ctx.op, f"{path}; {e.strerror} "
                                             f"({_what(spec)})") from None


def _tfrecords(work: bytes, compression: str):
    offset = 0      # keys are byte offsets in the (uncompressed) record stream, as TF's
    for data in read_records(os.fsdecode(work), compression, "TFRecordReader"):
        yield work + b":%d" % offset, data, False
        offset += 16 + len(data)


def _whole_file(work: bytes, data: bytes):
    yield work, data, True


def _text_lines(work: bytes, f, skip_header_lines: int):
    with f:
        number = 0
        for line in f:
            number += 1
            if number <= skip_header_lines:
                continue
            ended = line.endswith(b"\n")
            line = line[:-1] if ended else line
            line = line[:-1] if line.endswith(b"\r") else line
            if line or ended:       # a last line that is only "\r" is no line, as in TF
                yield work + b":%d" % number, line, False


def _decompressed(f, encoding: str):
    with f:
        raw = f.read()
    try:
        data = gzip.decompress(raw) if encoding == "GZIP" else zlib.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise errors.DataLossError(None, None, f"FixedLengthRecordReader: cannot read "
                                   f"{f.name} as a {encoding} file: {e}") from None
    return io.BytesIO(data)


def _fixed_length(work: bytes, f, record_bytes, header_bytes, footer_bytes, hop_bytes,
                  encoding):
    if encoding:
        f = _decompressed(f, encoding)
    with f:
        size = f.seek(0, io.SEEK_END)
        hop = hop_bytes or record_bytes
        start, number = header_bytes, 0
        while start + record_bytes + footer_bytes <= size:
            f.seek(start)
            yield work + b":%d" % number, f.read(record_bytes), False
            start, number = start + hop, number + 1


def _identity(work: bytes):
    yield work, work, True


def _start(work: bytes, ctx, spec):
    kind, params = spec[1], spec[2]
    if kind == "IdentityReader":
        return _identity(work)
    f = _open(os.fsdecode(work), ctx, spec)
    if kind == "WholeFileReader":
        with f:
            return _whole_file(work, f.read())
    if kind == "TFRecordReader":
        f.close()       # opened here to report a missing file now; read_records reopens it
        return _tfrecords(work, *params)
    if kind == "TextLineReader":
        return _text_lines(work, f, *params)
    return _fixed_length(work, f, *params)


# ----- reading -------------------------------------------------------------------------------
def _next_work(ctx, spec, queue) -> bytes:
    element = _queues._dequeue(ctx, queue, None)
    value = element[0]
    if value.size != 1:
        raise errors.InvalidArgumentError(
            None, ctx.op, f"{_what(spec)}: expected to dequeue a one-element string tensor "
            f"(a file name) from queue '{queue[7]}', got shape {list(value.shape)}.")
    work = value.reshape(()).item()
    if isinstance(work, str):
        work = work.encode()
    if not isinstance(work, bytes):
        raise errors.InvalidArgumentError(
            None, ctx.op, f"{_what(spec)}: expected a string work unit (a file name) from "
            f"queue '{queue[7]}', got {type(work).__name__} {work!r}.")
    return work


def _read(ctx, spec, queue, n: int | None):
    """TF's ReaderBase::Read (``n`` None) and ReadUpTo: dequeues work as needed; a batch of
    ``read_up_to`` never runs past the end of a file that produced records."""
    st = _state(ctx, spec)
    keys, values = [], []
    with st.lock:
        while n is None or len(keys) < n:
            if not st.in_progress():
                st.work = _next_work(ctx, spec, queue)
                st.records = _start(st.work, ctx, spec)
                st.work_started += 1
                st.position = 0
            record = next(st.records, None)
            if record is None:
                st.finish_work()
                if keys:
                    break
                continue
            key, value, last = record
            keys.append(key)
            values.append(value)
            st.produced += 1
            st.position += 1
            if last:
                st.finish_work()
            if n is None or last:
                break
    return keys, values


def _strings(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _read_shape(node: NodeSpec):
    s = (TensorShape([]), _dt.string)
    return [s, s]


@op("ReaderReadV2", shape=_read_shape, stateful=True)
def _reader_read(xp, *, reader, queue, ctx):
    keys, values = _read(ctx, reader, queue, None)
    return np.array(keys[0], dtype=object), np.array(values[0], dtype=object)


def _read_up_to_shape(node: NodeSpec):
    if node.inputs[0].shape.rank not in (None, 0):
        node.fail(f"num_records must be a scalar, got shape {node.inputs[0].shape}")
    s = (TensorShape([None]), _dt.string)
    return [s, s]


@op("ReaderReadUpToV2", shape=_read_up_to_shape, stateful=True)
def _reader_read_up_to(xp, num_records, *, reader, queue, ctx):
    n = int(num_records)
    if n <= 0:
        raise errors.InvalidArgumentError(None, ctx.op, f"{_what(reader)}: num_records must be "
                                          f"positive, got {n}.")
    keys, values = _read(ctx, reader, queue, n)
    return _strings(keys), _strings(values)


@op("ReaderNumRecordsProducedV2", shape=lambda n: (TensorShape([]), _dt.int64), stateful=True)
def _reader_num_records_produced(xp, *, reader, ctx):
    st = _state(ctx, reader)
    with st.lock:
        return np.int64(st.produced)


@op("ReaderNumWorkUnitsCompletedV2", shape=lambda n: (TensorShape([]), _dt.int64),
    stateful=True)
def _reader_num_work_units_completed(xp, *, reader, ctx):
    st = _state(ctx, reader)
    with st.lock:
        return np.int64(st.work_finished)


@op("ReaderResetV2", shape=lambda n: [], stateful=True)
def _reader_reset(xp, *, reader, ctx):
    st = _state(ctx, reader)
    with st.lock:
        st.reset()


# A reader's state is TF's ReaderBaseState message (work_started = 1, work_finished = 2,
# num_records_produced = 3, current_work = 4) plus field 15: how many records of the current
# work were read, which restoring skips again (parsers of TF's message ignore the field).
_STATE_FIELDS = {1: "work_started", 2: "work_finished", 3: "produced", 15: "position"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _encode_state(st: _ReaderState) -> bytes:
    out = bytearray()
    for number, attr in _STATE_FIELDS.items():
        value = getattr(st, attr)
        if value and (attr != "position" or st.in_progress()):
            out += _varint(number << 3) + _varint(value)
    if st.work:
        out += _varint(4 << 3 | 2) + _varint(len(st.work)) + st.work
    return bytes(out)


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[i]
        n, i, shift = n | (byte & 0x7F) << shift, i + 1, shift + 7
        if not byte & 0x80:
            return n, i


def _decode_state(data: bytes) -> dict:
    fields = {"work_started": 0, "work_finished": 0, "produced": 0, "position": 0, "work": b""}
    i = 0
    while i < len(data):
        tag, i = _read_varint(data, i)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _read_varint(data, i)
            if number in _STATE_FIELDS:
                fields[_STATE_FIELDS[number]] = value
        elif wire == 2:
            size, i = _read_varint(data, i)
            if i + size > len(data):
                raise ValueError("truncated field")
            if number == 4:
                fields["work"] = data[i:i + size]
            i += size
        else:
            raise ValueError(f"unexpected wire type {wire} of field {number}")
    return fields


@op("ReaderSerializeStateV2", shape=lambda n: (TensorShape([]), _dt.string), stateful=True)
def _reader_serialize_state(xp, *, reader, ctx):
    st = _state(ctx, reader)
    with st.lock:
        return np.array(_encode_state(st), dtype=object)


def _restore_shape(node: NodeSpec):
    if node.inputs[0].dtype != _dt.string or node.inputs[0].shape.rank not in (None, 0):
        node.fail(f"state must be a string scalar, got {node.inputs[0].dtype.name} of shape "
                  f"{node.inputs[0].shape}", TypeError)
    return []


@op("ReaderRestoreStateV2", shape=_restore_shape, stateful=True)
def _reader_restore_state(xp, state, *, reader, ctx):
    data = np.asarray(state, dtype=object).item()
    try:
        fields = _decode_state(data.encode() if isinstance(data, str) else bytes(data))
    except (ValueError, TypeError) as e:
        raise errors.InvalidArgumentError(None, ctx.op, f"Could not parse state for "
                                          f"{_what(reader)}: {e}.") from None
    if fields["work_finished"] > fields["work_started"]:
        raise errors.InvalidArgumentError(
            None, ctx.op, f"Inconsistent work started vs. finished when restoring in "
            f"{_what(reader)}: {fields['work_started']} started, {fields['work_finished']} "
            "finished.")
    st = _state(ctx, reader)
    with st.lock:
        records = None
        if fields["work_finished"] < fields["work_started"]:
            records = _start(fields["work"], ctx, reader)     # back to where it was read
            for _ in range(fields["position"]):
                if next(records, None) is None:
                    break
        st.finish_work()
        st.records = records
        for name, value in fields.items():
            setattr(st, name, value)


_READER_OPS = ("ReaderReadV2", "ReaderReadUpToV2", "ReaderNumRecordsProducedV2",
               "ReaderNumWorkUnitsCompletedV2", "ReaderResetV2", "ReaderSerializeStateV2",
               "ReaderRestoreStateV2")
for _t in _READER_OPS:
    NotDifferentiable(_t)
del _t
register_host_only(*_READER_OPS)


# ----- the Python classes ----------------------------------------------------------------------
_ReadResult = collections.namedtuple("ReaderReadV2", ["key", "value"])
_ReadUpToResult = collections.namedtuple("ReaderReadUpToV2", ["keys", "values"])

class ReaderBase:
    """``tf.ReaderBase``: the methods all readers share (``read``, ``read_up_to``,
    ``num_records_produced``, ``num_work_units_completed``, ``reset``, ``serialize_state``,
    ``restore_state``). Build one of the concrete readers rather than this class."""

    _kind = ""

    def __init__(self, params: tuple = (), name=None) -> None:
        if not self._kind:
            raise TypeError("tf.ReaderBase is the base of the readers: build a "
                            "TFRecordReader, TextLineReader, WholeFileReader, "
                            "FixedLengthRecordReader or IdentityReader.")
        self._name = get_default_graph().unique_name(name or f"{self._kind}V2")
        self._spec = (f"{self._name}:{id(self)}", self._kind, tuple(params), self._name)

    @property
    def name(self) -> str:
        return self._name

    @property
    def supports_serialize(self) -> bool:
        """True: every reader can serialize and restore its state."""
        return True

    def _queue_spec(self, queue, what: str):
        if not isinstance(queue, _queues.QueueBase):
            raise TypeError(f"{self._kind}.{what}: queue must be a queue of file names (e.g. "
                            "tf.train.string_input_producer(...) or a tf.FIFOQueue of "
                            f"tf.string), got {type(queue).__name__}.")
        if [d.name for d in queue.dtypes] != ["string"]:
            raise TypeError(f"{self._kind}.{what}: queue '{queue.name}' must have a single "
                            f"tf.string component (the file names), but its components are "
                            f"{[d.name for d in queue.dtypes]}.")
        return queue._spec

    def read(self, queue, name=None):
        """The next record as a ``(key, value)`` named tuple of string scalars; dequeues the
        next work unit (file name) from ``queue`` when the current one is exhausted."""
        spec = self._queue_spec(queue, "read")
        key, value = _reader_read(reader=self._spec, queue=spec, name=name or "ReaderReadV2")
        return _ReadResult(key, value)

    def read_up_to(self, queue, num_records, name=None):
        """Up to ``num_records`` records as a ``(keys, values)`` named tuple of 1-D string
        tensors. A batch
        ends early at the end of a file (TF's ReaderBase); OutOfRangeError only when the
        queue is closed and empty before any record was read."""
        spec = self._queue_spec(queue, "read_up_to")
        with name_scope(name or "ReaderReadUpToV2"):
            n = convert_to_tensor(num_records, _dt.int64, name="num_records")
            keys, values = _reader_read_up_to(n, reader=self._spec, queue=spec,
                                              name="ReaderReadUpToV2")
        return _ReadUpToResult(keys, values)

    def num_records_produced(self, name=None):
        """The number of records this reader has produced (an int64 scalar)."""
        return _reader_num_records_produced(reader=self._spec,
                                            name=name or "ReaderNumRecordsProducedV2")

    def num_work_units_completed(self, name=None):
        """The number of work units (files) this reader has finished (an int64 scalar)."""
        return _reader_num_work_units_completed(reader=self._spec,
                                                name=name or "ReaderNumWorkUnitsCompletedV2")

    def reset(self, name=None):
        """An op that puts the reader back in its initial state (counters at zero, no
        current work)."""
        return _reader_reset(reader=self._spec, name=name or "ReaderResetV2")

    def serialize_state(self, name=None):
        """The reader's state as a string scalar (TF's ReaderBaseState message: counters,
        current work, and how far into it the reader is)."""
        return _reader_serialize_state(reader=self._spec,
                                       name=name or "ReaderSerializeStateV2")

    def restore_state(self, state, name=None):
        """An op that puts the reader back in a state from ``serialize_state`` (of this or
        another reader of the same kind); a file being read is reopened and read up to
        where the state was taken."""
        with name_scope(name or "ReaderRestoreStateV2"):
            state = convert_to_tensor(state, _dt.string, name="state")
            return _reader_restore_state(state, reader=self._spec,
                                         name="ReaderRestoreStateV2")


def _non_negative(value, what: str) -> int:
    value = 0 if value is None else int(value)
    if value < 0:
        raise ValueError(f"FixedLengthRecordReader: {what} must be >= 0, got {value}.")
    return value


class TFRecordReader(ReaderBase):
    """``tf.TFRecordReader(name=None, options=None)``: the records of TFRecord files; the
    key is ``b"<file name>:<byte offset of the record>"``. ``options`` is a
    ``TFRecordOptions`` or compression type (``''``, ``'ZLIB'``, ``'GZIP'``)."""

    _kind = "TFRecordReader"

    def __init__(self, name=None, options=None) -> None:
        super().__init__((_compression_name(options, "TFRecordReader"),), name)


class WholeFileReader(ReaderBase):
    """``tf.WholeFileReader(name=None)``: one record per file, the file name as key and the
    file's contents as value."""

    _kind = "WholeFileReader"

    def __init__(self, name=None) -> None:
        super().__init__((), name)


class TextLineReader(ReaderBase):
    """``tf.TextLineReader(skip_header_lines=None, name=None)``: the lines of text files
    without their line ending (``\\n`` or ``\\r\\n``); the key is
    ``b"<file name>:<line number>"``, counting from 1 (header lines included)."""

    _kind = "TextLineReader"

    def __init__(self, skip_header_lines=None, name=None) -> None:
        skip = 0 if skip_header_lines is None else int(skip_header_lines)
        if skip < 0:
            raise ValueError(f"TextLineReader: skip_header_lines must be >= 0, got {skip}.")
        super().__init__((skip,), name)


class FixedLengthRecordReader(ReaderBase):
    """``tf.FixedLengthRecordReader(record_bytes, header_bytes=None, footer_bytes=None,
    hop_bytes=None, name=None, encoding=None)``: records of ``record_bytes`` bytes after a
    ``header_bytes`` header and before a ``footer_bytes`` footer, starting every
    ``hop_bytes`` bytes (default: back to back); an incomplete last record is dropped. The
    key is ``b"<file name>:<record number>"``, counting from 0. ``encoding`` ``'ZLIB'`` or
    ``'GZIP'`` reads compressed files."""

    _kind = "FixedLengthRecordReader"

    def __init__(self, record_bytes, header_bytes=None, footer_bytes=None, hop_bytes=None,
                 name=None, encoding=None) -> None:
        record_bytes = int(record_bytes)
        if record_bytes <= 0:
            raise ValueError(f"FixedLengthRecordReader: record_bytes must be positive, got "
                             f"{record_bytes}.")
        enc = "" if encoding is None else os.fsdecode(encoding).upper()
        if enc not in ("", "ZLIB", "GZIP"):
            raise ValueError(f"FixedLengthRecordReader: encoding must be None, '', 'ZLIB' or "
                             f"'GZIP', got {encoding!r}.")
        super().__init__((record_bytes, _non_negative(header_bytes, "header_bytes"),
                          _non_negative(footer_bytes, "footer_bytes"),
                          _non_negative(hop_bytes, "hop_bytes"), enc), name)


class IdentityReader(ReaderBase):
    """``tf.IdentityReader(name=None)``: each work unit itself, as both key and value."""

    _kind = "IdentityReader"

    def __init__(self, name=None) -> None:
        super().__init__((), name)
