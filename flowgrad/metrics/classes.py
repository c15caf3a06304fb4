"""Multi-class metrics over a streaming confusion matrix or per-class counts:
``mean_iou`` and ``mean_per_class_accuracy``."""

from __future__ import annotations

import operator

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.metrics._common import check_compatible, collected, metric_variable
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S
from flowgrad.ops.array_extra_ops import unsorted_segment_sum
from flowgrad.ops.diag_ops import diag_part
from flowgrad.ops.partition_ops import confusion_matrix
from flowgrad.ops.variables import variable_scope


def _flat(x: Tensor) -> Tensor:
    return A.reshape(x, [-1]) if x.shape.ndims is None or x.shape.ndims > 1 else x


def _class_inputs(metric: str, labels, predictions, weights, num_classes):
    try:
        num_classes = operator.index(num_classes)
    except TypeError:
        num_classes = None
    if num_classes is None or num_classes < 1:
        raise ValueError(f"tf.metrics.{metric}: num_classes must be a positive Python int "
                         "(it sizes the accumulators).")
    labels = convert_to_tensor(labels)
    predictions = convert_to_tensor(predictions)
    check_compatible(metric, labels, predictions)
    labels = _flat(M.cast(labels, _dt.int64))
    predictions = _flat(M.cast(predictions, _dt.int64))
    if weights is not None:
        weights = _flat(convert_to_tensor(weights))
    return labels, predictions, weights, num_classes


def mean_iou(labels, predictions, num_classes, weights=None, metrics_collections=None,
             updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """Mean intersection-over-union over the classes seen in labels or predictions.

    The update op returns the accumulated ``[num_classes, num_classes]`` confusion matrix
    (float64; rows are labels), as in TF1.
    """
    with variable_scope(name, "mean_iou", (predictions, labels, weights)):
        labels, predictions, weights, num_classes = _class_inputs(
            "mean_iou", labels, predictions, weights, num_classes)
        total_cm = metric_variable([num_classes, num_classes], _dt.float64,
                                   name="total_confusion_matrix")
        current = confusion_matrix(labels, predictions, num_classes, weights=weights,
                                   dtype=_dt.float64)
        update_op = S.assign_add(total_cm, current)
        cm = total_cm.value()
        col_sums = M.cast(R.reduce_sum(cm, 0), _dt.float32)
        row_sums = M.cast(R.reduce_sum(cm, 1), _dt.float32)
        diag = M.cast(diag_part(cm), _dt.float32)
        denom = M.subtract(M.add(col_sums, row_sums), diag)
        num_valid = R.reduce_sum(M.cast(M.not_equal(denom, 0.0), _dt.float32))
        denom = M.where(M.greater(denom, 0.0), denom, A.ones_like(denom))
        iou = M.divide(diag, denom)
        value = M.where(M.greater(num_valid, 0.0),
                        M.div_no_nan(R.reduce_sum(iou, name="mean_iou"), num_valid),
                        convert_to_tensor(0.0), name="value")
        return collected(metrics_collections, updates_collections, value, update_op)


def mean_per_class_accuracy(labels, predictions, num_classes, weights=None,
                            metrics_collections=None, updates_collections=None,
                            name=None) -> tuple[Tensor, Tensor]:
    """The mean over classes of each class's accuracy (weighted hits / weighted labels).

    The update op returns the per-class accuracies ``[num_classes]``, as in TF1.
    """
    with variable_scope(name, "mean_accuracy", (predictions, labels, weights)):
        labels, predictions, weights, num_classes = _class_inputs(
            "mean_per_class_accuracy", labels, predictions, weights, num_classes)
        total = metric_variable([num_classes], _dt.float32, name="total")
        count = metric_variable([num_classes], _dt.float32, name="count")
        ones = M.cast(A.ones_like(labels), _dt.float32)
        is_correct = M.cast(M.equal(predictions, labels), _dt.float32)
        if weights is not None:
            w = M.cast(weights, _dt.float32)
            is_correct = M.multiply(is_correct, w)
            ones = M.multiply(ones, w)
        update_total = S.assign_add(total, unsorted_segment_sum(ones, labels, num_classes))
        update_count = S.assign_add(count, unsorted_segment_sum(is_correct, labels,
                                                                num_classes))
        per_class = M.div_no_nan(count.value(), M.maximum(total.value(), 0.0))
        value = R.reduce_mean(per_class, name="mean_accuracy")
        update_op = M.div_no_nan(update_count, M.maximum(update_total, 0.0), name="update_op")
        return collected(metrics_collections, updates_collections, value, update_op)
