"""``tf.train.Coordinator``, ``tf.train.QueueRunner``, ``add_queue_runner`` and
``start_queue_runners``: threads that run a queue's enqueue ops in the background while
the main thread runs the same session."""

from __future__ import annotations

import threading

from flowgrad.framework import errors
from flowgrad.framework.graph import GraphKeys, get_default_graph
from flowgrad.runtime.session import get_default_session
from flowgrad.train.stop_coordinator import StopCoordinator


class Coordinator(StopCoordinator):
    """``tf.train.Coordinator``: a stop flag for a group of threads, which carries the first
    exception one of them reports (``request_stop(ex)``, ``should_stop()``,
    ``stop_on_exception()``, ``join(threads, stop_grace_period_secs)``, which re-raises it,
    ``raise_requested_exception()``, ``clear_stop()``). ``clean_stop_exception_types``
    (default: OutOfRangeError) stop the threads without being errors."""


class QueueRunner:
    """``tf.train.QueueRunner``: runs ``enqueue_ops`` (one thread each) until the queue is
    closed or the coordinator stops; closes the queue when the last of them ends, and
    cancels pending enqueues when the coordinator asks to stop."""

    def __init__(self, queue=None, enqueue_ops=None, close_op=None, cancel_op=None,
                 queue_closed_exception_types=None, queue_runner_def=None,
                 import_scope=None) -> None:
        if queue_runner_def is not None:
            raise ValueError("QueueRunner: queue_runner_def (a serialized runner) is not "
                             "supported; build the runner from its queue and enqueue ops.")
        if queue is None or not enqueue_ops:
            raise ValueError("QueueRunner needs a queue and a non-empty list of enqueue ops.")
        self._queue = queue
        self._enqueue_ops = list(enqueue_ops)
        self._close_op = close_op if close_op is not None else queue.close()
        self._cancel_op = cancel_op if cancel_op is not None else \
            queue.close(cancel_pending_enqueues=True)
        self._queue_closed_exception_types = tuple(
            queue_closed_exception_types or (errors.OutOfRangeError, errors.CancelledError))
        self._lock = threading.Lock()
        self._runs_per_session: dict = {}
        self._exceptions_raised: list = []

    @property
    def queue(self):
        return self._queue

    @property
    def enqueue_ops(self) -> list:
        return self._enqueue_ops

    @property
    def close_op(self):
        return self._close_op

    @property
    def cancel_op(self):
        return self._cancel_op

    @property
    def queue_closed_exception_types(self) -> tuple:
        return self._queue_closed_exception_types

    @property
    def exceptions_raised(self) -> list:
        """Exceptions of the threads started without a coordinator."""
        return list(self._exceptions_raised)

    @property
    def name(self) -> str:
        return self._queue.name

    def _run(self, sess, enqueue_op, coord) -> None:
        decremented = False
        try:
            while not (coord is not None and coord.should_stop()):
                try:
                    sess.run(enqueue_op)
                except self._queue_closed_exception_types:
                    with self._lock:
                        self._runs_per_session[sess] -= 1
                        decremented = True
                        last = self._runs_per_session[sess] == 0
                    if last:
                        try:
                            sess.run(self._close_op)
                        except Exception:  # noqa: BLE001 - the queue may be gone already
                            pass
                    return
        except Exception as e:  # noqa: BLE001 - reported to the coordinator
            if coord is not None:
                coord.request_stop(e)
            else:
                with self._lock:
                    self._exceptions_raised.append(e)
                raise
        finally:
            if not decremented:
                with self._lock:
                    self._runs_per_session[sess] -= 1

    def _close_on_stop(self, sess, coord) -> None:
        coord.wait_for_stop()
        try:
            sess.run(self._cancel_op)
        except Exception:  # noqa: BLE001 - the session may be closed already
            pass

    def create_threads(self, sess, coord=None, daemon: bool = False,
                       start: bool = False) -> list:
        """The runner's threads for ``sess`` (none if they already run there)."""
        with self._lock:
            if self._runs_per_session.get(sess, 0) > 0:
                return []
            self._runs_per_session[sess] = len(self._enqueue_ops)
            self._exceptions_raised = []
        threads = [threading.Thread(target=self._run, args=(sess, op, coord),
                                    name=f"QueueRunnerThread-{self.name}-{op.name}")
                   for op in self._enqueue_ops]
        if coord is not None:
            threads.append(threading.Thread(target=self._close_on_stop, args=(sess, coord),
                                            name=f"QueueRunnerThread-{self.name}-close_on_stop"))
        for t in threads:
            if coord is not None:
                coord.register_thread(t)
            t.daemon = daemon
            if start:
                t.start()
        return threads


def add_queue_runner(qr: QueueRunner, collection: str = GraphKeys.QUEUE_RUNNERS) -> None:
    """Adds ``qr`` to the graph's queue runners (what ``start_queue_runners`` starts)."""
    get_default_graph().add_to_collection(collection, qr)


def start_queue_runners(sess=None, coord=None, daemon: bool = True, start: bool = True,
                        collection: str = GraphKeys.QUEUE_RUNNERS) -> list:
    """Starts the threads of the graph's queue runners for ``sess``; returns them."""
    if sess is None:
        sess = get_default_session()
        if sess is None:
            raise ValueError("Cannot start queue runners: no default session is registered. "
                             "Use `with sess.as_default()` or pass an explicit session to "
                             "tf.train.start_queue_runners(sess=sess)")
    raw = getattr(sess, "_tf_sess", None)
    if raw is not None and callable(raw):      # a monitored session: its inner session
        sess = raw()
    threads = []
    for qr in sess.graph.get_collection(collection):
        threads.extend(qr.create_threads(sess, coord=coord, daemon=daemon, start=start))
    return threads
