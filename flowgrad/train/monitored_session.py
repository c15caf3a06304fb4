"""Monitored sessions: TF1's training loop with initialization, checkpoints and hooks.

    with tf.train.MonitoredTrainingSession(checkpoint_dir=ckpt_dir,
                                           hooks=[tf.train.StopAtStepHook(last_step=1000)]
                                           ) as sess:
        while not sess.should_stop():
            sess.run(train_op)

Creating a ``MonitoredSession`` calls every hook's ``begin()``, finalizes the graph with
``Scaffold.finalize()`` (default init / ready / local-init ops, a ``Saver``, the merged
summaries), creates a session that is restored from the latest checkpoint or initialized,
and calls the hooks' ``after_create_session``. Each ``run()`` merges the hooks' requests
into one ``Session.run``; ``close()`` calls their ``end()``. As in TF1 the layers are
wrappers: ``_HookedSession`` (hooks), ``_CoordinatedSession`` (the coordinator's stop and
errors), ``_RecoverableSession`` (a new session after ``AbortedError`` /
``UnavailableError``).
"""

from __future__ import annotations

import abc
import inspect
import sys

from flowgrad.framework import errors
from flowgrad.framework.graph import get_default_graph
from flowgrad.platform import tf_logging as logging
from flowgrad.runtime.session import RunMetadata, RunOptions
from flowgrad.train import basic_session_run_hooks as hooks_lib
from flowgrad.train.scaffold import Scaffold
from flowgrad.train.session_manager import SessionManager
from flowgrad.train.session_run_hook import SessionRunArgs, SessionRunContext, SessionRunValues
from flowgrad.train.stop_coordinator import new_coordinator, start_graph_queue_runners

# errors after which a MonitoredSession recreates its session instead of failing
_PREEMPTION_ERRORS = (errors.AbortedError, errors.UnavailableError)


class _UseDefault:
    def __repr__(self) -> str:
        return "USE_DEFAULT"


USE_DEFAULT = _UseDefault()


# ----- session creators --------------------------------------------------------------------
class SessionCreator(abc.ABC):
    """A factory of ``tf.Session`` objects."""

    @abc.abstractmethod
    def create_session(self):
        """A new, ready-to-use session."""


class ChiefSessionCreator(SessionCreator):
    """Creates a session for the chief: finalizes the scaffold, then restores the latest
    checkpoint of ``checkpoint_dir`` (or ``checkpoint_filename_with_path``) or initializes
    the variables."""

    def __init__(self, scaffold: Scaffold | None = None, master: str = "", config=None,
                 checkpoint_dir: str | None = None,
                 checkpoint_filename_with_path: str | None = None) -> None:
        self._checkpoint_dir = checkpoint_dir
        self._checkpoint_filename_with_path = checkpoint_filename_with_path
        self._scaffold = scaffold or Scaffold()
        self._session_manager = None
        self._master = master
        self._config = config

    def _get_session_manager(self) -> SessionManager:
        if self._session_manager is None:
            self._session_manager = SessionManager(
                local_init_op=self._scaffold.local_init_op, ready_op=self._scaffold.ready_op,
                ready_for_local_init_op=self._scaffold.ready_for_local_init_op,
                graph=get_default_graph())
        return self._session_manager

    def create_session(self):
        self._scaffold.finalize()
        return self._get_session_manager().prepare_session(
            self._master, saver=self._scaffold.saver, checkpoint_dir=self._checkpoint_dir,
            checkpoint_filename_with_path=self._checkpoint_filename_with_path,
            config=self._config, init_op=self._scaffold.init_op,
            init_feed_dict=self._scaffold.init_feed_dict, init_fn=self._scaffold.init_fn)


class WorkerSessionCreator(ChiefSessionCreator):
    """Creates a session for a worker. flowgrad runs one process, with no chief to wait
    for, so a worker initializes the model itself, exactly like the chief (without a
    checkpoint directory); ``max_wait_secs`` is accepted for TF1 compatibility."""

    def __init__(self, scaffold: Scaffold | None = None, master: str = "", config=None,
                 max_wait_secs: float = 30 * 60) -> None:
        super().__init__(scaffold=scaffold, master=master, config=config)
        self._max_wait_secs = max_wait_secs


# ----- monitored sessions ------------------------------------------------------------------
class _MonitoredSession:
    """What ``MonitoredSession`` and ``SingularMonitoredSession`` share."""

    def __init__(self, session_creator, hooks, should_recover: bool,
                 stop_grace_period_secs: float = 120) -> None:
        self._graph_was_finalized = get_default_graph().finalized
        self._stop_requested_in_step_fn = False
        self._hooks = list(hooks or [])
        for h in self._hooks:
            h.begin()
        self._coordinated_creator = _CoordinatedSessionCreator(
            session_creator or ChiefSessionCreator(), self._hooks, stop_grace_period_secs)
        try:
            if should_recover:
                self._sess = _RecoverableSession(self._coordinated_creator)
            else:
                self._sess = self._coordinated_creator.create_session()
        except BaseException:
            # no session: leave the graph as it was, so the mistake can be fixed
            if not self._graph_was_finalized:
                get_default_graph()._unsafe_unfinalize()
            raise

    @property
    def graph(self):
        """The graph of the session (None once closed)."""
        sess = self._tf_sess()
        return None if sess is None else sess.graph

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """``Session.run`` with the hooks' ``before_run`` / ``after_run`` around it."""
        self._check_open("run")
        return self._sess.run(fetches, feed_dict=feed_dict, options=options,
                              run_metadata=run_metadata)

    def run_step_fn(self, step_fn):
        """Calls ``step_fn(step_context)``: ``step_context.session`` is the raw session,
        ``step_context.run_with_hooks(...)`` is ``run``, and
        ``step_context.request_stop()`` ends the loop (``should_stop()`` turns true).
        Returns what ``step_fn`` returns."""
        self._check_open("run_step_fn")
        names = tuple(inspect.signature(step_fn).parameters)
        if inspect.ismethod(step_fn):
            names = ("self",) + names
        if names not in (("step_context",), ("self", "step_context")):
            raise ValueError("`step_fn` may either have one `step_context` argument, or "
                             "`self` and `step_context` arguments if it's an instance "
                             f"method. Got {names} instead.")
        try:
            return self._sess.run_step_fn(step_fn, self._tf_sess(), run_with_hooks=None)
        except StopIteration:
            # as in TF1 it propagates (a ``with`` block ends cleanly on it); a loop that
            # catches it sees should_stop() turn true
            self._stop_requested_in_step_fn = True
            raise

    class StepContext:
        """What ``run_step_fn`` passes to ``step_fn``."""

        def __init__(self, session, run_with_hooks_fn) -> None:
            self._session = session
            self._run_with_hooks_fn = run_with_hooks_fn

        @property
        def session(self):
            return self._session

        def run_with_hooks(self, *args, **kwargs):
            """Same as ``MonitoredSession.run``."""
            return self._run_with_hooks_fn(*args, **kwargs)

        def request_stop(self):
            """Leaves ``step_fn`` (by raising StopIteration) and makes ``should_stop()``
            true."""
            raise StopIteration("step_fn has requested the iterations to stop.")

    def should_stop(self) -> bool:
        if self._stop_requested_in_step_fn:
            return True
        return self._sess is None or self._sess.should_stop()

    def close(self) -> None:
        """Calls the hooks' ``end()`` and closes the session."""
        self._close_internal()

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception_value, traceback) -> bool:
        # the end of the input (a dataset iterator, or step_fn's request_stop) is a clean stop
        if exception_type is not None and issubclass(exception_type,
                                                     (errors.OutOfRangeError, StopIteration)):
            exception_type = None
        if self._sess is not None:
            self._close_internal(exception_type)
        return exception_type is None

    def _check_open(self, what: str) -> None:
        if self._sess is None:
            raise RuntimeError(f"Attempted to use a closed {type(self).__name__} ({what}); "
                               "create a new one to run more steps.")

    def _close_internal(self, exception_type=None) -> None:
        if self._sess is None:
            raise RuntimeError(f"{type(self).__name__} is already closed.")
        try:
            if not exception_type:
                for h in self._hooks:
                    h.end(self._coordinated_creator.tf_sess)
        finally:
            try:
                self._sess.close()
            finally:
                self._sess = None
                self._coordinated_creator.tf_sess = None
                self._coordinated_creator.coord = None
                if not self._graph_was_finalized:
                    get_default_graph()._unsafe_unfinalize()

    def _is_closed(self) -> bool:
        return self._coordinated_creator.tf_sess is None

    def _tf_sess(self):
        return self._coordinated_creator.tf_sess


class MonitoredSession(_MonitoredSession):
    """A session-like object that initializes or restores the model, runs hooks around
    every ``run()``, and recovers from ``AbortedError`` / ``UnavailableError`` by creating
    a new session.

    Used as a context manager, an ``OutOfRangeError`` (an exhausted input pipeline) or a
    ``StopIteration`` leaving the block closes the session cleanly (hooks' ``end()`` run)
    and is not propagated.
    """

    def __init__(self, session_creator: SessionCreator | None = None, hooks=None,
                 stop_grace_period_secs: float = 120) -> None:
        super().__init__(session_creator, hooks, should_recover=True,
                         stop_grace_period_secs=stop_grace_period_secs)


class SingularMonitoredSession(_MonitoredSession):
    """A ``MonitoredSession`` for one process that always acts as chief, does not recover
    from errors, and gives access to the raw session (``raw_session()``)."""

    def __init__(self, hooks=None, scaffold: Scaffold | None = None, master: str = "",
                 config=None, checkpoint_dir: str | None = None,
                 stop_grace_period_secs: float = 120,
                 checkpoint_filename_with_path: str | None = None) -> None:
        creator = ChiefSessionCreator(scaffold=scaffold, master=master, config=config,
                                      checkpoint_dir=checkpoint_dir,
                                      checkpoint_filename_with_path=checkpoint_filename_with_path)
        super().__init__(creator, hooks, should_recover=False,
                         stop_grace_period_secs=stop_grace_period_secs)

    def raw_session(self):
        """The ``tf.Session`` underneath (running it runs no hooks)."""
        return self._tf_sess()


class _CoordinatedSessionCreator(SessionCreator):
    """Creates the raw session, its coordinator and the hooked, coordinated wrapper."""

    def __init__(self, session_creator, hooks, stop_grace_period_secs) -> None:
        self._session_creator = session_creator
        self._hooks = hooks
        self._stop_grace_period_secs = stop_grace_period_secs
        self.coord = None
        self.tf_sess = None

    def create_session(self):
        self.tf_sess = self._session_creator.create_session()
        self.coord = new_coordinator()
        start_graph_queue_runners(self.tf_sess, self.coord)
        for hook in self._hooks:
            hook.after_create_session(self.tf_sess, self.coord)
        return _CoordinatedSession(_HookedSession(self.tf_sess, self._hooks), self.coord,
                                   self._stop_grace_period_secs)


# ----- the wrappers ------------------------------------------------------------------------
class _WrappedSession:
    """A session wrapper with a stop condition; ``close()`` never raises preemptions."""

    def __init__(self, sess) -> None:
        self._sess = sess
        self._wrapped_is_stoppable = isinstance(sess, _WrappedSession)

    @property
    def graph(self):
        return self._sess.graph

    def should_stop(self) -> bool:
        if self._check_stop():
            return True
        if self._sess:
            return self._wrapped_is_stoppable and self._sess.should_stop()
        return True

    def _check_stop(self) -> bool:
        return False

    def close(self) -> None:
        if self._sess:
            try:
                self._sess.close()
            except _PREEMPTION_ERRORS as e:
                logging.warning("An error occurred when attempting to close the session: %s",
                                e)
            finally:
                self._sess = None

    def run(self, *args, **kwargs):
        return self._sess.run(*args, **kwargs)

    def run_step_fn(self, step_fn, raw_session, run_with_hooks):
        run_with_hooks = run_with_hooks or self.run
        return step_fn(_MonitoredSession.StepContext(raw_session, run_with_hooks))


class _RecoverableSession(_WrappedSession):
    """Closes and recreates the session when a run raises a preemption error."""

    def __init__(self, sess_creator) -> None:
        self._sess_creator = sess_creator
        super().__init__(self._create_session())

    def _create_session(self):
        while True:
            try:
                return self._sess_creator.create_session()
            except _PREEMPTION_ERRORS as e:
                logging.info("An error was raised while a session was being created; a new "
                             "session will be created. Error: %s", e)

    def _check_stop(self) -> bool:
        try:
            return self._sess._check_stop() if self._sess else True
        except _PREEMPTION_ERRORS as e:
            logging.info("An error was raised while considering whether the session is "
                         "complete; a new session will be created. Error: %s", e)
            self.close()
            self._sess = self._create_session()
            return False
        except Exception:  # noqa: BLE001 - should_stop() reports, it does not raise
            return True

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        while True:
            try:
                if not self._sess:
                    self._sess = self._create_session()
                return self._sess.run(fetches, feed_dict=feed_dict, options=options,
                                      run_metadata=run_metadata)
            except _PREEMPTION_ERRORS as e:
                logging.info("An error was raised; the session will be closed and a new one "
                             "created. Error: %s", e)
                self.close()
                self._sess = None

    def run_step_fn(self, step_fn, raw_session, run_with_hooks):
        while True:
            try:
                if not self._sess:
                    self._sess = self._create_session()
                return self._sess.run_step_fn(step_fn, raw_session, self._sess.run)
            except _PREEMPTION_ERRORS as e:
                logging.info("An error was raised; the session will be closed and a new one "
                             "created. Error: %s", e)
                self.close()
                self._sess = None


class _CoordinatedSession(_WrappedSession):
    """Stops when the coordinator says so, and re-raises what it was stopped with."""

    def __init__(self, sess, coord, stop_grace_period_secs: float = 120) -> None:
        super().__init__(sess)
        self._coord = coord
        self._stop_grace_period_secs = stop_grace_period_secs

    def _check_stop(self) -> bool:
        self._coord.raise_requested_exception()
        return self._coord.should_stop()

    def close(self) -> None:
        self._coord.request_stop()
        try:
            self._coord.join(stop_grace_period_secs=self._stop_grace_period_secs,
                             ignore_live_threads=True)
        finally:
            try:
                _WrappedSession.close(self)
            except Exception:  # noqa: BLE001 - join() already reported the useful error
                pass

    def run(self, *args, **kwargs):
        try:
            return self._sess.run(*args, **kwargs)
        except _PREEMPTION_ERRORS:
            raise
        except Exception:
            # a thread's preemption error recorded in the coordinator is the root cause
            original = sys.exc_info()[1]
            try:
                self._coord.raise_requested_exception()
            except _PREEMPTION_ERRORS:
                raise
            except Exception:  # noqa: BLE001
                pass
            raise original


class _HookedSession(_WrappedSession):
    """Calls the hooks around each run and merges their fetches, feeds and options."""

    def __init__(self, sess, hooks) -> None:
        super().__init__(sess)
        self._hooks = hooks
        self._should_stop = False

    def _check_stop(self) -> bool:
        return self._should_stop

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if self.should_stop():
            raise RuntimeError("Run called even after should_stop requested.")
        # the caller's fetches first, then each requesting hook's: a list, which the
        # session's fetch cache can key when its entries are tensors or ops
        actual_fetches = [fetches]
        requested: dict = {}        # hook -> its index in actual_fetches
        run_context = SessionRunContext(original_args=SessionRunArgs(fetches, feed_dict),
                                        session=self._sess)
        merged = _StepOptions(options)
        feed_dict = self._call_hook_before_run(run_context, actual_fetches, requested,
                                               feed_dict, merged)
        if merged.given and run_metadata is None:
            run_metadata = RunMetadata()
        outputs = _WrappedSession.run(self, fetches=actual_fetches, feed_dict=feed_dict,
                                      options=merged.options if merged.given else None,
                                      run_metadata=run_metadata)
        values_options = merged.options if merged.given else RunOptions()
        for hook in self._hooks:
            hook.after_run(run_context, SessionRunValues(
                results=outputs[requested[hook]] if hook in requested else None,
                options=values_options,
                run_metadata=run_metadata))
        self._should_stop = self._should_stop or run_context.stop_requested
        return outputs[0]

    def _call_hook_before_run(self, run_context, fetch_list, requested, user_feed_dict,
                              options):
        hook_feeds: dict = {}
        for hook in self._hooks:
            request = hook.before_run(run_context)
            if request is None:
                continue
            if not isinstance(request, SessionRunArgs):
                raise TypeError(f"{type(hook).__name__}.before_run must return a "
                                f"tf.train.SessionRunArgs or None, got {request!r}")
            if request.fetches is not None:
                requested[hook] = len(fetch_list)
                fetch_list.append(request.fetches)
            if request.feed_dict:
                _raise_if_feeds_intersect(hook_feeds, request.feed_dict,
                                          "Same tensor is fed by two hooks.")
                hook_feeds.update(request.feed_dict)
            if request.options:
                options.merge(request.options)
        if not hook_feeds:
            return user_feed_dict
        if not user_feed_dict:
            return hook_feeds
        _raise_if_feeds_intersect(user_feed_dict, hook_feeds,
                                  "Same tensor is fed by a SessionRunHook and user.")
        hook_feeds.update(user_feed_dict)
        return hook_feeds


def _raise_if_feeds_intersect(feeds1: dict, feeds2: dict, message: str) -> None:
    common = set(feeds1) & set(feeds2)
    if common:
        raise RuntimeError(f"{message} Conflict(s): {sorted(str(k) for k in common)}")


class _StepOptions:
    """The run options of one step: the caller's merged with the hooks' (TF1's rule: the
    larger of two numbers, the OR of two flags). ``given`` stays False while nobody asked
    for options, so the step can take ``Session.run``'s fast path without any."""

    def __init__(self, options) -> None:
        self.given = False
        self.options = RunOptions()
        if options is not None:
            self.merge(options)

    def merge(self, incoming) -> None:
        self.given = True
        for key, value in vars(incoming).items():
            mine = getattr(self.options, key, None)
            if isinstance(value, bool):
                setattr(self.options, key, bool(mine) or value)
            elif isinstance(value, (int, float)):
                setattr(self.options, key, max(mine or 0, value))
            elif mine is None:
                setattr(self.options, key, value)


# ----- MonitoredTrainingSession ------------------------------------------------------------
def MonitoredTrainingSession(master: str = "", is_chief: bool = True,  # noqa: N802
                             checkpoint_dir: str | None = None, scaffold: Scaffold | None = None,
                             hooks=None, chief_only_hooks=None,
                             save_checkpoint_secs=USE_DEFAULT, save_summaries_steps=USE_DEFAULT,
                             save_summaries_secs=USE_DEFAULT, config=None,
                             stop_grace_period_secs: float = 120,
                             log_step_count_steps: int = 100, max_wait_secs: float = 7200,
                             save_checkpoint_steps=USE_DEFAULT, summary_dir: str | None = None,
                             save_graph_def: bool = True) -> MonitoredSession:
    """A ``MonitoredSession`` for training, with TF1's default hooks.

    The chief restores the latest checkpoint of ``checkpoint_dir`` (or initializes), and
    gets a ``StepCounterHook`` (every ``log_step_count_steps``) and a ``SummarySaverHook``
    (every ``save_summaries_steps``, default 100, or ``save_summaries_secs``) writing to
    ``summary_dir`` (default ``checkpoint_dir``), and a ``CheckpointSaverHook`` (every
    ``save_checkpoint_secs``, default 600, or ``save_checkpoint_steps``) when
    ``checkpoint_dir`` is set; then ``chief_only_hooks`` and ``hooks`` (in this order:
    default hooks first). A worker (``is_chief=False``) gets ``hooks`` only.
    """
    if save_summaries_steps is USE_DEFAULT and save_summaries_secs is USE_DEFAULT:
        save_summaries_steps, save_summaries_secs = 100, None
    else:
        save_summaries_steps = None if save_summaries_steps is USE_DEFAULT else \
            save_summaries_steps
        save_summaries_secs = None if save_summaries_secs is USE_DEFAULT else \
            save_summaries_secs
    if save_checkpoint_steps is USE_DEFAULT and save_checkpoint_secs is USE_DEFAULT:
        save_checkpoint_steps, save_checkpoint_secs = None, 600
    else:
        save_checkpoint_steps = None if save_checkpoint_steps is USE_DEFAULT else \
            save_checkpoint_steps
        save_checkpoint_secs = None if save_checkpoint_secs is USE_DEFAULT else \
            save_checkpoint_secs
    scaffold = scaffold or Scaffold()
    if not is_chief:
        creator = WorkerSessionCreator(scaffold=scaffold, master=master, config=config,
                                       max_wait_secs=max_wait_secs)
        return MonitoredSession(session_creator=creator, hooks=hooks or [],
                                stop_grace_period_secs=stop_grace_period_secs)

    all_hooks = list(chief_only_hooks or [])
    creator = ChiefSessionCreator(scaffold=scaffold, checkpoint_dir=checkpoint_dir,
                                  master=master, config=config)
    summary_dir = summary_dir or checkpoint_dir
    if summary_dir:
        if log_step_count_steps and log_step_count_steps > 0:
            all_hooks.append(hooks_lib.StepCounterHook(output_dir=summary_dir,
                                                       every_n_steps=log_step_count_steps))
        if (save_summaries_steps and save_summaries_steps > 0) or \
                (save_summaries_secs and save_summaries_secs > 0):
            all_hooks.append(hooks_lib.SummarySaverHook(
                scaffold=scaffold, save_steps=save_summaries_steps,
                save_secs=save_summaries_secs, output_dir=summary_dir))
    if checkpoint_dir:
        if (save_checkpoint_secs and save_checkpoint_secs > 0) or \
                (save_checkpoint_steps and save_checkpoint_steps > 0):
            all_hooks.append(hooks_lib.CheckpointSaverHook(
                checkpoint_dir, save_steps=save_checkpoint_steps,
                save_secs=save_checkpoint_secs, scaffold=scaffold,
                save_graph_def=save_graph_def))
    all_hooks.extend(hooks or [])
    return MonitoredSession(session_creator=creator, hooks=all_hooks,
                            stop_grace_period_secs=stop_grace_period_secs)


__all__ = ["ChiefSessionCreator", "MonitoredSession", "MonitoredTrainingSession", "Scaffold",
           "SessionCreator", "SingularMonitoredSession", "USE_DEFAULT",
           "WorkerSessionCreator"]
