"""``ConfigProto(intra_op_parallelism_threads=n)``: a session's runs execute oneDNN's
primitives on ``n`` OpenMP threads, restore the calling thread's setting afterwards, and
compute the same values as a session with the default threads."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.runtime import onednn

pytestmark = pytest.mark.skipif(not onednn.available() or onednn._get()["omp"] is None,
                                reason="oneDNN (with GNU OpenMP) is not installed")


def _graph():
    rng = np.random.default_rng(0)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (8, 12, 12, 3))
        w = tf.Variable(rng.standard_normal((3, 3, 3, 8)).astype(np.float32))
        y = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")),
                           [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
        loss = tf.reduce_sum(y * y)
        dw = tf.gradients(loss, w)[0]
    return g, x, w, [y, dw], rng.standard_normal((8, 12, 12, 3)).astype(np.float32)


def test_intra_op_threads_apply_inside_runs_and_are_restored(monkeypatch):
    get = onednn._get()["omp"][0]
    seen = []
    real = onednn.conv_forward
    monkeypatch.setattr(onednn, "conv_forward",
                        lambda *a, **k: seen.append(get()) or real(*a, **k))
    outside = get()
    g, x, w, fetches, xs = _graph()
    config = tf.ConfigProto(intra_op_parallelism_threads=1)
    with tf.Session(graph=g, config=config) as sess:
        sess.run(w.initializer)
        one = sess.run(fetches, {x: xs})
        call = sess.make_callable(fetches, [x])
        call(xs)
    assert seen and set(seen) == {1}
    assert get() == outside
    seen.clear()
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        default = sess.run(fetches, {x: xs})
    assert seen == [outside]
    for a, b in zip(one, default):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


def test_threads_context_restores_after_an_error():
    get = onednn._get()["omp"][0]
    before = get()
    with pytest.raises(ValueError), onednn.threads(1):
        assert get() == 1
        raise ValueError("inside")
    assert get() == before
