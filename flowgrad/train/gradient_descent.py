"""Plain stochastic gradient descent: ``var -= learning_rate * grad``."""

from __future__ import annotations

from flowgrad.framework.registry import op
from flowgrad.ops import state_ops as S
from flowgrad.train.optimizer import Optimizer


@op("ApplyGradientDescent", shape=S.apply_update_shape, same_dtype=True, ref_inputs=(0,),
    stateful=True)
def apply_gradient_descent(xp, var, alpha, delta, *, use_locking=False):
    new = xp.asarray(delta * alpha)   # a fresh array (0-d math gives numpy scalars)
    if new.ndim:
        xp.subtract(var.get(), new, out=new)   # in place on the fresh array only
    else:
        new = xp.asarray(var.get() - new)
    var.set(new)
    return new


@op("SparseApplyGradientDescent", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype),
    ref_inputs=(0,), stateful=True, may_alias=True)
def sparse_apply_gradient_descent(xp, var, alpha, values, indices, *, use_locking=False):
    """``var[indices] -= alpha * values`` touching only those rows (repeats summed)."""
    from flowgrad.ops.array_ops import _scatter_add  # noqa: PLC0415
    arr = var.writable_rows(indices)
    upd = xp.asarray(values * -alpha, dtype=arr.dtype)
    _scatter_add(xp, arr, xp.asarray(indices).reshape(-1), upd.reshape((-1,) + arr.shape[1:]))
    return arr


class GradientDescentOptimizer(Optimizer):
    """``tf.train.GradientDescentOptimizer(learning_rate)``."""

    def __init__(self, learning_rate, use_locking: bool = False,
                 name: str = "GradientDescent") -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var):
        return apply_gradient_descent(var._variable, self._lr(self._learning_rate, var),
                                      grad).op

    def _apply_sparse(self, grad, var):
        return sparse_apply_gradient_descent(var._variable,
                                             self._lr(self._learning_rate, var),
                                             grad.values, grad.indices).op
