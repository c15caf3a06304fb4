"""3-D convolution and pooling kernels on the CPU against hand-written numpy and TensorFlow.

    python benchmarks/bench_conv3d.py            # about 15 s on one core

For each shape it times flowgrad's kernels (``Conv3D``, its input and filter gradients,
``MaxPool3D`` with its gradient, ``AvgPool3D`` with its gradient) through a session with
the input fed (so nothing is constant-folded), a hand-written numpy convolution (one
``tensordot`` per kernel tap, accumulated), and, when it is importable, TensorFlow's
``tf.compat.v1`` graph of the same ops (its own threads limited like BLAS's).  Times are
the best of several runs in milliseconds, float32, NDHWC; ratios above 1 mean flowgrad is
faster.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import flowgrad as tf  # noqa: E402

# (name, NDHWC input, DHWIO filter)  -- stride 1, SAME padding
SHAPES = [
    ("c3d-like 8ch b4", (4, 16, 16, 16, 8), (3, 3, 3, 8, 16)),
    ("c3d-like 32ch b2", (2, 8, 16, 16, 32), (3, 3, 3, 32, 32)),
]


def best(fn, reps: int = 5) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def numpy_conv3d(x, w):
    """SAME, stride 1: pad once, then one tensordot per tap."""
    kd, kh, kw, _, co = w.shape
    n, d, h, wd, _ = x.shape
    xp = np.pad(x, [(0, 0), (kd // 2, kd - 1 - kd // 2), (kh // 2, kh - 1 - kh // 2),
                    (kw // 2, kw - 1 - kw // 2), (0, 0)])
    y = np.zeros((n, d, h, wd, co), dtype=x.dtype)
    for a in range(kd):
        for b in range(kh):
            for c in range(kw):
                y += np.tensordot(xp[:, a:a + d, b:b + h, c:c + wd], w[a, b, c], axes=1)
    return y


def graph_runs(m, x, w, session_factory):
    """(forward, forward+both gradients, pools with gradients) run functions."""
    xph = m.placeholder(m.float32, x.shape)
    wt = m.constant(w)
    y = m.nn.conv3d(xph, wt, [1] * 5, "SAME")
    grads = m.gradients(m.reduce_sum(y * y), [xph, wt])
    mp = m.nn.max_pool3d(xph, [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "SAME")
    ap = m.nn.avg_pool3d(xph, [1, 3, 3, 3, 1], [1, 1, 1, 1, 1], "SAME")
    pool_grads = m.gradients(m.reduce_sum(mp * mp) + m.reduce_sum(ap * ap), xph)
    sess = session_factory()
    feed = {xph: x}
    return (lambda: sess.run(y, feed), lambda: sess.run(grads, feed),
            lambda: sess.run(pool_grads, feed))


def main() -> None:
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    try:
        import tensorflow as tfr  # noqa: PLC0415
        v1 = tfr.compat.v1
        v1.disable_eager_execution()
        config = v1.ConfigProto(intra_op_parallelism_threads=threads,
                                inter_op_parallelism_threads=1)
    except ImportError:
        tfr = None
    print(f"{'shape':20s} {'op':22s} {'flowgrad':>9s} {'numpy':>9s} {'ratio':>6s} "
          f"{'tensorflow':>10s} {'ratio':>6s}")
    for name, xs, ws in SHAPES:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        with tf.Graph().as_default():
            ours = [best(f) for f in graph_runs(tf, x, w, tf.Session)]
        ref = [best(lambda: numpy_conv3d(x, w)), None, None]
        theirs = [None] * 3
        if tfr is not None:
            with tfr.Graph().as_default():
                theirs = [best(f) for f in graph_runs(v1, x, w,
                                                      lambda: v1.Session(config=config))]
        for label, a, b, c in zip(["conv3d", "conv3d fwd+bwd", "pools fwd+bwd"], ours, ref,
                                  theirs):
            rb = f"{b:9.2f} {b / a:6.2f}" if b is not None else f"{'-':>9s} {'-':>6s}"
            rc = f"{c:10.2f} {c / a:6.2f}" if c is not None else f"{'-':>10s} {'-':>6s}"
            print(f"{name:20s} {label:22s} {a:9.2f} {rb} {rc}")


if __name__ == "__main__":
    main()
