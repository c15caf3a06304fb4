"""tf.image: the resize ops against TF1's coordinate formulas (direct-loop references and
hand-computed numbers), op-harness rows (forward, shapes, gradients against finite
differences) for the resize ops and the composed functions, dtype rules, seeded random ops,
build-time errors, and an optional cross-check against TensorFlow."""

import colorsys
import math

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.ops import image_ops as I
from flowgrad.testing.op_test import OpCase, check_op

F32 = np.float32


# ----- direct-loop references of TF1's resize kernels ---------------------------------------
def _scale(n_in, n_out, align_corners):
    if align_corners and n_out > 1:
        return F32(n_in - 1) / F32(n_out - 1)
    return F32(n_in) / F32(n_out)


def _src(i, s, half_pixel):
    return (F32(i) + F32(0.5)) * s - F32(0.5) if half_pixel else F32(i) * s


def ref_bilinear(x, size, align_corners=False, half_pixel_centers=False):
    n, h, w, c = x.shape
    oh, ow = size
    sh, sw = _scale(h, oh, align_corners), _scale(w, ow, align_corners)
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        fy = _src(i, sh, half_pixel_centers)
        y0, y1, ly = max(math.floor(fy), 0), min(math.ceil(fy), h - 1), fy - math.floor(fy)
        for j in range(ow):
            fx = _src(j, sw, half_pixel_centers)
            x0, x1, lx = max(math.floor(fx), 0), min(math.ceil(fx), w - 1), fx - math.floor(fx)
            top = x[:, y0, x0] + (x[:, y0, x1] - x[:, y0, x0]) * lx
            bottom = x[:, y1, x0] + (x[:, y1, x1] - x[:, y1, x0]) * lx
            y[:, i, j] = top + (bottom - top) * ly
    return y


def _nearest(i, s, n_in, align_corners, half_pixel):
    src = (F32(i) + F32(0.5)) * s if half_pixel else F32(i) * s
    k = math.floor(float(src) + 0.5) if align_corners else math.floor(src)
    return max(min(k, n_in - 1), 0)


def ref_nearest(x, size, align_corners=False, half_pixel_centers=False):
    n, h, w, c = x.shape
    oh, ow = size
    sh, sw = _scale(h, oh, align_corners), _scale(w, ow, align_corners)
    y = np.zeros((n, oh, ow, c), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            y[:, i, j] = x[:, _nearest(i, sh, h, align_corners, half_pixel_centers),
                           _nearest(j, sw, w, align_corners, half_pixel_centers)]
    return y


def _keys(t, a):
    """Keys' cubic convolution kernel."""
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def _cubic_taps(i, s, n_in, half_pixel):
    src = float(_src(i, s, half_pixel))
    base = math.floor(src)
    a = -0.5 if half_pixel else -0.75
    taps = [(base + k, _keys(src - (base + k), a)) for k in (-1, 0, 1, 2)]
    if half_pixel:      # taps outside the image drop out; the rest are renormalised
        taps = [(k, wt) for k, wt in taps if 0 <= k < n_in]
        total = sum(wt for _, wt in taps)
        return [(k, wt / total) for k, wt in taps]
    return [(min(max(k, 0), n_in - 1), wt) for k, wt in taps]


def ref_bicubic(x, size, align_corners=False, half_pixel_centers=False):
    n, h, w, c = x.shape
    oh, ow = size
    sh, sw = _scale(h, oh, align_corners), _scale(w, ow, align_corners)
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            for yi, wy in _cubic_taps(i, sh, h, half_pixel_centers):
                for xj, wx in _cubic_taps(j, sw, w, half_pixel_centers):
                    y[:, i, j] += wy * wx * x[:, yi, xj]
    return y


def _cover(i, s):
    """(input cell, covered length) pairs of output cell ``i``."""
    lo, hi = F32(i) * s, F32(i + 1) * s
    return [(k, min(float(hi), k + 1) - max(float(lo), k))
            for k in range(math.floor(lo), math.ceil(hi))]


def ref_area(x, size, align_corners=False):
    n, h, w, c = x.shape
    oh, ow = size
    sh, sw = _scale(h, oh, align_corners), _scale(w, ow, align_corners)
    y = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            for r, cy in _cover(i, sh):
                for q, cx in _cover(j, sw):
                    y[:, i, j] += cy * cx * x[:, min(r, h - 1), min(q, w - 1)]
    return y / (float(sh) * float(sw))


# ----- hand-computed values -----------------------------------------------------------------
def _run(t, feed=None):
    return tf.Session().run(t, feed)


ROW2 = np.array([0.0, 1.0]).reshape(1, 1, 2, 1)
ROW3 = np.array([10.0, 20.0, 30.0]).reshape(1, 1, 3, 1)


@pytest.mark.parametrize("fn,image,size,kwargs,expected", [
    # legacy: source x = j * 2/4
    (tf.image.resize_bilinear, ROW2, 4, {}, [0.0, 0.5, 1.0, 1.0]),
    # half-pixel: source x = (j + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped)
    (tf.image.resize_bilinear, ROW2, 4, {"half_pixel_centers": True}, [0.0, 0.25, 0.75, 1.0]),
    # corners aligned: source x = j * 1/3
    (tf.image.resize_bilinear, ROW2, 4, {"align_corners": True}, [0.0, 1 / 3, 2 / 3, 1.0]),
    # legacy nearest: floor(j * 0.6) = 0, 0, 1, 1, 2
    (tf.image.resize_nearest_neighbor, ROW3, 5, {}, [10, 10, 20, 20, 30]),
    # aligned: round(j * 0.5), halves away from zero = 0, 1, 1, 2, 2
    (tf.image.resize_nearest_neighbor, ROW3, 5, {"align_corners": True}, [10, 20, 20, 30, 30]),
    # half-pixel: floor((j + 0.5) * 0.6) = 0, 0, 1, 2, 2
    (tf.image.resize_nearest_neighbor, ROW3, 5, {"half_pixel_centers": True},
     [10, 10, 20, 30, 30]),
    # legacy bicubic (a = -0.75): at x = 0.5 the taps weigh -0.09375, 0.59375, 0.59375,
    # -0.09375 over cells 0, 0, 1, 1; at x = 1.5 the last three fall on cell 1
    (tf.image.resize_bicubic, ROW2, 4, {}, [0.0, 0.5, 1.0, 1.09375]),
    # area: cells [0, 1.5) and [1.5, 3): (10 + 20 / 2) / 1.5 and (20 / 2 + 30) / 1.5
    (tf.image.resize_area, ROW3, 2, {}, [40 / 3, 80 / 3]),
])
def test_resize_hand_computed(fn, image, size, kwargs, expected):
    out = _run(fn(tf.constant(image, dtype=tf.float32), [1, size], **kwargs))
    np.testing.assert_allclose(out.reshape(-1), expected, rtol=1e-6, atol=1e-6)


# ----- op-harness rows ----------------------------------------------------------------------
def _row(name, op_fn, ref_fn, shape, size, **flags):
    return OpCase(name, lambda x: op_fn(x, I.as_size(size), **flags),
                  lambda x: ref_fn(x, size, **flags), [shape])


_LEGACY, _ALIGN, _HALF = {}, {"align_corners": True}, {"half_pixel_centers": True}
RESIZE_CASES = [
    _row("resize_bilinear_up", I.resize_bilinear_op, ref_bilinear, (2, 3, 4, 2), (5, 7)),
    _row("resize_bilinear_down", I.resize_bilinear_op, ref_bilinear, (1, 7, 5, 2), (3, 2)),
    _row("resize_bilinear_align", I.resize_bilinear_op, ref_bilinear, (2, 3, 4, 1), (5, 7),
         **_ALIGN),
    _row("resize_bilinear_half", I.resize_bilinear_op, ref_bilinear, (2, 5, 4, 1), (3, 7),
         **_HALF),
    _row("resize_nearest_up", I.resize_nearest_neighbor_op, ref_nearest, (2, 3, 4, 2), (5, 7)),
    _row("resize_nearest_down", I.resize_nearest_neighbor_op, ref_nearest, (1, 7, 6, 1), (3, 4)),
    _row("resize_nearest_align", I.resize_nearest_neighbor_op, ref_nearest, (1, 3, 4, 2), (5, 7),
         **_ALIGN),
    _row("resize_nearest_half", I.resize_nearest_neighbor_op, ref_nearest, (1, 5, 4, 1), (3, 7),
         **_HALF),
    # sizes whose source coordinates are multiples of 1/1024: TF's coefficient table is exact
    _row("resize_bicubic_up", I.resize_bicubic_op, ref_bicubic, (2, 3, 4, 2), (6, 8)),
    _row("resize_bicubic_down", I.resize_bicubic_op, ref_bicubic, (1, 8, 4, 1), (4, 2)),
    _row("resize_bicubic_align", I.resize_bicubic_op, ref_bicubic, (1, 3, 5, 2), (5, 9),
         **_ALIGN),
    _row("resize_bicubic_half", I.resize_bicubic_op, ref_bicubic, (2, 3, 4, 1), (6, 2),
         **_HALF),
    _row("resize_area_down", I.resize_area_op, ref_area, (2, 7, 5, 2), (3, 2)),
    _row("resize_area_up", I.resize_area_op, ref_area, (1, 3, 4, 1), (5, 7)),
    _row("resize_area_align", I.resize_area_op, ref_area, (1, 7, 5, 2), (4, 3), **_ALIGN),
]


def _np_patches(x, k, s, r, padding):
    n, h, w, c = x.shape
    out_h = -(-h // s[0]) if padding == "SAME" else -(-(h - (k[0] - 1) * r[0]) // s[0])
    out_w = -(-w // s[1]) if padding == "SAME" else -(-(w - (k[1] - 1) * r[1]) // s[1])
    ph = max((out_h - 1) * s[0] + (k[0] - 1) * r[0] + 1 - h, 0) // 2 if padding == "SAME" else 0
    pw = max((out_w - 1) * s[1] + (k[1] - 1) * r[1] + 1 - w, 0) // 2 if padding == "SAME" else 0
    y = np.zeros((n, out_h, out_w, k[0] * k[1] * c))
    for i in range(out_h):
        for j in range(out_w):
            parts = []
            for a in range(k[0]):
                for b in range(k[1]):
                    yy, xx = i * s[0] - ph + a * r[0], j * s[1] - pw + b * r[1]
                    inside = 0 <= yy < h and 0 <= xx < w
                    parts.append(x[:, yy, xx] if inside else np.zeros((n, c)))
            y[:, i, j] = np.concatenate(parts, axis=-1)
    return y


def _np_hsv(x):
    return np.apply_along_axis(lambda p: colorsys.rgb_to_hsv(*p), -1, x)


def _np_rgb(x):
    return np.apply_along_axis(lambda p: colorsys.hsv_to_rgb(*p), -1, x)


def _np_sobel(x):
    p = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    ky = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    h, w = x.shape[1:3]
    outs = []
    for k in (ky, ky.T):
        outs.append(sum(k[i, j] * p[:, i:i + h, j:j + w] for i in range(3) for j in range(3)))
    return np.stack(outs, axis=-1)


def _np_standardize(x):
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    std = np.maximum(x.std(axis=(1, 2, 3), keepdims=True), 1 / np.sqrt(x[0].size))
    return (x - mean) / std


_YUV = np.array([[0.299, -0.14714119, 0.61497538], [0.587, -0.28886916, -0.51496512],
                 [0.114, 0.43601035, -0.10001026]])
UNIT = (0.05, 0.95)
IMAGE_CASES = [
    OpCase("flip_left_right", tf.image.flip_left_right, lambda x: x[:, :, ::-1], [(2, 3, 4, 2)]),
    OpCase("flip_up_down_3d", tf.image.flip_up_down, lambda x: x[::-1], [(3, 4, 2)]),
    OpCase("transpose_image", tf.image.transpose_image, lambda x: x.transpose(0, 2, 1, 3),
           [(2, 3, 4, 1)]),
    OpCase("rot90_k1", tf.image.rot90, lambda x: np.rot90(x, 1, axes=(1, 2)), [(2, 3, 4, 1)]),
    OpCase("rot90_k3_3d", lambda x: tf.image.rot90(x, 3), lambda x: np.rot90(x, 3),
           [(3, 4, 2)]),
    OpCase("crop_to_bounding_box", lambda x: tf.image.crop_to_bounding_box(x, 1, 2, 2, 3),
           lambda x: x[:, 1:3, 2:5], [(2, 4, 6, 2)]),
    OpCase("pad_to_bounding_box_3d", lambda x: tf.image.pad_to_bounding_box(x, 1, 2, 5, 7),
           lambda x: np.pad(x, [(1, 1), (2, 1), (0, 0)]), [(3, 4, 2)]),
    OpCase("central_crop", lambda x: tf.image.central_crop(x, 0.5), lambda x: x[:, 1:4, 2:6],
           [(1, 5, 8, 2)]),
    OpCase("resize_image_with_crop_or_pad",
           lambda x: tf.image.resize_image_with_crop_or_pad(x, 3, 8),
           lambda x: np.pad(x[:, 1:4], [(0, 0), (0, 0), (1, 2), (0, 0)]), [(2, 5, 5, 1)]),
    OpCase("resize_images_3d_bilinear", lambda x: tf.image.resize_images(x, [5, 3]),
           lambda x: ref_bilinear(x[None], (5, 3))[0], [(3, 4, 2)]),
    OpCase("extract_image_patches_same",
           lambda x: tf.extract_image_patches(x, [1, 2, 3, 1], [1, 2, 2, 1], [1, 1, 1, 1],
                                              "SAME"),
           lambda x: _np_patches(x, (2, 3), (2, 2), (1, 1), "SAME"), [(2, 5, 6, 2)]),
    OpCase("extract_image_patches_valid_rates",
           lambda x: tf.image.extract_image_patches(x, [1, 2, 2, 1], [1, 1, 2, 1],
                                                    [1, 2, 1, 1], "VALID"),
           lambda x: _np_patches(x, (2, 2), (1, 2), (2, 1), "VALID"), [(1, 5, 6, 3)]),
    OpCase("adjust_brightness", lambda x: tf.image.adjust_brightness(x, 0.25),
           lambda x: x + 0.25, [(2, 3, 3, 3)]),
    OpCase("adjust_contrast", lambda x: tf.image.adjust_contrast(x, 1.7),
           lambda x: (x - x.mean((1, 2), keepdims=True)) * 1.7 + x.mean((1, 2), keepdims=True),
           [(2, 3, 4, 3)]),
    OpCase("adjust_gamma", lambda x: tf.image.adjust_gamma(x, 2.2, 0.9),
           lambda x: 0.9 * x ** 2.2, [(3, 4, 3)], domain=UNIT),
    OpCase("adjust_saturation", lambda x: tf.image.adjust_saturation(x, 0.6),
           lambda x: _np_rgb(_np_hsv(x) * [1, 0.6, 1]), [(3, 4, 3)], domain=UNIT),
    OpCase("adjust_hue", lambda x: tf.image.adjust_hue(x, 0.3),
           lambda x: _np_rgb(np.mod(_np_hsv(x) + [0.3, 0, 0], [1, 2, 2])), [(2, 3, 3, 3)],
           domain=UNIT),
    OpCase("rgb_to_hsv", tf.image.rgb_to_hsv, _np_hsv, [(2, 3, 4, 3)], domain=UNIT),
    OpCase("hsv_to_rgb", tf.image.hsv_to_rgb, _np_rgb, [(3, 4, 3)], domain=UNIT),
    OpCase("rgb_to_yuv", tf.image.rgb_to_yuv, lambda x: x @ _YUV, [(3, 4, 3)]),
    OpCase("yuv_to_rgb", tf.image.yuv_to_rgb, lambda x: x @ np.linalg.inv(_YUV), [(3, 4, 3)],
           rtol=1e-5, atol=1e-6),
    OpCase("rgb_to_grayscale", tf.image.rgb_to_grayscale,
           lambda x: x @ np.array([[0.2989], [0.5870], [0.1140]]), [(2, 3, 4, 3)]),
    OpCase("grayscale_to_rgb", tf.image.grayscale_to_rgb, lambda x: np.repeat(x, 3, -1),
           [(3, 4, 1)]),
    OpCase("per_image_standardization", tf.image.per_image_standardization, _np_standardize,
           [(2, 3, 4, 3)], rtol=1e-5, atol=1e-7),
    OpCase("total_variation", tf.image.total_variation,
           lambda x: np.abs(np.diff(x, axis=1)).sum((1, 2, 3)) +
           np.abs(np.diff(x, axis=2)).sum((1, 2, 3)), [(2, 3, 4, 2)]),
    OpCase("image_gradients", tf.image.image_gradients,
           lambda x: (np.pad(np.diff(x, axis=1), [(0, 0), (0, 1), (0, 0), (0, 0)]),
                      np.pad(np.diff(x, axis=2), [(0, 0), (0, 0), (0, 1), (0, 0)])),
           [(2, 3, 4, 2)]),
    OpCase("sobel_edges", tf.image.sobel_edges, _np_sobel, [(2, 4, 5, 2)]),
    OpCase("psnr", lambda a, b: tf.image.psnr(a, b, 2.0),
           lambda a, b: 20 * np.log10(2.0) - 10 * np.log10(((a - b) ** 2).mean((1, 2, 3))),
           [(2, 3, 4, 3), (2, 3, 4, 3)]),
    OpCase("ssim", lambda a, b: tf.image.ssim(a, b, 1.0, filter_size=5), None,
           [(2, 7, 8, 2), (2, 7, 8, 2)], domain=(0.0, 1.0)),
    # gradients for the image and the boxes (samples stay off the pixel grid's kinks)
    OpCase("crop_and_resize", lambda x, b: tf.image.crop_and_resize(x, b, [1, 0, 1], [3, 4]),
           None, [(2, 5, 6, 2), (3, 4)], domain=[(-1.0, 1.0), (0.05, 0.95)]),
    OpCase("crop_and_resize_nearest_extrapolated",
           lambda x: tf.image.crop_and_resize(x, [[-0.3, 0.1, 0.8, 1.2]], [0], [4, 3],
                                              method="nearest", extrapolation_value=0.5),
           None, [(1, 5, 6, 2)]),
]
for _c in IMAGE_CASES:
    _c.dynamic = False      # tf.image functions need the image's rank at build time

CASES = RESIZE_CASES + IMAGE_CASES


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


# ----- dtypes, 3-D and 4-D ------------------------------------------------------------------
U8 = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)


@pytest.mark.parametrize("method", [0, 2, 3])
def test_integer_images_resize_to_float32(method):
    out = tf.image.resize_images(tf.constant(U8), [3, 7], method=method)
    assert out.dtype == tf.float32 and out.shape.as_list() == [2, 3, 7, 3]
    ref = {0: ref_bilinear, 2: ref_bicubic, 3: ref_area}[method]
    got = _run(out)
    # bicubic's table makes the reference approximate at these sizes
    np.testing.assert_allclose(got, ref(U8.astype(np.float64), (3, 7)),
                               rtol=1e-5, atol=1e-4 if method != 2 else 0.3)


def test_nearest_keeps_dtype_and_float_rules():
    out = tf.image.resize_images(tf.constant(U8[0]), [7, 3],
                                 method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    assert out.dtype == tf.uint8 and out.shape.as_list() == [7, 3, 3]
    np.testing.assert_array_equal(_run(out), ref_nearest(U8[:1], (7, 3))[0])
    assert tf.image.resize_bilinear(tf.zeros([1, 2, 2, 1], tf.float16), [3, 3]).dtype == \
        tf.float32
    assert tf.image.resize_bicubic(tf.zeros([1, 2, 2, 1], tf.float64), [3, 3]).dtype == \
        tf.float64


def test_resize_to_the_same_size_returns_the_image():
    img = tf.constant(U8)
    assert tf.image.resize_images(img, [4, 5]) is img


def test_resize_3d_equals_4d_and_preserve_aspect_ratio():
    x = np.random.default_rng(0).random((4, 6, 2))
    a = tf.image.resize_images(tf.constant(x), [5, 5], method="bicubic")
    b = tf.image.resize_images(tf.constant(x[None]), [5, 5], method="bicubic")
    assert a.shape.as_list() == [5, 5, 2]
    np.testing.assert_allclose(_run(a), _run(b)[0])
    # the smaller factor (10 / 6) applies to both sides: 4 * 10/6 = 6.67 -> 7
    c = tf.image.resize_images(tf.constant(x), [12, 10], preserve_aspect_ratio=True)
    assert c.shape.as_list() == [7, 10, 2]
    # resize_image_with_pad: 4x6 into 9x9 becomes 6x9, with rows 1..6 filled
    d = _run(tf.image.resize_image_with_pad(tf.constant(x + 1.0), 9, 9))
    assert d.shape == (9, 9, 2)
    assert (d[0] == 0).all() and (d[-2:] == 0).all() and (d[1:7] > 0).all()


def test_convert_image_dtype_rules():
    u8 = tf.constant([0, 128, 255], dtype=tf.uint8)
    f = tf.constant([0.0, 0.5, 1.0, 1.5], dtype=tf.float32)
    i16 = tf.constant([0, 32767], dtype=tf.int16)
    np.testing.assert_allclose(_run(tf.image.convert_image_dtype(u8, tf.float32)),
                               [0, 128 / 255, 1.0], rtol=1e-6)
    # float -> int: multiply by max + 0.5 and truncate; saturate clips before the cast
    np.testing.assert_array_equal(
        _run(tf.image.convert_image_dtype(f, tf.uint8, saturate=True)), [0, 127, 255, 255])
    # int -> wider int multiplies by (32767 + 1) // (255 + 1); narrower floor-divides by it
    np.testing.assert_array_equal(_run(tf.image.convert_image_dtype(u8, tf.int16)),
                                  [0, 128 * 128, 255 * 128])
    np.testing.assert_array_equal(_run(tf.image.convert_image_dtype(i16, tf.uint8)), [0, 255])
    assert tf.image.convert_image_dtype(u8, tf.uint8).op.type == "Identity"
    # brightness on uint8 computes on floats and saturates back
    np.testing.assert_array_equal(_run(tf.image.adjust_brightness(u8, 0.5)), [127, 255, 255])


def test_gradients_reach_float_images_only():
    x = tf.placeholder(tf.float32, [1, 3, 3, 1])
    for m in range(4):
        g, = tf.gradients(tf.reduce_sum(tf.image.resize_images(x, [5, 4], method=m)), [x])
        # each output pixel's weights sum to 1: the gradient sums to the number of outputs
        assert abs(float(_run(g, {x: np.ones((1, 3, 3, 1))}).sum()) - 20) < 1e-4
    u = tf.placeholder(tf.uint8, [1, 3, 3, 1])
    assert tf.gradients(tf.reduce_sum(tf.image.resize_images(u, [5, 4])), [u]) == [None]


# ----- seeded random ops --------------------------------------------------------------------
def _random_graph():
    x = tf.constant(np.random.default_rng(1).random((4, 5, 6, 3)), dtype=tf.float32)
    return [tf.image.random_flip_left_right(x, seed=1), tf.image.random_flip_up_down(x, seed=2),
            tf.image.random_brightness(x, 0.3, seed=3), tf.image.random_contrast(x, 0.2, 1.8,
                                                                                 seed=4),
            tf.image.random_saturation(x, 0.2, 1.8, seed=5), tf.image.random_hue(x, 0.4, seed=6),
            tf.random_crop(x, [2, 3, 3, 3], seed=7)]


def test_seeded_random_ops_repeat_across_sessions():
    outs = _random_graph()
    with tf.Session() as s1:
        a = s1.run(outs)
        a2 = s1.run(outs)
    with tf.Session() as s2:
        b = s2.run(outs)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, v) for u, v in zip(a, a2))   # later runs draw anew


def test_random_flip_and_crop_values():
    x = np.random.default_rng(2).random((8, 3, 4, 1))
    flipped = _run(tf.image.random_flip_left_right(tf.constant(x), seed=3))
    for img, src in zip(flipped, x):
        assert np.array_equal(img, src) or np.array_equal(img, src[:, ::-1])
    crop = _run(tf.random_crop(tf.constant(x[0, :, :, 0]), [2, 2], seed=1))
    windows = [x[0, i:i + 2, j:j + 2, 0] for i in range(2) for j in range(3)]
    assert any(np.array_equal(crop, w) for w in windows)


def test_rot90_with_a_tensor_k():
    x = np.arange(6.0).reshape(2, 3, 1)
    k = tf.placeholder(tf.int32, [])
    out = tf.image.rot90(tf.constant(x), k)
    with tf.Session() as s:
        for kk in range(-1, 5):
            np.testing.assert_array_equal(s.run(out, {k: kk}), np.rot90(x, kk))


def test_ssim_of_identical_images_is_one():
    x = tf.constant(np.random.default_rng(3).random((2, 12, 13, 3)), dtype=tf.float32)
    np.testing.assert_allclose(_run(tf.image.ssim(x, x, 1.0)), [1, 1], rtol=1e-5)
    np.testing.assert_allclose(_run(tf.image.ssim_multiscale(x, x, 1.0, filter_size=3,
                                                             power_factors=(0.5, 0.5))),
                               [1, 1], rtol=1e-5)


# ----- build-time errors --------------------------------------------------------------------
@pytest.mark.parametrize("build,match", [
    (lambda: tf.image.resize_images(tf.zeros([4, 4]), [2, 2]), "3 or 4 dimensions"),
    (lambda: tf.image.resize_images(tf.placeholder(tf.float32), [2, 2]), "unknown rank"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4, 1]), [2]), "2 elements"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4, 1]), [2, 2, 2]), "2 elements"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4, 1]), [2.5, 2]), "int32"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4, 1]), [0, 2]), "positive"),
    (lambda: tf.image.resize_images(tf.zeros([4, 4, 1]), [2, 2], method=7), "not implemented"),
    (lambda: tf.image.resize_bilinear(tf.zeros([4, 4, 1]), [2, 2]), "4-D"),
    (lambda: tf.image.resize_bilinear(tf.zeros([1, 4, 4, 1]), [2, 2], align_corners=True,
                                      half_pixel_centers=True), "half_pixel_centers"),
    (lambda: tf.image.crop_to_bounding_box(tf.zeros([4, 4, 1]), 1, 1, 4, 2), "height must be"),
    (lambda: tf.image.crop_to_bounding_box(tf.zeros([4, 4, 1]), 0, -1, 2, 2), ">= 0"),
    (lambda: tf.image.pad_to_bounding_box(tf.zeros([4, 4, 1]), 0, 2, 4, 5), "width must be"),
    (lambda: tf.image.central_crop(tf.zeros([4, 4, 1]), 0.0), r"within \(0, 1\]"),
    (lambda: tf.random_crop(tf.zeros([4, 4, 1]), [5, 2, 1]), "value.shape >= size"),
    (lambda: tf.random_crop(tf.zeros([4, 4, 1]), [2, 2]), "rank"),
    (lambda: tf.image.random_hue(tf.zeros([2, 2, 3]), 0.7), "<= 0.5"),
    (lambda: tf.image.random_contrast(tf.zeros([2, 2, 3]), 0.8, 0.5), "upper must be > lower"),
    (lambda: tf.image.rgb_to_hsv(tf.zeros([2, 2, 4])), "last dimension must be 3"),
    (lambda: tf.image.extract_image_patches(tf.zeros([1, 4, 4, 1]), [1, 2, 2], [1, 1, 1, 1],
                                            [1, 1, 1, 1], "SAME"), "ksizes"),
    (lambda: tf.image.ssim(tf.zeros([1, 8, 8, 1]), tf.zeros([1, 8, 8, 1]), 1.0), "filter_size"),
    (lambda: tf.image.image_gradients(tf.zeros([4, 4, 1])), "4-D"),
    (lambda: tf.image.crop_and_resize(tf.zeros([1, 4, 4, 1]), [[0, 0, 1, 1]], [0], [2, 2],
                                      method="bicubic"), "method"),
    (lambda: tf.image.crop_and_resize(tf.zeros([1, 4, 4, 1]), [[0, 0, 1, 1]], [0], [2]),
     "crop_size"),
    (lambda: tf.image.crop_and_resize(tf.zeros([1, 4, 4, 1]), [[0, 0, 1]], [0], [2, 2]),
     "boxes"),
    (lambda: tf.image.extract_glimpse(tf.zeros([4, 4, 1]), [2, 2], [[0, 0]]), "4-D"),
])
def test_build_time_errors(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def test_namespaces():
    assert tf.compat.v1.image.resize_images is tf.image.resize_images
    assert tf.image.resize is tf.image.resize_images
    assert tf.image.random_crop is tf.random_crop
    assert tf.image.extract_image_patches is tf.extract_image_patches
    assert tf.image.ResizeMethod.AREA == 3


# ----- optional: against TensorFlow ---------------------------------------------------------
def test_resize_ops_match_tensorflow():
    tf_ = pytest.importorskip("tensorflow")
    raw = tf_.raw_ops
    rng = np.random.default_rng(4)
    for (h, w, oh, ow) in [(3, 3, 4, 5), (5, 7, 9, 4), (7, 5, 3, 11), (1, 4, 3, 2)]:
        x = rng.standard_normal((2, h, w, 2)).astype(np.float32)
        dy = rng.standard_normal((2, oh, ow, 2)).astype(np.float32)
        for flags in ({}, _ALIGN, _HALF):
            for ours, grad, theirs, their_grad in [
                    (I.resize_bilinear_op, I.resize_bilinear_grad_op, raw.ResizeBilinear,
                     raw.ResizeBilinearGrad),
                    (I.resize_bicubic_op, I.resize_bicubic_grad_op, raw.ResizeBicubic,
                     raw.ResizeBicubicGrad),
                    (I.resize_nearest_neighbor_op, None, raw.ResizeNearestNeighbor,
                     raw.ResizeNearestNeighborGrad),
                    (I.resize_area_op, None, raw.ResizeArea, None)]:
                if ours is I.resize_area_op and flags is _HALF:
                    continue
                got = _run(ours(tf.constant(x), I.as_size([oh, ow]), **flags))
                want = theirs(images=x, size=[oh, ow], **flags).numpy()
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=5e-6)
                if their_grad is None:
                    continue
                if grad is None:
                    g = _run(I.resize_nearest_neighbor_grad_op(tf.constant(dy),
                                                               I.as_size([h, w]), **flags))
                    want = their_grad(grads=dy, size=[h, w], **flags).numpy()
                else:
                    g = _run(grad(tf.constant(dy), tf.constant(x), **flags))
                    want = their_grad(grads=dy, original_image=x, **flags).numpy()
                np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-5)


def test_docstring_examples():
    import doctest

    from flowgrad.image import _common, _resize
    for module in (_common, _resize):
        failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert failures == 0


def test_sizes_and_offsets_given_as_tensors():
    x = np.random.default_rng(5).random((2, 4, 5, 1))
    size = tf.placeholder(tf.int32, [2])
    off = tf.placeholder(tf.int32, [])
    img = tf.placeholder(tf.float64, [None, None, None, 1])
    resized = tf.image.resize_images(tf.constant(x), size)
    assert resized.shape.as_list() == [2, None, None, 1]
    cropped = tf.image.crop_to_bounding_box(img, off, 1, 2, 3)
    padded = tf.image.pad_to_bounding_box(img, off, 2, 7, 8)
    centred = tf.image.resize_image_with_crop_or_pad(img, 3, 7)
    fitted = tf.image.resize_image_with_pad(img, 9, 9)
    fitted_static = tf.image.resize_image_with_pad(tf.constant(x), 9, 9)
    assert padded.shape.as_list() == [None, 7, 8, 1]
    with tf.Session() as s:
        r, c, p, m, f, fs = s.run([resized, cropped, padded, centred, fitted, fitted_static],
                                  {size: [3, 7], off: 1, img: x})
    np.testing.assert_array_equal(f, fs)
    np.testing.assert_allclose(r, ref_bilinear(x, (3, 7)))
    np.testing.assert_array_equal(c, x[:, 1:3, 1:4])
    np.testing.assert_array_equal(p, np.pad(x, [(0, 0), (1, 2), (2, 1), (0, 0)]))
    np.testing.assert_array_equal(m, np.pad(x[:, :3], [(0, 0), (0, 0), (1, 1), (0, 0)]))


@pytest.mark.parametrize("ratio", [0, 10**6], ids=["taps", "gemm"])
def test_resize_rows_with_taps_and_with_gemms(ratio, monkeypatch):
    """Each resize matrix is applied as gathers or as a GEMM depending on its sparsity; both
    ways give the rows' results."""
    monkeypatch.setattr(I, "TAPS_RATIO", ratio)
    for case in RESIZE_CASES:
        check_op(case)


def test_image_functions_match_tensorflow():
    tf_ = pytest.importorskip("tensorflow")
    T = tf_.compat.v1.image
    rng = np.random.default_rng(6)
    x = rng.random((2, 7, 9, 3)).astype(np.float32)
    xu = (x * 255).astype(np.uint8)
    big = rng.random((2, 24, 26, 3)).astype(np.float32)
    big2 = np.clip(big + 0.1 * rng.standard_normal(big.shape), 0, 1).astype(np.float32)
    boxes = np.array([[0.1, 0.2, 0.8, 0.9], [0.0, 0.0, 1.0, 1.0], [-0.2, 0.3, 0.5, 1.3],
                      [0.6, 0.7, 0.2, 0.1]], np.float32)
    cases = [
        (lambda m, c: m.central_crop(c(x), 0.6), 0),
        (lambda m, c: m.resize_image_with_crop_or_pad(c(x), 4, 12), 0),
        (lambda m, c: m.resize_image_with_crop_or_pad(c(x[0]), 10, 3), 0),
        (lambda m, c: m.resize_image_with_pad(c(x), 10, 10), 1e-6),
        (lambda m, c: m.resize_images(c(x), [12, 20], preserve_aspect_ratio=True), 1e-6),
        (lambda m, c: m.resize_images(c(xu), [3, 4], method=3), 1e-4),
        (lambda m, c: m.per_image_standardization(c(x)), 1e-5),
        (lambda m, c: m.adjust_brightness(c(xu), 0.3), 0),
        (lambda m, c: m.adjust_contrast(c(xu), 1.7), 0),
        (lambda m, c: m.adjust_gamma(c(xu), 0.5, 1.2), 0),
        (lambda m, c: m.adjust_saturation(c(x), 1.7), 1e-6),
        (lambda m, c: m.adjust_hue(c(xu), 0.45), 0),
        (lambda m, c: m.rgb_to_grayscale(c(xu)), 0),
        (lambda m, c: m.rgb_to_hsv(c(x)), 1e-6),
        (lambda m, c: m.hsv_to_rgb(c(x)), 1e-6),
        (lambda m, c: m.rgb_to_yiq(c(x)), 1e-6),
        (lambda m, c: m.sobel_edges(c(x)), 1e-6),
        (lambda m, c: m.total_variation(c(x)), 1e-4),
        (lambda m, c: m.psnr(c(xu), c(xu // 2), 255), 1e-5),
        (lambda m, c: m.rot90(c(x), 3), 0),
        (lambda m, c: m.extract_image_patches(c(x), [1, 3, 2, 1], [1, 2, 3, 1], [1, 2, 1, 1],
                                              "SAME"), 0),
        (lambda m, c: m.ssim(c(big), c(big2), 1.0), 1e-5),
        (lambda m, c: m.crop_and_resize(c(x), c(boxes), [0, 1, 1, 0], [4, 5],
                                        extrapolation_value=-1.0), 0),
        (lambda m, c: m.crop_and_resize(c(xu), c(boxes), [0, 1, 1, 0], [1, 6],
                                        method="nearest"), 0),
        (lambda m, c: m.ssim_multiscale(c(big), c(big2), 1.0, power_factors=(0.5, 0.5),
                                        filter_size=5), 1e-5),
    ]
    for i, (fn, atol) in enumerate(cases):
        tf.reset_default_graph()
        got = _run(fn(tf.image, tf.constant))
        want = np.asarray(fn(T, tf_.constant))
        assert got.dtype == want.dtype, f"case {i}: dtype {got.dtype} vs {want.dtype}"
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=atol, err_msg=f"case {i}")


def test_float16_images_get_float16_gradients():
    x = tf.placeholder(tf.float16, [1, 3, 4, 1])
    y = tf.image.resize_bicubic(x, [5, 7])
    g, = tf.gradients(tf.reduce_sum(y), [x])
    assert y.dtype == tf.float32 and g.dtype == tf.float16
    got = _run(g, {x: np.ones((1, 3, 4, 1), np.float16)})
    assert got.dtype == np.float16 and abs(float(got.astype(np.float64).sum()) - 35) < 0.05


def _np_glimpse_corner(offset, size, hw, centered, normalized):
    """TF1's glimpse corner, in float32: the centre minus half the window, truncated."""
    y, x = (F32(v) for v in offset)
    h, w = (F32(v) for v in hw)
    if normalized:
        y, x = y * h, x * w
    if centered:
        y, x = y / F32(2) + h / F32(2), x / F32(2) + w / F32(2)
    return int(y - F32(size[0] / 2.0)), int(x - F32(size[1] / 2.0))


@pytest.mark.parametrize("centered,normalized,offsets", [
    (False, False, [[1.0, 1.0], [3.3, 4.7], [6.0, 8.0]]),
    (True, True, [[0.0, 0.0], [0.5, -0.5], [-0.9, 0.95]]),
    (True, False, [[0.0, 0.0], [-2.5, 3.2], [3.0, -5.0]]),
    (False, True, [[0.5, 0.5], [0.1, 0.9], [1.0, 0.0]]),
])
def test_extract_glimpse(centered, normalized, offsets):
    x = np.random.default_rng(7).random((3, 7, 9, 2)).astype(np.float32)
    size = (3, 4)
    out = tf.image.extract_glimpse(tf.constant(x), size, offsets, centered=centered,
                                   normalized=normalized)
    assert out.shape.as_list() == [3, 3, 4, 2]
    got = _run(out)
    for i, off in enumerate(offsets):
        top, left = _np_glimpse_corner(off, size, (7, 9), centered, normalized)
        for r in range(size[0]):
            for c in range(size[1]):
                yy, xx = top + r, left + c
                if 0 <= yy < 7 and 0 <= xx < 9:
                    np.testing.assert_array_equal(got[i, r, c], x[i, yy, xx])
                else:       # uniform noise between the image's minimum and maximum
                    assert (got[i, r, c] >= x[i].min()).all() and \
                        (got[i, r, c] <= x[i].max()).all()
    # the gradient reaches the pixels inside the windows
    img = tf.placeholder(tf.float32, [3, 7, 9, 2])
    g, = tf.gradients(tf.reduce_sum(tf.image.extract_glimpse(img, size, offsets,
                                                             centered=centered,
                                                             normalized=normalized,
                                                             uniform_noise=False)), [img])
    assert _run(g, {img: x}).sum() > 0


def test_extract_glimpse_matches_tensorflow():
    tf_ = pytest.importorskip("tensorflow")
    x = np.random.default_rng(8).random((3, 7, 9, 2)).astype(np.float32)
    for centered in (False, True):
        for normalized in (False, True):
            for size in [(2, 2), (3, 4), (5, 6)]:
                offsets = np.array([[1, 1], [3.3, 4.7], [0.4, -0.6]], np.float32)
                tf.reset_default_graph()
                got = _run(tf.image.extract_glimpse(tf.constant(x), size, offsets,
                                                    centered=centered, normalized=normalized))
                want = tf_.compat.v1.image.extract_glimpse(
                    x, size, offsets, centered=centered, normalized=normalized).numpy()
                for i, off in enumerate(offsets):
                    top, left = _np_glimpse_corner(off, size, (7, 9), centered, normalized)
                    r = np.arange(size[0])[:, None] + top
                    c = np.arange(size[1])[None, :] + left
                    inside = (r >= 0) & (r < 7) & (c >= 0) & (c < 9)
                    np.testing.assert_array_equal(got[i][inside], want[i][inside])


def test_crop_and_resize_gradients_match_tensorflow():
    tf_ = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(9)
    x = rng.random((2, 7, 9, 3)).astype(np.float32)
    boxes = np.array([[0.1, 0.2, 0.8, 0.9], [0.0, 0.0, 1.0, 1.0], [-0.2, 0.3, 0.5, 1.3],
                      [0.6, 0.7, 0.2, 0.1], [0.3, 0.3, 0.3, 0.3]], np.float32)
    ind = np.array([0, 1, 1, 0, 1], np.int32)
    for size in [(4, 5), (1, 1), (1, 6)]:
        tf.reset_default_graph()
        dy = rng.standard_normal((5,) + size + (3,)).astype(np.float32)
        xt, bt = tf.constant(x), tf.constant(boxes)
        y = tf.image.crop_and_resize(xt, bt, ind, size)
        gi, gb = _run(tf.gradients(tf.reduce_sum(y * dy), [xt, bt]))
        raw = tf_.raw_ops
        np.testing.assert_allclose(gi, raw.CropAndResizeGradImage(
            grads=dy, boxes=boxes, box_ind=ind, image_size=x.shape, T=tf_.float32).numpy(),
            rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(gb, raw.CropAndResizeGradBoxes(
            grads=dy, image=x, boxes=boxes, box_ind=ind).numpy(), rtol=1e-4, atol=1e-4)
