"""Weight regularizers (``tf.contrib.layers.l1_regularizer`` & co.).

Each factory returns ``fn(weights) -> scalar loss tensor`` (or ``None`` for a zero scale),
usable as ``regularizer=`` of ``get_variable`` / ``variable_scope`` and as a layer's
``kernel_regularizer``.
"""

from __future__ import annotations

import numbers

from flowgrad.framework.graph import GraphKeys, get_default_graph, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N
from flowgrad.ops import reduce_ops as R


def _check_scale(scale) -> None:
    if isinstance(scale, numbers.Integral):
        raise ValueError(f"scale cannot be an integer: {scale}")
    if isinstance(scale, numbers.Real):
        if scale < 0.0:
            raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale}")


def l1_regularizer(scale, scope=None):
    """``scale * sum(|w|)``."""
    _check_scale(scale)
    if isinstance(scale, numbers.Real) and scale == 0.0:
        return lambda _: None

    def l1(weights):
        with name_scope(scope, "l1_regularizer") as name:
            w = convert_to_tensor(weights)
            s = convert_to_tensor(scale, dtype=w.dtype, name="scale")
            return M.multiply(s, R.reduce_sum(M.abs(w)), name=name)
    return l1


def l2_regularizer(scale, scope=None):
    """``scale * sum(w ** 2) / 2`` (``scale * tf.nn.l2_loss(w)``)."""
    _check_scale(scale)
    if isinstance(scale, numbers.Real) and scale == 0.0:
        return lambda _: None

    def l2(weights):
        with name_scope(scope, "l2_regularizer") as name:
            w = convert_to_tensor(weights)
            s = convert_to_tensor(scale, dtype=w.dtype, name="scale")
            return M.multiply(s, N.l2_loss(w), name=name)
    return l2


def l1_l2_regularizer(scale_l1=1.0, scale_l2=1.0, scope=None):
    """The sum of an L1 and an L2 regularizer."""
    if isinstance(scale_l1, numbers.Real) and scale_l1 == 0.0:
        return l2_regularizer(scale_l2, scope)
    if isinstance(scale_l2, numbers.Real) and scale_l2 == 0.0:
        return l1_regularizer(scale_l1, scope)
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)], scope)


def sum_regularizer(regularizer_list, scope=None):
    """A regularizer adding up the (non-None) results of ``regularizer_list``."""
    regs = [r for r in regularizer_list if r is not None]
    if not regs:
        return None

    def total(weights):
        with name_scope(scope, "sum_regularizer") as name:
            parts = [p for p in (r(weights) for r in regs) if p is not None]
            if not parts:
                return None
            return M.add_n(parts, name=name)
    return total


def apply_regularization(regularizer, weights_list=None):
    """Sums ``regularizer(w)`` over ``weights_list`` (default: the ``WEIGHTS`` collection,
    else the trainable variables) and adds it to ``REGULARIZATION_LOSSES``."""
    g = get_default_graph()
    if not weights_list:
        weights_list = g.get_collection(GraphKeys.WEIGHTS) or \
            g.get_collection(GraphKeys.TRAINABLE_VARIABLES)
    if not weights_list:
        raise ValueError("No weights to regularize.")
    with name_scope(None, "get_regularization_penalty"):
        penalties = [p for p in (regularizer(w) for w in weights_list) if p is not None]
        if not penalties:
            return convert_to_tensor(0.0)
        summed = M.add_n(penalties)
    g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, summed)
    return summed
