"""Everything a GPU session checks and measures, in one run (about five minutes on an H200).

    python benchmarks/gpu.py                  # all three parts
    python benchmarks/gpu.py --skip-tests     # timings and the accuracy check only

1. Correctness: the op harness on the GPU against the CPU (every op row, float64 and
   float32, passes on and off) and the CUDA kernels' own tests, through pytest.
2. Speed: the training-step suite on the GPU (``flowgrad bench --device gpu``): xor, mlp at
   batch 128 and 4096, LeNet-5, ResNet-50 at batch 4 and 64, for flowgrad, hand-written
   CuPy (xor, mlp), PyTorch CUDA and JAX when installed; every step fetches its loss;
   ratios are other / flowgrad from the same rounds.
3. LeNet-5 on the embedded digits with the same seed on the CPU and on the GPU: the two
   test accuracies (the CPU run goes on in the background meanwhile).

Exits non-zero when the tests fail or no GPU is visible.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = ["xor", "mlp", "mlp-4096", "lenet", "resnet50", "resnet50-64"]
TESTS = ["tests/runtime", "tests/compiler", "tests/ops/test_cuda_kernels.py",
         "tests/perf/test_bench.py"]


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _lenet(device: str, epochs: int) -> subprocess.Popen:
    code = ("import sys; sys.argv = ['lenet', '--epochs', '%d', '--seed', '0']; "
            "import runpy; runpy.run_path('examples/lenet.py', run_name='__main__')" % epochs)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=_env(FLOWGRAD_DEVICE=device, OMP_NUM_THREADS="4",
                                     OPENBLAS_NUM_THREADS="4"))


def _accuracy(proc: subprocess.Popen) -> tuple[float | None, str]:
    out, _ = proc.communicate()
    found = re.findall(r"test accuracy ([0-9.]+)%\s*$", out, re.M)
    return (float(found[-1]) if found else None), out


def _paths_report() -> None:
    """Which opt-in paths ran so far: graph replays recorded or refused (and why), and the
    convolutions that went through cuDNN or fell back."""
    if "flowgrad.runtime.cuda" in sys.modules:
        st = sys.modules["flowgrad.runtime.cuda"].replay_stats
        print(f"   CUDA graphs recorded: {st['recorded']}, refused: {st['refused'] or 0}")
    if "flowgrad.ops.cuda_conv" in sys.modules:
        st = sys.modules["flowgrad.ops.cuda_conv"].stats()
        print(f"   convolutions through cuDNN: {st['counts']['cudnn']}, generic: "
              f"{st['counts']['generic']}, refused: {st['unsupported'] or 0}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-tests", action="store_true")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--frameworks", default="flowgrad,cupy,torch,jax")
    ap.add_argument("--epochs", type=int, default=5, help="LeNet digits epochs (each device)")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--no-graphs", action="store_true",
                    help="turn CUDA-graph replay off")
    ap.add_argument("--profile", type=int, default=8,
                    help="flowgrad's N slowest op types and ops of one traced step")
    args = ap.parse_args(argv)
    # cuDNN convolutions, the CUDA pooling kernels and CUDA-graph replay are on by default;
    # FLOWGRAD_CUDNN=0 / FLOWGRAD_CUDA_POOL=0 / --no-graphs measure without them (before
    # flowgrad is imported: the compiler reads FLOWGRAD_PASSES then)
    if args.no_graphs:
        passes = os.environ.get("FLOWGRAD_PASSES", "")
        os.environ["FLOWGRAD_PASSES"] = passes + ("," if passes else "") + "-cuda_graphs"
    sys.path.insert(0, ROOT)
    from flowgrad.runtime import backend  # noqa: PLC0415
    if not backend.gpu_available():
        print("no GPU visible to CuPy: nothing to do here")
        return 2
    t0 = time.perf_counter()
    cpu_lenet = _lenet("cpu", args.epochs) if args.epochs else None
    status = 0
    if not args.skip_tests:
        print("== 1. op harness and CUDA kernels on the GPU against the CPU", flush=True)
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "8",
                            "-p", "no:cacheprovider", "--tb=short",
                            *[t for t in TESTS if os.path.exists(os.path.join(ROOT, t))]],
                           cwd=ROOT,
                           env=_env(), text=True, capture_output=True)
        lines = r.stdout.strip().splitlines()
        fails = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
        print("\n".join(fails[:60] + lines[-1:]))
        log = os.path.join(os.environ.get("OUT") or ROOT, "gpu_tests.log")
        with open(log, "w") as f:
            f.write(r.stdout)
        if r.returncode:
            status = 1
            print(f"   full pytest output: {log}")
        print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)
    print("== 2. training steps on the GPU", flush=True)
    # every framework in this process (JAX must then not take most of the GPU's memory)
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    from flowgrad import bench  # noqa: PLC0415
    for w in args.workloads.split(","):
        bench_args = [w, "--device", "gpu", "--frameworks", args.frameworks,
                      "--no-subprocess", "--profile", str(args.profile)]
        if args.rounds:
            bench_args += ["--rounds", str(args.rounds)]
        try:
            bench.main(bench_args)
        except Exception as e:  # noqa: BLE001 - report and go on with the next workload
            status = 1
            print(f"{w}: failed: {type(e).__name__}: {e}")
        _paths_report()
        print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)
    if cpu_lenet is not None:
        print(f"== 3. LeNet-5 on the digits, seed 0, {args.epochs} epochs", flush=True)
        gpu_acc, gpu_out = _accuracy(_lenet("gpu", args.epochs))
        cpu_acc, cpu_out = _accuracy(cpu_lenet)
        print(f"   GPU test accuracy {gpu_acc}%, CPU {cpu_acc}%")
        for name, acc, out in (("GPU", gpu_acc, gpu_out), ("CPU", cpu_acc, cpu_out)):
            if acc is None:
                print(f"   {name} run failed:\n{out[-3000:]}")
                status = 1
        if gpu_acc is not None and cpu_acc is not None and abs(gpu_acc - cpu_acc) > 0.5:
            print("   the accuracies differ by more than 0.5 %")
            status = 1
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
