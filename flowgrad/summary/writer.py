"""``tf.summary.FileWriter``: appends events (summaries, the graph, run metadata) to an
event file in ``logdir`` that TensorBoard reads.

Records are written with tensorboardX's ``EventsWriter`` (TFRecord framing with CRCs, the
``brain.Event:2`` header) synchronously, so ``flush()`` means the data is on disk.
"""

from __future__ import annotations

import os
import time

import numpy as np


def _event_pb2():
    try:
        from tensorboardX.proto import event_pb2  # noqa: PLC0415
    except ImportError:
        raise ImportError("FileWriter needs tensorboardX: pip install "
                          "'flowgrad[tensorboard]'") from None
    return event_pb2


class FileWriter:
    """``tf.summary.FileWriter(logdir, graph=None, max_queue=10, flush_secs=120, ...)``."""

    def __init__(self, logdir: str, graph=None, max_queue: int = 10, flush_secs: float = 120,
                 graph_def=None, filename_suffix: str | None = None, session=None) -> None:
        from tensorboardX.event_file_writer import EventsWriter  # noqa: PLC0415
        _event_pb2()
        self._logdir = str(logdir)
        os.makedirs(self._logdir, exist_ok=True)
        suffix = f".{os.getpid()}.{time.monotonic_ns() % 10**9}{filename_suffix or ''}"
        self._writer = EventsWriter(os.path.join(self._logdir, "events"), suffix)
        self._flush_secs = flush_secs
        self._last_flush = time.monotonic()
        self._closed = False
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    # --- events -------------------------------------------------------------------------
    def get_logdir(self) -> str:
        return self._logdir

    def add_event(self, event) -> None:
        if self._closed:
            raise RuntimeError("FileWriter is closed; use reopen() to write more events.")
        if not event.wall_time:
            event.wall_time = time.time()
        self._writer.write_event(event)
        if time.monotonic() - self._last_flush >= self._flush_secs:
            self.flush()

    def add_summary(self, summary, global_step: int | None = None) -> None:
        """Adds a serialized ``Summary`` (what a summary op returns) or a Summary proto."""
        ev = _event_pb2().Event()
        if isinstance(summary, np.ndarray):
            summary = summary.reshape(())[()]
        if isinstance(summary, bytes):
            ev.summary.ParseFromString(summary)
        elif hasattr(summary, "SerializeToString"):
            ev.summary.ParseFromString(summary.SerializeToString())
        else:
            raise TypeError(f"add_summary expects the bytes a summary op returns (or a "
                            f"Summary protocol buffer), got {type(summary).__name__}")
        if global_step is not None:
            ev.step = int(global_step)
        self.add_event(ev)

    def add_graph(self, graph, global_step: int | None = None, graph_def=None) -> None:
        """Writes ``graph`` as a GraphDef event (TensorBoard's Graphs tab)."""
        from flowgrad.summary.graph_def import graph_def as _graph_def  # noqa: PLC0415
        from flowgrad.train.graph_def import GraphDef, to_graph  # noqa: PLC0415
        if isinstance(graph, GraphDef) or isinstance(graph_def, GraphDef):
            # a flowgrad GraphDef (sess.graph_def): rebuilt, then written as TensorBoard's
            graph, graph_def = to_graph(graph if isinstance(graph, GraphDef) else graph_def), None
        if graph_def is None:
            if graph is None:
                raise ValueError("add_graph needs a graph or a graph_def")
            graph_def = _graph_def(graph)
        data = graph_def if isinstance(graph_def, bytes) else graph_def.SerializeToString()
        ev = _event_pb2().Event(graph_def=data)
        if global_step is not None:
            ev.step = int(global_step)
        self.add_event(ev)

    def add_run_metadata(self, run_metadata, tag: str, global_step: int | None = None) -> None:
        """Writes a run's metadata (per-op timings when traced) under ``tag``."""
        event_pb2 = _event_pb2()
        if hasattr(run_metadata, "SerializeToString"):
            data = run_metadata.SerializeToString()
        else:
            data = encode_run_metadata(run_metadata)
        ev = event_pb2.Event(tagged_run_metadata=event_pb2.TaggedRunMetadata(
            tag=tag, run_metadata=data))
        if global_step is not None:
            ev.step = int(global_step)
        self.add_event(ev)

    def add_session_log(self, session_log, global_step: int | None = None) -> None:
        ev = _event_pb2().Event(session_log=session_log)
        if global_step is not None:
            ev.step = int(global_step)
        self.add_event(ev)

    # --- lifecycle ----------------------------------------------------------------------
    def flush(self) -> None:
        if not self._closed:
            self._writer.flush()
            self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._closed:
            self._writer.close()
            self._closed = True

    def reopen(self) -> None:
        if self._closed:
            from tensorboardX.event_file_writer import EventsWriter  # noqa: PLC0415
            suffix = f".{os.getpid()}.{time.monotonic_ns() % 10**9}"
            self._writer = EventsWriter(os.path.join(self._logdir, "events"), suffix)
            self._closed = False

    def __enter__(self) -> "FileWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- RunMetadata without TensorFlow's protos: protobuf wire format by hand ------------
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, value) -> bytes:
    if isinstance(value, bytes | str):
        data = value.encode() if isinstance(value, str) else value
        return _varint(num << 3 | 2) + _varint(len(data)) + data
    return _varint(num << 3) + _varint(int(value))


def _get(obj, name: str, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def encode_run_metadata(run_metadata) -> bytes:
    """TensorFlow's ``RunMetadata{step_stats{dev_stats{device, node_stats[]}}}`` bytes from
    flowgrad's ``RunMetadata`` (objects or dicts with TF's field names)."""
    step_stats = _get(run_metadata, "step_stats")
    if step_stats is None:
        return b""
    devs = b""
    for dev in _get(step_stats, "dev_stats", []) or []:
        body = _field(1, str(_get(dev, "device", "/device:CPU:0")))
        for ns in _get(dev, "node_stats", []) or []:
            node = _field(1, str(_get(ns, "node_name", "")))
            for num, key in ((2, "all_start_micros"), (3, "op_start_rel_micros"),
                             (4, "op_end_rel_micros"), (5, "all_end_rel_micros")):
                v = _get(ns, key)
                if v is not None:
                    node += _field(num, int(v))
            label = _get(ns, "timeline_label")
            if label:
                node += _field(8, str(label))
            body += _field(2, node)
        devs += _field(1, body)
    return _field(1, devs)
