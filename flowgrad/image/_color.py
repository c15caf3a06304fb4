"""Colour spaces and value adjustments (``tf.image``), composed from math ops.

Where TF1 converts integer images to float32 to compute and back afterwards, so does
flowgrad; float16, float32 and float64 images are computed in their own dtype (TF1 converts
float64 to float32 and back, which only loses precision).
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S
from flowgrad.ops.einsum_ops import tensordot
from flowgrad.image._common import as_image, convert_image_dtype, to_float


def _rgb(images, fn: str, float_only: bool = True) -> Tensor:
    images = convert_to_tensor(images, name="images")
    r = images.shape.ndims
    if r is not None and (r < 1 or images.shape[-1] not in (None, 3)):
        raise ValueError(f"tf.image.{fn}: the last dimension must be 3 (RGB channels), got "
                         f"shape {images.shape}.")
    if float_only and not images.dtype.is_floating:
        raise TypeError(f"tf.image.{fn} expects a floating-point image, got "
                        f"{images.dtype.name}; convert it with tf.image.convert_image_dtype.")
    return images


def _channels(x: Tensor) -> list[Tensor]:
    return A.unstack(x, num=3, axis=-1)


# ----- colour spaces ------------------------------------------------------------------------
_GRAY = [0.2989, 0.5870, 0.1140]


def rgb_to_grayscale(images, name: str | None = None) -> Tensor:
    """``tf.image.rgb_to_grayscale``: the weighted sum of R, G, B (one channel, same dtype)."""
    images = _rgb(images, "rgb_to_grayscale", float_only=False)
    with name_scope(name, "rgb_to_grayscale"):
        flt, orig = to_float(images)
        gray = R.reduce_sum(flt * convert_to_tensor(_GRAY, dtype=flt.dtype), axis=-1,
                            keepdims=True)
        return convert_image_dtype(gray, orig)


def grayscale_to_rgb(images, name: str | None = None) -> Tensor:
    """``tf.image.grayscale_to_rgb``: repeats the single channel three times."""
    images = convert_to_tensor(images, name="images")
    r = images.shape.ndims
    if r is None or r < 2 or images.shape[-1] not in (None, 1):
        raise ValueError(f"tf.image.grayscale_to_rgb: the last dimension must be 1, got shape "
                         f"{images.shape}.")
    return A.tile(images, [1] * (r - 1) + [3], name=name or "grayscale_to_rgb")


def rgb_to_hsv(images, name: str | None = None) -> Tensor:
    """``tf.image.rgb_to_hsv``: hue, saturation and value in [0, 1] from RGB in [0, 1]."""
    images = _rgb(images, "rgb_to_hsv")
    with name_scope(name, "rgb_to_hsv"):
        r, g, b = _channels(images)
        v = R.reduce_max(images, axis=-1)
        chroma = v - R.reduce_min(images, axis=-1)
        s = M.div_no_nan(chroma, v)
        hr = M.div_no_nan(g - b, chroma)
        hg = M.div_no_nan(b - r, chroma) + 2.0
        hb = M.div_no_nan(r - g, chroma) + 4.0
        h = M.where(M.equal(v, r), hr, M.where(M.equal(v, g), hg, hb)) / 6.0
        h = M.where(M.less(h, 0.0), h + 1.0, h)
        h = M.where(M.greater(chroma, 0.0), h, A.zeros_like(h))
        return A.stack([h, s, v], axis=-1)


def hsv_to_rgb(images, name: str | None = None) -> Tensor:
    """``tf.image.hsv_to_rgb``: the inverse of ``rgb_to_hsv``."""
    images = _rgb(images, "hsv_to_rgb")
    with name_scope(name, "hsv_to_rgb"):
        h, s, v = _channels(images)
        dh = h * 6.0
        dr = M.clip_by_value(M.abs(dh - 3.0) - 1.0, 0.0, 1.0)
        dg = M.clip_by_value(2.0 - M.abs(dh - 2.0), 0.0, 1.0)
        db = M.clip_by_value(2.0 - M.abs(dh - 4.0), 0.0, 1.0)
        one_minus_s = 1.0 - s
        return A.stack([(one_minus_s + s * d) * v for d in (dr, dg, db)], axis=-1)


def _linear(images, matrix, fn: str, name) -> Tensor:
    images = _rgb(images, fn)
    with name_scope(name, fn):
        k = convert_to_tensor(np.asarray(matrix), dtype=images.dtype)
        return tensordot(images, k, axes=[[images.shape.ndims - 1], [0]])


_RGB_TO_YUV = [[0.299, -0.14714119, 0.61497538], [0.587, -0.28886916, -0.51496512],
               [0.114, 0.43601035, -0.10001026]]
_YUV_TO_RGB = [[1, 1, 1], [0, -0.394642334, 2.03206185], [1.13988303, -0.58062185, 0]]
_RGB_TO_YIQ = [[0.299, 0.59590059, 0.2115], [0.587, -0.27455667, -0.52273617],
               [0.114, -0.32134392, 0.31119955]]
_YIQ_TO_RGB = [[1, 1, 1], [0.95598634, -0.27201283, -1.10674021],
               [0.6208248, -0.64720424, 1.70423049]]


def rgb_to_yuv(images) -> Tensor:
    """``tf.image.rgb_to_yuv``: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615]."""
    return _linear(images, _RGB_TO_YUV, "rgb_to_yuv", None)


def yuv_to_rgb(images) -> Tensor:
    """``tf.image.yuv_to_rgb``: the inverse of ``rgb_to_yuv``."""
    return _linear(images, _YUV_TO_RGB, "yuv_to_rgb", None)


def rgb_to_yiq(images) -> Tensor:
    """``tf.image.rgb_to_yiq``."""
    return _linear(images, _RGB_TO_YIQ, "rgb_to_yiq", None)


def yiq_to_rgb(images) -> Tensor:
    """``tf.image.yiq_to_rgb``: the inverse of ``rgb_to_yiq``."""
    return _linear(images, _YIQ_TO_RGB, "yiq_to_rgb", None)


# ----- adjustments --------------------------------------------------------------------------
def _as_float_arg(v, dtype) -> Tensor:
    return M.cast(v, dtype) if isinstance(v, Tensor) else convert_to_tensor(v, dtype=dtype)


def adjust_brightness(image, delta) -> Tensor:
    """``tf.image.adjust_brightness``: adds ``delta`` (on the [0, 1] float scale)."""
    image = convert_to_tensor(image, name="image")
    with name_scope(None, "adjust_brightness"):
        flt, orig = to_float(image)
        adjusted = M.add(flt, _as_float_arg(delta, flt.dtype))
        return convert_image_dtype(adjusted, orig, saturate=True)


def adjust_contrast(images, contrast_factor) -> Tensor:
    """``tf.image.adjust_contrast``: ``(x - mean) * contrast_factor + mean`` with the mean of
    each channel over the image's height and width."""
    images = as_image(images, "adjust_contrast", "images")
    with name_scope(None, "adjust_contrast"):
        flt, orig = to_float(images)
        mean = R.reduce_mean(flt, axis=[-3, -2], keepdims=True)
        adjusted = (flt - mean) * _as_float_arg(contrast_factor, flt.dtype) + mean
        return convert_image_dtype(adjusted, orig, saturate=True)


def adjust_gamma(image, gamma=1, gain=1) -> Tensor:
    """``tf.image.adjust_gamma``: ``gain * image ** gamma`` on the [0, 1] float scale."""
    image = convert_to_tensor(image, name="image")
    if not isinstance(gamma, Tensor) and gamma < 0:
        raise ValueError("adjust_gamma: gamma should be a non-negative real number, got "
                         f"{gamma}.")
    with name_scope(None, "adjust_gamma"):
        flt, orig = to_float(image)
        adjusted = _as_float_arg(gain, flt.dtype) * M.pow(flt, _as_float_arg(gamma, flt.dtype))
        return convert_image_dtype(adjusted, orig, saturate=True)


def adjust_saturation(image, saturation_factor, name: str | None = None) -> Tensor:
    """``tf.image.adjust_saturation``: scales the HSV saturation, clipped to [0, 1]."""
    image = _rgb(image, "adjust_saturation", float_only=False)
    with name_scope(name, "adjust_saturation"):
        flt, orig = to_float(image)
        h, s, v = _channels(rgb_to_hsv(flt))
        s = M.clip_by_value(s * _as_float_arg(saturation_factor, flt.dtype), 0.0, 1.0)
        return convert_image_dtype(hsv_to_rgb(A.stack([h, s, v], axis=-1)), orig)


def adjust_hue(image, delta, name: str | None = None) -> Tensor:
    """``tf.image.adjust_hue``: rotates the HSV hue by ``delta`` (in [-1, 1], a full turn
    being 1)."""
    image = _rgb(image, "adjust_hue", float_only=False)
    with name_scope(name, "adjust_hue"):
        flt, orig = to_float(image)
        h, s, v = _channels(rgb_to_hsv(flt))
        h = M.floormod(h + _as_float_arg(delta, flt.dtype), 1.0)
        return convert_image_dtype(hsv_to_rgb(A.stack([h, s, v], axis=-1)), orig)


def per_image_standardization(image) -> Tensor:
    """``tf.image.per_image_standardization``: ``(x - mean) / max(stddev, 1/sqrt(N))`` per
    image, N its number of elements; float32 result (float64 stays float64)."""
    image = as_image(image, "per_image_standardization")
    with name_scope(None, "per_image_standardization"):
        dtype = _dt.float64 if image.dtype == _dt.float64 else _dt.float32
        x = M.cast(image, dtype)
        num = R.reduce_prod(A.shape(image)[-3:])
        mean = R.reduce_mean(x, axis=[-1, -2, -3], keepdims=True)
        var = N.relu(R.reduce_mean(M.square(x), axis=[-1, -2, -3], keepdims=True) -
                     M.square(mean))
        scale = M.maximum(M.sqrt(var), M.rsqrt(M.cast(num, dtype)))
        return M.divide(x - mean, scale)


# ----- random adjustments -------------------------------------------------------------------
def _check_range(lower, upper) -> None:
    if upper <= lower:
        raise ValueError(f"upper must be > lower, got lower={lower}, upper={upper}.")
    if lower < 0:
        raise ValueError(f"lower must be non-negative, got {lower}.")


def random_brightness(image, max_delta, seed=None) -> Tensor:
    """``tf.image.random_brightness``: ``adjust_brightness`` by a delta uniform in
    [-max_delta, max_delta)."""
    if max_delta < 0:
        raise ValueError(f"max_delta must be non-negative, got {max_delta}.")
    delta = S.random_uniform([], -max_delta, max_delta, seed=seed)
    return adjust_brightness(image, delta)


def random_contrast(image, lower, upper, seed=None) -> Tensor:
    """``tf.image.random_contrast``: ``adjust_contrast`` by a factor uniform in
    [lower, upper)."""
    _check_range(lower, upper)
    return adjust_contrast(image, S.random_uniform([], lower, upper, seed=seed))


def random_saturation(image, lower, upper, seed=None) -> Tensor:
    """``tf.image.random_saturation``: ``adjust_saturation`` by a factor uniform in
    [lower, upper)."""
    _check_range(lower, upper)
    return adjust_saturation(image, S.random_uniform([], lower, upper, seed=seed))


def random_hue(image, max_delta, seed=None) -> Tensor:
    """``tf.image.random_hue``: ``adjust_hue`` by a delta uniform in [-max_delta, max_delta),
    ``max_delta`` in [0, 0.5]."""
    if max_delta > 0.5:
        raise ValueError(f"max_delta must be <= 0.5, got {max_delta}.")
    if max_delta < 0:
        raise ValueError(f"max_delta must be non-negative, got {max_delta}.")
    return adjust_hue(image, S.random_uniform([], -max_delta, max_delta, seed=seed))
