"""``tf.layers.Conv2D`` / ``Conv2DTranspose`` and their functional forms (TF1 variable
names ``conv2d/kernel``, ``conv2d/bias``)."""

from __future__ import annotations

from flowgrad.framework.shapes import TensorShape
from flowgrad.layers.base import Layer
from flowgrad.ops import array_ops as A
from flowgrad.ops import init_ops as I
from flowgrad.ops import nn_ops as N
from flowgrad.ops.conv_geometry import out_size
from flowgrad.ops.conv_ops import conv2d as _conv2d
from flowgrad.ops.conv_ops import conv2d_transpose as _conv2d_transpose


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(a) for a in v)


def _nchw(data_format: str) -> bool:
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    return data_format == "channels_first"


class Conv2D(Layer):
    """2-D convolution layer: ``activation(conv2d(inputs, kernel) + bias)``."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1), activation=None,
                 use_bias=True, kernel_initializer=None, bias_initializer=I.zeros_initializer(),
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                 **kwargs) -> None:
        super().__init__(trainable=trainable, name=name,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.filters = int(filters)
        self.kernel_size, self.strides = _pair(kernel_size), _pair(strides)
        self.dilation_rate = _pair(dilation_rate)
        self.padding = padding.upper()
        self.data_format = data_format
        self._fmt = "NCHW" if _nchw(data_format) else "NHWC"
        self.activation, self.use_bias = activation, use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def _channels(self, input_shape) -> int:
        s = TensorShape(input_shape)
        c = s[1 if self._fmt == "NCHW" else -1] if s.ndims == 4 else None
        if c is None:
            raise ValueError(f"{type(self).__name__}: the channel dimension of the inputs "
                             f"should be defined (input shape {s}, {self.data_format})")
        return c

    def _kernel_shape(self, c: int) -> list[int]:
        return [*self.kernel_size, c, self.filters]

    def build(self, input_shape) -> None:
        c = self._channels(input_shape)
        self.kernel = self.add_weight("kernel", shape=self._kernel_shape(c),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, dtype=self.dtype)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.filters],
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, dtype=self.dtype)
        self.built = True

    def _op(self, x):
        return _conv2d(x, self.kernel, list(self.strides), self.padding,
                       data_format=self._fmt, dilations=list(self.dilation_rate))

    def call(self, inputs):
        y = self._op(inputs)
        if self.use_bias:
            y = N.bias_add(y, self.bias, data_format=self._fmt)
        if self.activation is not None:
            y = self.activation(y)
        return y

    def compute_output_shape(self, input_shape) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        sp = [1, 2] if self._fmt == "NHWC" else [2, 3]
        for i, ax in enumerate(sp):
            s[ax] = out_size(s[ax], self.kernel_size[i], self.strides[i], self.dilation_rate[i],
                             self.padding)
        s[3 if self._fmt == "NHWC" else 1] = self.filters
        return TensorShape(s)


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution; the kernel is ``[h, w, filters, in_channels]``."""

    def _kernel_shape(self, c: int) -> list[int]:
        return [*self.kernel_size, self.filters, c]

    def _op(self, x):
        nhwc = self._fmt == "NHWC"
        dims = x.shape.as_list()
        sp = [1, 2] if nhwc else [2, 3]
        out = []
        for i, ax in enumerate(sp):
            n, k, s = dims[ax], self.kernel_size[i], self.strides[i]
            out.append(n * s if self.padding == "SAME" else n * s + max(k - s, 0))
        dyn = A.shape(x)
        shape = [dyn[0], out[0], out[1], self.filters] if nhwc else \
            [dyn[0], self.filters, out[0], out[1]]
        return _conv2d_transpose(x, self.kernel, A.stack(shape), list(self.strides),
                                 self.padding, data_format=self._fmt)


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1), activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer=I.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable=True, name=None, reuse=None):
    """Functional form of ``Conv2D``."""
    layer = Conv2D(filters, kernel_size, strides=strides, padding=padding,
                   data_format=data_format, dilation_rate=dilation_rate, activation=activation,
                   use_bias=use_bias, kernel_initializer=kernel_initializer,
                   bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                   bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                   kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
                   trainable=trainable, name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs)


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
                     data_format="channels_last", activation=None, use_bias=True,
                     kernel_initializer=None, bias_initializer=I.zeros_initializer(),
                     kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                     kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                     reuse=None):
    """Functional form of ``Conv2DTranspose``."""
    layer = Conv2DTranspose(filters, kernel_size, strides=strides, padding=padding,
                            data_format=data_format, activation=activation, use_bias=use_bias,
                            kernel_initializer=kernel_initializer,
                            bias_initializer=bias_initializer,
                            kernel_regularizer=kernel_regularizer,
                            bias_regularizer=bias_regularizer,
                            activity_regularizer=activity_regularizer,
                            kernel_constraint=kernel_constraint,
                            bias_constraint=bias_constraint, trainable=trainable, name=name,
                            _scope=name, _reuse=reuse)
    return layer.apply(inputs)
