"""CUDA kernels of MaxPool, MaxPoolGrad, AvgPool and AvgPoolGrad: generated CUDA C.

One thread per output element forward (per input element for AvgPoolGrad), reading NHWC
or NCHW arrays in place (no transposes), with TF's semantics exactly as the generic
kernels in ``pool_ops`` have them:

* MaxPool ignores SAME's padding cells (they count as -inf) and propagates NaN;
* MaxPoolGrad gives each window's gradient to the FIRST cell (row-major over the window,
  padding included) equal to the pooled output -- a window whose output is NaN, or whose
  first match is a padding cell, passes nothing on;
* AvgPool divides by the number of input cells in the window (SAME: padding excluded), and
  AvgPoolGrad spreads each gradient over those cells.

float32 and float64 run here; other dtypes and empty tensors run the generic kernel on
CuPy.  The sources are plain CUDA C (no headers), so they compile with NVRTC alone; the
tests compile every one of them for ``compute_90`` even without a GPU.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from flowgrad.ops.conv_geometry import spatial_axes, window

_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_BLOCK = 256

# Shared by every kernel: index helpers.  ``GEO`` in a kernel's parameters stands for the
# geometry (``_GEO_NAMES``: sizes, window, strides, dilations, leading padding, ``cl``);
# ``cl`` (channels last) picks the layout, in which every array is contiguous.  A thread's
# flat index enumerates elements in memory order, so neighbouring threads touch
# neighbouring addresses.
_COMMON = r"""
__device__ __forceinline__ void split(long long i, int cl, int C, int h, int w,
                                      int* n, int* c, int* y, int* x) {
    if (cl) {
        *c = (int)(i % C); i /= C;
        *x = (int)(i % w); i /= w;
        *y = (int)(i % h); *n = (int)(i / h);
    } else {
        *x = (int)(i % w); i /= w;
        *y = (int)(i % h); i /= h;
        *c = (int)(i % C); *n = (int)(i / C);
    }
}

__device__ __forceinline__ long long at(int cl, int C, int h, int w,
                                        int n, int c, int y, int x) {
    return cl ? (((long long)n * h + y) * w + x) * C + c
              : (((long long)n * C + c) * h + y) * w + x;
}
"""

_MAX_POOL = r"""
extern "C" __global__ void max_pool(const T* x, T* out, GEO, const T lowest,
                                    const long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int n, c, oy, ox;
    split(i, cl, C, OH, OW, &n, &c, &oy, &ox);
    T best = lowest;
    for (int a = 0; a < KH; ++a) {
        int y = oy * SH - PH + a * DH;
        if (y < 0 || y >= H) continue;
        for (int b = 0; b < KW; ++b) {
            int xx = ox * SW - PW + b * DW;
            if (xx < 0 || xx >= W) continue;
            T v = x[at(cl, C, H, W, n, c, y, xx)];
            if (v > best || v != v) best = v;      /* NaN wins and stays, as in maximum */
        }
    }
    out[i] = best;
}
"""

_MAX_POOL_GRAD = r"""
extern "C" __global__ void max_pool_grad(const T* x, const T* y, const T* dy, T* dx,
                                         GEO, const T lowest,
                                         const long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int n, c, oy, ox;
    split(i, cl, C, OH, OW, &n, &c, &oy, &ox);
    const T target = y[i];
    for (int a = 0; a < KH; ++a) {
        int r = oy * SH - PH + a * DH;
        for (int b = 0; b < KW; ++b) {
            int s = ox * SW - PW + b * DW;
            bool inside = r >= 0 && r < H && s >= 0 && s < W;
            T v = inside ? x[at(cl, C, H, W, n, c, r, s)] : lowest;
            if (v == target) {                     /* the first maximum takes it all */
                if (inside) atomicAdd(&dx[at(cl, C, H, W, n, c, r, s)], dy[i]);
                return;
            }
        }
    }
}
"""

_AVG_POOL = r"""
extern "C" __global__ void avg_pool(const T* x, T* out, GEO, const long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int n, c, oy, ox;
    split(i, cl, C, OH, OW, &n, &c, &oy, &ox);
    T sum = 0;
    int count = 0;
    for (int a = 0; a < KH; ++a) {
        int y = oy * SH - PH + a * DH;
        if (y < 0 || y >= H) continue;
        for (int b = 0; b < KW; ++b) {
            int xx = ox * SW - PW + b * DW;
            if (xx < 0 || xx >= W) continue;
            sum += x[at(cl, C, H, W, n, c, y, xx)];
            ++count;
        }
    }
    out[i] = sum / (T)count;
}
"""

_AVG_POOL_GRAD = r"""
/* input cells of output row o's window along one axis */
__device__ __forceinline__ int valid(int o, int k, int s, int d, int p, int size) {
    int count = 0;
    for (int a = 0; a < k; ++a) {
        int t = o * s - p + a * d;
        count += (t >= 0 && t < size);
    }
    return count;
}

extern "C" __global__ void avg_pool_grad(const T* dy, T* dx, GEO,
                                         const long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    int n, c, y, x;
    split(i, cl, C, H, W, &n, &c, &y, &x);
    T acc = 0;
    for (int a = 0; a < KH; ++a) {               /* the outputs whose window holds (y, x) */
        int t = y + PH - a * DH;
        if (t < 0 || t % SH) continue;
        int oy = t / SH;
        if (oy >= OH) continue;
        int ch = valid(oy, KH, SH, DH, PH, H);
        for (int b = 0; b < KW; ++b) {
            int u = x + PW - b * DW;
            if (u < 0 || u % SW) continue;
            int ox = u / SW;
            if (ox >= OW) continue;
            int cw = valid(ox, KW, SW, DW, PW, W);
            acc += dy[at(cl, C, OH, OW, n, c, oy, ox)] / (T)(ch * cw);
        }
    }
    dx[i] = acc;
}
"""

#: kernel name -> CUDA C source (after ``typedef <float|double> T;``)
SOURCES = {"max_pool": _COMMON + _MAX_POOL, "max_pool_grad": _COMMON + _MAX_POOL_GRAD,
           "avg_pool": _COMMON + _AVG_POOL, "avg_pool_grad": _COMMON + _AVG_POOL_GRAD}

_GEO_NAMES = ("N", "C", "H", "W", "OH", "OW", "KH", "KW", "SH", "SW", "DH", "DW", "PH", "PW",
              "cl")
_kernels: dict = {}


def source(name: str, dtype) -> str:
    """The full CUDA C source of kernel ``name`` for ``dtype`` (float32 or float64)."""
    geo = ", ".join(f"const int {v}" for v in _GEO_NAMES)
    return f"typedef {_CTYPES[np.dtype(dtype)]} T;\n" + SOURCES[name].replace("GEO", geo)


def enabled() -> bool:
    """On by default; ``$FLOWGRAD_CUDA_POOL=0`` runs the generic kernels on CuPy instead."""
    return os.environ.get("FLOWGRAD_CUDA_POOL", "1") != "0"


def _kernel(xp, name: str, dtype):
    key = (xp, name, dtype)           # per array module: CuPy, or a host stand-in in tests
    k = _kernels.get(key)
    if k is None:
        k = _kernels[key] = xp.RawKernel(source(name, dtype), name)
    return k


def _geometry(shape, ksize, strides, padding, data_format, dilations):
    """``(N, C, H, W)``, the two windows and the kernels' geometry arguments (``GEO``)."""
    ha, wa, ca = spatial_axes(data_format)
    n, c, h, w = (int(shape[0]), int(shape[ca]), int(shape[ha]), int(shape[wa]))
    wh = window(h, ksize[ha], strides[ha], dilations[ha], padding)
    ww = window(w, ksize[wa], strides[wa], dilations[wa], padding)
    geo = tuple(np.int32(v) for v in (n, c, h, w, wh.out, ww.out, wh.k, ww.k, wh.stride,
                                      ww.stride, wh.dilation, ww.dilation, wh.pad_before,
                                      ww.pad_before, data_format == "NHWC"))
    return (n, c, h, w), wh, ww, geo


def _out_shape(n, c, oh, ow, data_format) -> tuple:
    return (n, oh, ow, c) if data_format == "NHWC" else (n, c, oh, ow)


def _launch(xp, name, dtype, total, *args) -> None:
    blocks = (total + _BLOCK - 1) // _BLOCK
    _kernel(xp, name, dtype)((blocks,), (_BLOCK,), args + (np.int64(total),))


def _runs_here(dtype, *sizes) -> bool:
    return enabled() and np.dtype(dtype) in _CTYPES and all(s > 0 for s in sizes)


# ----- the kernels -----------------------------------------------------------------------
def _forward_kernel(name: str, generic: Callable, init_lowest: bool) -> Callable:
    """The CUDA kernel of a pooling forward op (``name``: max_pool or avg_pool); ``generic``
    (the op's own kernel) runs where it does not apply."""
    def pool_cuda(xp, value, *, ksize, strides, padding, data_format="NHWC",
                  dilations=(1, 1, 1, 1)):
        (n, c, h, w), wh, ww, geo = _geometry(value.shape, ksize, strides, padding,
                                              data_format, dilations)
        if _runs_here(value.dtype, n, c, h, w, wh.out, ww.out):
            out = xp.empty(_out_shape(n, c, wh.out, ww.out, data_format), dtype=value.dtype)
            lowest = (value.dtype.type(-np.inf),) if init_lowest else ()
            _launch(xp, name, value.dtype, out.size, xp.ascontiguousarray(value), out, *geo,
                    *lowest)
            return out
        return generic(xp, value, ksize=ksize, strides=strides, padding=padding,
                       data_format=data_format, dilations=dilations)

    pool_cuda.__name__ = name + "_cuda"
    return pool_cuda


def max_pool_kernel(generic: Callable) -> Callable:
    return _forward_kernel("max_pool", generic, True)


def max_pool_grad_kernel(generic: Callable) -> Callable:
    """The CUDA kernel of MaxPoolGrad; ``generic`` (the op's own kernel) runs where it does not
    apply."""
    def max_pool_grad_cuda(xp, orig_input, orig_output, grad, *, ksize, strides, padding,
                           data_format="NHWC", dilations=(1, 1, 1, 1)):
        (n, c, h, w), wh, ww, geo = _geometry(orig_input.shape, ksize, strides, padding,
                                              data_format, dilations)
        pooled = _out_shape(n, c, wh.out, ww.out, data_format)
        dt = orig_input.dtype
        if _runs_here(dt, n, c, h, w, wh.out, ww.out) and orig_output.dtype == dt and \
                grad.dtype == dt and tuple(orig_output.shape) == pooled and \
                tuple(grad.shape) == pooled:
            dx = xp.zeros(orig_input.shape, dtype=dt)
            _launch(xp, "max_pool_grad", dt, grad.size, xp.ascontiguousarray(orig_input),
                    xp.ascontiguousarray(orig_output), xp.ascontiguousarray(grad), dx, *geo,
                    dt.type(-np.inf))
            return dx
        return generic(xp, orig_input, orig_output, grad, ksize=ksize, strides=strides,
                       padding=padding, data_format=data_format, dilations=dilations)

    return max_pool_grad_cuda


def avg_pool_kernel(generic: Callable) -> Callable:
    return _forward_kernel("avg_pool", generic, False)


def avg_pool_grad_kernel(generic: Callable) -> Callable:
    """The CUDA kernel of AvgPoolGrad; ``generic`` (the op's own kernel) runs where it does not
    apply."""
    def avg_pool_grad_cuda(xp, orig_input_shape, grad, *, ksize, strides, padding,
                           data_format="NHWC", dilations=(1, 1, 1, 1)):
        shape = tuple(int(d) for d in orig_input_shape)
        (n, c, h, w), wh, ww, geo = _geometry(shape, ksize, strides, padding, data_format,
                                              dilations)
        if _runs_here(grad.dtype, n, c, h, w, wh.out, ww.out) and \
                tuple(grad.shape) == _out_shape(n, c, wh.out, ww.out, data_format):
            dx = xp.empty(shape, dtype=grad.dtype)
            _launch(xp, "avg_pool_grad", grad.dtype, dx.size, xp.ascontiguousarray(grad), dx,
                    *geo)
            return dx
        return generic(xp, orig_input_shape, grad, ksize=ksize, strides=strides,
                       padding=padding, data_format=data_format, dilations=dilations)

    return avg_pool_grad_cuda
