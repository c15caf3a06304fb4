"""RMSProp with optional momentum and centering, as TF1 computes it.

Slots: ``<var>/RMSProp`` (the mean square, initialised to ones as in TF1), with
``centered=True`` ``<var>/RMSProp_1`` (the mean gradient), then the momentum slot.
"""

from __future__ import annotations

from flowgrad.framework.registry import op
from flowgrad.ops import array_ops as A
from flowgrad.ops import state_ops as S
from flowgrad.train.optimizer import Optimizer
from flowgrad.train.sparse_apply import (sparse_apply_centered_rms_prop,
                                          sparse_apply_rms_prop)


@op("ApplyRMSProp", shape=S.apply_update_shape, same_dtype=True, ref_inputs=(0, 1, 2),
    stateful=True)
def apply_rms_prop(xp, var, ms, mom, lr, rho, momentum, epsilon, grad, *, use_locking=False):
    one = xp.ones((), dtype=grad.dtype)
    ms_old = ms.get()
    ms_new = ms_old + (grad * grad - ms_old) * (one - rho)
    mom_new = mom.get() * momentum + (grad * lr) / xp.sqrt(ms_new + epsilon)
    new = var.get() - mom_new
    ms.set(xp.asarray(ms_new))
    mom.set(xp.asarray(mom_new))
    new = xp.asarray(new)   # 0-d math gives numpy scalars; variables hold arrays
    var.set(new)
    return new


@op("ApplyCenteredRMSProp", shape=S.apply_update_shape, same_dtype=True,
    ref_inputs=(0, 1, 2, 3), stateful=True)
def apply_centered_rms_prop(xp, var, mg, ms, mom, lr, rho, momentum, epsilon, grad, *,
                            use_locking=False):
    one = xp.ones((), dtype=grad.dtype)
    ms_old, mg_old = ms.get(), mg.get()
    ms_new = ms_old + (grad * grad - ms_old) * (one - rho)
    mg_new = mg_old + (grad - mg_old) * (one - rho)
    denom = (ms_new - mg_new * mg_new) + epsilon
    mom_new = mom.get() * momentum + (grad * lr) / xp.sqrt(denom)
    new = var.get() - mom_new
    ms.set(xp.asarray(ms_new))
    mg.set(xp.asarray(mg_new))
    mom.set(xp.asarray(mom_new))
    new = xp.asarray(new)   # 0-d math gives numpy scalars; variables hold arrays
    var.set(new)
    return new


class RMSPropOptimizer(Optimizer):
    """``tf.train.RMSPropOptimizer(learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10,
    centered=False)``::

        ms = ms + (g * g - ms) * (1 - decay)
        mg = mg + (g - mg) * (1 - decay)                     # centered only
        mom = momentum * mom + lr * g / sqrt(ms [- mg**2] + epsilon)
        var -= mom
    """

    def __init__(self, learning_rate, decay=0.9, momentum=0.0, epsilon=1e-10,
                 use_locking: bool = False, centered: bool = False,
                 name: str = "RMSProp") -> None:
        super().__init__(use_locking, name)
        self._learning_rate, self._decay = learning_rate, decay
        self._momentum, self._epsilon, self._centered = momentum, epsilon, centered

    def _create_slots(self, var_list) -> None:
        for v in var_list:
            self._slot(v, "rms", self._name, lambda v=v: A.ones(v.shape.as_list(), v.dtype))
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        args = (self._lr(self._learning_rate, var), self._lr(self._decay, var),
                self._lr(self._momentum, var), self._lr(self._epsilon, var), grad)
        rms = self.get_slot(var, "rms")._variable
        mom = self.get_slot(var, "momentum")._variable
        if self._centered:
            mg = self.get_slot(var, "mg")._variable
            return apply_centered_rms_prop(var._variable, mg, rms, mom, *args,
                                           use_locking=self._use_locking).op
        return apply_rms_prop(var._variable, rms, mom, *args, use_locking=self._use_locking).op

    def _apply_sparse(self, grad, var):
        args = (self._lr(self._learning_rate, var), self._lr(self._decay, var),
                self._lr(self._momentum, var), self._lr(self._epsilon, var), grad.values,
                grad.indices)
        rms = self.get_slot(var, "rms")._variable
        mom = self.get_slot(var, "momentum")._variable
        if self._centered:
            mg = self.get_slot(var, "mg")._variable
            return sparse_apply_centered_rms_prop(var._variable, mg, rms, mom, *args,
                                                  use_locking=self._use_locking).op
        return sparse_apply_rms_prop(var._variable, rms, mom, *args,
                                     use_locking=self._use_locking).op
