"""tf.losses: values, TF1 weights and reductions, collections."""

import numpy as np
import pytest

import flowgrad as tf

L = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
P = np.array([[1.5, 2.0], [2.0, 6.0]], dtype=np.float32)


def _eval(t):
    with tf.Session() as s:
        return s.run(t)


@pytest.mark.parametrize("reduction,weights,want", [
    # squared errors: [[0.25, 0], [1, 4]]
    (tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS, 1.0, 5.25 / 4),
    (tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS, [[2.0], [0.0]], 0.5 / 2),
    (tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS, [[1.0, 0.0], [2.0, 0.0]], 2.25 / 2),
    (tf.losses.Reduction.SUM, [[2.0], [1.0]], 0.5 + 5.0),
    (tf.losses.Reduction.MEAN, [[2.0], [1.0]], 5.5 / 6),
    (tf.losses.Reduction.SUM_OVER_BATCH_SIZE, 2.0, 10.5 / 4),
    (tf.losses.Reduction.NONE, [[1.0], [2.0]], [[0.25, 0.0], [2.0, 8.0]]),
    (tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS, 0.0, 0.0),
])
def test_mean_squared_error_weights_and_reductions(reduction, weights, want):
    with tf.Graph().as_default():
        loss = tf.losses.mean_squared_error(L, P, weights=weights, reduction=reduction)
        np.testing.assert_allclose(_eval(loss), want, rtol=1e-6)
        assert tf.losses.get_losses() == [loss]


def test_regression_and_classification_losses():
    with tf.Graph().as_default():
        ad = tf.losses.absolute_difference(L, P)
        hub = tf.losses.huber_loss([0.0, 0.0, 0.0], [0.5, -3.0, 1.0], delta=1.0)
        ll = tf.losses.log_loss([1.0, 0.0], [0.9, 0.2])
        hinge = tf.losses.hinge_loss([1.0, 0.0, 1.0], [0.3, -2.0, 2.0])
        logits = tf.constant([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
        onehot = tf.constant([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        sce = tf.losses.softmax_cross_entropy(onehot, logits)
        sce_ls = tf.losses.softmax_cross_entropy(onehot, logits, label_smoothing=0.3)
        sparse = tf.losses.sparse_softmax_cross_entropy([0, 2], logits, weights=[1.0, 3.0])
        sparse_col = tf.losses.sparse_softmax_cross_entropy([[0], [2]], logits)
        sig = tf.losses.sigmoid_cross_entropy([[1.0, 0.0]], [[0.5, -1.0]],
                                              label_smoothing=0.2)
        got = _eval([ad, hub, ll, hinge, sce, sce_ls, sparse, sparse_col, sig])
    lv = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    lsm = lv - np.log(np.exp(lv).sum(1, keepdims=True))
    smooth = np.array([[1, 0, 0], [0, 0, 1]]) * 0.7 + 0.1
    z = np.array([[0.9, 0.1]])       # smoothed sigmoid labels
    x = np.array([[0.5, -1.0]])
    want = [(0.5 + 0 + 1 + 2) / 4,
            (0.125 + 2.5 + 0.5) / 3,
            -(np.log(0.9 + 1e-7) + np.log(0.8 + 1e-7)) / 2,
            (0.7 + 0.0 + 0.0) / 3,
            -(lsm[0, 0] + lsm[1, 2]) / 2,
            -(smooth * lsm).sum() / 2,
            -(lsm[0, 0] + 3 * lsm[1, 2]) / 2,
            -(lsm[0, 0] + lsm[1, 2]) / 2,
            (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).mean()]
    np.testing.assert_allclose(got, want, rtol=2e-6)


def test_cosine_distance_and_pairwise():
    with tf.Graph().as_default():
        a = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
        b = np.array([[0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
        cd = tf.losses.cosine_distance(a, b, axis=1)
        mp = tf.losses.mean_pairwise_squared_error([[0.0, 1.0, 3.0]], [[0.0, 2.0, 2.0]])
        np.testing.assert_allclose(_eval([cd, mp]), [0.5, 2.0], rtol=1e-6)


def test_collections_and_total_loss():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="No losses"):
            tf.losses.get_total_loss()
        assert _eval(tf.losses.get_regularization_loss()) == 0.0
        w = tf.get_variable("w", initializer=tf.constant([1.0, -2.0]),
                            regularizer=tf.contrib.layers.l2_regularizer(0.5))
        tf.losses.mean_squared_error([0.0, 0.0], w)
        tf.losses.absolute_difference([0.0, 0.0], w, loss_collection=None)
        assert len(tf.losses.get_losses()) == 1
        assert len(tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)) == 1
        total = tf.losses.get_total_loss()
        no_reg = tf.losses.get_total_loss(add_regularization_losses=False)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            np.testing.assert_allclose(s.run([total, no_reg]), [2.5 + 1.25, 2.5])


def test_loss_argument_errors():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="incompatible"):
            tf.losses.mean_squared_error(tf.zeros([2, 3]), tf.zeros([3, 2]))
        with pytest.raises(ValueError, match="broadcast"):
            tf.losses.mean_squared_error(tf.zeros([2, 3]), tf.zeros([2, 3]),
                                         weights=tf.ones([2, 2]))
        with pytest.raises(ValueError, match="Invalid Reduction"):
            tf.losses.mean_squared_error([1.0], [1.0], reduction="bogus")
        with pytest.raises(ValueError, match="labels must not be None"):
            tf.losses.log_loss(None, [0.5])
