"""Local response normalization, max pooling with argmax and grayscale morphology
(``dilation2d`` / ``erosion2d``), with their gradient ops.

* ``LRN``: ``y = x / (bias + alpha * sum(x[c-r..c+r]^2)) ** beta`` over the last axis;
  ``LRNGrad`` is its gradient, and the gradient of ``LRNGrad`` is rebuilt from primitive
  ops so second-order gradients work.
* ``MaxPoolWithArgmax``: the pooled maxima and the flattened index of each (the first
  maximum of its window in row-major order), ``((b * height + y) * width + x) * channels +
  c`` with ``include_batch_in_index``, else without the ``b`` term; padding cells never win.
  Its gradient scatters into those indices (``MaxPoolGradWithArgmax``), whose gradient
  gathers from them (``MaxPoolGradGradWithArgmax``).
* ``Dilation2D``: ``y[b, i, j, c] = max_{di, dj} x[b, i*s + di*r, j*s + dj*r, c] +
  f[di, dj, c]`` (padding cells never win); the gradients go to the first maximizing tap.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import NodeSpec, convert_to_tensor, op, require_float
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops.indexing_ops import reverse
from flowgrad.ops.conv_geometry import crop, out_size, pad_nhwc, patches, window

# ----- LRN --------------------------------------------------------------------------------
_LRN_ATTRS = ("depth_radius", "bias", "alpha", "beta")


def _window_sum(xp, v, r: int):
    """``s[..., c] = sum(v[..., max(c-r, 0) : c+r+1])`` by 2r+1 shifted adds."""
    c = v.shape[-1]
    r = min(r, c - 1)
    if r <= 0:
        return v.copy()
    p = xp.zeros(v.shape[:-1] + (c + 2 * r,), dtype=v.dtype)
    p[..., r:r + c] = v
    s = p[..., :c].copy()
    for i in range(1, 2 * r + 1):
        s += p[..., i:i + c]
    return s


def _lrn_shape(node: NodeSpec):
    require_float(node)
    x = node.inputs[0]
    if x.shape.ndims not in (None, 4):
        node.fail(f"input must be 4-D, got shape {x.shape}")
    if node.attrs["depth_radius"] < 0:
        node.fail(f"depth_radius must be non-negative, got {node.attrs['depth_radius']}")
    return x.shape, x.dtype


@op("LRN", shape=_lrn_shape, broadcasting=False)
def _lrn(xp, input, *, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5):  # noqa: A002
    t = input.dtype.type
    norm = _window_sum(xp, input * input, depth_radius)
    norm *= t(alpha)
    norm += t(bias)
    if beta == 0.5:
        return input / xp.sqrt(norm)
    return input * norm ** t(-beta)


@_lrn.grad
def _lrn_grad(op_, dy):
    return [lrn_grad_op(dy, op_.inputs[0], op_.outputs[0],
                        **{k: op_.attrs[k] for k in _LRN_ATTRS})]


def _lrn_grad_shape(node: NodeSpec):
    require_float(node)
    dy, x, y = node.inputs
    if not (dy.dtype == x.dtype == y.dtype):
        node.fail("input_grads, input_image and output_image must have one dtype", TypeError)
    for t, what in ((dy, "input_grads"), (x, "input_image"), (y, "output_image")):
        if t.shape.ndims not in (None, 4):
            node.fail(f"{what} must be 4-D, got shape {t.shape}")
    if not (dy.shape.is_compatible_with(x.shape) and x.shape.is_compatible_with(y.shape)):
        node.fail("input_grads, input_image and output_image must have one shape")
    return x.shape.merge_with(dy.shape), x.dtype


@op("LRNGrad", shape=_lrn_grad_shape, broadcasting=False)
def lrn_grad_op(xp, input_grads, input_image, output_image, *, depth_radius=5, bias=1.0,
                alpha=1.0, beta=0.5):
    """``dx = dy * N^-beta - 2 alpha beta x * S(dy * x * N^(-beta-1))`` with
    ``N = bias + alpha * S(x^2)`` and ``S`` the window sum over channels."""
    t = input_image.dtype.type
    x, dy = input_image, input_grads
    norm = _window_sum(xp, x * x, depth_radius)
    norm *= t(alpha)
    norm += t(bias)
    scale = norm ** t(-beta)
    inner = dy * x * scale / norm
    return dy * scale - t(2.0 * alpha * beta) * x * _window_sum(xp, inner, depth_radius)


def _window_sum_graph(v: Tensor, r: int) -> Tensor:
    """``_window_sum`` in graph ops (for the gradient of LRNGrad)."""
    if r == 0:
        return v
    p = A.pad(v, [[0, 0], [0, 0], [0, 0], [r, r]])
    return M.add_n([p[:, :, :, i:(i - 2 * r) or None] for i in range(2 * r + 1)])


@lrn_grad_op.grad
def _lrn_grad_grad(op_, ddx):
    from flowgrad.autodiff.gradients import gradients  # noqa: PLC0415  (cycle)

    dy, x, _ = op_.inputs
    r, bias, alpha, beta = (op_.attrs[k] for k in _LRN_ATTRS)
    norm = bias + alpha * _window_sum_graph(x * x, r)
    scale = M.pow(norm, -beta)
    dx = dy * scale - (2.0 * alpha * beta) * x * _window_sum_graph(dy * x * scale / norm, r)
    gdy, gx = gradients([dx], [dy, x], grad_ys=[ddx], stop_gradients=[dy, x])
    return [gdy, gx, None]


def local_response_normalization(input, depth_radius: int = 5, bias: float = 1,  # noqa: A002
                                 alpha: float = 1, beta: float = 0.5,
                                 name: str | None = None) -> Tensor:
    """``tf.nn.local_response_normalization`` (``tf.nn.lrn``) over the last axis of a 4-D
    input.

    >>> import flowgrad as tf, numpy as np
    >>> y = tf.nn.lrn(np.array([[[[1.0, 1.0]]]]), depth_radius=1, bias=1.0, alpha=1.0, beta=1.0)
    >>> tf.Session().run(y).tolist()
    [[[[0.3333333333333333, 0.3333333333333333]]]]
    """
    with name_scope(name, "LRN", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return _lrn(x, depth_radius=int(depth_radius), bias=float(bias), alpha=float(alpha),
                    beta=float(beta), name=scope)


lrn = local_response_normalization


# ----- MaxPoolWithArgmax ------------------------------------------------------------------
_ARGMAX_ATTRS = ("ksize", "strides", "padding", "include_batch_in_index")


def _check_nhwc_attrs(node: NodeSpec, keys: tuple, last: str) -> None:
    """``keys`` (4 positive entries, 1 for the batch and ``last`` dimensions) and padding."""
    a = node.attrs
    for key in keys:
        v = a[key]
        if len(v) != 4 or min(v) < 1 or v[0] != 1 or v[3] != 1:
            node.fail(f"{key} must have 4 positive entries with 1 for the batch and {last} "
                      f"dimensions, got {list(v)}")
    if a["padding"] not in ("SAME", "VALID"):
        node.fail(f"padding must be 'SAME' or 'VALID', got {a['padding']!r}")


def _check_pool_attrs(node: NodeSpec) -> None:
    _check_nhwc_attrs(node, ("ksize", "strides"), "channel")


def _pooled(node: NodeSpec, shape: TensorShape) -> TensorShape:
    a = node.attrs
    if shape.ndims is None:
        return TensorShape([None] * 4)
    if shape.ndims != 4:
        node.fail(f"input must be 4-D (NHWC), got shape {shape}")
    dims = shape.as_list()
    for ax in (1, 2):
        o = out_size(dims[ax], a["ksize"][ax], a["strides"][ax], 1, a["padding"])
        if o == 0:
            node.fail(f"the pooling window {a['ksize'][ax]} is larger than the input dimension "
                      f"{dims[ax]} (VALID padding): the output would be empty")
        dims[ax] = o
    return TensorShape(dims)


def _argmax_shape(node: NodeSpec):
    x = node.inputs[0]
    if not x.dtype.is_floating:
        node.fail(f"expects a floating-point input, got {x.dtype.name}", TypeError)
    _check_pool_attrs(node)
    if node.attrs["Targmax"] not in ("int32", "int64"):
        node.fail(f"Targmax must be int32 or int64, got {node.attrs['Targmax']}", TypeError)
    out = _pooled(node, x.shape)
    return [(out, x.dtype), (out, _dt.as_dtype(node.attrs["Targmax"]))]


def _pool_windows(shape, ksize, strides, padding):
    return (window(int(shape[1]), ksize[1], strides[1], 1, padding),
            window(int(shape[2]), ksize[2], strides[2], 1, padding))


@op("MaxPoolWithArgmax", shape=_argmax_shape, broadcasting=False)
def _max_pool_with_argmax(xp, input, *, ksize, strides, padding,  # noqa: A002
                          include_batch_in_index=False, Targmax="int64"):  # noqa: N803
    n, h, w, c = input.shape
    wh, ww = _pool_windows(input.shape, ksize, strides, padding)
    low = -xp.inf if input.dtype.kind == "f" else xp.iinfo(input.dtype).min
    view = patches(xp, pad_nhwc(xp, input, wh, ww, low), wh, ww)       # (N,OH,OW,KH,KW,C)
    flat = view.transpose(0, 1, 2, 5, 3, 4).reshape(n, wh.out, ww.out, c, wh.k * ww.k)
    tap = flat.argmax(axis=-1)                                          # first maximum
    y = xp.take_along_axis(flat, tap[..., None], axis=-1)[..., 0]
    ki, kj = tap // ww.k, tap % ww.k
    rows = xp.arange(wh.out).reshape(1, -1, 1, 1) * wh.stride - wh.pad_before + ki
    cols = xp.arange(ww.out).reshape(1, 1, -1, 1) * ww.stride - ww.pad_before + kj
    idx = (rows * w + cols) * c + xp.arange(c).reshape(1, 1, 1, -1)
    if include_batch_in_index:
        idx = idx + xp.arange(n).reshape(-1, 1, 1, 1) * (h * w * c)
    return y, idx.astype(np.dtype(Targmax))


@_max_pool_with_argmax.grad
def _max_pool_with_argmax_grad(op_, dy, _):
    attrs = {k: op_.attrs[k] for k in _ARGMAX_ATTRS}
    return [max_pool_grad_with_argmax_op(op_.inputs[0], dy, op_.outputs[1], **attrs)]


def _flat_index(xp, argmax, shape, include_batch_in_index: bool):
    """Indices into the whole flattened input (batch term added when not included)."""
    idx = argmax.astype(np.int64)
    if not include_batch_in_index:
        n = shape[0]
        idx = idx + xp.arange(n, dtype=np.int64).reshape((-1,) + (1,) * (idx.ndim - 1)) * \
            int(np.prod(shape[1:]))
    return idx


@op("MaxPoolGradWithArgmax",
    shape=lambda node: _grad_argmax_out(node, pooled_grad=True), broadcasting=False)
def max_pool_grad_with_argmax_op(xp, input, grad, argmax, *, ksize, strides,  # noqa: A002
                                 padding, include_batch_in_index=False):
    """Scatter-adds each pooled gradient into its argmax cell: input-shaped."""
    idx = _flat_index(xp, argmax, input.shape, include_batch_in_index)
    size = int(np.prod(input.shape))
    dx = xp.bincount(idx.reshape(-1), weights=grad.reshape(-1), minlength=size)
    return dx[:size].astype(grad.dtype).reshape(input.shape)


@max_pool_grad_with_argmax_op.grad
def _max_pool_grad_with_argmax_grad(op_, ddx):
    x, _, arg = op_.inputs
    attrs = {k: op_.attrs[k] for k in _ARGMAX_ATTRS}
    return [A.zeros_like(x), max_pool_grad_grad_with_argmax_op(x, ddx, arg, **attrs), None]


def _grad_argmax_out(node: NodeSpec, pooled_grad: bool):
    x, g, arg = node.inputs
    _check_pool_attrs(node)
    if x.dtype != g.dtype:
        node.fail(f"input ({x.dtype.name}) and grad ({g.dtype.name}) dtypes differ", TypeError)
    if not arg.dtype.is_integer:
        node.fail(f"argmax must be an integer tensor, got {arg.dtype.name}", TypeError)
    pooled = _pooled(node, x.shape)
    if not pooled.is_compatible_with(arg.shape):
        node.fail(f"argmax has shape {arg.shape} but pooling {x.shape} gives {pooled}")
    want = pooled if pooled_grad else x.shape
    if not want.is_compatible_with(g.shape):
        node.fail(f"grad has shape {g.shape}, expected {want}")
    return (x.shape, x.dtype) if pooled_grad else (pooled.merge_with(arg.shape), x.dtype)


@op("MaxPoolGradGradWithArgmax",
    shape=lambda node: _grad_argmax_out(node, pooled_grad=False), broadcasting=False)
def max_pool_grad_grad_with_argmax_op(xp, input, grad, argmax, *, ksize,  # noqa: A002
                                      strides, padding, include_batch_in_index=False):
    """Gathers ``grad`` (input-shaped) at each argmax: pooled-shaped."""
    idx = _flat_index(xp, argmax, input.shape, include_batch_in_index)
    return grad.reshape(-1)[idx]


@max_pool_grad_grad_with_argmax_op.grad
def _max_pool_grad_grad_with_argmax_grad(op_, dy):
    x, _, arg = op_.inputs
    attrs = {k: op_.attrs[k] for k in _ARGMAX_ATTRS}
    return [A.zeros_like(x), max_pool_grad_with_argmax_op(x, dy, arg, **attrs), None]


def _four(v, name: str) -> tuple:
    vals = [int(v)] if isinstance(v, int) else [int(a) for a in v]
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) == 2:
        vals = [1, *vals, 1]
    if len(vals) != 4:
        raise ValueError(f"{name} must be an int or a list of 1, 2 or 4 ints, got {v!r}")
    return tuple(vals)


class MaxPoolWithArgmax(NamedTuple):
    """What ``tf.nn.max_pool_with_argmax`` returns (TF's generated op result)."""

    output: Tensor
    argmax: Tensor


def max_pool_with_argmax(input, ksize, strides, padding, data_format: str = "NHWC",  # noqa: A002
                         Targmax=None, name: str | None = None,  # noqa: N803
                         output_dtype=None, include_batch_in_index: bool = False):
    """``tf.nn.max_pool_with_argmax``: ``(output, argmax)`` of a max pool over NHWC input;
    ``argmax`` holds flattened input indices (``Targmax`` int64 by default)."""
    if data_format != "NHWC":
        raise ValueError(f"max_pool_with_argmax supports only data_format='NHWC', got "
                         f"{data_format!r}")
    dtype = _dt.as_dtype(output_dtype or Targmax or _dt.int64)
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    with name_scope(name, "MaxPoolWithArgmax", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        out = _max_pool_with_argmax(x, ksize=_four(ksize, "ksize"),
                                    strides=_four(strides, "strides"),
                                    padding=padding.upper(),
                                    include_batch_in_index=bool(include_batch_in_index),
                                    Targmax=dtype.name, name=scope)
        return MaxPoolWithArgmax(*out)


# ----- Dilation2D -------------------------------------------------------------------------
_DIL_ATTRS = ("strides", "rates", "padding")


def _dilation_windows(shape, fshape, strides, rates, padding):
    return (window(int(shape[1]), int(fshape[0]), strides[1], rates[1], padding),
            window(int(shape[2]), int(fshape[1]), strides[2], rates[2], padding))


def _dilation_out(node: NodeSpec, xs: TensorShape, fs: TensorShape) -> TensorShape:
    a = node.attrs
    _check_nhwc_attrs(node, ("strides", "rates"), "depth")
    if xs.ndims not in (None, 4):
        node.fail(f"input must be 4-D [batch, height, width, depth], got shape {xs}")
    if fs.ndims not in (None, 3):
        node.fail(f"filter must be 3-D [height, width, depth], got shape {fs}")
    xd = xs.as_list() if xs.ndims is not None else [None] * 4
    fd = fs.as_list() if fs.ndims is not None else [None] * 3
    if None not in (xd[3], fd[2]) and xd[3] != fd[2]:
        node.fail(f"input depth {xd[3]} does not match the filter's depth {fd[2]}")
    out = [xd[0]]
    for ax in (1, 2):
        o = out_size(xd[ax], fd[ax - 1], a["strides"][ax], a["rates"][ax], a["padding"])
        if o == 0:
            node.fail(f"the dilated filter of size {fd[ax - 1]} (rate {a['rates'][ax]}) does "
                      f"not fit the input dimension {xd[ax]} (VALID padding)")
        out.append(o)
    return TensorShape(out + [xd[3] if xd[3] is not None else fd[2]])


def _dilation2d_shape(node: NodeSpec):
    require_float(node)
    x, f = node.inputs
    return _dilation_out(node, x.shape, f.shape), x.dtype


def _dilation_values(xp, x, f, wh, ww):
    """(N, OH, OW, KH*KW, C): every tap's ``x + f`` (padding cells at the lowest value)."""
    low = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
    view = patches(xp, pad_nhwc(xp, x, wh, ww, low), wh, ww)
    n, oh, ow, kh, kw, c = view.shape
    return (view + f).reshape(n, oh, ow, kh * kw, c)


@op("Dilation2D", shape=_dilation2d_shape, same_dtype=True, broadcasting=False)
def _dilation2d(xp, input, filter, *, strides, rates, padding):  # noqa: A002
    wh, ww = _dilation_windows(input.shape, filter.shape, strides, rates, padding)
    low = -xp.inf if input.dtype.kind == "f" else xp.iinfo(input.dtype).min
    view = patches(xp, pad_nhwc(xp, input, wh, ww, low), wh, ww)
    y = view[:, :, :, 0, 0] + filter[0, 0]
    for i in range(wh.k):
        for j in range(ww.k):
            if i or j:
                xp.maximum(y, view[:, :, :, i, j] + filter[i, j], out=y)
    return y


@_dilation2d.grad
def _dilation2d_grad(op_, dy):
    x, f = op_.inputs
    attrs = {k: op_.attrs[k] for k in _DIL_ATTRS}
    return [dilation2d_backprop_input_op(x, f, dy, **attrs),
            dilation2d_backprop_filter_op(x, f, dy, **attrs)]


def _dilation_backprop_shape(node: NodeSpec, out_input: bool):
    require_float(node)
    x, f, dy = node.inputs
    if not (x.dtype == f.dtype == dy.dtype):
        node.fail("input, filter and out_backprop must have one dtype", TypeError)
    expect = _dilation_out(node, x.shape, f.shape)
    if not expect.is_compatible_with(dy.shape):
        node.fail(f"out_backprop has shape {dy.shape} but the dilation gives {expect}")
    return (x.shape if out_input else f.shape), x.dtype


def _first_max_taps(xp, x, f, strides, rates, padding):
    wh, ww = _dilation_windows(x.shape, f.shape, strides, rates, padding)
    return wh, ww, _dilation_values(xp, x, f, wh, ww).argmax(axis=3)   # (N, OH, OW, C)


@op("Dilation2DBackpropInput", shape=lambda node: _dilation_backprop_shape(node, True),
    broadcasting=False)
def dilation2d_backprop_input_op(xp, input, filter, out_backprop, *, strides,  # noqa: A002
                                 rates, padding):
    """Routes each output gradient to the input cell of its first maximizing tap."""
    wh, ww, tap = _first_max_taps(xp, input, filter, strides, rates, padding)
    n, h, w, c = input.shape
    dxpad = xp.zeros((n, h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after,
                      c), dtype=out_backprop.dtype)
    for i in range(wh.k):
        for j in range(ww.k):
            dxpad[:, wh.offset(i), ww.offset(j)] += out_backprop * (tap == i * ww.k + j)
    return crop(xp, dxpad, input.shape, wh, ww)


@op("Dilation2DBackpropFilter", shape=lambda node: _dilation_backprop_shape(node, False),
    broadcasting=False)
def dilation2d_backprop_filter_op(xp, input, filter, out_backprop, *, strides,  # noqa: A002
                                  rates, padding):
    """Sums each output gradient into the filter cell of its first maximizing tap."""
    wh, ww, tap = _first_max_taps(xp, input, filter, strides, rates, padding)
    df = xp.empty(filter.shape, dtype=out_backprop.dtype)
    for i in range(wh.k):
        for j in range(ww.k):
            df[i, j] = (out_backprop * (tap == i * ww.k + j)).sum(axis=(0, 1, 2))
    return df


def dilation2d(input, filter=None, strides=None, rates=None, padding=None,  # noqa: A002
               name: str | None = None, filters=None, dilations=None) -> Tensor:
    """``tf.nn.dilation2d``: grayscale dilation of a ``[batch, height, width, depth]`` input
    by a ``[height, width, depth]`` structuring function (max of ``x + filter``)."""
    filter = filters if filter is None else filter  # noqa: A001
    rates = dilations if rates is None else rates
    if filter is None or strides is None or rates is None or padding is None:
        raise ValueError("dilation2d needs filter, strides, rates and padding")
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    with name_scope(name, "Dilation2D", [input, filter]) as scope:
        x = convert_to_tensor(input, name="input")
        f = convert_to_tensor(filter, dtype=x.dtype, name="filter")
        return _dilation2d(x, f, strides=_four(strides, "strides"),
                           rates=_four(rates, "rates"), padding=padding.upper(), name=scope)


def erosion2d(value, kernel, strides, rates, padding, name: str | None = None) -> Tensor:
    """``tf.nn.erosion2d``: grayscale erosion, ``-dilation2d(-value, reversed kernel)``."""
    with name_scope(name, "erosion2d", [value, kernel]) as scope:
        v = convert_to_tensor(value, name="value")
        k = convert_to_tensor(kernel, dtype=v.dtype, name="kernel")
        y = dilation2d(M.negative(v), reverse(k, [0, 1]), strides, rates, padding)
        return M.negative(y, name=scope)
