"""Plain stochastic gradient descent: ``var -= learning_rate * grad``."""

from __future__ import annotations

from flowgrad.framework.registry import op
from flowgrad.ops import state_ops as S
from flowgrad.train.optimizer import Optimizer


@op("ApplyGradientDescent", shape=S.apply_update_shape, same_dtype=True, ref_inputs=(0,),
    stateful=True)
def apply_gradient_descent(xp, var, alpha, delta, *, use_locking=False):
    new = xp.asarray(delta * alpha)   # fresh (0-d products are numpy scalars); the old
    new = xp.subtract(var.get(), new, out=new if new.ndim else None)  # value stays intact
    var.set(new)
    return new


class GradientDescentOptimizer(Optimizer):
    """``tf.train.GradientDescentOptimizer(learning_rate)``."""

    def __init__(self, learning_rate, use_locking: bool = False,
                 name: str = "GradientDescent") -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var):
        return apply_gradient_descent(var._variable, self._lr(self._learning_rate, var),
                                      grad).op
