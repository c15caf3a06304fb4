"""Allreduce bandwidth and data-parallel scaling of flowgrad.distributed on this machine.

    python benchmarks/allreduce.py                 # everything (a few minutes on 2 cores)
    python benchmarks/allreduce.py --quick         # fewer sizes and steps
    python benchmarks/allreduce.py --ranks 1 2     # scaling at these rank counts only

Three parts, each run as MPI jobs through ``python -m flowgrad.distributed.run``:

1. **bandwidth** (2 ranks): one in-place ``Allreduce`` of a packed float32 buffer from 4 B
   to 100 MB, next to a ``memcpy`` of the same size measured in the same process (the
   floor any transport has to beat), and flowgrad's full fused path (pack + allreduce +
   average + unpack).
2. **fusion** (2 ranks): 64 gradients of 16 KB each reduced as 64 collectives, or packed
   into one buffer (tensor fusion).
3. **scaling**: the training step of an MLP (784-512-256-10, batch 64 per rank) and, when
   the convolution ops exist, LeNet-5, at 1, 2 and 4 ranks (weak scaling: each rank its own
   batch), with all gradients in one fused buffer or in ~3 buckets of <= 600 KB, and the
   non-blocking overlap off and on; plus 2 ranks with 2 BLAS threads each (what happens
   without the launcher's one-thread-per-rank default).

Ranks beyond the number of cores oversubscribe them; MPI's waiting ranks poll, so such
numbers show the cost of oversubscription more than the cost of communication.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [4, 64, 1024, 16 * 1024, 256 * 1024, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 100 << 20]
QUICK_SIZES = [4, 1024, 256 * 1024, 1 << 20, 16 << 20, 100 << 20]


# ----- workers (run on every rank) --------------------------------------------------------
def _timeit(fn, comm=None, budget: float = 0.3, min_reps: int = 3, max_reps: int = 2000
            ) -> float:
    """Median seconds of ``fn()`` over as many repetitions as fit the budget.

    With ``comm``, all ranks agree on the repetition count (collectives must match).
    """
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    if comm is not None:
        one = comm.allreduce(one, op=_max_op())
    reps = int(min(max_reps, max(min_reps, budget / one)))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _max_op():
    from mpi4py import MPI
    return MPI.MAX


def worker_bandwidth(quick: bool) -> list[dict]:
    import flowgrad.distributed as hvd
    from flowgrad.distributed import _context, collectives
    hvd.init()
    w = _context.world()
    MPI = w.MPI
    rows = []
    for nbytes in (QUICK_SIZES if quick else SIZES):
        n = max(1, nbytes // 4)
        buf = np.ones(n, np.float32)
        src, dst = np.ones(n, np.float32), np.empty(n, np.float32)
        grads = [np.ones(n, np.float32)]
        pool: dict = {}

        def raw():
            w.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)

        def fused():
            collectives.allreduce(w, grads, pool=pool)

        w.comm.Barrier()
        t_raw = _sync_max(w, _timeit(raw, w.comm))
        w.comm.Barrier()
        t_fused = _sync_max(w, _timeit(fused, w.comm))
        t_copy = _timeit(lambda: np.copyto(dst, src))
        rows.append({"bytes": n * 4, "allreduce_s": t_raw, "fused_path_s": t_fused,
                     "memcpy_s": t_copy})
    return rows


def worker_fusion(quick: bool) -> dict:
    import flowgrad.distributed as hvd
    from flowgrad.distributed import _context, collectives
    hvd.init()
    w = _context.world()
    grads = [np.ones(4096, np.float32) for _ in range(64)]
    pools: list[dict] = [{} for _ in grads]

    def separate():
        for g, pool in zip(grads, pools):
            collectives.allreduce(w, [g], pool=pool)

    def fused():
        collectives.allreduce(w, grads, pool=pools[0])

    w.comm.Barrier()
    t_sep = _sync_max(w, _timeit(separate, w.comm))
    w.comm.Barrier()
    t_fus = _sync_max(w, _timeit(fused, w.comm))
    return {"tensors": 64, "bytes_each": 4096 * 4, "separate_s": t_sep, "fused_s": t_fus}


def _sync_max(w, value: float) -> float:
    return float(w.comm.allreduce(value, op=w.MPI.MAX))


def _mlp(tf, x):
    h = x
    for i, (a, b) in enumerate([(784, 512), (512, 256), (256, 10)]):
        wgt = tf.Variable(tf.random_normal([a, b], stddev=0.05), name=f"w{i}")
        bias = tf.Variable(tf.zeros([b]), name=f"b{i}")
        h = tf.nn.bias_add(tf.matmul(h, wgt), bias)
        if i < 2:
            h = tf.nn.relu(h)
    return h


def _lenet(tf, x):
    img = tf.reshape(x, [-1, 28, 28, 1])

    def conv(h, k, cin, cout, name):
        wgt = tf.Variable(tf.random_normal([k, k, cin, cout], stddev=0.1), name=name)
        h = tf.nn.conv2d(h, wgt, strides=[1, 1, 1, 1], padding="VALID")
        h = tf.nn.relu(tf.nn.bias_add(h, tf.Variable(tf.zeros([cout]))))
        return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")

    h = conv(tf.pad(img, [[0, 0], [2, 2], [2, 2], [0, 0]]), 5, 1, 6, "c1")
    h = conv(h, 5, 6, 16, "c2")
    h = tf.reshape(h, [-1, 5 * 5 * 16])
    for i, (a, b) in enumerate([(400, 120), (120, 84), (84, 10)]):
        wgt = tf.Variable(tf.random_normal([a, b], stddev=0.1), name=f"f{i}")
        h = tf.nn.bias_add(tf.matmul(h, wgt), tf.Variable(tf.zeros([b])))
        if i < 2:
            h = tf.nn.relu(h)
    return h


def worker_step(model: str, overlap: bool, steps: int, threshold: int) -> dict:
    import flowgrad as tf
    import flowgrad.distributed as hvd
    from flowgrad.distributed import _context
    hvd.init()
    w = _context.world()
    batch = 64
    rng = np.random.default_rng(hvd.rank())
    xv = rng.standard_normal((batch, 784)).astype(np.float32)
    yv = rng.integers(0, 10, batch).astype(np.int32)
    x = tf.placeholder(tf.float32, [None, 784])
    y = tf.placeholder(tf.int32, [None])
    logits = (_lenet if model == "lenet" else _mlp)(tf, x)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                         logits=logits))
    opt = hvd.DistributedOptimizer(tf.train.GradientDescentOptimizer(0.01), overlap=overlap,
                                   fusion_threshold_bytes=threshold)
    train = opt.minimize(loss)
    params = sum(int(np.prod(v.shape.as_list())) for v in tf.trainable_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        hvd.broadcast_variables(sess, 0)
        feed = {x: xv, y: yv}
        for _ in range(3):
            sess.run(train, feed)
        times = []
        for _ in range(steps):
            w.comm.Barrier()
            t = time.perf_counter()
            sess.run(train, feed)
            times.append(time.perf_counter() - t)
    step = _sync_max(w, float(np.median(times)))
    buckets = len([o for o in tf.get_default_graph().get_operations()
                   if o.type in ("MPIAllreduce", "MPIIallreduceStart")])
    return {"model": model, "ranks": hvd.size(), "overlap": overlap, "params": params,
            "buckets": buckets,
            "step_s": step, "samples_per_s": batch * hvd.size() / step}


def worker_main(args) -> None:
    kind = args.worker
    if kind == "bandwidth":
        result = worker_bandwidth(args.quick)
    elif kind == "fusion":
        result = worker_fusion(args.quick)
    else:
        result = worker_step(args.model, args.overlap, args.steps, args.threshold)
    from flowgrad.distributed import rank
    if rank() == 0:
        with open(args.out, "w") as f:
            json.dump(result, f)


# ----- driver -----------------------------------------------------------------------------
def _job(n: int, worker_args: list[str], threads: int | None = None):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.json")
        cmd = [sys.executable, "-m", "flowgrad.distributed.run", "-n", str(n)]
        if threads:
            cmd += ["--threads", str(threads)]
        cmd += [os.path.abspath(__file__), "--out", out, *worker_args]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if res.returncode != 0:
            raise RuntimeError(f"job {' '.join(worker_args)} failed:\n{res.stderr[-3000:]}")
        with open(out) as f:
            return json.load(f)


def _fmt_bytes(n: int) -> str:
    for unit, k in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= k:
            return f"{n / k:g} {unit}"
    return f"{n} B"


def _fmt_t(s: float) -> str:
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def driver(args) -> None:
    import flowgrad as tf
    q = ["--quick"] if args.quick else []
    report: dict = {"cores": os.cpu_count(), "python": sys.version.split()[0]}
    if "bandwidth" in args.parts:
        report["bandwidth"] = _job(2, ["--worker", "bandwidth", *q])
    if "fusion" in args.parts:
        report["fusion"] = _job(2, ["--worker", "fusion"])
    if "scaling" in args.parts:
        models = ["mlp"] + (["lenet"] if hasattr(tf.nn, "conv2d") and hasattr(tf.nn, "max_pool")
                            else [])
        report["steps"] = steps = 10 if args.quick else 30
        rows = []
        for model in models:
            for n in args.ranks:
                for threshold in (64 << 20, 600 << 10):
                    for overlap in (False, True):
                        wa = ["--worker", "step", "--model", model, "--steps", str(steps),
                              "--threshold", str(threshold)]
                        rows.append(_job(n, wa + (["--overlap"] if overlap else [])))
                        rows[-1]["threshold"] = threshold
            if 2 in args.ranks:
                r = _job(2, ["--worker", "step", "--model", model, "--steps", str(steps)],
                         threads=2)
                r["threads"], r["threshold"] = 2, 64 << 20
                rows.append(r)
        report["scaling"] = rows
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


def print_report(report: dict) -> None:
    print(f"# flowgrad.distributed benchmark — {report['cores']} cores, python "
          f"{report.get('python', '')}")
    if "bandwidth" in report:
        print("\n## Allreduce of one packed float32 buffer, 2 ranks (in place, MPI.SUM)\n")
        print("| size | allreduce | GB/s (algbw) | fused path (pack+reduce+avg+copy out) | "
              "memcpy | allreduce / memcpy |")
        print("|---|---|---|---|---|---|")
        for r in report["bandwidth"]:
            print(f"| {_fmt_bytes(r['bytes'])} | {_fmt_t(r['allreduce_s'])} | "
                  f"{r['bytes'] / r['allreduce_s'] / 1e9:.2f} | {_fmt_t(r['fused_path_s'])} | "
                  f"{_fmt_t(r['memcpy_s'])} | {r['allreduce_s'] / r['memcpy_s']:.1f}× |")
    if "fusion" in report:
        r = report["fusion"]
        print(f"\n## Tensor fusion, 2 ranks: {r['tensors']} gradients of "
              f"{_fmt_bytes(r['bytes_each'])}\n")
        print(f"- {r['tensors']} separate allreduces: {_fmt_t(r['separate_s'])}")
        print(f"- one fused buffer: {_fmt_t(r['fused_s'])} "
              f"({r['separate_s'] / r['fused_s']:.1f}× faster)")
    if "scaling" in report:
        rows = report["scaling"]
        print("\n## Training step, weak scaling (batch 64 per rank, SGD), median of "
              f"{report.get('steps', 30)} steps, slowest rank\n")
        print("| model | params | ranks | fusion threshold | buckets | overlap | BLAS threads/rank "
              "| step | samples/s | efficiency vs 1 rank |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        base: dict = {}
        for r in rows:
            if r["ranks"] == 1 and not r["overlap"]:
                base.setdefault(r["model"], r)
        for r in rows:
            b = base.get(r["model"])
            eff = f"{b['step_s'] / r['step_s'] * 100:.0f}%" if b else "–"
            thr = _fmt_bytes(r["threshold"]) if "threshold" in r else "–"
            print(f"| {r['model']} | {r['params']:,} | {r['ranks']} | {thr} | {r['buckets']} | "
                  f"{'on' if r['overlap'] else 'off'} | {r.get('threads', 1)} | "
                  f"{_fmt_t(r['step_s'])} | {r['samples_per_s']:.0f} | {eff} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--parts", nargs="+", default=["bandwidth", "fusion", "scaling"])
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    p.add_argument("--report", default=None, help="print the tables of an earlier --json file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--model", default="mlp", help=argparse.SUPPRESS)
    p.add_argument("--overlap", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=30, help=argparse.SUPPRESS)
    p.add_argument("--threshold", type=int, default=64 << 20, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.report:
        with open(args.report) as f:
            print_report(json.load(f))
    elif args.worker:
        worker_main(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
