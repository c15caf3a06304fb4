"""``tf.nn`` functions composed from primitive ops: dropout, normalisation, moments and
batch normalisation. Their gradients come from the primitives."""

from __future__ import annotations

import numbers

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import batch_norm_ops as BN
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S


# ----- Dropout --------------------------------------------------------------------------------
def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """Zeroes each element with probability ``rate`` (= ``1 - keep_prob``), scaling the rest
    by ``1 / (1 - rate)``; the identity when ``keep_prob`` is 1."""
    if keep_prob is not None and rate is not None:
        raise ValueError("Cannot specify both 'keep_prob' and 'rate'.")
    if keep_prob is None and rate is None:
        raise ValueError("dropout needs 'rate' (or the deprecated 'keep_prob').")
    with name_scope(name, "dropout") as scope:
        x = convert_to_tensor(x)
        if not x.dtype.is_floating:
            raise ValueError(f"x has to be a floating point tensor since it's going to be "
                             f"scaled. Got a {x.dtype.name} tensor instead.")
        if keep_prob is not None:
            if isinstance(keep_prob, numbers.Real):
                if not 0 < keep_prob <= 1:
                    raise ValueError(f"keep_prob must be a scalar tensor or a float in the "
                                     f"range (0, 1], got {keep_prob}")
                if keep_prob == 1:
                    return x
                rate = 1.0 - keep_prob
            else:
                rate = 1 - convert_to_tensor(keep_prob, dtype=x.dtype)
        if isinstance(rate, numbers.Real):
            if not 0 <= rate < 1:
                raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), "
                                 f"got {rate}")
            if rate == 0:
                return x
            scale = convert_to_tensor(1.0 / (1.0 - rate), dtype=x.dtype)
            rate_t = convert_to_tensor(rate, dtype=x.dtype)
        else:
            rate_t = convert_to_tensor(rate, dtype=x.dtype)
            if rate_t.shape.ndims not in (None, 0):
                raise ValueError(f"rate must be a scalar tensor, got shape {rate_t.shape}")
            scale = M.reciprocal(1 - rate_t)
        shape = A.shape(x) if noise_shape is None else noise_shape
        u = S._random_uniform(S._shape_arg(shape), dtype=x.dtype, **S._seeds(seed))
        keep = M.cast(M.greater_equal(u, rate_t), x.dtype)
        out = M.multiply(x * scale, keep, name=scope)
        if noise_shape is None:
            out.set_shape(x.shape)
        return out


# ----- Normalisation ------------------------------------------------------------------------
def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """``x / sqrt(max(sum(x**2, axis), epsilon))``."""
    axis = dim if axis is None else axis
    with name_scope(name, "l2_normalize") as scope:
        x = convert_to_tensor(x)
        ss = R.reduce_sum(M.square(x), axis, keepdims=True)
        inv = M.rsqrt(M.maximum(ss, convert_to_tensor(epsilon, dtype=x.dtype)))
        return M.multiply(x, inv, name=scope)


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """``(mean, variance)`` of ``x`` over ``axes``."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with name_scope(name, "moments"):
        x = convert_to_tensor(x)
        y = M.cast(x, _dt.float32) if x.dtype == _dt.float16 else x
        axes = list(axes)
        mean = R.reduce_mean(y, axes, keepdims=True, name="mean")
        # no stop_gradient on the mean: it changes nothing to first order but would make
        # second-order gradients wrong
        variance = R.reduce_mean(M.squared_difference(y, mean), axes, keepdims=True,
                                 name="variance")
        if not keep:
            mean = A.squeeze(mean, axes)
            variance = A.squeeze(variance, axes)
        if y.dtype != x.dtype:
            mean, variance = M.cast(mean, x.dtype), M.cast(variance, x.dtype)
        return mean, variance


def weighted_moments(x, axes, frequency_weights, name=None, keep_dims=None, keepdims=None):
    """Mean and variance of ``x`` weighted by ``frequency_weights``."""
    keep = bool(keepdims if keepdims is not None else keep_dims)
    with name_scope(name, "weighted_moments"):
        x = convert_to_tensor(x)
        w = convert_to_tensor(frequency_weights, dtype=x.dtype)
        wx = R.reduce_sum(w * x, axes, keepdims=True)
        sw = R.reduce_sum(w + A.zeros_like(x), axes, keepdims=True)
        mean = M.div_no_nan(wx, sw)
        var = M.div_no_nan(R.reduce_sum(w * M.squared_difference(x, mean), axes, keepdims=True),
                           sw)
        if not keep:
            mean, var = A.squeeze(mean, list(axes)), A.squeeze(var, list(axes))
        return mean, var


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``scale * (x - mean) / sqrt(variance + epsilon) + offset`` (as TF1 computes it)."""
    with name_scope(name, "batchnorm"):
        x = convert_to_tensor(x)
        inv = M.rsqrt(convert_to_tensor(variance, dtype=x.dtype) + variance_epsilon)
        if scale is not None:
            inv = inv * convert_to_tensor(scale, dtype=x.dtype)
        mean = convert_to_tensor(mean, dtype=x.dtype)
        scaled = x * inv
        shift = (convert_to_tensor(offset, dtype=x.dtype) - mean * inv) if offset is not None \
            else M.negative(mean * inv)
        return scaled + shift                   # TF1: batchnorm/add_1


def fused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon=0.001,
                     data_format="NHWC", is_training=True, name=None,
                     exponential_avg_factor=1.0):
    """Batch norm over all axes but the channel one: ``(y, batch_mean, batch_var)``.

    One ``FusedBatchNormV3`` op (its gradient is ``FusedBatchNormGradV3``).  In training,
    ``batch_var`` is the unbiased (n / (n - 1)) estimate, the one that feeds the moving
    average; ``y`` is normalised with the biased variance (TF1's kernel). In inference,
    ``mean`` and ``variance`` are used and returned.
    """
    if data_format not in ("NHWC", "NCHW", "NDHWC", "NCDHW"):
        raise ValueError(f"fused_batch_norm: data_format must be NHWC or NCHW, got "
                         f"{data_format!r}")
    epsilon = max(float(epsilon), 1.001e-5)   # TF1's floor for the fused kernel
    x = convert_to_tensor(x)
    pdt = _dt.float32 if x.dtype == _dt.float16 else x.dtype
    scale = convert_to_tensor(scale, dtype=pdt)
    offset = convert_to_tensor(offset, dtype=pdt)
    if not is_training and (mean is None or variance is None):
        raise ValueError("fused_batch_norm with is_training=False needs mean and variance")
    empty = np.zeros(0, pdt.np)
    mean = convert_to_tensor(empty if mean is None else mean, dtype=pdt)
    variance = convert_to_tensor(empty if variance is None else variance, dtype=pdt)
    outs = BN.fused_batch_norm_v3(x, scale, offset, mean, variance, epsilon=epsilon,
                                  exponential_avg_factor=float(exponential_avg_factor),
                                  data_format=data_format, is_training=bool(is_training),
                                  name=name or "FusedBatchNormV3")
    return outs[0], outs[1], outs[2]


def _count(x: Tensor, axes) -> Tensor:
    known = [x.shape[a] for a in axes]
    if all(d is not None for d in known):
        return convert_to_tensor(float(np.prod(known)), dtype=x.dtype)
    shp = A.shape(x)
    return M.cast(R.reduce_prod(A.gather(shp, axes)), x.dtype)
