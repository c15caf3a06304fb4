"""What every ``tf.image`` function shares: rank checks, image dimensions that are Python ints
where static and scalar tensors where not, and ``convert_image_dtype``."""

from __future__ import annotations

import builtins

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import constant_value, convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M

Dim = int | Tensor


def as_image(image, fn: str, name: str = "image") -> Tensor:
    """``image`` as a tensor of rank 3 [H, W, C] or 4 [N, H, W, C]; a clear error otherwise."""
    image = convert_to_tensor(image, name=name)
    r = image.shape.ndims
    if r is None:
        raise ValueError(f"tf.image.{fn}: '{name}' has unknown rank; it must be a 3-D "
                         "[height, width, channels] image or a 4-D [batch, height, width, "
                         "channels] batch (give the placeholder a shape).")
    if r not in (3, 4):
        raise ValueError(f"tf.image.{fn}: '{name}' must have either 3 or 4 dimensions "
                         f"([height, width, channels] or [batch, height, width, channels]), "
                         f"got shape {image.shape}.")
    return image


def as_batch(image, fn: str, name: str = "image") -> tuple[Tensor, bool]:
    """``(image as 4-D, whether it was 4-D)``."""
    image = as_image(image, fn, name)
    if image.shape.ndims == 3:
        return A.expand_dims(image, 0), False
    return image, True


def unbatch(image: Tensor, is_batch: bool) -> Tensor:
    return image if is_batch else A.squeeze(image, axis=[0])


def require_4d(image, fn: str, name: str = "image") -> Tensor:
    image = convert_to_tensor(image, name=name)
    if image.shape.ndims != 4:
        raise ValueError(f"tf.image.{fn} expects a 4-D tensor [batch, height, width, channels], "
                         f"got shape {image.shape}.")
    return image


def dims(image4: Tensor) -> list[Dim]:
    """[N, H, W, C]: Python ints where the static shape knows them, scalar tensors elsewhere."""
    s = image4.shape.as_list()
    dyn = None
    out = []
    for i, d in enumerate(s):
        if d is None:
            dyn = A.shape(image4) if dyn is None else dyn
            out.append(dyn[i])
        else:
            out.append(d)
    return out


def static_int(v, what: str):
    """``v`` as a Python int when known at build time, else the int32 tensor."""
    if isinstance(v, Tensor):
        c = constant_value(v)
        return v if c is None else int(c)
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        arr = np.asarray(v)
        if arr.ndim != 0 or arr.dtype.kind not in "iu":
            raise TypeError(f"{what} must be an integer, got {v!r}")
    return int(v)


def is_static(*vs) -> bool:
    return all(not isinstance(v, Tensor) for v in vs)


def to_int32(v: Dim) -> Tensor:
    if isinstance(v, Tensor):
        return M.cast(v, _dt.int32)
    return convert_to_tensor(int(v), dtype=_dt.int32)


def dmax(a: Dim, b: Dim) -> Dim:
    return builtins.max(a, b) if is_static(a, b) else M.maximum(to_int32(a), to_int32(b))


def dmin(a: Dim, b: Dim) -> Dim:
    return builtins.min(a, b) if is_static(a, b) else M.minimum(to_int32(a), to_int32(b))


def int_vector(values) -> Tensor:
    """A 1-D int32 tensor from ints and scalar tensors."""
    if is_static(*values):
        return convert_to_tensor([int(v) for v in values], dtype=_dt.int32)
    return A.stack([to_int32(v) for v in values])


def static_check(ok, message: str) -> None:
    """Raises ValueError at build time when a condition on static values is false (a check
    on tensors is left to the ops, which fail at run time)."""
    if not isinstance(ok, Tensor) and not ok:
        raise ValueError(message)


# ----- convert_image_dtype ------------------------------------------------------------------
def convert_image_dtype(image, dtype, saturate: bool = False, name: str | None = None) -> Tensor:
    """``tf.image.convert_image_dtype``: converts ``image`` to ``dtype``, rescaling its values.

    Floating-point images hold values in [0, 1); integer images in [0, dtype.max]. Integer
    to integer scales by the ratio of (max + 1) values, float to integer multiplies by
    ``max + 0.5`` and truncates; ``saturate=True`` clips before casting so values out of range
    do not wrap around.

    >>> import flowgrad as tf
    >>> img = tf.constant([255, 0], dtype=tf.uint8)
    >>> tf.Session().run(tf.image.convert_image_dtype(img, tf.float32)).tolist()
    [1.0, 0.0]
    """
    image = convert_to_tensor(image, name="image")
    dtype = _dt.as_dtype(dtype)
    if not (dtype.is_floating or dtype.is_integer):
        raise AttributeError("dtype must be either floating point or integer")
    if not (image.dtype.is_floating or image.dtype.is_integer):
        raise TypeError(f"convert_image_dtype: image must be numeric, got {image.dtype.name}")
    if dtype == image.dtype:
        return A.identity(image, name=name)
    src = image.dtype
    if src.is_integer and dtype.is_integer:
        scale_in, scale_out = int(src.max), int(dtype.max)
        if scale_in > scale_out:
            # scale first: in.max lands above out.max but below out.max + 1
            scaled = M.floordiv(image, convert_to_tensor((scale_in + 1) // (scale_out + 1),
                                                         dtype=src))
            return (M.saturate_cast if saturate else M.cast)(scaled, dtype, name=name)
        cast = (M.saturate_cast if saturate else M.cast)(image, dtype)
        return M.multiply(cast, convert_to_tensor((scale_out + 1) // (scale_in + 1),
                                                  dtype=dtype), name=name)
    if src.is_floating and dtype.is_floating:
        return M.cast(image, dtype, name=name)
    if src.is_integer:
        cast = M.cast(image, dtype)
        return M.multiply(cast, convert_to_tensor(1.0 / float(src.max), dtype=dtype), name=name)
    scaled = M.multiply(image, convert_to_tensor(float(dtype.max) + 0.5, dtype=src))
    return (M.saturate_cast if saturate else M.cast)(scaled, dtype, name=name)


def to_float(image: Tensor) -> tuple[Tensor, _dt.DType]:
    """TF1's pattern: compute on floats (float16/32/64 kept, integers scaled to float32);
    returns the float image and the original dtype to convert back to."""
    if image.dtype.is_floating:
        return image, image.dtype
    return convert_image_dtype(image, _dt.float32), image.dtype
