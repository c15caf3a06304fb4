"""Distributions over the probability simplex: Dirichlet and DirichletMultinomial (TF1's
``tf.distributions`` classes of the same names)."""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import control_dependencies, name_scope
from flowgrad.ops import array_ops as A
from flowgrad.ops import check_ops as C
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.random_extra_ops import random_gamma
from flowgrad.ops.special_ops import digamma, lgamma

from flowgrad.distributions.discrete import (VectorEventShapes, _event_size, _flat_rows,
                                             check_counts, checked_total_count, counts_sample,
                                             draw_counts, simplex_covariance)
from flowgrad.distributions.distribution import (FULLY_REPARAMETERIZED, NOT_REPARAMETERIZED,
                                                 Distribution, nan_unless)
from flowgrad.distributions.kullback_leibler import RegisterKL
from flowgrad.distributions.univariate import _vector, derive_seed, float_params

__all__ = ["Dirichlet", "DirichletMultinomial"]


def _lbeta(c):
    """Multivariate log-Beta over the last axis: ``sum lgamma(c) - lgamma(sum c)``."""
    return R.reduce_sum(lgamma(c), -1) - lgamma(R.reduce_sum(c, -1))


class _SimplexMixin(VectorEventShapes):
    """Shapes shared by the two: batch = concentration.shape[:-1], event = [K]."""

    @property
    def total_concentration(self):
        """Sum of last dim of concentration parameter."""
        return self._total_concentration

    def _k(self):
        return _event_size(self._concentration)


def _checked_concentration(concentration, validate_args):
    c = float_params(_dt.float32, concentration=concentration)
    if not validate_args:
        return c
    with control_dependencies([
            C.assert_positive(c, message="Concentration parameter must be positive."),
            C.assert_less(1, A.shape(c)[-1], message="Concentration parameter must have event "
                          "size >= 2.")]):
        return A.identity(c)


class Dirichlet(_SimplexMixin, Distribution):
    """The Dirichlet distribution over ``K``-vectors on the simplex, with
    ``concentration`` (alpha) of shape ``batch_shape + [K]``."""

    def __init__(self, concentration, validate_args=False, allow_nan_stats=True,
                 name="Dirichlet"):
        parameters = dict(locals())
        with name_scope(name, values=[concentration]) as name:
            self._concentration = _checked_concentration(concentration, validate_args)
            self._total_concentration = R.reduce_sum(self._concentration, -1)
        super().__init__(dtype=self._concentration.dtype,
                         reparameterization_type=FULLY_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters,
                         graph_parents=[self._concentration, self._total_concentration],
                         name=name)

    @property
    def concentration(self):
        """Concentration parameter; expected counts for that coordinate."""
        return self._concentration

    def _sample_n(self, n, seed=None):
        shape = _vector(n)
        gamma = random_gamma(shape, self._concentration, dtype=self.dtype, seed=seed)
        return gamma / R.reduce_sum(gamma, -1, keepdims=True)

    def _check_x(self, x):
        if not self.validate_args:
            return x
        with control_dependencies([
                C.assert_positive(x, message="samples must be positive"),
                C.assert_less(M.abs(R.reduce_sum(x, -1) - 1.0), 1e-5,
                              message="sample last-dimension must sum to `1`")]):
            return A.identity(x)

    def _log_prob(self, x):
        x = self._check_x(x)
        return R.reduce_sum((self._concentration - 1.0) * M.log(x), -1) - \
            _lbeta(self._concentration)

    def _entropy(self):
        c, c0 = self._concentration, self._total_concentration
        k = M.cast(self._k(), self.dtype)
        return (_lbeta(c) + (c0 - k) * digamma(c0)
                - R.reduce_sum((c - 1.0) * digamma(c), -1))

    def _mean(self):
        return self._concentration / A.expand_dims(self._total_concentration, -1)

    def _covariance(self):
        x = self._mean()
        return simplex_covariance(x, 1.0 / (1.0 + self._total_concentration))

    def _variance(self):
        x = self._mean()
        return x * (1.0 - x) / A.expand_dims(1.0 + self._total_concentration, -1)

    def _mode(self):
        k = M.cast(self._k(), self.dtype)
        mode = (self._concentration - 1.0) / A.expand_dims(self._total_concentration - k, -1)
        defined = A.expand_dims(R.reduce_all(self._concentration > 1.0, -1), -1) & \
            M.cast(A.ones_like(mode), _dt.bool_)
        return nan_unless(self.allow_nan_stats, mode, defined,
                          "Mode undefined when any concentration <= 1")


@RegisterKL(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(d1, d2, name=None):
    with name_scope(name, "kl_dirichlet_dirichlet", [d1.concentration, d2.concentration]):
        c1, c2 = d1.concentration, d2.concentration
        digamma_diff = digamma(c1) - A.expand_dims(digamma(d1.total_concentration), -1)
        return (R.reduce_sum((c1 - c2) * digamma_diff, -1) - _lbeta(c1) + _lbeta(c2))


class DirichletMultinomial(_SimplexMixin, Distribution):
    """Counts of ``total_count`` draws over ``K`` classes whose probabilities are themselves
    drawn from ``Dirichlet(concentration)``."""

    def __init__(self, total_count, concentration, validate_args=False, allow_nan_stats=True,
                 name="DirichletMultinomial"):
        parameters = dict(locals())
        with name_scope(name, values=[total_count, concentration]) as name:
            self._concentration = _checked_concentration(concentration, validate_args)
            total_count = checked_total_count(total_count, self._concentration.dtype,
                                              validate_args)
            self._total_count = total_count
            self._total_concentration = R.reduce_sum(self._concentration, -1)
            # broadcast the batch shapes of the two parameters
            self._concentration = self._concentration * A.expand_dims(
                A.ones_like(total_count), -1)
            self._total_concentration = self._total_concentration * A.ones_like(total_count)
        super().__init__(dtype=self._concentration.dtype,
                         reparameterization_type=NOT_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters,
                         graph_parents=[self._concentration, self._total_count], name=name)

    @property
    def total_count(self):
        """Number of trials used to construct a sample."""
        return self._total_count

    @property
    def concentration(self):
        """Concentration parameter; expected prior counts for that coordinate."""
        return self._concentration

    def _sample_n(self, n, seed=None):
        k = self._k()
        shape = _vector(n)
        gamma = random_gamma(shape, self._concentration, dtype=self.dtype, seed=seed)
        rows = _flat_rows(M.log(gamma), k)                             # [n * batch, K]
        totals = A.reshape(self._total_count * A.ones_like(gamma[..., 0]), [-1])
        counts = draw_counts(rows, totals, derive_seed(seed, "dirichlet_multinomial"))
        return counts_sample(counts, n, self._batch_shape_list_or_tensor(), k)

    def _log_prob(self, counts):
        counts = check_counts(counts, self._total_count, self.validate_args)
        c = self._concentration
        return (lgamma(self._total_count + 1.0) - R.reduce_sum(lgamma(counts + 1.0), -1)
                + _lbeta(c + counts) - _lbeta(c))

    def _mean(self):
        return A.expand_dims(self._total_count / self._total_concentration, -1) * \
            self._concentration

    def _scale(self):
        n, c0 = self._total_count, self._total_concentration
        return n * (n + c0) / (1.0 + c0)

    def _covariance(self):
        p = self._concentration / A.expand_dims(self._total_concentration, -1)
        return simplex_covariance(p, self._scale())

    def _variance(self):
        p = self._concentration / A.expand_dims(self._total_concentration, -1)
        return A.expand_dims(self._scale(), -1) * p * (1.0 - p)
