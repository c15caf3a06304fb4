"""End to end: a TF1-style MLP (64-128-64-10, dropout, Adam) on scikit-learn's digits."""

import numpy as np
import pytest

import flowgrad as tf

pytest.importorskip("sklearn")


def test_mlp_with_dropout_and_adam_reaches_97_percent_on_digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    order = np.random.RandomState(0).permutation(len(d.data))
    x_all = (d.data[order] / 16.0).astype(np.float32)
    y_all = d.target[order].astype(np.int64)
    xtr, ytr, xte, yte = x_all[:1400], y_all[:1400], x_all[1400:], y_all[1400:]
    assert len(xte) == 397

    with tf.Graph().as_default():
        tf.set_random_seed(0)
        x = tf.placeholder(tf.float32, [None, 64])
        y = tf.placeholder(tf.int64, [None])
        training = tf.placeholder_with_default(False, [])
        h = tf.layers.dense(x, 128, activation=tf.nn.relu)
        h = tf.layers.dropout(h, rate=0.2, training=training)
        h = tf.layers.dense(h, 64, activation=tf.nn.relu)
        h = tf.layers.dropout(h, rate=0.2, training=training)
        logits = tf.layers.dense(h, 10)
        loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
        train = tf.train.AdamOptimizer(0.003).minimize(
            loss, global_step=tf.train.get_or_create_global_step())
        correct = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32))
        rng = np.random.RandomState(0)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            first = s.run(loss, {x: xtr, y: ytr})
            for _ in range(12):
                perm = rng.permutation(1400)
                for i in range(0, 1400, 32):
                    b = perm[i:i + 32]
                    s.run(train, {x: xtr[b], y: ytr[b], training: True})
            acc = s.run(correct, {x: xte, y: yte})
            last = s.run(loss, {x: xtr, y: ytr})
    assert last < first / 10
    print(f"test accuracy {acc:.4f}")
    assert acc >= 0.97, f"test accuracy {acc:.4f}"
