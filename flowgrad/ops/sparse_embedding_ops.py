"""Sparse segment reductions and embedding lookups of sparse id lists
(``tf.nn.embedding_lookup_sparse``, ``tf.nn.safe_embedding_lookup_sparse``)."""

from __future__ import annotations


from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import NodeSpec, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_extra_ops as AE
from flowgrad.ops import array_ops as A
from flowgrad.ops import indexing_ops as X
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.embedding_ops import embedding_lookup
from flowgrad.ops.indexing_ops import _scatter_add
from flowgrad.ops.sparse_layout_ops import sparse_fill_empty_rows
from flowgrad.ops.sparse_ops import sparse_reshape, sparse_retain
from flowgrad.ops.sparse_tensor import convert_to_sparse

_I64 = _dt.int64


# ----- SparseSegmentSum / Mean / SqrtN -------------------------------------------------------
def _segment_shape(node: NodeSpec):
    data, idx, seg = node.inputs
    for t, what in ((idx, "indices"), (seg, "segment_ids")):
        if not t.dtype.is_integer:
            node.fail(f"{what} must be int32 or int64, got {t.dtype.name}", TypeError)
        if t.shape.ndims not in (None, 1):
            node.fail(f"{what} must be a vector, got shape {t.shape}")
    if data.shape.ndims == 0:
        node.fail("data must have rank >= 1")
    if idx.shape.ndims == 1 and seg.shape.ndims == 1 and not idx.shape.is_compatible_with(
            seg.shape):
        node.fail(f"indices and segment_ids must have the same length, got {idx.shape} and "
                  f"{seg.shape}")
    rest = data.shape[1:] if data.shape.ndims is not None else None
    return (TensorShape([None]).concatenate(rest) if rest is not None else TensorShape(None),
            data.dtype)


def _segment_kernel(xp, data, indices, segment_ids, kind):
    n_rows = data.shape[0]
    if indices.shape[0] != segment_ids.shape[0]:
        raise ValueError(f"indices ({indices.shape[0]}) and segment_ids "
                         f"({segment_ids.shape[0]}) must have the same length")
    if indices.shape[0] and (int(indices.min()) < 0 or int(indices.max()) >= n_rows):
        raise ValueError(f"indices must be in [0, {n_rows}), got {indices.tolist()}")
    if segment_ids.shape[0] and bool((segment_ids[1:] < segment_ids[:-1]).any()):
        raise ValueError(f"segment_ids must be sorted, got {segment_ids.tolist()}")
    if segment_ids.shape[0] and int(segment_ids[0]) < 0:
        raise ValueError("segment_ids must be non-negative")
    n = int(segment_ids[-1]) + 1 if segment_ids.shape[0] else 0
    out = xp.zeros((n,) + data.shape[1:], dtype=data.dtype)
    _scatter_add(xp, out, segment_ids, xp.take(data, indices, axis=0))
    if kind != "sum" and n:
        count = xp.bincount(segment_ids, minlength=n).astype(data.dtype)
        scale = xp.maximum(count, 1) if kind == "mean" else xp.sqrt(xp.maximum(count, 1))
        out = out / scale.reshape((n,) + (1,) * (data.ndim - 1))
    return out.astype(data.dtype)


@op("SparseSegmentSum", shape=_segment_shape)
def _sparse_segment_sum(xp, data, indices, segment_ids):
    return _segment_kernel(xp, data, indices, segment_ids, "sum")


@op("SparseSegmentMean", shape=_segment_shape)
def _sparse_segment_mean(xp, data, indices, segment_ids):
    return _segment_kernel(xp, data, indices, segment_ids, "mean")


@op("SparseSegmentSqrtN", shape=_segment_shape)
def _sparse_segment_sqrt_n(xp, data, indices, segment_ids):
    return _segment_kernel(xp, data, indices, segment_ids, "sqrtn")


def _sparse_segment_grad(op_, dy):
    data, idx, seg = op_.inputs
    rows = X.gather(dy, seg)
    if op_.type != "SparseSegmentSum":
        n = A.shape(dy)[0]
        count = AE.unsorted_segment_sum(A.ones_like(seg, dtype=dy.dtype), seg, n)
        count = M.maximum(count, A.ones_like(count))
        scale = X.gather(count if op_.type == "SparseSegmentMean" else M.sqrt(count), seg)
        rows = rows / A.reshape(scale, A.concat([[-1], A.ones_like(A.shape(dy)[1:])], 0))
    return [AE.unsorted_segment_sum(rows, idx, A.shape(data)[0]), None, None]


_sparse_segment_sum.grad(_sparse_segment_grad)
_sparse_segment_mean.grad(_sparse_segment_grad)
_sparse_segment_sqrt_n.grad(_sparse_segment_grad)


def sparse_segment_sum(data, indices, segment_ids, name: str | None = None,
                       num_segments=None) -> Tensor:
    """``tf.sparse.segment_sum``: ``out[s] = sum of data[indices[k]] over k with
    segment_ids[k] == s`` (segment_ids sorted)."""
    return _with_segments(_sparse_segment_sum(data, indices, segment_ids,
                                              name=name or "SparseSegmentSum"), num_segments)


def sparse_segment_mean(data, indices, segment_ids, name: str | None = None,
                        num_segments=None) -> Tensor:
    """``tf.sparse.segment_mean``: like ``sparse_segment_sum``, divided by each segment's
    size."""
    return _with_segments(_sparse_segment_mean(data, indices, segment_ids,
                                               name=name or "SparseSegmentMean"), num_segments)


def sparse_segment_sqrt_n(data, indices, segment_ids, name: str | None = None,
                          num_segments=None) -> Tensor:
    """``tf.sparse.segment_sqrt_n``: like ``sparse_segment_sum``, divided by the square root
    of each segment's size."""
    return _with_segments(_sparse_segment_sqrt_n(data, indices, segment_ids,
                                                 name=name or "SparseSegmentSqrtN"),
                          num_segments)


def _with_segments(out: Tensor, num_segments) -> Tensor:
    """Pads (with zero rows) to ``num_segments`` rows when it is given."""
    if num_segments is None:
        return out
    n = M.cast(convert_to_tensor(num_segments), _dt.int32)
    extra = A.concat([A.reshape(n - A.shape(out)[0], [1]), A.shape(out)[1:]], 0)
    return A.concat([out, A.zeros(extra, dtype=out.dtype)], 0)


# ----- embedding lookups ---------------------------------------------------------------------
def embedding_lookup_sparse(params, sp_ids, sp_weights, partition_strategy: str = "mod",
                            name: str | None = None, combiner: str | None = None,
                            max_norm=None) -> Tensor:
    """``tf.nn.embedding_lookup_sparse``: for each row ``i`` of ``sp_ids``, the combination
    of ``params`` rows ``sp_ids.values`` in that row, weighted by ``sp_weights`` (or 1).

    ``combiner`` is ``"sum"``, ``"mean"`` (the default: weighted sum / sum of weights) or
    ``"sqrtn"`` (weighted sum / sqrt of the sum of squared weights).  The result has
    ``max(row) + 1`` rows; rows without ids are zeros.  The gradient to ``params`` is
    ``IndexedSlices``, as for ``embedding_lookup``.

    >>> ids = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], tf.constant([3, 1, 2], tf.int64), [2, 2])
    >>> tf.nn.embedding_lookup_sparse(table, ids, None, combiner="sum")   # [2, dim]
    """
    if combiner is None:
        combiner = "mean"
    if combiner not in ("mean", "sqrtn", "sum"):
        raise ValueError(f"combiner must be one of 'mean', 'sqrtn' or 'sum', got {combiner!r}")
    sp_ids = convert_to_sparse(sp_ids, "sp_ids")
    if not sp_ids.dtype.is_integer:
        raise TypeError(f"sp_ids must hold integer ids, got {sp_ids.dtype.name}")
    if sp_weights is not None:
        sp_weights = convert_to_sparse(sp_weights, "sp_weights")
        for part in ("values", "indices", "dense_shape"):
            a, b = getattr(sp_ids, part).shape, getattr(sp_weights, part).shape
            if not a.is_compatible_with(b):
                raise ValueError(f"embedding_lookup_sparse: sp_ids.{part} has shape {a} but "
                                 f"sp_weights.{part} has shape {b}; the weights must have "
                                 "one entry per id, at the same indices")
    with name_scope(name, "embedding_lookup_sparse"):
        segment_ids = M.cast(sp_ids.indices[:, 0], _dt.int32)
        ids, idx = AE.unique(sp_ids.values)
        emb = embedding_lookup(params, ids, partition_strategy=partition_strategy,
                               max_norm=max_norm)
        if sp_weights is None:
            fn = {"sum": sparse_segment_sum, "mean": sparse_segment_mean,
                  "sqrtn": sparse_segment_sqrt_n}[combiner]
            return fn(emb, idx, segment_ids)
        weights = sp_weights.values
        if weights.dtype != emb.dtype:
            weights = M.cast(weights, emb.dtype)
        emb = X.gather(emb, idx)
        w = A.reshape(weights, A.concat([A.shape(weights), A.ones_like(A.shape(emb)[1:])], 0))
        total = AE.segment_sum(emb * w, segment_ids)
        if combiner == "sum":
            return total
        if combiner == "mean":
            return M.div_no_nan(total, AE.segment_sum(w, segment_ids))
        # where no weight is nonzero the sum is 0 too: divide by 1 there, and keep sqrt (and
        # its gradient) away from 0
        sq = AE.segment_sum(M.square(w), segment_ids)
        some = M.greater(sq, A.zeros_like(sq))
        one = A.ones_like(sq)
        return total / M.where(some, M.sqrt(M.where(some, sq, one)), one)


def safe_embedding_lookup_sparse(embedding_weights, sparse_ids, sparse_weights=None,
                                 combiner: str = "mean", default_id=None,
                                 name: str | None = None, partition_strategy: str = "div",
                                 max_norm=None) -> Tensor:
    """``tf.nn.safe_embedding_lookup_sparse``: ``embedding_lookup_sparse`` that drops
    invalid ids (< 0) and non-positive weights, gives empty rows the ``default_id`` vector
    (zeros without one), and keeps every row of ``sparse_ids`` (of any rank >= 2: the
    result has shape ``dense_shape[:-1] + [dim]``)."""
    tables = list(embedding_weights) if isinstance(embedding_weights, list | tuple) else \
        [embedding_weights]
    if not tables:
        raise ValueError("Missing embedding_weights")
    sp_ids = convert_to_sparse(sparse_ids, "sparse_ids")
    sp_w = convert_to_sparse(sparse_weights, "sparse_weights") if sparse_weights is not None \
        else None
    with name_scope(name, "embedding_lookup"):
        original = sp_ids.dense_shape
        rank = sp_ids.shape.ndims
        batch = A.slice(original, [0], A.reshape(A.size(original) - 1, [1]))
        rows = R.reduce_prod(batch)
        new_shape = A.stack([rows, original[-1]])
        if rank is None or rank > 2:
            sp_ids = sparse_reshape(sp_ids, new_shape)
            if sp_w is not None:
                sp_w = sparse_reshape(sp_w, new_shape)
        keep = M.greater_equal(sp_ids.values, A.zeros_like(sp_ids.values))
        if sp_w is not None:
            keep = M.logical_and(keep, M.greater(sp_w.values, A.zeros_like(sp_w.values)))
            sp_w = sparse_retain(sp_w, keep)
        sp_ids = sparse_retain(sp_ids, keep)
        sp_ids, empty = sparse_fill_empty_rows(sp_ids, default_id or 0)
        if sp_w is not None:
            sp_w, _ = sparse_fill_empty_rows(sp_w, 1.0)
        out = embedding_lookup_sparse(tables, sp_ids, sp_w, combiner=combiner,
                                      partition_strategy=partition_strategy, max_norm=max_norm)
        if default_id is None:
            out = out * A.reshape(M.cast(M.logical_not(empty), out.dtype), [-1, 1])
        out_shape = A.concat([M.cast(batch, _dt.int32), A.shape(out)[1:]], 0)
        return A.reshape(out, out_shape)
