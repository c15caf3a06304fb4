"""A/B of the fold_sgd_gemm compiler pass on the mlp training step.

    python benchmarks/fold_sgd_gemm_ab.py [--rounds 6] [--steps 200] [--workload mlp]

Each round runs two fresh processes, the pass on (default passes) and off
(``FLOWGRAD_PASSES=-fold_sgd_gemm``), alternating which goes first; each process warms up,
times ``steps`` steps of ``flowgrad.bench.make_runner("flowgrad", workload).step`` and
reports its min and median.  The BLAS thread count is the environment's
(``OPENBLAS_NUM_THREADS``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(workload: str, steps: int) -> None:
    from flowgrad import bench, compiler
    runner = bench.make_runner("flowgrad", workload)
    for _ in range(30):
        runner.step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        runner.step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"fold": compiler.options.fold_sgd_gemm, "min": min(times) * 1e3,
                      "median": statistics.median(times) * 1e3}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--workload", default="mlp")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.workload, args.steps)
        return
    res: dict = {True: [], False: []}
    for r in range(args.rounds):
        for fold in ((True, False) if r % 2 == 0 else (False, True)):
            env = dict(os.environ, PYTHONPATH=ROOT)
            env.pop("FLOWGRAD_PASSES", None)
            if not fold:
                env["FLOWGRAD_PASSES"] = "-fold_sgd_gemm"
            out = subprocess.run([sys.executable, __file__, "--child", "--steps",
                                  str(args.steps), "--workload", args.workload], env=env,
                                 capture_output=True, text=True, check=True)
            rec = json.loads(out.stdout.strip().splitlines()[-1])
            assert rec["fold"] == fold
            res[fold].append(rec)
            print(f"round {r} fold={'on ' if fold else 'off'} min {rec['min']:.3f} ms  "
                  f"median {rec['median']:.3f} ms", flush=True)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"{args.workload}, OPENBLAS_NUM_THREADS={threads}, {args.rounds} processes each, "
          f"{args.steps} steps:")
    for fold in (False, True):
        mins = [x["min"] for x in res[fold]]
        meds = [x["median"] for x in res[fold]]
        print(f"  fold_sgd_gemm {'on ' if fold else 'off'}: min of mins {min(mins):.3f} ms, "
              f"median of medians {statistics.median(meds):.3f} ms")
    d_min = min(x["min"] for x in res[False]) - min(x["min"] for x in res[True])
    d_med = statistics.median(x["median"] for x in res[False]) - \
        statistics.median(x["median"] for x in res[True])
    print(f"  saved: {d_min:.3f} ms (min), {d_med:.3f} ms (median)")
    pairs = [off["median"] - on["median"] for on, off in zip(res[True], res[False])]
    print(f"  per round (off - on, medians): {' '.join(f'{p:+.3f}' for p in pairs)} ms; "
          f"on faster in {sum(p > 0 for p in pairs)} of {len(pairs)}")


if __name__ == "__main__":
    main()
