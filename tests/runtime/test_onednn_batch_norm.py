"""Batch normalization through oneDNN: FusedBatchNormV3 (training, with and without a
moving-average factor, and inference) and FusedBatchNormGradV3 in float32 channels-last
layouts equal the numpy kernels in float64; NCHW, float64 and float16 stay on numpy."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.runtime import onednn

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN is not installed")


@pytest.fixture
def calls(monkeypatch):
    """Counts the oneDNN batch-norm calls by kind."""
    seen = {"fwd": 0, "bwd": 0}
    fwd, bwd = onednn.batch_norm, onednn.batch_norm_backward

    def count_fwd(*a, **k):
        seen["fwd"] += 1
        return fwd(*a, **k)

    def count_bwd(*a, **k):
        seen["bwd"] += 1
        return bwd(*a, **k)
    monkeypatch.setattr(onednn, "batch_norm", count_fwd)
    monkeypatch.setattr(onednn, "batch_norm_backward", count_bwd)
    return seen


def _run(x, dy, training, factor, fmt, dtype, enabled, monkeypatch):
    """(y, batch_mean, batch_var, dx, dscale, doffset) of one fused batch norm."""
    monkeypatch.setattr(onednn, "ENABLED", enabled)
    c = x.shape[1] if fmt.startswith("NC") else x.shape[-1]
    rng = np.random.default_rng(3)
    scale = (rng.random(c) + 0.5).astype(np.float32)
    offset = rng.standard_normal(c).astype(np.float32)
    mean = rng.standard_normal(c).astype(np.float32) * 0.1
    var = (rng.random(c) + 0.5).astype(np.float32)
    pdt = np.float32 if dtype != np.float64 else np.float64
    g = tf.Graph()
    with g.as_default():
        xt = tf.placeholder(tf.as_dtype(dtype), x.shape)
        dyt = tf.placeholder(tf.as_dtype(dtype), x.shape)
        st, ot = tf.constant(scale.astype(pdt)), tf.constant(offset.astype(pdt))
        if training and factor == 1.0:
            mt = vt = tf.constant(np.zeros(0, pdt))           # TF1's empty statistics
        else:
            mt, vt = tf.constant(mean.astype(pdt)), tf.constant(var.astype(pdt))
        y, bm, bv = tf.nn.fused_batch_norm(xt, st, ot, mt, vt, epsilon=1e-3, data_format=fmt,
                                           is_training=training,
                                           exponential_avg_factor=factor)[:3]
        dx, ds, do = tf.gradients(y, [xt, st, ot], dyt)
    with tf.Session(graph=g) as sess:
        return sess.run([y, bm, bv, dx, ds, do], {xt: x.astype(dtype), dyt: dy.astype(dtype)})


CASES = [((4, 6, 5, 16), "NHWC"), ((3, 4, 5, 6, 8), "NDHWC"), ((64, 1, 1, 12), "NHWC"),
         ((2, 3, 7, 9), "NHWC")]


@pytest.mark.parametrize("training,factor", [(True, 1.0), (True, 0.3), (False, 1.0)])
@pytest.mark.parametrize("shape,fmt", CASES)
def test_float32_equals_the_float64_numpy_kernels(monkeypatch, calls, shape, fmt, training,
                                                   factor):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 2 + 0.5
    dy = rng.standard_normal(shape)
    got = _run(x, dy, training, factor, fmt, np.float32, True, monkeypatch)
    assert calls == {"fwd": 1, "bwd": 1}
    want = _run(x, dy, training, factor, fmt, np.float64, False, monkeypatch)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(w).max()))


@pytest.mark.parametrize("fmt,dtype", [("NCHW", np.float32), ("NHWC", np.float64),
                                       ("NHWC", np.float16)])
def test_other_layouts_and_dtypes_stay_on_numpy(monkeypatch, calls, fmt, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 3, 5))
    out = _run(x, np.ones_like(x), True, 1.0, fmt, dtype, True, monkeypatch)
    assert calls == {"fwd": 0, "bwd": 0}
    assert np.isfinite(out[0]).all()


def test_batch_norm_layers_train_the_same_with_and_without_onednn(monkeypatch):
    """tf.layers.batch_normalization (moving averages by update ops) in a short training run:
    losses and moving statistics agree with oneDNN on and off."""
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((16, 6, 6, 3)).astype(np.float32)
    ys = rng.integers(0, 4, 16)

    def train(enabled):
        monkeypatch.setattr(onednn, "ENABLED", enabled)
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(0)
            x = tf.placeholder(tf.float32, xs.shape)
            h = tf.layers.conv2d(x, 8, 3, padding="same")
            h = tf.nn.relu(tf.layers.batch_normalization(h, training=True, fused=True))
            logits = tf.layers.dense(tf.reduce_mean(h, [1, 2]), 4)
            loss = tf.losses.sparse_softmax_cross_entropy(ys, logits)
            with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
                step = tf.train.GradientDescentOptimizer(0.2).minimize(loss)
            moving = [v for v in tf.global_variables() if "moving" in v.name]
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                losses = [sess.run([step, loss], {x: xs})[1] for _ in range(10)]
                return losses, sess.run(moving)
    on, off = train(True), train(False)
    np.testing.assert_allclose(on[0], off[0], rtol=1e-4)
    assert on[0][-1] < on[0][0]
    for a, b in zip(on[1], off[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
