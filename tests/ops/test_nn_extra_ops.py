"""3-D convolution and pooling, separable and atrous convolutions, LRN, max pooling with
argmax, grayscale morphology and the space/batch ops: forward values against direct-loop
float64 references, gradients (first and, where defined, second order) through the op
harness, TF1 semantics with hand-computed numbers, build-time errors, the 3-D and separable
layers, and (when TensorFlow is importable) cross-checks against TensorFlow itself."""

import doctest
import itertools
import math

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.ops import conv3d_ops, conv_extra, nn_extra_ops, pool3d_ops, space_batch_ops
from flowgrad.testing.op_test import OpCase, check_op


# ----- independent references (direct loops over output positions and window taps) -------
def _geometry(n, k, s, d, padding):
    """(output size, padding before) as TF defines them."""
    span = (k - 1) * d + 1
    if padding == "SAME":
        out = math.ceil(n / s)
        return out, max((out - 1) * s + span - n, 0) // 2
    return math.ceil((n - span + 1) / s), 0


def _cells(o, k, s, d, pad, n):
    """(tap, input index) of output ``o``'s window that fall inside the input."""
    return [(t, o * s - pad + t * d) for t in range(k) if 0 <= o * s - pad + t * d < n]


def _last(x, fmt):
    return x.transpose(0, 2, 3, 4, 1) if fmt == "NCDHW" else x


def _back(y, fmt):
    return y.transpose(0, 4, 1, 2, 3) if fmt == "NCDHW" else y


def ref_conv3d(x, w, strides, padding, dilations=(1, 1, 1), fmt="NDHWC"):
    x = _last(x, fmt)
    n, *sp, c = x.shape
    geo = [_geometry(sp[i], w.shape[i], strides[i], dilations[i], padding) for i in range(3)]
    y = np.zeros((n, *(g[0] for g in geo), w.shape[4]))
    for o in itertools.product(*(range(g[0]) for g in geo)):
        taps = [_cells(o[i], w.shape[i], strides[i], dilations[i], geo[i][1], sp[i])
                for i in range(3)]
        for (a, ia), (b, ib), (e, ie) in itertools.product(*taps):
            y[:, o[0], o[1], o[2], :] += x[:, ia, ib, ie, :] @ w[a, b, e]
    return _back(y, fmt)


def ref_pool3d(x, k, strides, padding, kind, fmt="NDHWC", rate=(1, 1, 1)):
    x = _last(x, fmt)
    n, *sp, c = x.shape
    geo = [_geometry(sp[i], k[i], strides[i], rate[i], padding) for i in range(3)]
    y = np.zeros((n, *(g[0] for g in geo), c))
    for o in itertools.product(*(range(g[0]) for g in geo)):
        taps = [_cells(o[i], k[i], strides[i], rate[i], geo[i][1], sp[i]) for i in range(3)]
        cells = [x[:, ia, ib, ie, :] for (_, ia), (_, ib), (_, ie) in itertools.product(*taps)]
        y[:, o[0], o[1], o[2], :] = np.max(cells, 0) if kind == "max" else np.mean(cells, 0)
    return _back(y, fmt)


def ref_lrn(x, r=5, bias=1.0, alpha=1.0, beta=0.5):
    c = x.shape[-1]
    y = np.empty_like(x)
    for d in range(c):
        s = (x[..., max(0, d - r):d + r + 1] ** 2).sum(-1)
        y[..., d] = x[..., d] / (bias + alpha * s) ** beta
    return y


def ref_dilation2d(x, f, strides, rates, padding):
    n, h, w, c = x.shape
    kh, kw, _ = f.shape
    (oh, pt), (ow, pl) = (_geometry(h, kh, strides[0], rates[0], padding),
                          _geometry(w, kw, strides[1], rates[1], padding))
    y = np.full((n, oh, ow, c), -np.inf)
    for i, j in itertools.product(range(oh), range(ow)):
        for (a, ia), (b, ib) in itertools.product(_cells(i, kh, strides[0], rates[0], pt, h),
                                                  _cells(j, kw, strides[1], rates[1], pl, w)):
            y[:, i, j] = np.maximum(y[:, i, j], x[:, ia, ib] + f[a, b])
    return y


def ref_argmax_pool(x, k, s, padding, include_batch):
    """Max pooling with TF's flattened argmax (the first of equal maxima)."""
    n, h, w, c = x.shape
    (oh, pt), (ow, pl) = _geometry(h, k[0], s[0], 1, padding), _geometry(w, k[1], s[1], 1,
                                                                          padding)
    y, arg = np.empty((n, oh, ow, c)), np.empty((n, oh, ow, c), np.int64)
    for b, i, j, ch in itertools.product(range(n), range(oh), range(ow), range(c)):
        cells = [(x[b, iy, ix, ch], iy, ix)
                 for (_, iy), (_, ix) in itertools.product(_cells(i, k[0], s[0], 1, pt, h),
                                                           _cells(j, k[1], s[1], 1, pl, w))]
        best = max(cells, key=lambda t: t[0])          # the first of equal maxima
        y[b, i, j, ch] = best[0]
        arg[b, i, j, ch] = (((b * h if include_batch else 0) + best[1]) * w + best[2]) * c + ch
    return y, arg


def ref_space_to_batch(x, block, pads):
    """Element by element from TF's definition."""
    m = len(block)
    xp = np.pad(x, [(0, 0), *pads, *[(0, 0)] * (x.ndim - 1 - m)])
    n = x.shape[0]
    outer = [xp.shape[1 + i] // block[i] for i in range(m)]
    y = np.empty((n * math.prod(block), *outer, *x.shape[1 + m:]))
    for bi in itertools.product(*(range(b) for b in block)):
        flat = np.ravel_multi_index(bi, block) if m else 0
        for b in range(n):
            for o in itertools.product(*(range(v) for v in outer)):
                src = tuple(o[i] * block[i] + bi[i] for i in range(m))
                y[(flat * n + b, *o)] = xp[(b, *src)]
    return y


def _run(t, feed=None):
    with tf.Session() as s:
        return s.run(t, feed)


# ----- conv3d and pool3d forward against the references --------------------------------------
SIZES3 = [(3, 4, 5, 2), (4, 3, 4, 1)]           # (D, H, W, C): odd and even sizes


@pytest.mark.parametrize("padding,stride,size,dilation,fmt", list(itertools.product(
    ["SAME", "VALID"], [1, 2], SIZES3, [1, 2], ["NDHWC", "NCDHW"])))
def test_conv3d_forward(padding, stride, size, dilation, fmt):
    d, h, w, c = size
    rng = np.random.default_rng(stride * 7 + dilation)
    x = rng.standard_normal((2, d, h, w, c))
    f = rng.standard_normal((2, 2, 3, c, 3))
    strides, dil = (stride, 1, stride), (dilation, dilation, 1)
    if padding == "VALID" and dilation == 2 and min(d, h) < 3:
        pytest.skip("kernel larger than input")
    xin = _back(x, fmt)
    five = [1, *strides, 1] if fmt == "NDHWC" else [1, 1, *strides]
    dil5 = [1, *dil, 1] if fmt == "NDHWC" else [1, 1, *dil]
    with tf.Graph().as_default():
        y = tf.nn.conv3d(xin, f, five, padding, data_format=fmt, dilations=dil5)
        got = _run(y)
    ref = ref_conv3d(xin, f, strides, padding, dil, fmt)
    assert y.shape.as_list() == list(ref.shape)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind,padding,stride,size,fmt", list(itertools.product(
    ["max", "avg"], ["SAME", "VALID"], [1, 2], SIZES3, ["NDHWC", "NCDHW"])))
def test_pool3d_forward(kind, padding, stride, size, fmt):
    d, h, w, c = size
    x = np.random.default_rng(stride).standard_normal((2, d, h, w, c))
    xin = _back(x, fmt)
    k = (2, 3, 2)
    ks = [1, *k, 1] if fmt == "NDHWC" else [1, 1, *k]
    st = [1, stride, stride, 1, 1] if fmt == "NDHWC" else [1, 1, stride, stride, 1]
    fn = tf.nn.max_pool3d if kind == "max" else tf.nn.avg_pool3d
    with tf.Graph().as_default():
        y = fn(xin, ks, st, padding, data_format=fmt)
        got = _run(y)
    ref = ref_pool3d(xin, k, (stride, stride, 1), padding, kind, fmt)
    assert y.shape.as_list() == list(ref.shape)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_nn_pool_and_convolution_take_3d_inputs():
    rng = np.random.default_rng(12)
    x, f = rng.standard_normal((2, 6, 5, 7, 2)), rng.standard_normal((2, 2, 3, 2, 3))
    with tf.Graph().as_default():
        mx = tf.nn.pool(x, [2, 2, 2], "MAX", "VALID", dilation_rate=[2, 1, 3])
        av = tf.nn.pool(x, [2, 3, 2], "AVG", "SAME", strides=[2, 1, 2])
        conv = tf.nn.convolution(x, f, "SAME", dilation_rate=[1, 2, 1])
        with pytest.raises(ValueError, match="SAME padding is not implemented for dilation"):
            tf.nn.pool(x, [2, 2, 2], "MAX", "SAME", dilation_rate=[2, 2, 2])
        mxv, avv, cv = _run([mx, av, conv])
    np.testing.assert_allclose(mxv, ref_pool3d(x, (2, 2, 2), (1, 1, 1), "VALID", "max",
                                               rate=(2, 1, 3)))
    np.testing.assert_allclose(avv, ref_pool3d(x, (2, 3, 2), (2, 1, 2), "SAME", "avg"))
    np.testing.assert_allclose(cv, ref_conv3d(x, f, (1, 1, 1), "SAME", (1, 2, 1)), rtol=1e-10)


@pytest.fixture(params=["channel_major", "scatter", "as_conv"])
def input_grad_mode(request, monkeypatch):
    """Runs a test under each formulation of the conv3d input gradient."""
    mode = request.param
    monkeypatch.setattr(conv3d_ops, "_CHANNEL_MAJOR_MAX", 1 << 30 if mode == "channel_major"
                        else 0)
    monkeypatch.setattr(conv3d_ops, "FORCE_SCATTER", mode != "as_conv")
    monkeypatch.setattr(conv3d_ops, "_AS_CONV_MIN_CHANNELS", 0)
    return mode


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("pieces", ["images", "depth planes"])
def test_conv3d_chunked_vol2col_matches(monkeypatch, input_grad_mode, stride, pieces):
    """Patch matrices built a few images (or output depth planes) at a time give the same
    numbers in all three ops, with the input gradient scattered channel-major (few
    channels), NDHWC or (stride 1) computed as a convolution."""
    rng = np.random.default_rng(3)
    x, f = rng.standard_normal((3, 4, 4, 3, 2)), rng.standard_normal((2, 3, 2, 2, 3))

    def run():
        with tf.Graph().as_default():
            xt, ft = tf.constant(x), tf.constant(f)
            y = tf.nn.conv3d(xt, ft, [1, 1, stride, 1, 1], "SAME")
            return _run([y, *tf.gradients(tf.reduce_sum(y * y), [xt, ft])])

    whole = run()
    monkeypatch.setattr(conv3d_ops, "_CHUNK", 10)
    if pieces == "depth planes":
        monkeypatch.setattr(conv3d_ops, "_CACHE_CHUNK", 10)
    chunked = run()
    np.testing.assert_allclose(chunked[0], ref_conv3d(x, f, (1, stride, 1), "SAME"),
                               rtol=1e-10, atol=1e-10)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # the input gradient against the adjoint identity: <dy, conv(v)> = <dx(dy), v>
    with tf.Graph().as_default():
        v = rng.standard_normal(x.shape)
        y = tf.nn.conv3d(v, f, [1, 1, stride, 1, 1], "SAME")
        dy = rng.standard_normal(y.shape.as_list())
        dx = tf.nn.conv3d_transpose(dy, f, list(x.shape), [1, 1, stride, 1, 1], "SAME")
        yv, dxv = _run([y, dx])
    assert np.isclose(np.sum(yv * dy), np.sum(v * dxv))


def test_conv3d_backprops_are_adjoints():
    rng = np.random.default_rng(5)
    x, f = rng.standard_normal((2, 5, 4, 3, 2)), rng.standard_normal((3, 2, 2, 2, 3))
    attrs = dict(strides=[1, 2, 1, 2, 1], padding="SAME")
    with tf.Graph().as_default():
        y = tf.nn.conv3d(x, f, **attrs)
        dy = rng.standard_normal(y.shape.as_list())
        dx = tf.nn.conv3d_transpose(dy, f, list(x.shape), **attrs)
        dw = tf.nn.conv3d_backprop_filter_v2(x, list(f.shape), dy, **attrs)
        yv, dxv, dwv = _run([y, dx, dw])
    # <conv(x, f), dy> = <x, conv^T(dy, f)> = <f, dW(x, dy)>
    assert np.isclose(np.sum(yv * dy), np.sum(x * dxv))
    assert np.isclose(np.sum(yv * dy), np.sum(f * dwv))


def test_max_pool3d_grad_goes_to_every_tied_maximum_and_avg_same_divides_by_valid_cells():
    with tf.Graph().as_default():
        x = tf.constant(np.ones((1, 2, 2, 2, 1)))
        y = tf.nn.max_pool3d(x, [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "VALID")
        g = tf.gradients(y, x)[0]
        xa = np.arange(27.0).reshape(1, 3, 3, 3, 1)
        ya = tf.nn.avg_pool3d(xa, [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "SAME")
        gv, yav = _run([g, ya])
    np.testing.assert_array_equal(gv, np.ones((1, 2, 2, 2, 1)))     # TF's CPU kernel too
    np.testing.assert_allclose(yav.reshape(-1), [6.5, 8, 11, 12.5, 20, 21.5, 24.5, 26])


def test_conv3d_second_order_graph_uses_tf_op_types():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float64, [1, 3, 3, 3, 1])
        f = tf.placeholder(tf.float64, [2, 2, 2, 1, 2])
        y = tf.nn.conv3d(x, f, [1, 1, 1, 1, 1], "SAME")
        dx, df = tf.gradients(tf.reduce_sum(y * y), [x, f])
        tf.gradients(tf.reduce_sum(dx * dx) + tf.reduce_sum(df * df), [x, f])
        types = {op.type for op in g.get_operations()}
    assert {"Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"} <= types


# ----- expected numbers ----------------------------------------------------------------------
def test_lrn_numbers_and_defaults():
    x = np.array([[[[1.0, 2.0, 3.0]]]])
    with tf.Graph().as_default():
        y1 = tf.nn.lrn(x, depth_radius=1, bias=2.0, alpha=0.5, beta=1.0)
        y2 = tf.nn.local_response_normalization(x)              # r=5, bias=1, alpha=1, b=.5
        a, b = _run([y1, y2])
    # channel sums of squares with radius 1: 1+4, 1+4+9, 4+9
    np.testing.assert_allclose(a.reshape(-1), [1 / (2 + 2.5), 2 / (2 + 7), 3 / (2 + 6.5)])
    np.testing.assert_allclose(b.reshape(-1), np.array([1, 2, 3]) / np.sqrt(15.0))


def test_max_pool_with_argmax_indices():
    x = np.array([[[[1.0], [5.0], [2.0]], [[7.0], [3.0], [9.0]]],
                  [[[4.0], [4.0], [0.0]], [[1.0], [2.0], [3.0]]]])        # (2, 2, 3, 1)
    with tf.Graph().as_default():
        y, arg = tf.nn.max_pool_with_argmax(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        _, argb = tf.nn.max_pool_with_argmax(x, [1, 2, 2, 1], [1, 2, 2, 1], "SAME",
                                             include_batch_in_index=True)
        assert arg.dtype == tf.int64
        res = tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", Targmax=tf.int32)
        assert res.argmax.dtype == tf.int32 and res.output.shape.as_list() == [2, 1, 1, 1]
        xt = tf.constant(x)
        yg, _ = tf.nn.max_pool_with_argmax(xt, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
        g = tf.gradients(yg, xt)[0]
        yv, av, abv, gv = _run([y, arg, argb, g])
    np.testing.assert_array_equal(yv.reshape(2, 2), [[7, 9], [4, 3]])
    # ((y * width) + x) * channels + c; the first of tied maxima (4, 4) wins
    np.testing.assert_array_equal(av.reshape(2, 2), [[3, 5], [0, 5]])
    np.testing.assert_array_equal(abv.reshape(2, 2), [[3, 5], [6, 11]])
    np.testing.assert_array_equal(gv.reshape(2, 6), [[0, 0, 0, 1, 0, 1], [1, 0, 0, 0, 0, 1]])


def test_dilation2d_and_erosion2d_numbers():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    f = np.array([[[0.0], [1.0]], [[-1.0], [0.5]]])
    with tf.Graph().as_default():
        d = tf.nn.dilation2d(x, f, [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
        e = tf.nn.erosion2d(x, f, [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
        xt, ft = tf.constant(np.ones((1, 3, 3, 1))), tf.constant(np.zeros((2, 2, 1)))
        dt = tf.nn.dilation2d(xt, ft, [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
        gx, gf = tf.gradients(dt, [xt, ft])
        dv, ev, gxv, gfv = _run([d, e, gx, gf])
    # max(x[i,j]+0, x[i,j+1]+1, x[i+1,j]-1, x[i+1,j+1]+.5) = x[i+1,j+1] + .5
    np.testing.assert_allclose(dv.reshape(2, 2), [[4.5, 5.5], [7.5, 8.5]])
    # min(x[i,j]-0.5, x[i,j+1]+1, x[i+1,j]-1, x[i+1,j+1]-0) with the kernel reflected
    np.testing.assert_allclose(ev.reshape(2, 2), [[-0.5, 0.5], [2.5, 3.5]])
    # ties: the first tap of each window (as TF's kernel)
    np.testing.assert_array_equal(gxv.reshape(3, 3), [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(gfv.reshape(2, 2), [[4, 0], [0, 0]])


def test_space_to_batch_layout_round_trips_and_tf1_doc_example():
    x = np.array([[[[1.0], [2.0]], [[3.0], [4.0]]]])
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 5, 4, 3, 2))
    with tf.Graph().as_default():
        a = tf.space_to_batch_nd(x, [2, 2], [[0, 0], [0, 0]])
        b = tf.space_to_batch(x, [[0, 0], [0, 0]], block_size=2)
        c = tf.nn.space_to_batch(x, [[0, 0], [0, 0]], 2)
        s = tf.space_to_batch_nd(z, [2, 3], [[1, 0], [0, 2]])
        back = tf.batch_to_space_nd(s, [2, 3], [[1, 0], [0, 2]])
        back4 = tf.batch_to_space(tf.space_to_batch(z[..., 0], [[1, 0], [0, 0]], 2),
                                  [[1, 0], [0, 0]], 2)
        assert s.shape.as_list() == [12, 3, 2, 3, 2]
        av, bv, cv, sv, backv, back4v = _run([a, b, c, s, back, back4])
    np.testing.assert_array_equal(av.reshape(-1), [1, 2, 3, 4])
    assert av.shape == (4, 1, 1, 1)
    np.testing.assert_array_equal(bv, av)
    np.testing.assert_array_equal(cv, av)
    np.testing.assert_array_equal(sv, ref_space_to_batch(z, [2, 3], [(1, 0), (0, 2)]))
    np.testing.assert_array_equal(backv, z)
    np.testing.assert_array_equal(back4v, z[..., 0])


@pytest.mark.parametrize("padding,fmt", list(itertools.product(["SAME", "VALID"],
                                                               ["NHWC", "NCHW"])))
def test_with_space_to_batch_turns_an_op_into_its_dilated_form(padding, fmt):
    rng = np.random.default_rng(9)
    x, f = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 2, 3, 4))
    xin = x.transpose(0, 3, 1, 2) if fmt == "NCHW" else x

    def conv(inp, num_spatial_dims, pad):
        assert num_spatial_dims == 2
        return tf.nn.conv2d(inp, f, [1, 1, 1, 1], pad, data_format=fmt)

    with tf.Graph().as_default():
        y = tf.nn.with_space_to_batch(xin, [2, 3], padding, conv, filter_shape=[3, 2],
                                      data_format=fmt)
        ph = tf.placeholder(tf.float64, [None, None, None, None])
        yd = tf.nn.with_space_to_batch(ph, [2, 3], padding, conv, filter_shape=[3, 2],
                                       data_format=fmt)
        ref = tf.nn.conv2d(xin, f, [1, 1, 1, 1], padding, data_format=fmt,
                           dilations=[1, 2, 3, 1] if fmt == "NHWC" else [1, 1, 2, 3])
        types = {op.type for op in y.graph.get_operations()}
        yv, ydv, rv = _run([y, yd, ref], {ph: xin})
    assert {"SpaceToBatchND", "BatchToSpaceND"} <= types
    assert y.shape.as_list() == list(rv.shape)
    np.testing.assert_allclose(yv, rv, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ydv, rv, rtol=1e-12, atol=1e-12)


def test_required_space_to_batch_paddings_numbers():
    with tf.Graph().as_default():
        p, c = tf.required_space_to_batch_paddings([5, 4], [2, 3], [[1, 1], [0, 0]])
        shape = tf.placeholder(tf.int32, [2])
        pd, cd = tf.required_space_to_batch_paddings(shape, [2, 3])
        pv, cv, pdv, cdv = _run([p, c, pd, cd], {shape: [5, 4]})
    np.testing.assert_array_equal(pv, [[1, 2], [0, 2]])
    np.testing.assert_array_equal(cv, [[0, 1], [0, 2]])
    np.testing.assert_array_equal(pdv, [[0, 1], [0, 2]])
    np.testing.assert_array_equal(cdv, [[0, 1], [0, 2]])


def test_atrous_conv2d_is_dilated_conv_and_transpose_is_its_adjoint():
    rng = np.random.default_rng(2)
    x, f = rng.standard_normal((2, 7, 6, 3)), rng.standard_normal((3, 2, 3, 4))
    with tf.Graph().as_default():
        y = tf.nn.atrous_conv2d(x, f, 2, "SAME")
        ref = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME", dilations=[1, 2, 2, 1])
        dy = rng.standard_normal((2, 7, 6, 4))
        yt = tf.nn.atrous_conv2d_transpose(dy, f, [2, 7, 6, 3], 2, "SAME")
        yv, rv, ytv = _run([y, ref, yt])
    np.testing.assert_allclose(yv, rv, rtol=1e-12)
    assert np.isclose(np.sum(yv * dy), np.sum(x * ytv))


def test_separable_conv2d_is_depthwise_then_pointwise():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 6, 5, 2))
    dw, pw = rng.standard_normal((3, 3, 2, 2)), rng.standard_normal((1, 1, 4, 3))
    with tf.Graph().as_default() as g:
        y = tf.nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "SAME", rate=[2, 2], name="sep")
        ref = tf.nn.conv2d(tf.nn.depthwise_conv2d(x, dw, [1, 1, 1, 1], "SAME", rate=[2, 2]),
                           pw, [1, 1, 1, 1], "VALID")
        yv, rv = _run([y, ref])
        assert y.op.type == "Conv2D" and y.op.name == "sep"
        types = {op.type for op in g.get_operations()}
        assert {"SpaceToBatchND", "DepthwiseConv2dNative", "BatchToSpaceND"} <= types
    np.testing.assert_allclose(yv, rv, rtol=1e-12)


def test_conv1d_transpose_is_the_adjoint_of_conv1d():
    rng = np.random.default_rng(6)
    x, f = rng.standard_normal((2, 9, 3)), rng.standard_normal((3, 3, 4))
    with tf.Graph().as_default():
        y = tf.nn.conv1d(x, f, 2, "SAME")
        dy = rng.standard_normal(y.shape.as_list())
        dx = tf.nn.conv1d_transpose(dy, f, [2, 9, 3], 2, "SAME")
        dxc = tf.nn.conv1d_transpose(dy.transpose(0, 2, 1), f, [2, 3, 9], [1, 1, 2], "SAME",
                                     data_format="NCW")
        yv, dxv, dxcv = _run([y, dx, dxc])
    assert dxv.shape == x.shape
    assert np.isclose(np.sum(yv * dy), np.sum(x * dxv))
    np.testing.assert_allclose(dxcv, dxv.transpose(0, 2, 1), rtol=1e-12)


# ----- build-time errors -----------------------------------------------------------------------
@pytest.mark.parametrize("build,match", [
    (lambda: tf.nn.conv3d(np.ones((1, 4, 4, 4, 2)), np.ones((2, 2, 2, 3, 1)), [1] * 5, "SAME"),
     r"Conv3D 'Conv3D'.*2 channels but the filter expects 3"),
    (lambda: tf.nn.conv3d(np.ones((1, 4, 4, 2)), np.ones((2, 2, 2, 2, 1)), [1] * 5, "SAME"),
     r"Conv3D.*input must be 5-D"),
    (lambda: tf.nn.conv3d(np.ones((1, 4, 4, 4, 2)), np.ones((2, 2, 2, 2, 1)),
                          [2, 1, 1, 1, 1], "SAME"), r"strides must be 1 in the batch"),
    (lambda: tf.nn.conv3d(np.ones((1, 2, 4, 4, 2)), np.ones((3, 2, 2, 2, 1)), [1] * 5,
                          "VALID"), r"does not fit"),
    (lambda: tf.nn.max_pool3d(np.ones((1, 4, 4, 4, 2)), [1, 2, 2, 2, 2], [1] * 5, "SAME"),
     r"MaxPool3D.*ksize must be 1 in the batch and channel"),
    (lambda: tf.nn.avg_pool3d(np.ones((1, 4, 4, 4, 2)), 2, 2, "FULL"), r"SAME' or 'VALID"),
    (lambda: tf.nn.conv3d_transpose(np.ones((1, 4, 4, 4, 2)), np.ones((2, 2, 2, 3, 5)),
                                    [1, 4, 4, 4, 3], [1] * 5), r"in_channels"),
    (lambda: tf.space_to_batch_nd(np.ones((1, 5, 4, 1)), [2, 2], [[0, 0], [0, 0]]),
     r"SpaceToBatchND.*not divisible by block_shape\[0\] = 2"),
    (lambda: tf.batch_to_space_nd(np.ones((3, 2, 2, 1)), [2, 2], [[0, 0], [0, 0]]),
     r"BatchToSpaceND.*batch dimension 3 is not divisible"),
    (lambda: tf.space_to_batch(np.ones((1, 4, 4, 1)), [[0, 0], [0, 0]], 1),
     r"block_size must be greater than 1"),
    (lambda: tf.nn.lrn(np.ones((2, 3, 4))), r"LRN.*4-D"),
    (lambda: tf.nn.separable_conv2d(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 2)),
                                    np.ones((1, 1, 3, 3)), [1, 1, 1, 1], "SAME"),
     r"gives 4 channels but the pointwise filter"),
    (lambda: tf.nn.atrous_conv2d(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 1)), 0, "SAME"),
     r"rate 0 cannot be less than one"),
    (lambda: tf.nn.max_pool_with_argmax(np.ones((1, 2, 4, 4)), 2, 2, "SAME",
                                        data_format="NCHW"), r"only data_format='NHWC'"),
    (lambda: tf.nn.dilation2d(np.ones((1, 4, 4, 2)), np.ones((2, 2, 3)), [1, 1, 1, 1],
                              [1, 1, 1, 1], "SAME"), r"Dilation2D.*depth 2 does not match"),
])
def test_build_time_errors_name_the_op_and_shapes(build, match):
    with tf.Graph().as_default():
        with pytest.raises((ValueError, TypeError), match=match):
            build()


# ----- op-harness rows ---------------------------------------------------------------------
def _conv3d(strides, padding, fmt="NDHWC", dil=(1, 1, 1, 1, 1)):
    return lambda x, f: tf.nn.conv3d(x, f, strides, padding, data_format=fmt, dilations=dil)


CASES = [
    OpCase("conv3d_same", _conv3d([1, 1, 1, 1, 1], "SAME"),
           lambda x, f: ref_conv3d(x, f, (1, 1, 1), "SAME"), [(2, 3, 4, 3, 2), (2, 2, 3, 2, 3)]),
    OpCase("conv3d_valid_s2", _conv3d([1, 2, 1, 2, 1], "VALID"),
           lambda x, f: ref_conv3d(x, f, (2, 1, 2), "VALID"), [(1, 5, 4, 5, 2), (3, 2, 2, 2, 2)]),
    OpCase("conv3d_ncdhw_dilated", _conv3d([1, 1, 1, 1, 1], "SAME", "NCDHW", (1, 1, 2, 1, 2)),
           lambda x, f: ref_conv3d(x, f, (1, 1, 1), "SAME", (2, 1, 2), "NCDHW"),
           [(1, 2, 4, 3, 5), (2, 2, 2, 2, 3)]),
    OpCase("conv3d_1x1x1", _conv3d([1, 1, 1, 1, 1], "VALID"),
           lambda x, f: ref_conv3d(x, f, (1, 1, 1), "VALID"), [(2, 2, 3, 2, 3), (1, 1, 1, 3, 2)]),
    OpCase("conv3d_transpose",
           lambda dy, f: tf.nn.conv3d_transpose(dy, f, [1, 4, 3, 5, 2], [1, 2, 1, 2, 1], "SAME"),
           None, [(1, 2, 3, 3, 3), (2, 2, 3, 2, 3)]),
    OpCase("conv3d_backprop_filter",
           lambda x, dy: tf.nn.conv3d_backprop_filter_v2(x, [2, 3, 2, 2, 3], dy,
                                                         [1, 1, 2, 1, 1], "SAME"),
           None, [(1, 3, 4, 3, 2), (1, 3, 2, 3, 3)]),
    OpCase("max_pool3d_same", lambda x: tf.nn.max_pool3d(x, [1, 2, 3, 2, 1], [1, 2, 2, 1, 1],
                                                         "SAME"),
           lambda x: ref_pool3d(x, (2, 3, 2), (2, 2, 1), "SAME", "max"), [(2, 3, 5, 4, 2)]),
    OpCase("max_pool3d_ncdhw", lambda x: tf.nn.max_pool3d(x, 2, 1, "VALID", "NCDHW"),
           lambda x: ref_pool3d(x, (2, 2, 2), (1, 1, 1), "VALID", "max", "NCDHW"),
           [(1, 2, 3, 3, 4)]),
    OpCase("avg_pool3d_same", lambda x: tf.nn.avg_pool3d(x, [1, 3, 2, 2, 1], [1, 2, 1, 2, 1],
                                                         "SAME"),
           lambda x: ref_pool3d(x, (3, 2, 2), (2, 1, 2), "SAME", "avg"), [(2, 4, 3, 5, 2)]),
    OpCase("avg_pool3d_ncdhw", lambda x: tf.nn.avg_pool3d(x, 2, 2, "VALID", "NCDHW"),
           lambda x: ref_pool3d(x, (2, 2, 2), (2, 2, 2), "VALID", "avg", "NCDHW"),
           [(1, 2, 4, 4, 5)]),
    OpCase("lrn_default", lambda x: tf.nn.lrn(x), ref_lrn, [(2, 2, 3, 13)]),
    OpCase("lrn_params", lambda x: tf.nn.local_response_normalization(x, 2, 1.5, 0.3, 0.75),
           lambda x: ref_lrn(x, 2, 1.5, 0.3, 0.75), [(1, 3, 2, 7)]),
    OpCase("max_pool_with_argmax",
           lambda x: tf.nn.max_pool_with_argmax(x, [1, 2, 3, 1], [1, 2, 2, 1], "SAME"),
           lambda x: ref_argmax_pool(x, (2, 3), (2, 2), "SAME", False), [(2, 5, 4, 3)]),
    OpCase("max_pool_with_argmax_batch",
           lambda x: tf.nn.max_pool_with_argmax(x, 2, 2, "VALID", include_batch_in_index=True),
           lambda x: ref_argmax_pool(x, (2, 2), (2, 2), "VALID", True), [(2, 4, 5, 2)]),
    OpCase("dilation2d_same",
           lambda x, f: tf.nn.dilation2d(x, f, [1, 2, 1, 1], [1, 1, 2, 1], "SAME"),
           lambda x, f: ref_dilation2d(x, f, (2, 1), (1, 2), "SAME"),
           [(2, 5, 6, 2), (2, 3, 2)], order2=False),
    OpCase("erosion2d_valid",
           lambda x, f: tf.nn.erosion2d(x, f, [1, 1, 1, 1], [1, 1, 1, 1], "VALID"),
           lambda x, f: -ref_dilation2d(-x, f[::-1, ::-1], (1, 1), (1, 1), "VALID"),
           [(1, 4, 5, 3), (2, 3, 3)], order2=False),
    OpCase("space_to_batch_nd",
           lambda x: tf.space_to_batch_nd(x, [2, 3], [[1, 0], [2, 1]]),
           lambda x: ref_space_to_batch(x, [2, 3], [(1, 0), (2, 1)]), [(2, 3, 3, 2)]),
    OpCase("batch_to_space_nd",
           lambda x: tf.batch_to_space_nd(x, [2, 2], [[1, 0], [0, 1]]), None, [(8, 2, 3, 2)]),
    OpCase("space_to_batch_1d",
           lambda x: tf.space_to_batch_nd(x, [3], [[1, 2]]),
           lambda x: ref_space_to_batch(x, [3], [(1, 2)]), [(2, 6, 2, 2)]),
    OpCase("with_space_to_batch_pool",
           lambda x: tf.nn.with_space_to_batch(
               x, [2, 2], "SAME", lambda i, n, p: tf.nn.avg_pool(i, [1, 2, 2, 1], [1, 1, 1, 1], p),
               filter_shape=[2, 2]), None, [(1, 5, 6, 2)]),
    OpCase("separable_conv2d",
           lambda x, d, p: tf.nn.separable_conv2d(x, d, p, [1, 2, 2, 1], "SAME"), None,
           [(2, 5, 6, 2), (3, 3, 2, 2), (1, 1, 4, 3)]),
    OpCase("separable_conv2d_rate2",
           lambda x, d, p: tf.nn.separable_conv2d(x, d, p, [1, 1, 1, 1], "SAME", rate=2), None,
           [(1, 5, 6, 2), (2, 3, 2, 1), (1, 1, 2, 3)]),
    OpCase("atrous_conv2d", lambda x, f: tf.nn.atrous_conv2d(x, f, 2, "VALID"), None,
           [(1, 7, 6, 2), (2, 2, 2, 3)]),
    OpCase("atrous_conv2d_transpose",
           lambda x, f: tf.nn.atrous_conv2d_transpose(x, f, [1, 6, 7, 2], 2, "SAME"), None,
           [(1, 6, 7, 3), (3, 2, 2, 3)]),
    OpCase("conv1d_transpose",
           lambda x, f: tf.nn.conv1d_transpose(x, f, [2, 8, 2], 2, "VALID"), None,
           [(2, 3, 3), (3, 2, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


CONV3D_CASES = [c for c in CASES if c.name.startswith("conv3d")]


@pytest.mark.parametrize("input_grad_mode", ["scatter", "as_conv"], indirect=True)
@pytest.mark.parametrize("case", CONV3D_CASES, ids=lambda c: c.name)
def test_conv3d_rows_each_input_gradient(case, input_grad_mode):
    """The op rows (first and second order) with the NDHWC scatter and the stride-1
    convolution form of the input gradient (the rows' two channels pick channel-major)."""
    check_op(case)


@pytest.mark.parametrize("module", [conv3d_ops, conv_extra, nn_extra_ops, pool3d_ops,
                                    space_batch_ops],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# ----- layers --------------------------------------------------------------------------------
def test_layers_variable_names_shapes_and_outputs():
    rng = np.random.default_rng(8)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [2, 4, 5, 3, 2])
        y = tf.layers.Conv3D(3, [2, 3, 2], padding="same", dtype=tf.float64)(x)
        t = tf.layers.conv3d_transpose(tf.cast(y, tf.float32), 2, 2, strides=2)
        p = tf.layers.max_pooling3d(x, 2, 2, padding="same")
        a = tf.layers.average_pooling3d(x, [2, 2, 1], 1, data_format="channels_first")
        xi = tf.placeholder(tf.float32, [1, 6, 6, 2])
        s = tf.layers.separable_conv2d(xi, 4, 3, depth_multiplier=2, padding="same")
        s2 = tf.layers.SeparableConv2D(4, 3, dilation_rate=2)(xi)
        names = {v.name: v.shape.as_list() for v in tf.global_variables()}
        assert names == {
            "conv3d/kernel:0": [2, 3, 2, 2, 3], "conv3d/bias:0": [3],
            "conv3d_transpose/kernel:0": [2, 2, 2, 2, 3], "conv3d_transpose/bias:0": [2],
            "separable_conv2d/depthwise_kernel:0": [3, 3, 2, 2],
            "separable_conv2d/pointwise_kernel:0": [1, 1, 4, 4],
            "separable_conv2d/bias:0": [4],
            "separable_conv2d_1/depthwise_kernel:0": [3, 3, 2, 1],
            "separable_conv2d_1/pointwise_kernel:0": [1, 1, 2, 4],
            "separable_conv2d_1/bias:0": [4]}
        assert t.shape.as_list() == [2, 8, 10, 6, 2]
        assert p.shape.as_list() == [2, 2, 3, 2, 2]
        assert a.shape.as_list() == [2, 4, 4, 2, 2]
        assert s.shape.as_list() == [1, 6, 6, 4] and s2.shape.as_list() == [1, 2, 2, 4]
        xv = rng.standard_normal((2, 4, 5, 3, 2))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            k = sess.run(tf.global_variables()[0])
            yv, pv = sess.run([y, p], {x: xv})
    np.testing.assert_allclose(yv, ref_conv3d(xv, k, (1, 1, 1), "SAME"), rtol=1e-10)
    np.testing.assert_allclose(pv, ref_pool3d(xv, (2, 2, 2), (2, 2, 2), "SAME", "max"))


def test_separable_conv1d_layer():
    rng = np.random.default_rng(13)
    xv = rng.standard_normal((2, 9, 3))
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, [2, 9, 3])
        y = tf.layers.separable_conv1d(x, 4, 3, strides=2, depth_multiplier=2,
                                       bias_initializer=tf.constant_initializer(0.5))
        yc = tf.layers.SeparableConv1D(4, 3, data_format="channels_first",
                                       dtype=tf.float64)(tf.transpose(x, [0, 2, 1]))
        names = {v.name: v.shape.as_list() for v in tf.global_variables()}
        assert names["separable_conv1d/depthwise_kernel:0"] == [3, 3, 2]
        assert names["separable_conv1d/pointwise_kernel:0"] == [1, 6, 4]
        assert names["separable_conv1d_1/pointwise_kernel:0"] == [1, 3, 4]
        assert y.shape.as_list() == [2, 4, 4] and yc.shape.as_list() == [2, 4, 7]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            dk, pk = sess.run(tf.global_variables()[:2])
            yv = sess.run(y, {x: xv})
    dw = np.stack([sum(xv[:, 2 * o + t, :, None] * dk[t] for t in range(3)).reshape(2, 6)
                   for o in range(4)], axis=1)
    np.testing.assert_allclose(yv, dw @ pk[0] + 0.5, rtol=1e-5)


# ----- cross-checks against TensorFlow (skipped where it is not installed) -------------------
def test_against_tensorflow():
    tfr = pytest.importorskip("tensorflow")
    v1 = tfr.compat.v1
    rng = np.random.default_rng(11)
    f32 = np.float32
    x5 = rng.standard_normal((2, 5, 4, 6, 3)).astype(f32)
    w5 = rng.standard_normal((3, 2, 3, 3, 4)).astype(f32)
    x4 = rng.standard_normal((2, 7, 6, 4)).astype(f32)
    w4 = rng.standard_normal((3, 3, 4, 2)).astype(f32)
    pw = rng.standard_normal((1, 1, 8, 5)).astype(f32)
    fd = rng.standard_normal((2, 3, 4)).astype(f32)
    dy5 = rng.standard_normal((2, 3, 4, 3, 4)).astype(f32)
    wc = rng.standard_normal((3, 3, 4)).astype(f32)

    def build(m):
        out = [m.nn.conv3d(x5, w5, [1, 2, 1, 2, 1], "SAME"),
               m.nn.conv3d(x5, w5, [1, 1, 1, 1, 1], "VALID"),
               m.nn.conv3d_transpose(dy5, w5, [2, 5, 4, 6, 3], [1, 2, 1, 2, 1], "SAME"),
               m.nn.conv3d_backprop_filter_v2(x5, [3, 2, 3, 3, 4], dy5, [1, 2, 1, 2, 1],
                                              "SAME"),
               m.nn.max_pool3d(x5, [1, 2, 3, 2, 1], [1, 2, 2, 1, 1], "SAME"),
               m.nn.avg_pool3d(x5, [1, 2, 3, 2, 1], [1, 2, 2, 1, 1], "SAME"),
               m.nn.lrn(x4, 2, 1.5, 0.5, 0.75),
               *m.nn.max_pool_with_argmax(x4, [1, 3, 3, 1], [1, 2, 2, 1], "SAME",
                                          include_batch_in_index=True),
               m.nn.dilation2d(x4, fd[..., :1].repeat(4, -1), [1, 1, 2, 1], [1, 2, 1, 1],
                               "SAME"),
               m.nn.erosion2d(x4, fd[..., :1].repeat(4, -1), [1, 1, 1, 1], [1, 1, 1, 1],
                              "VALID"),
               m.nn.separable_conv2d(x4, w4, pw, [1, 1, 1, 1], "SAME", rate=[2, 2]),
               m.nn.separable_conv2d(x4, w4, pw, [1, 2, 2, 1], "SAME", rate=[2, 2]),
               m.nn.separable_conv2d(x4, w4, pw, [1, 2, 1, 1], "VALID"),
               m.nn.atrous_conv2d(x4, w4[..., :2], 2, "SAME"),
               m.nn.atrous_conv2d_transpose(x4[..., :2], w4[:, :, :3, :2], [2, 7, 6, 3], 2,
                                            "SAME"),
               m.nn.conv1d_transpose(x4[:, 0], wc, [2, 13, 3], 2, "VALID"),
               m.space_to_batch_nd(x4, [2, 3], [[1, 0], [0, 0]]),
               m.batch_to_space_nd(x4[:, :3], [1, 2], [[0, 1], [1, 0]]),
               m.nn.pool(x5, [2, 2, 2], "MAX", "VALID", dilation_rate=[2, 1, 2]),
               m.nn.pool(x5, [2, 3, 2], "AVG", "SAME", strides=[2, 1, 2]),
               m.nn.convolution(x5, w5, "SAME", dilation_rate=[2, 1, 2]),
               m.nn.with_space_to_batch(x4, [2, 3], "SAME", lambda i, n, p: m.nn.max_pool(
                   i, [1, 3, 2, 1], [1, 1, 1, 1], p), filter_shape=[3, 2])]
        xs = m.constant(x4)
        lr = m.nn.lrn(xs, 2, 1.5, 0.5, 0.75)
        dil = m.nn.dilation2d(xs, fd[..., :1].repeat(4, -1), [1, 1, 1, 1], [1, 1, 1, 1],
                              "VALID")
        x5t = m.constant(x5)
        mp = m.nn.max_pool3d(x5t, [1, 2, 3, 2, 1], [1, 2, 2, 1, 1], "SAME")
        ap = m.nn.avg_pool3d(x5t, [1, 2, 3, 2, 1], [1, 2, 2, 1, 1], "SAME")
        out += m.gradients(m.reduce_sum(lr * lr), xs) + m.gradients(m.reduce_sum(dil * dil), xs)
        out += m.gradients(m.reduce_sum(mp * mp) + m.reduce_sum(ap * ap), x5t)
        return out

    with tfr.Graph().as_default():
        want = v1.Session().run(build(v1))
    with tf.Graph().as_default():
        got = _run(build(tf))
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-4, err_msg=f"output {i}")
