"""``tf.layers.MaxPooling2D`` / ``AveragePooling2D`` and their functional forms."""

from __future__ import annotations

from flowgrad.layers.base import Layer
from flowgrad.ops.pool_ops import avg_pool, max_pool


class _Pooling2D(Layer):
    _fn = staticmethod(max_pool)

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last",
                 name=None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        pair = lambda v: [int(v)] * 2 if isinstance(v, int) else [int(a) for a in v]  # noqa: E731
        self.pool_size, self.strides = pair(pool_size), pair(strides)
        self.padding = padding.upper()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                             f"{data_format!r}")
        self.data_format = data_format

    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs):
        fmt = "NHWC" if self.data_format == "channels_last" else "NCHW"
        return type(self)._fn(inputs, self.pool_size, self.strides, self.padding,
                              data_format=fmt)


class MaxPooling2D(_Pooling2D):
    """Max pooling over 2-D windows."""

    _fn = staticmethod(max_pool)


class AveragePooling2D(_Pooling2D):
    """Average pooling over 2-D windows (SAME: padding cells are not counted)."""

    _fn = staticmethod(avg_pool)


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last",
                  name=None):
    """Functional form of ``MaxPooling2D``."""
    return MaxPooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last",
                      name=None):
    """Functional form of ``AveragePooling2D``."""
    return AveragePooling2D(pool_size, strides, padding, data_format, name=name).apply(inputs)
