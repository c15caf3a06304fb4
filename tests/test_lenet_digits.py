"""A LeNet-style CNN trained TF1-style on the embedded digits reaches >= 98% test accuracy.

One image of the 359 held out is 0.28 %; over initialisation/shuffle seeds 0-4 this
training ends at 97.8-98.9 % (seed 1: 98.3 % from epoch 30 on), and a change of float
summation order in a kernel moves a given seed by an image or two.
"""

import numpy as np
import pytest

import flowgrad as tf

pytest.importorskip("sklearn")
from flowgrad.data.digits import load_digits  # noqa: E402


def _lenet_style(images, training):
    h = tf.reshape(images, [-1, 8, 8, 1])
    h = tf.layers.conv2d(h, 32, 3, padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.conv2d(h, 64, 3, padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.flatten(h)
    h = tf.layers.dense(h, 256, activation=tf.nn.relu)
    h = tf.layers.dropout(h, 0.25, training=training)
    return tf.layers.dense(h, 10)


def test_lenet_style_cnn_on_digits_reaches_98_percent():
    from threadpoolctl import threadpool_limits
    (xt, yt), (xv, yv) = load_digits(seed=0)
    tf.set_random_seed(1)
    x = tf.placeholder(tf.float32, (None, 8, 8))
    y = tf.placeholder(tf.int64, (None,))
    training = tf.placeholder_with_default(False, ())
    logits = _lenet_style(x, training)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                         logits=logits))
    batch = 32
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(3e-3, step, (len(xt) + batch - 1) // batch, 0.9,
                                    staircase=True)
    train = tf.train.AdamOptimizer(lr).minimize(loss, global_step=step)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    rng = np.random.default_rng(1)
    with threadpool_limits(1), tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(40):
            order = rng.permutation(len(xt))
            for i in range(0, len(order), batch):
                imgs = np.pad(xt[order[i:i + batch]], ((0, 0), (1, 1), (1, 1)))
                dx, dy = rng.integers(0, 3, 2)          # shift by up to one pixel
                sess.run(train, {x: imgs[:, dy:dy + 8, dx:dx + 8], y: yt[order[i:i + batch]],
                                 training: True})
        acc = sess.run(accuracy, {x: xv, y: yv})
        last = sess.run(loss, {x: xt, y: yt})
    assert last < 0.05            # from ln(10) = 2.3 at the start
    assert acc >= 0.98, f"test accuracy {acc:.4f}"
