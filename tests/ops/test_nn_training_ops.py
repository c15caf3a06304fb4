"""Harness rows and semantics tests for the training-stack tf.nn ops."""

import math

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

POS = (0.5, 2.0)
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf)


def _np_softplus(x):
    return np.logaddexp(0, x)


def _np_moments(x, axes):
    return x.mean(axis=axes), x.var(axis=axes)


def _np_bn(x, m, v, o, s, eps=1e-3):
    return (x - m) / np.sqrt(v + eps) * s + o


def _np_fused(x, s, o):
    m, v = x.mean((0, 1, 2)), x.var((0, 1, 2))
    n = x.size / x.shape[-1]
    return (x - m) / np.sqrt(v + 1e-3) * s + o, m, v * n / (n - 1)


def _np_top_k(x, k):
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, idx, -1), idx.astype(np.int32)


IDS = np.array([[0, 4], [2, 2]], dtype=np.int32)

CASES = [
    OpCase("relu6", tf.nn.relu6, lambda x: np.clip(x, 0, 6), [(4, 5)], domain=(-3, 9)),
    OpCase("elu", tf.nn.elu, lambda x: np.where(x > 0, x, np.expm1(x)), [(3, 4)]),
    OpCase("selu", tf.nn.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x)),
           [(3, 4)]),
    OpCase("leaky_relu", tf.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x), [(3, 4)]),
    OpCase("leaky_relu_alpha", lambda x: tf.nn.leaky_relu(x, alpha=0.01),
           lambda x: np.where(x > 0, x, 0.01 * x), [(5,)]),
    OpCase("crelu", tf.nn.crelu, lambda x: np.concatenate([np.maximum(x, 0),
                                                           np.maximum(-x, 0)], -1), [(3, 4)]),
    OpCase("crelu_axis0", lambda x: tf.nn.crelu(x, axis=0),
           lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], 0), [(3, 4)]),
    OpCase("softplus", tf.nn.softplus, _np_softplus, [(3, 4)], domain=(-5, 5)),
    OpCase("softsign", tf.nn.softsign, lambda x: x / (1 + np.abs(x)), [(3, 4)]),
    OpCase("swish", tf.nn.swish, lambda x: x / (1 + np.exp(-x)), [(3, 4)]),
    OpCase("silu", tf.nn.silu, lambda x: x / (1 + np.exp(-x)), [(6,)]),
    OpCase("gelu", tf.nn.gelu, lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), [(3, 4)]),
    OpCase("gelu_tanh", lambda x: tf.nn.gelu(x, approximate=True),
           lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
           [(3, 4)]),
    OpCase("l2_normalize", lambda x: tf.nn.l2_normalize(x, axis=1),
           lambda x: x / np.sqrt((x * x).sum(1, keepdims=True)), [(3, 4)]),
    OpCase("l2_normalize_all", tf.nn.l2_normalize, lambda x: x / np.sqrt((x * x).sum()),
           [(2, 3)]),
    OpCase("moments", lambda x: list(tf.nn.moments(x, [0])), lambda x: list(_np_moments(x, 0)),
           [(5, 3)]),
    OpCase("moments_keep", lambda x: list(tf.nn.moments(x, [0, 2], keep_dims=True)),
           lambda x: [x.mean((0, 2), keepdims=True), x.var((0, 2), keepdims=True)],
           [(3, 2, 4)]),
    OpCase("batch_normalization",
           lambda x, m, v, o, s: tf.nn.batch_normalization(x, m, v, o, s, 1e-3),
           _np_bn, [(4, 3), (3,), (3,), (3,), (3,)],
           domain=[(-2, 2), (-1, 1), POS, (-1, 1), POS]),
    OpCase("fused_batch_norm_train",
           lambda x, s, o: list(tf.nn.fused_batch_norm(x, s, o, epsilon=1e-3)),
           _np_fused, [(2, 3, 2, 3), (3,), (3,)], domain=[(-2, 2), POS, (-1, 1)],
           dynamic=False),
    OpCase("fused_batch_norm_infer",
           lambda x, s, o, m, v: tf.nn.fused_batch_norm(x, s, o, m, v, epsilon=1e-3,
                                                        is_training=False)[0],
           lambda x, s, o, m, v: _np_bn(x, m, v, o, s), [(2, 2, 2, 3)] + [(3,)] * 4,
           domain=[(-2, 2), POS, (-1, 1), (-1, 1), POS], dynamic=False),
    OpCase("fused_batch_norm_nchw",
           lambda x, s, o: tf.nn.fused_batch_norm(x, s, o, data_format="NCHW")[0],
           lambda x, s, o: np.transpose(_np_fused(np.transpose(x, (0, 2, 3, 1)), s, o)[0],
                                        (0, 3, 1, 2)),
           [(2, 3, 2, 2), (3,), (3,)], domain=[(-2, 2), POS, (-1, 1)], dynamic=False),
    OpCase("fused_batch_norm_nchw_grads",
           lambda x, s, o: list(tf.nn.fused_batch_norm(x, s, o, data_format="NCHW")),
           lambda x, s, o: [np.transpose(_np_fused(np.transpose(x, (0, 2, 3, 1)), s, o)[0],
                                         (0, 3, 1, 2))] +
           list(_np_fused(np.transpose(x, (0, 2, 3, 1)), s, o)[1:]),
           [(2, 3, 2, 2), (3,), (3,)], domain=[(-2, 2), POS, (-1, 1)], dynamic=False),
    OpCase("fused_batch_norm_ndhwc",
           lambda x, s, o: tf.nn.fused_batch_norm(x, s, o, data_format="NDHWC")[0],
           lambda x, s, o: _np_fused(x.reshape(2, 4, 2, 3), s, o)[0].reshape(x.shape),
           [(2, 2, 2, 2, 3), (3,), (3,)], domain=[(-2, 2), POS, (-1, 1)], dynamic=False),
    OpCase("embedding_lookup", lambda p: tf.nn.embedding_lookup(p, IDS),
           lambda p: p[IDS], [(5, 3)]),
    OpCase("embedding_lookup_mod",
           lambda a, b: tf.nn.embedding_lookup([a, b], IDS),
           lambda a, b: np.stack([a[0], b[0], a[1], b[1], a[2]])[IDS], [(3, 2), (2, 2)],
           dynamic=False),
    OpCase("embedding_lookup_div",
           lambda a, b: tf.nn.embedding_lookup([a, b], IDS, partition_strategy="div"),
           lambda a, b: np.concatenate([a, b])[IDS], [(3, 2), (2, 2)]),
    OpCase("embedding_lookup_max_norm",
           lambda p: tf.nn.embedding_lookup(p, IDS, max_norm=1.0),
           lambda p: (p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1.0))[IDS],
           [(5, 3)], dynamic=False),
    OpCase("top_k", lambda x: list(tf.nn.top_k(x, 2)), lambda x: list(_np_top_k(x, 2)),
           [(3, 5)]),
    OpCase("top_k_3d", lambda x: tf.nn.top_k(x, k=3)[0], lambda x: _np_top_k(x, 3)[0],
           [(2, 2, 4)]),
    OpCase("clip_by_norm", lambda x: tf.clip_by_norm(x, 1.5),
           lambda x: x * 1.5 / max(np.linalg.norm(x), 1.5), [(3, 4)]),
    OpCase("clip_by_norm_axes", lambda x: tf.clip_by_norm(x, 1.0, axes=[1]),
           lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1.0), [(3, 4)]),
    OpCase("clip_by_average_norm", lambda x: tf.clip_by_average_norm(x, 0.2),
           lambda x: x * 0.2 / max(np.linalg.norm(x) / x.size, 0.2), [(3, 4)]),
    OpCase("clip_by_average_norm_noop", lambda x: tf.clip_by_average_norm(x, 5.0),
           lambda x: x, [(2, 2)]),
    OpCase("clip_by_global_norm", lambda a, b: tf.clip_by_global_norm([a, b], 1.0)[0],
           lambda a, b: [a / max(np.sqrt((a * a).sum() + (b * b).sum()), 1.0),
                         b / max(np.sqrt((a * a).sum() + (b * b).sum()), 1.0)],
           [(2, 3), (4,)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def _run(fetches, feed=None):
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        return s.run(fetches, feed)


def test_top_k_ties_prefer_lower_index_and_shape_errors():
    with tf.Graph().as_default():
        v, i = _run(tf.nn.top_k(tf.constant([[1.0, 3.0, 3.0, 2.0]]), k=3))
        np.testing.assert_array_equal(v, [[3, 3, 2]])
        np.testing.assert_array_equal(i, [[1, 2, 3]])
        with pytest.raises(ValueError, match="at least k=5"):
            tf.nn.top_k(tf.zeros([2, 4]), k=5)


def test_in_top_k_counts_ties_and_rejects_bad_targets():
    with tf.Graph().as_default():
        p = tf.constant([[0.1, 0.5, 0.5, 0.2], [0.9, 0.1, 0.0, 0.0], [np.nan, 1, 2, 3]],
                        dtype=tf.float32)
        got = _run(tf.nn.in_top_k(p, tf.constant([2, 1, 3]), 1))
        np.testing.assert_array_equal(got, [True, False, False])
        got = _run(tf.nn.in_top_k(p, tf.constant([3, 1, 0]), 2))
        np.testing.assert_array_equal(got, [False, True, False])
        got = _run(tf.nn.in_top_k(p, tf.constant([7, -1, 3]), 4))
        np.testing.assert_array_equal(got, [False, False, False])


def test_dropout_semantics():
    with tf.Graph().as_default():
        x = tf.ones([200, 100])
        assert tf.nn.dropout(x, keep_prob=1.0) is x
        assert tf.nn.dropout(x, rate=0.0) is x
        y = tf.nn.dropout(x, rate=0.25, seed=3)
        with pytest.raises(ValueError, match="both"):
            tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
        with pytest.raises(ValueError, match="range"):
            tf.nn.dropout(x, rate=1.0)
        g = tf.gradients(tf.reduce_sum(y * 3.0), x)[0]
        with tf.Session() as s:
            yv, gv = s.run([y, g])
            y2 = s.run(y)
        assert set(np.unique(yv)) <= {0.0, np.float32(1 / 0.75)}
        assert abs((yv == 0).mean() - 0.25) < 0.02
        np.testing.assert_allclose(gv, yv * 3.0, rtol=1e-6)    # same mask, same scale
        assert not np.array_equal(yv, y2)                      # a fresh mask per run
        assert y.shape.as_list() == [200, 100]
    # a seeded graph repeats its masks in a new session
    vals = []
    for _ in range(2):
        with tf.Graph().as_default():
            tf.set_random_seed(1)
            vals.append(_run(tf.nn.dropout(tf.ones([50]), rate=0.5, seed=2)))
    np.testing.assert_array_equal(vals[0], vals[1])


def test_dropout_noise_shape_and_tensor_keep_prob():
    with tf.Graph().as_default():
        kp = tf.placeholder(tf.float32, [])
        y = tf.nn.dropout(tf.ones([40, 6]), keep_prob=kp, noise_shape=[40, 1])
        yv = _run(y, {kp: 0.5})
        assert all(len(set(row)) == 1 for row in yv)           # whole rows kept or dropped
        np.testing.assert_array_equal(_run(y, {kp: 1.0}), np.ones([40, 6]))


def test_cross_entropies_are_exact_for_huge_float32_logits():
    with tf.Graph().as_default():
        logits = tf.constant([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=tf.float32)
        onehot = tf.constant([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
        dense = tf.nn.softmax_cross_entropy_with_logits_v2(labels=onehot, logits=logits)
        sparse = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([1, 0]),
                                                                logits=logits)
        z = tf.constant([-1e4, 1e4, 0.0])
        sig = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.constant([1.0, 1.0, 0.0]),
                                                      logits=z)
        grads = tf.gradients(tf.reduce_sum(dense) + tf.reduce_sum(sparse), logits)[0]
        gz = tf.gradients(tf.reduce_sum(sig), z)[0]
        d, s, g, sg, gzv = _run([dense, sparse, grads, sig, gz])
        # log(2) in float32 only for the tie in row 2
        np.testing.assert_array_equal(d, np.float32([2e4, 2e4 + np.float32(np.log(2.0))]))
        np.testing.assert_array_equal(s, d)
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g, 2 * np.float32([[1, -1, 0], [-1, 0.5, 0.5]]))
        np.testing.assert_allclose(sg, [1e4, 0.0, np.log(2.0)], rtol=1e-7)
        np.testing.assert_allclose(gzv, [-1.0, 0.0, 0.5])


def test_fused_batch_norm_inference_returns_given_stats_and_checks_format():
    with tf.Graph().as_default():
        x = tf.ones([1, 2, 2, 3])
        y, m, v = tf.nn.fused_batch_norm(x, tf.ones([3]), tf.zeros([3]), tf.ones([3]),
                                         tf.ones([3]) * 4.0, is_training=False)
        yv, mv, vv = _run([y, m, v])
        np.testing.assert_allclose(yv, 0.0, atol=1e-7)
        np.testing.assert_array_equal(vv, [4, 4, 4])
        with pytest.raises(ValueError, match="data_format"):
            tf.nn.fused_batch_norm(x, tf.ones([3]), tf.zeros([3]), data_format="NWHC")


def test_fused_batch_norm_training_is_one_op_each_way():
    with tf.Graph().as_default() as g:
        x = tf.constant(np.arange(24, dtype=np.float32).reshape(2, 2, 2, 3))
        y, m, v = tf.nn.fused_batch_norm(x, tf.ones([3]), tf.zeros([3]))
        dx = tf.gradients(tf.reduce_sum(y * y), x)[0]
        types = [o.type for o in g.get_operations()]
        assert types.count("FusedBatchNormV3") == 1 and "FusedBatchNormGradV3" in types
        assert "SquaredDifference" not in types
        yv, mv, vv, dxv = _run([y, m, v, dx])
    xs = np.arange(24, dtype=np.float64).reshape(-1, 3)
    np.testing.assert_allclose(mv, xs.mean(0))
    np.testing.assert_allclose(vv, xs.var(0, ddof=1), rtol=1e-6)
    # sum(y^2) = n per channel whatever x is (up to epsilon): its gradient is ~0
    np.testing.assert_allclose(dxv, 0.0, atol=1e-4)


def test_fused_batch_norm_grad_op_checks_shapes():
    from flowgrad.ops import nn_ops

    with tf.Graph().as_default():
        x = tf.zeros([2, 2, 2, 3])
        with pytest.raises(ValueError, match="channels"):
            nn_ops._fused_bn(x, tf.ones([4]), tf.zeros([3]), epsilon=1e-3)
        with pytest.raises(ValueError, match="same shape"):
            nn_ops._fused_bn_grad(tf.zeros([2, 2, 2, 4]), x, tf.ones([3]), tf.ones([3]),
                                  tf.ones([3]), epsilon=1e-3)


def test_clip_by_global_norm_returns_norm_and_keeps_none():
    with tf.Graph().as_default():
        a, b = tf.constant([3.0, 0.0]), tf.constant([[4.0]])
        (ca, none, cb), norm = tf.clip_by_global_norm([a, None, b], 2.5)
        assert none is None
        va, vb, n = _run([ca, cb, norm])
        assert n == 5.0
        np.testing.assert_allclose(va, [1.5, 0.0])
        np.testing.assert_allclose(vb, [[2.0]])
        zero = tf.clip_by_norm(tf.zeros([3]), 1.0)
        gz = tf.gradients(tf.reduce_sum(zero), zero.op.inputs[0])
        assert np.isfinite(_run(zero)).all()
        assert gz[0] is None or np.isfinite(_run(gz[0])).all()
