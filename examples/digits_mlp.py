"""Train a 64-128-64-10 MLP with dropout and Adam on scikit-learn's 8x8 digits, TF1-style.

    pip install -e .[train]
    python examples/digits_mlp.py [--epochs 30] [--save-dir /tmp/digits_mlp]

Prints the loss and test accuracy after every epoch, saves a checkpoint at the end (and
resumes from the latest one in --save-dir when it exists).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import flowgrad as tf


def load_digits_split(seed: int = 0):
    """1400 training and 397 test images, shuffled with a fixed seed, scaled to [0, 1]."""
    from sklearn.datasets import load_digits  # noqa: PLC0415 - optional dependency

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.RandomState(seed).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def build_model(seed: int = 0):
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    y = tf.placeholder(tf.int64, [None], name="y")
    training = tf.placeholder_with_default(False, [], name="training")
    h = tf.layers.dense(x, 128, activation=tf.nn.relu)
    h = tf.layers.dropout(h, rate=0.2, training=training)
    h = tf.layers.dense(h, 64, activation=tf.nn.relu)
    h = tf.layers.dropout(h, rate=0.2, training=training)
    logits = tf.layers.dense(h, 10)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    global_step = tf.train.get_or_create_global_step()
    train_op = tf.train.AdamOptimizer(0.003).minimize(loss, global_step=global_step)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    return dict(x=x, y=y, training=training, loss=loss, train_op=train_op, accuracy=accuracy,
                global_step=global_step)


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--save-dir", default=None, help="checkpoint directory (optional)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    (xtr, ytr), (xte, yte) = load_digits_split(args.seed)
    graph = tf.Graph()
    with graph.as_default():
        m = build_model(args.seed)
        saver = tf.train.Saver(max_to_keep=3)
        init = tf.global_variables_initializer()
    rng = np.random.RandomState(args.seed)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        if args.save_dir and tf.train.latest_checkpoint(args.save_dir):
            saver.restore(sess, tf.train.latest_checkpoint(args.save_dir))
            print(f"resumed from {tf.train.latest_checkpoint(args.save_dir)}")
        t0 = time.perf_counter()
        for epoch in range(1, args.epochs + 1):
            order = rng.permutation(len(xtr))
            losses = []
            for i in range(0, len(order), args.batch_size):
                b = order[i:i + args.batch_size]
                _, lv = sess.run([m["train_op"], m["loss"]],
                                 {m["x"]: xtr[b], m["y"]: ytr[b], m["training"]: True})
                losses.append(lv)
            acc = sess.run(m["accuracy"], {m["x"]: xte, m["y"]: yte})
            print(f"epoch {epoch:3d}  loss {np.mean(losses):.4f}  test accuracy {acc:.4f}  "
                  f"({time.perf_counter() - t0:.1f}s)")
        if args.save_dir:
            os.makedirs(args.save_dir, exist_ok=True)
            path = saver.save(sess, os.path.join(args.save_dir, "model.ckpt"),
                              global_step=m["global_step"])
            print(f"saved {path}")
        acc = float(sess.run(m["accuracy"], {m["x"]: xte, m["y"]: yte}))
    print(f"final test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
