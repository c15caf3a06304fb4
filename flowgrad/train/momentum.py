"""Momentum (heavy-ball and Nesterov): ``accum = momentum * accum + grad``."""

from __future__ import annotations

from flowgrad.framework.registry import op
from flowgrad.train.optimizer import Optimizer
from flowgrad.train.sparse_apply import sparse_apply_momentum


def _momentum_shape(node):
    # ApplyMomentum's inputs are (var, accum, lr, grad, momentum): the grad is not last
    var, grad = node.inputs[0], node.inputs[3]
    if not var.shape.is_compatible_with(grad.shape):
        node.fail(f"gradient shape {grad.shape} does not match variable '{var.op.name}' of "
                  f"shape {var.shape}")
    return var.shape, var.dtype


@op("ApplyMomentum", shape=_momentum_shape, same_dtype=True, ref_inputs=(0, 1),
    stateful=True)
def apply_momentum(xp, var, accum, lr, grad, momentum, *, use_locking=False,
                   use_nesterov=False):
    a = accum.get() * momentum + grad
    if use_nesterov:
        new = var.get() - (grad * lr + a * momentum * lr)
    else:
        new = var.get() - a * lr
    accum.set(xp.asarray(a))
    new = xp.asarray(new)   # 0-d math gives numpy scalars; variables hold arrays
    var.set(new)
    return new


class MomentumOptimizer(Optimizer):
    """``tf.train.MomentumOptimizer(learning_rate, momentum, use_nesterov=False)``.

    ``accum = accum * momentum + grad``; then ``var -= lr * accum``, or with Nesterov
    ``var -= lr * grad + lr * momentum * accum``. Slot: ``<var>/Momentum``.
    """

    def __init__(self, learning_rate, momentum, use_locking: bool = False,
                 name: str = "Momentum", use_nesterov: bool = False) -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list) -> None:
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        accum = self.get_slot(var, "momentum")
        return apply_momentum(var._variable, accum._variable, self._lr(self._learning_rate, var),
                              grad, self._lr(self._momentum, var),
                              use_locking=self._use_locking,
                              use_nesterov=self._use_nesterov).op

    def _apply_sparse(self, grad, var):
        accum = self.get_slot(var, "momentum")
        return sparse_apply_momentum(var._variable, accum._variable,
                                     self._lr(self._learning_rate, var),
                                     self._lr(self._momentum, var), grad.values, grad.indices,
                                     use_locking=self._use_locking,
                                     use_nesterov=self._use_nesterov).op
