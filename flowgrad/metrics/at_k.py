"""Ranking metrics against sparse (class-id) labels: ``recall_at_k``, ``precision_at_k``,
their ``*_at_top_k`` forms that take the top-k class ids directly, and
``average_precision_at_k``.

Labels are ``[D1, ..., DN, num_labels]`` class ids (or ``[D1, ..., DN]``, one label each),
or a sparse tensor of them. As in TF1, each row's labels form a set: duplicates count once,
and every value of a dense tensor is a member (so ``-1`` padding counts towards recall's
false negatives but can never be a true positive).
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.metrics._common import broadcast_weights, collected, metric_variable
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S
from flowgrad.ops.indexing_ops import scatter_nd
from flowgrad.ops.nn_ops import top_k


def _at_k_name(name: str, k=None, class_id=None) -> str:
    name = f"{name}_at_{k}" if k is not None else f"{name}_at_k"
    return f"{name}_class{class_id}" if class_id is not None else name


# ----- labels as padded sets ------------------------------------------------------------
def _is_sparse(x) -> bool:
    return hasattr(x, "indices") and hasattr(x, "values") and hasattr(x, "dense_shape")


def _labels_as_set(labels, predictions_idx: Tensor) -> tuple[Tensor, Tensor]:
    """``(ids, valid)``: int64 ids ``[D1, ..., DN, n]`` with the rank of ``predictions_idx``
    and a mask of the entries that are set members (all of a dense tensor's)."""
    rank = predictions_idx.shape.ndims
    if _is_sparse(labels):
        shape = labels.dense_shape
        if isinstance(labels.indices, np.ndarray) or isinstance(labels.indices, list):
            idx = np.asarray(labels.indices, dtype=np.int64)
            dense_shape = [int(d) for d in np.asarray(shape)]
            ids = np.zeros(dense_shape, np.int64)
            valid = np.zeros(dense_shape, bool)
            ids[tuple(idx.T)] = np.asarray(labels.values, dtype=np.int64)
            valid[tuple(idx.T)] = True
            ids, valid = convert_to_tensor(ids), convert_to_tensor(valid)
        else:
            shape = M.cast(convert_to_tensor(shape), _dt.int64)
            idx = M.cast(convert_to_tensor(labels.indices), _dt.int64)
            vals = M.cast(convert_to_tensor(labels.values), _dt.int64)
            ids = scatter_nd(idx, vals, shape)
            valid = M.greater(scatter_nd(idx, A.ones_like(vals), shape), 0)
        lrank = ids.shape.ndims
        if lrank is not None and rank is not None and lrank == rank - 1:
            ids, valid = A.expand_dims(ids, -1), A.expand_dims(valid, -1)
        return ids, valid
    ids = M.cast(convert_to_tensor(labels), _dt.int64)
    lrank = ids.shape.ndims
    if lrank is not None and rank is not None:
        if lrank == rank - 1:
            ids = A.expand_dims(ids, -1)
        elif lrank != rank:
            raise ValueError(f"Unexpected labels shape {ids.shape} for predictions shape "
                             f"{predictions_idx.shape}. Predictions rank should be the same "
                             "rank as labels rank or labels rank plus one.")
    return ids, M.equal(ids, ids)


def _first_occurrences(ids: Tensor, valid: Tensor) -> Tensor:
    """Mask of the valid entries whose value no earlier valid entry of the row has."""
    n = ids.shape.as_tuple()[-1] if ids.shape.ndims else None
    if n is not None:
        earlier = convert_to_tensor(np.tri(n, n, -1, dtype=bool))      # [i, j]: j < i
    else:
        r = A.range(A.shape(ids)[-1])
        earlier = M.less(A.expand_dims(r, 0), A.expand_dims(r, 1))
    same = M.logical_and(M.equal(A.expand_dims(ids, -1), A.expand_dims(ids, -2)),
                         A.expand_dims(valid, -2))
    seen = R.reduce_any(M.logical_and(same, earlier), axis=-1)
    return M.logical_and(valid, M.logical_not(seen))


def _set_counts(pred: Tensor, labels: Tensor, valid: Tensor, class_id=None):
    """Per row: ``|pred & labels|``, ``|pred - labels|``, ``|labels - pred|`` (float64)."""
    pred_valid = M.equal(pred, pred)      # all true
    if class_id is not None:
        cid = convert_to_tensor(int(class_id), dtype=_dt.int64)
        in_pred = R.reduce_any(M.equal(pred, cid), axis=-1)
        in_labels = R.reduce_any(M.logical_and(M.equal(labels, cid), valid), axis=-1)
        counts = (M.logical_and(in_pred, in_labels),
                  M.logical_and(in_pred, M.logical_not(in_labels)),
                  M.logical_and(in_labels, M.logical_not(in_pred)))
        return [M.cast(c, _dt.float64) for c in counts]
    match = M.logical_and(M.equal(A.expand_dims(pred, -1), A.expand_dims(labels, -2)),
                          A.expand_dims(valid, -2))                  # [..., k, n]
    pred_hit = R.reduce_any(match, axis=-1)
    label_hit = R.reduce_any(match, axis=-2)
    first_pred = _first_occurrences(pred, pred_valid)
    first_label = _first_occurrences(labels, valid)

    def count(mask):
        return R.reduce_sum(M.cast(mask, _dt.float64), axis=-1)
    return (count(M.logical_and(first_pred, pred_hit)),
            count(M.logical_and(first_pred, M.logical_not(pred_hit))),
            count(M.logical_and(first_label, M.logical_not(label_hit))))


def _weighted(metric: str, counts: Tensor, weights) -> Tensor:
    if weights is None:
        return counts
    w = M.cast(convert_to_tensor(weights), _dt.float64)
    return M.multiply(counts, broadcast_weights(metric, w, counts))


def _accumulate(kind: str, k, class_id, batch: Tensor) -> tuple[Tensor, Tensor]:
    with name_scope(None, _at_k_name(kind, k, class_id=class_id)) as scope:
        var = metric_variable([], _dt.float64, name=scope)
        return var.value(), S.assign_add(var, R.reduce_sum(batch), name="update")


def _top_k_ids(predictions_idx) -> Tensor:
    ids = convert_to_tensor(predictions_idx)
    if not ids.dtype.is_integer:
        raise TypeError(f"predictions_idx must hold integer class ids, got {ids.dtype.name}.")
    if ids.shape.ndims == 0:
        raise ValueError("predictions_idx must have rank at least 1 ([..., k]).")
    return M.cast(ids, _dt.int64)


# ----- recall / precision ---------------------------------------------------------------
def _at_top_k(kind: str, labels, predictions_idx, k, class_id, weights, metrics_collections,
              updates_collections, name) -> tuple[Tensor, Tensor]:
    """``tp / (tp + other)`` streamed over the top-k ids, ``other`` the false positives
    (``kind`` "precision") or the false negatives ("recall")."""
    metric = f"{kind}_at_top_k"
    other_kind = "false_positive" if kind == "precision" else "false_negative"
    with name_scope(name, _at_k_name(kind, k, class_id=class_id)) as scope:
        ids = _top_k_ids(predictions_idx)
        lab, valid = _labels_as_set(labels, ids)
        tp_b, fp_b, fn_b = _set_counts(ids, lab, valid, class_id)
        other_b = fp_b if kind == "precision" else fn_b
        tp, tp_up = _accumulate("true_positive", k, class_id, _weighted(metric, tp_b, weights))
        other, other_up = _accumulate(other_kind, k, class_id,
                                      _weighted(metric, other_b, weights))
        value = M.divide(tp, M.add(tp, other), name=scope)
        update = M.divide(tp_up, M.add(tp_up, other_up), name="update")
        return collected(metrics_collections, updates_collections, value, update)


def recall_at_top_k(labels, predictions_idx, k=None, class_id=None, weights=None,
                    metrics_collections=None, updates_collections=None,
                    name=None) -> tuple[Tensor, Tensor]:
    """Recall of the top-k class ids ``predictions_idx`` ``[..., k]`` against the labels."""
    return _at_top_k("recall", labels, predictions_idx, k, class_id, weights,
                     metrics_collections, updates_collections, name)


def precision_at_top_k(labels, predictions_idx, k=None, class_id=None, weights=None,
                       metrics_collections=None, updates_collections=None,
                       name=None) -> tuple[Tensor, Tensor]:
    """Precision of the top-k class ids ``predictions_idx`` ``[..., k]``."""
    return _at_top_k("precision", labels, predictions_idx, k, class_id, weights,
                     metrics_collections, updates_collections, name)


def _check_k(k) -> int:
    if int(k) < 1:
        raise ValueError(f"Invalid k={k}. `k` should be >= 1.")
    return int(k)


def _at_k(kind: str, labels, predictions, k, class_id, weights, metrics_collections,
          updates_collections, name) -> tuple[Tensor, Tensor]:
    """``kind``@k: ``_at_top_k`` of the ``k`` highest-scoring classes of ``predictions``."""
    k = _check_k(k)
    with name_scope(name, _at_k_name(kind, k, class_id=class_id)) as scope:
        _, idx = top_k(predictions, k)
        return _at_top_k(kind, labels, idx, k, class_id, weights, metrics_collections,
                         updates_collections, scope)


def recall_at_k(labels, predictions, k, class_id=None, weights=None, metrics_collections=None,
                updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """Recall@k: how many of each row's label classes are among its ``k`` highest-scoring
    classes (``class_id``: only that class). Returns float64 ``(recall, update_op)``;
    NaN while nothing was counted."""
    return _at_k("recall", labels, predictions, k, class_id, weights, metrics_collections,
                 updates_collections, name)


def precision_at_k(labels, predictions, k, class_id=None, weights=None,
                   metrics_collections=None, updates_collections=None,
                   name=None) -> tuple[Tensor, Tensor]:
    """Precision@k: how many of each row's ``k`` highest-scoring classes are labels.
    Returns float64 ``(precision, update_op)``; NaN while nothing was counted."""
    return _at_k("precision", labels, predictions, k, class_id, weights, metrics_collections,
                 updates_collections, name)


sparse_precision_at_k = precision_at_k


# ----- average precision ----------------------------------------------------------------
def _average_precision(labels, valid, ids: Tensor, k: int, dense: bool) -> Tensor:
    """Per row: ``sum_i P@i * rel_i / min(#labels, k)`` over the ``k`` predictions."""
    nonneg = M.logical_and(valid, M.greater_equal(labels, M.cast(0, _dt.int64)))
    match = M.logical_and(M.equal(A.expand_dims(ids, -1), A.expand_dims(labels, -2)),
                          A.expand_dims(nonneg, -2))
    relevant = M.cast(R.reduce_any(match, axis=-1), _dt.float64)      # [..., k]
    tp_per_k = R.cumsum(relevant, axis=-1)
    rank = convert_to_tensor(np.arange(1, k + 1, dtype=np.float64))
    precision_sum = R.reduce_sum(M.multiply(M.divide(tp_per_k, rank), relevant), axis=-1)
    # TF1 counts a dense row's non-negative entries, a sparse row's distinct values
    members = nonneg if dense else _first_occurrences(labels, nonneg)
    num_labels = R.reduce_sum(M.cast(members, _dt.float64), axis=-1)
    return M.divide(precision_sum, M.minimum(num_labels, float(k)))


def average_precision_at_k(labels, predictions, k, weights=None, metrics_collections=None,
                           updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """Mean over rows of the average precision of the ``k`` highest-scoring classes
    (labels outside ``[0, num_classes)`` are ignored). float64 ``(value, update_op)``."""
    k = _check_k(k)
    with name_scope(name, _at_k_name("average_precision", k)) as scope:
        predictions = convert_to_tensor(predictions)
        _, idx = top_k(predictions, k)
        ids = M.cast(idx, _dt.int64)
        dense = not _is_sparse(labels)
        lab, valid = _labels_as_set(labels, ids)
        num_classes = M.cast(A.shape(predictions)[-1], _dt.int64)
        in_range = M.less(lab, num_classes)
        lab = M.where(in_range, lab, M.multiply(A.ones_like(lab), M.cast(-1, _dt.int64)))
        ap = _average_precision(lab, valid, ids, k, dense)
        if weights is not None:
            w = broadcast_weights("average_precision_at_k",
                                  M.cast(convert_to_tensor(weights), _dt.float64), ap)
            ap = M.multiply(ap, w)
        with name_scope(None, "max") as max_scope:
            max_var = metric_variable([], _dt.float64, name=max_scope)
            batch_max = (M.cast(A.size(ap), _dt.float64) if weights is None
                         else R.reduce_sum(w, name="batch_max"))
            max_up = S.assign_add(max_var, batch_max, name="update")
        with name_scope(None, "total") as total_scope:
            total_var = metric_variable([], _dt.float64, name=total_scope)
            total_up = S.assign_add(total_var, R.reduce_sum(ap, name="batch_total"),
                                    name="update")
        value = M.div_no_nan(total_var.value(), max_var.value(), name="mean")
        update = M.div_no_nan(total_up, max_up, name=scope)
        return collected(metrics_collections, updates_collections, value, update)


sparse_average_precision_at_k = average_precision_at_k
