"""Sparse tensors: conversions and structural ops (``tf.sparse.*``).

Kernels see a SparseTensor as its three arrays: int64 ``indices [N, rank]``, ``values [N]``
and int64 ``dense_shape [rank]``.  Entries are located by their row-major linear index
(``_linear``), which turns ordering, matching and grouping of index tuples into 1-D sorts
and searches.  Ops that make a SparseTensor return its parts as separate outputs, and the
Python wrapper puts them back together, as TF's ``gen_sparse_ops`` wrappers do.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_shape,
                                         constant_value, convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import array_extra_ops as AE
from flowgrad.ops import indexing_ops as X
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.sparse_common import (_check_bounds, _check_order, _check_sparse, _dims,
                                        _linear, _unravel)
from flowgrad.ops.sparse_tensor import SparseTensor, convert_to_sparse

_I64 = _dt.int64


# ----- SparseToDense -------------------------------------------------------------------------
def _to_dense_shape(node: NodeSpec):
    idx, out_shape, vals, default = node.inputs
    if not idx.dtype.is_integer or not out_shape.dtype.is_integer:
        node.fail("sparse_indices and output_shape must be int32 or int64", TypeError)
    if idx.shape.ndims is not None and idx.shape.ndims > 2:
        node.fail(f"sparse_indices must be 0-D, 1-D or 2-D, got shape {idx.shape}")
    if vals.shape.ndims is not None and vals.shape.ndims > 1:
        node.fail(f"sparse_values must be a scalar or a vector, got shape {vals.shape}")
    if default.shape.ndims not in (None, 0):
        node.fail(f"default_value must be a scalar, got shape {default.shape}")
    shp = constant_shape(out_shape) if out_shape.shape.ndims != 0 else TensorShape(
        [int(constant_value(out_shape))] if constant_value(out_shape) is not None else [None])
    return shp, vals.dtype


@op("SparseToDense", shape=_to_dense_shape, same_dtype=("sparse_values", "default_value"))
def _sparse_to_dense(xp, sparse_indices, output_shape, sparse_values, default_value, *,
                     validate_indices=True):
    dims = _dims(output_shape)
    idx = sparse_indices.reshape(-1, len(dims)) if sparse_indices.ndim < 2 else sparse_indices
    if sparse_values.ndim == 1 and sparse_values.shape[0] != idx.shape[0]:
        raise ValueError(f"SparseToDense: {idx.shape[0]} indices but {sparse_values.shape[0]} "
                         "values")
    _check_bounds(idx, dims, "SparseToDense")
    if validate_indices:
        _check_order(xp, idx, dims, "SparseToDense")
    out = xp.full(dims, default_value, dtype=sparse_values.dtype)
    out[tuple(idx[:, k] for k in range(len(dims)))] = sparse_values
    return out


@_sparse_to_dense.grad
def _sparse_to_dense_grad(op_, dy):
    idx, out_shape, vals, _ = op_.inputs
    if idx.shape.ndims != 2:
        idx = A.reshape(idx, A.stack([-1, A.size(out_shape)]))
    dvals = X.gather_nd(dy, idx)
    if vals.shape.ndims == 0:
        dvals = R.reduce_sum(dvals)
    ddefault = R.reduce_sum(dy) - R.reduce_sum(dvals)
    return [None, None, dvals, ddefault]


def sparse_to_dense(sparse_indices, output_shape, sparse_values, default_value=0,
                    validate_indices: bool = True, name: str | None = None) -> Tensor:
    """``tf.sparse_to_dense``: a dense tensor with ``sparse_values`` at ``sparse_indices``
    and ``default_value`` elsewhere."""
    vals = convert_to_tensor(sparse_values)
    return _sparse_to_dense(sparse_indices, output_shape, vals,
                            convert_to_tensor(default_value, dtype=vals.dtype),
                            validate_indices=bool(validate_indices),
                            name=name or "SparseToDense")


def sparse_tensor_to_dense(sp_input, default_value=0, validate_indices: bool = True,
                           name: str | None = None) -> Tensor:
    """``tf.sparse.to_dense``: the dense tensor of ``sp_input`` (``default_value`` where it
    has no entry).  Indices must be in row-major order unless ``validate_indices=False``.

    >>> tf.sparse.to_dense(tf.SparseTensor([[0, 1]], [5.0], [2, 2]))   # [[0, 5], [0, 0]]
    """
    sp = convert_to_sparse(sp_input)
    dv = 0 if default_value is None else default_value
    out = sparse_to_dense(sp.indices, sp.dense_shape, sp.values, dv, validate_indices,
                          name=name or "SparseToDense")
    if sp.shape.ndims is not None:
        out._shape = out.shape.merge_with(sp.shape) if out.shape.is_compatible_with(
            sp.shape) else out.shape
    return out


def from_dense(tensor, name: str | None = None) -> SparseTensor:
    """``tf.sparse.from_dense``: the nonzero elements of ``tensor`` as a SparseTensor."""
    with name_scope(name, "dense_to_sparse"):
        t = convert_to_tensor(tensor)
        indices = M.where(M.not_equal(t, A.zeros_like(t)))
        values = X.gather_nd(t, indices)
        return SparseTensor(indices, values, A.shape(t, out_type=_I64))


# ----- SparseReorder -------------------------------------------------------------------------
def _reorder_shape(node: NodeSpec):
    rank = _check_sparse(node, 0, 1, 2)
    n = node.inputs[0].shape[0] if node.inputs[0].shape.ndims == 2 else None
    return [(TensorShape([n, rank]), _I64), (TensorShape([n]), node.inputs[1].dtype)]


@op("SparseReorder", shape=_reorder_shape)
def _sparse_reorder(xp, input_indices, input_values, input_shape):
    order = xp.argsort(_linear(xp, input_indices, _dims(input_shape)), kind="stable")
    return input_indices[order], input_values[order]


@_sparse_reorder.grad
def _sparse_reorder_grad(op_, d_indices, d_values):
    ind, _, shp = op_.inputs
    n = A.shape(ind)[0:1]
    _, perm = _sparse_reorder(ind, A.range(A.reshape(n, []), dtype=_I64), shp)
    return [None, X.gather(d_values, AE.invert_permutation(perm)), None]


def sparse_reorder(sp_input, name: str | None = None) -> SparseTensor:
    """``tf.sparse.reorder``: the same SparseTensor with indices in row-major order."""
    sp = convert_to_sparse(sp_input)
    ind, vals = _sparse_reorder(sp.indices, sp.values, sp.dense_shape,
                                name=name or "SparseReorder")
    out = SparseTensor(ind, vals, sp.dense_shape)
    out._static_shape = sp.shape
    return out


# ----- SparseReshape -------------------------------------------------------------------------
def _reshape_shape(node: NodeSpec):
    _check_sparse(node, 0, None, 1)
    new = node.inputs[2]
    if new.shape.ndims not in (None, 1):
        node.fail(f"new_shape must be a vector, got shape {new.shape}")
    r = new.shape[0] if new.shape.ndims == 1 else None
    return [(TensorShape([node.inputs[0].shape[0] if node.inputs[0].shape.ndims == 2 else None,
                          r]), _I64), (TensorShape([r]), _I64)]


@op("SparseReshape", shape=_reshape_shape)
def _sparse_reshape(xp, input_indices, input_shape, new_shape):
    dims = _dims(input_shape)
    want = [int(d) for d in new_shape.reshape(-1).tolist()]
    total = int(np.prod(dims)) if dims else 1
    if want.count(-1) > 1:
        raise ValueError(f"SparseReshape: at most one dimension of new_shape may be -1, got "
                         f"{want}")
    if -1 in want:
        known = int(np.prod([d for d in want if d != -1])) if len(want) > 1 else 1
        if known == 0 or total % known:
            raise ValueError(f"SparseReshape: cannot reshape a tensor of shape {list(dims)} "
                             f"({total} elements) into {want}")
        want[want.index(-1)] = total // known
    if int(np.prod(want)) != total:
        raise ValueError(f"SparseReshape: cannot reshape a tensor of shape {list(dims)} "
                         f"({total} elements) into {want} ({int(np.prod(want))} elements)")
    out = _unravel(xp, _linear(xp, input_indices, dims), want)
    return out, xp.asarray(np.asarray(want, dtype=np.int64))


NotDifferentiable("SparseReshape")


def sparse_reshape(sp_input, shape, name: str | None = None) -> SparseTensor:
    """``tf.sparse.reshape``: the same entries in a dense shape of as many elements (one
    dimension may be -1)."""
    sp = convert_to_sparse(sp_input)
    new = M.cast(shape, _I64) if isinstance(shape, Tensor) else \
        convert_to_tensor(np.asarray(shape, dtype=np.int64))
    ind, shp = _sparse_reshape(sp.indices, sp.dense_shape, new, name=name or "SparseReshape")
    out = SparseTensor(ind, sp.values, shp)
    c = constant_value(new)
    if c is not None and -1 not in c.tolist():
        out._static_shape = TensorShape([int(d) for d in c.tolist()])
    elif c is not None and sp.shape.is_fully_defined():
        n = sp.shape.num_elements()
        rest = int(np.prod([d for d in c.tolist() if d != -1]))
        out._static_shape = TensorShape([n // rest if d == -1 and rest else int(d)
                                         for d in c.tolist()])
    return out


# ----- compositions: transpose, retain, eye --------------------------------------------------
def sparse_transpose(sp_input, perm=None, name: str | None = None) -> SparseTensor:
    """``tf.sparse.transpose``: dimensions permuted (reversed by default), entries
    reordered."""
    sp = convert_to_sparse(sp_input)
    with name_scope(name, "SparseTranspose"):
        if perm is None:
            rank = sp.shape.ndims
            perm = list(range(rank - 1, -1, -1)) if rank is not None else \
                A.range(A.size(sp.dense_shape) - 1, -1, -1)
        perm_t = convert_to_tensor(perm, dtype=_dt.int32) if not isinstance(perm, Tensor) \
            else perm
        ind = X.gather(sp.indices, perm_t, axis=1)
        shp = X.gather(sp.dense_shape, perm_t)
        out = sparse_reorder(SparseTensor(ind, sp.values, shp))
        if sp.shape.ndims is not None and not isinstance(perm, Tensor):
            out._static_shape = TensorShape([sp.shape[int(p)] for p in perm])
        return out


def sparse_retain(sp_input, to_retain) -> SparseTensor:
    """``tf.sparse.retain``: the entries whose ``to_retain`` flag (a bool vector, one per
    entry) is true."""
    sp = convert_to_sparse(sp_input)
    keep = convert_to_tensor(to_retain)
    if keep.shape.ndims not in (None, 1):
        raise ValueError(f"to_retain must be a vector, got shape {keep.shape}")
    n = sp.values.shape[0] if sp.values.shape.ndims == 1 else None
    if keep.shape.ndims == 1 and n is not None and keep.shape[0] not in (None, n):
        raise ValueError(f"to_retain has {keep.shape[0]} flags but the SparseTensor has {n} "
                         "entries")
    where = A.reshape(M.where(keep), [-1])
    out = SparseTensor(X.gather(sp.indices, where), X.gather(sp.values, where),
                       A.identity(sp.dense_shape))
    out._static_shape = sp.shape
    return out


def sparse_eye(num_rows, num_columns=None, dtype=_dt.float32,
               name: str | None = None) -> SparseTensor:
    """``tf.sparse.eye``: a two-dimensional SparseTensor with ones on the diagonal."""
    with name_scope(name, "eye"):
        rows = M.cast(convert_to_tensor(num_rows), _I64)
        cols = rows if num_columns is None else M.cast(convert_to_tensor(num_columns), _I64)
        diag = A.range(M.minimum(rows, cols), dtype=_I64)
        out = SparseTensor(A.stack([diag, diag], axis=1), A.ones_like(diag, dtype=dtype),
                           A.stack([rows, cols]))
        rc, cc = constant_value(rows), constant_value(cols)
        out._static_shape = TensorShape([None if rc is None else int(rc),
                                         None if cc is None else int(cc)])
        return out


def sparse_merge(sp_ids, sp_values, vocab_size, name: str | None = None,
                 already_sorted: bool = False) -> SparseTensor:
    """``tf.sparse_merge``: the ids of each row become the last index column (of size
    ``vocab_size``), the weights the values: ``out[..., ids[k]] = values[k]``."""
    ids_sp, vals_sp = convert_to_sparse(sp_ids, "sp_ids"), convert_to_sparse(sp_values,
                                                                             "sp_values")
    if isinstance(vocab_size, list | tuple):
        raise TypeError("sparse_merge takes one vocab_size (an int or a scalar tensor)")
    with name_scope(name, "SparseMerge"):
        ids = M.cast(ids_sp.values, _I64) if ids_sp.dtype != _I64 else ids_sp.values
        keep = ids_sp.indices[:, :-1]
        indices = A.concat([keep, A.expand_dims(ids, 1)], 1)
        size = M.cast(convert_to_tensor(vocab_size), _I64)
        shape = A.concat([ids_sp.dense_shape[:-1], A.reshape(size, [1])], 0)
        out = SparseTensor(indices, vals_sp.values, shape)
        if ids_sp.shape.ndims is not None and not isinstance(vocab_size, Tensor):
            out._static_shape = TensorShape(ids_sp.shape.as_list()[:-1] + [int(vocab_size)])
        return out if already_sorted else sparse_reorder(out)


def sparse_to_indicator(sp_input, vocab_size, name: str | None = None) -> Tensor:
    """``tf.sparse.to_indicator``: a dense bool tensor, ``out[..., id] = True`` for every id
    in each row of ``sp_input`` (an int SparseTensor of ids): the multi-hot encoding."""
    sp = convert_to_sparse(sp_input)
    with name_scope(name, "SparseToIndicator"):
        flags = SparseTensor(sp.indices, A.fill(A.shape(sp.values)[0:1], True), sp.dense_shape)
        merged = sparse_merge(sp, flags, vocab_size)
        return sparse_tensor_to_dense(merged, default_value=False, validate_indices=False)
