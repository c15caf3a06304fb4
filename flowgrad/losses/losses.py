"""TF1's ``tf.losses`` (``tf.compat.v1.losses``).

Every loss computes per-element losses, multiplies them by ``weights`` (broadcast to the
losses' shape) and reduces them as ``reduction`` says; the default
``SUM_BY_NONZERO_WEIGHTS`` divides the weighted sum by the number of non-zero weights
(over the broadcast shape). The result is added to ``loss_collection`` (``LOSSES``).
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import GraphKeys, get_default_graph, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N
from flowgrad.ops import reduce_ops as R


class Reduction:
    """How a weighted loss tensor becomes the returned loss."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE,
                cls.SUM_OVER_NONZERO_WEIGHTS, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key) -> None:
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


def _num_present(losses, weights, per_batch: bool = False):
    """The number of non-zero weights after broadcasting ``weights`` to ``losses``."""
    with name_scope(None, "num_present"):
        present = M.where(M.equal(weights, 0.0), A.zeros_like(weights), A.ones_like(weights))
        present = present * A.ones_like(losses)
        if per_batch:
            axes = list(range(1, losses.shape.ndims)) if losses.shape.ndims else []
            return R.reduce_sum(present, axes, keepdims=True) if axes else present
        return R.reduce_sum(present)


def _safe_mean(losses, num_present):
    total = R.reduce_sum(losses)
    return M.div_no_nan(total, num_present, name="value")


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``losses * weights`` reduced by ``reduction`` and added to ``loss_collection``."""
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss"):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        losses = M.cast(losses, _dt.float32) if input_dtype != _dt.float64 else losses
        if isinstance(weights, (int, float)) and weights == 1 and \
                reduction != Reduction.NONE:
            # unit weights (the common case): the same value with fewer ops per step
            loss = R.reduce_sum(losses)
            if reduction in (Reduction.MEAN, Reduction.SUM_BY_NONZERO_WEIGHTS,
                             Reduction.SUM_OVER_NONZERO_WEIGHTS,
                             Reduction.SUM_OVER_BATCH_SIZE):
                loss = _safe_mean(loss, M.cast(A.size(losses), losses.dtype))
            loss = M.cast(loss, input_dtype) if loss.dtype != input_dtype else loss
            add_loss(loss, loss_collection)
            return loss
        weights = M.cast(convert_to_tensor(weights), losses.dtype)
        _check_weights(losses, weights)
        weighted = M.multiply(losses, weights)
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            loss = R.reduce_sum(weighted)
            if reduction == Reduction.MEAN:
                loss = _safe_mean(loss, R.reduce_sum(A.ones_like(losses) * weights))
            elif reduction in (Reduction.SUM_BY_NONZERO_WEIGHTS,
                               Reduction.SUM_OVER_NONZERO_WEIGHTS):
                loss = _safe_mean(loss, _num_present(losses, weights))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_mean(loss, M.cast(A.size(losses), losses.dtype))
        loss = M.cast(loss, input_dtype) if loss.dtype != input_dtype else loss
        add_loss(loss, loss_collection)
        return loss


def _check_weights(losses, weights) -> None:
    ws, ls = weights.shape, losses.shape
    if ws.ndims is None or ls.ndims is None or ws.ndims == 0:
        return
    if ws.ndims > ls.ndims:
        raise ValueError(f"weights can not be broadcast to values: weights shape {ws}, values "
                         f"shape {ls}.")
    for w, v in zip(reversed(ws.as_list()), reversed(ls.as_list())):
        if w is not None and v is not None and w not in (1, v):
            raise ValueError(f"weights can not be broadcast to values: weights shape {ws}, "
                             f"values shape {ls}.")


def _prepare(labels, predictions, weights):
    predictions = convert_to_tensor(predictions)
    predictions = M.cast(predictions, _dt.float32) if predictions.dtype not in (
        _dt.float32, _dt.float64, _dt.float16) else predictions
    labels = M.cast(convert_to_tensor(labels), predictions.dtype)
    if not predictions.shape.is_compatible_with(labels.shape):
        raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
    return labels, predictions


def _need(labels, predictions, what: str) -> None:
    if labels is None:
        raise ValueError(f"{what}: labels must not be None.")
    if predictions is None:
        raise ValueError(f"{what}: predictions (or logits) must not be None.")


# ----- Regression losses ------------------------------------------------------------------
def mean_squared_error(labels, predictions, weights=1.0, scope=None,
                       loss_collection=GraphKeys.LOSSES,
                       reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Weighted ``(predictions - labels) ** 2``."""
    _need(labels, predictions, "mean_squared_error")
    with name_scope(scope, "mean_squared_error") as sc:
        labels, predictions = _prepare(labels, predictions, weights)
        losses = M.squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def absolute_difference(labels, predictions, weights=1.0, scope=None,
                        loss_collection=GraphKeys.LOSSES,
                        reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Weighted ``|predictions - labels|``."""
    _need(labels, predictions, "absolute_difference")
    with name_scope(scope, "absolute_difference") as sc:
        labels, predictions = _prepare(labels, predictions, weights)
        losses = M.abs(M.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None,
               loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``0.5 * x**2`` for ``|x| <= delta``, else ``0.5 * delta**2 + delta * (|x| - delta)``."""
    _need(labels, predictions, "huber_loss")
    with name_scope(scope, "huber_loss") as sc:
        labels, predictions = _prepare(labels, predictions, weights)
        error = M.subtract(predictions, labels)
        abs_error = M.abs(error)
        d = convert_to_tensor(delta, dtype=predictions.dtype)
        quadratic = M.minimum(abs_error, d)
        linear = M.subtract(abs_error, quadratic)
        losses = 0.5 * quadratic * quadratic + d * linear
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, scope=None,
             loss_collection=GraphKeys.LOSSES, reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``-labels * log(p + eps) - (1 - labels) * log(1 - p + eps)``."""
    _need(labels, predictions, "log_loss")
    with name_scope(scope, "log_loss") as sc:
        labels, predictions = _prepare(labels, predictions, weights)
        losses = (M.negative(labels * M.log(predictions + epsilon))
                  - (1.0 - labels) * M.log(1.0 - predictions + epsilon))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def hinge_loss(labels, logits, weights=1.0, scope=None, loss_collection=GraphKeys.LOSSES,
               reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """``max(0, 1 - (2 * labels - 1) * logits)`` for labels in {0, 1}."""
    _need(labels, logits, "hinge_loss")
    with name_scope(scope, "hinge_loss") as sc:
        labels, logits = _prepare(labels, logits, weights)
        signed = 2.0 * labels - 1.0
        losses = N.relu(1.0 - signed * logits)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def cosine_distance(labels, predictions, axis=None, weights=1.0, scope=None,
                    loss_collection=GraphKeys.LOSSES,
                    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS, dim=None):
    """``1 - sum(labels * predictions, axis)`` for unit-normalised inputs."""
    axis = dim if axis is None else axis
    if axis is None:
        raise ValueError("You must specify 'axis'.")
    _need(labels, predictions, "cosine_distance")
    with name_scope(scope, "cosine_distance_loss") as sc:
        labels, predictions = _prepare(labels, predictions, weights)
        losses = 1.0 - R.reduce_sum(labels * predictions, [axis], keepdims=True)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def mean_pairwise_squared_error(labels, predictions, weights=1.0, scope=None,
                                loss_collection=GraphKeys.LOSSES):
    """Per example, the mean over pairs ``(i, j)`` of ``((p_i - p_j) - (l_i - l_j))**2``,
    weighted and summed over the batch (TF1's definition)."""
    _need(labels, predictions, "mean_pairwise_squared_error")
    with name_scope(scope, "mean_pairwise_squared_error"):
        labels, predictions = _prepare(labels, predictions, weights)
        weights = M.cast(convert_to_tensor(weights), predictions.dtype)
        diffs = predictions - labels
        r = diffs.shape.ndims
        axes = list(range(1, r))
        sum_sq = R.reduce_sum(M.square(diffs), axes, keepdims=True)
        num = _num_present(diffs, weights, per_batch=True)
        term1 = 2.0 * M.div_no_nan(sum_sq, num - 1.0)
        sum_d = R.reduce_sum(diffs, axes, keepdims=True)
        term2 = 2.0 * M.div_no_nan(M.square(sum_d), num * (num - 1.0))
        total = R.reduce_sum(M.multiply(term1 - term2, weights))
        loss = M.where(R.reduce_sum(num) > 0, total, A.zeros_like(total), name="value")
        add_loss(loss, loss_collection)
        return loss


# ----- Classification losses --------------------------------------------------------------
def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=GraphKeys.LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Softmax cross-entropy with one-hot labels, smoothed towards ``1 / num_classes``."""
    _need(onehot_labels, logits, "softmax_cross_entropy")
    with name_scope(scope, "softmax_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = M.cast(convert_to_tensor(onehot_labels), logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {logits.shape} and {labels.shape} are incompatible")
        if label_smoothing:
            k = M.cast(A.shape(labels)[-1], logits.dtype)
            smooth = convert_to_tensor(label_smoothing, dtype=logits.dtype)
            labels = labels * (1.0 - smooth) + smooth / k
        losses = N.softmax_cross_entropy_with_logits_v2(labels=A.stop_gradient(labels),
                                                        logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None,
                                 loss_collection=GraphKeys.LOSSES,
                                 reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Softmax cross-entropy with integer class labels."""
    _need(labels, logits, "sparse_softmax_cross_entropy")
    with name_scope(scope, "sparse_softmax_cross_entropy_loss") as sc:
        labels = convert_to_tensor(labels)
        logits = convert_to_tensor(logits)
        if labels.shape.ndims is not None and logits.shape.ndims is not None and \
                labels.shape.ndims == logits.shape.ndims and labels.shape[-1] == 1:
            labels = A.squeeze(labels, [-1])    # TF1 accepts [batch, 1] labels
        if labels.dtype not in (_dt.int32, _dt.int64):
            labels = M.cast(labels, _dt.int64)
        losses = N.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits,
                                                            name="xentropy")
        w = convert_to_tensor(weights)
        if w.shape.ndims is not None and w.shape.ndims == losses.shape.ndims + 1 and \
                w.shape[-1] == 1:
            w = A.squeeze(w, [-1])
        return compute_weighted_loss(losses, w, sc, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=GraphKeys.LOSSES,
                          reduction=Reduction.SUM_BY_NONZERO_WEIGHTS):
    """Sigmoid cross-entropy, labels smoothed towards 1/2."""
    _need(multi_class_labels, logits, "sigmoid_cross_entropy")
    with name_scope(scope, "sigmoid_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = M.cast(convert_to_tensor(multi_class_labels), logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {logits.shape} and {labels.shape} are incompatible")
        if label_smoothing:
            labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
        losses = N.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits,
                                                     name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


# ----- Collections -----------------------------------------------------------------------
def add_loss(loss, loss_collection=GraphKeys.LOSSES) -> None:
    """Adds ``loss`` to ``loss_collection`` (nothing when the collection is None)."""
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, loss)


def get_losses(scope=None, loss_collection=GraphKeys.LOSSES) -> list:
    return get_default_graph().get_collection(loss_collection, scope)


def get_regularization_losses(scope=None) -> list:
    return get_default_graph().get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses (a float32 zero when there are none)."""
    losses = get_regularization_losses(scope)
    if losses:
        return M.add_n(losses, name=name)
    return convert_to_tensor(0.0, name=name)


def get_total_loss(add_regularization_losses: bool = True, name="total_loss", scope=None):
    """The sum of ``get_losses()`` and, by default, of the regularization losses."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope=scope)
    if not losses:
        raise ValueError("No losses found: build a loss with tf.losses.* or "
                         "tf.losses.add_loss first.")
    return M.add_n(losses, name=name)
