"""Session overhead of the linear-algebra and array ops against hand-written numpy.

    python benchmarks/bench_linalg_array_ops.py [--repeat 200]

For each op: the median time of ``sess.run`` (forward only, and forward + gradient where
the op has one) next to the median time of the same computation written directly in numpy,
and their ratio. Also times a meta-graph export + import of a small training graph.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flowgrad as tf  # noqa: E402


def _median(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cases(rng):
    a = rng.standard_normal((64, 64)) + 8 * np.eye(64)
    b = rng.standard_normal((64, 16))
    x3 = rng.standard_normal((32, 48, 24))
    y3 = rng.standard_normal((32, 24, 40))
    data = rng.standard_normal((10000, 32))
    ids = np.sort(rng.integers(0, 500, 10000))
    uids = rng.integers(0, 500, 10000)
    spd = a @ a.T
    return [
        ("matrix_inverse 64x64", [a], lambda p: tf.matrix_inverse(p[0]),
         lambda: np.linalg.inv(a)),
        ("matrix_solve 64x64 @ 64x16", [a, b], lambda p: tf.matrix_solve(p[0], p[1]),
         lambda: np.linalg.solve(a, b)),
        ("cholesky 64x64", [spd], lambda p: tf.cholesky(p[0]), lambda: np.linalg.cholesky(spd)),
        ("einsum bij,bjk->bik", [x3, y3], lambda p: tf.einsum("bij,bjk->bik", p[0], p[1]),
         lambda: np.einsum("bij,bjk->bik", x3, y3)),
        ("segment_sum 10000x32 -> 500", [data],
         lambda p: tf.segment_sum(p[0], tf.constant(ids)),
         lambda: np.add.reduceat(data, np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]))),
        ("unsorted_segment_sum 10000x32 -> 500", [data],
         lambda p: tf.unsorted_segment_sum(p[0], tf.constant(uids), 500),
         lambda: _np_unsorted(data, uids, 500)),
    ]


def _np_unsorted(data, ids, n):
    out = np.zeros((n,) + data.shape[1:])
    np.add.at(out, ids, data)
    return out


def _meta_graph_roundtrip() -> tuple[float, float, int]:
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 64], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        h = tf.nn.relu(tf.matmul(x, tf.Variable(tf.random_normal([64, 128]))))
        logits = tf.matmul(h, tf.Variable(tf.random_normal([128, 10])))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=logits))
        tf.add_to_collection("train_op", tf.train.GradientDescentOptimizer(0.1).minimize(loss))
        n_ops = len(tf.get_default_graph().get_operations())
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.meta")
            t_export = _median(lambda: tf.train.export_meta_graph(path), 20)

            def load():
                with tf.Graph().as_default():
                    tf.train.import_meta_graph(path)
            t_import = _median(load, 20)
    return t_export, t_import, n_ops


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=100)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"{'op':40s} {'numpy':>10s} {'flowgrad':>10s} {'ratio':>6s} {'fwd+grad':>10s}")
    for name, values, build, ref in _cases(rng):
        with tf.Graph().as_default(), tf.Session() as sess:
            phs = [tf.placeholder(tf.float64, v.shape) for v in values]
            out = build(phs)
            feed = dict(zip(phs, values))
            grads = tf.gradients(tf.reduce_sum(out), phs)
            t_np = _median(ref, args.repeat)
            t_fg = _median(lambda: sess.run(out, feed), args.repeat)
            t_gr = _median(lambda: sess.run(grads, feed), max(args.repeat // 4, 5))
        print(f"{name:40s} {t_np * 1e3:8.3f}ms {t_fg * 1e3:8.3f}ms {t_fg / t_np:6.2f} "
              f"{t_gr * 1e3:8.3f}ms")
    t_export, t_import, n_ops = _meta_graph_roundtrip()
    print(f"meta-graph of {n_ops} ops: export {t_export * 1e3:.2f} ms, import "
          f"{t_import * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
