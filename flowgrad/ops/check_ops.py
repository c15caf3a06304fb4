"""Run-time assertions (``tf.Assert``, ``tf.assert_equal``, ``tf.debugging.assert_*``).

Each assertion is an op that raises ``InvalidArgumentError`` when it runs and its condition
is false; when the condition is decided at build time (constants, static shapes) the check
happens right away, as in TF.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.errors import InvalidArgumentError
from flowgrad.framework.graph import Operation, name_scope
from flowgrad.framework.registry import NotDifferentiable, constant_value, convert_to_tensor, op
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S


@op("Assert", shape=lambda n: [], stateful=True)
def _assert(xp, condition, *data, summarize=3, message=""):
    if not bool(condition):
        shown = []
        for d in data:
            a = np.asarray(d)
            shown.append(str(a.reshape(-1)[:summarize].tolist()) if a.ndim else str(a))
        raise InvalidArgumentError(None, None, "assertion failed: " + message + " "
                                   + " ".join(shown))


NotDifferentiable("Assert")


def Assert(condition, data, summarize=None, name=None) -> Operation:  # noqa: N802
    """``tf.Assert``: an op that fails the run with ``data`` when ``condition`` is false."""
    from flowgrad.framework.registry import get_opdef, make_op  # noqa: PLC0415
    cond = convert_to_tensor(condition)
    msgs = [d for d in data if isinstance(d, str)]
    tensors = [convert_to_tensor(d) for d in data if not isinstance(d, str)]
    return make_op(get_opdef("Assert"), [cond] + tensors,
                   {"summarize": 3 if summarize is None else int(summarize),
                    "message": " ".join(msgs)}, name or "Assert")


def _binary_assert(check, symbol: str, default_name: str):
    def assertion(x, y, data=None, summarize=None, message=None, name=None):
        with name_scope(name, default_name):
            x = convert_to_tensor(x)
            y = convert_to_tensor(y, dtype=x.dtype)
            cv_x, cv_y = constant_value(x), constant_value(y)
            text = message or f"Condition x {symbol} y did not hold element-wise:"
            if cv_x is not None and cv_y is not None:
                if not np.all(check(cv_x, cv_y)):
                    raise InvalidArgumentError(None, None, f"{text} x = {cv_x.tolist()}, "
                                               f"y = {cv_y.tolist()}")
                return S.no_op()
            cond = R.reduce_all(_CHECKS[symbol](x, y))
            return Assert(cond, [text, "x =", x, "y =", y] if data is None else data,
                          summarize=summarize)
    assertion.__name__ = default_name
    assertion.__doc__ = f"An op asserting ``x {symbol} y`` element-wise when it runs."
    return assertion


_CHECKS = {"==": M.equal, "!=": M.not_equal, "<": M.less, "<=": M.less_equal,
           ">": M.greater, ">=": M.greater_equal}

assert_equal = _binary_assert(np.equal, "==", "assert_equal")
assert_none_equal = _binary_assert(np.not_equal, "!=", "assert_none_equal")
assert_less = _binary_assert(np.less, "<", "assert_less")
assert_less_equal = _binary_assert(np.less_equal, "<=", "assert_less_equal")
assert_greater = _binary_assert(np.greater, ">", "assert_greater")
assert_greater_equal = _binary_assert(np.greater_equal, ">=", "assert_greater_equal")


def assert_positive(x, data=None, summarize=None, message=None, name=None):
    return assert_greater(x, 0, data, summarize, message, name or "assert_positive")


def assert_non_negative(x, data=None, summarize=None, message=None, name=None):
    return assert_greater_equal(x, 0, data, summarize, message, name or "assert_non_negative")


def assert_negative(x, data=None, summarize=None, message=None, name=None):
    return assert_less(x, 0, data, summarize, message, name or "assert_negative")


def assert_rank(x, rank, message=None, name=None):
    """Checks the static rank at build time (a ValueError, as TF does when it is known)."""
    x = convert_to_tensor(x)
    if x.shape.ndims is not None:
        if x.shape.ndims != int(rank):
            raise ValueError(f"{message or ''} Tensor {x.name} must have rank {int(rank)}. "
                             f"Received rank {x.shape.ndims}, shape {x.shape}".strip())
        return S.no_op(name=name)
    from flowgrad.ops import array_ops as A  # noqa: PLC0415
    return Assert(M.equal(A.rank(x), int(rank)), [message or f"{x.name} must have rank {rank}"],
                  name=name)


def assert_type(tensor, tf_type, message=None, name=None):
    t = convert_to_tensor(tensor)
    if t.dtype != _dt.as_dtype(tf_type):
        raise TypeError(f"{message or ''} {t.name} must be of type {_dt.as_dtype(tf_type).name}; "
                        f"got {t.dtype.name}".strip())
    return S.no_op(name=name)


def is_tensor(x) -> bool:
    from flowgrad.framework.graph import Tensor  # noqa: PLC0415
    return isinstance(x, Tensor) or hasattr(x, "_as_graph_element")
