"""Window geometry and the im2col / col2im kernels shared by convolutions and pooling.

Every kernel works on NHWC arrays (NCHW callers transpose at the boundary).  A sliding
window over a padded input is a strided *view* ``(N, OH, OW, KH, KW, C)``; convolution
copies it once into a patch matrix and multiplies by the filter with one GEMM, pooling
reduces it directly.  Gradients scatter back with one strided add per kernel offset
(``KH * KW`` array operations, never a loop over pixels).

Padding follows TensorFlow: ``SAME`` gives ``ceil(n / stride)`` outputs and puts the odd
padding cell after the input, ``VALID`` uses no padding, ``EXPLICIT`` takes the
``(before, after)`` pairs given.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Window(NamedTuple):
    """One spatial axis: kernel size, stride, dilation, output size and padding."""

    k: int
    stride: int
    dilation: int
    out: int
    pad_before: int
    pad_after: int

    @property
    def span(self) -> int:
        """Extent of the dilated kernel."""
        return (self.k - 1) * self.dilation + 1

    def offset(self, i: int) -> slice:
        """The input rows that kernel offset ``i`` touches, for all outputs (padded coords)."""
        start = i * self.dilation
        return slice(start, start + (self.out - 1) * self.stride + 1, self.stride)


def window(n: int, k: int, stride: int, dilation: int, padding: str,
           explicit: tuple[int, int] = (0, 0)) -> Window:
    """The geometry of one spatial axis of size ``n`` (TF's output size and padding rule)."""
    span = (k - 1) * dilation + 1
    if padding == "SAME":
        out = -(-n // stride)
        total = max((out - 1) * stride + span - n, 0)
        before, after = total // 2, total - total // 2
    elif padding == "VALID":
        out = max(-(-(n - span + 1) // stride), 0)
        before = after = 0
    else:
        before, after = explicit
        out = max((n + before + after - span) // stride + 1, 0)
    return Window(k, stride, dilation, out, before, after)


def out_size(n: int | None, k: int | None, stride: int, dilation: int, padding: str,
             explicit: tuple[int, int] = (0, 0)) -> int | None:
    """Static output size (None when the input size or kernel size is unknown)."""
    if n is None or k is None:
        return None
    return window(n, k, stride, dilation, padding, explicit).out


def pad_nhwc(xp, x, wh: Window, ww: Window, value=0):
    """``x`` with the windows' padding around H and W (``x`` itself when there is none)."""
    if not _padded(wh, ww):
        return x
    n, h, w, c = x.shape
    out = xp.full((n, h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after, c),
                  value, dtype=x.dtype)
    out[:, wh.pad_before:wh.pad_before + h, ww.pad_before:ww.pad_before + w] = x
    return out


def patches(xp, xpad, wh: Window, ww: Window):
    """The strided view ``(N, OH, OW, KH, KW, C)`` of every window of a padded input."""
    n, _, _, c = xpad.shape
    s0, s1, s2, s3 = xpad.strides
    return xp.lib.stride_tricks.as_strided(
        xpad, (n, wh.out, ww.out, wh.k, ww.k, c),
        (s0, s1 * wh.stride, s2 * ww.stride, s1 * wh.dilation, s2 * ww.dilation, s3))


def im2col(xp, xpad, wh: Window, ww: Window):
    """The patch matrix ``(N*OH*OW, KH*KW*C)`` (rows: output pixels; columns: HWC taps).

    With one input channel the matrix is built tap-major (one contiguous copy per kernel
    offset) and returned as a transposed view, which BLAS takes without a copy; with
    several channels one copy of the strided window view is faster.
    """
    n, _, _, c = xpad.shape
    m = n * wh.out * ww.out
    if c == 1:
        cols = xp.empty((wh.k, ww.k, n, wh.out, ww.out), dtype=xpad.dtype)
        x2 = xpad[..., 0]
        for i in range(wh.k):
            for j in range(ww.k):
                cols[i, j] = x2[:, wh.offset(i), ww.offset(j)]
        return cols.reshape(wh.k * ww.k, m).T
    return xp.ascontiguousarray(patches(xp, xpad, wh, ww)).reshape(m, wh.k * ww.k * c)


# ----- the two GEMM formulations of a convolution ----------------------------------------
# ``im2col``: one row per output pixel, one column per (kh, kw, ci) tap: exact FLOPs, but a
# KH*KW-fold copy of the input and a GEMM only ``co`` columns wide (BLAS runs a 6-column
# GEMM at a sixth of its speed).  ``rows``: each kernel row is a banded (Toeplitz) matrix
# over the whole padded width, so the copy is KH-fold over rows only and the GEMM is
# ``OW*CO`` wide -- at ``Wp/KW`` times the FLOPs.  Small images with few channels (LeNet)
# run 1.5-4x faster by rows; anything wide (ResNet) must use im2col.
_COPY_COST = 46          # one copied element costs about as much as 46 GEMM FLOPs at peak
_NARROW = 32             # GEMMs narrower than this many columns run at n/_NARROW of peak
_ROWS_MAX_ELEMENTS = 1 << 22
#: "auto" (the cost model), or "rows" / "im2col" to force one formulation (tests, tuning)
ALGORITHM = "auto"


def prefer_rows(n: int, c: int, co: int, wp: int, wh: Window, ww: Window) -> bool:
    """Whether the Toeplitz-rows formulation is cheaper for this convolution (cost model)."""
    if ALGORITHM != "auto":
        return ALGORITHM == "rows"
    m, k = n * wh.out * ww.out, wh.k * ww.k * c
    im2col_cost = 2 * m * k * co / min(1.0, co / _NARROW) + _COPY_COST * m * k
    rows_k, rows_n = wh.k * wp * c, ww.out * co
    if rows_k * rows_n > _ROWS_MAX_ELEMENTS:
        return False
    rows_cost = 2 * n * wh.out * rows_k * rows_n + _COPY_COST * n * wh.out * rows_k
    return rows_cost < im2col_cost


def row_patches(xp, xpad, wh: Window):
    """``(N*OH, KH*Wp*C)``: for each output row, the KH padded input rows it reads."""
    xpad = xp.ascontiguousarray(xpad)
    n, _, wp, c = xpad.shape
    s0, s1, _, s3 = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, (n, wh.out, wh.k, wp * c), (s0, s1 * wh.stride, s1 * wh.dilation, s3))
    return xp.ascontiguousarray(view).reshape(n * wh.out, wh.k * wp * c)


def toeplitz(xp, filt, ww: Window, wp: int):
    """``(KH*Wp*CI, OW*CO)``: the filter as one banded matrix per kernel row, mapping a padded
    input row (``Wp*CI``) to an output row (``OW*CO``)."""
    kh, kw, ci, co = filt.shape
    t = xp.zeros((kh, wp, ci, ww.out, co), dtype=filt.dtype)
    ow = xp.arange(ww.out)
    for j in range(kw):
        t[:, ow * ww.stride + j * ww.dilation, :, ow, :] = filt[:, j]
    return t.reshape(kh * wp * ci, ww.out * co)


def untoeplitz(xp, g, fshape, ww: Window, wp: int):
    """Adjoint of ``toeplitz``: sums a ``(KH*Wp*CI, OW*CO)`` gradient back to ``fshape``."""
    kh, kw, ci, co = fshape
    g = xp.ascontiguousarray(g).reshape(kh, wp, ci, ww.out, co)
    s0, s1, s2, s3, s4 = g.strides
    band = xp.lib.stride_tricks.as_strided(
        g, (kh, kw, ci, ww.out, co), (s0, s1 * ww.dilation, s2, s1 * ww.stride + s3, s4))
    return band.sum(axis=3)


def unrow(xp, p, shape, wh: Window, ww: Window):
    """Adjoint of ``row_patches``: adds ``(N, OH, KH, Wp*C)`` back into NHWC ``shape``."""
    n, h, w, c = shape
    hp, wp = h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after
    dxpad = xp.zeros((n, hp, wp * c), dtype=p.dtype)
    for i in range(wh.k):
        dxpad[:, wh.offset(i)] += p[:, :, i]
    return crop(xp, dxpad.reshape(n, hp, wp, c), shape, wh, ww)


def conv_forward(xp, x, filt, wh: Window, ww: Window):
    """NHWC convolution ``(N, OH, OW, CO)`` of ``x`` by an HWIO filter."""
    n, h, w, c = x.shape
    kh, kw, ci, co = filt.shape
    if kh == kw == 1 and wh.stride == ww.stride == 1 and not _padded(wh, ww):
        return xp.matmul(x.reshape(n * h * w, c), filt.reshape(ci, co)).reshape(n, h, w, co)
    xpad = pad_nhwc(xp, x, wh, ww)
    wp = xpad.shape[2]
    if prefer_rows(n, c, co, wp, wh, ww):
        y = xp.matmul(row_patches(xp, xpad, wh), toeplitz(xp, filt, ww, wp))
    else:
        y = xp.matmul(im2col(xp, xpad, wh, ww), filt.reshape(kh * kw * ci, co))
    return y.reshape(n, wh.out, ww.out, co)


def conv_filter_grad(xp, x, dy, fshape, wh: Window, ww: Window):
    """``dW`` (HWIO ``fshape``) of an NHWC convolution, given the output gradient ``dy``."""
    n, h, w, c = x.shape
    kh, kw, ci, co = fshape
    xpad = pad_nhwc(xp, x, wh, ww)
    wp = xpad.shape[2]
    if prefer_rows(n, c, co, wp, wh, ww):
        g = xp.matmul(row_patches(xp, xpad, wh).T, dy.reshape(n * wh.out, ww.out * co))
        return untoeplitz(xp, g, fshape, ww, wp)
    cols = im2col(xp, xpad, wh, ww)
    return xp.matmul(cols.T, dy.reshape(-1, co)).reshape(kh, kw, ci, co)


def conv_input_grad(xp, dy, filt, shape, wh: Window, ww: Window):
    """``dx`` (NHWC ``shape``) of a convolution, given the output gradient ``dy``."""
    n, h, w, c = shape
    kh, kw, ci, co = filt.shape
    wp = w + ww.pad_before + ww.pad_after
    if prefer_rows(n, c, co, wp, wh, ww):
        p = xp.matmul(dy.reshape(n * wh.out, ww.out * co), toeplitz(xp, filt, ww, wp).T)
        return unrow(xp, p.reshape(n, wh.out, kh, wp * c), shape, wh, ww)
    # one batched GEMM, tap-major: taps[i, j] is the (N, OH, OW, C) contribution of kernel
    # offset (i, j); contiguous per tap, so col2im adds whole blocks
    taps = xp.matmul(dy.reshape(1, -1, co), filt.reshape(kh * kw, ci, co).transpose(0, 2, 1))
    return col2im_taps(xp, taps.reshape(kh, kw, n, wh.out, ww.out, c), shape, wh, ww)


def _padded(wh: Window, ww: Window) -> bool:
    return bool(wh.pad_before or wh.pad_after or ww.pad_before or ww.pad_after)


def col2im(xp, dpatches, shape, wh: Window, ww: Window):
    """Adjoint of ``patches``: sums ``(N, OH, OW, KH, KW, C)`` back into an NHWC ``shape``."""
    n, h, w, c = shape
    dxpad = xp.zeros((n, h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after, c),
                     dtype=dpatches.dtype)
    for i in range(wh.k):
        for j in range(ww.k):
            dxpad[:, wh.offset(i), ww.offset(j)] += dpatches[:, :, :, i, j]
    return crop(xp, dxpad, shape, wh, ww)


def col2im_taps(xp, taps, shape, wh: Window, ww: Window):
    """``col2im`` for tap-major input ``(KH, KW, N, OH, OW, C)`` (contiguous per tap)."""
    n, h, w, c = shape
    dxpad = xp.zeros((n, h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after, c),
                     dtype=taps.dtype)
    for i in range(wh.k):
        for j in range(ww.k):
            dxpad[:, wh.offset(i), ww.offset(j)] += taps[i, j]
    return crop(xp, dxpad, shape, wh, ww)


def crop(xp, xpad, shape, wh: Window, ww: Window):
    """The unpadded NHWC ``shape`` region of a padded array (contiguous)."""
    _, h, w, _ = shape
    if xpad.shape[1] == h and xpad.shape[2] == w:
        return xpad
    return xp.ascontiguousarray(xpad[:, wh.pad_before:wh.pad_before + h,
                                     ww.pad_before:ww.pad_before + w])


def valid_counts(n: int, win: Window) -> np.ndarray:
    """How many input cells (not padding) each output position's window covers."""
    taps = (np.arange(win.out)[:, None] * win.stride - win.pad_before
            + np.arange(win.k)[None, :] * win.dilation)
    return ((taps >= 0) & (taps < n)).sum(axis=1)


# ----- attribute normalisation (shared by conv and pool builders) -----------------------
def spatial_axes(data_format: str) -> tuple[int, int, int]:
    """(H axis, W axis, C axis) of a 4-D tensor in ``data_format``."""
    if data_format == "NHWC":
        return 1, 2, 3
    if data_format == "NCHW":
        return 2, 3, 1
    raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")


def four(value, name: str, data_format: str, default: int = 1) -> tuple[int, int, int, int]:
    """An int or a list of 1, 2 or 4 ints (TF's strides/dilations/ksize forms) as 4 ints."""
    if value is None:
        value = default
    if isinstance(value, int | np.integer):
        value = [int(value)] * 2
    vals = [int(v) for v in value]
    h, w, _ = spatial_axes(data_format)
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) == 2:
        out = [1, 1, 1, 1]
        out[h], out[w] = vals
        return tuple(out)
    if len(vals) != 4:
        raise ValueError(f"{name} must be an int or a list of 1, 2 or 4 ints, got {value!r}")
    return tuple(vals)


def padding_attrs(padding, data_format: str) -> tuple[str, tuple]:
    """``(padding, explicit_paddings)`` from 'SAME', 'VALID' or a list of (before, after)."""
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME', 'VALID' or a list of [before, after] "
                             f"pairs, got {padding!r}")
        return p, ()
    pairs = [tuple(int(v) for v in pr) for pr in padding]
    if len(pairs) == 2:                       # spatial pairs only
        full = [(0, 0)] * 4
        h, w, _ = spatial_axes(data_format)
        full[h], full[w] = pairs
        pairs = full
    if len(pairs) != 4 or any(len(pr) != 2 for pr in pairs):
        raise ValueError(f"explicit padding must be 4 (or 2 spatial) [before, after] pairs, "
                         f"got {padding!r}")
    h, w, c = spatial_axes(data_format)
    if pairs[0] != (0, 0) or pairs[c] != (0, 0):
        raise ValueError(f"explicit padding of the batch and channel dimensions must be 0, got "
                         f"{padding!r}")
    if any(v < 0 for pr in pairs for v in pr):
        raise ValueError(f"explicit padding must be non-negative, got {padding!r}")
    return "EXPLICIT", tuple(v for pr in pairs for v in pr)


def explicit_pair(explicit: tuple, axis: int) -> tuple[int, int]:
    return (explicit[2 * axis], explicit[2 * axis + 1]) if explicit else (0, 0)
