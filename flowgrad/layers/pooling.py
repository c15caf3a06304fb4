"""``tf.layers.MaxPooling2D``, ``AveragePooling2D`` (and 1-D) with their functional forms."""

from __future__ import annotations

from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.layers.base import Layer
from flowgrad.layers.convolutional import _conv_out, _nn_format, _padding, _tuple
from flowgrad.ops import pool_ops as P


class _Pooling(Layer):
    rank = 2
    pool_fn = None

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last",
                 name=None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.pool_size = _tuple(pool_size, self.rank, "pool_size")
        self.strides = _tuple(pool_size if strides is None else strides, self.rank, "strides")
        self.padding = _padding(padding)
        self.data_format = data_format or "channels_last"
        self.nn_format = _nn_format(self.data_format, self.rank)

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        last = self.data_format == "channels_last"
        if self.rank == 1:
            fn = P.max_pool1d if self.pool_fn == "max" else P.avg_pool1d
            return fn(x, self.pool_size[0], self.strides[0], self.padding, self.nn_format)
        fn = P.max_pool if self.pool_fn == "max" else P.avg_pool
        ksize = [1, *self.pool_size, 1] if last else [1, 1, *self.pool_size]
        strides = [1, *self.strides, 1] if last else [1, 1, *self.strides]
        return fn(x, ksize=ksize, strides=strides, padding=self.padding,
                  data_format=self.nn_format)

    def compute_output_shape(self, input_shape) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        last = self.data_format == "channels_last"
        sp = s[1:1 + self.rank] if last else s[2:2 + self.rank]
        out = [_conv_out(d, k, st, 1, self.padding) for d, k, st in
               zip(sp, self.pool_size, self.strides)]
        return TensorShape([s[0], *out, s[-1]] if last else [s[0], s[1], *out])


class MaxPooling2D(_Pooling):
    """The maximum over each ``pool_size`` window."""

    pool_fn = "max"


class AveragePooling2D(_Pooling):
    """The mean over each window (``same`` padding averages the valid cells only, as TF)."""

    pool_fn = "avg"


class MaxPooling1D(_Pooling):
    rank, pool_fn = 1, "max"


class AveragePooling1D(_Pooling):
    rank, pool_fn = 1, "avg"


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last",
                  name=None):
    """Functional ``MaxPooling2D`` (``tf.layers.max_pooling2d``)."""
    return MaxPooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid",
                      data_format="channels_last", name=None):
    """Functional ``AveragePooling2D`` (``tf.layers.average_pooling2d``)."""
    return AveragePooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def max_pooling1d(inputs, pool_size, strides, padding="valid", data_format="channels_last",
                  name=None):
    return MaxPooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling1d(inputs, pool_size, strides, padding="valid",
                      data_format="channels_last", name=None):
    return AveragePooling1D(pool_size, strides, padding, data_format, name=name).apply(inputs)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
