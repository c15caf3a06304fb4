"""Run under MPI (2 ranks): data-parallel training equals one process on the whole batch.

Launched by test_mpi_jobs.py as ``python -m flowgrad.distributed.run -n 2 THIS_FILE OUT``.
Every rank trains a model on its half of a fixed batch with ``DistributedOptimizer``
(differently seeded, then made equal by a broadcast); rank 0 also trains the same model
from the same initial values on the whole batch in one process and writes a JSON report
to OUT: the largest difference per case, whether the replicas ended bitwise equal, and
the gradient checks of allreduce/allgather/broadcast across ranks.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import flowgrad as tf
import flowgrad.distributed as hvd

STEPS = 10
BATCH, FEATURES, CLASSES = 8, 6, 4


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    return x, y


def _dense(x, n_in, n_out, name):
    w = tf.Variable(tf.random_normal([n_in, n_out], stddev=0.5), name=name + "_w")
    b = tf.Variable(tf.random_normal([n_out], stddev=0.1), name=name + "_b")
    return tf.nn.bias_add(tf.matmul(x, w), b)


def mlp(x):
    h = tf.nn.relu(_dense(x, FEATURES, 16, "fc1"))
    return _dense(h, 16, CLASSES, "fc2")


def cnn(x):
    """A small CNN: the rows of the batch as 2x3 single-channel images."""
    img = tf.reshape(x, [-1, 2, 3, 1])
    k = tf.Variable(tf.random_normal([2, 2, 1, 5], stddev=0.5), name="conv_k")
    c = tf.nn.relu(tf.nn.conv2d(img, k, strides=[1, 1, 1, 1], padding="SAME"))
    return _dense(tf.reshape(c, [-1, 2 * 3 * 5]), 30, CLASSES, "fc")


def tied(x):
    """No convolutions: a tanh net whose first weight is reused (transposed) at the end."""
    w = tf.Variable(tf.random_normal([FEATURES, 8], stddev=0.5), name="tied_w")
    h = tf.tanh(tf.matmul(x, w))
    back = tf.matmul(h, w, transpose_b=True)
    return _dense(tf.concat([back, h * h], axis=1), FEATURES + 8, CLASSES, "out")


MODELS = {"mlp": mlp, "cnn": cnn if hasattr(tf.nn, "conv2d") else tied}
OPTIMIZERS = {
    "sgd": lambda: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9),
    "adam": lambda: tf.train.AdamOptimizer(0.01),
}


def build(model, make_opt, distributed: bool, seed: int, **dist_kwargs):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(seed)
        x = tf.placeholder(tf.float32, [None, FEATURES])
        y = tf.placeholder(tf.int32, [None])
        logits = MODELS[model](x)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                             logits=logits))
        opt = make_opt()
        if distributed:
            opt = hvd.DistributedOptimizer(opt, **dist_kwargs)
        train = opt.minimize(loss)
        init = tf.global_variables_initializer()
        variables = tf.trainable_variables()
    return g, x, y, train, init, variables


def train_case(model, opt_name, x_all, y_all, passes=1, **dist_kwargs):
    """(largest |distributed - single| over the variables, replicas bitwise equal)."""
    rank, size = hvd.rank(), hvd.size()
    make_opt = OPTIMIZERS[opt_name]
    g, x, y, train, init, variables = build(model, make_opt, True, 100 + rank,
                                            backward_passes_per_step=passes, **dist_kwargs)
    idx = hvd.shard_indices(len(x_all), rank, size, contiguous=True)
    with tf.Session(graph=g) as sess:
        sess.run(init)
        hvd.broadcast_variables(sess, root_rank=0)
        start = sess.run(variables)
        for _ in range(STEPS):
            for p in range(passes):
                part = idx[p::passes]
                sess.run(train, {x: x_all[part], y: y_all[part]})
        final = sess.run(variables)
    everyone = _gather_values(final)
    replicas_equal = all(all(np.array_equal(a, b) for a, b in zip(everyone[0], other))
                         for other in everyone[1:])
    if rank != 0:
        return None, replicas_equal
    g1, x1, y1, train1, init1, vars1 = build(model, make_opt, False, 100)
    with tf.Session(graph=g1) as sess:
        sess.run(init1)
        for v, value in zip(vars1, start):
            v.load(value, sess)
        for _ in range(STEPS):
            sess.run(train1, {x1: x_all, y1: y_all})
        single = sess.run(vars1)
    diff = max(float(np.max(np.abs(a - b) / (1.0 + np.abs(b)))) for a, b in zip(final, single))
    return diff, replicas_equal


def _gather_values(values):
    g = tf.Graph()
    with g.as_default():
        flat = tf.concat([tf.reshape(tf.constant(v), [-1]) for v in values], axis=0)
        gathered = hvd.allgather(tf.reshape(flat, [1, -1]))
        with tf.Session(graph=g) as sess:
            rows = sess.run(gathered)
    out = []
    for row in rows:
        parts, o = [], 0
        for v in values:
            parts.append(row[o:o + v.size].reshape(v.shape))
            o += v.size
        out.append(parts)
    return out


def broadcast_case():
    """Differently seeded ranks: unequal before, bitwise equal after the broadcast."""
    g, *_ , init, variables = build("mlp", OPTIMIZERS["sgd"], True, 7 + 31 * hvd.rank())
    with g.as_default():
        bcast = hvd.broadcast_global_variables(0)
    with tf.Session(graph=g) as sess:
        sess.run(init)
        before = _gather_values(sess.run(variables))
        sess.run(bcast)
        after = _gather_values(sess.run(variables))
    differ = any(not np.array_equal(a, b) for a, b in zip(before[0], before[1]))
    equal = all(np.array_equal(a, b) for a, b in zip(after[0], after[1]))
    return {"differ_before": differ, "equal_after": equal}


def gradient_case():
    """Gradients through collectives, checked against their closed forms over the ranks.

    Each rank r has x_r and a loss_r = sum(f(x_r) * u_r); the job's loss is the sum over
    ranks, and tf.gradients on rank r must give d(job loss)/d x_r.
    """
    rank, size = hvd.rank(), hvd.size()
    rows = [2 + r for r in range(size)]                  # allgather with unequal rows
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((n, 3)) for n in rows]
    us_red = [rng.standard_normal((2, 3)) for _ in range(size)]
    us_gat = [rng.standard_normal((sum(rows), 3)) for _ in range(size)]
    us_bc = [rng.standard_normal((2, 3)) for _ in range(size)]
    g = tf.Graph()
    with g.as_default():
        xr = tf.placeholder(tf.float64, [2, 3])
        xg = tf.placeholder(tf.float64, [None, 3])
        red = hvd.allreduce(xr)
        red_sum = hvd.allreduce(xr, op=hvd.Sum)
        gat = hvd.allgather(xg)
        bc = hvd.broadcast(xr, 1)
        grads = {
            "allreduce_average": tf.gradients(tf.reduce_sum(red * us_red[rank]), xr)[0],
            "allreduce_sum": tf.gradients(tf.reduce_sum(red_sum * us_red[rank]), xr)[0],
            "allgather": tf.gradients(tf.reduce_sum(gat * us_gat[rank]), xg)[0],
            "broadcast": tf.gradients(tf.reduce_sum(bc * us_bc[rank]), xr)[0],
        }
        xr_val = rng.standard_normal((2, 3)) + rank
        with tf.Session(graph=g) as sess:
            got, fwd = sess.run([grads, [red, red_sum, gat, bc]],
                                {xr: xr_val, xg: xs[rank]})
    all_xr = _allgather_np(xr_val)
    offset = sum(rows[:rank])
    want = {
        "allreduce_average": sum(us_red) / size,
        "allreduce_sum": sum(us_red),
        "allgather": sum(us_gat)[offset:offset + rows[rank]],
        "broadcast": sum(us_bc) if rank == 1 else np.zeros((2, 3)),
    }
    fwd_want = [sum(all_xr) / size, sum(all_xr), np.concatenate(xs), all_xr[1]]
    out = {k: float(np.max(np.abs(got[k] - want[k]))) for k in want}
    out["forward"] = max(float(np.max(np.abs(a - b))) for a, b in zip(fwd, fwd_want))
    return out


def fp16_fallback_case():
    """The user-defined float16 sum (for MPIs without float16) against MPICH's own."""
    from flowgrad.distributed import _context, collectives
    w = _context.world()
    x = (np.arange(1000, dtype=np.float32) / 7.0 + hvd.rank()).reshape(10, 100)
    native = collectives.allreduce(w, [x], fp16=True)[0]
    saved = list(collectives._FP16_NATIVE)
    collectives._FP16_NATIVE[:] = [False]
    try:
        fallback = collectives.allreduce(w, [x], fp16=True)[0]
    finally:
        collectives._FP16_NATIVE[:] = saved
    return float(np.max(np.abs(native - fallback)))


def _allgather_np(value):
    g = tf.Graph()
    with g.as_default():
        t = hvd.allgather(tf.constant(value[None]))
        with tf.Session(graph=g) as sess:
            return list(sess.run(t))


def main(out_path: str) -> None:
    hvd.init()
    x_all, y_all = data()
    report = {"size": hvd.size(), "cases": {}, "replicas_equal": {}}
    cases = [(m, o, {}) for m in MODELS for o in OPTIMIZERS]
    cases += [("mlp", "sgd", {"overlap": True}), ("mlp", "sgd", {"fusion_threshold_bytes": 64}),
              ("mlp", "sgd", {"passes": 2}), ("mlp", "sgd", {"compression": hvd.Compression.fp16})]
    for model, opt_name, kw in cases:
        label = "/".join([model, opt_name] + [f"{k}={getattr(v, 'wire', v)}"
                                               for k, v in kw.items()])
        diff, equal = train_case(model, opt_name, x_all, y_all, **kw)
        report["replicas_equal"][label] = equal
        if diff is not None:
            report["cases"][label] = diff
    report["broadcast"] = broadcast_case()
    report["gradients"] = gradient_case()
    report["fp16_fallback"] = fp16_fallback_case()
    report["cnn_model"] = MODELS["cnn"].__name__
    if hvd.rank() == 0:
        with open(out_path, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
