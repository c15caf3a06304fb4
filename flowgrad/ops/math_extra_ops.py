"""More of TF1's math and array names: inverse hyperbolic functions, ``erfc``, truncating
division, sorting and searching, ``unravel_index``, functional scatters
(``tensor_scatter_*``) and small helpers (``ensure_shape``,
shape utilities).
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_shape,
                                         convert_to_tensor, op, require_float)
from flowgrad.framework.shapes import Dimension, TensorShape, as_shape, broadcast_shapes
from flowgrad.ops import _xp
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops._xp import ufunc_at


def _float_unary(node: NodeSpec):
    require_float(node, 0)
    return node.inputs[0].shape, node.inputs[0].dtype


# ----- inverse hyperbolic functions, erfc -------------------------------------------------------
@op("Asinh", shape=_float_unary)
def asinh(xp, x):
    """``tf.asinh``: inverse hyperbolic sine."""
    return xp.arcsinh(x)


@asinh.grad
def _asinh_grad(op_, dy):
    return [dy / M.sqrt(M.square(op_.inputs[0]) + 1.0)]


@op("Acosh", shape=_float_unary)
def acosh(xp, x):
    """``tf.acosh``: inverse hyperbolic cosine (``x >= 1``)."""
    return xp.arccosh(x)


@acosh.grad
def _acosh_grad(op_, dy):
    x = op_.inputs[0]
    return [dy / M.sqrt((x - 1.0) * (x + 1.0))]


@op("Atanh", shape=_float_unary)
def atanh(xp, x):
    """``tf.atanh``: inverse hyperbolic tangent (``|x| < 1``)."""
    return xp.arctanh(x)


@atanh.grad
def _atanh_grad(op_, dy):
    return [dy / (1.0 - M.square(op_.inputs[0]))]


@op("Erfc", shape=_float_unary)
def erfc(xp, x):
    """``tf.erfc``: the complementary error function ``1 - erf(x)``."""
    return _xp.erfc(xp, x)


@erfc.grad
def _erfc_grad(op_, dy):
    x = op_.inputs[0]
    return [dy * (-2.0 / math.sqrt(math.pi)) * M.exp(-M.square(x))]


# ----- truncating division ------------------------------------------------------------------------
@op("TruncateDiv", shape=lambda n: M._numeric_binary(n), same_dtype=True)
def truncatediv(xp, x, y):
    """``tf.truncatediv``: division rounded toward zero (C semantics) for integers."""
    if x.dtype.kind in "iu":
        q = xp.abs(x) // xp.abs(y)
        return (xp.sign(x) * xp.sign(y) * q).astype(x.dtype)
    return xp.trunc(x / y).astype(x.dtype)


@op("TruncateMod", shape=lambda n: M._numeric_binary(n), same_dtype=True)
def truncatemod(xp, x, y):
    """``tf.truncatemod``: remainder with the sign of ``x`` (C's ``%``, ``fmod``)."""
    return xp.fmod(x, y)


NotDifferentiable("TruncateDiv")
NotDifferentiable("TruncateMod")


# ----- sorting and searching --------------------------------------------------------------------
def _argsort_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims == 0:
        node.fail("cannot sort a scalar")
    return x.shape, _dt.int32


@op("ArgSort", shape=_argsort_shape)
def _argsort(xp, values, *, axis=-1, descending=False):
    v = -values if descending and values.dtype.kind != "u" else values
    idx = xp.argsort(v, axis=axis, kind="stable")
    if descending and values.dtype.kind == "u":
        idx = xp.flip(xp.argsort(values, axis=axis, kind="stable"), axis=axis)
    return idx.astype(np.int32)


NotDifferentiable("ArgSort")


def _take_shape(node: NodeSpec):
    x, idx = node.inputs
    if not idx.dtype.is_integer:
        node.fail(f"indices must be integers, got {idx.dtype.name}", TypeError)
    return idx.shape if idx.shape.ndims is not None else x.shape, x.dtype


@op("TakeAlongAxis", shape=_take_shape)
def _take_along_axis(xp, x, indices, *, axis):
    return xp.take_along_axis(x, indices, axis=axis)


@_take_along_axis.grad
def _take_along_axis_grad(op_, dy):
    x, idx = op_.inputs
    return [_put_along_axis_add(dy, idx, A._shape_of(x), axis=op_.attrs["axis"]), None]


@op("PutAlongAxisAdd", shape=lambda n: (constant_shape(n.inputs[2]), n.inputs[0].dtype))
def _put_along_axis_add(xp, dy, indices, shape, *, axis):
    """Zeros of ``shape`` with ``dy`` added at ``indices`` along ``axis``."""
    out = xp.zeros(tuple(int(d) for d in shape), dtype=dy.dtype)
    k = indices.ndim
    grids = [xp.arange(d).reshape((1,) * i + (d,) + (1,) * (k - i - 1))   # open grids
             for i, d in enumerate(indices.shape)]
    grids[axis % k] = indices
    ufunc_at(xp, "add", out, tuple(grids), dy)
    return out


@_put_along_axis_add.grad
def _put_along_axis_add_grad(op_, ddx):
    return [_take_along_axis(ddx, op_.inputs[1], axis=op_.attrs["axis"]), None, None]


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None) -> Tensor:
    """``tf.argsort``: the indices that sort ``values`` along ``axis`` (ties keep order)."""
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}")
    return _argsort(values, axis=int(axis), descending=direction == "DESCENDING",
                    name=name or "argsort")


def sort(values, axis=-1, direction="ASCENDING", name=None) -> Tensor:
    """``tf.sort``: ``values`` sorted along ``axis``; differentiable (the gradient goes back
    to each element's original position)."""
    with name_scope(name, "sort") as scope:
        values = convert_to_tensor(values)
        idx = argsort(values, axis=axis, direction=direction)
        return _take_along_axis(values, idx, axis=int(axis), name=scope)


def _searchsorted_shape(node: NodeSpec):
    s, v = node.inputs
    if s.dtype != v.dtype:
        node.fail(f"sorted_sequence ({s.dtype.name}) and values ({v.dtype.name}) must have the "
                  "same dtype", TypeError)
    if s.shape.ndims is not None and v.shape.ndims is not None and \
            not s.shape[:-1].is_compatible_with(v.shape[:-1]):
        node.fail(f"leading dimensions differ: {s.shape} and {v.shape}")
    return v.shape, node.attrs["out_type"]


@op("SearchSorted", shape=_searchsorted_shape)
def _searchsorted(xp, sorted_sequence, values, *, side="left", out_type=_dt.int32):
    if sorted_sequence.ndim == 1:
        return xp.searchsorted(sorted_sequence, values, side=side).astype(out_type.np)
    s = sorted_sequence.reshape(-1, sorted_sequence.shape[-1])
    v = values.reshape(-1, values.shape[-1])
    out = xp.stack([xp.searchsorted(a, b, side=side) for a, b in zip(s, v)])
    return out.reshape(values.shape).astype(out_type.np)


NotDifferentiable("SearchSorted")


def searchsorted(sorted_sequence, values, side="left", out_type=_dt.int32, name=None) -> Tensor:
    """``tf.searchsorted``: where ``values`` would be inserted into the rows of
    ``sorted_sequence`` to keep them sorted."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    return _searchsorted(sorted_sequence, values, side=side, out_type=_dt.as_dtype(out_type),
                         name=name or "SearchSorted")


def _unravel_shape(node: NodeSpec):
    idx, dims = node.inputs
    n = dims.shape[0] if dims.shape.ndims == 1 else None
    if idx.shape.ndims is None:
        return TensorShape(None), idx.dtype
    return TensorShape([n] + idx.shape.as_list()), idx.dtype


@op("UnravelIndex", shape=_unravel_shape)
def _unravel_index(xp, indices, dims):
    size = int(np.prod(dims))
    if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= size):
        raise ValueError(f"flat index out of range [0, {size})")
    out = xp.stack(xp.unravel_index(indices, tuple(int(d) for d in dims)))
    return out.astype(indices.dtype)


NotDifferentiable("UnravelIndex")


def unravel_index(indices, dims, name=None) -> Tensor:
    """``tf.unravel_index``: coordinates (one row per dimension) of flat ``indices``."""
    indices = convert_to_tensor(indices)
    return _unravel_index(indices, convert_to_tensor(dims, dtype=indices.dtype),
                          name=name or "UnravelIndex")


# ----- functional scatters ------------------------------------------------------------------------
def _tensor_scatter_shape(node: NodeSpec):
    t, idx, upd = node.inputs
    if not idx.dtype.is_integer:
        node.fail(f"indices must be integers, got {idx.dtype.name}", TypeError)
    if t.dtype != upd.dtype:
        node.fail(f"updates dtype {upd.dtype.name} differs from tensor dtype {t.dtype.name}",
                  TypeError)
    if t.shape.ndims is not None and idx.shape.ndims is not None and \
            idx.shape[-1] is not None and upd.shape.ndims is not None:
        want = idx.shape[:-1].concatenate(t.shape[idx.shape[-1]:])
        if not want.is_compatible_with(upd.shape):
            node.fail(f"updates must have shape indices.shape[:-1] + tensor.shape[depth:] = "
                      f"{want}, got {upd.shape}")
    return t.shape, t.dtype


@op("TensorScatterNd", shape=_tensor_scatter_shape)
def _tensor_scatter(xp, tensor, indices, updates, *, mode):
    out = tensor.copy()
    k = indices.shape[-1]
    for j in builtins.range(k):
        col = indices[..., j]
        if col.size and (int(col.min()) < 0 or int(col.max()) >= tensor.shape[j]):
            raise IndexError(f"indices[..., {j}] out of range [0, {tensor.shape[j]})")
    key = tuple(indices[..., j] for j in builtins.range(k))
    if mode == "update":
        out[key] = updates
    else:
        ufunc_at(xp, "add" if mode == "add" else "subtract", out, key, updates)
    return out


@_tensor_scatter.grad
def _tensor_scatter_grad(op_, dy):
    _, idx, _ = op_.inputs
    mode = op_.attrs["mode"]
    d_upd = A.gather_nd(dy, idx)
    if mode == "update":
        d_t = _tensor_scatter(dy, idx, A.zeros_like(d_upd), mode="update")
        return [d_t, None, d_upd]
    return [dy, None, d_upd if mode == "add" else -d_upd]


def _tensor_scatter_api(mode: str, type_name: str):
    def tensor_scatter(tensor, indices, updates, name=None) -> Tensor:
        tensor = convert_to_tensor(tensor)
        return _tensor_scatter(tensor, indices, convert_to_tensor(updates, dtype=tensor.dtype),
                               mode=mode, name=name or type_name)
    tensor_scatter.__name__ = f"tensor_scatter_nd_{mode}"
    tensor_scatter.__doc__ = (f"``tf.tensor_scatter_nd_{mode}``: a copy of ``tensor`` with "
                              f"``updates`` {'written' if mode == 'update' else mode + 'ed'} at "
                              "``indices`` (differentiable in ``tensor`` and ``updates``).")
    return tensor_scatter


tensor_scatter_nd_update = _tensor_scatter_api("update", "TensorScatterUpdate")
tensor_scatter_nd_add = _tensor_scatter_api("add", "TensorScatterAdd")
tensor_scatter_nd_sub = _tensor_scatter_api("sub", "TensorScatterSub")
tensor_scatter_update = tensor_scatter_nd_update
tensor_scatter_add = tensor_scatter_nd_add
tensor_scatter_sub = tensor_scatter_nd_sub


# ----- small helpers ------------------------------------------------------------------------------
def _ensure_shape_shape(node: NodeSpec):
    x, want = node.inputs[0], node.attrs["shape"]
    if not x.shape.is_compatible_with(want):
        node.fail(f"shape {x.shape} is incompatible with the required {want}")
    return x.shape.merge_with(want), x.dtype


@op("EnsureShape", shape=_ensure_shape_shape, may_alias=True)
def _ensure_shape(xp, input, *, shape):  # noqa: A002
    if not shape.is_compatible_with(input.shape):
        from flowgrad.framework.errors import InvalidArgumentError  # noqa: PLC0415
        raise InvalidArgumentError(None, None, f"Shape of tensor {tuple(input.shape)} is not "
                                   f"compatible with expected shape {shape}.")
    return input


@_ensure_shape.grad
def _ensure_shape_grad(op_, dy):
    return [dy]


def ensure_shape(x, shape, name=None) -> Tensor:
    """``tf.ensure_shape``: ``x``, with its static shape refined to ``shape`` and checked when
    it runs."""
    return _ensure_shape(x, shape=as_shape(shape), name=name or "EnsureShape")


def is_numeric_tensor(x) -> bool:
    return isinstance(x, Tensor) and (x.dtype.is_floating or x.dtype.is_integer)


def dimension_value(dimension):
    """``tf.dimension_value``: an int (or None) from a Dimension or an int."""
    if isinstance(dimension, Dimension):
        return dimension.value
    return dimension


def dimension_at_index(shape, index):
    """``tf.dimension_at_index``: the dimension (None when unknown) at ``index``."""
    s = as_shape(shape)
    return None if s.ndims is None else s[index]


def broadcast_static_shape(shape_x, shape_y) -> TensorShape:
    """``tf.broadcast_static_shape``: the broadcast of two TensorShapes (ValueError if they
    do not broadcast)."""
    out = broadcast_shapes(as_shape(shape_x), as_shape(shape_y))
    if out is None:
        raise ValueError(f"Incompatible shapes for broadcasting: {shape_x} and {shape_y}")
    return out


@op("BroadcastArgs", shape=lambda n: (TensorShape([None]), n.inputs[0].dtype), same_dtype=True)
def _broadcast_args(xp, s0, s1):
    return xp.asarray(np.broadcast_shapes(tuple(int(d) for d in s0), tuple(int(d) for d in s1)),
                      dtype=s0.dtype)


NotDifferentiable("BroadcastArgs")


def broadcast_dynamic_shape(shape_x, shape_y) -> Tensor:
    """``tf.broadcast_dynamic_shape``: the broadcast of two shape vectors, at run time."""
    return _broadcast_args(shape_x, shape_y, name="BroadcastArgs")


def verify_tensor_all_finite(t, msg, name=None) -> Tensor:
    """``tf.verify_tensor_all_finite``: ``t``, raising InvalidArgumentError on NaN or Inf."""
    return A.check_numerics(t, message=msg, name=name)


def parallel_stack(values, name="parallel_stack") -> Tensor:
    return A.stack(values, name=name)


def _monotone(x, strict: bool, name: str) -> Tensor:
    from flowgrad.ops.reduce_ops import reduce_all  # noqa: PLC0415
    with name_scope(None, name):
        flat = A.reshape(x, [-1])
        n = A.size(flat)
        a = A.slice(flat, [0], A.expand_dims(M.maximum(n - 1, 0), 0))
        b = A.slice(flat, [1], A.expand_dims(M.maximum(n - 1, 0), 0))
        return reduce_all(M.less(a, b) if strict else M.less_equal(a, b))


def is_non_decreasing(x, name=None) -> Tensor:
    """``tf.is_non_decreasing``: whether the flattened ``x`` never decreases."""
    return _monotone(convert_to_tensor(x), False, name or "is_non_decreasing")


def is_strictly_increasing(x, name=None) -> Tensor:
    return _monotone(convert_to_tensor(x), True, name or "is_strictly_increasing")


def make_ndarray(tensor) -> np.ndarray:
    """``tf.make_ndarray``: flowgrad's constant values are already numpy arrays."""
    return np.array(tensor, copy=True)


def to_complex64(x, name="ToComplex64") -> Tensor:
    return M.cast(x, _dt.complex64, name=name)


def to_complex128(x, name="ToComplex128") -> Tensor:
    return M.cast(x, _dt.complex128, name=name)

