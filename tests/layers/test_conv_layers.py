"""Convolution layers: TF1 variable names, and a small CNN trained TF1-style on the
scikit-learn digits (8x8) to >= 98% test accuracy."""

import numpy as np

import flowgrad as tf


def test_conv_layer_variable_names_and_shapes():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (None, 28, 28, 1))
        h = tf.layers.conv2d(x, 6, 5, padding="same", activation=tf.nn.relu)
        h = tf.layers.max_pooling2d(h, 2, 2)
        h = tf.layers.conv2d(h, 16, 5)
        assert h.shape.as_list() == [None, 10, 10, 16]
        assert [v.name for v in tf.trainable_variables()] == [
            "conv2d/kernel:0", "conv2d/bias:0", "conv2d_1/kernel:0", "conv2d_1/bias:0"]


def test_cnn_on_digits_reaches_98_percent():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    x, y = x[perm], y[perm]
    xtr, ytr, xte, yte = x[:1500], y[:1500], x[1500:], y[1500:]
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        xs = tf.placeholder(tf.float32, (None, 8, 8, 1))
        ys = tf.placeholder(tf.int64, (None,))
        h = tf.layers.conv2d(xs, 16, 3, padding="same", activation=tf.nn.relu)
        h = tf.layers.max_pooling2d(h, 2, 2)
        h = tf.layers.conv2d(h, 32, 3, padding="same", activation=tf.nn.relu)
        h = tf.layers.max_pooling2d(h, 2, 2)
        h = tf.reshape(h, [-1, 2 * 2 * 32])
        h = tf.layers.dense(h, 64, activation=tf.nn.relu)
        logits = tf.layers.dense(h, 10)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ys,
                                                                           logits=logits))
        train = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss)
        acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), ys), tf.float32))
        rng = np.random.default_rng(1)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            for _ in range(30):
                order = rng.permutation(len(xtr))
                for i in range(0, len(xtr), 50):
                    b = order[i:i + 50]
                    s.run(train, {xs: xtr[b], ys: ytr[b]})
            test_acc = s.run(acc, {xs: xte, ys: yte})
    assert test_acc >= 0.98, test_acc
