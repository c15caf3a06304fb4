"""Adam (Kingma & Ba, 2015) with TF1's update and variable layout.

Slots ``<var>/Adam`` (m) and ``<var>/Adam_1`` (v); non-slot variables ``beta1_power`` and
``beta2_power`` hold ``beta1**t`` and ``beta2**t`` and are advanced once per step after
every variable has been updated.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework.graph import get_default_graph
from flowgrad.framework.registry import op
from flowgrad.ops import state_ops as S
from flowgrad.train.optimizer import Optimizer


@op("ApplyAdam", shape=S.apply_update_shape, same_dtype=True, ref_inputs=(0, 1, 2),
    stateful=True)
def apply_adam(xp, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, *,
               use_locking=False, use_nesterov=False):
    one = xp.ones((), dtype=grad.dtype)
    alpha = lr * xp.sqrt(one - beta2_power) / (one - beta1_power)
    m_old, v_old = m.get(), v.get()
    # TF1's formulas (see AdamOptimizer) in the same order, so rounded the same way, but
    # computed in place on fresh arrays: no state array is modified
    m_new = xp.subtract(grad, m_old)
    m_new *= one - beta1
    m_new += m_old
    v_new = xp.multiply(grad, grad)
    v_new -= v_old
    v_new *= one - beta2
    v_new += v_old
    denom = xp.sqrt(v_new)
    denom += epsilon
    if use_nesterov:
        step = grad * (one - beta1)
        step += beta1 * m_new
        step *= alpha
    else:
        step = m_new * alpha
    step /= denom
    new = xp.subtract(var.get(), step)
    m.set(xp.asarray(m_new))
    v.set(xp.asarray(v_new))
    new = xp.asarray(new)   # 0-d math gives numpy scalars; variables hold arrays
    var.set(new)
    return new


class AdamOptimizer(Optimizer):
    """``tf.train.AdamOptimizer(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08)``.

    Per step ``t`` (``beta1_power = beta1**t``)::

        lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
        m = m + (g - m) * (1 - beta1)
        v = v + (g * g - v) * (1 - beta2)
        var -= lr_t * m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 use_locking: bool = False, name: str = "Adam") -> None:
        super().__init__(use_locking, name)
        self._lr_value, self._beta1, self._beta2, self._epsilon = (learning_rate, beta1, beta2,
                                                                    epsilon)

    def _get_beta_accumulators(self):
        return self._non_slot.get("beta1_power"), self._non_slot.get("beta2_power")

    def _create_slots(self, var_list) -> None:
        first = min(var_list, key=lambda x: x.name)
        g = first.graph
        self._non_slot_variable("beta1_power", _initial(self._beta1, first), graph=g)
        self._non_slot_variable("beta2_power", _initial(self._beta2, first), graph=g)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _apply_dense(self, grad, var):
        b1p, b2p = self._get_beta_accumulators()
        return apply_adam(var._variable, self.get_slot(var, "m")._variable,
                          self.get_slot(var, "v")._variable, self._lr(b1p, var),
                          self._lr(b2p, var), self._lr(self._lr_value, var),
                          self._lr(self._beta1, var), self._lr(self._beta2, var),
                          self._lr(self._epsilon, var), grad,
                          use_locking=self._use_locking).op

    def _finish(self, update_ops, name_scope):
        b1p, b2p = self._get_beta_accumulators()
        g = get_default_graph()
        with g.control_dependencies(update_ops):
            u1 = S.assign(b1p, b1p * self._lr(self._beta1, b1p), name="update_beta1")
            u2 = S.assign(b2p, b2p * self._lr(self._beta2, b2p), name="update_beta2")
        return S.group(*update_ops, u1, u2, name=name_scope)


def _initial(value, like):
    """The initial value of a beta power accumulator, in the dtype of the variables."""
    if hasattr(value, "_as_graph_element"):
        return value
    return np.asarray(value, dtype=like.dtype.np)
