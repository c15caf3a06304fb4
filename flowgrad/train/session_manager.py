"""``tf.train.SessionManager``: creates a session whose model is ready to use, by restoring
the latest checkpoint or running the init ops, then the local init op, then checking the
ready op (an empty list of uninitialized variable names means ready)."""

from __future__ import annotations

import time

import numpy as np

from flowgrad.framework import errors
from flowgrad.framework.graph import get_default_graph
from flowgrad.platform import tf_logging as logging
from flowgrad.runtime.session import Session
from flowgrad.train.saver import get_checkpoint_state


def _name(op) -> str:
    return getattr(op, "name", None) or str(op)


class SessionManager:
    """Prepares sessions for the chief (``prepare_session``: restore or initialize) and for
    workers (``wait_for_session``: wait until the model is ready)."""

    def __init__(self, local_init_op=None, ready_op=None, ready_for_local_init_op=None,
                 graph=None, recovery_wait_secs: float = 30, local_init_run_options=None,
                 local_init_feed_dict=None) -> None:
        if ready_for_local_init_op is not None and local_init_op is None:
            raise ValueError("If you pass a ready_for_local_init_op you must also pass a "
                             f"local_init_op, ready_for_local_init_op [{ready_for_local_init_op}]")
        self._local_init_op = local_init_op
        self._ready_op = ready_op
        self._ready_for_local_init_op = ready_for_local_init_op
        self._graph = graph if graph is not None else get_default_graph()
        self._recovery_wait_secs = recovery_wait_secs
        self._local_init_run_options = local_init_run_options
        self._local_init_feed_dict = local_init_feed_dict

    # --- chief --------------------------------------------------------------------------
    def prepare_session(self, master: str = "", init_op=None, saver=None,
                        checkpoint_dir: str | None = None,
                        checkpoint_filename_with_path: str | None = None,
                        wait_for_checkpoint: bool = False, max_wait_secs: float = 7200,
                        config=None, init_feed_dict=None, init_fn=None):
        """A session with the model restored from a checkpoint (the one named, or the
        latest in ``checkpoint_dir``) or, without one, initialized by ``init_op`` (fed
        ``init_feed_dict``) and ``init_fn(sess)``; then ``local_init_op`` runs.

        Raises RuntimeError if the model is still not ready."""
        sess, restored = self._restore_checkpoint(
            master, saver, checkpoint_dir=checkpoint_dir,
            checkpoint_filename_with_path=checkpoint_filename_with_path,
            wait_for_checkpoint=wait_for_checkpoint, max_wait_secs=max_wait_secs,
            config=config)
        if not restored:
            if init_op is None and not init_fn and self._local_init_op is None:
                sess.close()
                raise RuntimeError("Model is not initialized and no init_op or init_fn or "
                                   "local_init_op was given")
            if init_op is not None:
                sess.run(init_op, feed_dict=init_feed_dict)
            if init_fn:
                init_fn(sess)
        ok, msg = self._try_run_local_init_op(sess)
        if not ok:
            sess.close()
            raise RuntimeError(f"Init operations did not make model ready for local_init.  "
                               f"Init op: {_name(init_op)}, init fn: {init_fn}, error: {msg}")
        ready, msg = self._model_ready(sess)
        if not ready:
            sess.close()
            raise RuntimeError(f"Init operations did not make model ready.  Init op: "
                               f"{_name(init_op)}, init fn: {init_fn}, local_init_op: "
                               f"{_name(self._local_init_op)}, error: {msg}")
        return sess

    def recover_session(self, master: str = "", saver=None, checkpoint_dir=None,
                        checkpoint_filename_with_path=None, wait_for_checkpoint=False,
                        max_wait_secs: float = 7200, config=None):
        """``(sess, initialized)``: a session restored from a checkpoint if there is one."""
        sess, restored = self._restore_checkpoint(
            master, saver, checkpoint_dir=checkpoint_dir,
            checkpoint_filename_with_path=checkpoint_filename_with_path,
            wait_for_checkpoint=wait_for_checkpoint, max_wait_secs=max_wait_secs,
            config=config)
        ok, msg = self._try_run_local_init_op(sess)
        if not restored:
            return sess, False
        if not ok:
            logging.info("Restoring model from %s did not make model ready for local init: %s",
                         checkpoint_dir or checkpoint_filename_with_path, msg)
            return sess, False
        ready, msg = self._model_ready(sess)
        if not ready:
            logging.info("Restoring model from %s did not make model ready: %s",
                         checkpoint_dir or checkpoint_filename_with_path, msg)
            return sess, False
        logging.info("Restored model from %s", checkpoint_dir or checkpoint_filename_with_path)
        return sess, True

    # --- workers ------------------------------------------------------------------------
    def wait_for_session(self, master: str = "", config=None,
                         max_wait_secs: float = float("inf")):
        """A session once the model is ready (another process initializes it); raises
        ``DeadlineExceededError`` after ``max_wait_secs``."""
        deadline = time.time() + max_wait_secs
        while True:
            sess = Session(master, graph=self._graph, config=config)
            ok, msg = self._try_run_local_init_op(sess)
            if ok:
                ready, msg = self._model_ready(sess)
                if ready:
                    return sess
            sess.close()
            remaining = deadline - time.time()
            if remaining < self._recovery_wait_secs:
                raise errors.DeadlineExceededError(
                    None, None, f"Session was not ready after waiting {max_wait_secs} secs: "
                    f"{msg}")
            logging.info("Waiting for model to be ready.  Ready_for_local_init_op:  %s, "
                         "ready: %s", _name(self._ready_for_local_init_op), msg)
            time.sleep(self._recovery_wait_secs)

    # --- helpers ------------------------------------------------------------------------
    def _restore_checkpoint(self, master, saver, checkpoint_dir=None,
                            checkpoint_filename_with_path=None, wait_for_checkpoint=False,
                            max_wait_secs=7200, config=None):
        if checkpoint_dir and checkpoint_filename_with_path:
            raise ValueError("Can not provide both checkpoint_dir and "
                             "checkpoint_filename_with_path.")
        sess = Session(master, graph=self._graph, config=config)
        if checkpoint_filename_with_path:
            saver.restore(sess, checkpoint_filename_with_path)
            return sess, True
        if not saver or not checkpoint_dir:
            return sess, False
        state = get_checkpoint_state(checkpoint_dir)
        waited = 0.0
        while not state or not state.model_checkpoint_path:
            if not wait_for_checkpoint or waited >= max_wait_secs:
                return sess, False
            logging.info("Waiting for checkpoint to be available.")
            time.sleep(self._recovery_wait_secs)
            waited += self._recovery_wait_secs
            state = get_checkpoint_state(checkpoint_dir)
        saver.restore(sess, state.model_checkpoint_path)
        saver.recover_last_checkpoints(state.all_model_checkpoint_paths)
        return sess, True

    def _try_run_local_init_op(self, sess) -> tuple[bool, str | None]:
        if self._local_init_op is None:
            return True, None
        ready, msg = _ready(self._ready_for_local_init_op, sess, "Model not ready for local "
                            "init")
        if not ready:
            return False, msg
        logging.info("Running local_init_op.")
        sess.run(self._local_init_op, feed_dict=self._local_init_feed_dict,
                 options=self._local_init_run_options)
        logging.info("Done running local_init_op.")
        return True, None

    def _model_ready(self, sess) -> tuple[bool, str | None]:
        return _ready(self._ready_op, sess, "Model not ready")


def _ready(op, sess, what: str) -> tuple[bool, str | None]:
    """Runs a ready op: ``(True, None)`` if it reports no uninitialized variable."""
    if op is None:
        return True, None
    try:
        names = np.asarray(sess.run(op)).reshape(-1)
    except errors.FailedPreconditionError as e:
        return False, f"{what}: {e}"
    if names.size == 0:
        return True, None
    listed = ", ".join(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return False, f"Variables not initialized: {listed}"
