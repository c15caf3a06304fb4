"""3-D convolutions and pooling: Conv3D with its two backprop ops, MaxPool3D and AvgPool3D
with their gradient ops.

Kernels work on NDHWC arrays (NCDHW callers transpose at the boundary).  Every window of a
padded input is one strided view ``(N, OD, OH, OW, KD, KH, KW, C)``; a convolution copies
that view into a patch matrix (vol2col) and runs one GEMM against the filter, the filter
gradient is one GEMM ``patches^T @ dy`` and the input gradient one GEMM ``dy @ W^T`` whose
columns are added back tap by tap (a strided add per kernel offset, never a loop over
voxels).  As for 2-D, the backprop ops are ops of their own whose gradients are again
convolutions, so second-order gradients work.

Pooling folds ``maximum``/``add`` over the window one spatial axis at a time.  As on TF's
CPU, ``MaxPool3DGrad`` gives the gradient to every cell equal to its window's maximum (ties
included); ``MaxPool3DGradGrad`` is its exact adjoint.  ``SAME`` average pooling divides by
the number of input cells in the window, not by the window size.
"""

from __future__ import annotations

import math

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, constant, constant_shape, convert_to_tensor,
                                         op, require_float)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops.conv_geometry import valid_counts, window
from flowgrad.ops.space_batch_ops import with_space_to_batch
from flowgrad.runtime import placement as _placement

_FORMATS = {"NDHWC": (1, 2, 3, 4), "NCDHW": (2, 3, 4, 1)}
_CONV_ATTRS = ("strides", "padding", "data_format", "dilations")
_POOL_ATTRS = ("ksize", "strides", "padding", "data_format")
_CHUNK = 1 << 22         # elements of one vol2col patch matrix before it is built in pieces


# ----- geometry ---------------------------------------------------------------------------
def _axes(data_format: str) -> tuple[int, int, int, int]:
    """(D, H, W, C) axes of a 5-D tensor in ``data_format``."""
    if data_format not in _FORMATS:
        raise ValueError(f"data_format must be 'NDHWC' or 'NCDHW', got {data_format!r}")
    return _FORMATS[data_format]


def _to_last(x, data_format: str):
    return x if data_format == "NDHWC" else x.transpose(0, 2, 3, 4, 1)


def _from_last(xp, y, data_format: str):
    return y if data_format == "NDHWC" else xp.ascontiguousarray(y.transpose(0, 4, 1, 2, 3))


def _last_shape(shape, data_format: str) -> tuple:
    s = tuple(int(d) for d in shape)
    return s if data_format == "NDHWC" else (s[0], s[2], s[3], s[4], s[1])


def _windows(spatial, ksize3, strides, dilations, padding, data_format) -> tuple:
    axes = _axes(data_format)[:3]
    return tuple(window(int(n), int(k), strides[a], dilations[a], padding)
                 for n, k, a in zip(spatial, ksize3, axes))


def _pad(xp, x, wins, value=0):
    """``x`` (NDHWC) padded by the windows' padding (``x`` itself when there is none)."""
    if not any(w.pad_before or w.pad_after for w in wins):
        return x
    n, *sp, c = x.shape
    out = xp.full((n, *(s + w.pad_before + w.pad_after for s, w in zip(sp, wins)), c), value,
                  dtype=x.dtype)
    out[(slice(None), *(slice(w.pad_before, w.pad_before + s) for s, w in zip(sp, wins)))] = x
    return out


def _crop(xp, xpad, shape, wins):
    _, *sp, _ = shape
    if tuple(xpad.shape[1:4]) == tuple(sp):
        return xpad
    return xp.ascontiguousarray(
        xpad[(slice(None), *(slice(w.pad_before, w.pad_before + s) for s, w in zip(sp, wins)))])


def _padded_zeros(xp, shape, wins, dtype):
    n, *sp, c = shape
    return xp.zeros((n, *(s + w.pad_before + w.pad_after for s, w in zip(sp, wins)), c),
                    dtype=dtype)


def _vol_view(xp, xpad, wins):
    """The strided view ``(N, OD, OH, OW, KD, KH, KW, C)`` of every window."""
    n, *_, c = xpad.shape
    s0, s1, s2, s3, s4 = xpad.strides
    wd, wh, ww = wins
    return xp.lib.stride_tricks.as_strided(
        xpad, (n, wd.out, wh.out, ww.out, wd.k, wh.k, ww.k, c),
        (s0, s1 * wd.stride, s2 * wh.stride, s3 * ww.stride,
         s1 * wd.dilation, s2 * wh.dilation, s3 * ww.dilation, s4))


def _tap(wins, taps) -> tuple:
    """The index of kernel offset ``taps`` = (i, j, k) for all outputs (padded coords)."""
    return (slice(None), *(w.offset(t) for w, t in zip(wins, taps)))


def _all_taps(wins):
    return [(i, j, k) for i in range(wins[0].k) for j in range(wins[1].k)
            for k in range(wins[2].k)]


def _image_chunks(n: int, per_image: int):
    """Slices of images whose patch matrices hold about ``_CHUNK`` elements together."""
    step = max(1, _CHUNK // max(per_image, 1))
    for i in range(0, n, step):
        yield slice(i, min(i + step, n))


def _pointwise(fshape, wins) -> bool:
    return tuple(fshape[:3]) == (1, 1, 1) and all(
        w.stride == 1 and not (w.pad_before or w.pad_after) for w in wins)


# ----- kernels on NDHWC arrays ------------------------------------------------------------
def _conv_forward(xp, x, filt, wins):
    n, *_, c = x.shape
    kd, kh, kw, ci, co = filt.shape
    if _pointwise(filt.shape, wins):
        return xp.matmul(x.reshape(-1, c), filt.reshape(ci, co)).reshape(*x.shape[:4], co)
    k = kd * kh * kw * ci
    view = _vol_view(xp, _pad(xp, x, wins), wins)
    outs = tuple(w.out for w in wins)
    w2 = filt.reshape(k, co)
    y = xp.empty((n, *outs, co), dtype=x.dtype)
    for imgs in _image_chunks(n, math.prod(outs) * k):
        cols = xp.ascontiguousarray(view[imgs]).reshape(-1, k)
        xp.matmul(cols, w2, out=y[imgs].reshape(-1, co))
    return y


def _conv_filter_grad(xp, x, dy, fshape, wins):
    n, *_, c = x.shape
    kd, kh, kw, ci, co = fshape
    if _pointwise(fshape, wins):
        return xp.matmul(x.reshape(-1, c).T, dy.reshape(-1, co)).reshape(fshape)
    k = kd * kh * kw * ci
    view = _vol_view(xp, _pad(xp, x, wins), wins)
    dw = None
    for imgs in _image_chunks(n, math.prod(w.out for w in wins) * k):
        cols = xp.ascontiguousarray(view[imgs]).reshape(-1, k)
        part = xp.matmul(cols.T, dy[imgs].reshape(-1, co))
        dw = part if dw is None else dw + part
    return dw.reshape(fshape)


def _conv_input_grad(xp, dy, filt, shape, wins):
    n, *_, c = shape
    kd, kh, kw, ci, co = filt.shape
    if _pointwise(filt.shape, wins):
        return xp.matmul(dy.reshape(-1, co), filt.reshape(ci, co).T).reshape(shape)
    outs = tuple(w.out for w in wins)
    k = kd * kh * kw * ci
    if c <= _CHANNEL_MAJOR_MAX:
        return _input_grad_channel_major(xp, dy, filt, shape, wins)
    # one GEMM gives every tap's contribution (a group of images at a time); each tap is
    # then one strided add into the padded gradient (col2vol)
    w2t = filt.reshape(k, co).T
    dxpad = _padded_zeros(xp, shape, wins, dy.dtype)
    for imgs in _image_chunks(n, math.prod(outs) * k):
        cols = xp.matmul(dy[imgs].reshape(-1, co), w2t)
        cols = cols.reshape(-1, *outs, kd, kh, kw, ci)
        part = dxpad[imgs]
        for t in _all_taps(wins):
            part[_tap(wins, t)] += cols[:, :, :, :, t[0], t[1], t[2]]
    return _crop(xp, dxpad, shape, wins)


_CHANNEL_MAJOR_MAX = 16   # input channels up to which the input gradient scatters by channel


def _input_grad_channel_major(xp, dy, filt, shape, wins):
    """The input gradient for few input channels: the GEMM ``W @ dy^T`` gives every tap's
    contribution channel-major, ``(KD, KH, KW, C, N, OD, OH, OW)``, so each tap's add runs
    over whole ``(OD, OH, OW)`` volumes instead of ``C``-element pieces (8 channels:
    2.5x faster); one transpose at the end restores NDHWC."""
    n, d, h, w, c = shape
    kd, kh, kw, ci, co = filt.shape
    outs = tuple(v.out for v in wins)
    w2 = filt.reshape(-1, co)
    dxpad = xp.zeros((c, n, *(s + v.pad_before + v.pad_after for s, v in zip((d, h, w), wins))),
                     dtype=dy.dtype)
    for imgs in _image_chunks(n, math.prod(outs) * kd * kh * kw * ci):
        taps = xp.matmul(w2, dy[imgs].reshape(-1, co).T)
        taps = taps.reshape(kd, kh, kw, ci, -1, *outs)
        part = dxpad[:, imgs]
        for t in _all_taps(wins):
            part[(slice(None), *_tap(wins, t))] += taps[t]
    dx = dxpad[(slice(None), slice(None),
                *(slice(v.pad_before, v.pad_before + s) for s, v in zip((d, h, w), wins)))]
    return xp.ascontiguousarray(dx.transpose(1, 2, 3, 4, 0))


# ----- attribute checks -------------------------------------------------------------------
def _check_five(node: NodeSpec, key: str) -> None:
    v = node.attrs[key]
    _, _, _, ca = _axes(node.attrs["data_format"])
    if len(v) != 5 or min(v) < 1:
        node.fail(f"{key} must have 5 positive entries, got {list(v)}")
    if v[0] != 1 or v[ca] != 1:
        node.fail(f"{key} must be 1 in the batch and channel dimensions, got {list(v)}")


def _check_common(node: NodeSpec, keys) -> None:
    try:
        _axes(node.attrs["data_format"])
    except ValueError as e:
        node.fail(str(e))
    for key in keys:
        _check_five(node, key)
    if node.attrs["padding"] not in ("SAME", "VALID"):
        node.fail(f"padding must be 'SAME' or 'VALID', got {node.attrs['padding']!r}")


def _rank5(node: NodeSpec, t: Tensor, what: str) -> list:
    if t.shape.ndims is not None and t.shape.ndims != 5:
        node.fail(f"{what} must be 5-D, got shape {t.shape}")
    return t.shape.as_list() if t.shape.ndims is not None else [None] * 5


def _static_out(node: NodeSpec, dims: list, ksize3, out_channels, dilations) -> TensorShape:
    a = node.attrs
    *sp, ca = _axes(a["data_format"])
    dims = list(dims)
    for ax, k in zip(sp, ksize3):
        if dims[ax] is None or k is None:
            dims[ax] = None
            continue
        o = window(dims[ax], k, a["strides"][ax], dilations[ax], a["padding"]).out
        if o == 0:
            node.fail(f"the (dilated) window of size {k} does not fit the input dimension "
                      f"{dims[ax]} (VALID padding): the output would be empty")
        dims[ax] = o
    dims[ca] = out_channels
    return TensorShape(dims)


def _check_channels(node: NodeSpec, in_dims: list, f_dims: list) -> None:
    c, fc = in_dims[_axes(node.attrs["data_format"])[3]], f_dims[3]
    if c is not None and fc is not None and c != fc:
        node.fail(f"input has {c} channels but the filter expects {fc} (filter shape "
                  f"[depth, height, width, in_channels, out_channels] = {f_dims}). Expect: "
                  f"filter.shape[3] == input channels ({node.attrs['data_format']})")


def _runtime_check(op_type: str, c: int, fc: int, dy_shape=None, expect=None) -> None:
    if c != fc:
        raise ValueError(f"{op_type}: input depth {c} does not match the filter's in_channels "
                         f"{fc}")
    if dy_shape is not None and tuple(dy_shape) != tuple(expect):
        raise ValueError(f"{op_type}: out_backprop has shape {tuple(dy_shape)} (NDHWC) but the "
                         f"convolution's output is {tuple(expect)} (NDHWC)")


def _attrs_of(op_, keys) -> dict:
    return {k: op_.attrs[k] for k in keys}


# ----- Conv3D -----------------------------------------------------------------------------
def _conv3d_shape(node: NodeSpec):
    require_float(node)
    _check_common(node, ("strides", "dilations"))
    x, f = node.inputs
    xd, fd = _rank5(node, x, "input"), _rank5(node, f, "filter")
    _check_channels(node, xd, fd)
    return _static_out(node, xd, fd[:3], fd[4], node.attrs["dilations"]), x.dtype


@op("Conv3D", shape=_conv3d_shape, same_dtype=True, broadcasting=False)
def _conv3d(xp, input, filter, *, strides, padding, data_format="NDHWC",  # noqa: A002
            dilations=(1, 1, 1, 1, 1)):
    x = _to_last(input, data_format)
    n, d, h, w, c = x.shape
    _runtime_check("Conv3D", c, filter.shape[3])
    wins = _windows((d, h, w), filter.shape[:3], strides, dilations, padding, data_format)
    return _from_last(xp, _conv_forward(xp, x, filter, wins), data_format)


@_conv3d.grad
def _conv3d_grad(op_, dy):
    x, f = op_.inputs
    attrs = _attrs_of(op_, _CONV_ATTRS)
    return [conv3d_backprop_input_op(A._shape_of(x), f, dy, **attrs),
            conv3d_backprop_filter_op(x, A._shape_of(f), dy, **attrs)]


def _sizes_shape(node: NodeSpec, sizes: Tensor, what: str) -> TensorShape:
    if not sizes.dtype.is_integer:
        node.fail(f"{what} must be an int32 shape vector, got {sizes.dtype.name}", TypeError)
    shape = constant_shape(sizes)
    if shape.ndims is None:
        shape = TensorShape([None] * 5)
    if shape.ndims != 5:
        node.fail(f"{what} must describe a 5-D shape, got {shape}")
    return shape


def _backprop_input_shape(node: NodeSpec):
    require_float(node, 1, 2)
    _check_common(node, ("strides", "dilations"))
    sizes, f, dy = node.inputs
    if f.dtype != dy.dtype:
        node.fail(f"filter ({f.dtype.name}) and out_backprop ({dy.dtype.name}) dtypes differ",
                  TypeError)
    shape = _sizes_shape(node, sizes, "input_sizes")
    fd = _rank5(node, f, "filter")
    _rank5(node, dy, "out_backprop")
    _check_channels(node, shape.as_list(), fd)
    if shape.is_fully_defined():
        expect = _static_out(node, shape.as_list(), fd[:3], fd[4], node.attrs["dilations"])
        if not expect.is_compatible_with(dy.shape):
            node.fail(f"out_backprop has shape {dy.shape} but a convolution of input {shape} "
                      f"with filter {fd} gives {expect}")
    return shape, f.dtype


@op("Conv3DBackpropInputV2", shape=_backprop_input_shape, broadcasting=False)
def conv3d_backprop_input_op(xp, input_sizes, filter, out_backprop, *, strides,  # noqa: A002
                             padding, data_format="NDHWC", dilations=(1, 1, 1, 1, 1)):
    """``dx`` of a Conv3D: one GEMM ``dy @ W^T``, added back tap by tap (col2vol)."""
    shape = _last_shape(input_sizes, data_format)
    n, d, h, w, c = shape
    kd, kh, kw, ci, co = filter.shape
    dy = _to_last(out_backprop, data_format)
    wins = _windows((d, h, w), (kd, kh, kw), strides, dilations, padding, data_format)
    _runtime_check("Conv3DBackpropInputV2", c, ci, dy.shape,
                   (n, *(v.out for v in wins), co))
    return _from_last(xp, _conv_input_grad(xp, dy, filter, shape, wins), data_format)


@conv3d_backprop_input_op.grad
def _conv3d_backprop_input_grad(op_, ddx):
    _, f, dy = op_.inputs
    attrs = _attrs_of(op_, _CONV_ATTRS)
    return [None, conv3d_backprop_filter_op(ddx, A._shape_of(f), dy, **attrs),
            _conv3d(ddx, f, **attrs)]


def _backprop_filter_shape(node: NodeSpec):
    require_float(node, 0, 2)
    _check_common(node, ("strides", "dilations"))
    x, sizes, dy = node.inputs
    if x.dtype != dy.dtype:
        node.fail(f"input ({x.dtype.name}) and out_backprop ({dy.dtype.name}) dtypes differ",
                  TypeError)
    shape = _sizes_shape(node, sizes, "filter_sizes")
    _check_channels(node, _rank5(node, x, "input"), shape.as_list())
    _rank5(node, dy, "out_backprop")
    return shape, x.dtype


@op("Conv3DBackpropFilterV2", shape=_backprop_filter_shape, broadcasting=False)
def conv3d_backprop_filter_op(xp, input, filter_sizes, out_backprop, *, strides,  # noqa: A002
                              padding, data_format="NDHWC", dilations=(1, 1, 1, 1, 1)):
    """``dW`` of a Conv3D: one GEMM ``patches^T @ dy``."""
    x = _to_last(input, data_format)
    fshape = tuple(int(v) for v in filter_sizes)
    n, d, h, w, c = x.shape
    dy = _to_last(out_backprop, data_format)
    wins = _windows((d, h, w), fshape[:3], strides, dilations, padding, data_format)
    _runtime_check("Conv3DBackpropFilterV2", c, fshape[3], dy.shape,
                   (n, *(v.out for v in wins), fshape[4]))
    return _conv_filter_grad(xp, x, dy, fshape, wins)


@conv3d_backprop_filter_op.grad
def _conv3d_backprop_filter_grad(op_, ddw):
    x, _, dy = op_.inputs
    attrs = _attrs_of(op_, _CONV_ATTRS)
    return [conv3d_backprop_input_op(A._shape_of(x), ddw, dy, **attrs), None,
            _conv3d(x, ddw, **attrs)]


# ----- pooling ----------------------------------------------------------------------------
_ONES = (1, 1, 1, 1, 1)


def _pooled_shape(node: NodeSpec, shape: TensorShape) -> TensorShape:
    _check_common(node, ("ksize", "strides"))
    if shape.ndims is None:
        return TensorShape([None] * 5)
    if shape.ndims != 5:
        node.fail(f"input must be 5-D, got shape {shape}")
    dims = shape.as_list()
    *sp, ca = _axes(node.attrs["data_format"])
    return _static_out(node, dims, [node.attrs["ksize"][a] for a in sp], dims[ca], _ONES)


def _pool_windows(shape, ksize, strides, padding, data_format):
    sp = _axes(data_format)[:3]
    return _windows(shape[1:4], [ksize[a] for a in sp], strides, _ONES, padding, data_format)


def _fold(xp, xpad, wins, ufunc):
    """``ufunc`` folded over each window, one spatial axis at a time: ``(N, OD, OH, OW, C)``.
    Each step's views keep whole trailing planes contiguous (long inner runs)."""
    r = xpad
    strided = xp.lib.stride_tricks.as_strided
    for ax, w in zip((1, 2, 3), wins):
        if w.k == 1 and w.stride == 1 and r.shape[ax] == w.out:
            continue
        shape = list(r.shape)
        shape[ax] = w.out
        views = []
        for i in range(w.k):
            sub = r[(slice(None),) * ax + (slice(i * w.dilation, None),)]
            st = list(sub.strides)
            st[ax] *= w.stride
            views.append(strided(sub, tuple(shape), tuple(st)))
        acc = views[0].copy()
        for v in views[1:]:
            ufunc(acc, v, out=acc)
        r = acc
    return r.copy() if r is xpad else r


def _lowest(xp, dtype):
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def _pool_shape(node: NodeSpec):
    x = node.inputs[0]
    if not x.dtype.is_floating:
        node.fail(f"expects a floating-point input, got {x.dtype.name}", TypeError)
    return _pooled_shape(node, x.shape), x.dtype


@op("MaxPool3D", shape=_pool_shape, broadcasting=False)
def _max_pool3d(xp, input, *, ksize, strides, padding, data_format="NDHWC"):  # noqa: A002
    x = _to_last(input, data_format)
    wins = _pool_windows(x.shape, ksize, strides, padding, data_format)
    y = _fold(xp, _pad(xp, x, wins, _lowest(xp, x.dtype)), wins, xp.maximum)
    return _from_last(xp, y, data_format)


@_max_pool3d.grad
def _max_pool3d_grad(op_, dy):
    return [max_pool3d_grad_op(op_.inputs[0], op_.outputs[0], dy,
                               **_attrs_of(op_, _POOL_ATTRS))]


def _max_pool_grad_shape(node: NodeSpec):
    x, y, dy = node.inputs
    if not (x.dtype == y.dtype == dy.dtype):
        node.fail("orig_input, orig_output and grad must have one dtype", TypeError)
    expect = _pooled_shape(node, x.shape)
    if not expect.is_compatible_with(dy.shape):
        node.fail(f"grad has shape {dy.shape} but pooling {x.shape} gives {expect}")
    return x.shape, x.dtype


@op("MaxPool3DGrad", shape=_max_pool_grad_shape, broadcasting=False)
def max_pool3d_grad_op(xp, orig_input, orig_output, grad, *, ksize, strides, padding,
                       data_format="NDHWC"):
    """Gives each pooled gradient to every cell of its window equal to the maximum."""
    x = _to_last(orig_input, data_format)
    y, dy = _to_last(orig_output, data_format), _to_last(grad, data_format)
    wins = _pool_windows(x.shape, ksize, strides, padding, data_format)
    xpad = _pad(xp, x, wins, _lowest(xp, x.dtype))
    dxpad = xp.zeros(xpad.shape, dtype=dy.dtype)
    for t in _all_taps(wins):
        idx = _tap(wins, t)
        dxpad[idx] += dy * (xpad[idx] == y)
    return _from_last(xp, _crop(xp, dxpad, x.shape, wins), data_format)


@max_pool3d_grad_op.grad
def _max_pool3d_grad_grad(op_, ddx):
    x, y, _ = op_.inputs
    return [A.zeros_like(x), A.zeros_like(y),
            max_pool3d_grad_grad_op(x, y, ddx, **_attrs_of(op_, _POOL_ATTRS))]


def _grad_grad_shape(node: NodeSpec):
    return _pooled_shape(node, node.inputs[0].shape), node.inputs[0].dtype


@op("MaxPool3DGradGrad", shape=_grad_grad_shape, broadcasting=False)
def max_pool3d_grad_grad_op(xp, orig_input, orig_output, grad, *, ksize, strides, padding,
                            data_format="NDHWC"):
    """The adjoint of MaxPool3DGrad: sums ``grad`` (input-shaped) over each window's maxima."""
    x = _to_last(orig_input, data_format)
    y, g = _to_last(orig_output, data_format), _to_last(grad, data_format)
    wins = _pool_windows(x.shape, ksize, strides, padding, data_format)
    xpad = _pad(xp, x, wins, _lowest(xp, x.dtype))
    gpad = _pad(xp, xp.ascontiguousarray(g), wins)
    out = xp.zeros(y.shape, dtype=g.dtype)
    for t in _all_taps(wins):
        idx = _tap(wins, t)
        out += gpad[idx] * (xpad[idx] == y)
    return _from_last(xp, out, data_format)


@max_pool3d_grad_grad_op.grad
def _max_pool3d_grad_grad_grad(op_, dy):
    x, y, _ = op_.inputs
    return [A.zeros_like(x), A.zeros_like(y),
            max_pool3d_grad_op(x, y, dy, **_attrs_of(op_, _POOL_ATTRS))]


def _counts(xp, spatial, wins, dtype):
    """Valid cells per window, shaped to broadcast over (N, OD, OH, OW, C)."""
    cd, ch, cw = (valid_counts(int(n), w) for n, w in zip(spatial, wins))
    c = cd[:, None, None] * ch[None, :, None] * cw[None, None, :]
    return xp.asarray(c[None, ..., None], dtype=dtype)


@op("AvgPool3D", shape=_pool_shape, broadcasting=False)
def _avg_pool3d(xp, input, *, ksize, strides, padding, data_format="NDHWC"):  # noqa: A002
    x = _to_last(input, data_format)
    wins = _pool_windows(x.shape, ksize, strides, padding, data_format)
    y = _fold(xp, _pad(xp, x, wins), wins, xp.add)
    y /= _counts(xp, x.shape[1:4], wins, x.dtype)
    return _from_last(xp, y, data_format)


@_avg_pool3d.grad
def _avg_pool3d_grad(op_, dy):
    return [avg_pool3d_grad_op(A._shape_of(op_.inputs[0]), dy, **_attrs_of(op_, _POOL_ATTRS))]


def _avg_grad_shape(node: NodeSpec):
    sizes, dy = node.inputs
    if not dy.dtype.is_floating:
        node.fail(f"expects a floating-point grad, got {dy.dtype.name}", TypeError)
    shape = _sizes_shape(node, sizes, "orig_input_shape")
    expect = _pooled_shape(node, shape)
    if not expect.is_compatible_with(dy.shape):
        node.fail(f"grad has shape {dy.shape} but pooling {shape} gives {expect}")
    return shape, dy.dtype


@op("AvgPool3DGrad", shape=_avg_grad_shape, broadcasting=False)
def avg_pool3d_grad_op(xp, orig_input_shape, grad, *, ksize, strides, padding,
                       data_format="NDHWC"):
    """Spreads each pooled gradient evenly over the valid cells of its window."""
    shape = _last_shape(orig_input_shape, data_format)
    dy = _to_last(grad, data_format)
    wins = _pool_windows(shape, ksize, strides, padding, data_format)
    g = dy / _counts(xp, shape[1:4], wins, dy.dtype)
    dxpad = _padded_zeros(xp, shape, wins, dy.dtype)
    for t in _all_taps(wins):
        dxpad[_tap(wins, t)] += g
    return _from_last(xp, _crop(xp, dxpad, shape, wins), data_format)


@avg_pool3d_grad_op.grad
def _avg_pool3d_grad_grad(op_, ddx):
    return [None, _avg_pool3d(ddx, **_attrs_of(op_, _POOL_ATTRS))]


# shape arguments stay host arrays on a device (kernels read them as Python ints)
_placement.HOST_MEMORY_ARGS.update({"Conv3DBackpropInputV2": (0,), "Conv3DBackpropFilterV2": (1,),
                                    "AvgPool3DGrad": (0,)})


# ----- public API -------------------------------------------------------------------------
def _five(value, name: str, data_format: str) -> tuple:
    """An int or a list of 1, 3 or 5 ints (TF's forms) as 5 ints."""
    if value is None:
        value = 1
    vals = [int(value)] if isinstance(value, int) else [int(v) for v in value]
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) == 3:
        out = [1] * 5
        for a, v in zip(_axes(data_format)[:3], vals):
            out[a] = v
        return tuple(out)
    if len(vals) != 5:
        raise ValueError(f"{name} must be an int or a list of 1, 3 or 5 ints, got {value!r}")
    return tuple(vals)


def _padding(padding) -> str:
    p = padding.upper() if isinstance(padding, str) else padding
    if p not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    return p


def _conv_attrs(strides, padding, data_format, dilations) -> dict:
    data_format = data_format or "NDHWC"
    _axes(data_format)
    if strides is None:
        raise ValueError("strides must be given (e.g. [1, 1, 1, 1, 1])")
    return {"strides": _five(strides, "strides", data_format), "padding": _padding(padding),
            "data_format": data_format,
            "dilations": _five(dilations, "dilations", data_format)}


def _sizes(sizes, what: str) -> Tensor:
    if isinstance(sizes, Tensor):
        return sizes
    if isinstance(sizes, TensorShape):
        sizes = sizes.as_list()
    if isinstance(sizes, list | tuple) and any(isinstance(v, Tensor) for v in sizes):
        return A.stack([convert_to_tensor(v, dtype=_dt.int32) for v in sizes], name=what)
    return constant([int(d) for d in sizes], _dt.int32, name=what)


def conv3d(input, filter=None, strides=None, padding=None,  # noqa: A002
           data_format: str = "NDHWC", dilations=(1, 1, 1, 1, 1), name: str | None = None,
           filters=None) -> Tensor:
    """``tf.nn.conv3d``: 3-D cross-correlation of a 5-D input with a
    ``[depth, height, width, in_channels, out_channels]`` filter.

    >>> import flowgrad as tf, numpy as np
    >>> y = tf.nn.conv3d(np.ones((1, 4, 4, 4, 1)), np.ones((3, 3, 3, 1, 2)),
    ...                  [1, 1, 1, 1, 1], "SAME")
    >>> y.shape.as_list()
    [1, 4, 4, 4, 2]
    """
    filter = filters if filter is None else filter  # noqa: A001
    if filter is None:
        raise ValueError("conv3d needs a filter (filter= or filters=)")
    with name_scope(name, "Conv3D", [input, filter]) as scope:
        x = convert_to_tensor(input, name="input")
        f = convert_to_tensor(filter, dtype=x.dtype, name="filter")
        return _conv3d(x, f, name=scope, **_conv_attrs(strides, padding, data_format,
                                                        dilations))


def conv3d_backprop_filter_v2(input, filter_sizes, out_backprop, strides,  # noqa: A002
                              padding, data_format: str = "NDHWC",
                              dilations=(1, 1, 1, 1, 1), name: str | None = None) -> Tensor:
    """``tf.nn.conv3d_backprop_filter_v2``: the gradient of conv3d with respect to its
    filter."""
    with name_scope(name, "Conv3DBackpropFilterV2") as scope:
        x = convert_to_tensor(input, name="input")
        dy = convert_to_tensor(out_backprop, dtype=x.dtype, name="out_backprop")
        return conv3d_backprop_filter_op(x, _sizes(filter_sizes, "filter_sizes"), dy,
                                         name=scope, **_conv_attrs(strides, padding,
                                                                   data_format, dilations))


conv3d_backprop_filter = conv3d_backprop_filter_v2


def conv3d_transpose(value, filter=None, output_shape=None, strides=None,  # noqa: A002
                     padding: str = "SAME", data_format: str = "NDHWC",
                     name: str | None = None, input=None, filters=None,  # noqa: A002
                     dilations=None) -> Tensor:
    """``tf.nn.conv3d_transpose``: the adjoint of conv3d (``filter`` is
    ``[depth, height, width, out_channels, in_channels]``); ``output_shape`` is the
    result's shape."""
    value = input if value is None else value
    filter = filters if filter is None else filter  # noqa: A001
    if output_shape is None:
        raise ValueError("conv3d_transpose needs output_shape")
    with name_scope(name, "conv3d_transpose", [value, filter, output_shape]) as scope:
        v = convert_to_tensor(value, name="value")
        f = convert_to_tensor(filter, dtype=v.dtype, name="filter")
        attrs = _conv_attrs(strides, padding, data_format, dilations)
        ca = _axes(attrs["data_format"])[3]
        if v.shape.ndims == 5 and f.shape.ndims == 5 and \
                None not in (v.shape[ca], f.shape[4]) and v.shape[ca] != f.shape[4]:
            raise ValueError(f"conv3d_transpose: input channels {v.shape[ca]} do not match the "
                             f"filter's in_channels (last dimension) {f.shape[4]} (filter "
                             f"shape {f.shape})")
        sizes = _sizes(output_shape, "output_shape")
        want = constant_shape(sizes)
        if want.ndims is not None and want.ndims != 5:
            raise ValueError(f"conv3d_transpose: output_shape must have 5 elements, got {want}")
        if want.ndims == 5 and f.shape.ndims == 5 and None not in (want[ca], f.shape[3]) and \
                want[ca] != f.shape[3]:
            raise ValueError(f"conv3d_transpose: output_shape's channels {want[ca]} do not "
                             f"match the filter's out_channels {f.shape[3]}")
        return conv3d_backprop_input_op(sizes, f, v, name=scope, **attrs)


def _pool_attrs(ksize, strides, padding, data_format) -> dict:
    data_format = data_format or "NDHWC"
    _axes(data_format)
    return {"ksize": _five(ksize, "ksize", data_format),
            "strides": _five(strides, "strides", data_format), "padding": _padding(padding),
            "data_format": data_format}


def max_pool3d(input, ksize, strides, padding, data_format: str = "NDHWC",  # noqa: A002
               name: str | None = None) -> Tensor:
    """``tf.nn.max_pool3d``: the maximum of each ``ksize`` window of a 5-D input."""
    with name_scope(name, "MaxPool3D", [input]) as scope:
        return _max_pool3d(convert_to_tensor(input, name="input"), name=scope,
                           **_pool_attrs(ksize, strides, padding, data_format))


def avg_pool3d(input, ksize, strides, padding, data_format: str = "NDHWC",  # noqa: A002
               name: str | None = None) -> Tensor:
    """``tf.nn.avg_pool3d``: the mean of each window's input cells (SAME: padding
    excluded)."""
    with name_scope(name, "AvgPool3D", [input]) as scope:
        return _avg_pool3d(convert_to_tensor(input, name="input"), name=scope,
                           **_pool_attrs(ksize, strides, padding, data_format))


def pool3d(input, window_shape, pooling_type: str, padding: str, dilation_rate=None,  # noqa: A002
           strides=None, name: str | None = None, data_format: str | None = None) -> Tensor:
    """``tf.nn.pool`` over 3-D windows.  As in TF1, a dilation rate above 1 (``VALID``
    padding only) runs the pooling on the space-to-batch form of the input."""
    fmt = data_format or "NDHWC"
    fn = max_pool3d if pooling_type == "MAX" else avg_pool3d
    rate = [1, 1, 1] if dilation_rate is None else [int(r) for r in dilation_rate]
    if padding.upper() == "SAME" and max(rate) > 1:
        raise ValueError("pooling with SAME padding is not implemented for dilation_rate > 1")
    with name_scope(name, f"{pooling_type.lower()}_pool", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        if max(rate) == 1:
            y = fn(x, window_shape, strides if strides is not None else 1, padding, fmt)
        else:
            y = with_space_to_batch(x, rate, padding.upper(),
                                    lambda i, n, p: fn(i, window_shape, 1, p, fmt),
                                    filter_shape=window_shape, data_format=fmt)
        return A.identity(y, name=scope)


__all__ = ["avg_pool3d", "conv3d", "pool3d", "conv3d_backprop_filter",
           "conv3d_backprop_filter_v2", "conv3d_transpose", "max_pool3d"]
