"""Convolution and pooling: forward against direct-loop float64 references for every
combination of padding, stride, size parity, dilation and data format; gradients (first and
second order) through the op harness; TF1 semantics with hand-computed numbers."""

import itertools
import math

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.ops import conv_geometry
from flowgrad.ops.conv_ops import conv2d_backprop_filter_op
from flowgrad.ops.pool_ops import max_pool_grad_op
from flowgrad.testing.op_test import OpCase, check_op


# ----- independent references (direct loops over output positions and kernel taps) -------
def _pads(n, k, s, d, padding, explicit):
    span = (k - 1) * d + 1
    if padding == "SAME":
        out = math.ceil(n / s)
        total = max((out - 1) * s + span - n, 0)
        return out, total // 2
    if padding == "VALID":
        return math.ceil((n - span + 1) / s), 0
    lo, hi = explicit
    return (n + lo + hi - span) // s + 1, lo


def _taps(oy, k, s, d, pad, n):
    """Input rows of output ``oy``'s window that fall inside the input."""
    return [(ky, oy * s - pad + ky * d) for ky in range(k) if 0 <= oy * s - pad + ky * d < n]


def ref_conv2d(x, w, strides, padding, dilations=(1, 1), explicit=((0, 0), (0, 0)),
               data_format="NHWC"):
    if data_format == "NCHW":
        x = x.transpose(0, 2, 3, 1)
    n, h, wd, c = x.shape
    kh, kw, _, co = w.shape
    oh, pt = _pads(h, kh, strides[0], dilations[0], padding, explicit[0])
    ow, pl = _pads(wd, kw, strides[1], dilations[1], padding, explicit[1])
    y = np.zeros((n, oh, ow, co))
    for oy in range(oh):
        for ox in range(ow):
            for ky, iy in _taps(oy, kh, strides[0], dilations[0], pt, h):
                for kx, ix in _taps(ox, kw, strides[1], dilations[1], pl, wd):
                    y[:, oy, ox, :] += x[:, iy, ix, :] @ w[ky, kx]
    return y.transpose(0, 3, 1, 2) if data_format == "NCHW" else y


def ref_pool(x, k, strides, padding, kind, data_format="NHWC"):
    if data_format == "NCHW":
        x = x.transpose(0, 2, 3, 1)
    n, h, w, c = x.shape
    oh, pt = _pads(h, k[0], strides[0], 1, padding, None)
    ow, pl = _pads(w, k[1], strides[1], 1, padding, None)
    y = np.zeros((n, oh, ow, c))
    for oy in range(oh):
        for ox in range(ow):
            cells = [x[:, iy, ix, :] for _, iy in _taps(oy, k[0], strides[0], 1, pt, h)
                     for _, ix in _taps(ox, k[1], strides[1], 1, pl, w)]
            y[:, oy, ox, :] = np.max(cells, axis=0) if kind == "max" else np.mean(cells, axis=0)
    return y.transpose(0, 3, 1, 2) if data_format == "NCHW" else y


@pytest.fixture(params=["min", "min-chunked", "mid", "max"])
def algorithm(request, monkeypatch):
    """Runs a test under each blocking of the convolution GEMM (im2col -- whole, and a few
    output rows at a time --, a middle width, Toeplitz rows)."""
    block, _, chunked = request.param.partition("-")
    monkeypatch.setattr(conv_geometry, "FORCE_BLOCK", block)
    if chunked:
        monkeypatch.setattr(conv_geometry, "_CHUNK", 20)
        monkeypatch.setattr(conv_geometry, "_CHUNK_MIN_PIXELS", 1)
    return request.param


def _run(t, feed=None):
    with tf.Session() as s:
        return s.run(t, feed)


# ----- forward against the references ----------------------------------------------------
PADS = ["SAME", "VALID", "EXPLICIT"]
SIZES = [(5, 6, 1), (6, 7, 3)]          # (H, W, C): odd/even, the 1-channel im2col path too


@pytest.mark.parametrize("padding,stride,size,dilation,fmt",
                         list(itertools.product(PADS, [1, 2, 3], SIZES, [1, 2],
                                                ["NHWC", "NCHW"])))
def test_conv2d_forward(padding, stride, size, dilation, fmt, algorithm):
    h, w, c = size
    rng = np.random.default_rng(stride * 10 + dilation)
    x = rng.standard_normal((2, h, w, c))
    f = rng.standard_normal((3, 2, c, 4))
    explicit = ((1, 2), (0, 1))
    strides, dil = (stride, max(1, stride - 1)), (dilation, 1)
    xin = x.transpose(0, 3, 1, 2) if fmt == "NCHW" else x
    pad_arg = [[0, 0], [1, 2], [0, 1], [0, 0]] if padding == "EXPLICIT" else padding
    if padding == "EXPLICIT" and fmt == "NCHW":
        pad_arg = [[0, 0], [0, 0], [1, 2], [0, 1]]
    with tf.Graph().as_default():
        y = tf.nn.conv2d(xin, f, strides=list(strides), padding=pad_arg, data_format=fmt,
                         dilations=list(dil))
        got = _run(y)
    ref = ref_conv2d(xin, f, strides, padding, dil, explicit, fmt)
    assert y.shape.as_list() == list(ref.shape)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind,padding,stride,size,ksize,fmt",
                         list(itertools.product(["max", "avg"], ["SAME", "VALID"], [1, 2, 3],
                                                [(5, 6, 2), (6, 4, 1)], [(2, 2), (3, 2)],
                                                ["NHWC", "NCHW"])))
def test_pool_forward(kind, padding, stride, size, ksize, fmt):
    h, w, c = size
    x = np.random.default_rng(stride).standard_normal((2, h, w, c))
    xin = x.transpose(0, 3, 1, 2) if fmt == "NCHW" else x
    fn = tf.nn.max_pool if kind == "max" else tf.nn.avg_pool
    with tf.Graph().as_default():
        y = fn(xin, ksize=list(ksize), strides=[stride, stride], padding=padding,
               data_format=fmt)
        got = _run(y)
    ref = ref_pool(xin, ksize, (stride, stride), padding, kind, fmt)
    assert y.shape.as_list() == list(ref.shape)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_depthwise_forward_matches_per_channel_conv():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 5, 3))
    f = rng.standard_normal((3, 3, 3, 2))
    with tf.Graph().as_default():
        got = _run(tf.nn.depthwise_conv2d(x, f, [1, 2, 2, 1], "SAME", rate=None))
    ref = np.concatenate([ref_conv2d(x[..., c:c + 1], f[:, :, c:c + 1, :], (2, 2), "SAME")
                          for c in range(3)], axis=-1)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_conv1d_matches_conv2d_reference():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 9, 3))
    f = rng.standard_normal((3, 3, 5))
    with tf.Graph().as_default():
        got = _run(tf.nn.conv1d(x, f, stride=2, padding="SAME"))
    ref = ref_conv2d(x[:, None], f[None], (1, 2), "SAME")[:, 0]
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


# ----- TF1 semantics with hand-computed numbers -------------------------------------------
def test_avg_pool_same_divides_by_valid_cells():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    with tf.Graph().as_default():
        got = _run(tf.nn.avg_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME"))
    np.testing.assert_allclose(got[0, :, :, 0], [[2.0, 3.5], [6.5, 8.0]])


def test_max_pool_same_ignores_padding_and_grad_goes_to_first_max():
    x = -np.ones((1, 3, 3, 1))          # negative: padding zeros must not win
    with tf.Graph().as_default():
        xt = tf.constant(x)
        y = tf.nn.max_pool(xt, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        (dx,) = tf.gradients(tf.reduce_sum(y), [xt])
        yv, dxv = _run([y, dx])
    np.testing.assert_array_equal(yv[0, :, :, 0], -np.ones((2, 2)))
    # ties: each window's gradient lands on its first (row-major) cell only
    np.testing.assert_array_equal(dxv[0, :, :, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_conv2d_same_numbers_and_transpose_is_adjoint():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    w = np.ones((3, 3, 1, 1))
    with tf.Graph().as_default():
        y = _run(tf.nn.conv2d(x, w, [1, 2, 2, 1], "SAME"))
    # SAME, stride 2 on 4x4 with a 3x3 kernel: pad 0 before, 1 after
    np.testing.assert_allclose(y[0, :, :, 0], [[0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10,
                                               2 + 3 + 6 + 7 + 10 + 11],
                                              [8 + 9 + 10 + 12 + 13 + 14, 10 + 11 + 14 + 15]])
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 7, 6, 3))
    f = rng.standard_normal((3, 3, 4, 3))          # [h, w, out_channels, in_channels]
    v = rng.standard_normal((2, 4, 3, 3))
    with tf.Graph().as_default():
        t = tf.nn.conv2d_transpose(v, f, output_shape=[2, 7, 6, 4], strides=[1, 2, 2, 1],
                                   padding="SAME")
        assert t.shape.as_list() == [2, 7, 6, 4]
        tv = _run(t)
    z = rng.standard_normal((2, 7, 6, 4))
    fwd = ref_conv2d(z, f, (2, 2), "SAME")          # conv of z maps 4 -> 3 channels
    np.testing.assert_allclose(np.sum(tv * z), np.sum(fwd * v), rtol=1e-10)


def test_build_time_errors_name_the_op_and_shapes():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (None, 8, 8, 3))
        with pytest.raises(ValueError, match=r"Conv2D.*3 channels.*expects 4"):
            tf.nn.conv2d(x, tf.zeros((3, 3, 4, 8)), [1, 1, 1, 1], "SAME")
        with pytest.raises(ValueError, match="does not fit"):
            tf.nn.conv2d(x, tf.zeros((9, 9, 3, 8)), [1, 1, 1, 1], "VALID")
        with pytest.raises(ValueError, match="padding"):
            tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "FULL")
        with pytest.raises(ValueError, match="batch and channel"):
            tf.nn.conv2d(x, tf.zeros((3, 3, 3, 8)), [2, 1, 1, 1], "SAME")


def test_second_order_gradient_graph_uses_tf_op_types():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, (1, 5, 5, 2))
        f = tf.placeholder(tf.float64, (3, 3, 2, 2))
        y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
        dx, df = tf.gradients(tf.reduce_sum(y * y), [x, f])
        assert dx.op.type == "Conv2DBackpropInput" or "Conv2DBackpropInput" in {
            o.type for o in tf.get_default_graph().get_operations()}
        assert "Conv2DBackpropFilter" in {o.type for o in tf.get_default_graph()
                                          .get_operations()}
        h = tf.gradients(tf.reduce_sum(dx * dx) + tf.reduce_sum(df), [x, f])
        assert all(g is not None for g in h)


# ----- gradients: op harness rows (first and second order, float64 finite differences) ---
def _conv(strides, padding, fmt="NHWC", dil=None):
    return lambda x, f: tf.nn.conv2d(x, f, strides, padding, data_format=fmt, dilations=dil)


def _pool(fn, k, s, padding, fmt="NHWC"):
    return lambda x: fn(x, k, s, padding, data_format=fmt)


CASES = [
    OpCase("conv2d_same", _conv([1, 1, 1, 1], "SAME"), lambda x, f: ref_conv2d(
        x, f, (1, 1), "SAME"), [(2, 5, 4, 2), (3, 3, 2, 3)]),
    OpCase("conv2d_valid_s2", _conv([1, 2, 2, 1], "VALID"), lambda x, f: ref_conv2d(
        x, f, (2, 2), "VALID"), [(1, 6, 7, 1), (3, 2, 1, 2)]),
    OpCase("conv2d_nchw_explicit_dil", _conv([1, 1, 1, 2], [[0, 0], [0, 0], [1, 0], [2, 1]],
                                             "NCHW", [1, 1, 2, 1]),
           lambda x, f: ref_conv2d(x, f, (1, 2), "EXPLICIT", (2, 1), ((1, 0), (2, 1)), "NCHW"),
           [(1, 2, 5, 6), (2, 2, 2, 2)]),
    OpCase("conv2d_1x1", _conv([1, 1, 1, 1], "VALID"), lambda x, f: ref_conv2d(
        x, f, (1, 1), "VALID"), [(2, 3, 3, 3), (1, 1, 3, 2)]),
    OpCase("conv2d_backprop_input",
           lambda f, dy: tf.nn.conv2d_backprop_input([1, 5, 5, 2], f, dy, [1, 2, 2, 1], "SAME"),
           None, [(3, 3, 2, 3), (1, 3, 3, 3)]),
    OpCase("conv2d_backprop_filter",
           lambda x, dy: conv2d_backprop_filter_op(
               x, tf.constant([2, 2, 2, 3]), dy, strides=(1, 1, 1, 1), padding="VALID"),
           None, [(1, 4, 4, 2), (1, 3, 3, 3)]),
    OpCase("conv2d_transpose",
           lambda v, f: tf.nn.conv2d_transpose(v, f, [1, 6, 5, 2], [1, 2, 2, 1], "SAME"),
           None, [(1, 3, 3, 3), (3, 3, 2, 3)]),
    OpCase("depthwise_conv2d", lambda x, f: tf.nn.depthwise_conv2d(x, f, [1, 2, 2, 1], "SAME"),
           None, [(1, 5, 4, 2), (3, 2, 2, 2)]),
    OpCase("depthwise_conv2d_nchw_dil",
           lambda x, f: tf.nn.depthwise_conv2d_native(x, f, [1, 1, 1, 1], "VALID",
                                                      data_format="NCHW", dilations=[1, 1, 2, 1]),
           None, [(1, 2, 5, 4), (2, 2, 2, 1)]),
    OpCase("conv1d", lambda x, f: tf.nn.conv1d(x, f, 1, "SAME"), lambda x, f: ref_conv2d(
        x[:, None], f[None], (1, 1), "SAME")[:, 0], [(2, 6, 2), (3, 2, 3)]),
    OpCase("max_pool_same", _pool(tf.nn.max_pool, [1, 3, 3, 1], [1, 2, 2, 1], "SAME"),
           lambda x: ref_pool(x, (3, 3), (2, 2), "SAME", "max"), [(2, 5, 6, 2)]),
    OpCase("max_pool_2x2", _pool(tf.nn.max_pool, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
           lambda x: ref_pool(x, (2, 2), (2, 2), "VALID", "max"), [(2, 4, 6, 3)]),
    OpCase("max_pool_nchw", _pool(tf.nn.max_pool, [1, 1, 2, 3], [1, 1, 1, 2], "VALID", "NCHW"),
           lambda x: ref_pool(x, (2, 3), (1, 2), "VALID", "max", "NCHW"), [(1, 2, 4, 7)]),
    OpCase("max_pool_grad",
           lambda x, g: max_pool_grad_op(x, tf.nn.max_pool(x, [1, 2, 2, 1], [1, 1, 1, 1],
                                                           "SAME"), g,
                                         ksize=(1, 2, 2, 1), strides=(1, 1, 1, 1),
                                         padding="SAME"),
           None, [(1, 4, 3, 2), (1, 4, 3, 2)]),
    # the ReLU mask moves to the pooled gradient (nn_ops._through_max_pool)
    OpCase("relu_then_max_pool", lambda x: tf.nn.max_pool(tf.nn.relu(x), [1, 2, 2, 1],
                                                          [1, 2, 2, 1], "VALID"),
           lambda x: ref_pool(np.maximum(x, 0), (2, 2), (2, 2), "VALID", "max"),
           [(2, 4, 6, 3)]),
    OpCase("relu_then_max_pool_overlap", lambda x: tf.nn.max_pool(tf.nn.relu(x), [1, 3, 3, 1],
                                                                  [1, 2, 2, 1], "SAME"),
           lambda x: ref_pool(np.maximum(x, 0), (3, 3), (2, 2), "SAME", "max"),
           [(1, 5, 6, 2)]),
    OpCase("avg_pool_same", _pool(tf.nn.avg_pool, [1, 3, 2, 1], [1, 2, 2, 1], "SAME"),
           lambda x: ref_pool(x, (3, 2), (2, 2), "SAME", "avg"), [(2, 5, 5, 2)]),
    OpCase("avg_pool_2x2_nchw", _pool(tf.nn.avg_pool, [1, 1, 2, 2], [1, 1, 2, 2], "VALID",
                                      "NCHW"),
           lambda x: ref_pool(x, (2, 2), (2, 2), "VALID", "avg", "NCHW"), [(2, 2, 4, 6)]),
    OpCase("pool_dilated_max", lambda x: tf.nn.pool(x, [2, 2], "MAX", "SAME",
                                                    dilation_rate=[2, 1]), None, [(1, 5, 5, 2)]),
    OpCase("pool_1d_avg", lambda x: tf.nn.pool(x, [3], "AVG", "VALID", strides=[2]),
           lambda x: ref_pool(x[:, None], (1, 3), (1, 2), "VALID", "avg")[:, 0], [(2, 7, 2)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


CONV_CASES = [c for c in CASES if c.name.startswith(("conv2d", "conv1d"))]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c.name)
def test_conv_op_each_algorithm(case, algorithm):
    check_op(case)


def test_cost_model_blocks_lenet_and_keeps_resnet_at_im2col():
    w = conv_geometry.window
    lenet1 = w(32, 5, 1, 1, "VALID")
    assert conv_geometry.blocking(64, 1, 6, lenet1, lenet1).b == 7
    lenet2 = w(14, 5, 1, 1, "VALID")
    assert conv_geometry.blocking(64, 6, 16, lenet2, lenet2).b == 5
    resnet = w(56, 3, 1, 1, "SAME")
    assert conv_geometry.blocking(4, 64, 64, resnet, resnet).b == 1


def test_relu_under_max_pool_masks_the_pooled_gradient():
    with tf.Graph().as_default() as g:
        x = tf.constant(np.random.default_rng(0).standard_normal((1, 4, 4, 2)))
        p = tf.nn.max_pool(tf.nn.relu(x), [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        dx = tf.gradients(tf.reduce_sum(p * p), x)[0]
        assert dx.op.type == "MaxPoolGrad"
        relu_grad = dx.op.inputs[2].op
        assert relu_grad.type == "ReluGrad" and relu_grad.outputs[0].shape.as_list() == \
            [1, 2, 2, 2]
        assert g is tf.get_default_graph()


@pytest.mark.parametrize("channels", [3, 20])        # channel-major and per-tap scatter
@pytest.mark.parametrize("stride,padding", [(1, "SAME"), (2, "VALID")])
def test_input_gradient_is_the_adjoint_of_the_convolution(channels, stride, padding,
                                                          algorithm):
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((2, 7, 6, channels))
    f = rng.standard_normal((3, 2, channels, 4))
    wh = conv_geometry.window(7, 3, stride, 1, padding)
    ww = conv_geometry.window(6, 2, stride, 1, padding)
    y = conv_geometry.conv_forward(np, x, f, wh, ww)
    dy = rng.standard_normal(y.shape)
    dx = conv_geometry.conv_input_grad(np, dy, f, x.shape, wh, ww)
    dw = conv_geometry.conv_filter_grad(np, x, dy, f.shape, wh, ww)
    assert np.isclose((y * dy).sum(), (x * dx).sum(), rtol=1e-12)
    assert np.isclose((y * dy).sum(), (f * dw).sum(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["MAX", "AVG"])
@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("dilation", [(2, 1), (2, 3), (1, 2)])
def test_dilated_pool_against_direct_windows(kind, padding, dilation):
    """``tf.nn.pool`` with a dilation rate against explicit windows (SAME: TF's padding,
    the average over the cells inside the input)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 8, 3))
    kh, kw = 2, 3
    dh, dw = dilation
    sh, sw = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "VALID":
        (oh, ow), (ph, pw) = (9 - sh + 1, 8 - sw + 1), (0, 0)
    else:
        (oh, ow), (ph, pw) = (9, 8), ((sh - 1) // 2, (sw - 1) // 2)
    want = np.empty((2, oh, ow, 3))
    for i in range(oh):
        for j in range(ow):
            cells = [x[:, i - ph + a * dh, j - pw + b * dw] for a in range(kh)
                     for b in range(kw) if 0 <= i - ph + a * dh < 9 and 0 <= j - pw + b * dw < 8]
            want[:, i, j] = np.max(cells, 0) if kind == "MAX" else np.mean(cells, 0)
    with tf.Session() as sess:
        got = sess.run(tf.nn.pool(tf.constant(x), [kh, kw], kind, padding,
                                  dilation_rate=list(dilation)))
    np.testing.assert_allclose(got, want, rtol=1e-12)
