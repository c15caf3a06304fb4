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

import ctypes
import math

import cupy
import numpy as np

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


class _Cublas:
    """``cublasSetStream_v2`` / ``cublasSgemm_v2`` / ``cublasDgemm_v2`` of the libcublas that
    CuPy loaded, called through ctypes.  CuPy's own wrappers refuse every cuBLAS call while
    a stream is being captured; cuBLAS itself records GEMMs into CUDA graphs, so a step
    whose GEMMs go through here can be replayed as one graph.  ``None`` entries where the
    library cannot be found (CuPy's wrappers are then used)."""

    def __init__(self) -> None:
        from cupy_backends.cuda.libs import cublas  # noqa: PLC0415 - loads libcublas
        self.cupy = cublas
        self.set_stream = self.gemm = None
        try:
            with open("/proc/self/maps") as f:
                paths = {ln.split()[-1] for ln in f if "/libcublas.so" in ln}
            lib = ctypes.CDLL(sorted(paths)[0])
        except (OSError, IndexError):
            return
        vp, i = ctypes.c_void_p, ctypes.c_int
        lib.cublasSetStream_v2.argtypes = [vp, vp]
        self.set_stream = lib.cublasSetStream_v2
        self.gemm = {}
        for dt, name in ((np.dtype(np.float32), "cublasSgemm_v2"),
                         (np.dtype(np.float64), "cublasDgemm_v2")):
            fn = getattr(lib, name)
            fn.argtypes = [vp, i, i, i, i, i, vp, vp, i, vp, i, vp, vp, i]
            self.gemm[dt] = fn


_blas: list = []


def _check(status: int, what: str) -> None:
    if status:
        raise RuntimeError(f"{what} failed with cuBLAS status {status}")


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
    if not _blas:
        _blas.append(_Cublas())
    blas = _blas[0]
    c = cupy.empty((m, n), dt)
    one, zero = _SCALARS[dt]
    handle = cupy.cuda.device.get_cublas_handle()
    stream = cupy.cuda.get_current_stream().ptr
    # row-major C = A @ B is column-major C^T = B^T @ A^T: each C-ordered operand read
    # column-major is its own transpose, so the transposes swap roles
    args = (handle, 1 if transpose_b else 0, 1 if transpose_a else 0, n, m, k,
            one.ctypes.data, b.data.ptr, b.shape[1], a.data.ptr, a.shape[1],
            zero.ctypes.data, c.data.ptr, n)
    if blas.gemm is not None:
        _check(blas.set_stream(handle, stream), "cublasSetStream")
        _check(blas.gemm[dt](*args), "cublas gemm")
    else:
        blas.cupy.setStream(handle, stream)
        (blas.cupy.sgemm if dt == np.float32 else blas.cupy.dgemm)(*args)
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


_SPARSE_XENT = r"""
extern "C" __global__ void NAME(const T* __restrict__ f, const L* __restrict__ y,
                                T* __restrict__ loss, T* __restrict__ bp, int n, int k) {
  int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const T* fr = f + (long long)r * k;
  T* br = bp + (long long)r * k;
  long long lab = (long long)y[r];
  if (lab < 0 || lab >= k) {          // as TF on a GPU: no error, the row is NaN
    T zero = 0, nan = zero / zero;
    for (int j = 0; j < k; ++j) br[j] = nan;
    loss[r] = nan;
    return;
  }
  T m = fr[0];
  for (int j = 1; j < k; ++j) m = fr[j] > m ? fr[j] : m;
  T s = 0;
  for (int j = 0; j < k; ++j) s += exp(fr[j] - m);
  for (int j = 0; j < k; ++j) br[j] = exp(fr[j] - m) / s - (j == lab ? (T)1 : (T)0);
  loss[r] = log(s) - (fr[lab] - m);
}
"""
_LABEL_CT = {np.dtype(np.int32): "int", np.dtype(np.int64): "long long"}


def sparse_softmax_xent(features, labels):
    """``(loss, backprop)`` of ``SparseSoftmaxCrossEntropyWithLogits`` in one launch, with
    TF's GPU semantics for a label outside ``[0, classes)``: that row's loss and backprop
    are NaN (no error: checking would read the labels back to the host every step, and a
    step that reads back cannot be replayed as a CUDA graph).  None for arrays it does not
    take."""
    dt = features.dtype
    if dt not in _CT or labels.dtype not in _LABEL_CT or features.ndim != 2 or \
            labels.shape != features.shape[:1] or not features.flags.c_contiguous or \
            features.shape[1] == 0:
        return None
    key = ("sparse_xent", dt.str, labels.dtype.str)
    kern = _cache.get(key)
    if kern is None:
        name = f"fg_sparse_xent_{_CT[dt]}_{labels.dtype.itemsize}"
        kern = _cache[key] = cupy.RawKernel(
            f"typedef {_CT[dt]} T;\ntypedef {_LABEL_CT[labels.dtype]} L;\n"
            + _SPARSE_XENT.replace("NAME", name), name)
    n, k = features.shape
    loss = cupy.empty((n,), dt)
    bp = cupy.empty((n, k), dt)
    if n:
        kern(((n + 127) // 128,), (128,), (features, cupy.ascontiguousarray(labels), loss,
                                          bp, np.int32(n), np.int32(k)))
    return loss, bp


# ----- batch normalization (training, channels last) -------------------------------------------
_BN_SRC = r"""
#define TX 32
#define TY 8
// Per (group of rows, channel): count/mean/M2 of x, or the sums of dy and of
// dy * (x - mu).  Threads along x take consecutive channels (coalesced reads of a row);
// threads along y take every TY-th row of the group, four rows per iteration (four loads
// in flight); a block then combines its TY partials in a fixed order, so results repeat
// bit for bit.  The statistics are sums of x - k and (x - k)^2 with k one of the group's
// own values (the shifted-data form: no cancellation when the mean is far from 0, and no
// division per element as Welford's update has).
extern "C" __global__ void fg_bn_stats(const T* __restrict__ x, long long m, int c,
                                       long long rows, T* __restrict__ pmean,
                                       T* __restrict__ pm2, long long* __restrict__ pn) {
  int ch = blockIdx.x * TX + threadIdx.x;
  long long r0 = (long long)blockIdx.y * rows, r1 = min(r0 + rows, m);
  T s1 = 0, s2 = 0, k = 0;
  long long n = 0;
  if (ch < c && r0 < r1) {
    k = x[r0 * c + ch];
    long long r = r0 + threadIdx.y;
    for (; r + 3 * TY < r1; r += 4 * TY) {
      T a0 = x[r * c + ch] - k, a1 = x[(r + TY) * c + ch] - k;
      T a2 = x[(r + 2 * TY) * c + ch] - k, a3 = x[(r + 3 * TY) * c + ch] - k;
      s1 += a0; s1 += a1; s1 += a2; s1 += a3;
      s2 += a0 * a0; s2 += a1 * a1; s2 += a2 * a2; s2 += a3 * a3;
      n += 4;
    }
    for (; r < r1; r += TY) {
      T a0 = x[r * c + ch] - k;
      s1 += a0; s2 += a0 * a0; n += 1;
    }
  }
  __shared__ T s_1[TY][TX], s_2[TY][TX];
  __shared__ long long s_n[TY][TX];
  s_1[threadIdx.y][threadIdx.x] = s1;
  s_2[threadIdx.y][threadIdx.x] = s2;
  s_n[threadIdx.y][threadIdx.x] = n;
  __syncthreads();
  if (threadIdx.y != 0 || ch >= c) return;
  for (int j = 1; j < TY; ++j) {
    s1 += s_1[j][threadIdx.x]; s2 += s_2[j][threadIdx.x]; n += s_n[j][threadIdx.x];
  }
  T mean = 0, m2 = 0;
  if (n > 0) {
    T d = s1 / (T)n;
    mean = k + d;
    m2 = s2 - s1 * d;
    if (m2 < 0) m2 = 0;
  }
  long long o = (long long)blockIdx.y * c + ch;
  pmean[o] = mean; pm2[o] = m2; pn[o] = n;
}

extern "C" __global__ void fg_bn_finalize(const T* __restrict__ pmean,
    const T* __restrict__ pm2, const long long* __restrict__ pn, int groups, int c,
    long long m, const T* __restrict__ scale, const T* __restrict__ mean_in,
    const T* __restrict__ var_in, T eps, T factor, T* __restrict__ mu_out,
    T* __restrict__ k_out, T* __restrict__ bm, T* __restrict__ bv, T* __restrict__ var_out) {
  int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  T mean = 0, m2 = 0;
  long long n = 0;
  for (int g = 0; g < groups; ++g) {
    long long o = (long long)g * c + ch, nb = pn[o];
    if (nb == 0) continue;
    long long nt = n + nb;
    T delta = pmean[o] - mean;
    mean += delta * (T)nb / (T)nt;
    m2 += pm2[o] + delta * delta * (T)n * (T)nb / (T)nt;
    n = nt;
  }
  T mm = (T)(m > 1 ? m : 1);
  T var = m2 / mm;
  mu_out[ch] = mean;
  var_out[ch] = var;
  k_out[ch] = scale[ch] / sqrt(var + eps);
  T unbiased = var * (T)((double)m / (double)(m > 1 ? m - 1 : 1));
  if (factor == (T)1) { bm[ch] = mean; bv[ch] = unbiased; }
  else {
    bm[ch] = ((T)1 - factor) * mean_in[ch] + factor * mean;
    bv[ch] = ((T)1 - factor) * var_in[ch] + factor * unbiased;
  }
}

extern "C" __global__ void fg_bn_grad_stats(const T* __restrict__ dy,
    const T* __restrict__ x, const T* __restrict__ mu, long long m, int c, long long rows,
    T* __restrict__ psum, T* __restrict__ psumx) {
  int ch = blockIdx.x * TX + threadIdx.x;
  long long r0 = (long long)blockIdx.y * rows, r1 = min(r0 + rows, m);
  T s = 0, sx = 0;
  if (ch < c) {
    T u = mu[ch];
#pragma unroll 4
    for (long long r = r0 + threadIdx.y; r < r1; r += TY) {
      T g = dy[r * c + ch];
      s += g;
      sx += g * (x[r * c + ch] - u);
    }
  }
  __shared__ T a[TY][TX], b[TY][TX];
  a[threadIdx.y][threadIdx.x] = s;
  b[threadIdx.y][threadIdx.x] = sx;
  __syncthreads();
  if (threadIdx.y != 0 || ch >= c) return;
  for (int j = 1; j < TY; ++j) { s += a[j][threadIdx.x]; sx += b[j][threadIdx.x]; }
  long long o = (long long)blockIdx.y * c + ch;
  psum[o] = s; psumx[o] = sx;
}

extern "C" __global__ void fg_bn_grad_finalize(const T* __restrict__ psum,
    const T* __restrict__ psumx, int groups, int c, long long m,
    const T* __restrict__ scale, const T* __restrict__ var, T eps,
    T* __restrict__ dscale, T* __restrict__ doffset, T* __restrict__ ca,
    T* __restrict__ cb, T* __restrict__ cc) {
  int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= c) return;
  T s = 0, sx = 0;
  for (int g = 0; g < groups; ++g) { s += psum[(long long)g * c + ch];
                                     sx += psumx[(long long)g * c + ch]; }
  T inv = (T)1 / sqrt(var[ch] + eps);
  T k = scale[ch] * inv;
  T mm = (T)(m > 1 ? m : 1);
  dscale[ch] = sx * inv;
  doffset[ch] = s;
  ca[ch] = -(k * inv * inv * sx / mm);
  cb[ch] = k;
  cc[ch] = k * s / mm;
}
"""
_BN_NORMALIZE = ("T x, T mu, T k, T offset", "T y", "T d = x - mu; d = d * k; y = d + offset;",
                 "fg_bn_normalize")
_BN_DX = ("T dy, T x, T mu, T a, T b, T c", "T dx",
          "T d = x - mu; d = d * a; d = d + dy * b; dx = d - c;", "fg_bn_dx")


def _bn_module(dt):
    key = ("bn", dt.str)
    mod = _cache.get(key)
    if mod is None:
        mod = _cache[key] = cupy.RawModule(
            code=f"typedef {_CT[dt]} T;\n" + _BN_SRC, options=("--fmad=false",))
    return mod


def _bn_ew(spec):
    k = _cache.get(spec[3])
    if k is None:
        k = _cache[spec[3]] = cupy.ElementwiseKernel(*spec, options=("--fmad=false",))
    return k


def _bn_groups(m: int, c: int) -> tuple[int, int]:
    """(groups of rows, rows per group): about eight blocks per multiprocessor in all
    (an H100/H200 has 132), enough loads in flight to run at memory speed."""
    cb = (c + 31) // 32
    groups = max(1, min((1056 + cb - 1) // cb, (m + 63) // 64))
    rows = (m + groups - 1) // groups
    return (m + rows - 1) // rows if m else 1, max(rows, 1)


def _bn_rows(x, *params):
    dt = x.dtype
    if dt not in _CT or x.ndim < 2 or not x.flags.c_contiguous or \
            any(p.dtype != dt or p.ndim != 1 or p.shape[0] != x.shape[-1] or
                not p.flags.c_contiguous for p in params):
        return None
    return x.reshape(-1, x.shape[-1])


def batch_norm_train(x, scale, offset, mean, variance, epsilon: float, factor: float):
    """``FusedBatchNormV3``'s training outputs for channels-last ``x`` in three launches
    (statistics by row groups, per-channel finalize, normalize), or None for arrays it does
    not take (other layouts or dtypes: the caller's generic kernel then runs)."""
    if factor == 1.0 and (mean.size == 0 or variance.size == 0):
        mean = variance = scale         # TF's empty running statistics: not read at factor 1
    x2 = _bn_rows(x, scale, offset, mean, variance)
    if x2 is None:
        return None
    dt = x.dtype
    m, c = x2.shape
    groups, rows = _bn_groups(m, c)
    mod = _bn_module(dt)
    pmean = cupy.empty((groups, c), dt)
    pm2 = cupy.empty((groups, c), dt)
    pn = cupy.empty((groups, c), np.int64)
    mod.get_function("fg_bn_stats")(((c + 31) // 32, groups), (32, 8),
                                    (x2, np.int64(m), np.int32(c), np.int64(rows), pmean, pm2,
                                     pn))
    mu, k, bm, bv, var = (cupy.empty((c,), dt) for _ in range(5))
    t = dt.type
    mod.get_function("fg_bn_finalize")(((c + 127) // 128,), (128,),
                                       (pmean, pm2, pn, np.int32(groups), np.int32(c),
                                        np.int64(m), scale, mean, variance, t(epsilon),
                                        t(factor), mu, k, bm, bv, var))
    y = _bn_ew(_BN_NORMALIZE)(x2, mu, k, offset).reshape(x.shape)
    return y, bm, bv, mu, var, cupy.zeros(0, dt)


def batch_norm_grad_train(dy, x, scale, mu, var, epsilon: float):
    """``FusedBatchNormGradV3``'s training outputs in three launches (sums of dy and
    dy * (x - mu) by row groups, per-channel coefficients, dx), or None (see above)."""
    x2 = _bn_rows(x, scale, mu, var)
    if x2 is None or dy.shape != x.shape or dy.dtype != x.dtype or not dy.flags.c_contiguous:
        return None
    dt = x.dtype
    dy2 = dy.reshape(x2.shape)
    m, c = x2.shape
    groups, rows = _bn_groups(m, c)
    mod = _bn_module(dt)
    ps = cupy.empty((groups, c), dt)
    psx = cupy.empty((groups, c), dt)
    mod.get_function("fg_bn_grad_stats")(((c + 31) // 32, groups), (32, 8),
                                         (dy2, x2, mu, np.int64(m), np.int32(c),
                                          np.int64(rows), ps, psx))
    dscale, doffset, ca, cb, cc = (cupy.empty((c,), dt) for _ in range(5))
    mod.get_function("fg_bn_grad_finalize")(((c + 127) // 128,), (128,),
                                            (ps, psx, np.int32(groups), np.int32(c),
                                             np.int64(m), scale, var, dt.type(epsilon),
                                             dscale, doffset, ca, cb, cc))
    dx = _bn_ew(_BN_DX)(dy2, x2, mu, ca, cb, cc).reshape(x.shape)
    empty = cupy.zeros(0, dt)
    return dx, dscale, doffset, empty, empty.copy()


# ----- whole steps as CUDA graphs ----------------------------------------------------------
class Replay:
    """A specialized plan recorded once as a CUDA graph and replayed: one launch per step.

    Recording runs the plan's Python once on a capturing stream, with a memory pool of its
    own, so every buffer the step uses keeps its address for the graph's lifetime and no
    other allocation can be handed one of them.  A replay copies the fed values into the
    recorded input buffers, launches the graph and returns the recorded output buffers
    (the caller copies them to the host).  The variables' buffers are recorded too, so a
    replay is only valid while the session's store holds the same arrays (``valid``).
    """

    def __init__(self, graph, stream, inputs, outputs, pool, store_snapshot) -> None:
        self.graph, self.stream, self.inputs, self.outputs = graph, stream, inputs, outputs
        self.pool, self.snapshot = pool, store_snapshot

    def valid(self, store: dict) -> bool:
        return all(store.get(k) is v for k, v in self.snapshot)

    def run(self, feed_values):
        for buf, v in zip(self.inputs, feed_values):
            if isinstance(v, cupy.ndarray):
                cupy.copyto(buf, v)
            else:
                buf.set(np.asarray(v, order="C"))     # ascontiguousarray makes 0-d 1-d
        self.graph.launch(stream=self.stream)
        return self.outputs


#: how recordings went in this process: counts, and why captures were refused
replay_stats: dict = {"recorded": 0, "refused": {}}


def _refused(reason: str) -> None:
    replay_stats["refused"][reason] = replay_stats["refused"].get(reason, 0) + 1


def record(fn, feed_values, store: dict):
    """``Replay`` of ``fn(*feeds)``, or None when the step cannot be captured (it reads a
    device value on the host, or a library call refuses capture): the caller then goes on
    running the plan as before.  Nothing of the step runs while it is recorded."""
    pool = cupy.cuda.MemoryPool()
    stream = cupy.cuda.Stream(non_blocking=False)
    with cupy.cuda.using_allocator(pool.malloc):
        inputs = [cupy.empty(v.shape, v.dtype) for v in feed_values]
    snapshot = list(store.items())
    graph = None
    try:
        with cupy.cuda.using_allocator(pool.malloc), stream:
            stream.begin_capture()
            try:
                outputs = fn(*inputs)
            finally:
                graph = stream.end_capture()
    except Exception as e:  # noqa: BLE001 - any refusal means: not capturable, run as before
        _refused(f"{type(e).__name__}: {str(e)[:200]}")
        return None
    if graph is None or any(store.get(k) is not v for k, v in snapshot):
        _refused("the recorded step replaced a variable's buffer")
        return None
    replay_stats["recorded"] += 1
    return Replay(graph, stream, inputs, tuple(outputs), pool, snapshot)
