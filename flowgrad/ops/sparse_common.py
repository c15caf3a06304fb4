"""Kernel and shape-rule helpers shared by the sparse op modules.

A SparseTensor's entries are located by their row-major linear index (``_linear``), which
turns ordering, matching and grouping of index tuples into 1-D sorts and searches.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.registry import NodeSpec
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops.sparse_tensor import SparseTensor

_I64 = _dt.int64


def _dims(shape) -> tuple[int, ...]:
    """A dense_shape array as Python ints (a device array is read back once)."""
    return tuple(int(d) for d in shape.reshape(-1).tolist())


def _strides(dims) -> list[int]:
    out, s = [], 1
    for d in reversed(dims):
        out.append(s)
        s *= max(int(d), 1)
    return out[::-1]


def _linear(xp, indices, dims):
    """Row-major linear index of each row of ``indices`` (int64)."""
    lin = xp.zeros(indices.shape[0], dtype=np.int64)
    for k, s in enumerate(_strides(dims)):
        lin = lin + indices[:, k].astype(np.int64) * s
    return lin


def _unravel(xp, lin, dims):
    cols = [(lin // s) % max(int(d), 1) for s, d in zip(_strides(dims), dims)]
    if not cols:
        return xp.zeros((lin.shape[0], 0), dtype=np.int64)
    return xp.stack(cols, axis=1).astype(np.int64)


def _check_bounds(indices, dims, what: str) -> None:
    if indices.shape[0] == 0:
        return
    if all(int(indices[:, k].min()) >= 0 and int(indices[:, k].max()) < d
           for k, d in enumerate(dims)):       # the common case: two reductions a column
        return
    for k, d in enumerate(dims):
        col = indices[:, k]
        wrong = (col < 0) | (col >= d)
        if bool(wrong.any()):
            i = int(wrong.nonzero()[0][0])
            bad = [int(v) for v in indices[i].tolist()]
            raise ValueError(f"{what}: indices[{i}] = {bad} is out of bounds: need 0 <= index "
                             f"< {list(dims)}")


def _check_order(xp, indices, dims, what: str) -> None:
    if indices.shape[0] < 2:
        return
    lin = _linear(xp, indices, dims)
    step = lin[1:] - lin[:-1]
    if bool((step <= 0).any()):
        i = int((step <= 0).nonzero()[0][0]) + 1
        how = "repeated" if int(step[i - 1]) == 0 else "out of order"
        raise ValueError(f"{what}: indices[{i}] = {[int(v) for v in indices[i].tolist()]} is "
                         f"{how}. Many sparse ops require sorted indices: use "
                         "tf.sparse.reorder to create a correctly ordered copy.")


# ----- shape-rule helpers --------------------------------------------------------------------
def _check_sparse(node: NodeSpec, i: int, j: int, k: int, what: str = "sparse input"):
    """Checks the (indices, values, shape) inputs at positions i, j, k; returns the rank."""
    ind, val, shp = node.inputs[i], node.inputs[j] if j is not None else None, node.inputs[k]
    if ind.dtype != _I64 or shp.dtype != _I64:
        node.fail(f"the {what}'s indices and dense_shape must be int64, got "
                  f"{ind.dtype.name} and {shp.dtype.name}", TypeError)
    if ind.shape.ndims not in (None, 2):
        node.fail(f"the {what}'s indices must be a matrix [N, rank], got shape {ind.shape}")
    if val is not None and val.shape.ndims not in (None, 1):
        node.fail(f"the {what}'s values must be a vector, got shape {val.shape}")
    if shp.shape.ndims not in (None, 1):
        node.fail(f"the {what}'s dense_shape must be a vector, got shape {shp.shape}")
    rank = shp.shape[0] if shp.shape.ndims == 1 else None
    if rank is None and ind.shape.ndims == 2:
        rank = ind.shape[1]
    return rank


def _sparse_out(rank, dtype) -> list:
    """Shape-rule outputs of a SparseTensor: indices, values, dense_shape."""
    return [(TensorShape([None, rank]), _I64), (TensorShape([None]), dtype),
            (TensorShape([rank]), _I64)]


def _sp(parts) -> SparseTensor:
    return SparseTensor(parts[0], parts[1], parts[2])


def _host_i64(xp, values):
    return xp.asarray(np.asarray(values, dtype=np.int64))


def match_rows(xp, keys, table):
    """For each row of ``keys``, its row position in ``table`` (rows of both are index
    tuples), or -1 where ``table`` has no such row."""
    if table.shape[0] == 0 or keys.shape[0] == 0:
        return xp.full(keys.shape[0], -1, dtype=np.int64)
    both = xp.concatenate([keys, table], axis=0)
    dims = [int(v) + 1 for v in (both.max(axis=0) - xp.minimum(both.min(axis=0), 0)
                                 ).tolist()]
    low = xp.minimum(both.min(axis=0), 0)
    lk, lt = _linear(xp, keys - low, dims), _linear(xp, table - low, dims)
    order = xp.argsort(lt, kind="stable")
    sorted_t = lt[order]
    pos = xp.minimum(xp.searchsorted(sorted_t, lk), sorted_t.shape[0] - 1)
    found = sorted_t[pos] == lk
    return xp.where(found, order[pos], -1).astype(np.int64)


def take_matched(xp, values, pos):
    """``values[pos]``, with 0 where ``pos`` is -1 (no match)."""
    if values.shape[0] == 0:
        return xp.zeros(pos.shape[0], dtype=values.dtype)
    picked = values[xp.maximum(pos, 0)]
    return xp.where(pos >= 0, picked, xp.zeros_like(picked))
