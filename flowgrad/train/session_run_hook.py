"""The hook protocol of monitored sessions (``tf.train.SessionRunHook`` and friends).

A hook sees the life of a ``MonitoredSession``::

    begin()                                  graph not finalized yet: create ops here
    after_create_session(session, coord)     the session exists and is initialized
    for each run():
        before_run(run_context) -> SessionRunArgs | None   extra fetches, feeds, options
        (the session runs the caller's fetches and every hook's in one step)
        after_run(run_context, run_values)   run_values.results: what this hook asked for
    end(session)                             on close() (not after an error)

Any hook may call ``run_context.request_stop()``; the session's ``should_stop()`` then turns
true after the current step.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class SessionRunHook:
    """Base class of hooks; every method is optional and does nothing here."""

    def begin(self) -> None:
        """Called once before the session is created; the graph may still be changed."""

    def after_create_session(self, session, coord) -> None:
        """Called when the session has been created and initialized (or restored); the
        graph is finalized. ``coord`` is the session's coordinator."""

    def before_run(self, run_context: "SessionRunContext") -> "SessionRunArgs | None":
        """Called before each ``run()``; returns what to add to the run, or None."""
        return None

    def after_run(self, run_context: "SessionRunContext",
                  run_values: "SessionRunValues") -> None:
        """Called after each successful ``run()`` with the values this hook requested."""

    def end(self, session) -> None:
        """Called when the monitored session is closed without an error."""


class SessionRunArgs(NamedTuple):
    """What a hook adds to a run: ``fetches`` (any structure ``Session.run`` accepts, or
    None), ``feed_dict`` and ``options`` (a ``tf.RunOptions``)."""

    fetches: Any
    feed_dict: dict | None = None
    options: Any = None


class SessionRunValues(NamedTuple):
    """The result of a run for one hook: ``results`` has the structure of the fetches the
    hook requested (None if it requested none)."""

    results: Any
    options: Any
    run_metadata: Any


class SessionRunContext:
    """The run in progress: the caller's arguments, the raw session and the stop flag."""

    def __init__(self, original_args: SessionRunArgs, session) -> None:
        self._original_args = original_args
        self._session = session
        self._stop_requested = False

    @property
    def original_args(self) -> SessionRunArgs:
        """The ``fetches`` and ``feed_dict`` the caller passed to ``run()``."""
        return self._original_args

    @property
    def session(self):
        """The ``tf.Session`` underneath; running it runs no hooks."""
        return self._session

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def request_stop(self) -> None:
        """Asks the monitored session to stop after this step."""
        self._stop_requested = True
