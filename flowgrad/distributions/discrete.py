"""Discrete distributions: Bernoulli, Categorical and Multinomial (TF1's
``tf.distributions`` classes of the same names), parameterized by ``logits`` or ``probs``."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, control_dependencies, name_scope
from flowgrad.framework.registry import constant_value, convert_to_tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import check_ops as C
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.diag_ops import matrix_diag
from flowgrad.ops.special_ops import lgamma
from flowgrad.ops.state_ops import multinomial, random_uniform

from flowgrad.distributions.distribution import (NOT_REPARAMETERIZED, Distribution,
                                                 concat_shapes)
from flowgrad.distributions.kullback_leibler import RegisterKL
from flowgrad.distributions.univariate import _n_shape, _vector, float_params

__all__ = ["Bernoulli", "Categorical", "Multinomial"]


def logits_and_probs(logits, probs, multidimensional: bool, validate_args: bool,
                     dtype=_dt.float32):
    """TF1's ``get_logits_and_probs``: exactly one of the two is given; the other is derived
    (sigmoid / log-odds for a scalar event, softmax / log for a vector event)."""
    if (logits is None) == (probs is None):
        raise ValueError("Must pass probs or logits, but not both.")
    if probs is None:
        logits = float_params(dtype, logits=logits)
        if multidimensional:
            return logits, N.softmax(logits, name="probs")
        return logits, M.sigmoid(logits, name="probs")
    probs = float_params(dtype, probs=probs)
    if validate_args:
        checks = [C.assert_non_negative(probs, message="probs has components less than 0."),
                  C.assert_less_equal(probs, 1.0, message="probs has components greater "
                                      "than 1.")]
        if multidimensional:
            checks.append(C.assert_less(
                M.abs(R.reduce_sum(probs, -1) - 1.0), 10.0 * np.finfo(probs.dtype.np).eps,
                message="probs does not sum to 1."))
        with control_dependencies(checks):
            probs = A.identity(probs)
    with name_scope("logits"):
        if multidimensional:
            return M.log(probs), probs
        return M.log(probs) - M.log1p(-probs), probs


def _check_integer_valued(x, validate_args: bool, message: str):
    if not validate_args:
        return x
    with control_dependencies([C.assert_equal(x, M.round(x), message=message)]):
        return A.identity(x)


# ----- Bernoulli ----------------------------------------------------------------------------------
class Bernoulli(Distribution):
    """The Bernoulli distribution: 1 with probability ``probs = sigmoid(logits)``."""

    def __init__(self, logits=None, probs=None, dtype=_dt.int32, validate_args=False,
                 allow_nan_stats=True, name="Bernoulli"):
        parameters = dict(locals())
        with name_scope(name) as name:
            self._logits, self._probs = logits_and_probs(logits, probs, False, validate_args)
        super().__init__(dtype=_dt.as_dtype(dtype), reparameterization_type=NOT_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters, graph_parents=[self._logits, self._probs],
                         name=name)

    @staticmethod
    def _param_shapes(sample_shape):
        return {"logits": sample_shape}

    @property
    def logits(self):
        """Log-odds of a ``1`` outcome (vs ``0``)."""
        return self._logits

    @property
    def probs(self):
        """Probability of a ``1`` outcome (vs ``0``)."""
        return self._probs

    def _batch_shape(self):
        return self._logits.shape

    def _batch_shape_tensor(self):
        return A.shape(self._logits)

    def _sample_n(self, n, seed=None):
        shape = _n_shape(n, self._batch_shape_list_or_tensor())
        u = random_uniform(shape, dtype=self._probs.dtype, seed=seed)
        return M.cast(M.less(u, self._probs), self.dtype)

    def _log_prob(self, event):
        event = _check_integer_valued(event, self.validate_args and event.dtype.is_floating,
                                      "event is not integer-valued")
        event = M.cast(event, self._logits.dtype)
        logits = self._logits
        if event.shape != logits.shape or not event.shape.is_fully_defined():
            logits = logits * A.ones_like(event)
            event = event * A.ones_like(self._logits)
        return -N.sigmoid_cross_entropy_with_logits(labels=event, logits=logits)

    def _entropy(self):
        return (1.0 - self._probs) * self._logits + N.softplus(-self._logits)

    def _mean(self):
        return A.identity(self._probs)

    def _variance(self):
        return self._probs * (1.0 - self._probs)

    def _mode(self):
        return M.cast(self._probs > 0.5, self.dtype)


@RegisterKL(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(a, b, name=None):
    with name_scope(name, "kl_bernoulli_bernoulli", [a.logits, b.logits]):
        delta0 = N.softplus(-b.logits) - N.softplus(-a.logits)
        delta1 = N.softplus(b.logits) - N.softplus(a.logits)
        return M.sigmoid(a.logits) * delta0 + M.sigmoid(-a.logits) * delta1


# ----- Categorical --------------------------------------------------------------------------------
def _event_size(logits):
    k = logits.shape.as_list()[-1] if logits.shape.ndims else None
    return k if k is not None else A.shape(logits)[-1]


def _one_hot(indices, depth, dtype):
    """``one_hot`` for a depth that may be known only when run."""
    if not isinstance(depth, Tensor):
        return A.one_hot(indices, depth, dtype=dtype)
    classes = A.range(0, depth)
    return M.cast(M.equal(A.expand_dims(M.cast(indices, _dt.int32), -1), classes), dtype)


def _flat_rows(x, k):
    return A.reshape(x, [-1, k] if not isinstance(k, Tensor) else A.stack([-1, k]))


class VectorEventShapes:
    """Shapes of a distribution over ``K``-vectors, read from the tensor named by
    ``_shape_param``: batch = its shape[:-1], event = [K]."""

    _shape_param = "_concentration"

    def _batch_shape(self):
        s = getattr(self, self._shape_param).shape
        return s[:-1] if s.ndims is not None else TensorShape(None)

    def _batch_shape_tensor(self):
        return A.shape(getattr(self, self._shape_param))[:-1]

    def _event_shape(self):
        s = getattr(self, self._shape_param).shape
        return s[-1:] if s.ndims is not None else TensorShape([None])

    def _event_shape_tensor(self):
        return A.shape(getattr(self, self._shape_param))[-1:]


def checked_total_count(total_count, dtype, validate_args: bool):
    """``total_count`` as a tensor of ``dtype``; with ``validate_args``, checked to be
    non-negative and integer-valued when run."""
    if not isinstance(total_count, Tensor):
        total_count = convert_to_tensor(total_count, dtype=dtype, name="total_count")
    if not validate_args:
        return total_count
    with control_dependencies([
            C.assert_non_negative(total_count),
            C.assert_equal(total_count, M.round(total_count),
                           message="total_count has fractional components.")]):
        return A.identity(total_count)


def check_counts(counts, total_count, validate_args: bool):
    """``counts`` (last axis: the ``K`` classes); with ``validate_args``, checked to be
    non-negative integers summing to ``total_count`` when run."""
    if not validate_args:
        return counts
    with control_dependencies([
            C.assert_non_negative(counts),
            C.assert_equal(counts, M.round(counts),
                           message="counts has fractional components."),
            C.assert_equal(total_count * A.ones_like(R.reduce_sum(counts, -1)),
                           R.reduce_sum(counts, -1),
                           message="counts must sum to `self.total_count`")]):
        return A.identity(counts)


def counts_sample(counts, n, batch, k):
    """Drawn count rows ``[n * batch, K]`` reshaped to ``[n] + batch + [K]``."""
    return A.reshape(counts, concat_shapes(_n_shape(n, batch), _vector(k)))


def simplex_covariance(p, scale):
    """``scale * (diag(p) - p p^T)`` over the last axis (``scale`` of the batch shape)."""
    scale = A.expand_dims(A.expand_dims(scale, -1), -1)
    return scale * (matrix_diag(p) - A.expand_dims(p, -1) * A.expand_dims(p, -2))


class Categorical(Distribution):
    """The categorical distribution over ``{0, ..., K-1}`` with event probabilities
    ``softmax(logits)`` (or ``probs``), ``K`` the size of the last axis."""

    def __init__(self, logits=None, probs=None, dtype=_dt.int32, validate_args=False,
                 allow_nan_stats=True, name="Categorical"):
        parameters = dict(locals())
        with name_scope(name) as name:
            self._logits, self._probs = logits_and_probs(logits, probs, True, validate_args)
            if self._logits.shape.ndims == 0:
                raise ValueError("logits (or probs) must have rank at least 1 (the last axis "
                                 "holds the K categories)")
            self._event_size = _event_size(self._logits)
        super().__init__(dtype=_dt.as_dtype(dtype), reparameterization_type=NOT_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters, graph_parents=[self._logits, self._probs],
                         name=name)

    @property
    def event_size(self):
        """The number of classes ``K`` (a Python int when known statically)."""
        return self._event_size

    @property
    def logits(self):
        """Vector of coordinatewise logits."""
        return self._logits

    @property
    def probs(self):
        """Vector of coordinatewise probabilities."""
        return self._probs

    def _batch_shape(self):
        s = self._logits.shape
        return s[:-1] if s.ndims is not None else TensorShape(None)

    def _batch_shape_tensor(self):
        return A.shape(self._logits)[:-1]

    def _sample_n(self, n, seed=None):
        logits_2d = _flat_rows(self._logits, self._event_size)
        draws = multinomial(logits_2d, n, seed=seed, output_dtype=_dt.int64)   # [B, n]
        draws = A.transpose(M.cast(draws, self.dtype))
        return A.reshape(draws, _n_shape(n, self._batch_shape_list_or_tensor()))

    def _log_prob(self, k):
        k = M.cast(k, _dt.int32)
        if self.validate_args:
            with control_dependencies([
                    C.assert_non_negative(k, message="k has negative values"),
                    C.assert_less(k, M.cast(self._event_size, _dt.int32),
                                  message="k has values >= the number of classes")]):
                k = A.identity(k)
        logp = N.log_softmax(self._logits)
        mask = _one_hot(k, self._event_size, logp.dtype)
        return R.reduce_sum(mask * logp, axis=-1)

    def _cdf(self, k):
        """As TF1: the total probability of the classes below ``k``."""
        k = M.cast(k, _dt.int32)
        classes = A.range(0, self._event_size)
        below = M.cast(M.less(classes, A.expand_dims(k, -1)), self._probs.dtype)
        return R.reduce_sum(below * self._probs, axis=-1)

    def _entropy(self):
        return -R.reduce_sum(N.log_softmax(self._logits) * self._probs, axis=-1)

    def _mode(self):
        return M.cast(R.argmax(self._logits, axis=-1), self.dtype)


@RegisterKL(Categorical, Categorical)
def _kl_categorical_categorical(a, b, name=None):
    with name_scope(name, "kl_categorical_categorical", [a.logits, b.logits]):
        la, lb = N.log_softmax(a.logits), N.log_softmax(b.logits)
        return R.reduce_sum(N.softmax(a.logits) * (la - lb), axis=-1)


# ----- Multinomial --------------------------------------------------------------------------------
def draw_counts(logits_rows, total_rows, seed):
    """One count vector per row: ``total_rows[i]`` categorical draws from
    ``softmax(logits_rows[i])``, tallied into ``K`` bins. ``logits_rows`` is ``[M, K]``,
    ``total_rows`` (float) is ``[M]``."""
    k = _event_size(logits_rows)
    top = constant_value(total_rows)
    if top is not None:
        max_n = int(np.max(top)) if np.size(top) else 0
    else:
        max_n = M.cast(R.reduce_max(total_rows), _dt.int32)
    draws = multinomial(logits_rows, max_n, seed=seed, output_dtype=_dt.int32)      # [M, N]
    steps = M.cast(A.range(0, max_n), total_rows.dtype)
    keep = M.cast(M.less(steps, A.expand_dims(total_rows, -1)), logits_rows.dtype)  # [M, N]
    hits = _one_hot(draws, k, logits_rows.dtype)                                      # [M, N, K]
    return R.reduce_sum(hits * A.expand_dims(keep, -1), axis=1)


class Multinomial(VectorEventShapes, Distribution):
    """The multinomial distribution: counts of ``total_count`` draws over ``K`` classes with
    probabilities ``softmax(logits)`` (or ``probs``); the event is a float vector of
    length ``K``."""

    _shape_param = "_mean_val"

    def __init__(self, total_count, logits=None, probs=None, validate_args=False,
                 allow_nan_stats=True, name="Multinomial"):
        parameters = dict(locals())
        with name_scope(name) as name:
            self._logits, self._probs = logits_and_probs(logits, probs, True, validate_args)
            total_count = checked_total_count(total_count, self._probs.dtype, validate_args)
            self._total_count = total_count
            self._mean_val = A.expand_dims(total_count, -1) * self._probs
        super().__init__(dtype=self._probs.dtype, reparameterization_type=NOT_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters,
                         graph_parents=[self._total_count, self._logits, self._probs],
                         name=name)

    @property
    def total_count(self):
        """Number of trials used to construct a sample."""
        return self._total_count

    @property
    def logits(self):
        """Vector of coordinatewise logits."""
        return self._logits

    @property
    def probs(self):
        """Probability of drawing a ``1`` in that coordinate."""
        return self._probs

    def _sample_n(self, n, seed=None):
        k = _event_size(self._logits)
        logits = self._logits * A.ones_like(self._mean_val)            # [batch..., K]
        totals = self._total_count * A.ones_like(self._mean_val[..., 0])
        rows = _flat_rows(logits, k)
        tot = A.reshape(totals, [-1])
        rows_n = A.tile(rows, [n, 1] if not isinstance(n, Tensor) else A.stack([n, 1]))
        tot_n = A.tile(tot, _vector(n))
        counts = draw_counts(rows_n, tot_n, seed)
        return counts_sample(counts, n, self._batch_shape_list_or_tensor(), k)

    def _log_prob(self, counts):
        counts = check_counts(counts, self._total_count, self.validate_args)
        log_norm = lgamma(self._total_count + 1.0) - R.reduce_sum(lgamma(counts + 1.0), -1)
        return log_norm + R.reduce_sum(counts * N.log_softmax(self._logits), -1)

    def _mean(self):
        return A.identity(self._mean_val)

    def _covariance(self):
        p = self._probs * A.ones_like(self._mean_val)
        return simplex_covariance(p, self._total_count)

    def _variance(self):
        p = self._probs * A.ones_like(self._mean_val)
        return self._mean_val * (1.0 - p)

