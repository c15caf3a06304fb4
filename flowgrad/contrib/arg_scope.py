"""``tf.contrib.framework.arg_scope`` and ``add_arg_scope``: default keyword arguments for
the functions named in a scope.

    with arg_scope([layers.conv2d, layers.fully_connected], activation_fn=tf.nn.relu,
                   weights_regularizer=layers.l2_regularizer(1e-4)):
        net = layers.conv2d(x, 32, [3, 3])      # gets both defaults

Scopes nest (inner values win); arguments given in the call win over the scope's.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Iterator

# the stack of active scopes: each a dict {function key: {kwarg: value}}
_ARG_SCOPES: contextvars.ContextVar[tuple] = contextvars.ContextVar("arg_scopes", default=({},))


def _key(func) -> str:
    return getattr(func, "_key_op", None) or f"{func.__module__}.{func.__qualname__}"


def current_arg_scope() -> dict:
    """The innermost active scope: ``{function key: {kwarg: value}}``."""
    return _ARG_SCOPES.get()[-1]


def has_arg_scope(func) -> bool:
    """Whether ``func`` was decorated with ``add_arg_scope``."""
    return getattr(func, "_arg_scoped", False)


def arg_scoped_arguments(func) -> list[str]:
    """The argument names of an ``add_arg_scope`` function."""
    import inspect  # noqa: PLC0415
    return list(inspect.signature(func).parameters)


@contextlib.contextmanager
def arg_scope(list_ops_or_scope, **kwargs) -> Iterator[dict]:
    """Sets default ``kwargs`` for each function in ``list_ops_or_scope``; or re-enters a
    scope dict yielded by an earlier ``arg_scope`` (then ``kwargs`` must be empty)."""
    if isinstance(list_ops_or_scope, dict):
        if kwargs:
            raise ValueError("When attempting to re-use a scope by suppling a dictionary, "
                             "kwargs must be empty.")
        scope = {k: dict(v) for k, v in list_ops_or_scope.items()}
    else:
        if not isinstance(list_ops_or_scope, list | tuple):
            raise TypeError("list_ops_or_scope must either be a list/tuple or reused scope "
                            "(i.e. dict)")
        scope = {k: dict(v) for k, v in current_arg_scope().items()}
        for func in list_ops_or_scope:
            if not has_arg_scope(func):
                raise ValueError(f"{getattr(func, '__name__', func)} is not decorated with "
                                 "@add_arg_scope")
            scope.setdefault(_key(func), {}).update(kwargs)
    token = _ARG_SCOPES.set(_ARG_SCOPES.get() + (scope,))
    try:
        yield scope
    finally:
        _ARG_SCOPES.reset(token)


def add_arg_scope(func):
    """Decorates ``func`` so that ``arg_scope`` can supply its keyword arguments."""
    key = _key(func)

    @functools.wraps(func)
    def func_with_args(*args, **kwargs):
        defaults = current_arg_scope().get(key)
        if defaults:
            kwargs = {**defaults, **kwargs}
        return func(*args, **kwargs)

    func_with_args._key_op = key
    func_with_args._arg_scoped = True
    return func_with_args
