"""embedding_lookup's sparse gradients, sparse updates, candidate samplers, sampled losses."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

IDS = np.array([[1, 4], [4, 0], [2, 2]])
SAMPLED = (np.array([0, 3, 5], np.int64), np.full((4, 1), 0.4, np.float32),
           np.array([0.5, 0.2, 0.1], np.float32))
LABELS = np.array([[1], [3], [0], [6]], np.int64)


def _sampled_values():
    return tuple(tf.constant(v) for v in SAMPLED)


def _np_logits(w, b, x, hits):
    true_logits = np.sum(x * w[LABELS[:, 0]], 1, keepdims=True) + b[LABELS]
    sampled = x @ w[SAMPLED[0]].T + b[SAMPLED[0]]
    if hits:
        sampled = np.where(LABELS == SAMPLED[0][None, :], sampled - np.finfo(np.float32).max,
                           sampled)
    true_logits = true_logits - np.log(SAMPLED[1])
    sampled = sampled - np.log(SAMPLED[2])
    return np.concatenate([true_logits, sampled], 1)


def _np_nce(w, b, x):
    z = _np_logits(w, b, x, False)
    t = np.zeros_like(z)
    t[:, 0] = 1
    return np.sum(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), 1)


def _np_sampled_softmax(w, b, x):
    z = _np_logits(w, b, x, True)
    z = z - z.max(1, keepdims=True)
    return -(z[:, 0] - np.log(np.exp(z).sum(1)))


CASES = [
    OpCase("embedding_lookup", lambda p: tf.nn.embedding_lookup(p, IDS), lambda p: p[IDS],
           [(5, 3)]),
    OpCase("embedding_lookup_twice", lambda p: tf.nn.embedding_lookup(p, [0, 2]) *
           tf.nn.embedding_lookup(p, [2, 2]), lambda p: p[[0, 2]] * p[[2, 2]], [(4, 2)]),
    OpCase("embedding_lookup_max_norm", lambda p: tf.nn.embedding_lookup(p, IDS, max_norm=1.0),
           lambda p: p[IDS] * np.minimum(1, 1 / np.linalg.norm(p[IDS], axis=-1,
                                                                keepdims=True)),
           [(5, 3)], order2=False),
    OpCase("embedding_lookup_mod_shards",
           lambda a, b: tf.nn.embedding_lookup([a, b], [[0, 1], [2, 4]]),
           lambda a, b: np.stack([a[0], b[0], a[1], a[2]]).reshape(2, 2, 3), [(3, 3), (2, 3)]),
    OpCase("nce_loss", lambda w, b, x: tf.nn.nce_loss(w, b, LABELS, x, 3, 7,
                                                      sampled_values=_sampled_values()),
           _np_nce, [(7, 3), (7,), (4, 3)], order2=False),
    OpCase("sampled_softmax_loss",
           lambda w, b, x: tf.nn.sampled_softmax_loss(w, b, LABELS, x, 3, 7,
                                                      sampled_values=_sampled_values()),
           _np_sampled_softmax, [(7, 3), (7,), (4, 3)], order2=False, rtol=1e-5),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def test_gradient_is_indexed_slices_and_sums_by_concatenation():
    emb = tf.Variable(np.arange(12.0).reshape(6, 2))
    a = tf.nn.embedding_lookup(emb, [1, 5])
    b = tf.nn.embedding_lookup(emb, [[5, 0]])
    g = tf.gradients(tf.reduce_sum(a) + 2.0 * tf.reduce_sum(b), emb)[0]
    assert isinstance(g, tf.IndexedSlices)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        vals, idx, dense = sess.run([g.values, g.indices, g])
    assert sorted(idx.tolist()) == [0, 1, 5, 5] and vals.shape == (4, 2)
    np.testing.assert_allclose(dense, [[2, 2], [1, 1], [0, 0], [0, 0], [0, 0], [3, 3]])


def test_sparse_sgd_touches_only_looked_up_rows():
    init = np.random.default_rng(0).standard_normal((1000, 8))
    emb = tf.Variable(init)
    ids = tf.placeholder(tf.int32, [None])
    loss = tf.reduce_sum(tf.square(tf.nn.embedding_lookup(emb, ids)))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step, {ids: [3, 3, 7]})
        (plan,) = [p for p in sess._plans.values() if step in p.targets]
        types = {o.type for o in plan.ops}
        out = sess.run(emb)
    # no dense gradient of the table's size anywhere in the training step
    assert "SparseApplyGradientDescent" in types and "GatherGrad" not in types
    want = init.copy()
    want[3] -= 0.1 * 2 * 2 * init[3]          # id 3 twice: gradients summed
    want[7] -= 0.1 * 2 * init[7]
    np.testing.assert_allclose(out, want, rtol=1e-12)


def test_sparse_update_rolls_back_when_the_run_fails():
    emb = tf.Variable(np.ones((5, 2)))
    loss = tf.reduce_sum(tf.nn.embedding_lookup(emb, [1, 2]))
    step = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
    with tf.control_dependencies([step]):
        bad = tf.check_numerics(tf.log(tf.constant(-1.0)), "fail after the update")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(emb)
        with pytest.raises(tf.errors.InvalidArgumentError):
            sess.run(bad)
        np.testing.assert_array_equal(sess.run(emb), before)
        sess.run(step)                   # now the session owns the array: rows in place
        before = sess.run(emb)
        with pytest.raises(tf.errors.InvalidArgumentError):
            sess.run(bad)
        np.testing.assert_array_equal(sess.run(emb), before)
        sess.run(tf.global_variables_initializer())
        held = sess.run(emb)
        sess.run(step)
        sess.run(step)
        np.testing.assert_array_equal(held, np.ones((5, 2)))   # fetches are never aliased
        assert sess.run(emb)[1, 0] == -1.0


def test_optimizer_without_sparse_rule_gets_dense_gradient():
    class PlainSGD(tf.train.Optimizer):
        def __init__(self):
            super().__init__(False, "PlainSGD")

        def _apply_dense(self, grad, var):
            return tf.assign_sub(var._ref(), grad * 0.5).op
    emb = tf.Variable(np.ones((4, 2)))
    step = PlainSGD().minimize(tf.reduce_sum(tf.nn.embedding_lookup(emb, [0, 0, 3])))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step)
        np.testing.assert_allclose(sess.run(emb)[:, 0], [0.0, 1.0, 1.0, 0.5])


def test_embedding_gradient_inside_a_loop_is_densified():
    emb = tf.Variable(np.ones((4, 2)))
    total = tf.foldl(lambda acc, i: acc + tf.reduce_sum(tf.nn.embedding_lookup(emb, i)),
                     tf.constant([0, 3, 3]), initializer=tf.constant(0.0, tf.float64))
    g = tf.gradients(total, emb)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(g)[:, 0], [1, 0, 0, 2])


def test_log_uniform_sampler_distribution_and_expected_counts():
    labels = tf.constant([[0], [7]], tf.int64)
    s, te, se = tf.nn.log_uniform_candidate_sampler(labels, 1, 20000, False, 50, seed=3)
    su, teu, seu = tf.nn.log_uniform_candidate_sampler(labels, 1, 10, True, 50, seed=3)
    with tf.Session() as sess:
        sv, tev, sev = sess.run([s, te, se])
        uv, teuv, seuv = sess.run([su, teu, seu])
    p = (np.log(np.arange(50) + 2) - np.log(np.arange(50) + 1)) / np.log(51)
    freq = np.bincount(sv, minlength=50) / len(sv)
    np.testing.assert_allclose(freq[:5], p[:5], atol=0.01)
    np.testing.assert_allclose(tev[:, 0], p[[0, 7]] * 20000, rtol=1e-5)
    np.testing.assert_allclose(sev, p[sv] * 20000, rtol=1e-5)
    assert len(set(uv.tolist())) == 10 and np.all((uv >= 0) & (uv < 50))
    assert np.all((seuv > 0) & (seuv <= 1)) and teuv.shape == (2, 1)
    with tf.Session() as sess:          # seeded: the same draws in a new session
        np.testing.assert_array_equal(sess.run(s), sv)


def test_compute_accidental_hits():
    rows, ids, w = tf.nn.compute_accidental_hits(tf.constant([[1, 2], [3, 4]], tf.int64),
                                                 tf.constant([4, 1, 9], tf.int64), 2)
    with tf.Session() as sess:
        r, i, wv = sess.run([rows, ids, w])
    assert sorted(zip(r.tolist(), i.tolist())) == [(0, 1), (1, 0)]
    assert np.all(wv == -np.finfo(np.float32).max)
