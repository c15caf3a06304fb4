"""Image differences and quality measures (``tf.image``): ``image_gradients``,
``total_variation``, ``sobel_edges``, ``psnr``, ``ssim`` and ``ssim_multiscale``."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N
from flowgrad.ops import pool_ops as P
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.einsum_ops import einsum
from flowgrad.image._common import as_batch, as_image, convert_image_dtype, require_4d, unbatch


def image_gradients(image) -> tuple[Tensor, Tensor]:
    """``tf.image.image_gradients``: ``(dy, dx)``, the forward differences along height and
    width of a 4-D batch, with a zero last row (``dy``) and column (``dx``)."""
    image = require_4d(image, "image_gradients")
    with name_scope(None, "image_gradients"):
        dy = image[:, 1:, :, :] - image[:, :-1, :, :]
        dx = image[:, :, 1:, :] - image[:, :, :-1, :]
        dy = A.concat([dy, A.zeros_like(image[:, :1, :, :])], axis=1)
        dx = A.concat([dx, A.zeros_like(image[:, :, :1, :])], axis=2)
        return dy, dx


def total_variation(images, name: str | None = None) -> Tensor:
    """``tf.image.total_variation``: the sum of absolute differences of neighbouring pixels;
    a scalar for a 3-D image, one value per image for a 4-D batch."""
    images = as_image(images, "total_variation", "images")
    with name_scope(name, "total_variation"):
        if images.shape.ndims == 3:
            d1 = images[1:, :, :] - images[:-1, :, :]
            d2 = images[:, 1:, :] - images[:, :-1, :]
            axis = None
        else:
            d1 = images[:, 1:, :, :] - images[:, :-1, :, :]
            d2 = images[:, :, 1:, :] - images[:, :, :-1, :]
            axis = [1, 2, 3]
        return R.reduce_sum(M.abs(d1), axis=axis) + R.reduce_sum(M.abs(d2), axis=axis)


_SOBEL = (np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),    # d/dy
          np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]))    # d/dx


def _reflect1(x: Tensor, axis: int) -> Tensor:
    """REFLECT padding by one cell on both sides of ``axis`` (differentiable)."""
    def take(start, stop):
        key = [slice(None)] * 4
        key[axis] = slice(start, stop)
        return x[tuple(key)]
    return A.concat([take(1, 2), x, take(-2, -1)], axis=axis)


def sobel_edges(image) -> Tensor:
    """``tf.image.sobel_edges``: [N, H, W, C, 2], the vertical (``[..., 0]``) and horizontal
    (``[..., 1]``) Sobel responses of each channel, with REFLECT padding."""
    image = require_4d(image, "sobel_edges")
    if not image.dtype.is_floating:
        raise TypeError(f"tf.image.sobel_edges expects a floating-point image, got "
                        f"{image.dtype.name}.")
    with name_scope(None, "sobel_edges"):
        p = _reflect1(_reflect1(image, 1), 2)
        outs = []
        for k in _SOBEL:
            acc = None
            for i in range(3):
                for j in range(3):
                    if k[i, j] == 0:
                        continue
                    tap = p[:, i:(i - 2) or None, j:(j - 2) or None, :] * float(k[i, j])
                    acc = tap if acc is None else acc + tap
            outs.append(acc)
        return A.stack(outs, axis=-1)


def _to_float32(a: Tensor, b: Tensor, fn: str) -> tuple[Tensor, Tensor, _dt.DType]:
    a = as_image(a, fn, "img1")
    b = as_image(b, fn, "img2")
    if a.dtype != b.dtype:
        raise TypeError(f"tf.image.{fn}: the two images must have one dtype, got "
                        f"{a.dtype.name} and {b.dtype.name}.")
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError(f"tf.image.{fn}: the images' shapes differ: {a.shape} and {b.shape}.")
    dtype = _dt.float64 if a.dtype == _dt.float64 else _dt.float32
    return convert_image_dtype(a, dtype), convert_image_dtype(b, dtype), dtype


def _max_val(max_val, src: _dt.DType, dtype: _dt.DType) -> Tensor:
    mv = M.cast(max_val, src) if isinstance(max_val, Tensor) else \
        convert_to_tensor(max_val, dtype=src) if src.is_floating else \
        convert_to_tensor(int(max_val), dtype=src)
    return convert_image_dtype(mv, dtype)


def psnr(a, b, max_val, name: str | None = None) -> Tensor:
    """``tf.image.psnr``: ``20 log10(max_val) - 10 log10(MSE)`` over the last three axes."""
    src = convert_to_tensor(a).dtype
    with name_scope(name, "PSNR"):
        a, b, dtype = _to_float32(a, b, "psnr")
        mv = _max_val(max_val, src, dtype)
        mse = R.reduce_mean(M.squared_difference(a, b), axis=[-3, -2, -1])
        ln10 = np.log(10.0)
        return M.subtract(20.0 * M.log(mv) / ln10, (10.0 / ln10) * M.log(mse), name="psnr")


def _gauss(size: int, sigma: float) -> np.ndarray:
    """The 1-D factor of TF's SSIM window (a normalised Gaussian)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * x * x / (sigma * sigma))
    return g / g.sum()


def _band(n: int, g: np.ndarray) -> np.ndarray:
    """The (n - k + 1, n) matrix of a VALID correlation with ``g``."""
    k = len(g)
    m = np.zeros((n - k + 1, n))
    for i in range(n - k + 1):
        m[i, i:i + k] = g
    return m


def _ssim_per_channel(x, y, max_val, filter_size, filter_sigma, k1, k2):
    """Per-channel SSIM and contrast-structure of 4-D float batches (static H and W)."""
    _, h, w, _ = x.shape.as_list()
    if h is None or w is None:
        raise ValueError(f"tf.image.ssim needs static image heights and widths, got {x.shape}.")
    if h < filter_size or w < filter_size:
        raise ValueError(f"tf.image.ssim: the images ({h}x{w}) must be at least filter_size "
                         f"({filter_size}) high and wide.")
    g = _gauss(filter_size, filter_sigma)
    fh = convert_to_tensor(_band(h, g), dtype=x.dtype)
    fw = convert_to_tensor(_band(w, g), dtype=x.dtype)

    def reducer(t):     # the Gaussian-weighted mean over each VALID window
        return einsum("jw,niwc->nijc", fw, einsum("ih,nhwc->niwc", fh, t))
    c1 = (k1 * max_val) ** 2
    c2 = (k2 * max_val) ** 2
    mean0, mean1 = reducer(x), reducer(y)
    num0 = mean0 * mean1 * 2.0
    den0 = M.square(mean0) + M.square(mean1)
    luminance = (num0 + c1) / (den0 + c1)
    num1 = reducer(x * y) * 2.0
    den1 = reducer(M.square(x) + M.square(y))
    cs = (num1 - num0 + c2) / (den1 - den0 + c2)
    return R.reduce_mean(luminance * cs, axis=[1, 2]), R.reduce_mean(cs, axis=[1, 2])


def _ssim_inputs(img1, img2, max_val, src, fn: str):
    """Both images as float batches (float64 stays float64, others become float32), whether
    the first was a batch, and ``max_val`` on that float scale (``src`` the first image's own
    dtype)."""
    a, b, dtype = _to_float32(img1, img2, fn)
    a4, is_batch = as_batch(a, fn, "img1")
    b4, _ = as_batch(b, fn, "img2")
    return a4, b4, is_batch, _max_val(max_val, src, dtype)


def ssim(img1, img2, max_val, filter_size: int = 11, filter_sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """``tf.image.ssim``: structural similarity with an 11x11 Gaussian window (sigma 1.5),
    averaged over the image and its channels; one value per image."""
    src = convert_to_tensor(img1).dtype
    with name_scope(None, "SSIM"):
        a4, b4, is_batch, mv = _ssim_inputs(img1, img2, max_val, src, "ssim")
        val, _ = _ssim_per_channel(a4, b4, mv, int(filter_size), float(filter_sigma), k1, k2)
        return unbatch(R.reduce_mean(val, axis=[-1]), is_batch)


_MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _halve(x: Tensor) -> Tensor:
    """2x2 average pooling; an odd height or width first repeats its last row or column
    (TF's SYMMETRIC padding by one)."""
    _, h, w, _ = x.shape.as_list()
    if h % 2:
        x = A.concat([x, x[:, -1:, :, :]], axis=1)
    if w % 2:
        x = A.concat([x, x[:, :, -1:, :]], axis=2)
    return P.avg_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")


def ssim_multiscale(img1, img2, max_val, power_factors=_MSSSIM_WEIGHTS, filter_size: int = 11,
                    filter_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """``tf.image.ssim_multiscale``: MS-SSIM over ``len(power_factors)`` scales, each half the
    size of the one before; one value per image."""
    src = convert_to_tensor(img1).dtype
    with name_scope(None, "MS-SSIM"):
        a4, b4, is_batch, mv = _ssim_inputs(img1, img2, max_val, src, "ssim_multiscale")
        mcs = []
        val = None
        for k in range(len(power_factors)):
            if k > 0:
                a4, b4 = _halve(a4), _halve(b4)
            val, cs = _ssim_per_channel(a4, b4, mv, int(filter_size), float(filter_sigma),
                                        k1, k2)
            mcs.append(N.relu(cs))
        mcs.pop()
        stacked = A.stack(mcs + [N.relu(val)], axis=-1)
        weights = convert_to_tensor(np.asarray(power_factors), dtype=a4.dtype)
        ms = R.reduce_prod(M.pow(stacked, weights), axis=[-1])
        out = R.reduce_mean(ms, axis=[-1])
        return unbatch(out, is_batch)
