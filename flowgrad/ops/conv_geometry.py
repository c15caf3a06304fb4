"""Window geometry and the convolution kernels shared by the conv and pooling ops.

Every kernel works on NHWC arrays (NCHW callers transpose at the boundary).  A sliding
window over a padded input is a strided *view* ``(N, OH, OW, KH, KW, C)``; a convolution
is one GEMM over blocks of that view (im2col at block width 1, banded filter rows wider:
see ``blocking``), pooling folds over its tap views.  Gradients scatter back with strided
adds per kernel offset or per kernel row (array operations, never a loop over pixels).

Padding follows TensorFlow: ``SAME`` gives ``ceil(n / stride)`` outputs and puts the odd
padding cell after the input, ``VALID`` uses no padding, ``EXPLICIT`` takes the
``(before, after)`` pairs given.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from flowgrad.runtime import onednn


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


@functools.lru_cache(maxsize=4096)
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


# ----- convolution as one GEMM over blocks of output columns ------------------------------
# The output width is cut into blocks of ``b`` columns.  One GEMM row is one (image, output
# row, block): the ``KH x Bin x CI`` input window the block reads (``Bin = (b-1)*stride +
# span`` columns); the filter becomes a banded (Toeplitz) matrix ``(KH*Bin*CI, b*CO)``.
# ``b = 1`` is classic im2col: exact FLOPs, but a KH*KW-fold copy of the input and a GEMM
# only ``CO`` columns wide (BLAS runs a 6-column GEMM at a sixth of its speed).  ``b = OW``
# is one Toeplitz matrix per kernel row: a KH-fold copy and a wide GEMM, at ``Wp/KW`` times
# the FLOPs.  In between, the cost model below picks the block width per convolution:
# LeNet's 28x28x1 -> 6 conv runs 2-3x faster at b = 7 than at either end; ResNet's wide
# convolutions stay at b = 1.
_COPY_COST = 46          # one copied element costs about as much as 46 GEMM FLOPs at peak
_NARROW = 64             # GEMMs narrower than this many columns run at n/_NARROW of peak
_TOEPLITZ_MAX = 1 << 22  # elements of the banded filter matrix
#: None: the cost model; "min" / "mid" / "max": force the smallest, a middle or the largest
#: block width (tests run every formulation this way)
FORCE_BLOCK = None


class Blocking(NamedTuple):
    """How a convolution's output columns are blocked for its GEMM."""

    b: int          # output columns per block
    blocks: int     # blocks per output row
    cols: int       # input columns one block reads (Bin)
    stride: int     # the convolution's column stride

    @property
    def step(self) -> int:
        """Input columns between consecutive blocks."""
        return self.b * self.stride


def _blocking(ww: Window, b: int) -> Blocking:
    return Blocking(b, ww.out // b, (b - 1) * ww.stride + ww.span, ww.stride)


def blocking(n: int, c: int, co: int, wh: Window, ww: Window,
             widest: bool = False) -> Blocking:
    """The block width the cost model prefers (the divisors of the output width compete).

    ``widest``: for the input gradient, where narrow blocks cost more than the model says
    (it adds its blocks back with strided adds): once blocking pays at all, whole rows (the
    widest Toeplitz matrix that fits) measure fastest there.  The filter gradient follows
    the model: on LeNet's two convolutions whole rows took 1.49 and 1.27 ms against 1.19
    and 1.03 ms at the model's width (one thread)."""
    return _blocking_for(n, c, co, wh, ww, widest, FORCE_BLOCK)


@functools.lru_cache(maxsize=4096)
def _blocking_for(n: int, c: int, co: int, wh: Window, ww: Window, widest: bool,
                  force: str | None) -> Blocking:
    cands = [b for b in range(1, ww.out + 1) if ww.out % b == 0]
    if force is not None:
        pick = {"min": cands[0], "max": cands[-1], "mid": cands[len(cands) // 2]}
        return _blocking(ww, pick[force])
    best, best_cost, wide = None, None, None
    for b in cands:
        bl = _blocking(ww, b)
        m = n * wh.out * bl.blocks
        k = wh.k * (ww.k if b == 1 else bl.cols) * c
        width = b * co
        if b > 1 and k * width > _TOEPLITZ_MAX:
            break
        wide = bl
        cost = 2 * m * k * width / min(1.0, width / _NARROW) + _COPY_COST * m * k
        if best_cost is None or cost < best_cost:
            best, best_cost = bl, cost
    return wide if widest and best.b > 1 else best


def block_patches(xp, xpad, wh: Window, bl: Blocking):
    """``(N*OH*blocks, KH*Bin*C)``: the input window of every (image, output row, block)."""
    xpad = xp.ascontiguousarray(xpad)
    n, _, _, c = xpad.shape
    s0, s1, s2, s3 = xpad.strides
    view = xp.lib.stride_tricks.as_strided(
        xpad, (n, wh.out, bl.blocks, wh.k, bl.cols, c),
        (s0, s1 * wh.stride, s2 * bl.step, s1 * wh.dilation, s2, s3))
    return xp.ascontiguousarray(view).reshape(n * wh.out * bl.blocks, wh.k * bl.cols * c)


def toeplitz(xp, filt, ww: Window, bl: Blocking):
    """``(KH*Bin*CI, b*CO)``: the filter as the banded matrix mapping a block's input
    window to its ``b`` output columns."""
    kh, kw, ci, co = filt.shape
    t = xp.zeros((kh, bl.cols, ci, bl.b, co), dtype=filt.dtype)
    col = xp.arange(bl.b)
    for j in range(kw):
        t[:, col * ww.stride + j * ww.dilation, :, col, :] = filt[:, j]
    return t.reshape(kh * bl.cols * ci, bl.b * co)


def untoeplitz(xp, g, fshape, ww: Window, bl: Blocking):
    """Adjoint of ``toeplitz``: sums a ``(KH*Bin*CI, b*CO)`` gradient back to ``fshape``."""
    kh, kw, ci, co = fshape
    g = xp.ascontiguousarray(g).reshape(kh, bl.cols, ci, bl.b, co)
    s0, s1, s2, s3, s4 = g.strides
    band = xp.lib.stride_tricks.as_strided(
        g, (kh, kw, ci, bl.b, co), (s0, s1 * ww.dilation, s2, s1 * ww.stride + s3, s4))
    return band.sum(axis=3)


def unblock(xp, p, shape, wh: Window, ww: Window, bl: Blocking):
    """Adjoint of ``block_patches``: adds ``(N, OH, blocks, KH, Bin, C)`` into NHWC ``shape``.

    Blocks overlap by ``Bin - step`` columns; each block's window is cut into chunks of
    ``step`` columns, and a chunk of every block is added at once (chunks of different
    blocks are disjoint): ``KH * ceil(Bin / step)`` strided adds in all."""
    n, h, w, c = shape
    hp = h + wh.pad_before + wh.pad_after
    if bl.blocks == 1:                  # whole rows: one add per kernel row
        dxpad = xp.zeros((n, hp, w + ww.pad_before + ww.pad_after, c), dtype=p.dtype)
        for i in range(wh.k):
            dxpad[:, wh.offset(i), :bl.cols] += p[:, :, 0, i]
        return crop(xp, dxpad, shape, wh, ww)
    chunks = -(-bl.cols // bl.step)
    wext = max(w + ww.pad_before + ww.pad_after, (bl.blocks + chunks) * bl.step)
    dxpad = xp.zeros((n, hp, wext, c), dtype=p.dtype)
    for i in range(wh.k):
        rows = dxpad[:, wh.offset(i)]
        for r in range(chunks):
            lo, hi = r * bl.step, min((r + 1) * bl.step, bl.cols)
            dst = rows[:, :, lo:lo + bl.blocks * bl.step].reshape(
                n, wh.out, bl.blocks, bl.step, c)[:, :, :, :hi - lo]
            dst += p[:, :, :, i, lo:hi]
    return crop(xp, dxpad, shape, wh, ww)


_CHUNK = 1 << 18         # elements of one im2col chunk (1 MiB of float32: stays in L2)
_CHUNK_MIN_PIXELS = 512  # ... but at least this many GEMM rows, or a large filter matrix
#                          is streamed from memory once per small chunk


def _chunks(n: int, wh: Window, ww: Window, k: int):
    """Slices ``(images, output rows)`` covering the output in pieces whose patch matrix
    has about ``_CHUNK`` elements: whole images while they are small, else row blocks."""
    target = max(_CHUNK // k, _CHUNK_MIN_PIXELS)
    per_image = wh.out * ww.out
    if per_image >= target:
        rows = max(1, target // ww.out)
        for i in range(n):
            for r in range(0, wh.out, rows):
                yield slice(i, i + 1), slice(r, min(r + rows, wh.out))
    else:
        imgs = max(1, target // max(per_image, 1))
        for i in range(0, n, imgs):
            yield slice(i, min(i + imgs, n)), slice(0, wh.out)


def pointwise(filt, wh: Window, ww: Window) -> bool:
    """A 1x1, stride-1, unpadded convolution: a plain matrix product over pixels."""
    return filt[0] == filt[1] == 1 and wh.stride == ww.stride == 1 and not _padded(wh, ww)


# ----- oneDNN ----------------------------------------------------------------------------
# Where oneDNN is installed (runtime/onednn.py) float32 convolutions run through it, except
# where the numpy kernels measured as fast or faster (one thread, against oneDNN with its
# own filter layout and NHWC activations):
#   * 1x1 stride-1 convolutions are one matrix product (``gemm``: oneDNN's GEMM, where
#     large; its convolution was no faster: ResNet's 64->256 at 56x56 3.9 ms as a numpy
#     product, 4.3 ms as a oneDNN convolution);
#   * the input gradient for up to 4 input channels: the channel-major scatter below
#     (LeNet's 28x28x1: 1.8 against 2.9 ms; ResNet's 7x7 stem: 24 against 37 ms).
# The input gradient of convolutions with few input channels lets oneDNN lay out the
# activations too (LeNet's 6->16: 1.1 ms, 1.9 with NHWC activations, 1.6 numpy).
ONEDNN_MIN_INPUT_GRAD_CHANNELS = 5
ONEDNN_BLOCKED_BELOW = 16


def gemm(xp, a, b):
    """``a @ b`` of 2-D arrays: oneDNN's GEMM for large float32 products on the CPU."""
    return onednn.product(a, b) if xp is np else xp.matmul(a, b)


def use_onednn(xp, *arrays) -> bool:
    """Whether these arrays go to oneDNN: numpy float32 ones, where it is installed."""
    return xp is np and onednn.usable(*arrays)


def conv_forward(xp, x, filt, wh: Window, ww: Window):
    """NHWC convolution ``(N, OH, OW, CO)`` of ``x`` by an HWIO filter."""
    n, h, w, c = x.shape
    kh, kw, ci, co = filt.shape
    if pointwise(filt.shape, wh, ww):
        return gemm(xp, x.reshape(n * h * w, c), filt.reshape(ci, co)).reshape(n, h, w, co)
    if use_onednn(xp, x, filt):
        y = onednn.conv_forward(np.ascontiguousarray(x), np.ascontiguousarray(filt), (wh, ww))
        if y is not None:
            return y
    xpad = pad_nhwc(xp, x, wh, ww)
    bl = blocking(n, c, co, wh, ww)
    if bl.b > 1:
        y = xp.matmul(block_patches(xp, xpad, wh, bl), toeplitz(xp, filt, ww, bl))
        return y.reshape(n, wh.out, ww.out, co)
    k = kh * kw * ci
    if c == 1:                         # the tap-major im2col: one matrix
        return xp.matmul(im2col(xp, xpad, wh, ww), filt.reshape(k, co)).reshape(
            n, wh.out, ww.out, co)
    # im2col a chunk at a time, each GEMM writing its rows of y: the patch matrix never
    # leaves the cache (20-25 % faster than one KH*KW-fold copy for ResNet's convs)
    view, w2 = patches(xp, xpad, wh, ww), filt.reshape(k, co)
    y = xp.empty((n, wh.out, ww.out, co), dtype=x.dtype)
    for imgs, rows in _chunks(n, wh, ww, k):
        cols = xp.ascontiguousarray(view[imgs, rows]).reshape(-1, k)
        xp.matmul(cols, w2, out=y[imgs, rows].reshape(-1, co))
    return y


def conv_filter_grad(xp, x, dy, fshape, wh: Window, ww: Window):
    """``dW`` (HWIO ``fshape``) of an NHWC convolution, given the output gradient ``dy``."""
    n, h, w, c = x.shape
    kh, kw, ci, co = fshape
    if pointwise(fshape, wh, ww):
        return gemm(xp, x.reshape(-1, c).T, dy.reshape(-1, co)).reshape(fshape)
    if use_onednn(xp, x, dy):
        dw = onednn.conv_backward_weights(np.ascontiguousarray(x), np.ascontiguousarray(dy),
                                          tuple(fshape), (wh, ww))
        if dw is not None:
            return dw
    xpad = pad_nhwc(xp, x, wh, ww)
    bl = blocking(n, c, co, wh, ww)
    if bl.b > 1:
        g = xp.matmul(block_patches(xp, xpad, wh, bl).T, dy.reshape(-1, bl.b * co))
        return untoeplitz(xp, g, fshape, ww, bl)
    k = kh * kw * ci
    if c == 1:
        return xp.matmul(im2col(xp, xpad, wh, ww).T, dy.reshape(-1, co)).reshape(fshape)
    view = patches(xp, xpad, wh, ww)
    dw = part = None
    for imgs, rows in _chunks(n, wh, ww, k):
        cols = xp.ascontiguousarray(view[imgs, rows]).reshape(-1, k)
        d = dy[imgs, rows].reshape(-1, co)
        if dw is None:
            dw = xp.matmul(cols.T, d)
            continue
        part = xp.matmul(cols.T, d, out=part)
        dw += part
    return dw.reshape(fshape)


def conv_input_grad(xp, dy, filt, shape, wh: Window, ww: Window):
    """``dx`` (NHWC ``shape``) of a convolution, given the output gradient ``dy``."""
    n, h, w, c = shape
    kh, kw, ci, co = filt.shape
    if pointwise(filt.shape, wh, ww):
        return gemm(xp, dy.reshape(-1, co), filt.reshape(ci, co).T).reshape(shape)
    if c >= ONEDNN_MIN_INPUT_GRAD_CHANNELS and use_onednn(xp, dy, filt):
        dx = onednn.conv_backward_data(np.ascontiguousarray(dy), np.ascontiguousarray(filt),
                                       tuple(shape), (wh, ww),
                                       blocked=c < ONEDNN_BLOCKED_BELOW)
        if dx is not None:
            return dx
    bl = blocking(n, c, co, wh, ww, widest=True)
    if bl.b > 1:
        p = xp.matmul(dy.reshape(-1, bl.b * co), toeplitz(xp, filt, ww, bl).T)
        return unblock(xp, p.reshape(n, wh.out, bl.blocks, kh, bl.cols, c), shape, wh,
                       ww, bl)
    if c <= _CHANNEL_MAJOR_MAX:
        return _input_grad_channel_major(xp, dy, filt, shape, wh, ww)
    # one GEMM per kernel tap into a reused buffer, added straight into its window: the
    # (N, OH, OW, C) contribution of a tap is contiguous, and no KH*KW-fold temporary
    dxpad = xp.zeros((n, h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after,
                      c), dtype=dy.dtype)
    dy2 = dy.reshape(-1, co)
    tap = None
    for i in range(kh):
        for j in range(kw):
            tap = xp.matmul(dy2, filt[i, j].T, out=tap)
            dxpad[:, wh.offset(i), ww.offset(j)] += tap.reshape(n, wh.out, ww.out, c)
    return crop(xp, dxpad, shape, wh, ww)


_CHANNEL_MAJOR_MAX = 16   # input channels up to which the input gradient scatters by channel


def _input_grad_channel_major(xp, dy, filt, shape, wh: Window, ww: Window):
    """The im2col input gradient for few input channels: one GEMM gives every tap's
    contribution channel-major, ``(KH, KW, C, N, OH, OW)``, and the scatter adds whole
    ``(N, OH, OW)`` planes, whose rows are long runs -- in NHWC each add would run over
    ``C``-element pieces (a 3-channel image's gradient: 4x faster this way)."""
    n, h, w, c = shape
    kh, kw, ci, co = filt.shape
    taps = xp.matmul(filt.reshape(kh * kw * ci, co), dy.reshape(-1, co).T)
    taps = taps.reshape(kh, kw, ci, n, wh.out, ww.out)
    dxpad = xp.zeros((c, n, h + wh.pad_before + wh.pad_after, w + ww.pad_before + ww.pad_after),
                     dtype=dy.dtype)
    for i in range(kh):
        for j in range(kw):
            dxpad[:, :, wh.offset(i), ww.offset(j)] += taps[i, j]
    dx = dxpad[:, :, wh.pad_before:wh.pad_before + h, ww.pad_before:ww.pad_before + w]
    return xp.ascontiguousarray(dx.transpose(1, 2, 3, 0))


def _padded(wh: Window, ww: Window) -> bool:
    return bool(wh.pad_before or wh.pad_after or ww.pad_before or ww.pad_after)


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
