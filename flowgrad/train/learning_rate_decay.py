"""Learning-rate schedules as tensors of ``global_step`` (TF1's ``tf.train.*_decay``)."""

from __future__ import annotations

import math

from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M


def _step(global_step, dtype):
    if global_step is None:
        raise ValueError("global_step is required for a learning-rate schedule.")
    return M.cast(convert_to_tensor(global_step), dtype)


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None):
    """``learning_rate * decay_rate ** (global_step / decay_steps)`` (floored if staircase)."""
    with name_scope(name, "ExponentialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        p = _step(global_step, dt) / M.cast(convert_to_tensor(decay_steps), dt)
        if staircase:
            p = M.floor(p)
        return M.multiply(lr, M.pow(M.cast(convert_to_tensor(decay_rate), dt), p), name=scope)


def piecewise_constant(x, boundaries, values, name=None):
    """``values[0]`` while ``x <= boundaries[0]``, ``values[1]`` while ``x <= boundaries[1]``,
    ..., ``values[-1]`` after the last boundary."""
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with name_scope(name, "PiecewiseConstant") as scope:
        x = convert_to_tensor(x)
        vals = [convert_to_tensor(v) for v in values]
        dt = vals[0].dtype
        for v in vals[1:]:
            if v.dtype != dt:
                raise ValueError(f"Values must have elements all with the same dtype "
                                 f"({dt.name} vs {v.dtype.name}).")
        bounds = [convert_to_tensor(b, dtype=x.dtype) for b in boundaries]
        out = vals[-1]
        # walk from the last interval back so that the first matching one wins
        for b, v in reversed(list(zip(bounds, vals[:-1]))):
            out = M.where(M.less_equal(x, b), v, out)
        return A.identity(out, name=scope)


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001,
                     power=1.0, cycle=False, name=None):
    """``(lr - end) * (1 - step / decay_steps) ** power + end``, step clamped (or cycled)."""
    with name_scope(name, "PolynomialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        step = _step(global_step, dt)
        steps = M.cast(convert_to_tensor(decay_steps), dt)
        end = M.cast(convert_to_tensor(end_learning_rate), dt)
        pw = M.cast(convert_to_tensor(power), dt)
        if cycle:
            mult = M.where(M.equal(step, 0.0), convert_to_tensor(1.0, dtype=dt),
                           M.ceil(step / steps))
            steps = steps * mult
        else:
            step = M.minimum(step, steps)
        frac = step / steps
        return M.add((lr - end) * M.pow(1.0 - frac, pw), end, name=scope)


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    """``lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))
    + alpha)``."""
    with name_scope(name, "CosineDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        steps = M.cast(convert_to_tensor(decay_steps), dt)
        step = M.minimum(_step(global_step, dt), steps)
        cosine = 0.5 * (1.0 + M.cos(math.pi * step / steps))
        decayed = (1.0 - alpha) * cosine + alpha
        return M.multiply(lr, decayed, name=scope)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                       name=None):
    """``lr / (1 + decay_rate * global_step / decay_steps)``."""
    with name_scope(name, "InverseTimeDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        p = _step(global_step, dt) / M.cast(convert_to_tensor(decay_steps), dt)
        if staircase:
            p = M.floor(p)
        return M.truediv(lr, 1.0 + M.cast(convert_to_tensor(decay_rate), dt) * p, name=scope)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase=False,
                      name=None):
    """``lr * exp(-decay_rate * global_step / decay_steps)``."""
    with name_scope(name, "NaturalExpDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = lr.dtype
        p = _step(global_step, dt) / M.cast(convert_to_tensor(decay_steps), dt)
        if staircase:
            p = M.floor(p)
        return M.multiply(lr, M.exp(-M.cast(convert_to_tensor(decay_rate), dt) * p),
                          name=scope)

