"""Convolutions: Conv2D and its two backprop ops, depthwise convolution, transposed and 1-D
convolution.

Kernels are one GEMM each, over an im2col patch matrix or banded (Toeplitz) filter rows,
whichever a cost model prefers for the shapes (see ``conv_geometry``).  As in TensorFlow,
the input and filter gradients are ops of their own (``Conv2DBackpropInput``,
``Conv2DBackpropFilter``) whose gradients are again convolutions, so second-order gradients
work and the backward graph reads like TF's.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, constant, constant_shape, convert_to_tensor, op,
                                         require_float)
from flowgrad.framework.shapes import TensorShape
from flowgrad.framework import dtypes as _dt
from flowgrad.ops import _xp
from flowgrad.ops import array_ops as A
from flowgrad.ops.conv_geometry import (conv_filter_grad, conv_forward, crop,
                                        conv_input_grad, explicit_pair, four, out_size,
                                        pad_nhwc, padding_attrs, patches, pointwise,
                                        spatial_axes, use_onednn, window)
from flowgrad.runtime import onednn

_ATTRS = ("strides", "padding", "explicit_paddings", "data_format", "dilations")


# ----- shared helpers --------------------------------------------------------------------
def _to_nhwc(x, data_format: str):
    return x if data_format == "NHWC" else x.transpose(0, 2, 3, 1)


def _from_nhwc(xp, y, data_format: str):
    return y if data_format == "NHWC" else xp.ascontiguousarray(y.transpose(0, 3, 1, 2))


def _nhwc_shape(shape, data_format: str) -> tuple:
    n, a, b, c = (int(d) for d in shape)
    return (n, a, b, c) if data_format == "NHWC" else (n, b, c, a)


def _windows(h: int, w: int, kh: int, kw: int, strides, padding, explicit, data_format,
             dilations):
    ha, wa, _ = spatial_axes(data_format)
    return (window(h, kh, strides[ha], dilations[ha], padding, explicit_pair(explicit, ha)),
            window(w, kw, strides[wa], dilations[wa], padding, explicit_pair(explicit, wa)))


def _check_attrs(node: NodeSpec) -> None:
    a = node.attrs
    try:
        ha, wa, ca = spatial_axes(a["data_format"])
    except ValueError as e:
        node.fail(str(e))
    for key in ("strides", "dilations"):
        v = a[key]
        if len(v) != 4 or v[0] != 1 or v[ca] != 1:
            node.fail(f"{key} must have 4 entries with 1 for the batch and channel dimensions, "
                      f"got {list(v)}")
        if min(v) < 1:
            node.fail(f"{key} must be positive, got {list(v)}")
    if a["padding"] not in ("SAME", "VALID", "EXPLICIT"):
        node.fail(f"padding must be SAME, VALID or EXPLICIT, got {a['padding']!r}")
    if a["padding"] == "EXPLICIT" and len(a["explicit_paddings"]) != 8:
        node.fail("EXPLICIT padding needs explicit_paddings with 8 entries")
    if a["padding"] != "EXPLICIT" and a["explicit_paddings"]:
        node.fail("explicit_paddings is only allowed with padding='EXPLICIT'")


def _static_out(node: NodeSpec, in_shape: TensorShape, kh, kw, out_channels) -> TensorShape:
    a = node.attrs
    fmt = a["data_format"]
    ha, wa, ca = spatial_axes(fmt)
    if in_shape.ndims is None:
        dims = [None] * 4
        dims[ca] = out_channels
        return TensorShape(dims)
    dims = in_shape.as_list()
    for ax, k in ((ha, kh), (wa, kw)):
        o = out_size(dims[ax], k, a["strides"][ax], a["dilations"][ax], a["padding"],
                     explicit_pair(a["explicit_paddings"], ax))
        if o == 0:
            node.fail(f"the (dilated) kernel of size {k} does not fit the padded input of size "
                      f"{dims[ax]}: the output would be empty")
        dims[ax] = o
    dims[ca] = out_channels
    return TensorShape(dims)


def _rank4(node: NodeSpec, t: Tensor, what: str) -> list:
    if t.shape.ndims is not None and t.shape.ndims != 4:
        node.fail(f"{what} must be 4-D, got shape {t.shape}")
    return t.shape.as_list() if t.shape.ndims is not None else [None] * 4


def _check_channels(node: NodeSpec, in_dims: list, f_dims: list) -> None:
    _, _, ca = spatial_axes(node.attrs["data_format"])
    c, fc = in_dims[ca], f_dims[2]
    if c is not None and fc is not None and c != fc:
        node.fail(f"input has {c} channels but the filter expects {fc} (filter shape "
                  f"[height, width, in_channels, out_channels] = {f_dims}). Expect: "
                  f"filter.shape[2] == input channels ({node.attrs['data_format']})")


def _runtime_channels(op_type: str, c: int, fc: int, filter_shape) -> None:
    if c != fc:
        raise ValueError(f"{op_type}: input depth {c} does not match the filter's in_channels "
                         f"{fc} (filter shape {tuple(filter_shape)})")


def _conv_attrs(op_) -> dict:
    return {k: op_.attrs[k] for k in _ATTRS}


# ----- Conv2D ----------------------------------------------------------------------------
def _conv2d_shape(node: NodeSpec):
    require_float(node)
    _check_attrs(node)
    x, f = node.inputs
    xd, fd = _rank4(node, x, "input"), _rank4(node, f, "filter")
    _check_channels(node, xd, fd)
    return _static_out(node, x.shape, fd[0], fd[1], fd[3]), x.dtype


@op("Conv2D", shape=_conv2d_shape, same_dtype=True, broadcasting=False)
def _conv2d(xp, input, filter, *, strides, padding, explicit_paddings=(),  # noqa: A002
            data_format="NHWC", dilations=(1, 1, 1, 1)):
    x = _to_nhwc(input, data_format)
    kh, kw, ci, co = filter.shape
    n, h, w, c = x.shape
    _runtime_channels("Conv2D", c, ci, filter.shape)
    wh, ww = _windows(h, w, kh, kw, strides, padding, explicit_paddings, data_format, dilations)
    y = conv_forward(xp, x, filter, wh, ww)
    return _from_nhwc(xp, y, data_format)


def conv2d_bias_onednn(x, filt, bias, attrs: dict):
    """Conv2D (NHWC) plus its bias in one oneDNN call (the compiler's ``Conv2D+BiasAdd``
    node), or None where that path does not apply: the caller runs the two kernels."""
    if attrs.get("data_format", "NHWC") != "NHWC" or not use_onednn(np, x, filt, bias):
        return None
    wins = _nhwc_windows(x.shape, filt.shape, attrs)
    if wins is None:
        return None
    c = np.ascontiguousarray
    return onednn.conv_forward(c(x), c(filt), wins, bias=c(bias))


def _nhwc_windows(xshape, fshape, attrs: dict):
    """The windows of an NHWC convolution that oneDNN takes (not 1x1 stride-1: those are
    products), or None."""
    n, h, w, c = xshape
    kh, kw, ci, co = fshape
    if c != ci or 0 in xshape:
        return None
    wh, ww = _windows(h, w, kh, kw, attrs["strides"], attrs["padding"],
                      attrs.get("explicit_paddings", ()), "NHWC",
                      attrs.get("dilations", (1, 1, 1, 1)))
    if wh.out <= 0 or ww.out <= 0 or pointwise(fshape, wh, ww):
        return None
    return wh, ww


@_conv2d.grad
def _conv2d_grad(op_, dy):
    x, f = op_.inputs
    attrs = _conv_attrs(op_)
    return [conv2d_backprop_input_op(A._shape_of(x), f, dy, **attrs),
            conv2d_backprop_filter_op(x, A._shape_of(f), dy, **attrs)]


# ----- Conv2DBackpropInput ---------------------------------------------------------------
def _backprop_input_shape(node: NodeSpec):
    require_float(node, 1, 2)
    _check_attrs(node)
    sizes, f, dy = node.inputs
    if not sizes.dtype.is_integer:
        node.fail(f"input_sizes must be an int32 shape vector, got {sizes.dtype.name}",
                  TypeError)
    if f.dtype != dy.dtype:
        node.fail(f"filter ({f.dtype.name}) and out_backprop ({dy.dtype.name}) dtypes differ",
                  TypeError)
    shape = constant_shape(sizes)
    if shape.ndims is None:
        shape = TensorShape([None] * 4)
    if shape.ndims != 4:
        node.fail(f"input_sizes must describe a 4-D shape, got {shape}")
    fd = _rank4(node, f, "filter")
    _rank4(node, dy, "out_backprop")
    _check_channels(node, shape.as_list(), fd)
    _, _, ca = spatial_axes(node.attrs["data_format"])
    out_c = fd[3]
    if node.type.startswith("Depthwise"):
        out_c = fd[2] * fd[3] if fd[2] is not None and fd[3] is not None else None
    expect = _static_out(node, shape, fd[0], fd[1], out_c) if shape.is_fully_defined() else None
    if expect is not None and not expect.is_compatible_with(dy.shape):
        node.fail(f"out_backprop has shape {dy.shape} but a convolution of input {shape} with "
                  f"filter {fd} gives {expect}")
    return shape, f.dtype


@op("Conv2DBackpropInput", shape=_backprop_input_shape, broadcasting=False)
def conv2d_backprop_input_op(xp, input_sizes, filter, out_backprop, *, strides,  # noqa: A002
                             padding, explicit_paddings=(), data_format="NHWC",
                             dilations=(1, 1, 1, 1)):
    """``dx`` of a Conv2D: ``dy @ W^T`` scattered back to the input (col2im)."""
    shape = _nhwc_shape(input_sizes, data_format)
    n, h, w, c = shape
    kh, kw, ci, co = filter.shape
    _runtime_channels("Conv2DBackpropInput", c, ci, filter.shape)
    dy = _to_nhwc(out_backprop, data_format)
    wh, ww = _windows(h, w, kh, kw, strides, padding, explicit_paddings, data_format, dilations)
    _check_dy("Conv2DBackpropInput", dy.shape, (n, wh.out, ww.out, co))
    dx = conv_input_grad(xp, dy, filter, shape, wh, ww)
    return _from_nhwc(xp, dx, data_format)


def _check_dy(op_type: str, got, expected) -> None:
    if tuple(got) != tuple(expected):
        raise ValueError(f"{op_type}: out_backprop has shape {tuple(got)} (NHWC) but the "
                         f"convolution's output is {tuple(expected)} (NHWC)")


@conv2d_backprop_input_op.grad
def _conv2d_backprop_input_grad(op_, ddx):
    _, f, dy = op_.inputs
    attrs = _conv_attrs(op_)
    return [None, conv2d_backprop_filter_op(ddx, A._shape_of(f), dy, **attrs),
            _conv2d(ddx, f, **attrs)]


# ----- Conv2DBackpropFilter --------------------------------------------------------------
def _backprop_filter_shape(node: NodeSpec):
    require_float(node, 0, 2)
    _check_attrs(node)
    x, sizes, dy = node.inputs
    if not sizes.dtype.is_integer:
        node.fail(f"filter_sizes must be an int32 shape vector, got {sizes.dtype.name}",
                  TypeError)
    if x.dtype != dy.dtype:
        node.fail(f"input ({x.dtype.name}) and out_backprop ({dy.dtype.name}) dtypes differ",
                  TypeError)
    shape = constant_shape(sizes)
    if shape.ndims is None:
        shape = TensorShape([None] * 4)
    if shape.ndims != 4:
        node.fail(f"filter_sizes must describe a 4-D shape, got {shape}")
    _check_channels(node, _rank4(node, x, "input"), shape.as_list())
    _rank4(node, dy, "out_backprop")
    return shape, x.dtype


@op("Conv2DBackpropFilter", shape=_backprop_filter_shape, broadcasting=False)
def conv2d_backprop_filter_op(xp, input, filter_sizes, out_backprop, *, strides,  # noqa: A002
                              padding, explicit_paddings=(), data_format="NHWC",
                              dilations=(1, 1, 1, 1)):
    """``dW`` of a Conv2D: one GEMM ``patches^T @ dy``."""
    x = _to_nhwc(input, data_format)
    kh, kw, ci, co = (int(d) for d in filter_sizes)
    n, h, w, c = x.shape
    _runtime_channels("Conv2DBackpropFilter", c, ci, (kh, kw, ci, co))
    dy = _to_nhwc(out_backprop, data_format)
    wh, ww = _windows(h, w, kh, kw, strides, padding, explicit_paddings, data_format, dilations)
    _check_dy("Conv2DBackpropFilter", dy.shape, (n, wh.out, ww.out, co))
    return conv_filter_grad(xp, x, dy, (kh, kw, ci, co), wh, ww)


@conv2d_backprop_filter_op.grad
def _conv2d_backprop_filter_grad(op_, ddw):
    x, _, dy = op_.inputs
    attrs = _conv_attrs(op_)
    return [conv2d_backprop_input_op(A._shape_of(x), ddw, dy, **attrs), None,
            _conv2d(x, ddw, **attrs)]


# ----- Depthwise convolution -------------------------------------------------------------
def _depthwise_shape(node: NodeSpec):
    require_float(node)
    _check_attrs(node)
    x, f = node.inputs
    xd, fd = _rank4(node, x, "input"), _rank4(node, f, "filter")
    _check_channels(node, xd, fd)
    out_c = fd[2] * fd[3] if fd[2] is not None and fd[3] is not None else None
    return _static_out(node, x.shape, fd[0], fd[1], out_c), x.dtype


@op("DepthwiseConv2dNative", shape=_depthwise_shape, same_dtype=True, broadcasting=False)
def _depthwise(xp, input, filter, *, strides, padding, explicit_paddings=(),  # noqa: A002
               data_format="NHWC", dilations=(1, 1, 1, 1)):
    x = _to_nhwc(input, data_format)
    kh, kw, c, m = filter.shape
    n, h, w, cx = x.shape
    _runtime_channels("DepthwiseConv2dNative", cx, c, filter.shape)
    wh, ww = _windows(h, w, kh, kw, strides, padding, explicit_paddings, data_format, dilations)
    xpad = pad_nhwc(xp, x, wh, ww)
    if m > 1:       # each input channel feeds m outputs: repeat it once, then plain taps
        xpad = xp.repeat(xpad, m, axis=3)
    # one multiply-add per kernel tap over (N, OH, OW, C*M) views: runs of C*M elements
    # (a trailing size-m axis would make numpy's inner loop m elements long)
    w2 = filter.reshape(kh, kw, c * m)
    view = patches(xp, xpad, wh, ww)
    y = xp.multiply(view[:, :, :, 0, 0], w2[0, 0])
    part = xp.empty_like(y)
    for i in range(kh):
        for j in range(kw):
            if i or j:
                y += xp.multiply(view[:, :, :, i, j], w2[i, j], out=part)
    return _from_nhwc(xp, y, data_format)


@_depthwise.grad
def _depthwise_grad(op_, dy):
    x, f = op_.inputs
    attrs = _conv_attrs(op_)
    return [depthwise_backprop_input_op(A._shape_of(x), f, dy, **attrs),
            depthwise_backprop_filter_op(x, A._shape_of(f), dy, **attrs)]


@op("DepthwiseConv2dNativeBackpropInput", shape=_backprop_input_shape, broadcasting=False)
def depthwise_backprop_input_op(xp, input_sizes, filter, out_backprop, *,  # noqa: A002
                                strides, padding, explicit_paddings=(), data_format="NHWC",
                                dilations=(1, 1, 1, 1)):
    shape = _nhwc_shape(input_sizes, data_format)
    n, h, w, c = shape
    kh, kw, fc, m = filter.shape
    _runtime_channels("DepthwiseConv2dNativeBackpropInput", c, fc, filter.shape)
    dy = _to_nhwc(out_backprop, data_format)
    wh, ww = _windows(h, w, kh, kw, strides, padding, explicit_paddings, data_format, dilations)
    _check_dy("DepthwiseConv2dNativeBackpropInput", dy.shape, (n, wh.out, ww.out, c * m))
    # each tap's contribution, (N, OH, OW, C), added straight into its window
    dxpad = xp.zeros((n, h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after,
                      c), dtype=dy.dtype)
    dy5 = dy.reshape(n, wh.out, ww.out, c, m)
    part = xp.empty((n, wh.out, ww.out, c), dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            if m == 1:
                xp.multiply(dy5[..., 0], filter[i, j, :, 0], out=part)
            else:
                _xp.einsum_into(xp, "nhwcm,cm->nhwc", dy5, filter[i, j], out=part)
            dxpad[:, wh.offset(i), ww.offset(j)] += part
    return _from_nhwc(xp, crop(xp, dxpad, shape, wh, ww), data_format)


@depthwise_backprop_input_op.grad
def _depthwise_backprop_input_grad(op_, ddx):
    _, f, dy = op_.inputs
    attrs = _conv_attrs(op_)
    return [None, depthwise_backprop_filter_op(ddx, A._shape_of(f), dy, **attrs),
            _depthwise(ddx, f, **attrs)]


@op("DepthwiseConv2dNativeBackpropFilter", shape=_backprop_filter_shape, broadcasting=False)
def depthwise_backprop_filter_op(xp, input, filter_sizes, out_backprop, *,  # noqa: A002
                                 strides, padding, explicit_paddings=(), data_format="NHWC",
                                 dilations=(1, 1, 1, 1)):
    x = _to_nhwc(input, data_format)
    kh, kw, c, m = (int(d) for d in filter_sizes)
    n, h, w, cx = x.shape
    _runtime_channels("DepthwiseConv2dNativeBackpropFilter", cx, c, (kh, kw, c, m))
    dy = _to_nhwc(out_backprop, data_format)
    wh, ww = _windows(h, w, kh, kw, strides, padding, explicit_paddings, data_format, dilations)
    _check_dy("DepthwiseConv2dNativeBackpropFilter", dy.shape, (n, wh.out, ww.out, c * m))
    view = patches(xp, pad_nhwc(xp, x, wh, ww), wh, ww)
    return xp.einsum("nhwijc,nhwcm->ijcm", view, dy.reshape(n, wh.out, ww.out, c, m))


@depthwise_backprop_filter_op.grad
def _depthwise_backprop_filter_grad(op_, ddw):
    x, _, dy = op_.inputs
    attrs = _conv_attrs(op_)
    return [depthwise_backprop_input_op(A._shape_of(x), ddw, dy, **attrs), None,
            _depthwise(x, ddw, **attrs)]


# ----- public API ------------------------------------------------------------------------
def _attrs(strides, padding, data_format, dilations) -> dict:
    data_format = data_format or "NHWC"
    spatial_axes(data_format)
    if strides is None:
        raise ValueError("strides must be given (e.g. [1, 1, 1, 1])")
    if padding is None:
        raise ValueError("padding must be given: 'SAME', 'VALID' or [before, after] pairs")
    pad, explicit = padding_attrs(padding, data_format)
    return {"strides": four(strides, "strides", data_format),
            "padding": pad, "explicit_paddings": explicit, "data_format": data_format,
            "dilations": four(dilations, "dilations", data_format)}


def conv2d(input=None, filter=None, strides=None, padding=None,  # noqa: A002
           use_cudnn_on_gpu: bool = True, data_format: str = "NHWC", dilations=None,
           name: str | None = None, filters=None) -> Tensor:
    """``tf.nn.conv2d``: 2-D cross-correlation of a 4-D input with a
    ``[height, width, in_channels, out_channels]`` filter.

    >>> import flowgrad as tf, numpy as np
    >>> y = tf.nn.conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), [1, 1, 1, 1], "SAME")
    >>> y.shape.as_list()
    [1, 4, 4, 2]
    """
    filter = filters if filter is None else filter  # noqa: A001
    if filter is None:
        raise ValueError("conv2d needs a filter (filter= or filters=)")
    with name_scope(name, "Conv2D", [input, filter]) as scope:
        x = convert_to_tensor(input, name="input")
        f = convert_to_tensor(filter, dtype=x.dtype, name="filter")
        return _conv2d(x, f, name=scope, **_attrs(strides, padding, data_format, dilations))


def _sizes(sizes, what: str) -> Tensor:
    if isinstance(sizes, Tensor):
        return sizes
    return constant([int(d) for d in (sizes.as_list() if isinstance(sizes, TensorShape)
                                      else sizes)], _dt.int32, name=what)


def conv2d_backprop_input(input_sizes, filter=None, out_backprop=None, strides=None,  # noqa: A002
                          padding=None, use_cudnn_on_gpu: bool = True,
                          data_format: str = "NHWC", dilations=None, name: str | None = None,
                          filters=None) -> Tensor:
    """``tf.nn.conv2d_backprop_input``: the gradient of conv2d with respect to its input."""
    filter = filters if filter is None else filter  # noqa: A001
    with name_scope(name, "Conv2DBackpropInput") as scope:
        dy = convert_to_tensor(out_backprop, name="out_backprop")
        f = convert_to_tensor(filter, dtype=dy.dtype, name="filter")
        return conv2d_backprop_input_op(_sizes(input_sizes, "input_sizes"), f, dy, name=scope,
                                        **_attrs(strides, padding, data_format, dilations))


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding,  # noqa: A002
                           use_cudnn_on_gpu: bool = True, data_format: str = "NHWC",
                           dilations=None, name: str | None = None) -> Tensor:
    """``tf.nn.conv2d_backprop_filter``: the gradient of conv2d with respect to its filter."""
    with name_scope(name, "Conv2DBackpropFilter") as scope:
        x = convert_to_tensor(input, name="input")
        dy = convert_to_tensor(out_backprop, dtype=x.dtype, name="out_backprop")
        return conv2d_backprop_filter_op(x, _sizes(filter_sizes, "filter_sizes"), dy,
                                         name=scope,
                                         **_attrs(strides, padding, data_format, dilations))


def conv2d_transpose(value=None, filter=None, output_shape=None, strides=None,  # noqa: A002
                     padding: str = "SAME", data_format: str = "NHWC", name: str | None = None,
                     input=None, filters=None, dilations=None) -> Tensor:  # noqa: A002
    """``tf.nn.conv2d_transpose``: the adjoint of conv2d (``filter`` is
    ``[height, width, out_channels, in_channels]``); ``output_shape`` is the result's shape."""
    value = input if value is None else value
    filter = filters if filter is None else filter  # noqa: A001
    if output_shape is None:
        raise ValueError("conv2d_transpose needs output_shape")
    with name_scope(name, "conv2d_transpose") as scope:
        v = convert_to_tensor(value, name="value")
        f = convert_to_tensor(filter, dtype=v.dtype, name="filter")
        attrs = _attrs(strides, padding, data_format, dilations)
        _, _, ca = spatial_axes(attrs["data_format"])
        if v.shape.ndims == 4 and f.shape.ndims == 4 and None not in (v.shape[ca], f.shape[3]) \
                and v.shape[ca] != f.shape[3]:
            raise ValueError(f"conv2d_transpose: input has {v.shape[ca]} channels but the "
                             f"filter's last dimension (in_channels) is {f.shape[3]} "
                             f"(filter shape {f.shape})")
        return conv2d_backprop_input_op(_sizes(output_shape, "output_shape"), f, v, name=scope,
                                        **attrs)


def depthwise_conv2d_native(input, filter, strides, padding,  # noqa: A002
                            data_format: str = "NHWC", dilations=None,
                            name: str | None = None) -> Tensor:
    """``tf.nn.depthwise_conv2d_native``: each input channel convolved with its own
    ``channel_multiplier`` filters (``filter`` is ``[h, w, in_channels, multiplier]``)."""
    with name_scope(name, "DepthwiseConv2dNative") as scope:
        x = convert_to_tensor(input, name="input")
        f = convert_to_tensor(filter, dtype=x.dtype, name="filter")
        return _depthwise(x, f, name=scope, **_attrs(strides, padding, data_format, dilations))


def depthwise_conv2d(input, filter, strides, padding, rate=None,  # noqa: A002
                     name: str | None = None, data_format: str | None = None,
                     dilations=None) -> Tensor:
    """``tf.nn.depthwise_conv2d``: ``rate`` (or ``dilations``) is the [h, w] dilation."""
    rate = dilations if rate is None else rate
    return depthwise_conv2d_native(input, filter, strides, padding,
                                   data_format=data_format or "NHWC", dilations=rate,
                                   name=name or "depthwise")


def conv1d(value=None, filters=None, stride=None, padding=None, use_cudnn_on_gpu=None,
           data_format: str | None = None, name: str | None = None, input=None,  # noqa: A002
           dilations=None) -> Tensor:
    """``tf.nn.conv1d``: a conv2d over a height-1 image (``NWC`` or ``NCW`` input,
    ``[width, in_channels, out_channels]`` filters)."""
    value = input if value is None else value
    data_format = data_format or "NWC"
    if data_format not in ("NWC", "NCW", "NHWC", "NCHW"):
        raise ValueError(f"data_format must be 'NWC' or 'NCW', got {data_format!r}")
    channels_last = data_format in ("NWC", "NHWC")
    fmt2 = "NHWC" if channels_last else "NCHW"

    def one(v, what):
        if v is None:
            return 1
        if isinstance(v, int):
            return v
        v = list(v)
        if len(v) == 1:
            return int(v[0])
        if len(v) == 3:
            return int(v[1] if channels_last else v[2])
        raise ValueError(f"conv1d {what} must be an int or a list of 1 or 3 ints, got {v!r}")

    if isinstance(padding, str):
        pad2 = padding
    else:
        pairs = [list(p) for p in padding]
        pairs = pairs[1:2] if len(pairs) == 3 and channels_last else \
            pairs[2:3] if len(pairs) == 3 else pairs
        pad2 = [[0, 0], pairs[0]]
    with name_scope(name, "conv1d", [value, filters]) as scope:
        x = convert_to_tensor(value, name="input")
        f = convert_to_tensor(filters, dtype=x.dtype, name="filters")
        x4 = A.expand_dims(x, 1 if channels_last else 2)
        f4 = A.expand_dims(f, 0)
        y = conv2d(x4, f4, [1, one(stride, "stride")], pad2, data_format=fmt2,
                   dilations=[1, one(dilations, "dilations")])
        return A.squeeze(y, [1 if channels_last else 2], name=scope)


def convolution(input, filter=None, padding=None, strides=None, dilation_rate=None,  # noqa: A002
                name: str | None = None, data_format: str | None = None, filters=None,
                dilations=None) -> Tensor:
    """``tf.nn.convolution`` for 1-D, 2-D and 3-D inputs (rank 3, 4 or 5)."""
    filter = filters if filter is None else filter  # noqa: A001
    dilation_rate = dilations if dilation_rate is None else dilation_rate
    x = convert_to_tensor(input, name="input")
    r = x.shape.ndims
    if r == 3:
        return conv1d(x, filter, strides if strides is not None else 1, padding,
                      data_format=data_format or "NWC", name=name, dilations=dilation_rate)
    if r == 4:
        return conv2d(x, filter, strides if strides is not None else 1, padding,
                      data_format=data_format or "NHWC", dilations=dilation_rate, name=name)
    if r == 5:
        from flowgrad.ops.conv3d_ops import conv3d  # noqa: PLC0415
        return conv3d(x, filter, strides if strides is not None else 1, padding,
                      data_format=data_format or "NDHWC", dilations=dilation_rate, name=name)
    raise ValueError(f"convolution supports 1-D, 2-D and 3-D convolutions (input rank 3 to 5), "
                     f"got input shape {x.shape}")


# ----- CUDA kernels: cuDNN, or the kernels above on CuPy where it cannot run ---------------
from flowgrad.ops import cuda_conv as _cuda  # noqa: E402 - imports neither CuPy nor cuDNN

_conv2d.device_kernel("cuda")(_cuda.conv2d_kernel(_conv2d.opdef.kernel))
conv2d_backprop_input_op.device_kernel("cuda")(
    _cuda.conv2d_backprop_input_kernel(conv2d_backprop_input_op.opdef.kernel))
conv2d_backprop_filter_op.device_kernel("cuda")(
    _cuda.conv2d_backprop_filter_kernel(conv2d_backprop_filter_op.opdef.kernel))
