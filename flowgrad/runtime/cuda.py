"""CUDA-only pieces of a GPU session: generated kernels and direct cuBLAS calls.

Imported only by code that already runs on CuPy arrays (``compiler.fusion`` for a CUDA
plan, the ``"cuda"`` kernels of ``ops.cuda_kernels``), so CPU use never loads CuPy.

Why these exist: through CuPy every kernel launch costs 8-15 µs of host time (measured on
an H200: a ``RawKernel`` 8 µs, an ``ElementwiseKernel`` or ufunc 15 µs, ``cupy.matmul``
27 µs of Python before cuBLAS runs), which for a small network is far more than the GPU's
work.  So a device plan runs fewer, fused kernels: generated elementwise clusters, one
kernel for every SGD update of a step, one for softmax cross-entropy and its gradient,
and GEMMs that call cuBLAS directly.
"""

from __future__ import annotations

import math

import cupy
import numpy as np
from cupy_backends.cuda.libs import cublas

_CT = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_cache: dict = {}


def elementwise_kernel(in_params: str, out_params: str, body: str, name: str, n_out: int):
    """A CuPy ``ElementwiseKernel`` (cached by name): ``k(*inputs)`` -> output(s).

    Compiled with ``--fmad=false``: a multiply followed by an add stays two roundings, as
    when each op runs as a kernel of its own, so fusing changes no result by a bit."""
    k = _cache.get(name)
    if k is None:
        k = _cache[name] = cupy.ElementwiseKernel(in_params, out_params, body, name,
                                                  options=("--fmad=false",))
    return k


# ----- GEMM ------------------------------------------------------------------------------------
_SCALARS = {np.dtype(np.float32): (np.ones(1, np.float32), np.zeros(1, np.float32)),
            np.dtype(np.float64): (np.ones(1, np.float64), np.zeros(1, np.float64))}


def gemm(a, b, transpose_a: bool, transpose_b: bool):
    """``op(a) @ op(b)`` for C-contiguous 2-D float32/float64 CuPy arrays through one direct
    cuBLAS call (about 5 µs of host time against ``cupy.matmul``'s 27); None when the
    arrays are not of that kind (the caller then uses ``cupy.matmul``)."""
    dt = a.dtype
    if dt not in _SCALARS or b.dtype != dt or a.ndim != 2 or b.ndim != 2 or \
            not a.flags.c_contiguous or not b.flags.c_contiguous:
        return None
    m, k = (a.shape[1], a.shape[0]) if transpose_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if transpose_b else b.shape
    if k != kb or m == 0 or n == 0 or k == 0:
        return None
    c = cupy.empty((m, n), dt)
    one, zero = _SCALARS[dt]
    fn = cublas.sgemm if dt == np.float32 else cublas.dgemm
    # row-major C = A @ B is column-major C^T = B^T @ A^T: each C-ordered operand read
    # column-major is its own transpose, so the transposes swap roles
    fn(cupy.cuda.device.get_cublas_handle(),
       1 if transpose_b else 0, 1 if transpose_a else 0, n, m, k,
       one.ctypes.data, b.data.ptr, b.shape[1], a.data.ptr, a.shape[1],
       zero.ctypes.data, c.data.ptr, n)
    return c


# ----- one kernel for every SGD update of a step ---------------------------------------------
_BLOCK = 256


def multi_sgd_kernel(entries):
    """See ``compiler.fusion.multi_sgd``: one launch updates every variable.

    Each variable gets whole blocks of threads; a block finds its variable by binary search
    over the blocks' start indices (in constant memory), then each thread updates one
    element.  ``__fmul_rn`` keeps the product rounded on its own, as on the CPU, instead of
    contracting ``w - d * lr`` into a fused multiply-add.
    """
    key = ("sgd",) + tuple((n, str(dt), lr) for n, dt, lr in entries)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    params, cases, starts = [], [], []
    total = 0
    for i, (n, dt, lr) in enumerate(entries):
        ct = _CT[np.dtype(dt)]
        params += [f"{ct}* __restrict__ w{i}", f"const {ct}* __restrict__ d{i}"]
        if lr is None:
            params.append(f"const {ct}* __restrict__ r{i}")
            rate = f"r{i}[0]"
        else:
            rate = f"(({ct}){float(lr)!r})"
        mul = "__fmul_rn" if ct == "float" else "__dmul_rn"
        cases.append(f"    case {i}: if (j < {n}LL) w{i}[j] = w{i}[j] - {mul}(d{i}[j], {rate}); "
                     "break;")
        starts.append(total)
        total += max(1, math.ceil(n / _BLOCK))
    name = f"fg_multi_sgd_{abs(hash(key)) & 0xffffffffffff:x}"
    src = (f"__constant__ long long {name}_starts[{len(starts)}] = "
           f"{{{', '.join(str(s) for s in starts)}}};\n"
           f'extern "C" __global__ void {name}({", ".join(params)}) {{\n'
           "  long long b = blockIdx.x;\n"
           f"  int lo = 0, hi = {len(starts) - 1};\n"
           "  while (lo < hi) {\n"
           "    int mid = (lo + hi + 1) >> 1;\n"
           f"    if ({name}_starts[mid] <= b) lo = mid; else hi = mid - 1;\n"
           "  }\n"
           f"  long long j = (b - {name}_starts[lo]) * {_BLOCK} + threadIdx.x;\n"
           "  switch (lo) {\n" + "\n".join(cases) + "\n  }\n}\n")
    kern = cupy.RawKernel(src, name)
    grid, block = (total,), (_BLOCK,)

    def run(*args):
        kern(grid, block, args)
    run.source = src
    _cache[key] = run
    return run


# ----- softmax cross-entropy -----------------------------------------------------------------
_XENT = r"""
extern "C" __global__ void NAME(const T* __restrict__ f, const T* __restrict__ y,
                                T* __restrict__ loss, T* __restrict__ bp, int n, int k) {
  int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const T* fr = f + (long long)r * k;
  const T* yr = y + (long long)r * k;
  T* br = bp + (long long)r * k;
  T m = fr[0];
  for (int j = 1; j < k; ++j) m = fr[j] > m ? fr[j] : m;
  T s = 0, ysum = 0;
  for (int j = 0; j < k; ++j) { s += exp(fr[j] - m); ysum += yr[j]; }
  T lse = log(s), l = 0;
  for (int j = 0; j < k; ++j) {
    T z = fr[j] - m;
    l -= yr[j] * (z - lse);
    br[j] = exp(z) / s * ysum - yr[j];
  }
  loss[r] = l;
}
"""


def softmax_xent(features, labels):
    """``(loss, backprop)`` of ``SoftmaxCrossEntropyWithLogits`` in one launch (a thread per
    row), or None for arrays it does not take (not 2-D, not C-contiguous, other dtypes)."""
    dt = features.dtype
    if dt not in _CT or labels.dtype != dt or features.ndim != 2 or \
            labels.shape != features.shape or not features.flags.c_contiguous or \
            not labels.flags.c_contiguous or features.shape[1] == 0:
        return None
    key = ("xent", dt.str)
    kern = _cache.get(key)
    if kern is None:
        name = "fg_softmax_xent_" + _CT[dt]
        kern = _cache[key] = cupy.RawKernel(
            f"typedef {_CT[dt]} T;\n" + _XENT.replace("NAME", name), name)
    n, k = features.shape
    loss = cupy.empty((n,), dt)
    bp = cupy.empty((n, k), dt)
    if n:
        kern(((n + 127) // 128,), (128,), (features, labels, loss, bp, np.int32(n),
                                          np.int32(k)))
    return loss, bp
