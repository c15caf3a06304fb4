"""``tf.metrics``: TF1's streaming evaluation metrics.

Every metric returns ``(value, update_op)``. Its state lives in local variables (the
``LOCAL_VARIABLES`` and ``METRIC_VARIABLES`` collections, not trainable), created under
``variable_scope(name, default_name=<metric>)``: run ``tf.local_variables_initializer()``
to start (or restart) a stream, ``update_op`` once per batch, then read ``value``.
"""

from flowgrad.metrics._common import metric_variable
from flowgrad.metrics.at_k import (average_precision_at_k, precision_at_k, precision_at_top_k,
                                   recall_at_k, recall_at_top_k, sparse_average_precision_at_k,
                                   sparse_precision_at_k)
from flowgrad.metrics.classes import mean_iou, mean_per_class_accuracy
from flowgrad.metrics.confusion import (auc, false_negatives, false_negatives_at_thresholds,
                                        false_positives, false_positives_at_thresholds,
                                        precision, precision_at_thresholds, recall,
                                        recall_at_thresholds, sensitivity_at_specificity,
                                        specificity_at_sensitivity, true_negatives,
                                        true_negatives_at_thresholds, true_positives,
                                        true_positives_at_thresholds)
from flowgrad.metrics.means import (accuracy, mean, mean_absolute_error, mean_cosine_distance,
                                    mean_relative_error, mean_squared_error, mean_tensor,
                                    percentage_below, root_mean_squared_error)

__all__ = ["accuracy", "auc", "average_precision_at_k", "false_negatives",
           "false_negatives_at_thresholds", "false_positives", "false_positives_at_thresholds",
           "mean", "mean_absolute_error", "mean_cosine_distance", "mean_iou",
           "mean_per_class_accuracy", "mean_relative_error", "mean_squared_error", "mean_tensor",
           "percentage_below", "precision", "precision_at_k", "precision_at_thresholds",
           "precision_at_top_k", "recall", "recall_at_k", "recall_at_thresholds",
           "recall_at_top_k", "root_mean_squared_error", "sensitivity_at_specificity",
           "sparse_average_precision_at_k", "sparse_precision_at_k", "specificity_at_sensitivity",
           "true_negatives", "true_negatives_at_thresholds", "true_positives",
           "true_positives_at_thresholds"]
