"""``tf.logging``: TF1's logging functions on the standard ``logging`` module.

Messages go to the ``"flowgrad"`` logger, printed as ``INFO:flowgrad:message`` on stderr
unless the application configured the root logger (then they go to its handlers);
the default verbosity is WARN, as in TF1, so ``tf.logging.set_verbosity(tf.logging.INFO)``
is what makes ``tf.logging.info`` visible.
"""

from __future__ import annotations

import logging as _logging
import sys
import threading

DEBUG = _logging.DEBUG
INFO = _logging.INFO
WARN = _logging.WARN
WARNING = _logging.WARNING
ERROR = _logging.ERROR
FATAL = _logging.FATAL

_lock = threading.Lock()
_counts: dict[tuple, int] = {}


def get_logger() -> _logging.Logger:
    """The ``flowgrad`` logger. As TF1 does, it gets its own stderr handler only when the
    root logger has none (so an application's logging setup is respected and nothing prints
    twice); records always propagate to the root logger's handlers."""
    logger = _logging.getLogger("flowgrad")
    if not getattr(logger, "_flowgrad_configured", False):
        with _lock:
            if not getattr(logger, "_flowgrad_configured", False):
                if not _logging.getLogger().handlers:
                    handler = _logging.StreamHandler(sys.stderr)
                    handler.setFormatter(
                        _logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
                    logger.addHandler(handler)
                if logger.level == _logging.NOTSET:
                    logger.setLevel(WARN)
                logger._flowgrad_configured = True
    return logger


def set_verbosity(v: int) -> None:
    """Messages below level ``v`` (e.g. ``tf.logging.INFO``) are dropped."""
    get_logger().setLevel(v)


def get_verbosity() -> int:
    return get_logger().getEffectiveLevel()


def log(level: int, msg, *args, **kwargs) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def debug(msg, *args, **kwargs) -> None:
    get_logger().debug(msg, *args, **kwargs)


def info(msg, *args, **kwargs) -> None:
    get_logger().info(msg, *args, **kwargs)


def warning(msg, *args, **kwargs) -> None:
    get_logger().warning(msg, *args, **kwargs)


warn = warning


def error(msg, *args, **kwargs) -> None:
    get_logger().error(msg, *args, **kwargs)


def fatal(msg, *args, **kwargs) -> None:
    """Logs at FATAL (CRITICAL); like TF1's ``tf.logging.fatal`` it does not exit."""
    get_logger().fatal(msg, *args, **kwargs)


def vlog(level: int, msg, *args, **kwargs) -> None:
    get_logger().log(level, msg, *args, **kwargs)


def _call_site() -> tuple:
    f = sys._getframe(3)
    return f.f_code.co_filename, f.f_lineno


def _count() -> int:
    key = _call_site()
    with _lock:
        n = _counts.get(key, 0)
        _counts[key] = n + 1
    return n


def log_every_n(level: int, msg, n: int, *args) -> None:
    """Logs on the 1st, (n+1)th, (2n+1)th, ... call from this line."""
    if _count() % max(int(n), 1) == 0:
        get_logger().log(level, msg, *args)


def log_first_n(level: int, msg, n: int, *args) -> None:
    """Logs only the first ``n`` calls from this line."""
    if _count() < n:
        get_logger().log(level, msg, *args)


def log_if(level: int, msg, condition, *args) -> None:
    if condition:
        get_logger().log(level, msg, *args)


def flush() -> None:
    for h in get_logger().handlers:
        h.flush()


def TaskLevelStatusMessage(msg) -> None:  # noqa: N802 - TF's name
    error(msg)
