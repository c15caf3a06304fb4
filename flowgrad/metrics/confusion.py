"""Counting metrics: true/false positives/negatives (plain and at thresholds), precision,
recall, their threshold curves, AUC and sensitivity/specificity trade-offs."""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, control_dependencies
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.metrics._common import (add_to_collections, broadcast_weights, collected,
                                      metric_variable, prepare, read)
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S
from flowgrad.ops.check_ops import assert_greater_equal, assert_less_equal
from flowgrad.ops.indexing_ops import gather
from flowgrad.ops.variables import variable_scope
from flowgrad.platform import tf_logging


# ----- plain counts -------------------------------------------------------------------
def _count_condition(metric: str, values: Tensor, weights, metrics_collections,
                     updates_collections) -> tuple[Tensor, Tensor]:
    """Sums the weights where the boolean ``values`` hold."""
    count = metric_variable([], _dt.float32, name="count")
    values = M.cast(values, _dt.float32)
    if weights is not None:
        weights = M.cast(convert_to_tensor(weights), _dt.float32)
        values = M.multiply(values, broadcast_weights(metric, weights, values))
    value = read(count, metrics_collections)
    update_op = S.assign_add(count, R.reduce_sum(values))
    add_to_collections(updates_collections, update_op)
    return value, update_op


def _bool_inputs(metric: str, labels, predictions, weights):
    predictions = M.cast(convert_to_tensor(predictions), _dt.bool_)
    labels = M.cast(convert_to_tensor(labels), _dt.bool_)
    return prepare(metric, predictions, labels, weights)


def _counter(metric: str, label_value: bool, prediction_value: bool):
    def counter(labels, predictions, weights=None, metrics_collections=None,
                updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
        with variable_scope(name, metric, (predictions, labels, weights)):
            predictions, labels, weights = _bool_inputs(metric, labels, predictions, weights)
            hit = M.logical_and(labels if label_value else M.logical_not(labels),
                                predictions if prediction_value else
                                M.logical_not(predictions))
            return _count_condition(metric, hit, weights, metrics_collections,
                                    updates_collections)
    counter.__name__ = counter.__qualname__ = metric
    counter.__doc__ = (f"The (weighted) number of {metric.replace('_', ' ')}: labels "
                       f"{label_value}, predictions {prediction_value} (both cast to bool).")
    return counter


true_positives = _counter("true_positives", True, True)
false_positives = _counter("false_positives", False, True)
true_negatives = _counter("true_negatives", False, False)
false_negatives = _counter("false_negatives", True, False)


def _streamed_fraction(metric: str, other, labels, predictions, weights, metrics_collections,
                       updates_collections, name) -> tuple[Tensor, Tensor]:
    """``tp / (tp + other)`` over the stream, ``other`` a counter (false positives or
    negatives); 0 while the denominator is 0."""
    with variable_scope(name, metric, (predictions, labels, weights)):
        predictions, labels, weights = _bool_inputs(metric, labels, predictions, weights)
        tp, tp_up = true_positives(labels, predictions, weights)
        n, n_up = other(labels, predictions, weights)
        value = _safe_fraction(tp, n, "value")
        update_op = _safe_fraction(tp_up, n_up, "update_op")
        return collected(metrics_collections, updates_collections, value, update_op)


def precision(labels, predictions, weights=None, metrics_collections=None,
              updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """``tp / (tp + fp)`` over the stream (0 while nothing was predicted positive)."""
    return _streamed_fraction("precision", false_positives, labels, predictions, weights,
                              metrics_collections, updates_collections, name)


def recall(labels, predictions, weights=None, metrics_collections=None,
           updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """``tp / (tp + fn)`` over the stream (0 while no label was positive)."""
    return _streamed_fraction("recall", false_negatives, labels, predictions, weights,
                              metrics_collections, updates_collections, name)


def _safe_fraction(a: Tensor, b: Tensor, name: str) -> Tensor:
    """``a / (a + b)`` where ``a + b > 0``, else 0."""
    denom = M.add(a, b)
    positive = M.greater(denom, 0.0)
    safe = M.where(positive, denom, A.ones_like(denom))
    return M.where(positive, M.divide(a, safe), A.zeros_like(denom), name=name)


# ----- counts at thresholds -----------------------------------------------------------
_ALL = ("tp", "fn", "tn", "fp")
_VAR_NAMES = {"tp": "true_positives", "fn": "false_negatives", "tn": "true_negatives",
              "fp": "false_positives"}


def _confusion_at_thresholds(metric: str, labels, predictions, thresholds, weights=None,
                             includes=_ALL):
    """Variables ``[len(thresholds)]`` counting, per threshold, the (weighted) predictions
    above it (positive) or at most it (negative) against boolean labels; and their updates."""
    for key in includes:
        if key not in _ALL:
            raise ValueError(f"Invalid key: {key}")
    predictions = M.cast(convert_to_tensor(predictions), _dt.float32)
    with control_dependencies([
            assert_greater_equal(predictions, 0.0, message="predictions must be in [0, 1]"),
            assert_less_equal(predictions, 1.0, message="predictions must be in [0, 1]")]):
        predictions, labels, weights = prepare(
            metric, A.identity(predictions), M.cast(convert_to_tensor(labels), _dt.bool_),
            weights)
    n = len(thresholds)
    thresh = convert_to_tensor([[float(t)] for t in thresholds], dtype=_dt.float32)
    pred_row = A.reshape(predictions, [1, -1])
    label_row = A.reshape(labels, [1, -1])
    pred_pos = M.greater(pred_row, thresh)                   # [n, N]
    w_row = None
    if weights is not None:
        w = broadcast_weights(metric, M.cast(weights, _dt.float32), predictions)
        w_row = A.reshape(w, [1, -1])
    masks = {"tp": (label_row, pred_pos), "fn": (label_row, M.logical_not(pred_pos)),
             "tn": (M.logical_not(label_row), M.logical_not(pred_pos)),
             "fp": (M.logical_not(label_row), pred_pos)}
    values, updates = {}, {}
    for key in includes:
        var = metric_variable([n], _dt.float32, name=_VAR_NAMES[key])
        hit = M.cast(M.logical_and(*masks[key]), _dt.float32)
        if w_row is not None:
            hit = M.multiply(hit, w_row)
        updates[key] = S.assign_add(var, R.reduce_sum(hit, axis=1))
        values[key] = var.value()
    return values, updates


def _threshold_counter(metric: str, key: str):
    def counter(labels, predictions, thresholds, weights=None, metrics_collections=None,
                updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
        with variable_scope(name, metric, (predictions, labels, weights)):
            values, updates = _confusion_at_thresholds(
                f"{metric}_at_thresholds", labels, predictions, thresholds, weights, (key,))
            value = A.identity(values[key])
            return collected(metrics_collections, updates_collections, value, updates[key])
    counter.__name__ = counter.__qualname__ = f"{metric}_at_thresholds"
    counter.__doc__ = (f"{metric.replace('_', ' ').capitalize()} at each of ``thresholds``: a "
                       "float tensor ``[len(thresholds)]`` (predictions in [0, 1]).")
    return counter


true_positives_at_thresholds = _threshold_counter("true_positives", "tp")
false_positives_at_thresholds = _threshold_counter("false_positives", "fp")
true_negatives_at_thresholds = _threshold_counter("true_negatives", "tn")
false_negatives_at_thresholds = _threshold_counter("false_negatives", "fn")


def _fraction_at_thresholds(metric: str, other: str, labels, predictions, thresholds, weights,
                            metrics_collections, updates_collections,
                            name) -> tuple[Tensor, Tensor]:
    """``tp / (tp + other + 1e-7)`` at each threshold, ``other`` "fp" or "fn"; the ops are
    named ``<kind>_value`` and ``<kind>_update_op`` (``kind`` the metric's first word)."""
    kind = metric.split("_", 1)[0]
    with variable_scope(name, metric, (predictions, labels, weights)):
        values, updates = _confusion_at_thresholds(metric, labels, predictions, thresholds,
                                                   weights, ("tp", other))

        def compute(counts, suffix):
            tp = counts["tp"]
            return M.divide(tp, M.add(M.add(tp, 1e-7), counts[other]),
                            name=f"{kind}_{suffix}")
        return collected(metrics_collections, updates_collections, compute(values, "value"),
                         compute(updates, "update_op"))


def precision_at_thresholds(labels, predictions, thresholds, weights=None,
                            metrics_collections=None, updates_collections=None,
                            name=None) -> tuple[Tensor, Tensor]:
    """``tp / (tp + fp + 1e-7)`` at each threshold."""
    return _fraction_at_thresholds("precision_at_thresholds", "fp", labels, predictions,
                                   thresholds, weights, metrics_collections,
                                   updates_collections, name)


def recall_at_thresholds(labels, predictions, thresholds, weights=None,
                         metrics_collections=None, updates_collections=None,
                         name=None) -> tuple[Tensor, Tensor]:
    """``tp / (tp + fn + 1e-7)`` at each threshold."""
    return _fraction_at_thresholds("recall_at_thresholds", "fn", labels, predictions,
                                   thresholds, weights, metrics_collections,
                                   updates_collections, name)


# ----- AUC --------------------------------------------------------------------------
_KEPSILON = 1e-7


def _uniform_thresholds(num_thresholds: int, top: float) -> list[float]:
    """``num_thresholds - 2`` evenly spaced inner thresholds between -eps and ``top``."""
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [0.0 - _KEPSILON] + inner + [top]


def _interpolate_pr_auc(tp, fp, fn, n: int) -> Tensor:
    """PR-AUC with precision interpolated as TP and P = TP + FP vary linearly between
    thresholds (Davis & Goadrich, 2006): closed form per interval."""
    dtp = M.subtract(tp[:n - 1], tp[1:])
    p = M.add(tp, fp)
    p_lo, p_hi = p[:n - 1], p[1:]
    slope = M.div_no_nan(dtp, M.maximum(M.subtract(p_lo, p_hi), 0.0), name="prec_slope")
    intercept = M.subtract(tp[1:], M.multiply(slope, p_hi))
    both = M.logical_and(M.greater(p_lo, 0.0), M.greater(p_hi, 0.0))
    ratio = M.where(both, M.div_no_nan(p_lo, M.maximum(p_hi, 0.0), name="recall_relative_ratio"),
                    A.ones_like(p_hi))
    area = M.div_no_nan(M.multiply(slope, M.add(dtp, M.multiply(intercept, M.log(ratio)))),
                        M.maximum(M.add(tp[1:], fn[1:]), 0.0), name="pr_auc_increment")
    return R.reduce_sum(area, name="interpolate_pr_auc")


def _compute_auc(tp, fn, tn, fp, n: int, curve: str, summation_method: str,
                 name: str) -> Tensor:
    eps = 1.0e-6
    if curve == "PR" and summation_method == "careful_interpolation":
        return A.identity(_interpolate_pr_auc(tp, fp, fn, n), name=name)
    rec = M.divide(M.add(tp, eps), M.add(M.add(tp, fn), eps))
    if curve == "ROC":
        x, y = M.divide(fp, M.add(M.add(fp, tn), eps)), rec
    else:
        x, y = rec, M.divide(M.add(tp, eps), M.add(M.add(tp, fp), eps))
    dx = M.subtract(x[:n - 1], x[1:])
    y0, y1 = y[:n - 1], y[1:]
    if summation_method in ("trapezoidal", "careful_interpolation"):
        height = M.divide(M.add(y0, y1), 2.0)
    elif summation_method == "minoring":
        height = M.minimum(y0, y1)
    else:
        height = M.maximum(y0, y1)
    return R.reduce_sum(M.multiply(dx, height), name=name)


def auc(labels, predictions, weights=None, num_thresholds=200, metrics_collections=None,
        updates_collections=None, curve="ROC", name=None, summation_method="trapezoidal",
        thresholds=None) -> tuple[Tensor, Tensor]:
    """The area under the ROC or PR curve, a Riemann sum over ``num_thresholds`` thresholds.

    ``summation_method``: 'trapezoidal' (default), 'careful_interpolation' (trapezoids for
    ROC; for PR, precision interpolated through TP and TP + FP), 'minoring' (the lower of
    each interval's two heights) or 'majoring' (the higher). ``thresholds`` replaces the
    evenly spaced ones; -1e-7 and 1 + 1e-7 are always added at the ends.
    """
    with variable_scope(name, "auc", (labels, predictions, weights)):
        if curve not in ("ROC", "PR"):
            raise ValueError(f"Curve must be either ROC or PR. Curve {curve} is unknown.")
        if summation_method not in ("trapezoidal", "careful_interpolation", "minoring",
                                    "majoring"):
            raise ValueError(f"Invalid summation_method: {summation_method} summation_method "
                             "should be 'trapezoidal', 'careful_interpolation', 'minoring', "
                             "or 'majoring'.")
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            thresholds = [0.0 - _KEPSILON] + inner + [1.0 + _KEPSILON]
        else:
            if num_thresholds < 2:
                raise ValueError(f"tf.metrics.auc: num_thresholds must be at least 2, got "
                                 f"{num_thresholds}.")
            thresholds = _uniform_thresholds(num_thresholds, 1.0 + _KEPSILON)
        n = len(thresholds)
        if curve == "PR" and summation_method == "trapezoidal":
            tf_logging.warning("Trapezoidal rule is known to produce incorrect PR-AUCs; please "
                         "switch to \"careful_interpolation\" instead.")
        values, updates = _confusion_at_thresholds("auc", labels, predictions, thresholds,
                                                   weights)
        value = _compute_auc(values["tp"], values["fn"], values["tn"], values["fp"], n, curve,
                             summation_method, "value")
        update_op = _compute_auc(updates["tp"], updates["fn"], updates["tn"], updates["fp"],
                                 n, curve, summation_method, "update_op")
        return collected(metrics_collections, updates_collections, value, update_op)


# ----- sensitivity / specificity ----------------------------------------------------
def _check_unit(arg: str, value) -> None:
    if value < 0 or value > 1:
        raise ValueError(f"`{arg}` must be in the range [0, 1]. Currently, `{arg}` is "
                         f"{value}.")


def sensitivity_at_specificity(labels, predictions, specificity, weights=None,
                               num_thresholds=200, metrics_collections=None,
                               updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """The sensitivity (recall) at the threshold whose specificity is closest to
    ``specificity`` (the first such threshold)."""
    _check_unit("specificity", specificity)
    with variable_scope(name, "sensitivity_at_specificity", (predictions, labels, weights)):
        thresholds = _uniform_thresholds(num_thresholds, 1.0 + _KEPSILON)
        values, updates = _confusion_at_thresholds("sensitivity_at_specificity", labels,
                                                   predictions, thresholds, weights)

        def compute(d, name):
            spec = M.divide(d["tn"], M.add(M.add(d["tn"], d["fp"]), _KEPSILON))
            i = M.cast(R.argmin(M.abs(M.subtract(spec, float(specificity))), 0), _dt.int32)
            tp, fn = gather(d["tp"], i), gather(d["fn"], i)
            return M.divide(tp, M.add(M.add(tp, fn), _KEPSILON), name=name)
        return collected(metrics_collections, updates_collections, compute(values, "value"),
                         compute(updates, "update_op"))


def specificity_at_sensitivity(labels, predictions, sensitivity, weights=None,
                               num_thresholds=200, metrics_collections=None,
                               updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """The specificity at the threshold whose sensitivity is closest to ``sensitivity``
    (the last such threshold)."""
    _check_unit("sensitivity", sensitivity)
    with variable_scope(name, "specificity_at_sensitivity", (predictions, labels, weights)):
        # TF1 ends this grid at 1 - eps, not 1 + eps
        thresholds = _uniform_thresholds(num_thresholds, 1.0 - _KEPSILON)
        values, updates = _confusion_at_thresholds("specificity_at_sensitivity", labels,
                                                   predictions, thresholds, weights)

        def compute(d, name):
            sens = M.divide(d["tp"], M.add(M.add(d["tp"], d["fn"]), _KEPSILON))
            dist = M.abs(M.subtract(sens, float(sensitivity)))
            at_min = M.cast(M.equal(dist, R.reduce_min(dist)), _dt.int64)
            # the last index at the minimum: argmax of the running count of minima
            i = M.cast(R.argmax(R.cumsum(at_min), 0), _dt.int32)
            tn, fp = gather(d["tn"], i), gather(d["fp"], i)
            return M.divide(tn, M.add(M.add(tn, fp), _KEPSILON), name=name)
        return collected(metrics_collections, updates_collections, compute(values, "value"),
                         compute(updates, "update_op"))
