"""``tf.contrib.layers``: functional layers, regularizers, the Xavier / variance-scaling
initializers and ``optimize_loss``."""

from flowgrad.contrib.regularizers import (apply_regularization, l1_l2_regularizer,
                                           l1_regularizer, l2_regularizer, sum_regularizer)
from flowgrad.contrib.layer_functions import (avg_pool2d, batch_norm, collect_named_outputs,
                                              conv1d, conv2d, conv2d_transpose, convolution,
                                              convolution1d, convolution2d,
                                              convolution2d_transpose,
                                              dropout, embed_sequence, flatten,
                                              fully_connected, layer_norm, max_pool2d,
                                              one_hot_encoding, repeat, stack)
from flowgrad.contrib.optimizers import OPTIMIZER_CLS_NAMES, OPTIMIZER_SUMMARIES, optimize_loss
from flowgrad.ops import init_ops as _I

_TRUNC_STD = 0.87962566103423978


def xavier_initializer(uniform: bool = True, seed=None, dtype=None):
    """Glorot initialisation: uniform or (truncated) normal with variance 2/(fan_in+fan_out)."""
    return variance_scaling_initializer(1.0, "FAN_AVG", uniform, seed, dtype)


def variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform: bool = False, seed=None,
                                 dtype=None):
    """contrib's He-style initializer: variance ``factor / fan`` (``FAN_IN``, ``FAN_OUT`` or
    ``FAN_AVG``)."""
    modes = {"FAN_IN": "fan_in", "FAN_OUT": "fan_out", "FAN_AVG": "fan_avg"}
    if mode not in modes:
        raise TypeError(f"Unknown mode {mode} [FAN_IN, FAN_OUT, FAN_AVG]")
    kw = {} if dtype is None else {"dtype": dtype}
    if uniform:
        return _I.VarianceScaling(factor, modes[mode], "uniform", seed=seed, **kw)
    # contrib's normal form is a normal of stddev sqrt(1.3 * factor / n) truncated at 2
    # sigma; VarianceScaling divides its stddev by 0.8796..., so pre-scale to match
    scale = 1.3 * factor * _TRUNC_STD ** 2
    return _I.VarianceScaling(scale, modes[mode], "truncated_normal", seed=seed, **kw)


xavier_initializer_conv2d = xavier_initializer

__all__ = ["OPTIMIZER_CLS_NAMES", "OPTIMIZER_SUMMARIES", "apply_regularization",
           "avg_pool2d", "batch_norm", "collect_named_outputs", "conv1d", "conv2d",
           "conv2d_transpose", "convolution", "convolution1d", "convolution2d",
           "convolution2d_transpose", "dropout",
           "embed_sequence", "flatten", "fully_connected", "l1_l2_regularizer",
           "l1_regularizer", "l2_regularizer", "layer_norm", "max_pool2d", "one_hot_encoding",
           "optimize_loss", "repeat", "stack", "sum_regularizer",
           "variance_scaling_initializer", "xavier_initializer", "xavier_initializer_conv2d"]
