"""The oneDNN path for float32 convolutions and pooling (``flowgrad/runtime/onednn.py``).

Every check runs the public ops twice: float32 with oneDNN on, and the numpy kernels
(``onednn.ENABLED = False``) on the same values cast to float64.  The two agree to 1e-5 of
the result's magnitude.  Counting wrappers around the oneDNN entry points show which
calls went to oneDNN: float32 convolutions and pools do, float64 never, 1x1 stride-1
convolutions never, input gradients with up to 4 input channels never (the numpy scatter
is faster there), and the input gradient below 16 channels in oneDNN's blocked layout.
The whole module skips where oneDNN is not installed.
"""

import collections
import multiprocessing
import os
import threading
import zlib

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.framework import registry
from flowgrad.ops import conv_geometry
from flowgrad.ops.conv_geometry import window
from flowgrad.runtime import onednn

pytestmark = pytest.mark.skipif(not onednn.available(),
                                reason="oneDNN (pip install onednn-cpu-gomp) is not installed")

_ENTRY_POINTS = ("conv_forward", "conv_backward_data", "conv_backward_weights",
                 "pool_forward", "pool_backward")
RTOL = 1e-5


@pytest.fixture
def calls(monkeypatch):
    """Counts the oneDNN calls that returned a result (``name``), those oneDNN refused
    (``name:refused``) and the layout of the input gradients (``blocked`` / ``plain``)."""
    counts = collections.Counter()
    lock = threading.Lock()

    def counting(name, real):
        def wrapper(*args, **kwargs):
            out = real(*args, **kwargs)
            with lock:
                counts[name if out is not None else name + ":refused"] += 1
                if name == "conv_backward_data":
                    counts["blocked" if kwargs.get("blocked") else "plain"] += 1
            return out
        return wrapper

    for name in _ENTRY_POINTS:
        monkeypatch.setattr(onednn, name, counting(name, getattr(onednn, name)))
    return counts


def _evaluate(build, arrays, dtype, enabled, monkeypatch):
    """``build(*placeholders)``'s tensors evaluated in a fresh graph, fed ``arrays`` as
    ``dtype`` (placeholders, not constants: the session would fold constants at compile
    time, running each kernel more than once)."""
    monkeypatch.setattr(onednn, "ENABLED", enabled)
    tf.reset_default_graph()
    arrays = [np.asarray(a, dtype) for a in arrays]
    ins = [tf.placeholder(a.dtype, a.shape) for a in arrays]
    outs = build(*ins)
    with tf.Session() as sess:
        return sess.run(outs, dict(zip(ins, arrays)))


def _assert_close(got, want, rtol=RTOL):
    want = np.asarray(want)
    scale = float(np.abs(want).max()) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(scale, 1e-30))


def _check_against_numpy(build, arrays, calls, monkeypatch):
    """Runs ``build`` in float32 with oneDNN and in float64 on numpy; asserts they agree
    and that the float64 run made no oneDNN call.  Returns the oneDNN call counts of the
    float32 run."""
    got = _evaluate(build, arrays, np.float32, True, monkeypatch)
    f32_calls = collections.Counter(calls)
    calls.clear()
    want = _evaluate(build, arrays, np.float64, False, monkeypatch)
    assert not calls, f"the numpy reference called oneDNN: {dict(calls)}"
    # float64 with oneDNN on: still numpy (oneDNN takes float32 only)
    want_on = _evaluate(build, arrays, np.float64, True, monkeypatch)
    assert not calls, f"float64 went to oneDNN: {dict(calls)}"
    for g, w, w_on in zip(got, want, want_on):
        assert g.dtype == np.float32
        _assert_close(g, w)
        np.testing.assert_array_equal(w_on, w)
    return f32_calls


def _rng(seed):
    return np.random.default_rng(seed)


def _channels_first(shape, fmt):
    """An NHWC / NDHWC ``shape`` in ``fmt``."""
    return shape if fmt.endswith("C") else (shape[0], shape[-1], *shape[1:-1])


# ----- 2-D convolutions: forward, both gradients --------------------------------------------
# (H, W, CI, CO, KH, KW, strides, dilations, padding, data_format): pairwise over padding
# (SAME / VALID / explicit), strides 1-3, dilations 1-2, odd and even sizes, both layouts,
# input channels 1, 3 (numpy input gradient), 6 (blocked), 16, 20 (plain), CO down to 1.
CONV2D = [
    (7, 8, 1, 4, 3, 3, (1, 1), (1, 1), "SAME", "NHWC"),
    (8, 7, 3, 1, 3, 2, (2, 2), (1, 1), "VALID", "NCHW"),
    (9, 9, 6, 8, 3, 3, (3, 1), (1, 2), [[1, 2], [0, 3]], "NHWC"),
    (6, 6, 16, 5, 2, 2, (1, 2), (2, 1), "SAME", "NCHW"),
    (7, 5, 20, 16, 5, 3, (1, 1), (1, 1), "VALID", "NHWC"),
    (8, 8, 20, 1, 3, 3, (2, 3), (1, 1), [[0, 1], [2, 2]], "NCHW"),
    (7, 7, 3, 6, 3, 3, (1, 1), (2, 2), "SAME", "NCHW"),
    (8, 9, 16, 4, 4, 4, (3, 3), (1, 1), "SAME", "NHWC"),
    (9, 8, 6, 1, 2, 3, (1, 1), (1, 1), [[2, 0], [1, 1]], "NCHW"),
    (10, 7, 1, 16, 3, 3, (2, 2), (2, 2), "VALID", "NHWC"),
    (5, 6, 6, 3, 1, 1, (2, 2), (1, 1), "VALID", "NHWC"),             # 1x1, strided
    (5, 5, 20, 4, 1, 1, (1, 1), (1, 1), [[1, 0], [0, 1]], "NCHW"),   # 1x1, padded
    (6, 5, 16, 8, 1, 1, (1, 1), (1, 1), "SAME", "NHWC"),             # 1x1 stride 1: numpy
    (7, 6, 6, 2, 1, 1, (1, 1), (1, 1), "VALID", "NCHW"),             # 1x1 stride 1: numpy
    (2, 3, 6, 4, 5, 5, (1, 1), (1, 1), "SAME", "NHWC"),              # kernel > input
    (3, 3, 16, 2, 3, 3, (1, 1), (1, 1), [[4, 4], [0, 5]], "NCHW"),   # outputs in padding
    (4, 5, 3, 4, 2, 2, (5, 3), (1, 1), "VALID", "NHWC"),             # stride > kernel
]


def _conv_id(case):
    h, w, ci, co, kh, kw, s, d, pad, fmt = case
    return f"{h}x{w}x{ci}->{co}-k{kh}{kw}-s{s[0]}{s[1]}-d{d[0]}{d[1]}-" \
           f"{pad if isinstance(pad, str) else 'EXPL'}-{fmt}"


def _four(pair, fmt):
    return [1, *pair, 1] if fmt == "NHWC" else [1, 1, *pair]


def _tf_padding(pad, fmt):
    if isinstance(pad, str):
        return pad
    return [[0, 0], *pad, [0, 0]] if fmt == "NHWC" else [[0, 0], [0, 0], *pad]


def _conv2d_out(h, w, kh, kw, s, d, pad):
    exp = ((0, 0), (0, 0)) if isinstance(pad, str) else tuple(map(tuple, pad))
    mode = pad if isinstance(pad, str) else "EXPLICIT"
    return (window(h, kh, s[0], d[0], mode, exp[0]).out,
            window(w, kw, s[1], d[1], mode, exp[1]).out)


def _pointwise(case):
    _, _, _, _, kh, kw, s, _, pad, _ = case
    return kh == kw == 1 and s == (1, 1) and (pad in ("SAME", "VALID"))


@pytest.mark.parametrize("case", CONV2D, ids=_conv_id)
def test_conv2d_forward_and_gradients_match_numpy(case, calls, monkeypatch):
    h, w, ci, co, kh, kw, s, d, pad, fmt = case
    rng = _rng(zlib.crc32(_conv_id(case).encode()))
    oh, ow = _conv2d_out(h, w, kh, kw, s, d, pad)
    x = rng.uniform(-1, 1, _channels_first((2, h, w, ci), fmt))
    f = rng.uniform(-1, 1, (kh, kw, ci, co))
    dy = rng.uniform(-1, 1, _channels_first((2, oh, ow, co), fmt))

    def build(x, f, dy):
        y = tf.nn.conv2d(x, f, _four(s, fmt), _tf_padding(pad, fmt), data_format=fmt,
                         dilations=_four(d, fmt))
        return [y, *tf.gradients(y, [x, f], grad_ys=dy)]

    n = _check_against_numpy(build, [x, f, dy], calls, monkeypatch)
    if _pointwise(case):
        assert not n, "a 1x1 stride-1 convolution is one GEMM: it stays on numpy"
        return
    input_grad = ci >= conv_geometry.ONEDNN_MIN_INPUT_GRAD_CHANNELS
    blocked = input_grad and ci < conv_geometry.ONEDNN_BLOCKED_BELOW
    assert n == collections.Counter(
        {"conv_forward": 1, "conv_backward_weights": 1, "conv_backward_data": int(input_grad),
         "blocked": int(blocked), "plain": int(input_grad and not blocked)}), dict(n)


@pytest.mark.parametrize("ci,fmt,pad", [(3, "NHWC", "SAME"), (6, "NCHW", [[1, 0], [2, 1]]),
                                        (20, "NHWC", "VALID")])
def test_conv2d_backprop_ops_match_numpy(ci, fmt, pad, calls, monkeypatch):
    rng = _rng(ci)
    h, w, co, s = 9, 8, 5, (2, 1)
    oh, ow = _conv2d_out(h, w, 3, 3, s, (1, 1), pad)
    x = rng.uniform(-1, 1, _channels_first((2, h, w, ci), fmt))
    f = rng.uniform(-1, 1, (3, 3, ci, co))
    dy = rng.uniform(-1, 1, _channels_first((2, oh, ow, co), fmt))

    def build(x, f, dy):
        kw = {"strides": _four(s, fmt), "padding": _tf_padding(pad, fmt), "data_format": fmt}
        return [tf.nn.conv2d_backprop_input(list(x.shape.as_list()), f, dy, **kw),
                tf.nn.conv2d_backprop_filter(x, [3, 3, ci, co], dy, **kw)]

    n = _check_against_numpy(build, [x, f, dy], calls, monkeypatch)
    assert n["conv_backward_weights"] == 1
    assert n["conv_backward_data"] == (ci >= 5)


@pytest.mark.parametrize("co_t,fmt,pad,s", [(8, "NHWC", "SAME", 2), (2, "NCHW", "VALID", 3),
                                            (16, "NCHW", "SAME", 1)])
def test_conv2d_transpose_matches_numpy(co_t, fmt, pad, s, calls, monkeypatch):
    """conv2d_transpose is the input gradient: its output channels are that gradient's."""
    rng = _rng(co_t)
    n_in, h, w = 6, 7, 6
    out_hw = (h * s, w * s) if pad == "SAME" else ((h - 1) * s + 3, (w - 1) * s + 3)
    out_shape = _channels_first((2, *out_hw, co_t), fmt)
    v = rng.uniform(-1, 1, _channels_first((2, h, w, n_in), fmt))
    f = rng.uniform(-1, 1, (3, 3, co_t, n_in))
    dz = rng.uniform(-1, 1, out_shape)

    def build(v, f, dz):
        z = tf.nn.conv2d_transpose(v, f, list(out_shape), _four((s, s), fmt), pad,
                                   data_format=fmt)
        return [z, *tf.gradients(z, [v, f], grad_ys=dz)]

    n = _check_against_numpy(build, [v, f, dz], calls, monkeypatch)
    # the transpose (an input gradient of co_t channels), its gradient w.r.t. the value
    # (a forward convolution) and w.r.t. the filter (a filter gradient)
    assert n["conv_backward_data"] == (co_t >= 5)
    assert n["blocked"] == (5 <= co_t < 16)
    assert n["conv_forward"] == 1 and n["conv_backward_weights"] == 1


@pytest.mark.parametrize("fmt,stride,dil,pad,ci", [("NWC", 2, 1, "SAME", 6),
                                                   ("NCW", 1, 2, "VALID", 16),
                                                   ("NWC", 3, 1, [[0, 0], [2, 1], [0, 0]], 1)])
def test_conv1d_matches_numpy(fmt, stride, dil, pad, ci, calls, monkeypatch):
    rng = _rng(stride)
    x = rng.uniform(-1, 1, (2, 11, ci) if fmt == "NWC" else (2, ci, 11))
    f = rng.uniform(-1, 1, (3, ci, 4))

    def build(x, f):
        y = tf.nn.conv1d(x, f, stride, pad, data_format=fmt, dilations=dil)
        return [y, *tf.gradients(tf.reduce_sum(y * y), [x, f])]

    n = _check_against_numpy(build, [x, f], calls, monkeypatch)
    assert n["conv_forward"] == 1 and n["conv_backward_weights"] == 1
    assert n["conv_backward_data"] == (ci >= 5)


# ----- 3-D convolutions ---------------------------------------------------------------------
# (D, H, W, CI, CO, K, strides, dilations, padding, data_format)
CONV3D = [
    (5, 6, 7, 1, 4, (2, 3, 2), (1, 1, 1), (1, 1, 1), "SAME", "NDHWC"),
    (6, 5, 5, 6, 1, (3, 2, 3), (2, 1, 3), (1, 1, 1), "VALID", "NCDHW"),
    (5, 5, 6, 16, 8, (2, 2, 2), (1, 1, 1), (2, 1, 2), "SAME", "NDHWC"),
    (4, 5, 4, 20, 3, (3, 3, 1), (1, 2, 1), (1, 1, 1), "SAME", "NCDHW"),
    (4, 4, 5, 3, 5, (2, 2, 2), (2, 2, 2), (1, 1, 1), "VALID", "NDHWC"),
    (4, 3, 5, 6, 4, (1, 1, 1), (1, 1, 1), (1, 1, 1), "SAME", "NCDHW"),    # 1x1x1: numpy
]


def _five(triple, fmt):
    return [1, *triple, 1] if fmt == "NDHWC" else [1, 1, *triple]


@pytest.mark.parametrize("case", CONV3D, ids=lambda c: f"{c[3]}->{c[4]}-s{c[6]}-d{c[7]}-"
                                                       f"{c[8]}-{c[9]}")
def test_conv3d_forward_and_gradients_match_numpy(case, calls, monkeypatch):
    d_, h, w, ci, co, k, s, dil, pad, fmt = case
    rng = _rng(ci * 100 + co)
    out = [window(n, kk, ss, dd, pad).out for n, kk, ss, dd in zip((d_, h, w), k, s, dil)]
    x = rng.uniform(-1, 1, _channels_first((2, d_, h, w, ci), fmt))
    f = rng.uniform(-1, 1, (*k, ci, co))
    dy = rng.uniform(-1, 1, _channels_first((2, *out, co), fmt))

    def build(x, f, dy):
        y = tf.nn.conv3d(x, f, _five(s, fmt), pad, data_format=fmt, dilations=_five(dil, fmt))
        return [y, *tf.gradients(y, [x, f], grad_ys=dy)]

    n = _check_against_numpy(build, [x, f, dy], calls, monkeypatch)
    if k == (1, 1, 1) and s == (1, 1, 1):
        assert not n
        return
    input_grad = ci >= conv_geometry.ONEDNN_MIN_INPUT_GRAD_CHANNELS
    assert n["conv_forward"] == 1 and n["conv_backward_weights"] == 1
    assert n["conv_backward_data"] == int(input_grad)
    assert n["blocked"] == int(input_grad and ci < conv_geometry.ONEDNN_BLOCKED_BELOW)


# ----- 2-D pooling ------------------------------------------------------------------------
# (H, W, C, window, strides, dilation, padding, data_format); dilated ones go through
# tf.nn.pool (strides 1, as TF requires)
POOL2D = [
    (7, 8, 1, (2, 2), (2, 2), (1, 1), "VALID", "NHWC"),
    (8, 7, 3, (3, 3), (2, 2), (1, 1), "SAME", "NCHW"),
    (9, 9, 16, (3, 2), (1, 3), (1, 1), "SAME", "NHWC"),
    (6, 5, 6, (2, 3), (3, 1), (1, 1), "VALID", "NCHW"),
    (5, 6, 20, (1, 1), (2, 2), (1, 1), "SAME", "NHWC"),
    (7, 8, 3, (2, 3), (1, 1), (2, 1), "SAME", "NHWC"),
    (8, 8, 6, (3, 3), (1, 1), (2, 2), "VALID", "NCHW"),
    (2, 3, 4, (3, 5), (1, 1), (1, 1), "SAME", "NHWC"),       # window > input
    (5, 5, 4, (2, 2), (4, 3), (1, 1), "SAME", "NCHW"),       # stride > window
]


def _pool2d(x, kind, k, s, dil, pad, fmt):
    if dil != (1, 1):
        return tf.nn.pool(x, list(k), kind.upper(), pad, dilation_rate=list(dil),
                          strides=list(s), data_format=fmt)
    fn = tf.nn.max_pool if kind == "max" else tf.nn.avg_pool
    return fn(x, _four(k, fmt), _four(s, fmt), pad, data_format=fmt)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL2D, ids=lambda c: f"{c[2]}-k{c[3]}-s{c[4]}-d{c[5]}-"
                                                       f"{c[6]}-{c[7]}")
def test_pool2d_forward_and_gradient_match_numpy(case, kind, calls, monkeypatch):
    h, w, c, k, s, dil, pad, fmt = case
    rng = _rng(h * w * c)
    x = rng.standard_normal(_channels_first((2, h, w, c), fmt))
    out = [window(n, kk, ss, dd, pad).out for n, kk, ss, dd in zip((h, w), k, s, dil)]
    dy = rng.uniform(-1, 1, _channels_first((2, *out, c), fmt))

    def build(x, dy):
        y = _pool2d(x, kind, k, s, dil, pad, fmt)
        return [y, *tf.gradients(y, x, grad_ys=dy)]

    n = _check_against_numpy(build, [x, dy], calls, monkeypatch)
    # max: the forward, and the gradient's forward-with-workspace and backward
    assert n == collections.Counter({"pool_forward": 2 if kind == "max" else 1,
                                     "pool_backward": 1}), dict(n)


# ----- 3-D pooling --------------------------------------------------------------------------
POOL3D = [
    (5, 6, 7, 3, (2, 2, 2), (2, 2, 2), "VALID", "NDHWC"),
    (6, 5, 5, 16, (3, 2, 3), (1, 2, 3), "SAME", "NCDHW"),
    (4, 4, 5, 1, (3, 3, 3), (1, 1, 1), "SAME", "NDHWC"),
    (5, 4, 6, 20, (2, 3, 1), (3, 1, 2), "VALID", "NCDHW"),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", POOL3D, ids=lambda c: f"{c[3]}-k{c[4]}-s{c[5]}-{c[6]}-{c[7]}")
def test_pool3d_forward_and_gradient_match_numpy(case, kind, calls, monkeypatch):
    d_, h, w, c, k, s, pad, fmt = case
    rng = _rng(d_ * h * w * c)
    x = rng.standard_normal(_channels_first((2, d_, h, w, c), fmt))
    out = [window(n, kk, ss, 1, pad).out for n, kk, ss in zip((d_, h, w), k, s)]
    dy = rng.uniform(-1, 1, _channels_first((2, *out, c), fmt))
    fn = tf.nn.max_pool3d if kind == "max" else tf.nn.avg_pool3d

    def build(x, dy):
        y = fn(x, _five(k, fmt), _five(s, fmt), pad, data_format=fmt)
        return [y, *tf.gradients(y, x, grad_ys=dy)]

    n = _check_against_numpy(build, [x, dy], calls, monkeypatch)
    # MaxPool3DGrad stays on numpy: TF gives every tied maximum the gradient there
    assert n == collections.Counter({"pool_forward": 1,
                                     "pool_backward": int(kind == "avg")}), dict(n)


# ----- max-pool ties and windows in the padding ---------------------------------------------
def test_max_pool_gradient_goes_to_the_first_maximum():
    """All-zero windows: each window's top-left cell (first in row-major order) takes the
    whole gradient, as in TF."""
    x = np.zeros((1, 3, 3, 1), np.float32)
    y = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    dx = tf.gradients(y, [y.op.inputs[0]], grad_ys=np.ones((1, 2, 2, 1), np.float32))[0]
    with tf.Session() as sess:
        got = sess.run(dx)
    np.testing.assert_array_equal(got[0, :, :, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("k,s,pad,fmt", [(3, 1, "SAME", "NHWC"), (3, 2, "SAME", "NCHW"),
                                         (2, 2, "VALID", "NHWC"), (2, 1, "VALID", "NCHW")])
def test_max_pool_gradient_with_ties_equals_numpy_exactly(k, s, pad, fmt, calls, monkeypatch):
    rng = _rng(k * 10 + s)
    # rounded ReLU outputs: mostly zeros and small integers, so most windows tie
    x = np.round(np.maximum(rng.standard_normal(_channels_first((2, 9, 8, 6), fmt)), 0) * 2)
    out = [window(n, k, s, 1, pad).out for n in (9, 8)]
    dy = rng.integers(-4, 5, _channels_first((2, *out, 6), fmt))    # exact sums in float32

    def build(x, dy):
        y = tf.nn.max_pool(x, _four((k, k), fmt), _four((s, s), fmt), pad, data_format=fmt)
        return [y, *tf.gradients(y, x, grad_ys=dy)]

    got = _evaluate(build, [x, dy], np.float32, True, monkeypatch)
    assert calls["pool_backward"] == 1
    want = _evaluate(build, [x, dy], np.float32, False, monkeypatch)
    assert calls["pool_backward"] == 1
    for g, wv in zip(got, want):
        np.testing.assert_array_equal(g, wv)
    assert np.count_nonzero(got[1]) < got[1].size / 2      # the ties did get skipped


def test_max_pool_window_wholly_in_padding_is_minus_inf(calls, monkeypatch):
    """Width 3, window 2 dilated by 4, SAME: the middle output's taps (-1 and 3) both lie in
    the padding.  Its maximum is -inf, as on the numpy kernels; oneDNN is not asked."""
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10

    def build(x):
        y = tf.nn.pool(x, [2], "MAX", "SAME", dilation_rate=[4])
        return [y, *tf.gradients(y, x, grad_ys=np.ones((2, 3, 4), np.float32))]

    got = _evaluate(build, [x], np.float32, True, monkeypatch)
    want = _evaluate(build, [x], np.float32, False, monkeypatch)
    for g, wv in zip(got, want):
        np.testing.assert_array_equal(g, wv)
    y, dx = got
    np.testing.assert_array_equal(y[:, 0], x[:, 2])
    np.testing.assert_array_equal(y[:, 2], x[:, 0])
    assert np.all(y[:, 1] == -np.inf)
    np.testing.assert_array_equal(dx[:, 1], 0)
    assert calls["pool_forward"] == calls["pool_backward"] == 0


def test_avg_pool_window_wholly_in_padding_matches_numpy(calls, monkeypatch):
    """The same geometry averaged: 0 cells, 0 / 0 = nan on both paths."""
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10

    def build(x):
        y = tf.nn.pool(x, [2], "AVG", "SAME", dilation_rate=[4])
        return [y, *tf.gradients(y, x, grad_ys=np.ones((2, 3, 4), np.float32))]

    with np.errstate(invalid="ignore", divide="ignore"):
        got = _evaluate(build, [x], np.float32, True, monkeypatch)
        want = _evaluate(build, [x], np.float32, False, monkeypatch)
    for g, wv in zip(got, want):
        np.testing.assert_array_equal(g, wv)
    assert np.isnan(got[0][:, 1]).all() and not np.isnan(got[0][:, ::2]).any()
    np.testing.assert_array_equal(got[0][:, 0], x[:, 2])


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
def test_max_pool_over_minus_inf_windows_matches_numpy(fmt, calls, monkeypatch):
    """A -inf mask over whole windows: their maximum is -inf (oneDNN alone would give the
    lowest finite float), the gradient goes to the window's first cell, and the same pool
    without such windows does run on oneDNN."""
    rng = _rng(5)
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    x[:, :2, :4] = -np.inf                     # windows (0, 0) and (0, 1) all -inf
    x[:, 4, 4] = -np.inf                       # window (2, 2) partly
    x = x if fmt == "NHWC" else x.transpose(0, 3, 1, 2)
    dy = rng.integers(1, 5, _channels_first((2, 3, 3, 3), fmt))

    def build(x, dy):
        y = tf.nn.max_pool(x, _four((2, 2), fmt), _four((2, 2), fmt), "VALID",
                           data_format=fmt)
        return [y, *tf.gradients(y, x, grad_ys=dy)]

    got = _evaluate(build, [x, dy], np.float32, True, monkeypatch)
    want = _evaluate(build, [x, dy], np.float64, False, monkeypatch)
    for g, wv in zip(got, want):
        np.testing.assert_array_equal(g, wv)
    y = got[0] if fmt == "NHWC" else got[0].transpose(0, 2, 3, 1)
    assert np.all(y[:, 0, :2] == -np.inf) and np.isfinite(y[:, 1:]).all()
    calls.clear()
    got = _evaluate(build, [np.maximum(x, -1e30), dy], np.float32, True, monkeypatch)
    assert calls["pool_forward"] == 2 and calls["pool_backward"] == 1
    assert np.all(got[0] > -1.1e30)


@pytest.mark.xfail(strict=True, reason="oneDNN's max pooling skips NaN inputs (window "
                   "[5, nan, 1, 2] -> 5); the numpy kernels propagate NaN")
def test_max_pool_of_nan_matches_numpy(monkeypatch):
    x = np.array([5, np.nan, 1, 2], np.float32).reshape(1, 2, 2, 1)

    def build(x):
        y = tf.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        return [y, *tf.gradients(y, x)]

    got = _evaluate(build, [x], np.float32, True, monkeypatch)
    want = _evaluate(build, [x], np.float32, False, monkeypatch)
    for g, wv in zip(got, want):
        np.testing.assert_array_equal(g, wv)


def test_max_pool_kernel_with_padding_windows_matches_numpy(calls, monkeypatch):
    """The MaxPool kernel itself on a 2-D case with whole rows of windows in the padding
    (height 1, window 2 dilated by 2: both taps outside) and valid columns."""
    kernel = registry._OPS["MaxPool"].kernel_for("cpu")
    x = _rng(3).standard_normal((2, 1, 5, 3)).astype(np.float32)
    attrs = {"ksize": (1, 2, 2, 1), "strides": (1, 1, 1, 1), "padding": "SAME",
             "data_format": "NHWC", "dilations": (1, 2, 1, 1)}
    got = kernel(np, x, **attrs)
    monkeypatch.setattr(onednn, "ENABLED", False)
    want = kernel(np, x, **attrs)
    np.testing.assert_array_equal(got, want)
    assert np.all(got == -np.inf) and got.shape == x.shape
    assert calls["pool_forward"] == 0


# ----- turning it off, and the library missing ----------------------------------------------
def _small_net(x, f):
    y = tf.nn.conv2d(x, f, [1, 1, 1, 1], "SAME")
    p = tf.nn.max_pool(y, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    a = tf.nn.avg_pool(p, [1, 2, 2, 1], [1, 1, 1, 1], "VALID")
    z = tf.nn.conv3d(tf.reshape(a, [2, 1, 3, 3, 8]), tf.ones([1, 2, 2, 8, 6], x.dtype),
                     [1, 1, 1, 1, 1], "SAME")
    m = tf.nn.avg_pool3d(tf.nn.max_pool3d(z, [1, 1, 2, 2, 1], [1, 1, 1, 1, 1], "SAME"),
                         [1, 1, 2, 2, 1], [1, 1, 1, 1, 1], "SAME")
    loss = tf.reduce_sum(m * m)
    return [loss, *tf.gradients(loss, [x, f])]


def _net_inputs():
    rng = _rng(7)
    return [rng.standard_normal((2, 7, 7, 6)), rng.standard_normal((3, 3, 6, 8))]


def test_disabled_runs_every_op_on_numpy(calls, monkeypatch):
    got = _evaluate(_small_net, _net_inputs(), np.float32, False, monkeypatch)
    assert not calls
    want = _evaluate(_small_net, _net_inputs(), np.float64, False, monkeypatch)
    for g, wv in zip(got, want):
        _assert_close(g, wv, 1e-4)
    monkeypatch.setattr(onednn, "ENABLED", False)
    assert not onednn.available() and onednn.library_path() is None
    assert not onednn.usable(np.ones(3, np.float32))
    # and back on, the same net does reach oneDNN
    again = _evaluate(_small_net, _net_inputs(), np.float32, True, monkeypatch)
    assert calls["conv_forward"] == 2 and calls["pool_forward"] >= 4
    for g, wv in zip(again, want):
        _assert_close(g, wv, 1e-4)


def test_missing_library_falls_back_to_numpy(calls, monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWGRAD_ONEDNN_LIB", str(tmp_path / "libdnnl.so.3"))
    monkeypatch.setattr(onednn, "_state", {})     # restored afterwards by monkeypatch
    assert not onednn.available()
    assert onednn.library_path() is None
    assert not onednn.usable(np.ones(3, np.float32))
    got = _evaluate(_small_net, _net_inputs(), np.float32, True, monkeypatch)
    assert not calls
    want = _evaluate(_small_net, _net_inputs(), np.float64, False, monkeypatch)
    for g, wv in zip(got, want):
        _assert_close(g, wv, 1e-4)


def test_a_file_that_is_not_onednn_is_refused(monkeypatch):
    """A library without oneDNN's C API (libc here) is not bound."""
    import ctypes.util  # noqa: PLC0415
    libc = ctypes.util.find_library("c")
    if libc is None:
        pytest.skip("no libc to point at")
    monkeypatch.setenv("FLOWGRAD_ONEDNN_LIB", libc)
    monkeypatch.setattr(onednn, "_state", {})
    assert not onednn.available()


def test_state_is_restored_after_the_missing_library_test():
    assert onednn.available() and onednn.library_path()


def _net_in_child(conn):
    want = conn.recv()
    got = _evaluate(_small_net, _net_inputs(), np.float32, True, pytest.MonkeyPatch())
    conn.send((onednn.available(), [float(np.abs(g - w).max() / np.abs(w).max())
                                    for g, w in zip(got, want)]))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_forked_child_runs_the_numpy_kernels(monkeypatch):
    """GNU OpenMP's threads do not survive fork: a child of a process that ran oneDNN
    would hang in its first convolution.  It runs numpy instead, and gets the same
    results."""
    want = _evaluate(_small_net, _net_inputs(), np.float32, True, monkeypatch)
    assert onednn._get()["ran"]
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_net_in_child, args=(child,), daemon=True)
    proc.start()
    try:
        parent.send(want)
        assert parent.poll(30), "the forked child hung"
        child_available, errors = parent.recv()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert not child_available
    assert max(errors) < 1e-4, errors
    assert onednn.available()        # the parent keeps it


# ----- threads ------------------------------------------------------------------------------
def test_threads_share_primitives_and_a_session(monkeypatch):
    """Four threads run one session's conv forward and both gradients at once, each on its
    own batch, from a primitive cache emptied first (the threads race to create the
    primitives).  Every result matches the single-threaded numpy one."""
    monkeypatch.setitem(onednn._get(), "prims", {})
    rng = _rng(11)
    xs = [rng.standard_normal((2, 9, 9, 6)).astype(np.float32) for _ in range(4)]
    f = rng.standard_normal((3, 3, 6, 16)).astype(np.float32)
    dy = rng.standard_normal((2, 5, 5, 16)).astype(np.float32)

    def build(f, dy):
        x = tf.placeholder(f.dtype, [2, 9, 9, 6], name="x")
        y = tf.nn.conv2d(x, f, [1, 2, 2, 1], "SAME")
        return x, [y, *tf.gradients(y, [x, f], grad_ys=dy)]

    monkeypatch.setattr(onednn, "ENABLED", False)
    x, outs = build(tf.constant(f.astype(np.float64)), tf.constant(dy.astype(np.float64)))
    with tf.Session() as sess:
        want = [sess.run(outs, {x: xi}) for xi in xs]
    tf.reset_default_graph()

    monkeypatch.setattr(onednn, "ENABLED", True)
    x, outs = build(tf.constant(f), tf.constant(dy))
    sess = tf.Session()
    barrier = threading.Barrier(4)
    results, errors = {}, []

    def work(i):
        try:
            barrier.wait()
            # direct calls too: the primitives are created concurrently
            wins = (window(9, 3, 2, 1, "SAME"), window(9, 3, 2, 1, "SAME"))
            direct = [onednn.conv_forward(xs[i], f, wins) for _ in range(3)]
            results[i] = ([sess.run(outs, {x: xs[i]}) for _ in range(5)], direct)
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sess.close()
    assert not errors, errors
    for i in range(4):
        runs, direct = results[i]
        for run in runs:
            for g, wv in zip(run, want[i]):
                _assert_close(g, wv)
        for y in direct:
            _assert_close(y, want[i][0])


def test_threads_call_the_kernels_concurrently(monkeypatch):
    """The oneDNN entry points themselves, 4 threads x 20 calls, forward and backward."""
    rng = _rng(12)
    x = rng.standard_normal((2, 8, 8, 20)).astype(np.float32)
    f = rng.standard_normal((3, 3, 20, 8)).astype(np.float32)
    wins = (window(8, 3, 1, 1, "SAME"), window(8, 3, 1, 1, "SAME"))
    y_ref = onednn.conv_forward(x, f, wins)
    dy = rng.standard_normal(y_ref.shape).astype(np.float32)
    refs = (onednn.conv_backward_data(dy, f, x.shape, wins),
            onednn.conv_backward_weights(x, dy, f.shape, wins))
    monkeypatch.setattr(onednn, "ENABLED", False)
    want = [conv_geometry.conv_forward(np, x.astype(np.float64), f.astype(np.float64), *wins),
            conv_geometry.conv_input_grad(np, dy.astype(np.float64), f.astype(np.float64),
                                          x.shape, *wins),
            conv_geometry.conv_filter_grad(np, x.astype(np.float64), dy.astype(np.float64),
                                           f.shape, *wins)]
    monkeypatch.setattr(onednn, "ENABLED", True)
    for g, wv in zip((y_ref, *refs), want):
        _assert_close(g, wv)
    bad = []

    def work():
        for _ in range(20):
            got = (onednn.conv_forward(x, f, wins), onednn.conv_backward_data(dy, f, x.shape, wins),
                   onednn.conv_backward_weights(x, dy, f.shape, wins))
            if not all(np.array_equal(g, r) for g, r in zip(got, (y_ref, *refs))):
                bad.append(got)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad, f"{len(bad)} of 80 concurrent calls differed from the serial result"


# ----- the primitive cache ------------------------------------------------------------------
def test_primitive_cache_grows_and_evicts(calls, monkeypatch):
    """With room for 2 primitives, 5 geometries run twice each stay right, and the cache
    never holds more than 2."""
    prims = {}
    monkeypatch.setitem(onednn._get(), "prims", prims)
    monkeypatch.setattr(onednn, "_MAX_PRIMITIVES", 2)
    rng = _rng(13)
    geometries = [((2, 7, 7, 6), (3, 3, 6, 4), 1, "SAME"),
                  ((2, 8, 6, 3), (2, 2, 3, 5), 2, "VALID"),
                  ((1, 9, 9, 16), (3, 3, 16, 2), 3, "SAME"),
                  ((2, 5, 5, 20), (2, 3, 20, 1), 1, "VALID"),
                  ((3, 6, 7, 1), (3, 2, 1, 6), 2, "SAME")]
    cases = []
    for xs, fs, s, pad in geometries:
        x = rng.standard_normal(xs).astype(np.float32)
        f = rng.standard_normal(fs).astype(np.float32)
        wins = tuple(window(n, k, s, 1, pad) for n, k in zip(xs[1:3], fs[:2]))
        want = conv_geometry.conv_forward(np, x.astype(np.float64), f.astype(np.float64), *wins)
        cases.append((x, f, wins, want))
    for _ in range(2):
        for x, f, wins, want in cases:
            _assert_close(onednn.conv_forward(x, f, wins), want)
            assert 1 <= len(prims) <= 2
    assert calls["conv_forward"] == 10
    # the most recent geometry is the one kept last (keys: the geometry, then whether a
    # bias is added, wrapped with the thread count)
    last = ("conv", cases[-1][0].shape, cases[-1][1].shape, cases[-1][2])
    assert any((k[0] if isinstance(k[0], tuple) else k)[:4] == last for k in prims)


def test_cache_keys_on_the_whole_geometry(calls, monkeypatch):
    """Same shapes, different padding / dilation / stride: different primitives."""
    prims = {}
    monkeypatch.setitem(onednn._get(), "prims", prims)
    rng = _rng(14)
    x = rng.standard_normal((1, 9, 9, 6)).astype(np.float32)
    f = rng.standard_normal((3, 3, 6, 4)).astype(np.float32)
    seen = set()
    for s, d, pad in [(1, 1, "SAME"), (1, 1, "VALID"), (1, 2, "VALID"), (2, 1, "VALID")]:
        wins = tuple(window(9, 3, s, d, pad) for _ in range(2))
        want = conv_geometry.conv_forward(np, x.astype(np.float64), f.astype(np.float64), *wins)
        y = onednn.conv_forward(x, f, wins)
        _assert_close(y, want)
        seen.add(y.shape + (pad, d))
    assert len(prims) == 4 and len(seen) == 4


# ----- training -----------------------------------------------------------------------------
def _train(dtype, enabled, monkeypatch, steps=20):
    monkeypatch.setattr(onednn, "ENABLED", enabled)
    tf.reset_default_graph()
    rng = _rng(21)
    images = rng.standard_normal((8, 10, 10, 3)).astype(dtype)
    labels = np.eye(4)[rng.integers(0, 4, 8)].astype(dtype)
    w1 = tf.Variable(rng.standard_normal((3, 3, 3, 8)).astype(dtype) * 0.3)
    w2 = tf.Variable(rng.standard_normal((3, 3, 8, 8)).astype(dtype) * 0.2)
    w3 = tf.Variable(rng.standard_normal((8, 4)).astype(dtype) * 0.3)
    b3 = tf.Variable(np.zeros(4, dtype))
    h = tf.nn.relu(tf.nn.conv2d(images, w1, [1, 1, 1, 1], "SAME"))       # 10x10x8
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")              # 5x5x8
    h = tf.nn.relu(tf.nn.conv2d(h, w2, [1, 1, 1, 1], "VALID"))             # 3x3x8
    h = tf.nn.avg_pool(h, [1, 3, 3, 1], [1, 1, 1, 1], "VALID")              # 1x1x8
    logits = tf.matmul(tf.reshape(h, [8, 8]), w3) + b3
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels,
                                                                      logits=logits))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            losses.append(sess.run([loss, step])[0])
    return np.array(losses)


def test_training_a_small_conv_net_matches_numpy(calls, monkeypatch):
    on = _train(np.float32, True, monkeypatch)
    assert calls["conv_forward"] == 40 and calls["conv_backward_weights"] == 40
    assert calls["conv_backward_data"] == 20          # conv 2 (8 channels, blocked) only
    assert calls["pool_forward"] == 20 * 3 and calls["pool_backward"] == 40
    calls.clear()
    off = _train(np.float32, False, monkeypatch)
    assert not calls
    ref = _train(np.float64, False, monkeypatch)
    np.testing.assert_allclose(on, off, rtol=1e-4)
    np.testing.assert_allclose(on, ref, rtol=1e-4)
    assert on[-1] < 0.5 * on[0]
