"""``tf.layers.BatchNormalization`` / ``batch_normalization``.

Training normalises with the batch statistics and returns the update ops of the moving
mean and variance through ``UPDATE_OPS`` (run them with the train op, as in TF1::

    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = optimizer.minimize(loss)

Inference normalises with the moving statistics. ``training`` may be a Python bool or a
bool tensor. As in TF1, rank-4 inputs normalised over the channel axis take the "fused"
path, whose moving variance is fed the unbiased batch variance; other ranks feed the
biased one.
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.layers.base import Layer
from flowgrad.layers.core import is_static_bool
from flowgrad.ops import array_ops as A
from flowgrad.ops import init_ops as I
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_impl
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S


class BatchNormalization(Layer):
    """Batch normalisation (Ioffe & Szegedy, 2015) with TF1's variables and defaults."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center: bool = True,
                 scale: bool = True, beta_initializer=I.zeros_initializer(),
                 gamma_initializer=I.ones_initializer(),
                 moving_mean_initializer=I.zeros_initializer(),
                 moving_variance_initializer=I.ones_initializer(), beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, fused=None,
                 trainable: bool = True, virtual_batch_size=None, adjustment=None, name=None,
                 **kwargs) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        if renorm:
            raise ValueError("BatchNormalization: renorm=True is not supported by flowgrad; "
                             "use renorm=False.")
        if virtual_batch_size is not None or adjustment is not None:
            raise ValueError("BatchNormalization: virtual_batch_size and adjustment are not "
                             "supported by flowgrad.")
        self.axis = axis
        self.momentum, self.epsilon = momentum, epsilon
        self.center, self.scale = center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint
        self.fused = fused

    def build(self, input_shape) -> None:
        shape = TensorShape(input_shape)
        if shape.ndims is None:
            raise ValueError(f"Input has undefined rank: {shape}")
        r = shape.ndims
        axes = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        self._axes = sorted(a % r for a in axes)
        for a in self._axes:
            if shape[a] is None:
                raise ValueError(f"Input has undefined `axis` dimension. Input shape: {shape}")
        if self.fused is None:
            self.fused = r == 4 and self._axes in ([1], [3])
        param_shape = [shape[a] for a in self._axes]
        dt = self.dtype if self.dtype is not None and self.dtype != _dt.float16 else _dt.float32
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight("gamma", shape=param_shape, dtype=dt,
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape=param_shape, dtype=dt,
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", shape=param_shape, dtype=dt,
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape=param_shape, dtype=dt,
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        self.built = True

    def _broadcast(self, t, rank):
        if self._axes == [rank - 1]:
            return t
        shape = [1] * rank
        for a in self._axes:
            shape[a] = -1 if len(self._axes) == 1 else t.shape[self._axes.index(a)]
        return A.reshape(t, shape)

    def call(self, inputs, training=False):
        x = convert_to_tensor(inputs)
        rank = x.shape.ndims
        reduce_axes = [i for i in range(rank) if i not in self._axes]
        b = lambda t: self._broadcast(t, rank)  # noqa: E731
        gamma = None if self.gamma is None else b(self.gamma.value())
        beta = None if self.beta is None else b(self.beta.value())
        mm, mv = self.moving_mean.value(), self.moving_variance.value()
        if is_static_bool(training) and not training:
            return nn_impl.batch_normalization(x, b(mm), b(mv), beta, gamma, self.epsilon)

        if self.fused and rank == 4 and self._axes in ([1], [3]):
            return self._fused(x, training, mm, mv)
        mean, var = nn_impl.moments(x, reduce_axes)
        if self.fused:
            n = _count(x, reduce_axes)
            var_for_update = var * (n / M.maximum(n - 1.0, convert_to_tensor(1.0, x.dtype)))
        else:
            var_for_update = var
        if is_static_bool(training):
            momentum = convert_to_tensor(self.momentum, dtype=mm.dtype)
            use_mean, use_var = mean, var
        else:
            training = convert_to_tensor(training)
            one = convert_to_tensor(1.0, dtype=mm.dtype)
            momentum = M.where(training, convert_to_tensor(self.momentum, dtype=mm.dtype), one)
            use_mean = M.where(training, mean, mm)
            use_var = M.where(training, var, mv)
        out = nn_impl.batch_normalization(x, b(use_mean), b(use_var), beta, gamma,
                                          self.epsilon)
        updates = [_assign_moving_average(self.moving_mean, mean, momentum),
                   _assign_moving_average(self.moving_variance, var_for_update, momentum)]
        self.add_update(updates, inputs=True)
        return out

    def _fused(self, x, training, mm, mv):
        """Rank 4: one FusedBatchNormV3 op (and FusedBatchNormGradV3 backward), as TF1 builds
        it; a ``training`` tensor picks the training or the inference op with ``tf.cond``
        (TF1's ``smart_cond``), and the moving averages then move by zero in inference."""
        fmt = "NCHW" if self._axes == [1] else "NHWC"
        c = x.shape[self._axes[0]]
        pdt = mm.dtype
        g = self.gamma.value() if self.gamma is not None else A.ones([c], pdt)
        o = self.beta.value() if self.beta is not None else A.zeros([c], pdt)

        def train():
            return nn_impl.fused_batch_norm(x, g, o, epsilon=self.epsilon, data_format=fmt,
                                            is_training=True)

        def infer():
            return nn_impl.fused_batch_norm(x, g, o, mm, mv, epsilon=self.epsilon,
                                            data_format=fmt, is_training=False)
        if is_static_bool(training):
            out, mean, var = train()
        else:
            from flowgrad.ops.control_flow import cond  # noqa: PLC0415 (import cycle)
            out, mean, var = cond(convert_to_tensor(training), train, infer)
        momentum = convert_to_tensor(self.momentum, dtype=pdt)
        self.add_update([_assign_moving_average(self.moving_mean, mean, momentum),
                         _assign_moving_average(self.moving_variance, var, momentum)],
                        inputs=True)
        return out


def _count(x, axes):
    dims = [x.shape[a] for a in axes]
    if all(d is not None for d in dims):
        n = 1
        for d in dims:
            n *= d
        return convert_to_tensor(float(n), dtype=x.dtype)
    return M.cast(R.reduce_prod(A.gather(A.shape(x), axes)), x.dtype)


def _assign_moving_average(variable, value, momentum):
    """``variable -= (variable - value) * (1 - momentum)`` (TF1's assign_moving_average)."""
    with name_scope(None, "AssignMovingAvg") as scope:
        decay = 1.0 - momentum
        delta = (variable.value() - M.cast(value, variable.dtype)) * decay
        return S.assign_sub(variable, delta, name=scope)


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                        beta_initializer=I.zeros_initializer(),
                        gamma_initializer=I.ones_initializer(),
                        moving_mean_initializer=I.zeros_initializer(),
                        moving_variance_initializer=I.ones_initializer(),
                        beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                        gamma_constraint=None, training=False, trainable=True, name=None,
                        reuse=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                        fused=None, virtual_batch_size=None, adjustment=None):
    """Functional ``BatchNormalization``; ``training`` selects batch or moving statistics."""
    layer = BatchNormalization(
        axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
        beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
        moving_mean_initializer=moving_mean_initializer,
        moving_variance_initializer=moving_variance_initializer,
        beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
        beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, renorm=renorm,
        renorm_clipping=renorm_clipping, renorm_momentum=renorm_momentum, fused=fused,
        trainable=trainable, virtual_batch_size=virtual_batch_size, adjustment=adjustment,
        name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs, training=training)
