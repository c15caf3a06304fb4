"""Run under MPI (2 ranks): one rank fails in some way; the job must end, not hang.

``python THIS_FILE crash``: rank 1 raises while rank 0 waits in an allreduce.
``python THIS_FILE exit``: rank 1 calls sys.exit(3) while rank 0 waits in an allreduce.
``python THIS_FILE mismatch``: rank 1 builds a variable of another shape.
"""

from __future__ import annotations

import sys

import numpy as np

import flowgrad as tf
import flowgrad.distributed as hvd


def wait_in_allreduce() -> None:
    g = tf.Graph()
    with g.as_default():
        total = hvd.allreduce(tf.constant([1.0]))
        with tf.Session(graph=g) as sess:
            sess.run(total)        # rank 1 never joins this one


def crash() -> None:
    if hvd.rank() == 1:
        raise RuntimeError("boom: rank 1 failed on purpose")
    wait_in_allreduce()


def exit_nonzero() -> None:
    if hvd.rank() == 1:
        sys.exit(3)
    wait_in_allreduce()


def mismatch() -> None:
    width = 4 if hvd.rank() == 0 else 5
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(tf.zeros([3, width]), name="dense_w")
    loss = tf.reduce_sum(tf.matmul(x, w))
    train = hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.1)).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: np.ones((2, 3), np.float32)})


if __name__ == "__main__":
    hvd.init()
    {"crash": crash, "exit": exit_nonzero, "mismatch": mismatch}[sys.argv[1]]()
