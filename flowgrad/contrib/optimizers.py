"""``tf.contrib.layers.optimize_loss``: gradients, clipping and the update in one call."""

from __future__ import annotations

from flowgrad.framework.graph import GraphKeys, Tensor, get_default_graph
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import clip_ops
from flowgrad.ops import init_ops as I
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V
from flowgrad.train.adagrad import AdagradOptimizer
from flowgrad.train.adam import AdamOptimizer
from flowgrad.train.gradient_descent import GradientDescentOptimizer
from flowgrad.train.momentum import MomentumOptimizer
from flowgrad.train.optimizer import Optimizer, get_global_step
from flowgrad.train.rmsprop import RMSPropOptimizer

OPTIMIZER_CLS_NAMES = {
    "Adagrad": AdagradOptimizer,
    "Adam": AdamOptimizer,
    "Momentum": lambda learning_rate: MomentumOptimizer(learning_rate, momentum=0.9),
    "RMSProp": RMSPropOptimizer,
    "SGD": GradientDescentOptimizer,
}

OPTIMIZER_SUMMARIES = ["learning_rate", "loss", "gradients", "gradient_norm",
                       "global_gradient_norm"]


def optimize_loss(loss, global_step, learning_rate, optimizer, gradient_noise_scale=None,
                  gradient_multipliers=None, clip_gradients=None, learning_rate_decay_fn=None,
                  update_ops=None, variables=None, name=None, summaries=None,
                  colocate_gradients_with_ops=False, increment_global_step=True):
    """Returns a tensor that evaluates ``loss`` after one optimizer step.

    ``optimizer``: a name from ``OPTIMIZER_CLS_NAMES``, an ``Optimizer`` subclass or a
    function of the learning rate (both called with ``learning_rate``), or an
    ``Optimizer`` instance. A float ``learning_rate`` becomes the non-trainable variable
    ``OptimizeLoss/learning_rate``. ``clip_gradients``: a float (clip by global norm) or a
    function of the ``(gradient, variable)`` list. ``update_ops`` (default: ``UPDATE_OPS``)
    run before the loss is read.
    """
    from flowgrad import summary  # noqa: PLC0415 (summaries are an optional extra)
    loss = convert_to_tensor(loss)
    if global_step is None:
        global_step = get_global_step()
        if global_step is None:
            raise ValueError("global_step is required for optimize_loss.")
    if summaries is None:
        summaries = ["loss", "learning_rate", "global_gradient_norm"]
    unknown = [s for s in summaries if s not in OPTIMIZER_SUMMARIES]
    if unknown:
        raise ValueError(f"Summaries should be one of {OPTIMIZER_SUMMARIES}, you provided "
                         f"{unknown}.")
    g = get_default_graph()
    with V.variable_scope(name, "OptimizeLoss"):
        if update_ops is None:
            update_ops = set(g.get_collection(GraphKeys.UPDATE_OPS))
        if update_ops:
            loss = S.with_dependencies(list(update_ops), loss)
        if "loss" in summaries:
            summary.scalar("loss", loss)

        lr = None
        if learning_rate is not None:
            if isinstance(learning_rate, Tensor) and learning_rate.shape.ndims == 0:
                lr = learning_rate
            elif isinstance(learning_rate, float):
                lr = V.get_variable("learning_rate", [], trainable=False,
                                    initializer=I.constant_initializer(learning_rate))
            else:
                raise ValueError(f"Learning rate should be 0d Tensor or float. Got "
                                 f"{learning_rate!r} of type {type(learning_rate).__name__}")
        if learning_rate_decay_fn is not None:
            if lr is None:
                raise ValueError("learning_rate_decay_fn is given but learning_rate is None.")
            lr = learning_rate_decay_fn(lr, global_step)
        if lr is not None and "learning_rate" in summaries:
            summary.scalar("learning_rate", lr)
        opt = _make_optimizer(optimizer, lr)

        if variables is None:
            variables = V.trainable_variables()
        grads = opt.compute_gradients(loss, variables,
                                      colocate_gradients_with_ops=colocate_gradients_with_ops)
        if gradient_noise_scale is not None:
            grads = _add_noise(grads, gradient_noise_scale)
        if gradient_multipliers is not None:
            grads = _multiply(grads, gradient_multipliers)
        if not [d for d, _ in grads if d is not None]:
            raise ValueError("Empty list of (gradient, var) pairs encountered. This is most "
                             "likely to be caused by an improper value of "
                             "gradient_multipliers.")
        if "global_gradient_norm" in summaries or "gradient_norm" in summaries:
            summary.scalar("global_norm/gradient_norm",
                           clip_ops.global_norm([d for d, _ in grads if d is not None]))
        if isinstance(clip_gradients, float):
            clipped, _ = clip_ops.clip_by_global_norm([d for d, _ in grads], clip_gradients)
            grads = list(zip(clipped, [v for _, v in grads]))
        elif callable(clip_gradients):
            grads = clip_gradients(grads)
        elif clip_gradients is not None:
            raise ValueError(f"Unknown type {type(clip_gradients).__name__} for "
                             "clip_gradients")
        for d, v in grads:
            if d is None:
                continue
            if "gradients" in summaries:
                summary.histogram("gradients/" + v.op.name, d)
            if "gradient_norm" in summaries:
                summary.scalar("gradient_norm/" + v.op.name, clip_ops.global_norm([d]))
        update = opt.apply_gradients(grads, global_step=global_step if increment_global_step
                                     else None, name="train")
        return S.with_dependencies([update], loss)


def _make_optimizer(optimizer, lr):
    if isinstance(optimizer, str):
        if lr is None:
            raise ValueError(f"Learning rate is None, but should be specified if optimizer "
                             f"is string ({optimizer}).")
        if optimizer not in OPTIMIZER_CLS_NAMES:
            raise ValueError(f"Optimizer name should be one of "
                             f"[{', '.join(OPTIMIZER_CLS_NAMES)}], you provided {optimizer}.")
        return OPTIMIZER_CLS_NAMES[optimizer](learning_rate=lr)
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        if lr is None:
            raise ValueError(f"Learning rate is None, but should be specified if optimizer "
                             f"is class ({optimizer}).")
        return optimizer(learning_rate=lr)
    if isinstance(optimizer, Optimizer):
        return optimizer
    if callable(optimizer):
        opt = optimizer(lr) if lr is not None else optimizer()
        if not isinstance(opt, Optimizer):
            raise ValueError(f"Unrecognized optimizer: function should return subclass of "
                             f"Optimizer. Got {opt}.")
        return opt
    raise ValueError(f"Unrecognized optimizer: should be string, subclass of Optimizer, "
                     f"instance of subclass of Optimizer or function with one argument. "
                     f"Got {optimizer}.")


def _add_noise(grads, scale):
    from flowgrad.ops.array_ops import shape  # noqa: PLC0415
    from flowgrad.ops.state_ops import random_normal  # noqa: PLC0415
    out = []
    for d, v in grads:
        if d is None:
            out.append((d, v))
            continue
        out.append((d + random_normal(shape(d), dtype=d.dtype) * scale, v))
    return out


def _multiply(grads, multipliers):
    out = []
    for d, v in grads:
        m = multipliers.get(v, multipliers.get(v.op.name)) if d is not None else None
        if m is not None:
            d = d * convert_to_tensor(m, dtype=d.dtype)
        out.append((d, v))
    return out
