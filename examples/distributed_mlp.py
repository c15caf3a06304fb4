"""Data-parallel training of an MLP with flowgrad.distributed (Horovod's API).

    python -m flowgrad.distributed.run -n 2 examples/distributed_mlp.py --steps 200

Each rank trains on its own shard of a synthetic classification set; gradients are
averaged over the ranks before every update, so the replicas stay equal.  Rank 0 alone
prints progress (and would write checkpoints and TensorBoard logs).
"""

from __future__ import annotations

import argparse

import numpy as np

import flowgrad as tf
import flowgrad.distributed as hvd


def synthetic(n: int, features: int, classes: int, seed: int = 0):
    """Labels from a fixed random linear teacher, so the task is learnable."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    teacher = rng.standard_normal((features, classes))
    return x, np.argmax(x @ teacher, axis=1).astype(np.int32)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=32, help="per rank")
    p.add_argument("--lr", type=float, default=0.05, help="for one rank; scaled by size()")
    args = p.parse_args()

    hvd.init()
    x_all, y_all = synthetic(4096, 20, 5)
    x_train, y_train = hvd.shard((x_all, y_all), hvd.rank(), hvd.size(), drop_remainder=True)

    tf.set_random_seed(hvd.rank())          # differently initialised ranks ...
    x = tf.placeholder(tf.float32, [None, 20])
    y = tf.placeholder(tf.int32, [None])
    w1 = tf.Variable(tf.random_normal([20, 64], stddev=0.2))
    b1 = tf.Variable(tf.zeros([64]))
    w2 = tf.Variable(tf.random_normal([64, 5], stddev=0.2))
    b2 = tf.Variable(tf.zeros([5]))
    logits = tf.matmul(tf.nn.relu(tf.matmul(x, w1) + b1), w2) + b2
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                         logits=logits))
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), y),
                                      tf.float32))
    mean_accuracy = hvd.allreduce(accuracy)  # a metric averaged over the ranks

    opt = tf.train.GradientDescentOptimizer(args.lr * hvd.size())   # larger global batch
    train = hvd.DistributedOptimizer(opt).minimize(loss)

    rng = np.random.default_rng(1000 + hvd.rank())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        hvd.broadcast_variables(sess, root_rank=0)     # ... start from rank 0's weights
        for step in range(1, args.steps + 1):
            idx = rng.integers(0, len(x_train), args.batch)
            _, acc = sess.run([train, mean_accuracy], {x: x_train[idx], y: y_train[idx]})
            if hvd.rank() == 0 and (step % 50 == 0 or step == args.steps):
                print(f"step {step:4d}  accuracy over {hvd.size()} ranks: {acc:.3f}",
                      flush=True)


if __name__ == "__main__":
    main()
