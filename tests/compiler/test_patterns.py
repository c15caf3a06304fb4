"""The fuse_conv_bias pass: in specialized CPU plans a Conv2D whose only reader is its
BiasAdd runs as one oneDNN convolution with the bias; results equal the unfused plan's up
to float32 rounding, and the pass leaves alone what it must not fuse."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad import compiler
from flowgrad.runtime import onednn

pytestmark = [pytest.mark.skipif(not onednn.available(), reason="oneDNN is not installed"),
              pytest.mark.usefixtures("on_cpu")]


def _net(dtype=np.float32, data_format="NHWC", fetch_conv=False, share_conv=False):
    """conv -> bias -> relu -> pool -> conv -> bias -> dense, trained by SGD."""
    rng = np.random.default_rng(0)
    dt = tf.as_dtype(dtype)
    g = tf.Graph()
    with g.as_default():
        shape = (8, 12, 12, 3) if data_format == "NHWC" else (8, 3, 12, 12)
        x = tf.placeholder(dt, shape, name="x")
        w1 = tf.Variable(rng.standard_normal((3, 3, 3, 6)).astype(dtype) * 0.3)
        b1 = tf.Variable(rng.standard_normal(6).astype(dtype))
        w2 = tf.Variable(rng.standard_normal((3, 3, 6, 4)).astype(dtype) * 0.3)
        b2 = tf.Variable(rng.standard_normal(4).astype(dtype))
        c1 = tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME", data_format=data_format)
        h = tf.nn.relu(tf.nn.bias_add(c1, b1, data_format=data_format))
        if data_format == "NHWC":
            h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        stride = [1, 2, 2, 1] if data_format == "NHWC" else [1, 1, 2, 2]
        c2 = tf.nn.conv2d(h, w2, stride, "VALID", data_format=data_format)
        h = tf.nn.bias_add(c2, b2, data_format=data_format)
        if share_conv:
            h = h + c2
        loss = tf.reduce_mean(tf.square(h))
        train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
        fetches = [train, loss] + ([c1] if fetch_conv else [])
        init = tf.global_variables_initializer()
    xs = rng.standard_normal(shape).astype(dtype)
    return g, init, fetches, {x: xs}, [w1, b1, w2, b2]


def _train(fused, steps=4, **kw):
    g, init, fetches, feed, params = _net(**kw)
    with tf.Session(graph=g, config=tf.ConfigProto(
            graph_options={"fuse_conv_bias": fused})) as sess:
        sess.run(init)
        losses = [sess.run(fetches, feed)[1] for _ in range(steps)]
        src = "\n".join(p.specialized_source or "" for p in sess._plans.values())
        return losses, sess.run(params), src


def _equal_up_to_rounding(a, b):
    for x, y in zip(a[1], b[1]):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5)


def test_conv_bias_pairs_fuse_and_train_the_same():
    on, off = _train(True), _train(False)
    assert on[2].count("# Conv2D+BiasAdd") == 2 and "# BiasAdd" not in on[2]
    assert "Conv2D+BiasAdd" not in off[2]
    _equal_up_to_rounding(on, off)
    assert on[0][-1] < on[0][0]


@pytest.mark.parametrize("case", [{"fetch_conv": True}, {"share_conv": True},
                                  {"dtype": np.float64}, {"data_format": "NCHW"}])
def test_not_fused(case):
    on, off = _train(True, **case), _train(False, **case)
    kinds = on[2].count("# Conv2D+BiasAdd")
    if case.get("fetch_conv") or case.get("share_conv"):
        assert kinds == 1            # the other pair still fuses
    else:
        assert kinds == 0
    _equal_up_to_rounding(on, off)


def test_where_onednn_declines_the_ops_own_kernels_run(monkeypatch):
    off = _train(False)
    monkeypatch.setattr(onednn, "conv_forward", lambda *a, **k: None)
    on = _train(True)
    assert "Conv2D+BiasAdd" in on[2]
    _equal_up_to_rounding(on, off)


def test_pass_switch_and_traced_runs():
    assert "fuse_conv_bias" in compiler.PASSES
    g, init, fetches, feed, _ = _net()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for _ in range(2):
            sess.run(fetches, feed)
        meta = tf.RunMetadata()
        sess.run(fetches, feed, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                 run_metadata=meta)
    names = [n.node_name for d in meta.step_stats.dev_stats for n in d.node_stats]
    assert "Conv2D" in names and "Conv2D_1" in names
