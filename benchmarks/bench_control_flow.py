"""Costs of control flow and sparse updates, against hand-written numpy in the same run.

    python benchmarks/bench_control_flow.py

1. ``Session.run`` of a tiny straight-line graph (control flow must not slow it down).
2. A 100-step ``while_loop`` vs the same numpy loop.
3. One SGD step on a 100000 x 64 embedding table looked up by 128 ids: the sparse
   (IndexedSlices) update vs the dense gradient of the table's size.
"""

import time

import numpy as np

import flowgrad as tf


def _best(fn, repeat: int = 5, number: int = 200) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def tiny_graph() -> tuple[float, float]:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [4])
        y = tf.tanh(x * 2.0 + 1.0)
        sess = tf.Session(graph=g)
    v = np.ones(4, np.float32)
    sess.run(y, {x: v})
    t = _best(lambda: sess.run(y, {x: v}), number=2000)
    n = _best(lambda: np.tanh(v * np.float32(2.0) + np.float32(1.0)), number=2000)
    return t, n


def loop() -> tuple[float, float]:
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [16])
        _, y = tf.while_loop(lambda i, v: i < 100, lambda i, v: (i + 1, tf.tanh(v * 0.9)),
                             [0, x])
        sess = tf.Session(graph=g)
    v = np.ones(16, np.float32)
    sess.run(y, {x: v})

    def ref():
        a = v
        for _ in range(100):
            a = np.tanh(a * np.float32(0.9))
        return a
    return _best(lambda: sess.run(y, {x: v}), number=20), _best(ref, number=20)


def embedding_step(sparse: bool) -> float:
    g = tf.Graph()
    with g.as_default():
        table = tf.Variable(np.zeros((100000, 64), np.float32))
        ids = tf.placeholder(tf.int32, [128])
        rows = tf.nn.embedding_lookup(table, ids) if sparse else tf.gather(table, ids)
        loss = tf.reduce_sum(tf.square(rows - 1.0))
        step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        sess = tf.Session(graph=g)
        sess.run(tf.global_variables_initializer())
    feed = {ids: np.random.default_rng(0).integers(0, 100000, 128)}
    sess.run(step, feed)
    return _best(lambda: sess.run(step, feed), repeat=3, number=10)


if __name__ == "__main__":
    t, n = tiny_graph()
    print(f"tiny graph Session.run: {t * 1e6:.1f} us (numpy {n * 1e6:.1f} us, ratio {t / n:.1f})")
    t, n = loop()
    print(f"100-step while_loop: {t * 1e3:.2f} ms (numpy {n * 1e3:.2f} ms, ratio {t / n:.1f})")
    s, d = embedding_step(True), embedding_step(False)
    print(f"SGD step, 100000x64 table, 128 ids: sparse {s * 1e3:.2f} ms, dense {d * 1e3:.2f} ms "
          f"(dense/sparse {d / s:.0f}x)")
