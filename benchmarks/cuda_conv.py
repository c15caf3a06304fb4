"""The CUDA convolution and pooling kernels against the generic CuPy kernels and PyTorch.

    python benchmarks/cuda_conv.py            # about 20 s on an H200
    python benchmarks/cuda_conv.py --tf32     # float32 convolutions may use TF32 (both sides)

For each shape (LeNet at batch 64, two ResNet-50 layers at batch 4 and 64) and each op
(Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter; MaxPool, MaxPoolGrad, AvgPool,
AvgPoolGrad) it times the op's ``"cuda"`` kernel (cuDNN / generated CUDA C), the generic
kernel on CuPy (im2col GEMMs, strided views) and, when torch is importable with CUDA, the
matching ``torch.nn.functional`` call on channels-last tensors (TF32 off unless --tf32).
Times are per call, host overhead included (the stream is synchronized after a batch of
calls), float32, NHWC.  Ratios above 1 mean the CUDA kernel is faster.  The largest
difference between the CUDA and the generic kernel's results is printed too, and at the end
how many convolutions ran through cuDNN and why any configuration was refused.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, NHWC input, HWIO filter, stride)  -- SAME padding throughout
CONVS = [
    ("lenet conv1 b64", (64, 28, 28, 1), (5, 5, 1, 32), 1),
    ("lenet conv2 b64", (64, 14, 14, 32), (5, 5, 32, 64), 1),
    ("resnet stem b4", (4, 224, 224, 3), (7, 7, 3, 64), 2),
    ("resnet 3x3 b4", (4, 56, 56, 64), (3, 3, 64, 64), 1),
    ("resnet stem b64", (64, 224, 224, 3), (7, 7, 3, 64), 2),
    ("resnet 3x3 b64", (64, 56, 56, 64), (3, 3, 64, 64), 1),
]
# (name, NHWC input, window, stride)
POOLS = [
    ("lenet pool b64", (64, 28, 28, 32), 2, 2),
    ("resnet pool b4", (4, 112, 112, 64), 3, 2),
    ("resnet pool b64", (64, 112, 112, 64), 3, 2),
]


def _timer(target: float):
    """``run(fn, sync)``: seconds per call of ``fn``, ``sync`` waiting for the device once
    per batch of calls."""
    def run(fn, sync) -> float:
        fn()
        sync()
        reps, spent = 1, 0.0
        while True:
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            sync()
            spent = time.perf_counter() - t0
            if spent >= target or reps >= 4096:
                return spent / reps
            reps *= 4 if spent < target / 8 else 2
    return run


def _torch():
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _ms(t) -> str:
    return f"{t * 1e3:9.3f}" if t is not None else "        -"


def _ratio(a, b) -> str:
    return f"{a / b:7.2f}x" if a is not None and b else "       -"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=float, default=0.05, help="seconds per measurement")
    ap.add_argument("--tf32", action="store_true")
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    if args.tf32:
        os.environ["FLOWGRAD_CUDNN_TF32"] = "1"
    # opt-in paths until a GPU run has checked them: this script measures them
    os.environ.setdefault("FLOWGRAD_CUDNN", "1")
    os.environ.setdefault("FLOWGRAD_CUDA_POOL", "1")
    from flowgrad.framework import registry  # noqa: PLC0415
    from flowgrad.ops import cuda_conv  # noqa: PLC0415
    from flowgrad.runtime import backend  # noqa: PLC0415
    if not backend.gpu_available():
        print("no GPU visible to CuPy: nothing to do here")
        return 2
    cp = backend.gpu().xp
    torch = _torch()
    if torch is not None:
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = False     # heuristics, as ours (no autotuning)
    t_start = time.perf_counter()
    timer = _timer(args.target)
    cp_sync = cp.cuda.get_current_stream().synchronize

    def timed(fn):
        return timer(fn, cp_sync)

    def timed_torch(fn):
        return timer(fn, torch.cuda.synchronize)
    rng = np.random.default_rng(0)

    def kernels(op_type):
        d = registry._OPS[op_type]
        return d.kernel_for("cuda"), d.kernel

    print(f"cuDNN frontend importable: {cuda_conv.available()}; torch CUDA: "
          f"{torch is not None}; float32 TF32: {args.tf32}")
    head = f"{'case':18s} {'op':22s} {'cuda ms':>9s} {'cupy ms':>9s} {'torch ms':>9s} " \
           f"{'cupy/cuda':>9s} {'torch/cuda':>10s} {'max |diff|':>10s}"
    print(head)
    print("-" * len(head))
    ratios = []
    for name, xs, fs, s in CONVS:
        x = cp.asarray(rng.standard_normal(xs, dtype=np.float32))
        w = cp.asarray(rng.standard_normal(fs, dtype=np.float32) * 0.1)
        attrs = {"strides": (1, s, s, 1), "padding": "SAME", "explicit_paddings": (),
                 "data_format": "NHWC", "dilations": (1, 1, 1, 1)}
        fwd, fwd_g = kernels("Conv2D")
        y = fwd(cp, x, w, **attrs)
        dy = cp.asarray(rng.standard_normal(y.shape, dtype=np.float32))
        xsz, fsz = np.array(xs, np.int32), np.array(fs, np.int32)
        din, din_g = kernels("Conv2DBackpropInput")
        dfl, dfl_g = kernels("Conv2DBackpropFilter")
        runs = [("Conv2D", lambda k: k(cp, x, w, **attrs), fwd, fwd_g),
                ("Conv2DBackpropInput", lambda k: k(cp, xsz, w, dy, **attrs), din, din_g),
                ("Conv2DBackpropFilter", lambda k: k(cp, x, fsz, dy, **attrs), dfl, dfl_g)]
        tt = {}
        if torch is not None:
            tx = torch.as_tensor(x, device="cuda").permute(0, 3, 1, 2)   # NCHW view of NHWC
            tw = torch.as_tensor(w, device="cuda").permute(3, 2, 0, 1).contiguous(
                memory_format=torch.channels_last)
            tdy = torch.as_tensor(dy, device="cuda").permute(0, 3, 1, 2)
            pad = fs[0] // 2            # same output size as TF's SAME (alignment aside)
            conv = torch.nn.functional.conv2d
            back = torch.ops.aten.convolution_backward
            tt["Conv2D"] = lambda: conv(tx, tw, stride=s, padding=pad)
            tt["Conv2DBackpropInput"] = lambda: back(tdy, tx, tw, None, [s, s], [pad, pad],
                                                     [1, 1], False, [0, 0], 1,
                                                     [True, False, False])
            tt["Conv2DBackpropFilter"] = lambda: back(tdy, tx, tw, None, [s, s], [pad, pad],
                                                      [1, 1], False, [0, 0], 1,
                                                      [False, True, False])
        for op, call, k, kg in runs:
            a, b = call(k), call(kg)
            diff = float(cp.abs(a - b).max())
            tc, tg = timed(lambda: call(k)), timed(lambda: call(kg))
            tto = timed_torch(tt[op]) if op in tt else None
            ratios.append(tg / tc)
            print(f"{name:18s} {op:22s} {_ms(tc)} {_ms(tg)} {_ms(tto)} {_ratio(tg, tc):>9s} "
                  f"{_ratio(tto, tc):>10s} {diff:10.2e}", flush=True)
    for name, xs, k, s in POOLS:
        x = cp.asarray(rng.standard_normal(xs, dtype=np.float32))
        attrs = {"ksize": (1, k, k, 1), "strides": (1, s, s, 1), "padding": "SAME",
                 "data_format": "NHWC", "dilations": (1, 1, 1, 1)}
        mp, mp_g = kernels("MaxPool")
        mg, mg_g = kernels("MaxPoolGrad")
        ap_, ap_g = kernels("AvgPool")
        ag, ag_g = kernels("AvgPoolGrad")
        y = mp_g(cp, x, **attrs)
        dy = cp.asarray(rng.standard_normal(y.shape, dtype=np.float32))
        xsz = np.array(xs, np.int32)
        runs = [("MaxPool", lambda f: f(cp, x, **attrs), mp, mp_g),
                ("MaxPoolGrad", lambda f: f(cp, x, y, dy, **attrs), mg, mg_g),
                ("AvgPool", lambda f: f(cp, x, **attrs), ap_, ap_g),
                ("AvgPoolGrad", lambda f: f(cp, xsz, dy, **attrs), ag, ag_g)]
        tt = {}
        if torch is not None:
            tx = torch.as_tensor(x, device="cuda").permute(0, 3, 1, 2)
            p = (k - 1) // 2
            tt["MaxPool"] = lambda: torch.nn.functional.max_pool2d(tx, k, s, p)
            tt["AvgPool"] = lambda: torch.nn.functional.avg_pool2d(
                tx, k, s, p, count_include_pad=False)
        for op, call, f, fg in runs:
            a, b = call(f), call(fg)
            diff = float(cp.nan_to_num(cp.abs(a - b)).max())
            tc, tg = timed(lambda: call(f)), timed(lambda: call(fg))
            tto = timed_torch(tt[op]) if op in tt else None
            ratios.append(tg / tc)
            print(f"{name:18s} {op:22s} {_ms(tc)} {_ms(tg)} {_ms(tto)} {_ratio(tg, tc):>9s} "
                  f"{_ratio(tto, tc):>10s} {diff:10.2e}", flush=True)
    st = cuda_conv.stats()
    print(f"\ngeometric mean cupy/cuda: {float(np.exp(np.mean(np.log(ratios)))):.2f}x")
    print(f"convolutions through cuDNN: {st['counts']['cudnn']}, generic: "
          f"{st['counts']['generic']}")
    for key, why in st["unsupported"].items():
        print(f"  cuDNN refused {key[2:5]} {key[5:]}: {why[:200]}")
    if st["import_error"]:
        print(f"  cudnn import failed: {st['import_error']}")
    print(f"done in {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
