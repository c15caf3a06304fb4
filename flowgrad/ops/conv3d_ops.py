"""3-D convolutions: Conv3D with its two backprop ops (``pool3d_ops`` has 3-D pooling).

Kernels work on NDHWC arrays (NCDHW callers transpose at the boundary).  Every window of a
padded input is one strided view ``(N, OD, OH, OW, KD, KH, KW, C)``; a convolution copies
that view into a patch matrix (vol2col) and runs one GEMM against the filter, the filter
gradient is one GEMM ``patches^T @ dy`` and the input gradient one GEMM ``dy @ W^T`` whose
columns are added back tap by tap (a strided add per kernel offset, never a loop over
voxels).  As for 2-D, the backprop ops are ops of their own whose gradients are again
convolutions, so second-order gradients work.
"""

from __future__ import annotations

import math

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, constant, constant_shape, convert_to_tensor,
                                         op, require_float)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops.conv_geometry import (ONEDNN_BLOCKED_BELOW, ONEDNN_MIN_INPUT_GRAD_CHANNELS,
                                        Window, gemm, use_onednn, window)
from flowgrad.runtime import onednn
from flowgrad.runtime import placement as _placement

_FORMATS = {"NDHWC": (1, 2, 3, 4), "NCDHW": (2, 3, 4, 1)}
_CONV_ATTRS = ("strides", "padding", "data_format", "dilations")
_CHUNK = 1 << 22         # elements of one vol2col patch matrix before it is built in pieces
_CACHE_CHUNK = 1 << 18   # ... and for the forward and filter-gradient GEMMs, which stream it


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


def _volume_chunks(n: int, wins, k: int):
    """``(images, output depth slices)`` covering the output in pieces whose patch matrix
    holds about ``_CACHE_CHUNK`` elements: groups of whole images while they are small,
    else a few output depth planes of one image at a time.  The GEMM then reads a patch
    matrix still in cache: forward 3.96 -> 3.12 ms on a [4, 16, 16, 16, 8] input with 16
    3x3x3 filters, 38.3 -> 19.4 ms on [2, 16, 32, 32, 16] with 32 (one thread)."""
    plane = wins[1].out * wins[2].out
    rows = max(1, _CACHE_CHUNK // max(plane * k, 1))
    od = wins[0].out
    if rows >= od:
        for imgs in _image_chunks(n, od * plane * k):
            yield imgs, slice(None)
        return
    for i in range(n):
        for d in range(0, od, rows):
            yield slice(i, i + 1), slice(d, min(d + rows, od))


def _pointwise(fshape, wins) -> bool:
    return tuple(fshape[:3]) == (1, 1, 1) and all(
        w.stride == 1 and not (w.pad_before or w.pad_after) for w in wins)


# ----- kernels on NDHWC arrays ------------------------------------------------------------
def _conv_forward(xp, x, filt, wins):
    n, *_, c = x.shape
    kd, kh, kw, ci, co = filt.shape
    if _pointwise(filt.shape, wins):
        return gemm(xp, x.reshape(-1, c), filt.reshape(ci, co)).reshape(*x.shape[:4], co)
    if use_onednn(xp, x, filt):
        y = onednn.conv_forward(xp.ascontiguousarray(x), xp.ascontiguousarray(filt), wins)
        if y is not None:
            return y
    k = kd * kh * kw * ci
    view = _vol_view(xp, _pad(xp, x, wins), wins)
    outs = tuple(w.out for w in wins)
    w2 = filt.reshape(k, co)
    y = xp.empty((n, *outs, co), dtype=x.dtype)
    for imgs, ds in _volume_chunks(n, wins, k):
        cols = xp.ascontiguousarray(view[imgs, ds]).reshape(-1, k)
        xp.matmul(cols, w2, out=y[imgs, ds].reshape(-1, co))
    return y


def _conv_filter_grad(xp, x, dy, fshape, wins):
    n, *_, c = x.shape
    kd, kh, kw, ci, co = fshape
    if _pointwise(fshape, wins):
        return gemm(xp, x.reshape(-1, c).T, dy.reshape(-1, co)).reshape(fshape)
    if use_onednn(xp, x, dy):
        dw = onednn.conv_backward_weights(xp.ascontiguousarray(x), xp.ascontiguousarray(dy),
                                          tuple(fshape), wins)
        if dw is not None:
            return dw
    k = kd * kh * kw * ci
    view = _vol_view(xp, _pad(xp, x, wins), wins)
    dw = None
    for imgs, ds in _volume_chunks(n, wins, k):
        cols = xp.ascontiguousarray(view[imgs, ds]).reshape(-1, k)
        part = xp.matmul(cols.T, dy[imgs, ds].reshape(-1, co))
        dw = part if dw is None else dw + part
    return dw.reshape(fshape)


def _conv_input_grad(xp, dy, filt, shape, wins):
    n, *_, c = shape
    kd, kh, kw, ci, co = filt.shape
    if _pointwise(filt.shape, wins):
        return gemm(xp, dy.reshape(-1, co), filt.reshape(ci, co).T).reshape(shape)
    if c >= ONEDNN_MIN_INPUT_GRAD_CHANNELS and use_onednn(xp, dy, filt):
        dx = onednn.conv_backward_data(xp.ascontiguousarray(dy), xp.ascontiguousarray(filt),
                                       tuple(shape), wins, blocked=c < ONEDNN_BLOCKED_BELOW)
        if dx is not None:
            return dx
    if all(w.stride == 1 for w in wins) and c >= _AS_CONV_MIN_CHANNELS and not FORCE_SCATTER:
        return _input_grad_as_conv(xp, dy, filt, shape, wins)
    if c <= _CHANNEL_MAJOR_MAX:
        return _input_grad_channel_major(xp, dy, filt, shape, wins)
    outs = tuple(w.out for w in wins)
    k = kd * kh * kw * ci
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


# Which input-gradient formulation (one thread, [4, 16, 16, 16, C] inputs, 16 3x3x3
# filters): with stride 1 the convolution form wins from 4 channels on (8 channels: 6.0
# against 10.9 ms channel-major; 16: 6.9 against 31.2 ms), the channel-major scatter below
# that (1 channel: 1.8 against 4.8 ms).  With stride 2 the channel-major scatter wins up to
# 8 channels (2.2 against 2.6 ms) and the NDHWC scatter from 16 on (3.2 against 4.0 ms).
_AS_CONV_MIN_CHANNELS = 4
_CHANNEL_MAJOR_MAX = 8
#: True: never the convolution form (tests run every formulation)
FORCE_SCATTER = False


def _input_grad_as_conv(xp, dy, filt, shape, wins):
    """With stride 1 the input gradient is itself a convolution: ``dy`` padded by
    ``span - 1 - pad_before`` in front correlated with the flipped filter (in and out
    channels swapped).  The forward kernel's vol2col + GEMM then replaces the GEMM and
    ``KD*KH*KW`` strided adds of the scatter (timings above ``_AS_CONV_MIN_CHANNELS``)."""
    back = tuple(Window(w.k, 1, w.dilation, n, w.span - 1 - w.pad_before,
                        n + w.span - 1 - w.out - (w.span - 1 - w.pad_before))
                 for w, n in zip(wins, shape[1:4]))
    flipped = xp.ascontiguousarray(filt[::-1, ::-1, ::-1].transpose(0, 1, 2, 4, 3))
    return _conv_forward(xp, dy, flipped, back)


def _input_grad_channel_major(xp, dy, filt, shape, wins):
    """The input gradient for few input channels: the GEMM ``W @ dy^T`` gives every tap's
    contribution channel-major, ``(KD, KH, KW, C, N, OD, OH, OW)``, so each tap's add runs
    over whole ``(OD, OH, OW)`` volumes instead of ``C``-element pieces; one transpose at
    the end restores NDHWC."""
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


_placement.HOST_MEMORY_ARGS.update({"Conv3DBackpropInputV2": (0,),
                                    "Conv3DBackpropFilterV2": (1,)})


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


__all__ = ["conv3d", "conv3d_backprop_filter", "conv3d_backprop_filter_v2",
           "conv3d_transpose"]
