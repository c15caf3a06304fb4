"""Mean-style streaming metrics: ``mean``, ``mean_tensor``, ``accuracy`` and the errors.

Each keeps a weighted ``total`` and a ``count`` in metric variables; the value is
``total / count`` (0 while ``count`` is 0) and the update op adds one batch and returns the
new value.
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, control_dependencies
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.metrics._common import (broadcast_weights, check_compatible, collected,
                                      metric_variable, prepare, remove_squeezable_dimensions)
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S
from flowgrad.ops.variables import variable_scope


def _ratio(total, count, name: str) -> Tensor:
    return M.div_no_nan(total, M.maximum(count, M.cast(0, count.dtype)), name=name)


def _streamed_mean(total, count, batch_total, values, num_values, metrics_collections,
                   updates_collections) -> tuple[Tensor, Tensor]:
    """Adds ``batch_total`` to ``total`` and (after ``values``) ``num_values`` to ``count``;
    ``(total / count, update_op)``, both 0 where nothing was counted yet."""
    update_total = S.assign_add(total, batch_total)
    with control_dependencies([values]):
        update_count = S.assign_add(count, num_values)
    mean_t = _ratio(total.value(), count.value(), "value")
    update_op = _ratio(update_total, update_count, "update_op")
    return collected(metrics_collections, updates_collections, mean_t, update_op)


def mean(values, weights=None, metrics_collections=None, updates_collections=None,
         name=None) -> tuple[Tensor, Tensor]:
    """The (weighted) mean of ``values`` over every update: ``(mean, update_op)``.

    >>> import flowgrad as tf
    >>> with tf.Graph().as_default():
    ...     m, up = tf.metrics.mean([1.0, 2.0, 3.0])
    ...     with tf.Session() as s:
    ...         _ = s.run(tf.local_variables_initializer())
    ...         print(s.run(m), s.run(up), s.run(m))
    0.0 2.0 2.0
    """
    with variable_scope(name, "mean", (values, weights)):
        values = M.cast(convert_to_tensor(values), _dt.float32)
        total = metric_variable([], _dt.float32, name="total")
        count = metric_variable([], _dt.float32, name="count")
        if weights is None:
            num_values = M.cast(A.size(values), _dt.float32)
        else:
            values, _, weights = prepare("mean", values, None, weights)
            weights = broadcast_weights("mean", M.cast(weights, _dt.float32), values)
            values = M.multiply(values, weights)
            num_values = R.reduce_sum(weights)
        return _streamed_mean(total, count, R.reduce_sum(values), values, num_values,
                              metrics_collections, updates_collections)


def mean_tensor(values, weights=None, metrics_collections=None, updates_collections=None,
                name=None) -> tuple[Tensor, Tensor]:
    """The element-wise (weighted) mean of ``values``, a tensor of ``values``' shape."""
    with variable_scope(name, "mean", (values, weights)):
        values = M.cast(convert_to_tensor(values), _dt.float32)
        if not values.shape.is_fully_defined():
            raise ValueError(f"tf.metrics.mean_tensor: values need a fully defined static "
                             f"shape for the accumulators, got {values.shape}.")
        total = metric_variable(values.shape, _dt.float32, name="total_tensor")
        count = metric_variable(values.shape, _dt.float32, name="count_tensor")
        num_values = A.ones_like(values)
        if weights is not None:
            values, _, weights = prepare("mean_tensor", values, None, weights)
            weights = broadcast_weights("mean_tensor", M.cast(weights, _dt.float32), values)
            values = M.multiply(values, weights)
            num_values = M.multiply(num_values, weights)
        return _streamed_mean(total, count, values, values, num_values, metrics_collections,
                              updates_collections)


def accuracy(labels, predictions, weights=None, metrics_collections=None,
             updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """How often ``predictions`` equal ``labels`` (weighted): ``(accuracy, update_op)``."""
    predictions, labels, weights = prepare("accuracy", predictions, labels, weights)
    if labels.dtype != predictions.dtype:
        predictions = M.cast(predictions, labels.dtype)
    is_correct = M.cast(M.equal(predictions, labels), _dt.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections,
                name or "accuracy")


def _same_dtype(metric: str, labels: Tensor, predictions: Tensor) -> None:
    if labels.dtype != predictions.dtype:
        raise TypeError(f"tf.metrics.{metric}: labels are {labels.dtype.name} but predictions "
                        f"are {predictions.dtype.name}; cast one of them first.")


def mean_absolute_error(labels, predictions, weights=None, metrics_collections=None,
                        updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """The mean of ``|predictions - labels|``."""
    predictions, labels, weights = prepare("mean_absolute_error", predictions, labels, weights)
    _same_dtype("mean_absolute_error", labels, predictions)
    return mean(M.abs(M.subtract(predictions, labels)), weights, metrics_collections,
                updates_collections, name or "mean_absolute_error")


def mean_squared_error(labels, predictions, weights=None, metrics_collections=None,
                       updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """The mean of ``(predictions - labels)**2``."""
    predictions, labels, weights = prepare("mean_squared_error", predictions, labels, weights)
    _same_dtype("mean_squared_error", labels, predictions)
    return mean(M.squared_difference(labels, predictions), weights, metrics_collections,
                updates_collections, name or "mean_squared_error")


def root_mean_squared_error(labels, predictions, weights=None, metrics_collections=None,
                            updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """The square root of the streaming mean squared error."""
    predictions, labels, weights = prepare("root_mean_squared_error", predictions, labels,
                                           weights)
    mse, update_mse = mean_squared_error(labels, predictions, weights, None, None,
                                         name or "root_mean_squared_error")
    rmse, update_rmse = M.sqrt(mse), M.sqrt(update_mse)
    return collected(metrics_collections, updates_collections, rmse, update_rmse)


def mean_relative_error(labels, predictions, normalizer, weights=None,
                        metrics_collections=None, updates_collections=None,
                        name=None) -> tuple[Tensor, Tensor]:
    """The mean of ``|labels - predictions| / normalizer`` (0 where the normalizer is 0)."""
    predictions, labels, weights = prepare("mean_relative_error", predictions, labels, weights)
    _same_dtype("mean_relative_error", labels, predictions)
    normalizer = convert_to_tensor(normalizer, dtype=predictions.dtype)
    normalizer, predictions = remove_squeezable_dimensions(normalizer, predictions)
    check_compatible("mean_relative_error", normalizer, predictions,
                     ("normalizer", "predictions"))
    zero = M.equal(normalizer, M.cast(0, normalizer.dtype))
    safe = M.where(zero, A.ones_like(normalizer), normalizer)
    relative = M.where(zero, A.zeros_like(labels),
                       M.divide(M.abs(M.subtract(labels, predictions)), safe))
    return mean(relative, weights, metrics_collections, updates_collections,
                name or "mean_relative_error")


def mean_cosine_distance(labels, predictions, dim, weights=None, metrics_collections=None,
                         updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """``1 - mean(sum(labels * predictions, axis=dim))`` for unit-normalised inputs."""
    predictions, labels, weights = prepare("mean_cosine_distance", predictions, labels,
                                           weights)
    _same_dtype("mean_cosine_distance", labels, predictions)
    radial = R.reduce_sum(M.multiply(predictions, labels), axis=[dim], keepdims=True)
    mean_t, update_op = mean(radial, weights, None, None, name or "mean_cosine_distance")
    mean_distance = M.subtract(1.0, mean_t)
    update_op = M.subtract(1.0, update_op)
    return collected(metrics_collections, updates_collections, mean_distance, update_op)


def percentage_below(values, threshold, weights=None, metrics_collections=None,
                     updates_collections=None, name=None) -> tuple[Tensor, Tensor]:
    """The (weighted) fraction of ``values`` strictly below ``threshold``."""
    values = convert_to_tensor(values)
    below = M.cast(M.less(values, convert_to_tensor(threshold, dtype=values.dtype)),
                   _dt.float32)
    return mean(below, weights, metrics_collections, updates_collections,
                name or "percentage_below_threshold")
