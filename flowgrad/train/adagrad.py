"""Adagrad and Adadelta, with TF1's updates and slot names."""

from __future__ import annotations

from flowgrad.framework.registry import constant, op
from flowgrad.ops import array_ops as A
from flowgrad.ops import state_ops as S
from flowgrad.train.optimizer import Optimizer
from flowgrad.train.sparse_apply import sparse_apply_adadelta, sparse_apply_adagrad


@op("ApplyAdagrad", shape=S.apply_update_shape, same_dtype=True, ref_inputs=(0, 1),
    stateful=True)
def apply_adagrad(xp, var, accum, lr, grad, *, use_locking=False, update_slots=True):
    one = xp.ones((), dtype=grad.dtype)
    a = accum.get() + grad * grad if update_slots else accum.get()
    new = var.get() - grad * lr * (one / xp.sqrt(a))   # TF: grad * lr * rsqrt(accum)
    accum.set(xp.asarray(a))
    new = xp.asarray(new)   # 0-d math gives numpy scalars; variables hold arrays
    var.set(new)
    return new


class AdagradOptimizer(Optimizer):
    """``tf.train.AdagradOptimizer(learning_rate, initial_accumulator_value=0.1)``::

        accum += g * g
        var -= lr * g / sqrt(accum)

    Slot: ``<var>/Adagrad``, initialised to ``initial_accumulator_value``.
    """

    def __init__(self, learning_rate, initial_accumulator_value=0.1, use_locking: bool = False,
                 name: str = "Adagrad") -> None:
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: "
                             f"{initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial = initial_accumulator_value

    def _create_slots(self, var_list) -> None:
        for v in var_list:
            self._slot(v, "accumulator", self._name,
                       lambda v=v: A.fill(v.shape.as_list(),
                                          constant(self._initial, dtype=v.dtype)))

    def _apply_dense(self, grad, var):
        acc = self.get_slot(var, "accumulator")._variable
        return apply_adagrad(var._variable, acc, self._lr(self._learning_rate, var), grad,
                             use_locking=self._use_locking).op

    def _apply_sparse(self, grad, var):
        acc = self.get_slot(var, "accumulator")._variable
        return sparse_apply_adagrad(var._variable, acc, self._lr(self._learning_rate, var),
                                    grad.values, grad.indices,
                                    use_locking=self._use_locking).op


@op("ApplyAdadelta", shape=S.apply_update_shape, same_dtype=True, ref_inputs=(0, 1, 2),
    stateful=True)
def apply_adadelta(xp, var, accum, accum_update, lr, rho, epsilon, grad, *, use_locking=False):
    one = xp.ones((), dtype=grad.dtype)
    a = accum.get() * rho + grad * grad * (one - rho)
    au_old = accum_update.get()
    update = xp.sqrt(au_old + epsilon) * (one / xp.sqrt(a + epsilon)) * grad
    new = var.get() - update * lr
    au = au_old * rho + update * update * (one - rho)
    accum.set(xp.asarray(a))
    accum_update.set(xp.asarray(au))
    new = xp.asarray(new)   # 0-d math gives numpy scalars; variables hold arrays
    var.set(new)
    return new


class AdadeltaOptimizer(Optimizer):
    """``tf.train.AdadeltaOptimizer(learning_rate=0.001, rho=0.95, epsilon=1e-08)``::

        accum = rho * accum + (1 - rho) * g * g
        update = sqrt(accum_update + eps) / sqrt(accum + eps) * g
        var -= lr * update
        accum_update = rho * accum_update + (1 - rho) * update * update

    Slots: ``<var>/Adadelta`` (accum) and ``<var>/Adadelta_1`` (accum_update).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking: bool = False,
                 name: str = "Adadelta") -> None:
        super().__init__(use_locking, name)
        self._learning_rate, self._rho, self._epsilon = learning_rate, rho, epsilon

    def _create_slots(self, var_list) -> None:
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _apply_dense(self, grad, var):
        return apply_adadelta(var._variable, self.get_slot(var, "accum")._variable,
                              self.get_slot(var, "accum_update")._variable,
                              self._lr(self._learning_rate, var), self._lr(self._rho, var),
                              self._lr(self._epsilon, var), grad,
                              use_locking=self._use_locking).op

    def _apply_sparse(self, grad, var):
        return sparse_apply_adadelta(var._variable, self.get_slot(var, "accum")._variable,
                                     self.get_slot(var, "accum_update")._variable,
                                     self._lr(self._learning_rate, var),
                                     self._lr(self._rho, var), self._lr(self._epsilon, var),
                                     grad.values, grad.indices,
                                     use_locking=self._use_locking).op
