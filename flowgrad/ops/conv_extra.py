"""Convolutions that TF1 composes from others: separable, atrous (dilated) and 1-D
transposed convolutions.

``separable_conv2d`` is a depthwise convolution (node ``depthwise``; with a rate above 1 it
runs on the space-to-batch form of the input, as TF1 builds it) followed by a 1x1
convolution; ``atrous_conv2d`` a dilated ``conv2d``; ``atrous_conv2d_transpose`` its
adjoint (a dilated ``Conv2DBackpropInput``, which equals TF1's space-to-batch
formulation); ``conv1d_transpose`` a ``Conv2DBackpropInput`` over a height-1 image.
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import constant, constant_shape, convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import conv_ops as C
from flowgrad.ops.conv_geometry import four
from flowgrad.ops.space_batch_ops import with_space_to_batch


def _pair(v, name: str) -> list[int]:
    if v is None:
        return [1, 1]
    vals = [int(v)] if isinstance(v, int) else [int(a) for a in v]
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2:
        raise ValueError(f"{name} must be an int or a list of 1 or 2 ints, got {v!r}")
    if min(vals) < 1:
        raise ValueError(f"{name} must be positive, got {v!r}")
    return vals


def _sizes(sizes) -> Tensor:
    """A shape argument (a tensor, a TensorShape or a list of ints and scalar tensors) as an
    int32 vector."""
    if isinstance(sizes, Tensor):
        return sizes
    dims = sizes.as_list() if hasattr(sizes, "as_list") else list(sizes)
    if any(isinstance(d, Tensor) for d in dims):
        return A.stack([convert_to_tensor(d, dtype=_dt.int32) for d in dims])
    return constant([int(d) for d in dims], _dt.int32, name="output_shape")


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding,  # noqa: A002
                     rate=None, name: str | None = None, data_format: str | None = None,
                     dilations=None) -> Tensor:
    """``tf.nn.separable_conv2d``: a depthwise convolution with ``depthwise_filter``
    (``[h, w, in_channels, multiplier]``, dilated by ``rate``), then a 1x1 convolution with
    ``pointwise_filter`` (``[1, 1, in_channels * multiplier, out_channels]``).

    >>> import flowgrad as tf, numpy as np
    >>> y = tf.nn.separable_conv2d(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 2)),
    ...                            np.ones((1, 1, 4, 3)), [1, 1, 1, 1], "VALID")
    >>> y.shape.as_list()
    [1, 3, 3, 3]
    """
    rate = _pair(dilations if rate is None else rate, "rate")
    data_format = data_format or "NHWC"
    with name_scope(name, "separable_conv2d",
                    [input, depthwise_filter, pointwise_filter]) as scope:
        x = convert_to_tensor(input, name="tensor_in")
        dw = convert_to_tensor(depthwise_filter, dtype=x.dtype, name="depthwise_filter")
        pw = convert_to_tensor(pointwise_filter, dtype=x.dtype, name="pointwise_filter")
        ps = pw.shape
        if ps.ndims is not None and (ps.ndims != 4 or ps[0] not in (None, 1)
                                     or ps[1] not in (None, 1)):
            raise ValueError(f"separable_conv2d: pointwise_filter must be [1, 1, in_channels * "
                             f"channel_multiplier, out_channels], got shape {ps}")
        ds = dw.shape
        if ds.ndims == 4 and ps.ndims == 4 and None not in (ds[2], ds[3], ps[2]) and \
                ds[2] * ds[3] != ps[2]:
            raise ValueError(f"separable_conv2d: the depthwise filter {ds} gives "
                             f"{ds[2] * ds[3]} channels but the pointwise filter {ps} expects "
                             f"{ps[2]}")
        s4 = four(strides, "strides", data_format)

        def depthwise_op(converted, _num_spatial_dims, pad):
            return C.depthwise_conv2d_native(converted, dw, s4, pad, data_format=data_format,
                                             name="depthwise")

        if max(rate) == 1:
            depthwise = depthwise_op(x, 2, padding)
        else:
            # as TF1: the depthwise convolution runs on the space-to-batch form of the input
            # (which also fixes what strides > 1 mean together with a rate)
            pad = padding.upper() if isinstance(padding, str) else padding
            depthwise = with_space_to_batch(x, rate, pad, depthwise_op,
                                            filter_shape=A.shape(dw),
                                            data_format=data_format)
        return C.conv2d(depthwise, pw, [1, 1, 1, 1], "VALID", data_format=data_format,
                        name=scope)


def _rate(rate) -> int:
    r = int(rate)
    if r < 1:
        raise ValueError(f"rate {rate} cannot be less than one")
    return r


def atrous_conv2d(value, filters, rate, padding, name: str | None = None) -> Tensor:
    """``tf.nn.atrous_conv2d``: a conv2d of NHWC ``value`` with ``filters`` dilated by
    ``rate`` (stride 1)."""
    r = _rate(rate)
    with name_scope(name, "convolution", [value, filters]) as scope:
        x = convert_to_tensor(value, name="input")
        f = convert_to_tensor(filters, dtype=x.dtype, name="filter")
        return C.conv2d(x, f, [1, 1, 1, 1], padding, dilations=[1, r, r, 1], name=scope)


def atrous_conv2d_transpose(value, filters, output_shape, rate, padding,
                            name: str | None = None) -> Tensor:
    """``tf.nn.atrous_conv2d_transpose``: the adjoint of ``atrous_conv2d`` (``filters`` is
    ``[h, w, out_channels, in_channels]``, ``output_shape`` the NHWC result shape)."""
    r = _rate(rate)
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be either VALID or SAME: {padding}")
    with name_scope(name, "atrous_conv2d_transpose", [value, filters, output_shape]) as scope:
        v = convert_to_tensor(value, name="value")
        f = convert_to_tensor(filters, dtype=v.dtype, name="filters")
        if v.shape.ndims == 4 and f.shape.ndims == 4 and None not in (v.shape[3], f.shape[3]) \
                and v.shape[3] != f.shape[3]:
            raise ValueError(f"value's input channels does not match filters' input channels, "
                             f"{v.shape[3]} != {f.shape[3]}")
        sizes = _sizes(output_shape)
        want = constant_shape(sizes)
        if want.ndims is not None and want.ndims != 4:
            raise ValueError(f"output_shape must have shape (4,), got {want}")
        if want.ndims == 4 and f.shape.ndims == 4 and None not in (want[3], f.shape[2]) and \
                want[3] != f.shape[2]:
            raise ValueError(f"output_shape does not match filter's output channels, "
                             f"{want[3]} != {f.shape[2]}")
        return C.conv2d_backprop_input_op(sizes, f, v, strides=(1, 1, 1, 1),
                                          padding=padding.upper(), explicit_paddings=(),
                                          data_format="NHWC", dilations=(1, r, r, 1),
                                          name=scope)


def conv1d_transpose(input, filters, output_shape, strides, padding: str = "SAME",  # noqa: A002
                     data_format: str = "NWC", dilations=None,
                     name: str | None = None) -> Tensor:
    """``tf.nn.conv1d_transpose``: the adjoint of conv1d (``filters`` is
    ``[width, out_channels, in_channels]``, ``output_shape`` the 3-D result shape)."""
    if data_format in (None, "NWC"):
        fmt, axis = "NHWC", 1
    elif data_format == "NCW":
        fmt, axis = "NCHW", 2
    else:
        raise ValueError('data_format must be "NWC" or "NCW".')

    def one(v, what):
        if v is None:
            return 1
        vals = [int(v)] if isinstance(v, int) else [int(a) for a in v]
        if len(vals) == 3:
            vals = [vals[1 if fmt == "NHWC" else 2]]
        if len(vals) != 1:
            raise ValueError(f"conv1d_transpose {what} must be an int or a list of 1 or 3 "
                             f"ints, got {v!r}")
        return vals[0]

    with name_scope(name, "conv1d_transpose", [input, filters, output_shape]) as scope:
        x = A.expand_dims(convert_to_tensor(input, name="input"), axis)
        f = A.expand_dims(convert_to_tensor(filters, dtype=x.dtype, name="filters"), 0)
        if isinstance(output_shape, Tensor):
            shape4 = A.concat([output_shape[:axis], constant([1], _dt.int32),
                               output_shape[axis:]], 0)
        else:
            dims = list(output_shape.as_list() if hasattr(output_shape, "as_list")
                        else output_shape)
            if len(dims) != 3:
                raise ValueError(f"conv1d_transpose: output_shape must have 3 elements, got "
                                 f"{dims}")
            shape4 = _sizes(dims[:axis] + [1] + dims[axis:])
        y = C.conv2d_transpose(x, f, shape4, strides=[1, one(strides, "strides")],
                               padding=padding, data_format=fmt,
                               dilations=[1, one(dilations, "dilations")])
        return A.squeeze(y, [axis], name=scope)
