"""LeNet-5 (LeCun et al., 1989/1998) trained TF1-style.

    python examples/lenet.py                       # the embedded digits, upscaled to 28x28
    python examples/lenet.py --data-dir ~/mnist    # MNIST, when its four IDX files are there

conv 5x5x6 SAME -> max-pool 2 -> conv 5x5x16 VALID -> max-pool 2 -> 120 -> 84 -> 10.
MNIST is read from ``--data-dir`` or ``$FLOWGRAD_DATA`` (train-images-idx3-ubyte[.gz], ...).
Without it the embedded 8x8 digits are enlarged to 28x28 (each pixel repeated 3x3, then a
2-pixel border), so the network is exactly LeNet-5's, on real handwriting, offline.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import flowgrad as tf
from flowgrad.data.digits import load_digits
from flowgrad.data.mnist import DataError, load_mnist


def lenet5(images, classes: int = 10):
    """LeNet-5 on ``[N, 28, 28, 1]`` images: logits ``[N, classes]``."""
    x = tf.layers.conv2d(images, 6, 5, padding="same", activation=tf.nn.relu, name="conv1")
    x = tf.layers.max_pooling2d(x, 2, 2, name="pool1")
    x = tf.layers.conv2d(x, 16, 5, padding="valid", activation=tf.nn.relu, name="conv2")
    x = tf.layers.max_pooling2d(x, 2, 2, name="pool2")
    x = tf.layers.flatten(x)
    x = tf.layers.dense(x, 120, activation=tf.nn.relu, name="fc1")
    x = tf.layers.dense(x, 84, activation=tf.nn.relu, name="fc2")
    return tf.layers.dense(x, classes, name="logits")


def digits_as_28x28(seed: int = 0):
    """The embedded digits, each 8x8 image enlarged 3x and framed to 28x28."""
    (xt, yt), (xv, yv) = load_digits(seed=seed)

    def grow(x):
        big = np.repeat(np.repeat(x, 3, axis=1), 3, axis=2)
        return np.pad(big, ((0, 0), (2, 2), (2, 2)))
    return (grow(xt), yt), (grow(xv), yv)


def load(data_dir: str | None, seed: int):
    if data_dir or os.environ.get("FLOWGRAD_DATA"):
        return load_mnist(data_dir), "MNIST"
    return digits_as_28x28(seed), "digits (8x8 enlarged to 28x28)"


def train(data, epochs: int = 15, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
          log=print) -> float:
    """Trains LeNet-5 with Adam; returns the test accuracy."""
    (x_train, y_train), (x_test, y_test) = data
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    images = tf.placeholder(tf.float32, (None, 28, 28), name="images")
    labels = tf.placeholder(tf.int64, (None,), name="labels")
    logits = lenet5(tf.reshape(images, [-1, 28, 28, 1]))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                         logits=logits))
    train_op = tf.train.AdamOptimizer(lr).minimize(loss)
    correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.int32))
    rng = np.random.default_rng(seed)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(len(x_train))
            losses = []
            for i in range(0, len(order) - batch_size + 1, batch_size):
                idx = order[i:i + batch_size]
                _, value = sess.run([train_op, loss], {images: x_train[idx],
                                                       labels: y_train[idx]})
                losses.append(value)
            right = sum(sess.run(correct, {images: x_test[i:i + 512],
                                           labels: y_test[i:i + 512]})
                        for i in range(0, len(x_test), 512))
            acc = right / len(x_test)
            log(f"epoch {epoch}/{epochs}  loss {np.mean(losses):.4f}  test accuracy "
                f"{acc:.2%}  ({time.perf_counter() - t0:.1f}s)")
    return acc


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        data, name = load(args.data_dir, args.seed)
    except DataError as e:
        raise SystemExit(f"lenet: {e}") from None
    print(f"LeNet-5 on {name}: {len(data[0][0])} training, {len(data[1][0])} test images")
    acc = train(data, args.epochs, args.batch_size, args.lr, args.seed)
    print(f"test accuracy {acc:.2%}")
    return acc


if __name__ == "__main__":
    main()
