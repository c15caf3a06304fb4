"""``tf.layers.Dense``, ``Dropout``, ``Flatten`` and their functional forms."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.layers.base import Layer
from flowgrad.ops import array_ops as A
from flowgrad.ops import init_ops as I
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_impl
from flowgrad.ops import nn_ops as N


def is_static_bool(training) -> bool:
    return isinstance(training, (bool, np.bool_)) or training is None


class Dense(Layer):
    """``outputs = activation(inputs @ kernel + bias)``; variables ``<name>/kernel``,
    ``<name>/bias``. Inputs of rank > 2 are contracted on their last axis."""

    def __init__(self, units, activation=None, use_bias: bool = True, kernel_initializer=None,
                 bias_initializer=I.zeros_initializer(), kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, trainable: bool = True, name=None, **kwargs) -> None:
        super().__init__(trainable=trainable, name=name,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        if self.units <= 0:
            raise ValueError(f"Dense: units must be positive, got {units}")
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def build(self, input_shape) -> None:
        input_shape = TensorShape(input_shape)
        if input_shape.ndims is None or input_shape[-1] is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. "
                             f"Found `None` (input shape {input_shape}).")
        last = input_shape[-1]
        self.kernel = self.add_weight("kernel", shape=[last, self.units],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, dtype=self.dtype)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.units],
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, dtype=self.dtype)
        self.built = True

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        if x.dtype != self.dtype:
            x = M.cast(x, self.dtype)
        rank = x.shape.ndims
        if rank is not None and rank > 2:
            flat = A.reshape(x, [-1, x.shape[-1]])
            y = M.matmul(flat, self.kernel)
            lead = x.shape.as_list()[:-1]
            if all(d is not None for d in lead[1:]):
                y = A.reshape(y, [-1] + lead[1:] + [self.units])
            else:
                y = A.reshape(y, A.concat([A.shape(x)[:-1], [self.units]], 0))
        else:
            y = M.matmul(x, self.kernel)
        if self.use_bias:
            y = N.bias_add(y, self.bias)
        if self.activation is not None:
            y = self.activation(y)
        return y

    def compute_output_shape(self, input_shape) -> TensorShape:
        s = TensorShape(input_shape)
        return TensorShape(s.as_list()[:-1] + [self.units])


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=I.zeros_initializer(), kernel_regularizer=None,
          bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
          bias_constraint=None, trainable=True, name=None, reuse=None):
    """Functional form of ``Dense``: creates the layer and applies it to ``inputs``."""
    layer = Dense(units, activation=activation, use_bias=use_bias,
                  kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                  kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                  activity_regularizer=activity_regularizer,
                  kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                  trainable=trainable, name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs)


class Dropout(Layer):
    """Dropout that is active only when called with ``training=True`` (or a true tensor)."""

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.rate, self.noise_shape, self.seed = rate, noise_shape, seed

    def call(self, inputs, training=False):
        x = convert_to_tensor(inputs)
        if is_static_bool(training):
            if not training:
                return A.identity(x)
            return nn_impl.dropout(x, rate=self.rate, noise_shape=self.noise_shape,
                                   seed=self.seed)
        training = convert_to_tensor(training)
        if training.dtype != _dt.bool_:
            raise TypeError(f"Dropout: training must be a bool or a bool tensor, got "
                            f"{training.dtype.name}")
        dropped = nn_impl.dropout(x, rate=self.rate, noise_shape=self.noise_shape,
                                  seed=self.seed)
        return M.where(training, dropped, x)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Functional ``Dropout``: the identity unless ``training``."""
    return Dropout(rate, noise_shape=noise_shape, seed=seed, name=name).apply(
        inputs, training=training)


class Flatten(Layer):
    """Flattens every dimension but the batch one (channels-last order)."""

    def __init__(self, data_format="channels_last", name=None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format must be channels_last or channels_first, got "
                             f"{data_format!r}")
        self.data_format = data_format

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        r = x.shape.ndims
        if self.data_format == "channels_first" and r is not None and r > 2:
            x = A.transpose(x, [0] + list(range(2, r)) + [1])
        rest = x.shape.as_list()[1:] if r is not None else None
        if rest is not None and all(d is not None for d in rest):
            return A.reshape(x, [-1, int(np.prod(rest))])
        return A.reshape(x, A.stack([A.shape(x)[0], -1]))

    def compute_output_shape(self, input_shape) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        rest = s[1:]
        return TensorShape([s[0], int(np.prod(rest)) if all(d is not None for d in rest)
                            else None])


def flatten(inputs, name=None, data_format="channels_last"):
    """Functional ``Flatten``."""
    return Flatten(data_format=data_format, name=name).apply(inputs)
