"""Flips, transposes, rotations, crops, padding and patches (``tf.image``), all composed from
array ops (their gradients come with them)."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import constant_value, convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import state_ops as S
from flowgrad.ops.conv_geometry import window
from flowgrad.image._common import (as_batch, as_image, dims, int_vector, is_static,
                                    static_check, static_int, to_int32, unbatch)


# ----- flips, transposes, rotations ---------------------------------------------------------
def _spatial_axis(image: Tensor, axis3: int) -> int:
    return axis3 + (image.shape.ndims - 3)


def flip_left_right(image, name: str | None = None) -> Tensor:
    """``tf.image.flip_left_right``: mirrors the width axis (3-D or 4-D images)."""
    image = as_image(image, "flip_left_right")
    return A.reverse(image, [_spatial_axis(image, 1)], name=name or "flip_left_right")


def flip_up_down(image, name: str | None = None) -> Tensor:
    """``tf.image.flip_up_down``: mirrors the height axis (3-D or 4-D images)."""
    image = as_image(image, "flip_up_down")
    return A.reverse(image, [_spatial_axis(image, 0)], name=name or "flip_up_down")


def _random_flip(image, axis3: int, seed, fn: str, name) -> Tensor:
    image = as_image(image, fn)
    with name_scope(name, fn):
        axis = _spatial_axis(image, axis3)
        flipped = A.reverse(image, [axis])
        if image.shape.ndims == 3:
            u = S.random_uniform([], 0, 1.0, seed=seed)
            return M.where(M.less(u, 0.5), flipped, image)
        # one coin per image, as TF1 does for batches
        n = dims(image)[0]
        u = S.random_uniform(A.reshape(to_int32(n), [1]) if isinstance(n, Tensor) else [n],
                             0, 1.0, seed=seed)
        flips = A.reshape(M.greater(u, 0.5), [-1, 1, 1, 1])     # round(u) == 1
        return M.where_v2(flips, flipped, image)


def random_flip_left_right(image, seed=None) -> Tensor:
    """``tf.image.random_flip_left_right``: flips with probability 1/2 (per image of a batch)."""
    return _random_flip(image, 1, seed, "random_flip_left_right", None)


def random_flip_up_down(image, seed=None) -> Tensor:
    """``tf.image.random_flip_up_down``: flips with probability 1/2 (per image of a batch)."""
    return _random_flip(image, 0, seed, "random_flip_up_down", None)


def transpose_image(image, name: str | None = None) -> Tensor:
    """``tf.image.transpose_image``: swaps height and width."""
    image = as_image(image, "transpose_image")
    perm = [1, 0, 2] if image.shape.ndims == 3 else [0, 2, 1, 3]
    return A.transpose(image, perm, name=name or "transpose_image")


def _rot90_static(image4: Tensor, k: int) -> Tensor:
    if k == 0:
        return image4
    if k == 1:
        return A.transpose(A.reverse(image4, [2]), [0, 2, 1, 3])
    if k == 2:
        return A.reverse(image4, [1, 2])
    return A.reverse(A.transpose(image4, [0, 2, 1, 3]), [2])


def rot90(image, k=1, name: str | None = None) -> Tensor:
    """``tf.image.rot90``: rotates counter-clockwise by ``k`` quarter turns (``k`` may be a
    tensor)."""
    from flowgrad.ops.control_flow import case  # noqa: PLC0415
    image4, is_batch = as_batch(image, "rot90")
    with name_scope(name, "rot90"):
        kk = static_int(k, "k")
        if not isinstance(kk, Tensor):
            return unbatch(_rot90_static(image4, kk % 4), is_batch)
        kk = M.floormod(to_int32(kk), 4)
        out = case([(M.equal(kk, q), (lambda q=q: _rot90_static(image4, q)))
                    for q in (1, 2, 3)], default=lambda: A.identity(image4), exclusive=True)
        return unbatch(out, is_batch)


# ----- crops and padding --------------------------------------------------------------------
def _box(offset_height, offset_width, target_height, target_width):
    """The four box arguments as ints or scalar tensors (``static_int``)."""
    return (static_int(offset_height, "offset_height"),
            static_int(offset_width, "offset_width"),
            static_int(target_height, "target_height"),
            static_int(target_width, "target_width"))


def crop_to_bounding_box(image, offset_height, offset_width, target_height,
                         target_width) -> Tensor:
    """``tf.image.crop_to_bounding_box``: the ``target_height x target_width`` window whose
    top-left corner is at (``offset_height``, ``offset_width``)."""
    image4, is_batch = as_batch(image, "crop_to_bounding_box")
    with name_scope(None, "crop_to_bounding_box"):
        oh, ow, th, tw = _box(offset_height, offset_width, target_height, target_width)
        _, h, w, _ = dims(image4)
        for v, nm in ((oh, "offset_height"), (ow, "offset_width")):
            static_check(not is_static(v) or v >= 0, f"{nm} must be >= 0.")
        for v, nm in ((th, "target_height"), (tw, "target_width")):
            static_check(not is_static(v) or v > 0, f"{nm} must be > 0.")
        if is_static(oh, th, h):
            static_check(h >= th + oh, f"crop_to_bounding_box: height must be >= target + "
                         f"offset: the image is {h} high, the box ends at {th + oh}.")
        if is_static(ow, tw, w):
            static_check(w >= tw + ow, f"crop_to_bounding_box: width must be >= target + "
                         f"offset: the image is {w} wide, the box ends at {tw + ow}.")
        out = A.slice(image4, int_vector([0, oh, ow, 0]), int_vector([-1, th, tw, -1]))
        out.set_shape([image4.shape[0], th if is_static(th) else None,
                       tw if is_static(tw) else None, image4.shape[3]])
        return unbatch(out, is_batch)


def _zeros_block(like: Tensor, shape4) -> Tensor:
    return A.zeros(int_vector(shape4), dtype=like.dtype)


def pad_to_bounding_box(image, offset_height, offset_width, target_height,
                        target_width) -> Tensor:
    """``tf.image.pad_to_bounding_box``: zero-pads to ``target_height x target_width`` with
    the image's top-left corner at (``offset_height``, ``offset_width``)."""
    image4, is_batch = as_batch(image, "pad_to_bounding_box")
    with name_scope(None, "pad_to_bounding_box"):
        oh, ow, th, tw = _box(offset_height, offset_width, target_height, target_width)
        n, h, w, c = dims(image4)
        after_h, after_w = th - oh - h, tw - ow - w
        for v, nm in ((oh, "offset_height"), (ow, "offset_width")):
            static_check(not is_static(v) or v >= 0, f"{nm} must be >= 0")
        static_check(not is_static(after_h) or after_h >= 0,
                     f"pad_to_bounding_box: height must be <= target - offset: the image is {h} "
                     f"high, the target {th} with offset {oh}.")
        static_check(not is_static(after_w) or after_w >= 0,
                     f"pad_to_bounding_box: width must be <= target - offset: the image is {w} "
                     f"wide, the target {tw} with offset {ow}.")
        if is_static(oh, ow, after_h, after_w):
            out = A.pad(image4, [[0, 0], [oh, after_h], [ow, after_w], [0, 0]])
        else:
            rows = A.concat([_zeros_block(image4, [n, oh, w, c]), image4,
                             _zeros_block(image4, [n, after_h, w, c])], axis=1)
            out = A.concat([_zeros_block(image4, [n, th, ow, c]), rows,
                            _zeros_block(image4, [n, th, after_w, c])], axis=2)
            out.set_shape([image4.shape[0], th if is_static(th) else None,
                           tw if is_static(tw) else None, image4.shape[3]])
        return unbatch(out, is_batch)


def central_crop(image, central_fraction) -> Tensor:
    """``tf.image.central_crop``: the central ``central_fraction`` of each side."""
    image4, is_batch = as_batch(image, "central_crop")
    if isinstance(central_fraction, Tensor):
        v = constant_value(central_fraction)
        if v is None:
            raise ValueError("central_crop: central_fraction must be a Python float or a "
                             "constant")
        central_fraction = float(v)
    if central_fraction <= 0.0 or central_fraction > 1.0:
        raise ValueError("central_fraction must be within (0, 1]")
    if central_fraction == 1.0:
        return image
    with name_scope(None, "central_crop"):
        _, h, w, _ = dims(image4)

        def start(d):
            if is_static(d):
                return int((d - d * central_fraction) / 2)
            df = M.cast(d, _dt.float64)
            return M.cast((df - df * central_fraction) / 2, _dt.int32)
        sh, sw = start(h), start(w)
        out = crop_to_bounding_box(image4, sh, sw, h - sh * 2, w - sw * 2)
        return unbatch(out, is_batch)


def random_crop(value, size, seed=None, name: str | None = None) -> Tensor:
    """``tf.random_crop``: a uniformly placed slice of shape ``size`` (any rank)."""
    with name_scope(name, "random_crop"):
        value = convert_to_tensor(value, name="value")
        size_v = size if isinstance(size, Tensor) else None
        if size_v is None:
            sv = [int(s) for s in np.asarray(size).reshape(-1)]
            r = value.shape.ndims
            if r is not None and len(sv) != r:
                raise ValueError(f"random_crop: size has {len(sv)} entries but the value has "
                                 f"rank {r} (shape {value.shape}).")
            for d, s in zip(value.shape.as_list() if r is not None else [], sv):
                if d is not None and s > d:
                    raise ValueError(f"random_crop: need value.shape >= size, got "
                                     f"{value.shape} and {sv}.")
            size_v = convert_to_tensor(sv, dtype=_dt.int32, name="size")
        size_v = to_int32(size_v)
        shape = A._shape_of(value)
        limit = shape - size_v + 1
        rank = value.shape.ndims
        draw = S.random_uniform([rank] if rank is not None else A.shape(shape), dtype=_dt.int32,
                                maxval=int(_dt.int32.max), seed=seed)
        offset = M.floormod(draw, limit)
        return A.slice(value, offset, size_v)


def extract_image_patches(images, ksizes=None, strides=None, rates=None, padding=None,
                          name: str | None = None, sizes=None) -> Tensor:
    """``tf.extract_image_patches``: every ``ksizes`` window (dilated by ``rates``, moved by
    ``strides``) flattened into the depth axis: [N, out_rows, out_cols, kh * kw * C], in
    (row, column, channel) order; ``SAME`` pads with zeros. Needs static height and width."""
    ksizes = sizes if ksizes is None else ksizes
    if ksizes is None or strides is None or rates is None or padding is None:
        raise TypeError("extract_image_patches needs ksizes (or sizes), strides, rates and "
                        "padding")
    images = convert_to_tensor(images, name="images")
    if images.shape.ndims != 4:
        raise ValueError(f"extract_image_patches expects a 4-D [batch, rows, cols, depth] "
                         f"tensor, got shape {images.shape}.")
    ks, st, rt = ([int(v) for v in a] for a in (ksizes, strides, rates))
    for nm, v in (("ksizes", ks), ("strides", st), ("rates", rt)):
        if len(v) != 4 or v[0] != 1 or v[3] != 1 or min(v) < 1:
            raise ValueError(f"extract_image_patches: {nm} must be [1, rows, cols, 1] with "
                             f"positive entries, got {v}.")
    padding = padding.upper() if isinstance(padding, str) else padding
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"extract_image_patches: padding must be 'SAME' or 'VALID', got "
                         f"{padding!r}.")
    _, h, w, _ = images.shape.as_list()
    if h is None or w is None:
        raise ValueError(f"extract_image_patches needs static rows and cols, got shape "
                         f"{images.shape}.")
    wh = window(h, ks[1], st[1], rt[1], padding)
    ww = window(w, ks[2], st[2], rt[2], padding)
    r = (np.arange(wh.out) * st[1] - wh.pad_before)[:, None] + np.arange(ks[1]) * rt[1]
    c = (np.arange(ww.out) * st[2] - ww.pad_before)[:, None] + np.arange(ks[2]) * rt[2]
    rr, cc = r[:, None, :, None], c[None, :, None, :]            # (OH, OW, KH, KW)
    inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    idx = np.where(inside, rr * w + cc, h * w).astype(np.int32)  # h*w: the zero cell
    with name_scope(name, "extract_image_patches"):
        n, _, _, depth = dims(images)
        flat = A.reshape(images, int_vector([n, h * w, depth]))
        flat = A.concat([flat, A.zeros_like(flat[:, :1, :])], axis=1)
        out = A.gather(flat, convert_to_tensor(idx.reshape(-1)), axis=1)
        kd = ks[1] * ks[2] * depth
        out = A.reshape(out, int_vector([n, wh.out, ww.out, kd]))
        out.set_shape([images.shape[0], wh.out, ww.out,
                       kd if is_static(kd) else None])
        return out


def extract_patches(images, sizes, strides, rates, padding, name: str | None = None) -> Tensor:
    """``tf.image.extract_patches``: ``extract_image_patches`` with TF2's argument name."""
    return extract_image_patches(images, sizes, strides, rates, padding, name=name)


def extract_glimpse(input, size, offsets, centered: bool = True, normalized: bool = True,  # noqa: A002
                    uniform_noise: bool = True, name: str | None = None) -> Tensor:
    """``tf.image.extract_glimpse``: a ``size`` window of each image of a 4-D batch, centred at
    ``offsets[i] = (y, x)``; the parts outside the image are noise (uniform between the
    image's minimum and maximum, or Gaussian with its mean and standard deviation).

    With ``normalized`` the offsets are fractions of the image size; with ``centered`` they
    are measured from the image's centre (so -1 and 1 are its edges when also normalized),
    else from its top-left corner. The window's corner is the centre minus half the window,
    truncated to an integer as TF1's kernel does. Gradients reach the pixels inside the
    windows (TF1 has none for this op); the noise carries none.
    """
    from flowgrad.ops import reduce_ops as R  # noqa: PLC0415
    images = convert_to_tensor(input, name="input")
    if images.shape.ndims != 4:
        raise ValueError(f"extract_glimpse expects a 4-D [batch, height, width, channels] "
                         f"tensor, got shape {images.shape}.")
    if not images.dtype.is_floating:
        raise TypeError(f"extract_glimpse expects a float tensor, got {images.dtype.name}.")
    sv = constant_value(size) if isinstance(size, Tensor) else np.asarray(size)
    if sv is None or np.asarray(sv).size != 2:
        raise ValueError(f"extract_glimpse: size must be 2 ints [glimpse_height, "
                         f"glimpse_width] known at build time, got {size!r}.")
    gh, gw = (int(v) for v in np.asarray(sv).reshape(-1))
    with name_scope(name, "extract_glimpse"):
        offsets = M.cast(convert_to_tensor(offsets, name="offsets"), _dt.float32)
        n, h, w, c = dims(images)
        hf, wf = (M.cast(to_int32(d), _dt.float32) for d in (h, w))
        oy, ox = offsets[:, 0], offsets[:, 1]
        if normalized:
            oy, ox = oy * hf, ox * wf
        if centered:
            oy, ox = oy / 2.0 + hf / 2.0, ox / 2.0 + wf / 2.0
        top = M.cast(oy - gh / 2.0, _dt.int32)
        left = M.cast(ox - gw / 2.0, _dt.int32)
        rows = A.expand_dims(top, 1) + A.range(gh)                   # [N, gh]
        cols = A.expand_dims(left, 1) + A.range(gw)                  # [N, gw]
        row_ok = M.logical_and(M.greater_equal(rows, 0), M.less(rows, to_int32(h)))
        col_ok = M.logical_and(M.greater_equal(cols, 0), M.less(cols, to_int32(w)))
        rows = M.clip_by_value(rows, 0, to_int32(h) - 1)
        cols = M.clip_by_value(cols, 0, to_int32(w) - 1)
        grid = int_vector([n, gh, gw])
        index = A.stack([A.broadcast_to(A.reshape(A.range(to_int32(n)), [-1, 1, 1]), grid),
                         A.broadcast_to(A.expand_dims(rows, 2), grid),
                         A.broadcast_to(A.expand_dims(cols, 1), grid)], axis=-1)
        window = A.gather_nd(images, index)
        inside = M.logical_and(A.reshape(row_ok, [-1, gh, 1, 1]),
                               A.reshape(col_ok, [-1, 1, gw, 1]))
        shape = int_vector([n, gh, gw, c])
        if uniform_noise:
            lo = R.reduce_min(images, axis=[1, 2, 3], keepdims=True)
            hi = R.reduce_max(images, axis=[1, 2, 3], keepdims=True)
            noise = lo + S.random_uniform(shape, dtype=images.dtype) * (hi - lo)
        else:
            mean = R.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
            std = R.reduce_std(images, axis=[1, 2, 3], keepdims=True)
            noise = mean + S.random_normal(shape, dtype=images.dtype) * std
        out = M.where(inside, window, A.stop_gradient(noise))
        out.set_shape([images.shape[0], gh, gw, images.shape[3]])
        return out
