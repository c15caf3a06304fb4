"""``tf.summary.FileWriterCache``: one ``FileWriter`` per log directory, shared by the hooks
of monitored sessions (``SummarySaverHook``, ``StepCounterHook``, ``CheckpointSaverHook``
write to the same event file when they share a directory)."""

from __future__ import annotations

import os
import threading

from flowgrad.framework.graph import get_default_graph
from flowgrad.summary.writer import FileWriter


class FileWriterCache:
    """A process-wide cache of ``FileWriter`` objects keyed by log directory."""

    _cache: dict[str, FileWriter] = {}
    _lock = threading.RLock()

    @staticmethod
    def get(logdir: str) -> FileWriter:
        """The writer of ``logdir``; a new one (with the default graph) on first use."""
        key = os.path.normpath(os.path.abspath(str(logdir)))
        with FileWriterCache._lock:
            writer = FileWriterCache._cache.get(key)
            if writer is None:
                writer = FileWriter(logdir, graph=get_default_graph())
                FileWriterCache._cache[key] = writer
            writer.reopen()        # a writer someone closed writes again (a new file)
            return writer

    @staticmethod
    def clear() -> None:
        """Closes and forgets every cached writer."""
        with FileWriterCache._lock:
            for writer in FileWriterCache._cache.values():
                writer.close()
            FileWriterCache._cache.clear()
