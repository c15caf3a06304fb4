"""``tf.layers.Conv2D``, ``Conv2DTranspose``, ``Conv1D`` and their functional forms.

Variables are named as in TF1: ``conv2d/kernel`` (``[kh, kw, in, filters]``; transposed
convolutions ``[kh, kw, filters, in]``) and ``conv2d/bias``.
"""

from __future__ import annotations

from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.layers.base import Layer
from flowgrad.ops import array_ops as A
from flowgrad.ops import conv_ops as C
from flowgrad.ops import init_ops as I
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N


def _tuple(v, n: int, what: str) -> tuple:
    if isinstance(v, int):
        return (v,) * n
    t = tuple(int(x) for x in v)
    if len(t) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _padding(p: str) -> str:
    p = str(p).upper()
    if p not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'same' or 'valid', got {p!r}")
    return p


def _nn_format(data_format: str, rank: int) -> str:
    if data_format in (None, "channels_last"):
        return {1: "NWC", 2: "NHWC", 3: "NDHWC"}[rank]
    if data_format == "channels_first":
        return {1: "NCW", 2: "NCHW", 3: "NCDHW"}[rank]
    raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                     f"{data_format!r}")


def _conv_out(size, k, s, d, padding):
    if size is None:
        return None
    eff = (k - 1) * d + 1
    return -(-size // s) if padding == "SAME" else max(0, -(-(size - eff + 1) // s))


class _Conv(Layer):
    """Shared machinery of N-D convolution layers (``rank`` spatial dimensions)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid",
                 data_format="channels_last", dilation_rate=1, activation=None,
                 use_bias: bool = True, kernel_initializer=None,
                 bias_initializer=I.zeros_initializer(), kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, trainable: bool = True, name=None, **kwargs) -> None:
        super().__init__(trainable=trainable, name=name,
                         activity_regularizer=activity_regularizer, **kwargs)
        self.filters = int(filters)
        if self.filters <= 0:
            raise ValueError(f"{type(self).__name__}: filters must be positive, got {filters}")
        self.kernel_size = _tuple(kernel_size, self.rank, "kernel_size")
        self.strides = _tuple(strides, self.rank, "strides")
        self.dilation_rate = _tuple(dilation_rate, self.rank, "dilation_rate")
        self.padding = _padding(padding)
        self.data_format = data_format or "channels_last"
        self.nn_format = _nn_format(self.data_format, self.rank)
        self.activation, self.use_bias = activation, use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.kernel_regularizer, self.bias_regularizer = kernel_regularizer, bias_regularizer
        self.kernel_constraint, self.bias_constraint = kernel_constraint, bias_constraint

    def _channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else -1

    def _kernel_shape(self, in_channels: int) -> list[int]:
        return list(self.kernel_size) + [in_channels, self.filters]

    def _in_channels(self, input_shape) -> int:
        """The channel count of ``input_shape``, checked to be of rank ``rank + 2`` with a
        known channel dimension."""
        shape = TensorShape(input_shape)
        if shape.ndims != self.rank + 2:
            raise ValueError(f"{type(self).__name__} expects inputs of rank {self.rank + 2}, "
                             f"got shape {shape}")
        c = shape[self._channel_axis()]
        if c is None:
            raise ValueError(f"The channel dimension of the inputs to {type(self).__name__} "
                             f"should be defined. Found `None` (input shape {shape}).")
        return int(c)

    def _build_bias(self) -> None:
        """Adds ``bias`` (``[filters]``) when ``use_bias`` and marks the layer built."""
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.filters],
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, dtype=self.dtype)
        self.built = True

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight("kernel", shape=self._kernel_shape(
                                          self._in_channels(input_shape)),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, dtype=self.dtype)
        self._build_bias()

    def _conv_output_shape(self, input_shape) -> TensorShape:
        """The output shape of a (non-transposed) convolution of ``input_shape``."""
        s = TensorShape(input_shape).as_list()
        last = self.data_format == "channels_last"
        sp = s[1:1 + self.rank] if last else s[2:2 + self.rank]
        out = [_conv_out(d, k, st, dl, self.padding) for d, k, st, dl in
               zip(sp, self.kernel_size, self.strides, self.dilation_rate)]
        return TensorShape([s[0], *out, self.filters] if last else [s[0], self.filters, *out])

    def _finish(self, y):
        if self.use_bias:
            y = N.bias_add(y, self.bias, data_format="NCHW" if self.data_format ==
                           "channels_first" else "NHWC")
        if self.activation is not None:
            y = self.activation(y)
        return y

    def _input(self, inputs):
        x = convert_to_tensor(inputs)
        return M.cast(x, self.dtype) if x.dtype != self.dtype else x


class Conv2D(_Conv):
    """2-D convolution layer: ``activation(conv2d(inputs, kernel) + bias)``."""

    rank = 2

    def call(self, inputs):
        x = self._input(inputs)
        nhwc = self.nn_format == "NHWC"
        strides = [1, *self.strides, 1] if nhwc else [1, 1, *self.strides]
        dil = [1, *self.dilation_rate, 1] if nhwc else [1, 1, *self.dilation_rate]
        y = C.conv2d(x, self.kernel, strides=strides, padding=self.padding,
                     data_format=self.nn_format, dilations=dil)
        return self._finish(y)

    compute_output_shape = _Conv._conv_output_shape


class Conv1D(_Conv):
    """1-D convolution layer over ``[batch, width, channels]`` inputs."""

    rank = 1

    def call(self, inputs):
        x = self._input(inputs)
        y = C.conv1d(x, self.kernel, stride=self.strides[0], padding=self.padding,
                     data_format=self.nn_format, dilations=self.dilation_rate[0])
        return self._finish(y)


class Conv2DTranspose(Conv2D):
    """Transposed 2-D convolution (the gradient of ``Conv2D`` with respect to its input);
    the kernel is ``[kh, kw, filters, in_channels]``."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format="channels_last", **kwargs) -> None:
        if kwargs.get("dilation_rate", 1) not in (1, (1, 1), [1, 1]):
            raise ValueError("Conv2DTranspose supports only dilation_rate=1")
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, **kwargs)

    def _kernel_shape(self, in_channels: int) -> list[int]:
        return list(self.kernel_size) + [self.filters, in_channels]

    def _out_size(self, size, k, s):
        """TF1's output size of a transposed convolution (``size`` int or tensor)."""
        return size * s if self.padding == "SAME" else size * s + max(k - s, 0)

    def call(self, inputs):
        x = self._input(inputs)
        last = self.data_format == "channels_last"
        ax = (1, 2) if last else (2, 3)
        dyn = A.shape(x)
        sizes = []
        for i, k, s in zip(ax, self.kernel_size, self.strides):
            d = x.shape[i]
            sizes.append(self._out_size(int(d), k, s) if d is not None else
                         self._out_size(dyn[i], k, s))
        batch = x.shape[0] if x.shape[0] is not None else dyn[0]
        out_shape = [batch, *sizes, self.filters] if last else [batch, self.filters, *sizes]
        out_shape = A.stack([d if not isinstance(d, int) else convert_to_tensor(d)
                             for d in out_shape])
        strides = [1, *self.strides, 1] if last else [1, 1, *self.strides]
        y = C.conv2d_transpose(x, self.kernel, out_shape, strides=strides,
                               padding=self.padding, data_format=self.nn_format)
        static = [x.shape[0]] + [None if x.shape[i] is None else
                                 self._out_size(int(x.shape[i]), k, s)
                                 for i, k, s in zip(ax, self.kernel_size, self.strides)]
        y.set_shape(static + [self.filters] if last else
                    [static[0], self.filters, *static[1:]])
        return self._finish(y)


def _functional(cls, args: dict):
    """Creates a ``cls`` layer from a functional call's arguments and applies it."""
    args = dict(args)
    inputs, filters, kernel_size = args.pop("inputs"), args.pop("filters"), \
        args.pop("kernel_size")
    name, reuse = args.pop("name"), args.pop("reuse")
    layer = cls(filters, kernel_size, name=name, _scope=name, _reuse=reuse, **args)
    return layer.apply(inputs)


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1), activation=None,
           use_bias=True, kernel_initializer=None, bias_initializer=I.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):
    """Functional ``Conv2D`` (``tf.layers.conv2d``)."""
    return _functional(Conv2D, locals())


def conv1d(inputs, filters, kernel_size, strides=1, padding="valid",
           data_format="channels_last", dilation_rate=1, activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer=I.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):
    """Functional ``Conv1D`` (``tf.layers.conv1d``)."""
    return _functional(Conv1D, locals())


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
                     data_format="channels_last", activation=None, use_bias=True,
                     kernel_initializer=None, bias_initializer=I.zeros_initializer(),
                     kernel_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                     trainable=True, name=None, reuse=None):
    """Functional ``Conv2DTranspose`` (``tf.layers.conv2d_transpose``)."""
    return _functional(Conv2DTranspose, locals())


Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
