"""``tf.image`` resizing: ``resize_images`` (TF1's ``resize``), the per-method functions, and
resizing with crops or padding."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import constant_value, convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import image_ops as I
from flowgrad.ops import math_ops as M
from flowgrad.image._common import (as_batch, as_image, dims, dmax, dmin, int_vector, is_static,
                                    static_check, static_int, to_int32, unbatch)
from flowgrad.image._geometry import crop_to_bounding_box, pad_to_bounding_box


class ResizeMethod:
    """``tf.image.ResizeMethod``: the interpolation of ``resize_images``."""

    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


_METHOD_NAMES = {"bilinear": 0, "nearest": 1, "nearest_neighbor": 1, "bicubic": 2, "area": 3}


def _method(method) -> int:
    if isinstance(method, str) and method.lower() in _METHOD_NAMES:
        return _METHOD_NAMES[method.lower()]
    if isinstance(method, int) and method in (0, 1, 2, 3):
        return int(method)
    raise ValueError(f"Resize method is not implemented: {method!r} (use tf.image.ResizeMethod."
                     "BILINEAR, NEAREST_NEIGHBOR, BICUBIC or AREA).")


def _checked_size(size, fn: str) -> Tensor:
    try:
        size = I.as_size(size)
    except (TypeError, ValueError) as e:
        raise ValueError(f"tf.image.{fn}: 'size' must be a 1-D int32 Tensor: {e}") from None
    if size.dtype != _dt.int32:
        raise ValueError(f"tf.image.{fn}: 'size' must be a 1-D int32 Tensor, got "
                         f"{size.dtype.name}.")
    if not size.shape.is_compatible_with([2]):
        raise ValueError(f"tf.image.{fn}: 'size' must be a 1-D Tensor of 2 elements: "
                         f"new_height, new_width; got shape {size.shape}.")
    v = constant_value(size)
    if v is not None and min(int(d) for d in np.asarray(v).reshape(-1)) <= 0:
        raise ValueError(f"tf.image.{fn}: 'size' must be positive, got "
                         f"{np.asarray(v).tolist()}.")
    return size


def _raw(fn, images, size, name, **attrs) -> Tensor:
    images = convert_to_tensor(images, name="images")
    if images.shape.ndims not in (None, 4):
        raise ValueError(f"{fn.opdef.type} expects a 4-D [batch, height, width, channels] "
                         f"tensor, got shape {images.shape}; tf.image.resize_images also "
                         "takes 3-D images.")
    return fn(images, _checked_size(size, fn.opdef.type), name=name, **attrs)


def resize_bilinear(images, size, align_corners: bool = False, name: str | None = None,
                    half_pixel_centers: bool = False) -> Tensor:
    """``tf.image.resize_bilinear``: the ResizeBilinear op on a 4-D batch (float32 result)."""
    return _raw(I.resize_bilinear_op, images, size, name, align_corners=bool(align_corners),
                half_pixel_centers=bool(half_pixel_centers))


def resize_nearest_neighbor(images, size, align_corners: bool = False, name: str | None = None,
                            half_pixel_centers: bool = False) -> Tensor:
    """``tf.image.resize_nearest_neighbor``: ResizeNearestNeighbor (keeps the dtype)."""
    return _raw(I.resize_nearest_neighbor_op, images, size, name,
                align_corners=bool(align_corners), half_pixel_centers=bool(half_pixel_centers))


def resize_bicubic(images, size, align_corners: bool = False, name: str | None = None,
                   half_pixel_centers: bool = False) -> Tensor:
    """``tf.image.resize_bicubic``: the ResizeBicubic op on a 4-D batch (float32 result)."""
    return _raw(I.resize_bicubic_op, images, size, name, align_corners=bool(align_corners),
                half_pixel_centers=bool(half_pixel_centers))


def resize_area(images, size, align_corners: bool = False, name: str | None = None) -> Tensor:
    """``tf.image.resize_area``: the ResizeArea op on a 4-D batch (float32 result)."""
    return _raw(I.resize_area_op, images, size, name, align_corners=bool(align_corners))


_BY_METHOD = {0: I.resize_bilinear_op, 1: I.resize_nearest_neighbor_op,
              2: I.resize_bicubic_op, 3: I.resize_area_op}


def _preserved_size(size: Tensor, h, w):
    """TF1's ``preserve_aspect_ratio``: scale both sides by the smaller ratio, rounded half to
    even (in float32)."""
    v = constant_value(size)
    if v is not None and is_static(h, w):
        th, tw = (np.float32(d) for d in np.asarray(v).reshape(-1))
        f = min(th / np.float32(h), tw / np.float32(w))
        return [int(np.round(f * np.float32(h))), int(np.round(f * np.float32(w)))]
    hf, wf = M.cast(int_vector([h]), _dt.float32), M.cast(int_vector([w]), _dt.float32)
    sf = M.cast(size, _dt.float32)
    f = M.minimum(sf[0] / hf[0], sf[1] / wf[0])
    return A.stack([M.cast(M.round(f * hf[0]), _dt.int32), M.cast(M.round(f * wf[0]), _dt.int32)])


def resize_images(images, size, method=ResizeMethod.BILINEAR, align_corners: bool = False,
                  preserve_aspect_ratio: bool = False, name: str | None = None) -> Tensor:
    """``tf.image.resize_images`` (TF1's ``tf.image.resize``): resizes 3-D or 4-D images to
    ``size = [new_height, new_width]``.

    Bilinear, bicubic and area return float32 (float64 stays float64); nearest neighbour
    keeps the dtype. When the static sizes already match, the images come back unchanged
    (and keep their dtype), as in TF1.

    >>> import flowgrad as tf
    >>> img = tf.constant([[[0.0], [1.0]]])                   # 1 x 2 x 1
    >>> tf.Session().run(tf.image.resize_images(img, [1, 4]))[0, :, 0].tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    m = _method(method)
    with name_scope(name, "resize"):
        images = as_image(images, "resize_images", "images")
        images4, is_batch = as_batch(images, "resize_images", "images")
        size = _checked_size(size, "resize_images")
        _, h, w, _ = dims(images4)
        if preserve_aspect_ratio:
            size = I.as_size(_preserved_size(size, h, w))
        v = constant_value(size)
        if v is not None and is_static(h, w) and [int(d) for d in np.asarray(v)] == [h, w]:
            return images
        attrs = {"align_corners": bool(align_corners)}
        out = _BY_METHOD[m](images4, size, **attrs)
        return unbatch(out, is_batch)


resize = resize_images


def _target_size(target_height, target_width):
    """The target (height, width), ints or scalar tensors, checked positive when static."""
    th = static_int(target_height, "target_height")
    tw = static_int(target_width, "target_width")
    static_check(not is_static(th) or th > 0, "target_height must be > 0.")
    static_check(not is_static(tw) or tw > 0, "target_width must be > 0.")
    return th, tw


def resize_image_with_crop_or_pad(image, target_height, target_width) -> Tensor:
    """``tf.image.resize_image_with_crop_or_pad``: centrally crops or zero-pads each side to
    the target (the larger half of an odd difference goes to the bottom/right)."""
    image4, is_batch = as_batch(image, "resize_image_with_crop_or_pad")
    with name_scope(None, "resize_image_with_crop_or_pad"):
        th, tw = _target_size(target_height, target_width)
        _, h, w, _ = dims(image4)
        dh, dw = th - h, tw - w
        crop_h, crop_w = dmax(-dh // 2, 0), dmax(-dw // 2, 0)
        pad_h, pad_w = dmax(dh // 2, 0), dmax(dw // 2, 0)
        cropped = crop_to_bounding_box(image4, crop_h, crop_w, dmin(th, h), dmin(tw, w))
        out = pad_to_bounding_box(cropped, pad_h, pad_w, th, tw)
        return unbatch(out, is_batch)


def resize_image_with_pad(image, target_height, target_width, method=ResizeMethod.BILINEAR,
                          align_corners: bool = False) -> Tensor:
    """``tf.image.resize_image_with_pad``: resizes keeping the aspect ratio so the image fits
    the target, then zero-pads it centrally to the target."""
    image4, is_batch = as_batch(image, "resize_image_with_pad")
    with name_scope(None, "resize_image_with_pad"):
        th, tw = _target_size(target_height, target_width)
        _, h, w, _ = dims(image4)
        if is_static(h, w, th, tw):
            f32 = np.float32
            ratio = max(f32(w) / f32(tw), f32(h) / f32(th))
            rh, rw = f32(h) / ratio, f32(w) / ratio
            ph = max(0, int(np.floor((f32(th) - rh) / f32(2))))
            pw = max(0, int(np.floor((f32(tw) - rw) / f32(2))))
            size = [int(np.floor(rh)), int(np.floor(rw))]
        else:
            fh, fw, fth, ftw = (M.cast(to_int32(d), _dt.float32) for d in (h, w, th, tw))
            ratio = M.maximum(fw / ftw, fh / fth)
            rh, rw = fh / ratio, fw / ratio
            ph = M.maximum(0, M.cast(M.floor((fth - rh) / 2.0), _dt.int32))
            pw = M.maximum(0, M.cast(M.floor((ftw - rw) / 2.0), _dt.int32))
            size = A.stack([M.cast(M.floor(rh), _dt.int32), M.cast(M.floor(rw), _dt.int32)])
        resized = resize_images(image4, size, method, align_corners)
        out = pad_to_bounding_box(resized, ph, pw, th, tw)
        return unbatch(out, is_batch)


def _sample_coords(lo, hi, n_out: int, n_in: Tensor):
    """TF's crop_and_resize source coordinates along one axis: ``[boxes, n_out]``."""
    last = n_in - 1.0
    if n_out > 1:
        step = (hi - lo) * last / float(n_out - 1)
        pos = A.expand_dims(lo * last, 1) + A.expand_dims(step, 1) * \
            M.cast(A.range(n_out), lo.dtype)
    else:
        pos = A.expand_dims(0.5 * (lo + hi) * last, 1)
    inside = M.logical_and(M.greater_equal(pos, 0.0), M.less_equal(pos, last))
    return pos, inside


def crop_and_resize(image, boxes, box_ind, crop_size, method: str = "bilinear",
                    extrapolation_value: float = 0, name: str | None = None,
                    box_indices=None) -> Tensor:
    """``tf.image.crop_and_resize``: crops ``boxes`` (normalised ``[y1, x1, y2, x2]``, of
    image ``box_ind[i]``) out of a 4-D batch and resizes each to ``crop_size`` by bilinear or
    nearest sampling; samples outside the image are ``extrapolation_value``. Float32 result
    (float64 stays float64); gradients reach the image and the boxes."""
    box_ind = box_indices if box_ind is None else box_ind
    images = convert_to_tensor(image, name="image")
    if images.shape.ndims != 4:
        raise ValueError(f"crop_and_resize expects a 4-D [batch, height, width, channels] "
                         f"image, got shape {images.shape}.")
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"crop_and_resize: method must be 'bilinear' or 'nearest', got "
                         f"{method!r}.")
    cv = constant_value(crop_size) if isinstance(crop_size, Tensor) else np.asarray(crop_size)
    if cv is None or np.asarray(cv).size != 2 or min(np.asarray(cv).reshape(-1)) <= 0:
        raise ValueError(f"crop_and_resize: crop_size must be 2 positive ints known at build "
                         f"time, got {crop_size!r}.")
    ch, cw = (int(v) for v in np.asarray(cv).reshape(-1))
    dtype = _dt.float64 if images.dtype == _dt.float64 else _dt.float32
    with name_scope(name, "crop_and_resize"):
        x = M.cast(images, dtype)
        boxes = convert_to_tensor(boxes, name="boxes")
        if boxes.shape.ndims not in (None, 2) or boxes.shape.ndims == 2 and \
                boxes.shape[1] not in (None, 4):
            raise ValueError(f"crop_and_resize: boxes must be [num_boxes, 4], got shape "
                             f"{boxes.shape}.")
        boxes = M.cast(boxes, dtype)
        box_ind = M.cast(convert_to_tensor(box_ind, name="box_ind"), _dt.int32)
        _, h, w, _ = dims(x)
        hf, wf = (M.cast(to_int32(d), dtype) for d in (h, w))
        y1, x1, y2, x2 = A.unstack(boxes, num=4, axis=1)
        ys, y_in = _sample_coords(y1, y2, ch, hf)               # [B, ch]
        xs, x_in = _sample_coords(x1, x2, cw, wf)               # [B, cw]
        nb = A.shape(boxes)[0]
        grid = A.stack([nb, ch, cw])

        def gather(rows, cols):
            index = A.stack([A.broadcast_to(A.reshape(box_ind, [-1, 1, 1]), grid),
                             A.broadcast_to(A.expand_dims(rows, 2), grid),
                             A.broadcast_to(A.expand_dims(cols, 1), grid)], axis=-1)
            return A.gather_nd(x, index)                        # [B, ch, cw, C]

        def index(pos, n, fn):
            return M.clip_by_value(M.cast(fn(pos), _dt.int32), 0, to_int32(n) - 1)
        if method == "nearest":
            # roundf: halves away from zero (the positions are never negative here)
            out = gather(index(ys + 0.5, h, M.floor), index(xs + 0.5, w, M.floor))
        else:
            top, bottom = index(ys, h, M.floor), index(ys, h, M.ceil)
            left, right = index(xs, w, M.floor), index(xs, w, M.ceil)
            ly = A.reshape(ys - M.floor(ys), A.stack([nb, ch, 1, 1]))
            lx = A.reshape(xs - M.floor(xs), A.stack([nb, 1, cw, 1]))
            upper = gather(top, left) + (gather(top, right) - gather(top, left)) * lx
            lower = gather(bottom, left) + (gather(bottom, right) - gather(bottom, left)) * lx
            out = upper + (lower - upper) * ly
        inside = M.logical_and(A.reshape(y_in, A.stack([nb, ch, 1, 1])),
                               A.reshape(x_in, A.stack([nb, 1, cw, 1])))
        fill = A.zeros_like(out) + M.cast(extrapolation_value, dtype)
        out = M.where(inside, out, fill)
        out.set_shape([boxes.shape[0], ch, cw, images.shape[3]])
        return out
