"""numba kernels behind ``cpu_jit`` (importing this module imports numba).

All take C-contiguous NHWC arrays of one float dtype and the window geometry as plain
ints (``kh, kw`` kernel size, ``sh, sw`` strides, ``dh, dw`` dilations, ``pt, pl`` the
padding before the first row and column); padding cells count as ``-inf``, as in the numpy
kernels.  Loops are written branch-free where the data decides (selects, not jumps), so
that ties and random data cost the same.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_WIDE = 8      # channels from which the max-pool gradient runs the channels innermost


@njit(cache=True, nogil=True)
def max_pool(x, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow):
    """Separable, as the numpy kernel: a window's rows folded into one row buffer (runs of
    ``W*C`` elements), then its columns; NaN propagates as with ``np.maximum``."""
    n, h, w, c = x.shape
    y = np.empty((n, oh, ow, c), x.dtype)
    xf = x.reshape(n * h, w * c)
    yf = y.reshape(n * oh, ow * c)
    low = x.dtype.type(-np.inf)
    row = np.empty(w * c, x.dtype)
    for b in range(n):
        for i in range(oh):
            first = True
            for p in range(kh):
                r = i * sh - pt + p * dh
                if r < 0 or r >= h:
                    continue
                src = xf[b * h + r]
                if first:
                    row[:] = src
                    first = False
                else:
                    for t in range(w * c):
                        v = src[t]
                        a = row[t]
                        row[t] = v if (v > a or v != v) else a
            if first:
                row[:] = low
            dst = yf[b * oh + i]
            for j in range(ow):
                s0 = j * sw - pl
                o = j * c
                for ch in range(c):
                    dst[o + ch] = low
                for q in range(kw):
                    s = s0 + q * dw
                    if s < 0 or s >= w:
                        continue
                    base = s * c
                    for ch in range(c):
                        v = row[base + ch]
                        a = dst[o + ch]
                        dst[o + ch] = v if (v > a or v != v) else a
    return y


@njit(cache=True, nogil=True)
def max_pool_grad(x, y, dy, kh, kw, sh, sw, dh, dw, pt, pl):
    """Each ``dy`` goes to the first cell (row-major in its window, padding included) equal
    to the pooled value ``y``; a padding cell that matches (a window whose valid cells are
    all ``-inf``) takes it away, as in the numpy kernel.  Windows that tile the input store
    (every cell is written once), overlapping ones add into zeros."""
    n, h, w, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    disjoint = (kh == sh and kw == sw and dh == 1 and dw == 1 and pt == 0 and pl == 0
                and h == oh * kh and w == ow * kw)
    dx = np.empty_like(x) if disjoint else np.zeros_like(x)
    xf = x.reshape(n * h, w * c)
    dxf = dx.reshape(n * h, w * c)
    yf = y.reshape(n * oh, ow * c)
    gf = dy.reshape(n * oh, ow * c)
    low = x.dtype.type(-np.inf)
    zero = x.dtype.type(0)
    free = np.empty(c, np.bool_)
    x1 = x.reshape(-1)
    dx1 = dx.reshape(-1)
    taps = kh * kw
    offs = np.empty(taps, np.int64)
    for p in range(kh):
        for q in range(kw):
            offs[p * kw + q] = (p * dh * w + q * dw) * c
    for b in range(n):
        for i in range(oh):
            yrow = yf[b * oh + i]
            grow = gf[b * oh + i]
            r0 = i * sh - pt
            rfull = r0 >= 0 and r0 + (kh - 1) * dh < h
            for j in range(ow):
                o = j * c
                s0 = j * sw - pl
                if rfull and s0 >= 0 and s0 + (kw - 1) * dw < w:
                    # every tap inside, no jumps on the data: with few channels one channel
                    # at a time over the taps; with many, the taps outer and the channels
                    # (contiguous, vectorized) inner
                    wb = ((b * h + r0) * w + s0) * c
                    if c < _WIDE:
                        for ch in range(c):
                            yv = yrow[o + ch]
                            g = grow[o + ch]
                            f = True
                            for t in range(taps):
                                k = wb + ch + offs[t]
                                hit = (x1[k] == yv) & f
                                if disjoint:
                                    dx1[k] = g if hit else zero
                                else:
                                    dx1[k] += g if hit else zero
                                f = f & (not hit)
                        continue
                    for ch in range(c):
                        free[ch] = True
                    for t in range(taps):
                        kb = wb + offs[t]
                        for ch in range(c):
                            hit = (x1[kb + ch] == yrow[o + ch]) & free[ch]
                            if disjoint:
                                dx1[kb + ch] = grow[o + ch] if hit else zero
                            else:
                                dx1[kb + ch] += grow[o + ch] if hit else zero
                            free[ch] = free[ch] & (not hit)
                    continue
                for ch in range(c):
                    free[ch] = True
                for p in range(kh):
                    r = r0 + p * dh
                    rok = r >= 0 and r < h
                    for q in range(kw):
                        s = s0 + q * dw
                        if rok and s >= 0 and s < w:
                            base = s * c
                            for ch in range(c):
                                hit = free[ch] and xf[b * h + r, base + ch] == yrow[o + ch]
                                dxf[b * h + r, base + ch] += grow[o + ch] if hit else zero
                                free[ch] = free[ch] and not hit
                        else:
                            for ch in range(c):
                                free[ch] = free[ch] and not (yrow[o + ch] == low)
    return dx
