"""Sparse ops that move entries between SparseTensors: concat, slice, split, fill empty
rows."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_value,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import indexing_ops as X
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.sparse_common import (_check_bounds, _check_sparse, _dims, _host_i64,
                                        _linear, _sp, _sparse_out, match_rows,
                                        take_matched)
from flowgrad.ops.sparse_tensor import SparseTensor, convert_to_sparse

_I64 = _dt.int64


# ----- SparseConcat --------------------------------------------------------------------------
def _concat_shape(node: NodeSpec):
    n = len(node.inputs) // 3
    if n * 3 != len(node.inputs) or n == 0:
        node.fail("expects indices, values and shapes of the same number of SparseTensors")
    ranks = {_check_sparse(node, i, n + i, 2 * n + i) for i in range(n)} - {None}
    if len(ranks) > 1:
        node.fail(f"all SparseTensors must have the same rank, got ranks {sorted(ranks)}")
    dts = {node.inputs[n + i].dtype for i in range(n)}
    if len(dts) > 1:
        node.fail(f"all SparseTensors must have the same dtype, got {sorted(d.name for d in dts)}",
                  TypeError)
    rank = ranks.pop() if ranks else None
    if rank is not None and not -rank <= node.attrs["concat_dim"] < rank:
        node.fail(f"concat_dim {node.attrs['concat_dim']} is out of range for rank {rank}")
    return _sparse_out(rank, node.inputs[n].dtype)


@op("SparseConcat", shape=_concat_shape)
def _sparse_concat(xp, *inputs, concat_dim, expand_nonconcat_dim=False):
    n = len(inputs) // 3
    inds, vals = inputs[:n], inputs[n:2 * n]
    shapes = [_dims(s) for s in inputs[2 * n:]]
    rank = len(shapes[0])
    axis = concat_dim % rank
    for s in shapes[1:]:
        if len(s) != rank:
            raise ValueError(f"SparseConcat: ranks differ: {shapes}")
        if not expand_nonconcat_dim and any(a != b for k, (a, b) in enumerate(zip(s, shapes[0]))
                                            if k != axis):
            raise ValueError(f"SparseConcat: shapes {shapes} differ outside the concat "
                             f"dimension {axis} (pass expand_nonconcat_dim=True to take the "
                             "largest of each)")
    out_dims = [max(s[k] for s in shapes) for k in range(rank)]
    out_dims[axis] = sum(s[axis] for s in shapes)
    parts, offset = [], 0
    for ind, s in zip(inds, shapes):
        shift = [0] * rank
        shift[axis] = offset
        parts.append(ind + _host_i64(xp, shift))
        offset += s[axis]
    ind = xp.concatenate(parts, axis=0)
    val = xp.concatenate(vals, axis=0)
    order = xp.argsort(_linear(xp, ind, out_dims), kind="stable")
    return ind[order], val[order], _host_i64(xp, out_dims)


NotDifferentiable("SparseConcat")


def sparse_concat(axis, sp_inputs, name: str | None = None, expand_nonconcat_dim: bool = False,
                  concat_dim=None, expand_nonconcat_dims=None) -> SparseTensor:
    """``tf.sparse.concat``: SparseTensors joined along ``axis``; the result's indices are in
    row-major order.  With ``expand_nonconcat_dim`` the other dimensions may differ (the
    result takes the largest)."""
    if concat_dim is not None:
        axis = concat_dim
    if expand_nonconcat_dims is not None:
        expand_nonconcat_dim = expand_nonconcat_dims
    sps = [convert_to_sparse(s, "sp_inputs") for s in sp_inputs]
    if not sps:
        raise ValueError("sparse_concat needs at least one SparseTensor")
    known = [s.shape.as_list() for s in sps if s.shape.is_fully_defined()]
    if not expand_nonconcat_dim and len(known) > 1 and len({len(k) for k in known}) == 1:
        ax = int(axis) % len(known[0])
        if any(k[:ax] + k[ax + 1:] != known[0][:ax] + known[0][ax + 1:] for k in known):
            raise ValueError(f"SparseConcat: shapes {known} differ outside the concat dimension "
                             f"{ax} (pass expand_nonconcat_dim=True to take the largest of "
                             "each)")
    parts = _sparse_concat([s.indices for s in sps] + [s.values for s in sps] +
                           [s.dense_shape for s in sps], concat_dim=int(axis),
                           expand_nonconcat_dim=bool(expand_nonconcat_dim),
                           name=name or "SparseConcat")
    out = _sp(parts)
    if all(s.shape.is_fully_defined() for s in sps):
        dims = [s.shape.as_list() for s in sps]
        ax = int(axis) % len(dims[0])
        shp = [max(d[k] for d in dims) for k in range(len(dims[0]))]
        shp[ax] = sum(d[ax] for d in dims)
        out._static_shape = TensorShape(shp)
    return out


# ----- SparseSlice ---------------------------------------------------------------------------
def _slice_shape(node: NodeSpec):
    rank = _check_sparse(node, 0, 1, 2)
    for i, what in ((3, "start"), (4, "size")):
        if node.inputs[i].shape.ndims not in (None, 1):
            node.fail(f"{what} must be a vector, got shape {node.inputs[i].shape}")
    return _sparse_out(rank, node.inputs[1].dtype)


def _slice_mask(xp, indices, dims, start, size):
    lo = [int(v) for v in start.tolist()]
    sz = [int(v) for v in size.tolist()]
    if len(lo) != len(dims) or len(sz) != len(dims):
        raise ValueError(f"SparseSlice: start {lo} and size {sz} must have one entry per "
                         f"dimension of the shape {list(dims)}")
    hi = [min(a + b, d) for a, b, d in zip(lo, sz, dims)]
    keep = xp.ones(indices.shape[0], dtype=bool)
    for k in range(len(dims)):
        keep = keep & (indices[:, k] >= lo[k]) & (indices[:, k] < hi[k])
    return keep, lo, [max(h - a, 0) for a, h in zip(lo, hi)]


@op("SparseSlice", shape=_slice_shape)
def _sparse_slice(xp, indices, values, shape, start, size):
    keep, lo, out_dims = _slice_mask(xp, indices, _dims(shape), start, size)
    pick = xp.nonzero(keep)[0]
    return indices[pick] - _host_i64(xp, lo), values[pick], _host_i64(xp, out_dims)


@_sparse_slice.grad
def _sparse_slice_grad(op_, d_ind, d_values, d_shape):
    ind, _, _, start, _ = op_.inputs
    return [None, _sparse_slice_grad_op(d_values, ind, start, op_.outputs[0]), None, None, None]


def _slice_grad_shape(node: NodeSpec):
    return TensorShape([node.inputs[1].shape[0] if node.inputs[1].shape.ndims == 2 else None]), \
        node.inputs[0].dtype


@op("SparseSliceGrad", shape=_slice_grad_shape)
def _sparse_slice_grad_op(xp, backprop_val_grad, input_indices, input_start, output_indices):
    # entries outside the slice shift to rows that the output does not have
    pos = match_rows(xp, input_indices - input_start.reshape(1, -1), output_indices)
    return take_matched(xp, backprop_val_grad, pos)


@_sparse_slice_grad_op.grad
def _sparse_slice_grad_op_grad(op_, dy):
    ind, start, out_ind = op_.inputs[1:]
    # the adjoint: the sliced entries of dy, in the output's order
    pos = _match_op(out_ind + start, ind)
    return [X.gather(dy, pos), None, None, None]


def _match_shape(node: NodeSpec):
    return TensorShape([node.inputs[0].shape[0] if node.inputs[0].shape.ndims == 2 else None]), \
        _I64


@op("SparseMatchRows", shape=_match_shape)
def _match_op(xp, keys, table):
    """For each index tuple of ``keys``, its position in ``table`` (-1 if absent)."""
    return match_rows(xp, keys, table)


NotDifferentiable("SparseMatchRows")


def sparse_slice(sp_input, start, size, name: str | None = None) -> SparseTensor:
    """``tf.sparse.slice``: the entries inside ``[start, start + size)`` (clipped to the
    shape), indices relative to ``start``."""
    sp = convert_to_sparse(sp_input)
    parts = _sparse_slice(sp.indices, sp.values, sp.dense_shape,
                          _as_i64(start), _as_i64(size), name=name or "SparseSlice")
    return _sp(parts)


def _as_i64(v) -> Tensor:
    return v if isinstance(v, Tensor) else convert_to_tensor(np.asarray(v, dtype=np.int64))


# ----- SparseSplit ---------------------------------------------------------------------------
def _split_shape(node: NodeSpec):
    rank = _check_sparse(node, 1, 2, 3)
    if node.inputs[0].shape.ndims not in (None, 0):
        node.fail(f"split_dim must be a scalar, got shape {node.inputs[0].shape}")
    if node.attrs["num_split"] < 1:
        node.fail(f"num_split must be >= 1, got {node.attrs['num_split']}")
    return _sparse_out(rank, node.inputs[2].dtype) * node.attrs["num_split"]


@op("SparseSplit", shape=_split_shape)
def _sparse_split(xp, split_dim, indices, values, shape, *, num_split):
    dims = _dims(shape)
    axis = int(split_dim) % len(dims)
    n = dims[axis]
    if num_split > n:
        raise ValueError(f"SparseSplit: num_split {num_split} is larger than dimension "
                         f"{axis} of size {n}")
    sizes = [n // num_split + (1 if i < n % num_split else 0) for i in range(num_split)]
    out, lo = [], 0
    for s in sizes:
        keep = (indices[:, axis] >= lo) & (indices[:, axis] < lo + s)
        pick = xp.nonzero(keep)[0]
        shift = [0] * len(dims)
        shift[axis] = lo
        piece = list(dims)
        piece[axis] = s
        out += [indices[pick] - _host_i64(xp, shift), values[pick], _host_i64(xp, piece)]
        lo += s
    return out


NotDifferentiable("SparseSplit")


def sparse_split(keyword_required=None, sp_input=None, num_split=None, axis=None,
                 name: str | None = None, split_dim=None) -> list[SparseTensor]:
    """``tf.sparse.split``: ``num_split`` SparseTensors along ``axis`` (the first
    ``size % num_split`` one larger).  Arguments are keywords, as in TF1."""
    if keyword_required is not None:
        raise ValueError("Keyword arguments are required for sparse_split: "
                         "sparse_split(sp_input=..., num_split=..., axis=...)")
    if split_dim is not None:
        axis = split_dim
    if sp_input is None or num_split is None or axis is None:
        raise ValueError("sparse_split needs sp_input, num_split and axis")
    sp = convert_to_sparse(sp_input)
    parts = _sparse_split(convert_to_tensor(axis, dtype=_I64) if isinstance(axis, Tensor)
                          else convert_to_tensor(np.int64(axis)), sp.indices, sp.values,
                          sp.dense_shape, num_split=int(num_split), name=name or "SparseSplit")
    return [_sp(parts[3 * i:3 * i + 3]) for i in range(int(num_split))]


# ----- SparseFillEmptyRows -------------------------------------------------------------------
def _fill_shape(node: NodeSpec):
    rank = _check_sparse(node, 0, 1, 2)
    if node.inputs[3].shape.ndims not in (None, 0):
        node.fail(f"default_value must be a scalar, got shape {node.inputs[3].shape}")
    n = node.inputs[0].shape[0] if node.inputs[0].shape.ndims == 2 else None
    return _sparse_out(rank, node.inputs[1].dtype)[:2] + [
        (TensorShape([None]), _dt.bool_), (TensorShape([n]), _I64)]


@op("SparseFillEmptyRows", shape=_fill_shape, same_dtype=("values", "default_value"))
def _sparse_fill_empty_rows(xp, indices, values, dense_shape, default_value):
    dims = _dims(dense_shape)
    if not dims:
        raise ValueError("SparseFillEmptyRows: the SparseTensor must have rank >= 1")
    _check_bounds(indices, dims, "SparseFillEmptyRows")
    rows = indices[:, 0]
    count = xp.bincount(rows, minlength=dims[0]) if rows.shape[0] else \
        xp.zeros(dims[0], dtype=np.int64)
    empty = count == 0
    new_rows = xp.nonzero(empty)[0].astype(np.int64)
    fill = xp.zeros((new_rows.shape[0], len(dims)), dtype=np.int64)
    fill[:, 0] = new_rows
    ind = xp.concatenate([indices, fill], axis=0)
    val = xp.concatenate([values, xp.full(new_rows.shape[0], default_value,
                                          dtype=values.dtype)])
    order = xp.argsort(_linear(xp, ind, dims), kind="stable")
    where = xp.empty_like(order)
    where[order] = xp.arange(order.shape[0])
    return ind[order], val[order], empty, where[:indices.shape[0]].astype(np.int64)


@_sparse_fill_empty_rows.grad
def _sparse_fill_empty_rows_grad(op_, d_ind, d_values, d_empty, d_map):
    reverse_map = op_.outputs[3]
    dv = X.gather(d_values, reverse_map)
    return [None, dv, None, R.reduce_sum(d_values) - R.reduce_sum(dv)]


def sparse_fill_empty_rows(sp_input, default_value, name: str | None = None):
    """``tf.sparse.fill_empty_rows``: ``(filled, empty_row_indicator)``; every empty row
    gets one entry ``default_value`` at column 0."""
    sp = convert_to_sparse(sp_input)
    with name_scope(name, "SparseFillEmptyRows"):
        default = convert_to_tensor(default_value, dtype=sp.dtype)
        ind, val, empty, _ = _sparse_fill_empty_rows(sp.indices, sp.values, sp.dense_shape,
                                                     default)
        out = SparseTensor(ind, val, sp.dense_shape)
        out._static_shape = sp.shape
        c = constant_value(sp.dense_shape)
        if c is not None:
            empty._shape = TensorShape([int(c[0])])
        return out, empty
