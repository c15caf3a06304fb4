"""``tf.layers.Conv3D``, ``Conv3DTranspose``, ``SeparableConv1D``, ``SeparableConv2D``,
``MaxPooling3D``, ``AveragePooling3D`` and their functional forms.

Variables are named as in TF1: ``conv3d/kernel`` (``[kd, kh, kw, in, filters]``; transposed
``[kd, kh, kw, filters, in]``), ``conv3d/bias``; ``separable_conv2d/depthwise_kernel``
(``[kh, kw, in, depth_multiplier]``), ``separable_conv2d/pointwise_kernel``
(``[1, 1, in * depth_multiplier, filters]``), ``separable_conv2d/bias``.
"""

from __future__ import annotations

from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.layers.convolutional import _Conv, _conv_out, _functional
from flowgrad.layers.pooling import _Pooling
from flowgrad.ops import array_ops as A
from flowgrad.ops import conv3d_ops as C3
from flowgrad.ops import conv_extra as CX
from flowgrad.ops import pool3d_ops as P3
from flowgrad.ops import init_ops as I


def _full(v: tuple, last: bool) -> list[int]:
    return [1, *v, 1] if last else [1, 1, *v]


def _deconv_len(size, k: int, s: int, padding: str):
    """TF1's output length of a transposed convolution (``size`` an int or a tensor)."""
    return size * s if padding == "SAME" else size * s + max(k - s, 0)


class Conv3D(_Conv):
    """3-D convolution layer: ``activation(conv3d(inputs, kernel) + bias)``."""

    rank = 3

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1, 1), **kwargs) -> None:
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, **kwargs)

    def call(self, inputs):
        x = self._input(inputs)
        last = self.data_format == "channels_last"
        y = C3.conv3d(x, self.kernel, strides=_full(self.strides, last), padding=self.padding,
                      data_format=self.nn_format, dilations=_full(self.dilation_rate, last))
        return self._finish(y)

    compute_output_shape = _Conv._conv_output_shape


class Conv3DTranspose(Conv3D):
    """Transposed 3-D convolution; the kernel is ``[kd, kh, kw, filters, in_channels]``."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format="channels_last", **kwargs) -> None:
        if kwargs.get("dilation_rate", 1) not in (1, (1, 1, 1), [1, 1, 1]):
            raise ValueError("Conv3DTranspose supports only dilation_rate=1")
        kwargs.pop("dilation_rate", None)
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, **kwargs)

    def _kernel_shape(self, in_channels: int) -> list[int]:
        return list(self.kernel_size) + [self.filters, in_channels]

    def call(self, inputs):
        x = self._input(inputs)
        last = self.data_format == "channels_last"
        ax = (1, 2, 3) if last else (2, 3, 4)
        dyn = A.shape(x)
        sizes, static = [], []
        for i, k, s in zip(ax, self.kernel_size, self.strides):
            d = x.shape[i]
            sizes.append(_deconv_len(int(d) if d is not None else dyn[i], k, s, self.padding))
            static.append(None if d is None else _deconv_len(int(d), k, s, self.padding))
        batch = x.shape[0] if x.shape[0] is not None else dyn[0]
        out_shape = [batch, *sizes, self.filters] if last else [batch, self.filters, *sizes]
        out_shape = A.stack([convert_to_tensor(d) if isinstance(d, int) else d
                             for d in out_shape])
        y = C3.conv3d_transpose(x, self.kernel, out_shape, strides=_full(self.strides, last),
                                padding=self.padding, data_format=self.nn_format)
        y.set_shape([x.shape[0], *static, self.filters] if last else
                    [x.shape[0], self.filters, *static])
        return self._finish(y)

    def compute_output_shape(self, input_shape) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        last = self.data_format == "channels_last"
        sp = s[1:4] if last else s[2:5]
        out = [None if d is None else _deconv_len(d, k, st, self.padding)
               for d, k, st in zip(sp, self.kernel_size, self.strides)]
        return TensorShape([s[0], *out, self.filters] if last else [s[0], self.filters, *out])


class SeparableConv2D(_Conv):
    """Depthwise separable 2-D convolution: a depthwise convolution (``depth_multiplier``
    outputs per input channel) followed by a 1x1 convolution to ``filters`` channels."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1), depth_multiplier=1,
                 activation=None, use_bias=True, depthwise_initializer=None,
                 pointwise_initializer=None, bias_initializer=I.zeros_initializer(),
                 depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, trainable=True, name=None,
                 **kwargs) -> None:
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         bias_constraint=bias_constraint, trainable=trainable, name=name,
                         **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.pointwise_regularizer = pointwise_regularizer
        self.depthwise_constraint = depthwise_constraint
        self.pointwise_constraint = pointwise_constraint

    def build(self, input_shape) -> None:
        # depthwise [*kernel_size, in, depth_multiplier], pointwise [1...1, in * dm, filters]
        c = self._in_channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", shape=[*self.kernel_size, c, self.depth_multiplier],
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint, dtype=self.dtype)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", shape=[*[1] * self.rank, c * self.depth_multiplier,
                                       self.filters],
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, dtype=self.dtype)
        self._build_bias()

    def call(self, inputs):
        x = self._input(inputs)
        last = self.data_format == "channels_last"
        y = CX.separable_conv2d(x, self.depthwise_kernel, self.pointwise_kernel,
                                strides=_full(self.strides, last), padding=self.padding,
                                rate=list(self.dilation_rate), data_format=self.nn_format)
        return self._finish(y)

    compute_output_shape = _Conv._conv_output_shape


class SeparableConv1D(SeparableConv2D):
    """Depthwise separable 1-D convolution over ``[batch, width, channels]`` inputs
    (``depthwise_kernel`` ``[k, in, depth_multiplier]``, ``pointwise_kernel``
    ``[1, in * depth_multiplier, filters]``), run as a height-1 ``SeparableConv2D``."""

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid",
                 data_format="channels_last", dilation_rate=1, depth_multiplier=1,
                 **kwargs) -> None:
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         depth_multiplier=depth_multiplier, **kwargs)

    def call(self, inputs):
        x = self._input(inputs)
        last = self.data_format == "channels_last"
        axis = 1 if last else 2
        y = CX.separable_conv2d(A.expand_dims(x, axis), A.expand_dims(self.depthwise_kernel, 0),
                                A.expand_dims(self.pointwise_kernel, 0),
                                strides=_full((1, self.strides[0]), last),
                                padding=self.padding, rate=[1, self.dilation_rate[0]],
                                data_format="NHWC" if last else "NCHW")
        return self._finish(A.squeeze(y, [axis]))

    def compute_output_shape(self, input_shape) -> TensorShape:
        s = TensorShape(input_shape).as_list()
        last = self.data_format == "channels_last"
        w = _conv_out(s[1] if last else s[2], self.kernel_size[0], self.strides[0],
                      self.dilation_rate[0], self.padding)
        return TensorShape([s[0], w, self.filters] if last else [s[0], self.filters, w])


class _Pooling3D(_Pooling):
    rank = 3

    def call(self, inputs):
        last = self.data_format == "channels_last"
        fn = P3.max_pool3d if self.pool_fn == "max" else P3.avg_pool3d
        return fn(convert_to_tensor(inputs), ksize=_full(self.pool_size, last),
                  strides=_full(self.strides, last), padding=self.padding,
                  data_format=self.nn_format)


class MaxPooling3D(_Pooling3D):
    """The maximum over each ``pool_size`` window of a 5-D input."""

    pool_fn = "max"


class AveragePooling3D(_Pooling3D):
    """The mean over each window (``same`` padding averages the valid cells only)."""

    pool_fn = "avg"


def conv3d(inputs, filters, kernel_size, strides=(1, 1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1, 1), activation=None,
           use_bias=True, kernel_initializer=None, bias_initializer=I.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):
    """Functional ``Conv3D`` (``tf.layers.conv3d``)."""
    return _functional(Conv3D, locals())


def conv3d_transpose(inputs, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                     data_format="channels_last", activation=None, use_bias=True,
                     kernel_initializer=None, bias_initializer=I.zeros_initializer(),
                     kernel_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                     trainable=True, name=None, reuse=None):
    """Functional ``Conv3DTranspose`` (``tf.layers.conv3d_transpose``)."""
    return _functional(Conv3DTranspose, locals())


def separable_conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
                     data_format="channels_last", dilation_rate=(1, 1), depth_multiplier=1,
                     activation=None, use_bias=True, depthwise_initializer=None,
                     pointwise_initializer=None, bias_initializer=I.zeros_initializer(),
                     depthwise_regularizer=None, pointwise_regularizer=None,
                     bias_regularizer=None, activity_regularizer=None,
                     depthwise_constraint=None, pointwise_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):
    """Functional ``SeparableConv2D`` (``tf.layers.separable_conv2d``)."""
    return _functional(SeparableConv2D, locals())


def separable_conv1d(inputs, filters, kernel_size, strides=1, padding="valid",
                     data_format="channels_last", dilation_rate=1, depth_multiplier=1,
                     activation=None, use_bias=True, depthwise_initializer=None,
                     pointwise_initializer=None, bias_initializer=I.zeros_initializer(),
                     depthwise_regularizer=None, pointwise_regularizer=None,
                     bias_regularizer=None, activity_regularizer=None,
                     depthwise_constraint=None, pointwise_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):
    """Functional ``SeparableConv1D`` (``tf.layers.separable_conv1d``)."""
    return _functional(SeparableConv1D, locals())


def max_pooling3d(inputs, pool_size, strides, padding="valid", data_format="channels_last",
                  name=None):
    """Functional ``MaxPooling3D`` (``tf.layers.max_pooling3d``)."""
    return MaxPooling3D(pool_size, strides, padding, data_format, name=name).apply(inputs)


def average_pooling3d(inputs, pool_size, strides, padding="valid",
                      data_format="channels_last", name=None):
    """Functional ``AveragePooling3D`` (``tf.layers.average_pooling3d``)."""
    return AveragePooling3D(pool_size, strides, padding, data_format, name=name).apply(inputs)


Convolution3D = Conv3D
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
MaxPool3D = MaxPooling3D
AvgPool3D = AveragePooling3D
