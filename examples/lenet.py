"""LeNet-5 (conv 5x5x6 SAME, pool, conv 5x5x16 VALID, pool, 120, 84, 10), TF1 style.

    python examples/lenet.py [--data-dir DIR] [--epochs 10]

Trains on MNIST when its IDX files are in --data-dir or $FLOWGRAD_DATA; otherwise on the
scikit-learn digits, each 8x8 image upsampled 3x (nearest) to 24x24 and zero-padded to
28x28, so the network is exactly LeNet-5 with MNIST's input size (an 8x8 input would not
survive two 2x2 pools and a 5x5 VALID convolution).
"""

import argparse

import numpy as np

import flowgrad as tf
from flowgrad.data.digits import load_digits
from flowgrad.data.mnist import DataError, load_mnist


def load(data_dir):
    try:
        (xtr, ytr), (xte, yte) = load_mnist(data_dir)
        return "MNIST", (xtr, ytr), (xte, yte)
    except DataError:
        (xtr, ytr), (xte, yte) = load_digits()
        up = lambda x: np.pad(np.kron(x, np.ones((3, 3), np.float32)),  # noqa: E731
                              ((0, 0), (2, 2), (2, 2)))
        return "digits (8x8 -> 28x28)", (up(xtr), ytr), (up(xte), yte)


def lenet(x):
    h = tf.layers.conv2d(x, 6, 5, padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.conv2d(h, 16, 5, padding="valid", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.reshape(h, [-1, 5 * 5 * 16])
    h = tf.layers.dense(h, 120, activation=tf.nn.relu)
    h = tf.layers.dense(h, 84, activation=tf.nn.relu)
    return tf.layers.dense(h, 10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    name, (xtr, ytr), (xte, yte) = load(args.data_dir)
    xtr, xte = xtr[..., None], xte[..., None]
    print(f"{name}: {len(xtr)} training, {len(xte)} test images")
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, (None, 28, 28, 1))
    y = tf.placeholder(tf.int64, (None,))
    logits = lenet(x)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                       logits=logits))
    train = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss)
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    rng = np.random.default_rng(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(args.epochs):
            order = rng.permutation(len(xtr))
            for i in range(0, len(xtr), args.batch):
                b = order[i:i + args.batch]
                sess.run(train, {x: xtr[b], y: ytr[b]})
            hits = sum(sess.run(correct, {x: xte[i:i + 1000], y: yte[i:i + 1000]})
                       for i in range(0, len(xte), 1000))
            print(f"epoch {epoch + 1}: test accuracy {hits / len(xte):.4f}")


if __name__ == "__main__":
    main()
