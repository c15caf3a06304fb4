"""CUDA-graph replay of whole training steps (pass ``cuda_graphs``) against the same steps
run kernel by kernel: same losses, same variables, a replay really recorded.  Needs CuPy
and a CUDA device; skipped elsewhere."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.runtime import backend

pytestmark = pytest.mark.skipif(not backend.gpu_available(), reason="needs CuPy and a GPU")

STEPS = 8


def _mlp():
    x = tf.placeholder(tf.float32, (None, 12))
    y = tf.placeholder(tf.int32, (None,))
    w1 = tf.Variable(tf.random_normal([12, 16], stddev=0.3, seed=1))
    b1 = tf.Variable(tf.zeros([16]))
    w2 = tf.Variable(tf.random_normal([16, 5], stddev=0.3, seed=2))
    h = tf.nn.relu(tf.matmul(x, w1) + b1)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=y, logits=tf.matmul(h, w2)))
    return x, y, loss, [w1, b1, w2], (lambda r: r.standard_normal((6, 12)))


def _convnet():
    x = tf.placeholder(tf.float32, (None, 12, 12, 3))
    y = tf.placeholder(tf.int32, (None,))
    w1 = tf.Variable(tf.random_normal([3, 3, 3, 4], stddev=0.3, seed=1))
    w2 = tf.Variable(tf.random_normal([3 * 3 * 4, 5], stddev=0.3, seed=2))
    h = tf.nn.relu(tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME"))
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    h = tf.nn.avg_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=y, logits=tf.matmul(tf.reshape(h, [-1, 3 * 3 * 4]), w2)))
    return x, y, loss, [w1, w2], (lambda r: r.standard_normal((4, 12, 12, 3)))


def _bnnet():
    """Batch norm in training with its running statistics (AssignSub updates)."""
    x = tf.placeholder(tf.float32, (None, 8, 8, 3))
    y = tf.placeholder(tf.int32, (None,))
    w1 = tf.Variable(tf.random_normal([3, 3, 3, 8], stddev=0.3, seed=1))
    w2 = tf.Variable(tf.random_normal([8, 5], stddev=0.3, seed=2))
    h = tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME")
    h = tf.nn.relu(tf.layers.batch_normalization(h, training=True, fused=True))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=y, logits=tf.matmul(tf.reduce_mean(h, axis=[1, 2]), w2)))
    stats = [v for v in tf.global_variables() if "moving" in v.op.name]
    assert len(stats) == 2
    return x, y, loss, [w1, w2] + stats, (lambda r: r.standard_normal((4, 8, 8, 3)))


def _train(model, graphs: bool, reassign: bool = False):
    from flowgrad.runtime import cuda
    rng = np.random.default_rng(0)
    before = cuda.replay_stats["recorded"]
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        x, y, loss, variables, batch = model()
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        reset = tf.assign(variables[0], variables[0] * 0.5)
        cfg = tf.ConfigProto(device_count={"GPU": 1}, graph_options={"cuda_graphs": graphs})
        with tf.Session(config=cfg) as sess:
            sess.run(tf.global_variables_initializer())
            losses = []
            for i in range(STEPS):
                xv = batch(rng).astype(np.float32)
                yv = rng.integers(0, 5, len(xv)).astype(np.int32)
                losses.append(sess.run([loss, step], {x: xv, y: yv})[0])
                if reassign and i == STEPS // 2:
                    sess.run(reset)
            return losses, sess.run(variables), cuda.replay_stats["recorded"] - before


@pytest.mark.parametrize("model", [_mlp, _convnet, _bnnet], ids=["mlp", "convnet", "bn"])
@pytest.mark.parametrize("reassign", [False, True], ids=["", "reassigned"])
def test_replayed_steps_match_kernel_by_kernel(model, reassign):
    from flowgrad.runtime import cuda
    got, got_vars, recorded = _train(model, True, reassign)
    want, want_vars, none = _train(model, False, reassign)
    assert none == 0 and recorded >= 1, cuda.replay_stats
    assert len(set(np.asarray(got).tolist())) == STEPS     # each fetch is its own value
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    for g, w in zip(got_vars, want_vars):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
