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
    if not (wh.pad_before or wh.pad_after or ww.pad_before or ww.pad_after):
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
