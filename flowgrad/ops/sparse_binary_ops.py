"""Sparse binary ops: sparse + sparse, sparse + dense, sparse (*, /, +) dense with the dense
side broadcast, sparse softmax, sparse maximum/minimum."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_shape,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import indexing_ops as X
from flowgrad.ops import math_ops as M
from flowgrad.ops._xp import ufunc_at
from flowgrad.ops.sparse_common import (_check_bounds, _check_sparse, _dims, _linear, _sp,
                                        _unravel, match_rows, take_matched)
from flowgrad.ops.sparse_tensor import SparseTensor, convert_to_sparse, is_sparse

_I64 = _dt.int64


def _same_dims(a_shape, b_shape, what: str):
    da, db = _dims(a_shape), _dims(b_shape)
    if da != db:
        raise ValueError(f"{what}: operands' shapes do not match: {list(da)} vs {list(db)}")
    return da


def _union(xp, a_indices, b_indices, dims):
    """The sorted union of two index sets: (union linear indices, position of each a entry
    in it, position of each b entry)."""
    _check_bounds(a_indices, dims, "the first SparseTensor")
    _check_bounds(b_indices, dims, "the second SparseTensor")
    la, lb = _linear(xp, a_indices, dims), _linear(xp, b_indices, dims)
    uniq, inv = xp.unique(xp.concatenate([la, lb]), return_inverse=True)
    inv = inv.reshape(-1)
    return uniq, inv[:la.shape[0]], inv[la.shape[0]:]


# ----- SparseAdd -----------------------------------------------------------------------------
def _add_shape(node: NodeSpec):
    ra = _check_sparse(node, 0, 1, 2, "SparseTensor a")
    rb = _check_sparse(node, 3, 4, 5, "SparseTensor b")
    if ra is not None and rb is not None and ra != rb:
        node.fail(f"operands have different ranks: {ra} and {rb}")
    sa, sb = constant_shape(node.inputs[2]), constant_shape(node.inputs[5])
    if not sa.is_compatible_with(sb):
        node.fail(f"operands' shapes do not match: {sa} vs {sb}")
    if node.inputs[6].shape.ndims not in (None, 0):
        node.fail(f"thresh must be a scalar, got shape {node.inputs[6].shape}")
    rank = ra if ra is not None else rb
    return [(TensorShape([None, rank]), _I64), (TensorShape([None]), node.inputs[1].dtype),
            (TensorShape([rank]), _I64)]


@op("SparseAdd", shape=_add_shape, same_dtype=("a_values", "b_values"))
def _sparse_add(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape, thresh):
    dims = _same_dims(a_shape, b_shape, "SparseAdd")
    uniq, pa, pb = _union(xp, a_indices, b_indices, dims)
    vals = xp.zeros(uniq.shape[0], dtype=a_values.dtype)
    ufunc_at(xp, "add", vals, pa, a_values)
    ufunc_at(xp, "add", vals, pb, b_values)
    # only sums of two entries are dropped below the threshold, as in TF's kernel
    both = xp.zeros(uniq.shape[0], dtype=np.int64)
    both[pa] += 1
    both[pb] += 1
    keep = (both < 2) | (xp.abs(vals) >= thresh)
    pick = xp.nonzero(keep)[0]
    return _unravel(xp, uniq[pick], dims), vals[pick], a_shape.copy()


@_sparse_add.grad
def _sparse_add_grad(op_, d_ind, d_vals, d_shape):
    a_ind, b_ind = op_.inputs[0], op_.inputs[3]
    da, db = _sparse_add_grad_op(d_vals, a_ind, b_ind, op_.outputs[0])
    return [None, da, None, None, db, None, None]


def _add_grad_shape(node: NodeSpec):
    n = [t.shape[0] if t.shape.ndims == 2 else None for t in node.inputs[1:3]]
    return [(TensorShape([n[0]]), node.inputs[0].dtype), (TensorShape([n[1]]),
                                                          node.inputs[0].dtype)]


@op("SparseAddGrad", shape=_add_grad_shape)
def _sparse_add_grad_op(xp, backprop_val_grad, a_indices, b_indices, sum_indices):
    out = []
    for ind in (a_indices, b_indices):
        out.append(take_matched(xp, backprop_val_grad, match_rows(xp, ind, sum_indices)))
    return out


NotDifferentiable("SparseAddGrad")


def _dense_add_shape(node: NodeSpec):
    _check_sparse(node, 0, 1, 2)
    sa, b = constant_shape(node.inputs[2]), node.inputs[3]
    if not sa.is_compatible_with(b.shape):
        node.fail(f"the sparse and dense operands' shapes differ: {sa} vs {b.shape}")
    return b.shape.merge_with(sa) if sa.ndims is not None else b.shape, b.dtype


@op("SparseTensorDenseAdd", shape=_dense_add_shape, same_dtype=("a_values", "b"))
def _sparse_dense_add(xp, a_indices, a_values, a_shape, b):
    dims = _dims(a_shape)
    if tuple(b.shape) != tuple(dims):
        raise ValueError(f"SparseTensorDenseAdd: shapes differ: sparse {list(dims)} vs dense "
                         f"{list(b.shape)}")
    _check_bounds(a_indices, dims, "SparseTensorDenseAdd")
    out = b.reshape(-1).copy()
    ufunc_at(xp, "add", out, _linear(xp, a_indices, dims), a_values)
    return out.reshape(b.shape)


@_sparse_dense_add.grad
def _sparse_dense_add_grad(op_, dy):
    return [None, X.gather_nd(dy, op_.inputs[0]), None, dy]


def sparse_add(a, b, threshold=None, thresh=None, name: str | None = None):
    """``tf.sparse.add``: sparse + sparse (a SparseTensor; sums of two entries smaller in
    magnitude than ``threshold`` are dropped) or sparse + dense (a dense tensor)."""
    th = threshold if threshold is not None else (thresh if thresh is not None else 0)
    if not (is_sparse(a) or is_sparse(b)):
        raise TypeError("At least one input should be SparseTensor; do you mean to use "
                        "tf.add?")
    if is_sparse(a) and is_sparse(b):
        sa, sb = convert_to_sparse(a, "a"), convert_to_sparse(b, "b")
        with name_scope(name, "SparseAdd"):
            t = convert_to_tensor(th, dtype=_real_dtype(sa.dtype))
            out = _sp(_sparse_add(sa.indices, sa.values, sa.dense_shape, sb.indices, sb.values,
                                  sb.dense_shape, t))
        out._static_shape = sa.shape.merge_with(sb.shape) if sa.shape.is_compatible_with(
            sb.shape) else sa.shape
        return out
    sp, dense = (a, b) if is_sparse(a) else (b, a)
    sp = convert_to_sparse(sp)
    return _sparse_dense_add(sp.indices, sp.values, sp.dense_shape,
                             convert_to_tensor(dense, dtype=sp.dtype),
                             name=name or "SparseTensorDenseAdd")


def _real_dtype(dt):
    return {_dt.complex64: _dt.float32, _dt.complex128: _dt.float64}.get(dt, dt)


# ----- sparse (op) dense, the dense side broadcast -------------------------------------------
def _cwise_shape(node: NodeSpec):
    _check_sparse(node, 0, 1, 2)
    sp, dense = constant_shape(node.inputs[2]), node.inputs[3].shape
    if sp.ndims is not None and dense.ndims is not None:
        if dense.ndims > sp.ndims:
            node.fail(f"the dense operand (shape {dense}) has more dimensions than the "
                      f"SparseTensor (shape {sp}): only the dense side broadcasts")
        for s, d in zip(sp.as_list()[::-1], dense.as_list()[::-1]):
            if s is not None and d is not None and d not in (1, s):
                node.fail(f"the dense operand's shape {dense} does not broadcast to the "
                          f"SparseTensor's shape {sp}")
    v = node.inputs[1]
    return TensorShape([v.shape[0] if v.shape.ndims == 1 else None]), v.dtype


def _dense_at(xp, indices, shape, dense):
    dims = _dims(shape)
    if dense.ndim > len(dims) or any(d not in (1, s) for s, d in
                                     zip(dims[::-1], dense.shape[::-1])):
        raise ValueError(f"the dense operand's shape {list(dense.shape)} does not broadcast to "
                         f"the SparseTensor's shape {list(dims)}")
    _check_bounds(indices, dims, "SparseDenseCwise")
    full = xp.broadcast_to(dense, tuple(dims))
    return full[tuple(indices[:, k] for k in range(len(dims)))]


@op("SparseDenseCwiseMul", shape=_cwise_shape, same_dtype=("sp_values", "dense"))
def _cwise_mul(xp, sp_indices, sp_values, sp_shape, dense):
    return sp_values * _dense_at(xp, sp_indices, sp_shape, dense)


@op("SparseDenseCwiseDiv", shape=_cwise_shape, same_dtype=("sp_values", "dense"))
def _cwise_div(xp, sp_indices, sp_values, sp_shape, dense):
    d = _dense_at(xp, sp_indices, sp_shape, dense)
    if sp_values.dtype.kind in "iu":
        return sp_values // d
    return sp_values / d


@op("SparseDenseCwiseAdd", shape=_cwise_shape, same_dtype=("sp_values", "dense"))
def _cwise_add(xp, sp_indices, sp_values, sp_shape, dense):
    return sp_values + _dense_at(xp, sp_indices, sp_shape, dense)


def _dense_positions(op_):
    """The index into the dense operand of each entry (broadcast dims give 0), and the dense
    operand's shape (int64)."""
    ind, shp, dense = op_.inputs[0], op_.inputs[2], op_.inputs[3]
    d_shape = A.shape(dense, out_type=_I64)
    extra = A.size(shp) - A.size(d_shape)
    full = A.concat([A.ones(A.reshape(extra, [1]), dtype=_I64), d_shape], 0)
    scaled = ind * M.cast(M.equal(full, shp), _I64)  # a broadcast axis reads element 0
    return A.slice(scaled, A.stack([0, extra]), [-1, -1]), d_shape


def _cwise_grad(op_, dy):
    vals, dense = op_.inputs[1], op_.inputs[3]
    pos, d_shape = _dense_positions(op_)
    dense_vals = X.gather_nd(dense, pos)
    if op_.type == "SparseDenseCwiseMul":
        dx, d_at = dy * dense_vals, dy * vals
    elif op_.type == "SparseDenseCwiseDiv":
        dx, d_at = dy / dense_vals, -dy * vals / M.square(dense_vals)
    else:
        dx, d_at = dy, dy
    return [None, dx, None, X.scatter_nd(pos, d_at, d_shape)]


_cwise_mul.grad(_cwise_grad)
_cwise_div.grad(_cwise_grad)
_cwise_add.grad(_cwise_grad)

_CWISE = {"SparseDenseCwiseMul": _cwise_mul, "SparseDenseCwiseDiv": _cwise_div,
          "SparseDenseCwiseAdd": _cwise_add}


def _cwise(sp_input, dense, op_type: str, name: str | None = None) -> SparseTensor:
    if is_sparse(dense):
        raise TypeError(f"{op_type}: the second operand must be dense; for two SparseTensors "
                        "use tf.sparse.add / tf.sparse.maximum")
    sp = convert_to_sparse(sp_input)
    vals = _CWISE[op_type](sp.indices, sp.values, sp.dense_shape,
                           convert_to_tensor(dense, dtype=sp.dtype), name=name or op_type)
    out = SparseTensor(sp.indices, vals, sp.dense_shape)
    out._static_shape = sp.shape
    return out


# ----- SparseSoftmax -------------------------------------------------------------------------
def _softmax_shape(node: NodeSpec):
    rank = _check_sparse(node, 0, 1, 2)
    if rank is not None and rank < 2:
        node.fail(f"the SparseTensor must have rank >= 2, got rank {rank}")
    v = node.inputs[1]
    if not v.dtype.is_floating:
        node.fail(f"values must be floating point, got {v.dtype.name}", TypeError)
    return v.shape, v.dtype


@op("SparseSoftmax", shape=_softmax_shape)
def _sparse_softmax(xp, sp_indices, sp_values, sp_shape):
    dims = _dims(sp_shape)
    if len(dims) < 2:
        raise ValueError(f"SparseSoftmax: the SparseTensor must have rank >= 2, got {dims}")
    group = _linear(xp, sp_indices[:, :-1], dims[:-1])
    _, g = xp.unique(group, return_inverse=True)
    g = g.reshape(-1)
    n = int(g.max()) + 1 if g.shape[0] else 0
    mx = xp.full(n, -np.inf, dtype=sp_values.dtype)
    ufunc_at(xp, "maximum", mx, g, sp_values)
    e = xp.exp(sp_values - mx[g])
    s = xp.zeros(n, dtype=sp_values.dtype)
    ufunc_at(xp, "add", s, g, e)
    return e / s[g]


@_sparse_softmax.grad
def _sparse_softmax_grad(op_, dy):
    ind, _, shp = op_.inputs
    y = op_.outputs[0]
    from flowgrad.ops.sparse_math_ops import _sparse_reduce_sum  # noqa: PLC0415
    dot = _sparse_reduce_sum(ind, y * dy, shp, convert_to_tensor(np.array([-1], np.int32)),
                             keep_dims=True)
    return [None, (_cwise_add(ind, dy, shp, -dot)) * y, None]


def sparse_softmax(sp_input, name: str | None = None) -> SparseTensor:
    """``tf.sparse.softmax``: softmax over the last dimension among the entries present
    (missing entries take no part, as if they were -inf)."""
    sp = convert_to_sparse(sp_input)
    out = SparseTensor(sp.indices, _sparse_softmax(sp.indices, sp.values, sp.dense_shape,
                                                   name=name or "SparseSoftmax"),
                       sp.dense_shape)
    out._static_shape = sp.shape
    return out


# ----- SparseSparseMaximum / Minimum ---------------------------------------------------------
def _minmax_shape(node: NodeSpec):
    ra = _check_sparse(node, 0, 1, 2, "SparseTensor a")
    rb = _check_sparse(node, 3, 4, 5, "SparseTensor b")
    if ra is not None and rb is not None and ra != rb:
        node.fail(f"operands have different ranks: {ra} and {rb}")
    rank = ra if ra is not None else rb
    return [(TensorShape([None, rank]), _I64), (TensorShape([None]), node.inputs[1].dtype)]


def _minmax(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape, fn):
    dims = _same_dims(a_shape, b_shape, "SparseSparseMinOrMax")
    uniq, pa, pb = _union(xp, a_indices, b_indices, dims)
    av = xp.zeros(uniq.shape[0], dtype=a_values.dtype)
    bv = xp.zeros(uniq.shape[0], dtype=a_values.dtype)
    av[pa] = a_values
    bv[pb] = b_values
    return _unravel(xp, uniq, dims), fn(av, bv)


@op("SparseSparseMaximum", shape=_minmax_shape, same_dtype=("a_values", "b_values"))
def _sparse_maximum(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape):
    return _minmax(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape, xp.maximum)


@op("SparseSparseMinimum", shape=_minmax_shape, same_dtype=("a_values", "b_values"))
def _sparse_minimum(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape):
    return _minmax(xp, a_indices, a_values, a_shape, b_indices, b_values, b_shape, xp.minimum)


NotDifferentiable("SparseSparseMaximum")
NotDifferentiable("SparseSparseMinimum")


def _minmax_api(builder, type_name):
    def fn(sp_a, sp_b, name: str | None = None) -> SparseTensor:
        a, b = convert_to_sparse(sp_a, "sp_a"), convert_to_sparse(sp_b, "sp_b")
        ind, vals = builder(a.indices, a.values, a.dense_shape, b.indices, b.values,
                            b.dense_shape, name=name or type_name)
        out = SparseTensor(ind, vals, a.dense_shape)
        out._static_shape = a.shape
        return out
    return fn


sparse_maximum = _minmax_api(_sparse_maximum, "SparseSparseMaximum")
sparse_maximum.__name__ = "sparse_maximum"
sparse_maximum.__doc__ = ("``tf.sparse.maximum``: elementwise max of two SparseTensors of one "
                          "shape; an entry missing on one side counts as 0.")
sparse_minimum = _minmax_api(_sparse_minimum, "SparseSparseMinimum")
sparse_minimum.__name__ = "sparse_minimum"
sparse_minimum.__doc__ = ("``tf.sparse.minimum``: elementwise min of two SparseTensors of one "
                          "shape; an entry missing on one side counts as 0.")
