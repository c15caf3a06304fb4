"""Sparse x dense matmul (``tf.sparse.sparse_dense_matmul``) against numpy, scipy and
TensorFlow, measured in the same run.

    python benchmarks/bench_sparse_matmul.py [--repeat 20] [--grad]

For each case (A: m x k with nnz entries in random order, B: k x n, float32): the median
time of flowgrad's ``SparseTensorDenseMatMul`` kernel called directly, of ``sess.run`` on
the op (A's indices/values and B fed through placeholders), and (``--grad``) of the
forward + gradients w.r.t. A's values and B; next to numpy's dense ``A @ B`` (A densified
beforehand, not timed), scipy's CSR product (CSR built beforehand) and TensorFlow's
``tf.sparse.sparse_dense_matmul`` (eager) when those import.  Ratios are flowgrad's time
over each reference's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flowgrad as tf  # noqa: E402
from flowgrad.ops import sparse_math_ops as _S  # noqa: E402

#: (m, k, n, nnz)
CASES = [
    (4096, 2048, 64, 40_000),
    (4096, 2048, 64, 400_000),
    (1024, 1024, 256, 10_000),
    (16384, 8192, 32, 200_000),
    (2048, 2048, 16, 1_000_000),
]


def _median(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _problem(rng, m, k, n, nnz):
    lin = rng.choice(m * k, nnz, replace=False)
    ind = np.stack([lin // k, lin % k], 1).astype(np.int64)
    vals = rng.standard_normal(nnz).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    return ind, vals, b


def _optional(name):
    try:
        return __import__(name, fromlist=["_"])
    except Exception:  # noqa: BLE001 - any failed import just drops the column
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--grad", action="store_true", help="also time forward + gradients")
    args = ap.parse_args(argv)
    sparse = _optional("scipy.sparse")
    real_tf = _optional("tensorflow")
    kernel = _S._sparse_dense_matmul.opdef.kernel
    rng = np.random.default_rng(0)
    print(f"{'case (m x k, n, nnz)':30s} {'kernel':>9s} {'session':>9s} {'numpy':>9s} "
          f"{'scipy':>9s} {'tf':>9s}  ratios kernel/numpy, /scipy, /tf"
          + ("   fwd+grad" if args.grad else ""))
    for m, k, n, nnz in CASES:
        ind, vals, b = _problem(rng, m, k, n, nnz)
        shape = np.array([m, k], dtype=np.int64)
        t_k = _median(lambda: kernel(np, ind, vals, shape, b), args.repeat)
        dense = np.zeros((m, k), np.float32)
        dense[ind[:, 0], ind[:, 1]] = vals
        t_np = _median(lambda: dense @ b, args.repeat)
        t_sp = t_tf = float("nan")
        if sparse is not None:
            csr = sparse.csr_matrix((vals, (ind[:, 0], ind[:, 1])), shape=(m, k))
            t_sp = _median(lambda: csr @ b, args.repeat)
        if real_tf is not None:
            order = np.lexsort((ind[:, 1], ind[:, 0]))
            st = real_tf.sparse.SparseTensor(ind[order], vals[order], [m, k])
            tb = real_tf.constant(b)
            t_tf = _median(lambda: real_tf.sparse.sparse_dense_matmul(st, tb).numpy(),
                           args.repeat)
        with tf.Graph().as_default(), tf.Session() as sess:
            pi = tf.placeholder(tf.int64, [None, 2])
            pv = tf.placeholder(tf.float32, [None])
            pb = tf.placeholder(tf.float32, [k, n])
            out = tf.sparse_tensor_dense_matmul(tf.SparseTensor(pi, pv, [m, k]), pb)
            feed = {pi: ind, pv: vals, pb: b}
            t_s = _median(lambda: sess.run(out, feed), args.repeat)
            if args.grad:
                grads = tf.gradients(tf.reduce_sum(out * out), [pv, pb])
                t_g = _median(lambda: sess.run([out] + grads, feed), max(args.repeat // 2, 3))
        line = (f"{m}x{k}, {n}, {nnz:<9d}".ljust(30)
                + "".join(f" {t * 1e3:7.2f}ms" for t in (t_k, t_s, t_np, t_sp, t_tf))
                + f"  {t_k / t_np:6.2f} {t_k / t_sp:6.2f} {t_k / t_tf:6.2f}")
        if args.grad:
            line += f"   {t_g * 1e3:7.2f}ms"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
