"""Image resizing ops: ``ResizeBilinear``, ``ResizeNearestNeighbor``, ``ResizeBicubic``,
``ResizeArea`` and their gradient ops.

Every method is separable and linear in the image: the output is ``Wh @ x @ Ww^T`` along the
height and width axes, where ``Wh`` ``(out_h, in_h)`` and ``Ww`` ``(out_w, in_w)`` depend only
on the sizes and the coordinate mapping. The kernels build these matrices on the host with
TF1's exact formulas (coordinates in float32, as TF's C++ kernels compute them, cached per
size) and apply them one axis at a time: as a few gathers and multiply-adds (a row's
nonzeros: 2 for bilinear, 4 for bicubic) or, where rows are dense relative to their length,
as one GEMM. The gradient op applies the transposed matrices, and the gradient of a
gradient op is the forward op again, so gradients of any order stay in the graph.

Coordinate mappings (``scale = in / out``, or ``(in - 1) / (out - 1)`` with
``align_corners`` and ``out > 1``):

* legacy (both flags False): source coordinate ``out * scale``;
* ``half_pixel_centers``: ``(out + 0.5) * scale - 0.5`` (nearest: ``(out + 0.5) * scale``).

Nearest neighbour takes ``floor`` of the source coordinate (``round``, half away from zero,
with ``align_corners``), clamped to the image. Bicubic uses TF's 1024-entry coefficient table
(Keys' cubic with ``a = -0.75``; with ``half_pixel_centers`` ``a = -0.5``, and taps outside the
image get weight 0 with the rest renormalised). Area averages the input cells that each
output cell covers, weighting partly covered cells by their covered fraction.

Dtypes: nearest keeps the image's dtype; the other methods return float32 (float64 images
stay float64, so that gradients can be checked in double precision).
"""

from __future__ import annotations

import functools

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import (NodeSpec, OpBuilder, constant, constant_value,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M

_F32 = np.float32


# ----- coordinate mappings and weight matrices (host, numpy) --------------------------------
def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return _F32(in_size - 1) / _F32(out_size - 1)
    return _F32(in_size) / _F32(out_size)


def _bilinear_matrix(in_size: int, out_size: int, align_corners: bool,
                     half_pixel_centers: bool) -> np.ndarray:
    s = _scale(in_size, out_size, align_corners)
    o = np.arange(out_size, dtype=_F32)
    src = (o + _F32(0.5)) * s - _F32(0.5) if half_pixel_centers else o * s
    fl = np.floor(src)
    lower = np.maximum(fl.astype(np.int64), 0)
    upper = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    lerp = (src - fl).astype(np.float64)
    m = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(m, (rows, lower), 1.0 - lerp)
    np.add.at(m, (rows, upper), lerp)
    return m


def _nearest_index(in_size: int, out_size: int, align_corners: bool,
                   half_pixel_centers: bool) -> np.ndarray:
    s = _scale(in_size, out_size, align_corners)
    o = np.arange(out_size, dtype=_F32)
    src = ((o + _F32(0.5)) * s if half_pixel_centers else o * s).astype(np.float64)
    # roundf rounds half away from zero; the sources are never negative here
    idx = np.floor(src + 0.5) if align_corners else np.floor(src)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0)


def _nearest_matrix(in_size, out_size, align_corners, half_pixel_centers) -> np.ndarray:
    m = np.zeros((out_size, in_size))
    m[np.arange(out_size), _nearest_index(in_size, out_size, align_corners,
                                          half_pixel_centers)] = 1.0
    return m


_TABLE_SIZE = 1024


@functools.lru_cache(maxsize=2)
def _cubic_table(a: float) -> np.ndarray:
    """TF's coefficient table: row i holds the weights for taps at distance i/1024 and
    1 + i/1024 from the sample point (Keys' cubic convolution kernel with parameter a)."""
    a = _F32(a)
    x = np.arange(_TABLE_SIZE + 1, dtype=_F32) / _F32(_TABLE_SIZE)
    near = ((a + _F32(2)) * x - (a + _F32(3))) * x * x + _F32(1)
    x1 = x + _F32(1)
    far = ((a * x1 - _F32(5) * a) * x1 + _F32(8) * a) * x1 - _F32(4) * a
    return np.stack([near, far], axis=1)


def _bicubic_matrix(in_size, out_size, align_corners, half_pixel_centers) -> np.ndarray:
    s = _scale(in_size, out_size, align_corners)
    o = np.arange(out_size, dtype=_F32)
    src = (o + _F32(0.5)) * s - _F32(0.5) if half_pixel_centers else o * s
    loc = np.floor(src)
    delta = src - loc
    loc = loc.astype(np.int64)
    off = np.rint(delta * _F32(_TABLE_SIZE)).astype(np.int64)
    tab = _cubic_table(-0.5 if half_pixel_centers else -0.75)
    w = np.stack([tab[off, 1], tab[off, 0], tab[_TABLE_SIZE - off, 0],
                  tab[_TABLE_SIZE - off, 1]], axis=1)
    taps = loc[:, None] + np.arange(-1, 3)[None, :]
    idx = np.clip(taps, 0, in_size - 1)
    if half_pixel_centers:
        # taps outside the image drop out and the others are renormalised
        w = np.where(idx == taps, w, _F32(0))
        total = w.sum(axis=1, dtype=_F32, keepdims=True)
        w = np.where(np.abs(total) >= 1000 * np.finfo(_F32).tiny, w * (_F32(1) / total), w)
    m = np.zeros((out_size, in_size))
    np.add.at(m, (np.repeat(np.arange(out_size), 4), idx.reshape(-1)),
              w.reshape(-1).astype(np.float64))
    return m


def _area_matrix(in_size, out_size, align_corners, half_pixel_centers=False) -> np.ndarray:
    s = _scale(in_size, out_size, align_corners)
    if s == 0:          # one input cell stretched with align_corners: every output copies it
        return np.ones((out_size, in_size))
    o = np.arange(out_size, dtype=_F32)
    lo, hi = o * s, (o + _F32(1)) * s
    start = np.floor(lo).astype(np.int64)
    end = np.ceil(hi).astype(np.int64)
    m = np.zeros((out_size, in_size))
    span = int((end - start).max()) if out_size else 0
    for k in range(span):             # the taps of one output cell (a few), not pixels
        i = start + k
        valid = i < end
        # the covered part of the cell [i, i + 1): the whole cell, or cut by lo / hi
        cover = np.minimum(hi, (i + 1).astype(_F32)) - np.maximum(lo, i.astype(_F32))
        cover = np.where(valid, cover, _F32(0)).astype(np.float64)
        np.add.at(m, (np.arange(out_size), np.minimum(i, in_size - 1)), cover)
    return m / float(s)


_MATRICES = {"bilinear": _bilinear_matrix, "nearest": _nearest_matrix,
             "bicubic": _bicubic_matrix, "area": _area_matrix}


@functools.lru_cache(maxsize=64)
def _matrix(method: str, in_size: int, out_size: int, align_corners: bool,
            half_pixel_centers: bool) -> np.ndarray:
    m = _MATRICES[method](in_size, out_size, align_corners, half_pixel_centers)
    m.setflags(write=False)
    return m


#: a resize matrix whose rows hold at most ``k`` nonzeros is applied as ``k`` gathers and
#: multiply-adds when ``k * TAPS_RATIO <= its number of columns``, else as one GEMM (a GEMM
#: row costs a multiply-add per column; a tap costs a gather and a multiply-add)
TAPS_RATIO = 4


@functools.lru_cache(maxsize=128)
def _operator(method: str, in_size: int, out_size: int, align_corners: bool,
              half_pixel_centers: bool, transposed: bool) -> tuple:
    """The matrix that maps one axis of the image (the gradient when ``transposed``) to the
    other, and its nonzeros as taps: ``(matrix, columns (rows, k), weights (rows, k))``."""
    m = _matrix(method, in_size, out_size, align_corners, half_pixel_centers)
    if transposed:
        m = np.ascontiguousarray(m.T)
    nz = m != 0
    k = int(nz.sum(axis=1).max()) if m.size else 0
    cols = np.argsort(~nz, axis=1, kind="stable")[:, :k]
    weights = np.take_along_axis(m, cols, axis=1)
    for a in (m, cols, weights):
        a.setflags(write=False)
    return m, cols, weights


def _apply_axis(xp, x, operator: tuple, axis: int):
    """``operator``'s matrix applied along ``axis`` (1 or 2) of an (N, H, W, C) array."""
    m, cols, weights = operator
    rows, k = cols.shape
    if k * TAPS_RATIO > m.shape[1]:
        mat = xp.asarray(m, dtype=x.dtype)
        n, h, w, c = x.shape
        if axis == 1:
            return xp.matmul(mat, x.reshape(n, h, w * c)).reshape(n, rows, w, c)
        y = xp.tensordot(x, mat, axes=([2], [1]))             # (n, h, c, rows)
        return xp.ascontiguousarray(y.transpose(0, 1, 3, 2))
    shape = [1, 1, 1, 1]
    shape[axis] = rows
    idx = xp.asarray(cols)
    wts = xp.asarray(weights, dtype=x.dtype)
    y = None
    for j in range(k):
        t = xp.take(x, idx[:, j], axis=axis)
        t *= wts[:, j].reshape(shape)
        y = t if y is None else xp.add(y, t, out=y)
    return y


def _resize_linear(xp, x, method, out_hw, align_corners, half_pixel_centers, dtype):
    """Resizes ``x`` (N, H, W, C) to ``out_hw`` with ``method``'s matrices in ``dtype``."""
    _, h, w, _ = x.shape
    x = x.astype(dtype, copy=False)
    x = _apply_axis(xp, x, _operator(method, h, out_hw[0], align_corners, half_pixel_centers,
                                     False), 1)
    return _apply_axis(xp, x, _operator(method, w, out_hw[1], align_corners,
                                        half_pixel_centers, False), 2)


def _resize_transposed(xp, dy, method, in_hw, align_corners, half_pixel_centers, dtype):
    """The adjoint of ``_resize_linear``: the gradient with respect to an (N, *in_hw, C)
    image of ``dtype`` (float16 is summed in float32)."""
    _, oh, ow, _ = dy.shape
    dy = dy.astype(_compute_dtype(_dt.as_dtype(dtype)).np, copy=False)
    dx = _apply_axis(xp, dy, _operator(method, in_hw[0], oh, align_corners, half_pixel_centers,
                                       True), 1)
    dx = _apply_axis(xp, dx, _operator(method, in_hw[1], ow, align_corners,
                                       half_pixel_centers, True), 2)
    return dx.astype(dtype, copy=False)


def _compute_dtype(dt: _dt.DType) -> _dt.DType:
    """Float64 images resize in float64; every other dtype to float32 (as TF1)."""
    return _dt.float64 if dt == _dt.float64 else _dt.float32


# ----- shape rules ---------------------------------------------------------------------------
def _check_flags(node: NodeSpec) -> None:
    if node.attrs.get("half_pixel_centers") and node.attrs.get("align_corners"):
        node.fail("half_pixel_centers=True requires align_corners=False")


def _image_batch(node: NodeSpec, t: Tensor, what: str) -> TensorShape:
    s = t.shape
    if s.ndims is None:
        return TensorShape([None] * 4)
    if s.ndims != 4:
        node.fail(f"{what} must be 4-D [batch, height, width, channels], got rank {s.ndims}")
    return s


def _static_size(node: NodeSpec, size: Tensor) -> tuple:
    if not size.dtype.is_integer:
        node.fail(f"size must be an int32 vector [new_height, new_width], got "
                  f"{size.dtype.name}", TypeError)
    if not size.shape.is_compatible_with([2]):
        node.fail(f"size must be a 1-D tensor of 2 elements [new_height, new_width], got shape "
                  f"{size.shape}")
    v = constant_value(size)
    if v is None:
        return None, None
    v = [int(d) for d in np.asarray(v).reshape(-1)]
    if min(v) <= 0:
        node.fail(f"size must be positive, got {v}")
    return tuple(v)


def _resize_shape(node: NodeSpec, keep_dtype: bool = False):
    _check_flags(node)
    x, size = node.inputs
    s = _image_batch(node, x, "images")
    if not (x.dtype.is_integer or x.dtype.is_floating):
        node.fail(f"images must be a numeric tensor, got {x.dtype.name}", TypeError)
    oh, ow = _static_size(node, size)
    dtype = x.dtype if keep_dtype else _compute_dtype(x.dtype)
    return TensorShape([s[0], oh, ow, s[3]]), dtype


def _resize_grad_shape(node: NodeSpec):
    _check_flags(node)
    dy, orig = node.inputs
    _image_batch(node, dy, "grads")
    s = _image_batch(node, orig, "original_image")
    if not dy.dtype.is_floating or not orig.dtype.is_floating:
        node.fail("grads and original_image must be floating-point", TypeError)
    return s, orig.dtype


def _static_hw(t: Tensor):
    """``t``'s (height, width) as a constant when static, else a slice of its shape."""
    s = t.shape
    if s.ndims == 4 and s[1] is not None and s[2] is not None:
        return constant([s[1], s[2]], dtype=_dt.int32)
    return A.slice(A.shape(t), [1], [2])


def _out_hw(x, size) -> tuple[int, int]:
    return int(size[0]), int(size[1])


def _register_resize_grads(forward: OpBuilder, backward: OpBuilder) -> None:
    """The gradients of a linear resize op (``forward``) and of its image gradient
    (``backward``, whose own gradient is ``forward`` again)."""

    @forward.grad
    def _forward_grad(op_, dy):
        x = op_.inputs[0]
        if not x.dtype.is_floating:
            return [None, None]
        return [backward(dy, x, **op_.attrs), None]

    @backward.grad
    def _backward_grad(op_, ddx):
        dy = op_.inputs[0]
        return [M.cast(forward(ddx, _static_hw(dy), **op_.attrs), dy.dtype), None]


def _half_pixel_resize_ops(op_type: str, method: str, name: str):
    """Registers ``op_type`` and ``op_type + "Grad"`` (attrs ``align_corners`` and
    ``half_pixel_centers``) for the ``method`` of ``_resize_linear``; the builders are named
    ``name`` and ``name``'s gradient counterpart."""

    def forward(xp, images, size, *, align_corners=False, half_pixel_centers=False):
        return _resize_linear(xp, images, method, _out_hw(images, size), align_corners,
                              half_pixel_centers, _compute_dtype(_dt.as_dtype(images.dtype)).np)

    def backward(xp, grads, original_image, *, align_corners=False, half_pixel_centers=False):
        return _resize_transposed(xp, grads, method, original_image.shape[1:3], align_corners,
                                  half_pixel_centers, original_image.dtype)

    grad_name = name.replace("_op", "_grad_op")
    forward.__name__ = forward.__qualname__ = name
    backward.__name__ = backward.__qualname__ = grad_name
    backward.__doc__ = f"The gradient of {op_type} with respect to its image."
    fwd = op(op_type, shape=_resize_shape, broadcasting=False)(forward)
    bwd = op(op_type + "Grad", shape=_resize_grad_shape, broadcasting=False)(backward)
    _register_resize_grads(fwd, bwd)
    return fwd, bwd


# ----- ResizeBilinear and ResizeBicubic ------------------------------------------------------
resize_bilinear_op, resize_bilinear_grad_op = _half_pixel_resize_ops(
    "ResizeBilinear", "bilinear", "resize_bilinear_op")
resize_bicubic_op, resize_bicubic_grad_op = _half_pixel_resize_ops(
    "ResizeBicubic", "bicubic", "resize_bicubic_op")


# ----- ResizeArea ----------------------------------------------------------------------------
@op("ResizeArea", shape=_resize_shape, broadcasting=False)
def resize_area_op(xp, images, size, *, align_corners=False):
    return _resize_linear(xp, images, "area", _out_hw(images, size), align_corners, False,
                          _compute_dtype(_dt.as_dtype(images.dtype)).np)


@op("ResizeAreaGrad", shape=_resize_grad_shape, broadcasting=False)
def resize_area_grad_op(xp, grads, original_image, *, align_corners=False):
    """The gradient of ResizeArea with respect to its image (not an op of TF1)."""
    return _resize_transposed(xp, grads, "area", original_image.shape[1:3], align_corners,
                              False, original_image.dtype)


# TF1 registers no gradient for ResizeArea; the op is linear, so flowgrad has one
_register_resize_grads(resize_area_op, resize_area_grad_op)


# ----- ResizeNearestNeighbor -----------------------------------------------------------------
@op("ResizeNearestNeighbor", shape=functools.partial(_resize_shape, keep_dtype=True),
    broadcasting=False)
def resize_nearest_neighbor_op(xp, images, size, *, align_corners=False,
                               half_pixel_centers=False):
    _, h, w, _ = images.shape
    oh, ow = _out_hw(images, size)
    hi = xp.asarray(_nearest_index(h, oh, align_corners, half_pixel_centers))
    wi = xp.asarray(_nearest_index(w, ow, align_corners, half_pixel_centers))
    return xp.take(xp.take(images, hi, axis=1), wi, axis=2)


@resize_nearest_neighbor_op.grad
def _resize_nearest_neighbor_grad(op_, dy):
    x = op_.inputs[0]
    if not x.dtype.is_floating:
        return [None, None]
    return [resize_nearest_neighbor_grad_op(dy, _static_hw(x), **op_.attrs), None]


def _nearest_grad_shape(node: NodeSpec):
    _check_flags(node)
    dy, size = node.inputs
    s = _image_batch(node, dy, "grads")
    if not dy.dtype.is_floating:
        node.fail(f"grads must be floating-point, got {dy.dtype.name}", TypeError)
    h, w = _static_size(node, size)
    return TensorShape([s[0], h, w, s[3]]), dy.dtype


@op("ResizeNearestNeighborGrad", shape=_nearest_grad_shape, broadcasting=False)
def resize_nearest_neighbor_grad_op(xp, grads, size, *, align_corners=False,
                                    half_pixel_centers=False):
    """Sums each output cell's gradient into the input cell it copied."""
    return _resize_transposed(xp, grads, "nearest", _out_hw(grads, size), align_corners,
                              half_pixel_centers, grads.dtype)


@resize_nearest_neighbor_grad_op.grad
def _resize_nearest_neighbor_grad_grad(op_, ddx):
    return [resize_nearest_neighbor_op(ddx, _static_hw(op_.inputs[0]), **op_.attrs), None]


def as_size(size) -> Tensor:
    """``size`` ([new_height, new_width]) as an int32 tensor."""
    if isinstance(size, Tensor):
        return size
    return convert_to_tensor(size, dtype=_dt.int32, name="size")
