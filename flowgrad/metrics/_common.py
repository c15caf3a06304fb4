"""Shared pieces of ``tf.metrics``: metric variables, shape reconciliation, weights."""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import GraphKeys, Tensor, get_default_graph
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import as_shape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops.variables import Variable


def metric_variable(shape, dtype, validate_shape: bool = True, name: str | None = None):
    """A zero-initialised, non-trainable variable in LOCAL_VARIABLES and METRIC_VARIABLES."""
    dtype = _dt.as_dtype(dtype)
    shape = as_shape(shape)
    if validate_shape and not shape.is_fully_defined():
        raise ValueError(f"metric variable '{name}' needs a fully defined shape, got {shape}; "
                         "give the metric inputs with static shapes.")
    return Variable(lambda: A.zeros(shape.as_list(), dtype), trainable=False,
                    collections=[GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES],
                    validate_shape=validate_shape, name=name)


def add_to_collections(collections, value) -> None:
    if collections:
        get_default_graph().add_to_collections(collections, value)


def collected(metrics_collections, updates_collections, value, update_op) -> tuple:
    """``(value, update_op)``, after adding each to its collections (if any)."""
    add_to_collections(metrics_collections, value)
    add_to_collections(updates_collections, update_op)
    return value, update_op


def read(variable, collections=None) -> Tensor:
    """The metric's value tensor for a bare accumulator (TF reads it through an identity)."""
    value = A.identity(variable)
    add_to_collections(collections, value)
    return value


def _last_dim_may_be_one(shape) -> bool:
    d = shape.as_tuple()[-1]
    return d is None or d == 1


def remove_squeezable_dimensions(labels: Tensor, predictions: Tensor):
    """Squeezes a trailing size-1 dimension of whichever of the two has one rank more."""
    lr, pr = labels.shape.ndims, predictions.shape.ndims
    if lr is None or pr is None:
        return labels, predictions
    if pr - lr == 1 and _last_dim_may_be_one(predictions.shape):
        predictions = A.squeeze(predictions, [-1])
    elif lr - pr == 1 and _last_dim_may_be_one(labels.shape):
        labels = A.squeeze(labels, [-1])
    return labels, predictions


def check_compatible(metric: str, a: Tensor, b: Tensor, what=("labels", "predictions")) -> None:
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError(f"tf.metrics.{metric}: {what[0]} shape {a.shape} is incompatible with "
                         f"{what[1]} shape {b.shape}; expected the same shape (a trailing "
                         "dimension of size 1 on either side is squeezed).")


def prepare(metric: str, predictions, labels=None, weights=None):
    """TF's ``_remove_squeezable_dimensions``: squeeze labels/predictions to a common rank,
    then squeeze or expand the last dimension of ``weights`` to predictions' rank."""
    predictions = convert_to_tensor(predictions)
    if labels is not None:
        labels = convert_to_tensor(labels)
        labels, predictions = remove_squeezable_dimensions(labels, predictions)
        check_compatible(metric, labels, predictions)
    if weights is None:
        return predictions, labels, None
    weights = convert_to_tensor(weights)
    wr, pr = weights.shape.ndims, predictions.shape.ndims
    if wr == 0 or wr is None or pr is None:
        return predictions, labels, weights
    if wr - pr == 1 and _last_dim_may_be_one(weights.shape):
        weights = A.squeeze(weights, [-1])
    elif pr - wr == 1:
        weights = A.expand_dims(weights, -1)
    return predictions, labels, weights


def check_broadcastable(metric: str, weights: Tensor, values: Tensor) -> None:
    """TF's rule: weights are a scalar, or have values' rank with each dim 1 or equal."""
    ws, vs = weights.shape, values.shape
    if ws.ndims is None or vs.ndims is None or ws.ndims == 0:
        return
    ok = ws.ndims == vs.ndims and all(
        w is None or v is None or w == 1 or w == v
        for w, v in zip(ws.as_tuple(), vs.as_tuple()))
    if not ok:
        raise ValueError(f"tf.metrics.{metric}: weights can not be broadcast to values. "
                         f"values.rank={vs.ndims}, weights.rank={ws.ndims}, "
                         f"values.shape={vs}, weights.shape={ws}. Expected a scalar or a "
                         "tensor of values' rank whose dimensions are 1 or values' own.")


def broadcast_weights(metric: str, weights: Tensor, values: Tensor) -> Tensor:
    """``weights`` (already cast) broadcast to ``values``' shape."""
    check_broadcastable(metric, weights, values)
    if weights.shape.is_fully_defined() and weights.shape == values.shape:
        return weights
    return M.multiply(weights, A.ones_like(values, dtype=weights.dtype))
