"""Pooling: MaxPool and AvgPool with their gradient ops, and ``tf.nn.pool``.

As in TensorFlow, ``SAME`` max pooling ignores the padding cells and ``SAME`` average
pooling divides by the number of input cells in each window, not by the window size.
MaxPoolGrad routes each output's gradient to the first maximum of its window (row-major
order), like TF's CPU kernel; its gradient is MaxPoolGradGrad, whose gradient is
MaxPoolGrad again, so gradients of any order stay in the graph.

Attributes are TF's (``ksize``, ``strides``, ``padding``, ``data_format``) plus
``dilations`` (default 1), which ``tf.nn.pool(..., dilation_rate=...)`` uses.
"""

from __future__ import annotations

import functools

from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import NodeSpec, constant_shape, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops.conv_geometry import (crop, four, out_size, pad_nhwc, patches,
                                        spatial_axes, use_onednn, valid_counts, window)
from flowgrad.runtime import onednn

_ATTRS = ("ksize", "strides", "padding", "data_format", "dilations")


def _to_nhwc(x, data_format: str):
    return x if data_format == "NHWC" else x.transpose(0, 2, 3, 1)


def _from_nhwc(xp, y, data_format: str):
    return y if data_format == "NHWC" else xp.ascontiguousarray(y.transpose(0, 3, 1, 2))


def _windows(h: int, w: int, ksize, strides, padding, data_format, dilations):
    ha, wa, _ = spatial_axes(data_format)
    return (window(h, ksize[ha], strides[ha], dilations[ha], padding),
            window(w, ksize[wa], strides[wa], dilations[wa], padding))


def _pool_attrs(op_) -> dict:
    return {k: op_.attrs[k] for k in _ATTRS}


def _pooled_shape(node: NodeSpec, shape: TensorShape) -> TensorShape:
    a = node.attrs
    try:
        ha, wa, ca = spatial_axes(a["data_format"])
    except ValueError as e:
        node.fail(str(e))
    for key in ("ksize", "strides", "dilations"):
        v = a[key]
        if len(v) != 4 or min(v) < 1:
            node.fail(f"{key} must have 4 positive entries, got {list(v)}")
        if v[0] != 1 or v[ca] != 1:
            node.fail(f"pooling over the batch or channel dimension is not supported: {key} "
                      f"must be 1 there, got {list(v)}")
    if a["padding"] not in ("SAME", "VALID"):
        node.fail(f"padding must be 'SAME' or 'VALID', got {a['padding']!r}")
    if shape.ndims is None:
        return TensorShape([None] * 4)
    if shape.ndims != 4:
        node.fail(f"input must be 4-D, got shape {shape}")
    dims = shape.as_list()
    for ax in (ha, wa):
        o = out_size(dims[ax], a["ksize"][ax], a["strides"][ax], a["dilations"][ax],
                     a["padding"])
        if o == 0:
            node.fail(f"the pooling window {a['ksize'][ax]} is larger than the input "
                      f"dimension {dims[ax]} (VALID padding): the output would be empty")
        dims[ax] = o
    return TensorShape(dims)


def _float_check(node: NodeSpec, t: Tensor) -> None:
    if not t.dtype.is_floating:
        node.fail(f"expects a floating-point input, got {t.dtype.name}", TypeError)


def _no_overlap(x, wh, ww) -> bool:
    """Windows tile the input exactly: pooling is a reshape and a reduction."""
    return (wh.k == wh.stride and ww.k == ww.stride and wh.dilation == ww.dilation == 1
            and x.shape[1] == wh.out * wh.k and x.shape[2] == ww.out * ww.k
            and not (wh.pad_before or wh.pad_after or ww.pad_before or ww.pad_after))


def _taps(xp, xpad, wh, ww) -> list:
    """One strided view per window offset (row-major), each shaped like the pooled output.
    Elementwise work over these few views is several times faster than numpy's reductions
    over the small window axes of the ``patches`` view."""
    view = patches(xp, xpad, wh, ww)
    return [view[:, :, :, i, j] for i in range(wh.k) for j in range(ww.k)]


def _fold_taps(xp, xpad, wh, ww, ufunc):
    """``ufunc`` folded over the window offsets: ``(N, OH, OW, C)``.

    Separably: first over the kernel rows, whose views are whole padded rows (runs of
    ``W*C`` elements), into ``(N, OH, Wp, C)``; then over the kernel columns of that, the
    only views with ``C``-element runs.  Against a fold over every window offset's view
    (each advancing ``C`` elements at a time): a 2x2/2 pool on ``[64, 28, 28, 6]`` 0.59 ->
    0.31 ms, a 3x3/2 SAME one on ``[4, 112, 112, 64]`` 7.1 -> 5.6 ms."""
    n, _, wp, c = xpad.shape
    s0, s1, s2, s3 = xpad.strides
    strided = xp.lib.stride_tricks.as_strided
    rows = [strided(xpad[:, i * wh.dilation:], (n, wh.out, wp, c), (s0, s1 * wh.stride, s2, s3))
            for i in range(wh.k)]
    r = rows[0].copy()
    for v in rows[1:]:
        ufunc(r, v, out=r)
    if ww.k == 1 and ww.stride == 1 and wp == ww.out:
        return r
    r0, r1, r2, r3 = r.strides
    cols = [strided(r[:, :, j * ww.dilation:], (n, wh.out, ww.out, c), (r0, r1, r2 * ww.stride, r3))
            for j in range(ww.k)]
    y = cols[0].copy()
    for v in cols[1:]:
        ufunc(y, v, out=y)
    return y


@functools.lru_cache(maxsize=1024)
def _every_window_valid(h: int, w: int, wh, ww) -> bool:
    """No window lies wholly in the padding.  Such a window's max is -inf here, and
    oneDNN's the lowest finite float: those pools stay on the numpy kernels."""
    return bool(valid_counts(h, wh).min(initial=1) > 0 and valid_counts(w, ww).min(initial=1) > 0)


def _lowest(xp, dtype):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _argmax_windows(xp, x, wh, ww):
    """Index (row-major in the window) of each window's first maximum: (N, OH, OW, C)."""
    n, _, _, c = x.shape
    if _no_overlap(x, wh, ww):
        v = x.reshape(n, wh.out, wh.k, ww.out, ww.k, c).transpose(0, 1, 3, 5, 2, 4)
    else:
        low = xp.finfo(x.dtype).min if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
        v = patches(xp, pad_nhwc(xp, x, wh, ww, -xp.inf if x.dtype.kind == "f" else low),
                    wh, ww).transpose(0, 1, 2, 5, 3, 4)
    return v.reshape(n, wh.out, ww.out, c, wh.k * ww.k).argmax(axis=-1)


# ----- MaxPool ---------------------------------------------------------------------------
def _max_pool_shape(node: NodeSpec):
    _float_check(node, node.inputs[0])
    return _pooled_shape(node, node.inputs[0].shape), node.inputs[0].dtype


@op("MaxPool", shape=_max_pool_shape, broadcasting=False)
def _max_pool(xp, input, *, ksize, strides, padding, data_format="NHWC",  # noqa: A002
              dilations=(1, 1, 1, 1)):
    x = _to_nhwc(input, data_format)
    n, h, w, c = x.shape
    wh, ww = _windows(h, w, ksize, strides, padding, data_format, dilations)
    y = None
    if use_onednn(xp, x) and _every_window_valid(h, w, wh, ww):
        y = onednn.pool_forward(xp.ascontiguousarray(x), (wh, ww), "max")
    if y is None:
        y = _fold_taps(xp, pad_nhwc(xp, x, wh, ww, _lowest(xp, x.dtype)), wh, ww, xp.maximum)
    return _from_nhwc(xp, y, data_format)


@_max_pool.grad
def _max_pool_grad(op_, dy):
    return [max_pool_grad_op(op_.inputs[0], op_.outputs[0], dy, **_pool_attrs(op_))]


def max_pool_grad_shape(pooled_shape):
    """The shape rule of a max-pool gradient op (inputs orig_input, orig_output, grad) whose
    forward output shape is ``pooled_shape(node, input_shape)``."""

    def rule(node: NodeSpec):
        x, y, dy = node.inputs
        if not (x.dtype == y.dtype == dy.dtype):
            node.fail("orig_input, orig_output and grad must have one dtype", TypeError)
        expect = pooled_shape(node, x.shape)
        if not expect.is_compatible_with(dy.shape):
            node.fail(f"grad has shape {dy.shape} but pooling {x.shape} gives {expect}")
        return x.shape, x.dtype
    return rule


_pool_grad_shape = max_pool_grad_shape(_pooled_shape)


@op("MaxPoolGrad", shape=_pool_grad_shape, broadcasting=False)
def max_pool_grad_op(xp, orig_input, orig_output, grad, *, ksize, strides, padding,
                     data_format="NHWC", dilations=(1, 1, 1, 1)):
    """Routes each pooled gradient to the first maximum of its window."""
    x = _to_nhwc(orig_input, data_format)
    dy = _to_nhwc(grad, data_format)
    n, h, w, c = x.shape
    wh, ww = _windows(h, w, ksize, strides, padding, data_format, dilations)
    if use_onednn(xp, x, dy) and _every_window_valid(h, w, wh, ww):
        # oneDNN records each window's first maximum
        x = xp.ascontiguousarray(x)
        fwd = onednn.pool_forward(x, (wh, ww), "max", workspace=True)
        if fwd is not None:
            dx = onednn.pool_backward(xp.ascontiguousarray(dy), x.shape, (wh, ww), "max",
                                      fwd[1])
            if dx is not None:
                return _from_nhwc(xp, dx, data_format)
    # the first maximum of each window (row-major) takes the gradient, as in TF
    y = _to_nhwc(orig_output, data_format)
    disjoint = _no_overlap(x, wh, ww)
    xpad = pad_nhwc(xp, x, wh, ww, _lowest(xp, x.dtype))
    dxpad = (xp.empty if disjoint else xp.zeros)(xpad.shape, dtype=dy.dtype)
    taps = list(zip(_taps(xp, xpad, wh, ww), _taps(xp, dxpad, wh, ww)))
    free = xp.ones(y.shape, dtype=bool)
    for k, (v, d) in enumerate(taps):
        hit = v == y
        hit &= free
        if disjoint:                  # every cell in exactly one window: plain stores
            xp.multiply(dy, hit, out=d)
        else:
            d += dy * hit
        if k + 1 < len(taps):
            xp.greater(free, hit, out=free)      # free &= ~hit, in one pass
    return _from_nhwc(xp, crop(xp, dxpad, x.shape, wh, ww), data_format)


@max_pool_grad_op.grad
def _max_pool_grad_grad(op_, ddx):
    x, y, _ = op_.inputs
    return [A.zeros_like(x), A.zeros_like(y),
            max_pool_grad_grad_op(x, y, ddx, **_pool_attrs(op_))]


def _pool_grad_grad_shape(node: NodeSpec):
    x, y, _ = node.inputs
    return _pooled_shape(node, x.shape), x.dtype


@op("MaxPoolGradGrad", shape=_pool_grad_grad_shape, broadcasting=False)
def max_pool_grad_grad_op(xp, orig_input, orig_output, grad, *, ksize, strides, padding,
                          data_format="NHWC", dilations=(1, 1, 1, 1)):
    """Picks ``grad`` (input-shaped) at each window's first maximum: pooled-shaped."""
    x = _to_nhwc(orig_input, data_format)
    g = _to_nhwc(grad, data_format)
    n, h, w, c = x.shape
    wh, ww = _windows(h, w, ksize, strides, padding, data_format, dilations)
    arg = _argmax_windows(xp, x, wh, ww)
    gv = patches(xp, pad_nhwc(xp, xp.ascontiguousarray(g), wh, ww), wh, ww)
    gv = gv.transpose(0, 1, 2, 5, 3, 4).reshape(n, wh.out, ww.out, c, wh.k * ww.k)
    y = xp.take_along_axis(gv, arg[..., None], axis=-1)[..., 0]
    return _from_nhwc(xp, y, data_format)


@max_pool_grad_grad_op.grad
def _max_pool_grad_grad_grad(op_, dy):
    x, y, _ = op_.inputs
    return [A.zeros_like(x), A.zeros_like(y), max_pool_grad_op(x, y, dy, **_pool_attrs(op_))]


# ----- AvgPool ---------------------------------------------------------------------------
def _counts(xp, h, w, wh, ww, dtype):
    """Valid cells per window, shaped to broadcast over (N, OH, OW, C)."""
    ch, cw = valid_counts(h, wh), valid_counts(w, ww)
    return xp.asarray((ch[:, None] * cw[None, :])[None, :, :, None], dtype=dtype)


@op("AvgPool", shape=_max_pool_shape, broadcasting=False)
def _avg_pool(xp, value, *, ksize, strides, padding, data_format="NHWC",
              dilations=(1, 1, 1, 1)):
    x = _to_nhwc(value, data_format)
    n, h, w, c = x.shape
    wh, ww = _windows(h, w, ksize, strides, padding, data_format, dilations)
    if use_onednn(xp, x):
        y = onednn.pool_forward(xp.ascontiguousarray(x), (wh, ww), "avg")
        if y is not None:
            return _from_nhwc(xp, y, data_format)
    y = _fold_taps(xp, pad_nhwc(xp, x, wh, ww), wh, ww, xp.add)
    if _no_overlap(x, wh, ww):
        y /= y.dtype.type(wh.k * ww.k)
    else:
        y /= _counts(xp, h, w, wh, ww, x.dtype)
    return _from_nhwc(xp, y, data_format)


@_avg_pool.grad
def _avg_pool_grad(op_, dy):
    return [avg_pool_grad_op(A._shape_of(op_.inputs[0]), dy, **_pool_attrs(op_))]


def _avg_pool_grad_shape(node: NodeSpec):
    sizes, dy = node.inputs
    if not sizes.dtype.is_integer:
        node.fail(f"orig_input_shape must be an int32 vector, got {sizes.dtype.name}",
                  TypeError)
    _float_check(node, dy)
    shape = constant_shape(sizes)
    if shape.ndims is None:
        shape = TensorShape([None] * 4)
    if shape.ndims != 4:
        node.fail(f"orig_input_shape must describe a 4-D shape, got {shape}")
    expect = _pooled_shape(node, shape)
    if not expect.is_compatible_with(dy.shape):
        node.fail(f"grad has shape {dy.shape} but pooling {shape} gives {expect}")
    return shape, dy.dtype


@op("AvgPoolGrad", shape=_avg_pool_grad_shape, broadcasting=False)
def avg_pool_grad_op(xp, orig_input_shape, grad, *, ksize, strides, padding,
                     data_format="NHWC", dilations=(1, 1, 1, 1)):
    """Spreads each pooled gradient evenly over the valid cells of its window."""
    n, a, b, c = (int(d) for d in orig_input_shape)
    shape = (n, a, b, c) if data_format == "NHWC" else (n, b, c, a)
    n, h, w, c = shape
    dy = _to_nhwc(grad, data_format)
    wh, ww = _windows(h, w, ksize, strides, padding, data_format, dilations)
    if use_onednn(xp, dy):
        dx = onednn.pool_backward(xp.ascontiguousarray(dy), shape, (wh, ww), "avg")
        if dx is not None:
            return _from_nhwc(xp, dx, data_format)
    if wh.k == wh.stride and ww.k == ww.stride and wh.dilation == ww.dilation == 1 \
            and h == wh.out * wh.k and w == ww.out * ww.k:
        g = dy * dy.dtype.type(1.0 / (wh.k * ww.k))
        dx = xp.broadcast_to(g[:, :, None, :, None, :], (n, wh.out, wh.k, ww.out, ww.k, c))
        dx = dx.reshape(shape)
    else:
        g = dy / _counts(xp, h, w, wh, ww, dy.dtype)
        dxpad = xp.zeros((n, h + wh.pad_before + wh.pad_after,
                          w + ww.pad_before + ww.pad_after, c), dtype=dy.dtype)
        for i in range(wh.k):
            for j in range(ww.k):
                dxpad[:, wh.offset(i), ww.offset(j)] += g
        dx = crop(xp, dxpad, shape, wh, ww)
    return _from_nhwc(xp, dx, data_format)


@avg_pool_grad_op.grad
def _avg_pool_grad_grad(op_, ddx):
    return [None, _avg_pool(ddx, **_pool_attrs(op_))]


# ----- public API ------------------------------------------------------------------------
def _attrs(ksize, strides, padding, data_format, dilations=None) -> dict:
    data_format = data_format or "NHWC"
    spatial_axes(data_format)
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    if ksize is None or strides is None:
        raise ValueError("pooling needs ksize and strides")
    return {"ksize": four(ksize, "ksize", data_format),
            "strides": four(strides, "strides", data_format), "padding": padding.upper(),
            "data_format": data_format, "dilations": four(dilations, "dilations", data_format)}


def max_pool(value=None, ksize=None, strides=None, padding=None, data_format: str = "NHWC",
             name: str | None = None, input=None) -> Tensor:  # noqa: A002
    """``tf.nn.max_pool``: the maximum of each ``ksize`` window.

    >>> import flowgrad as tf, numpy as np
    >>> tf.nn.max_pool(np.ones((1, 5, 5, 3)), [1, 2, 2, 1], [1, 2, 2, 1], "SAME").shape.as_list()
    [1, 3, 3, 3]
    """
    value = input if value is None else value
    with name_scope(name, "MaxPool", [value]) as scope:
        return _max_pool(convert_to_tensor(value, name="input"), name=scope,
                         **_attrs(ksize, strides, padding, data_format))


def avg_pool(value=None, ksize=None, strides=None, padding=None, data_format: str = "NHWC",
             name: str | None = None, input=None) -> Tensor:  # noqa: A002
    """``tf.nn.avg_pool``: the mean of each window's input cells (SAME: padding excluded)."""
    value = input if value is None else value
    with name_scope(name, "AvgPool", [value]) as scope:
        return _avg_pool(convert_to_tensor(value, name="value"), name=scope,
                         **_attrs(ksize, strides, padding, data_format))


max_pool2d = max_pool
avg_pool2d = avg_pool


def _pool1d(fn, input, ksize, strides, padding, data_format, name):  # noqa: A002
    data_format = data_format or "NWC"
    last = data_format in ("NWC", "NHWC")

    def one(v):
        v = [v] if isinstance(v, int) else list(v)
        return int(v[0] if len(v) == 1 else v[1] if last else v[2])

    x = convert_to_tensor(input)
    x4 = A.expand_dims(x, 1 if last else 2)
    y = fn(x4, [1, one(ksize)], [1, one(strides)], padding,
           data_format="NHWC" if last else "NCHW")
    return A.squeeze(y, [1 if last else 2], name=name)


def max_pool1d(input, ksize, strides, padding, data_format: str = "NWC",  # noqa: A002
               name: str | None = None) -> Tensor:
    """``tf.nn.max_pool1d`` on ``NWC`` (or ``NCW``) input."""
    return _pool1d(max_pool, input, ksize, strides, padding, data_format, name)


def avg_pool1d(input, ksize, strides, padding, data_format: str = "NWC",  # noqa: A002
               name: str | None = None) -> Tensor:
    """``tf.nn.avg_pool1d`` on ``NWC`` (or ``NCW``) input."""
    return _pool1d(avg_pool, input, ksize, strides, padding, data_format, name)


def pool(input, window_shape, pooling_type, padding, dilation_rate=None,  # noqa: A002
         strides=None, name: str | None = None, data_format: str | None = None,
         dilations=None) -> Tensor:
    """``tf.nn.pool``: N-D max or average pooling for N = 1 or 2, with dilation.

    As in TF, a dilation rate above 1 requires strides of 1.
    """
    dilation_rate = dilations if dilation_rate is None else dilation_rate
    if pooling_type not in ("MAX", "AVG"):
        raise ValueError(f"pooling_type must be 'MAX' or 'AVG', got {pooling_type!r}")
    window_shape = [int(v) for v in window_shape]
    nd = len(window_shape)
    strides = [1] * nd if strides is None else [int(v) for v in strides]
    rate = [1] * nd if dilation_rate is None else [int(v) for v in dilation_rate]
    if len(strides) != nd or len(rate) != nd:
        raise ValueError(f"window_shape, strides and dilation_rate must have {nd} entries")
    if any(r > 1 for r in rate) and any(s > 1 for s in strides):
        raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1")
    if nd == 3:
        from flowgrad.ops.pool3d_ops import pool3d  # noqa: PLC0415
        return pool3d(input, window_shape, pooling_type, padding, rate, strides, name,
                      data_format)
    if nd not in (1, 2):
        raise ValueError(f"pool supports 1-D, 2-D and 3-D pooling, got a {nd}-D window")
    op_fn = _max_pool if pooling_type == "MAX" else _avg_pool
    with name_scope(name, f"{pooling_type.lower()}_pool", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        fmt = data_format or ("NWC" if nd == 1 else "NHWC")
        last = fmt in ("NWC", "NHWC")
        if nd == 1:
            x = A.expand_dims(x, 1 if last else 2)
            window_shape, strides, rate = [1] + window_shape, [1] + strides, [1] + rate
        fmt2 = "NHWC" if last else "NCHW"
        y = op_fn(x, ksize=four(window_shape, "window_shape", fmt2),
                  strides=four(strides, "strides", fmt2), padding=padding.upper(),
                  data_format=fmt2, dilations=four(rate, "dilation_rate", fmt2))
        if nd == 1:
            y = A.squeeze(y, [1 if last else 2])
        return A.identity(y, name=scope)


# ----- CUDA kernels: generated CUDA C (``cuda_pool``) ----------------------------------------
from flowgrad.ops import cuda_pool as _cuda  # noqa: E402 - imports no CuPy until called

_max_pool.device_kernel("cuda")(_cuda.max_pool_kernel(_max_pool.opdef.kernel))
max_pool_grad_op.device_kernel("cuda")(_cuda.max_pool_grad_kernel(max_pool_grad_op.opdef.kernel))
_avg_pool.device_kernel("cuda")(_cuda.avg_pool_kernel(_avg_pool.opdef.kernel))
avg_pool_grad_op.device_kernel("cuda")(_cuda.avg_pool_grad_kernel(avg_pool_grad_op.opdef.kernel))
