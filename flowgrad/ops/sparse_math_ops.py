"""Sparse arithmetic: sparse x dense matmul, reductions, sums, elementwise ops with a dense
tensor, softmax, maximum/minimum."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_shape,
                                         constant_value, convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import indexing_ops as X
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops._xp import ufunc_at
from flowgrad.ops.indexing_ops import _scatter_add
from flowgrad.ops.sparse_common import (_check_bounds, _check_sparse, _dims, _host_i64,
                                        _sp, _sparse_out, _strides, _unravel)
from flowgrad.ops.sparse_tensor import convert_to_sparse

_I64 = _dt.int64


# ----- SparseTensorDenseMatMul ---------------------------------------------------------------
def _matmul_shape(node: NodeSpec):
    _check_sparse(node, 0, 1, 2, "sparse matrix a")
    b = node.inputs[3]
    if b.shape.ndims not in (None, 2):
        node.fail(f"b must be a matrix, got shape {b.shape}")
    a_shape = constant_shape(node.inputs[2])
    if a_shape.ndims not in (None, 2):
        node.fail(f"a must be a matrix (rank 2), got dense_shape {a_shape}")
    adj_a, adj_b = node.attrs["adjoint_a"], node.attrs["adjoint_b"]
    m, k = (None, None) if a_shape.ndims is None else (a_shape[1], a_shape[0]) if adj_a \
        else (a_shape[0], a_shape[1])
    kb, n = (None, None) if b.shape.ndims is None else (b.shape[1], b.shape[0]) if adj_b \
        else (b.shape[0], b.shape[1])
    if k is not None and kb is not None and k != kb:
        node.fail(f"inner dimensions differ: a{' (adjoint)' if adj_a else ''} is {m}x{k}, "
                  f"b{' (adjoint)' if adj_b else ''} is {kb}x{n}")
    return TensorShape([m, n]), node.inputs[1].dtype


#: a row of A is cut into runs of at most this many entries (bounds the passes of _spmm_rows;
#: a power of two below 256)
_MAX_RUN = 32
#: cost model (seconds per element) choosing between the sparse kernel and densify + GEMM,
#: measured with numpy on a 2-core CPU: sparse ~ nnz*n*_SPARSE_COST, dense ~ m*k*(_FILL_COST
#: + n*_GEMM_COST)
_SPARSE_COST, _FILL_COST, _GEMM_COST = 2e-9, 1e-9, 3e-11
_DENSE_LIMIT = 1 << 25          # largest densified A (elements) the dense path builds
_BLAS_TYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                           np.complex128))


def _row_order(rows, m: int):
    """A stable permutation sorting ``rows`` (None when they are sorted already).  Row ids
    below 2**16 sort as uint16, which numpy radix-sorts."""
    if rows.shape[0] < 2 or bool((rows[1:] >= rows[:-1]).all()):
        return None
    return np.argsort(rows.astype(np.uint16) if m <= 1 << 16 else rows, kind="stable")


def _spmm_rows(rows, cols, vals, m: int, bb):
    """``out[rows[e]] += vals[e] * bb[cols[e]]`` summed over the entries e (numpy).

    The entries are sorted by row (stably), each row cut into runs of at most ``_MAX_RUN``,
    and the runs ordered longest first: pass ``p`` then adds the ``p``-th entry of every
    run still that long, one gather + multiply-add over whole rows of ``bb``.  There are at
    most ``_MAX_RUN`` passes, each vectorised across rows (np.add.reduceat over short row
    segments is far slower)."""
    nnz, n = rows.shape[0], bb.shape[1]
    out = np.zeros((m, n), dtype=bb.dtype)
    if nnz == 0 or n == 0 or m == 0:
        return out
    order = _row_order(rows, m)
    if order is not None:
        rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.empty(nnz, dtype=bool)
    first[0] = True
    np.not_equal(rows[1:], rows[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    n_rows = starts.shape[0]
    pos = np.arange(nnz) - np.repeat(starts, np.diff(np.append(starts, nnz)))
    first |= (pos & (_MAX_RUN - 1)) == 0
    runs = np.flatnonzero(first)
    lens = np.diff(np.append(runs, nnz))
    by_len = np.argsort((_MAX_RUN - lens).astype(np.uint8), kind="stable")   # radix sort
    runs, lens = runs[by_len], lens[by_len]
    # active[p]: how many runs have more than p entries (a prefix, runs being longest first)
    active = np.searchsorted(-lens, -np.arange(int(lens[0])), side="left")
    acc = np.zeros((runs.shape[0], n), dtype=bb.dtype)
    for p, cnt in enumerate(active.tolist()):
        e = runs[:cnt] + p
        term = np.take(bb, cols[e], axis=0)
        term *= vals[e, None]
        acc[:cnt] += term
    if runs.shape[0] == n_rows:
        out[rows[runs]] = acc
    else:
        np.add.at(out, rows[runs], acc)
    return out


def _use_dense(nnz: int, m: int, k: int, n: int, dtype) -> bool:
    """Whether densifying A and one GEMM beats the sparse kernel (cost model above)."""
    if np.dtype(dtype) not in _BLAS_TYPES or m * k > _DENSE_LIMIT:
        return False
    return nnz * n * _SPARSE_COST > m * k * (_FILL_COST + n * _GEMM_COST)


def _spmm_dense(rows, cols, vals, m: int, k: int, bb):
    dense = np.zeros(m * k, dtype=bb.dtype)
    np.add.at(dense, rows * k + cols, vals)
    return dense.reshape(m, k) @ bb


@op("SparseTensorDenseMatMul", shape=_matmul_shape, same_dtype=("a_values", "b"))
def _sparse_dense_matmul(xp, a_indices, a_values, a_shape, b, *, adjoint_a=False,
                         adjoint_b=False):
    dims = _dims(a_shape)
    _check_bounds(a_indices, dims, "SparseTensorDenseMatMul")
    rows, cols, vals = a_indices[:, 0], a_indices[:, 1], a_values
    m, k = dims
    if adjoint_a:
        rows, cols, m, k = cols, rows, k, m
        vals = xp.conj(vals) if vals.dtype.kind == "c" else vals
    bb = (xp.conj(b.T) if b.dtype.kind == "c" else b.T) if adjoint_b else b
    if bb.shape[0] != k:
        raise ValueError(f"SparseTensorDenseMatMul: cannot multiply A ({m}x{k}) by B "
                         f"({bb.shape[0]}x{bb.shape[1]}): inner dimensions differ")
    if xp is np:
        bb = np.ascontiguousarray(bb)
        if _use_dense(rows.shape[0], m, k, bb.shape[1], bb.dtype):
            return _spmm_dense(rows, cols, vals, m, k, bb)
        return _spmm_rows(rows, cols, vals, m, bb)
    out = xp.zeros((m, bb.shape[1]), dtype=b.dtype)
    _scatter_add(xp, out, rows, vals[:, None] * bb[cols])
    return out


def _gather_dot_shape(node: NodeSpec):
    x, y, ix, iy = node.inputs
    for t, what in ((x, "x"), (y, "y")):
        if t.shape.ndims not in (None, 2):
            node.fail(f"{what} must be a matrix, got shape {t.shape}")
    for t, what in ((ix, "x_rows"), (iy, "y_rows")):
        if t.shape.ndims not in (None, 1):
            node.fail(f"{what} must be a vector, got shape {t.shape}")
    if x.shape.ndims == 2 and y.shape.ndims == 2 and None not in (x.shape[1], y.shape[1]) \
            and x.shape[1] != y.shape[1]:
        node.fail(f"x and y rows differ in length: {x.shape} and {y.shape}")
    return TensorShape([ix.shape[0] if ix.shape.ndims == 1 else None]), x.dtype


#: entries per chunk of _gather_dot (the two gathered chunks stay in cache)
_DOT_CHUNK = 2048


@op("SparseMatMulGatherDot", shape=_gather_dot_shape, same_dtype=("x", "y"))
def _gather_dot(xp, x, y, x_rows, y_rows):
    """``out[e] = sum_j x[x_rows[e], j] * y[y_rows[e], j]`` (the gradient of
    SparseTensorDenseMatMul w.r.t. A's values), computed in chunks of entries without the
    two gathered ``nnz x n`` matrices."""
    for rows, t, what in ((x_rows, x, "x_rows"), (y_rows, y, "y_rows")):
        if rows.shape[0] and (int(rows.min()) < 0 or int(rows.max()) >= t.shape[0]):
            raise ValueError(f"SparseMatMulGatherDot: {what} holds an index outside "
                             f"[0, {t.shape[0]})")
    nnz = x_rows.shape[0]
    out = xp.empty(nnz, dtype=x.dtype)
    chunk = _DOT_CHUNK if xp is np else max(nnz, 1)     # a device does it in one go
    for s in range(0, nnz, chunk):
        e = slice(s, s + chunk)
        out[e] = xp.einsum("ij,ij->i", x[x_rows[e]], y[y_rows[e]])
    return out


@_gather_dot.grad
def _gather_dot_grad(op_, g):
    x, y, ix, iy = op_.inputs
    ind = A.stack([M.cast(ix, _I64), M.cast(iy, _I64)], axis=1)
    shape = A.stack([A.shape(x, out_type=_I64)[0], A.shape(y, out_type=_I64)[0]])
    return [_sparse_dense_matmul(ind, g, shape, y),
            _sparse_dense_matmul(ind, g, shape, x, adjoint_a=True), None, None]


@_sparse_dense_matmul.grad
def _sparse_dense_matmul_grad(op_, dy):
    ind, vals, shp, b = op_.inputs
    adj_a, adj_b = op_.attrs["adjoint_a"], op_.attrs["adjoint_b"]
    db = _sparse_dense_matmul(ind, vals, shp, dy, adjoint_a=not adj_a)
    if adj_b:
        db = A.matrix_transpose(db)
    rows, cols = ind[:, 0], ind[:, 1]
    bm = A.transpose(b) if adj_b else b
    if vals.dtype.is_complex:
        dvals = R.reduce_sum(X.gather(dy, cols if adj_a else rows) *
                             X.gather(bm, rows if adj_a else cols), axis=1)
    else:
        dvals = _gather_dot(dy, bm, cols if adj_a else rows, rows if adj_a else cols)
    return [None, dvals, None, db]


def sparse_tensor_dense_matmul(sp_a, b, adjoint_a: bool = False, adjoint_b: bool = False,
                               name: str | None = None) -> Tensor:
    """``tf.sparse.sparse_dense_matmul``: the dense product ``A @ B`` of a sparse matrix
    ``sp_a`` and a dense ``b`` (either transposed/adjointed by the flags).  Gradients reach
    ``sp_a.values`` and ``b``.

    >>> tf.sparse_tensor_dense_matmul(tf.SparseTensor([[0, 1]], [2.0], [2, 3]), tf.ones([3, 4]))
    """
    sp = convert_to_sparse(sp_a, "sp_a")
    with name_scope(name, "SparseTensorDenseMatMul"):
        return _sparse_dense_matmul(sp.indices, sp.values, sp.dense_shape, b,
                                    adjoint_a=bool(adjoint_a), adjoint_b=bool(adjoint_b))


# ----- reductions ----------------------------------------------------------------------------
def _reduced_static(node: NodeSpec):
    shp = constant_shape(node.inputs[2])
    axes = constant_value(node.inputs[3])
    keep = node.attrs["keep_dims"]
    if shp.ndims is None or axes is None:
        return None
    r = shp.ndims
    ax = [int(a) for a in np.asarray(axes).reshape(-1).tolist()]
    if any(not -r <= a < r for a in ax):
        node.fail(f"reduction axis {ax} is out of range for rank {r}")
    red = {a % r for a in ax} if ax else set(range(r))
    return TensorShape([1 if k in red else shp[k] for k in range(r) if keep or k not in red])


def _reduce_shape(node: NodeSpec):
    _check_sparse(node, 0, 1, 2)
    if node.inputs[3].shape.ndims not in (None, 0, 1):
        node.fail(f"reduction_axes must be a scalar or vector, got {node.inputs[3].shape}")
    s = _reduced_static(node)
    return (s if s is not None else TensorShape(None)), node.inputs[1].dtype


def _reduce_sparse_shape(node: NodeSpec):
    _, dt = _reduce_shape(node)
    s = _reduced_static(node)
    rank = None if s is None else s.ndims
    return _sparse_out(rank, dt)


def _groups(xp, indices, input_shape, axes, keep_dims):
    """Each entry's output position: (linear index into the kept-dims output, kept dims,
    output dims)."""
    dims = _dims(input_shape)
    r = len(dims)
    ax = [int(a) for a in axes.reshape(-1).tolist()]
    if any(not -r <= a < r for a in ax):
        raise ValueError(f"reduction axes {ax} are out of range for a SparseTensor of rank {r}")
    red = {a % r for a in ax} if ax else set(range(r))
    kept = [1 if k in red else dims[k] for k in range(r)]
    cols = [k for k in range(r) if k not in red]
    lin = xp.zeros(indices.shape[0], dtype=np.int64)
    for k, s in zip(range(r), _strides(kept)):
        if k in cols:
            lin = lin + indices[:, k] * s
    out_dims = kept if keep_dims else [dims[k] for k in cols]
    return lin, kept, out_dims, cols


def _reduce_kernel(xp, indices, values, input_shape, axes, keep_dims, kind):
    lin, kept, out_dims, _ = _groups(xp, indices, input_shape, axes, keep_dims)
    size = int(np.prod(kept))
    if kind == "sum":
        out = xp.zeros(size, dtype=values.dtype)
        ufunc_at(xp, "add", out, lin, values)
        return out.reshape(out_dims)
    low = -np.inf if values.dtype.kind == "f" else np.iinfo(values.dtype).min
    out = xp.full(size, low, dtype=values.dtype)
    ufunc_at(xp, "maximum", out, lin, values)
    seen = xp.bincount(lin, minlength=size) if lin.shape[0] else \
        xp.zeros(size, dtype=np.int64)
    return xp.where(seen > 0, out, xp.zeros_like(out)).reshape(out_dims)


@op("SparseReduceSum", shape=_reduce_shape)
def _sparse_reduce_sum(xp, input_indices, input_values, input_shape, reduction_axes, *,
                       keep_dims=False):
    return _reduce_kernel(xp, input_indices, input_values, input_shape, reduction_axes,
                          keep_dims, "sum")


@op("SparseReduceMax", shape=_reduce_shape)
def _sparse_reduce_max(xp, input_indices, input_values, input_shape, reduction_axes, *,
                       keep_dims=False):
    return _reduce_kernel(xp, input_indices, input_values, input_shape, reduction_axes,
                          keep_dims, "max")


NotDifferentiable("SparseReduceMax")


@_sparse_reduce_sum.grad
def _sparse_reduce_sum_grad(op_, dy):
    ind, _, shp, axes = op_.inputs
    rank = A.size(shp, out_type=_I64)
    ax = M.floormod(M.cast(A.reshape(axes, [-1]), _I64), rank)
    pos = A.range(rank, dtype=_I64)
    reduced = R.reduce_any(M.equal(A.expand_dims(pos, 1), A.expand_dims(ax, 0)), axis=1)
    reduced = M.logical_or(reduced, M.equal(A.size(ax), 0))
    kept_shape = M.where(reduced, A.ones_like(shp), shp)
    keep = M.cast(M.logical_not(reduced), _I64)
    return [None, X.gather_nd(A.reshape(dy, kept_shape), ind * keep), None, None]


def _sparse_reduce_sparse_kernel(xp, indices, values, input_shape, axes, keep_dims, kind):
    lin, kept, out_dims, cols = _groups(xp, indices, input_shape, axes, keep_dims)
    uniq, inv = xp.unique(lin, return_inverse=True)
    inv = inv.reshape(-1)
    if kind == "sum":
        vals = xp.zeros(uniq.shape[0], dtype=values.dtype)
        ufunc_at(xp, "add", vals, inv, values)
    else:
        low = -np.inf if values.dtype.kind == "f" else np.iinfo(values.dtype).min
        vals = xp.full(uniq.shape[0], low, dtype=values.dtype)
        ufunc_at(xp, "maximum", vals, inv, values)
    full = _unravel(xp, uniq, kept)
    if not keep_dims:
        full = full[:, _host_i64(xp, cols)] if cols else \
            xp.zeros((uniq.shape[0], 0), dtype=np.int64)
    return full, vals, _host_i64(xp, out_dims)


@op("SparseReduceSumSparse", shape=_reduce_sparse_shape)
def _sparse_reduce_sum_sparse(xp, input_indices, input_values, input_shape, reduction_axes, *,
                              keep_dims=False):
    return _sparse_reduce_sparse_kernel(xp, input_indices, input_values, input_shape,
                                        reduction_axes, keep_dims, "sum")


@op("SparseReduceMaxSparse", shape=_reduce_sparse_shape)
def _sparse_reduce_max_sparse(xp, input_indices, input_values, input_shape, reduction_axes, *,
                              keep_dims=False):
    return _sparse_reduce_sparse_kernel(xp, input_indices, input_values, input_shape,
                                        reduction_axes, keep_dims, "max")


NotDifferentiable("SparseReduceSumSparse")
NotDifferentiable("SparseReduceMaxSparse")


def _axes(axis, reduction_axes) -> Tensor:
    ax = axis if axis is not None else reduction_axes
    if ax is None:
        return convert_to_tensor(np.zeros(0, dtype=np.int32))
    return ax if isinstance(ax, Tensor) else convert_to_tensor(
        np.asarray(ax, dtype=np.int32))


def _keep(keepdims, keep_dims) -> bool:
    return bool(keepdims if keepdims is not None else keep_dims or False)


def _reduce_api(builder, sparse_builder, type_name: str, output_sparse: bool):
    def reduce(sp_input, axis=None, keepdims=None, reduction_axes=None, keep_dims=None,
               name: str | None = None):
        sp = convert_to_sparse(sp_input)
        args = (sp.indices, sp.values, sp.dense_shape, _axes(axis, reduction_axes))
        if output_sparse:
            return _sp(sparse_builder(*args, keep_dims=_keep(keepdims, keep_dims),
                                      name=name or type_name + "Sparse"))
        return builder(*args, keep_dims=_keep(keepdims, keep_dims), name=name or type_name)
    return reduce


sparse_reduce_sum = _reduce_api(_sparse_reduce_sum, None, "SparseReduceSum", False)
sparse_reduce_sum.__name__ = "sparse_reduce_sum"
sparse_reduce_sum.__doc__ = (
    "``tf.sparse_reduce_sum``: the sum over ``axis`` (all axes by default) as a dense "
    "tensor; gradients reach the values.\n\n"
    "    >>> tf.sparse_reduce_sum(tf.SparseTensor([[0, 0], [1, 2]], [1., 2.], [2, 3]), 1)")
sparse_reduce_max = _reduce_api(_sparse_reduce_max, None, "SparseReduceMax", False)
sparse_reduce_max.__name__ = "sparse_reduce_max"
sparse_reduce_max.__doc__ = ("``tf.sparse_reduce_max``: the maximum of the entries present "
                             "(implicit zeros do not take part; a group without entries "
                             "gives 0), as a dense tensor.  Not differentiable.")
sparse_reduce_sum_sparse = _reduce_api(None, _sparse_reduce_sum_sparse, "SparseReduceSum", True)
sparse_reduce_sum_sparse.__name__ = "sparse_reduce_sum_sparse"
sparse_reduce_sum_sparse.__doc__ = "``tf.sparse_reduce_sum_sparse``: the sum as a SparseTensor."
sparse_reduce_max_sparse = _reduce_api(None, _sparse_reduce_max_sparse, "SparseReduceMax", True)
sparse_reduce_max_sparse.__name__ = "sparse_reduce_max_sparse"
sparse_reduce_max_sparse.__doc__ = "``tf.sparse_reduce_max_sparse``: the max as a SparseTensor."


def reduce_sum_v2(sp_input, axis=None, keepdims=None, output_is_sparse: bool = False,
                  name: str | None = None, reduction_axes=None, keep_dims=None):
    """``tf.sparse.reduce_sum``: dense, or a SparseTensor with ``output_is_sparse``."""
    fn = sparse_reduce_sum_sparse if output_is_sparse else sparse_reduce_sum
    return fn(sp_input, axis=axis, keepdims=keepdims, reduction_axes=reduction_axes,
              keep_dims=keep_dims, name=name)


def reduce_max_v2(sp_input, axis=None, keepdims=None, output_is_sparse: bool = False,
                  name: str | None = None, reduction_axes=None, keep_dims=None):
    """``tf.sparse.reduce_max``: dense, or a SparseTensor with ``output_is_sparse``."""
    fn = sparse_reduce_max_sparse if output_is_sparse else sparse_reduce_max
    return fn(sp_input, axis=axis, keepdims=keepdims, reduction_axes=reduction_axes,
              keep_dims=keep_dims, name=name)
