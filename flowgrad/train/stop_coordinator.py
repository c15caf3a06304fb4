"""The coordinator of a monitored session: a stop flag shared by the session, its hooks and
the threads they start, which carries the first error a thread reports (TF1's
``tf.train.Coordinator`` protocol). Monitored sessions use ``tf.train.Coordinator`` (this
class under its TF1 name) and start the graph's queue runners under it.
"""

from __future__ import annotations

import contextlib
import threading
import time

from flowgrad.framework import errors
from flowgrad.framework.graph import GraphKeys, get_default_graph


class StopCoordinator:
    """The stop flag shared by a monitored session, its hooks and any threads they start
    (TF1's ``tf.train.Coordinator`` protocol: ``request_stop(ex)``, ``should_stop()``,
    ``join(...)``, ``raise_requested_exception()``)."""

    def __init__(self, clean_stop_exception_types=None) -> None:
        # exceptions that stop the threads without being an error (TF1's default is
        # OutOfRangeError; a monitored session passes none, so every error surfaces)
        self._clean_stop_types = tuple((errors.OutOfRangeError,)
                                       if clean_stop_exception_types is None
                                       else clean_stop_exception_types)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._exc_info = None
        self._registered: set = set()
        self._joined = False

    def request_stop(self, ex=None) -> None:
        with self._lock:
            if ex is not None and self._exc_info is None:
                info = ex if isinstance(ex, tuple) else (type(ex), ex, ex.__traceback__)
                if not issubclass(info[0], self._clean_stop_types):
                    self._exc_info = info
            self._stop_event.set()

    def should_stop(self) -> bool:
        return self._stop_event.is_set()

    def clear_stop(self) -> None:
        with self._lock:
            self._joined = False
            self._exc_info = None
            self._stop_event.clear()

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        return self._stop_event.wait(timeout)

    @contextlib.contextmanager
    def stop_on_exception(self):
        """Reports an exception of the ``with`` body to the coordinator (for threads)."""
        try:
            yield
        except Exception as e:  # noqa: BLE001 - handed to whoever joins
            self.request_stop(e)

    def register_thread(self, thread) -> None:
        with self._lock:
            self._registered.add(thread)

    def raise_requested_exception(self) -> None:
        with self._lock:
            if self._exc_info is not None:
                _, value, tb = self._exc_info
                raise value.with_traceback(tb)

    @property
    def joined(self) -> bool:
        return self._joined

    def join(self, threads=None, stop_grace_period_secs: float = 120,
             ignore_live_threads: bool = False) -> None:
        """Waits for the threads (and the registered ones) after a stop request."""
        threads = set(threads or ()) | self._registered
        self._stop_event.wait()
        deadline = time.time() + stop_grace_period_secs
        for t in threads:
            t.join(max(0.0, deadline - time.time()))
        self._joined = True
        alive = [t.name for t in threads if t.is_alive()]
        with self._lock:
            if self._exc_info is not None:
                _, value, tb = self._exc_info
                raise value.with_traceback(tb)
        if alive and not ignore_live_threads:
            raise RuntimeError(f"Coordinator stopped with threads still running: "
                               f"{' '.join(alive)}")


def new_coordinator():
    from flowgrad.train.queue_runner import Coordinator  # noqa: PLC0415 - imports this module
    return Coordinator(clean_stop_exception_types=[])


def start_graph_queue_runners(sess, coord) -> None:
    """Starts the graph's queue runners (if it has any) under ``coord``."""
    if not get_default_graph().get_collection(GraphKeys.QUEUE_RUNNERS):
        return
    from flowgrad.train.queue_runner import start_queue_runners  # noqa: PLC0415
    start_queue_runners(sess=sess, coord=coord)
