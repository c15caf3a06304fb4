"""Scalar-event distributions: Normal, Uniform, Laplace, Gamma, Exponential, Beta and
StudentT (TF1's ``tf.distributions`` classes of the same names)."""

from __future__ import annotations

import math
import zlib

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import check_ops as C
from flowgrad.ops import math_ops as M
from flowgrad.ops.math_extra_ops import erfc
from flowgrad.ops.random_extra_ops import random_gamma
from flowgrad.ops.special_ops import betainc, digamma, igamma, igammac, lgamma, ndtri
from flowgrad.ops.state_ops import random_normal, random_uniform

from flowgrad.distributions.distribution import (FULLY_REPARAMETERIZED, Distribution,
                                                 batch_shape_of, batch_shape_tensor_of,
                                                 concat_shapes, embed_checks, nan_unless)
from flowgrad.distributions.kullback_leibler import RegisterKL

__all__ = ["Normal", "Uniform", "Laplace", "Gamma", "Exponential", "Beta", "StudentT"]


def float_params(dtype_hint, **params):
    """Converts the parameters to tensors of one floating dtype: the first tensor's, else
    the first numpy float array's (float64 arrays stay float64, as in TF1), else float32.
    Raises ``TypeError`` for tensors of mixed or non-float dtypes."""
    params = {k: convert_to_tensor(v, name=k) if isinstance(getattr(v, "dtype", None), _dt.DType)
              else v for k, v in params.items()}            # Variables and other tensor-likes
    dtype = None
    for v in params.values():
        if isinstance(v, Tensor):
            dtype = v.dtype
            break
    if dtype is None:
        for v in params.values():
            if isinstance(v, np.ndarray | np.floating) and v.dtype.kind == "f":
                dtype = _dt.as_dtype(v.dtype)
                break
    dtype = dtype or dtype_hint
    out = {}
    for k, v in params.items():
        t = convert_to_tensor(v, dtype=dtype, name=k) if not isinstance(v, Tensor) else v
        if t.dtype != dtype:
            raise TypeError(f"{k} must have dtype {dtype.name} like the other parameters, "
                            f"got {t.dtype.name}")
        if not t.dtype.is_floating:
            raise TypeError(f"{k} must be a floating-point tensor, got {t.dtype.name}")
        out[k] = t
    return list(out.values()) if len(out) > 1 else out[next(iter(out))]


def ones_of(*tensors):
    out = A.ones_like(tensors[0])
    for t in tensors[1:]:
        out = out * A.ones_like(t)
    return out


def derive_seed(seed, salt: str):
    """A second op seed for distributions drawing twice (e.g. Beta's two gammas)."""
    if seed is None:
        return None
    return zlib.crc32(f"{int(seed)}/{salt}".encode()) & 0x7FFFFFFF


def _vector(n):
    """``[n]`` for a Python int, ``reshape(n, [1])`` for a scalar tensor."""
    return [n] if not isinstance(n, Tensor) else A.reshape(n, [1])


def _n_shape(n, batch):
    return concat_shapes(_vector(n), batch)


def _log_ndtr(z):
    """``log Phi(z)``: from erfc where that is accurate, from the asymptotic series in the
    far left tail (below -20 in float64, -10 in float32), as ``log1p(-Phi(-z))`` on the
    right."""
    lower = -20.0 if z.dtype == _dt.float64 else -10.0
    half_sqrt2 = 1.0 / math.sqrt(2.0)
    mid = M.minimum(M.maximum(z, lower), 0.0)
    hi = M.maximum(z, 0.0)
    lo = M.minimum(z, lower)
    mid_v = M.log(0.5 * erfc(-mid * half_sqrt2))
    hi_v = M.log1p(-0.5 * erfc(hi * half_sqrt2))
    z2 = M.square(lo)
    series = A.ones_like(lo)
    term = A.ones_like(lo)
    for k in range(1, 9):
        term = term * (-(2.0 * k - 1.0)) / z2
        series = series + term
    lo_v = -0.5 * z2 - M.log(-lo) - 0.5 * math.log(2.0 * math.pi) + M.log(series)
    return M.where(z < lower, lo_v, M.where(z > 0.0, hi_v, mid_v))


class _FloatParamsDistribution(Distribution):
    """The parts shared by the distributions here whose parameters, named in ``_params``,
    are float tensors of one dtype stored as ``_<name>``, with the broadcast of their shapes
    as the batch shape."""

    _params: tuple[str, ...] = ()

    def _init_params(self, name, parameters, validate_args, allow_nan_stats, checks):
        """Converts the parameters (``parameters[k]`` for ``k`` in ``_params``) under the
        ``name`` scope, with ``checks(*tensors)`` embedded when ``validate_args``, and
        initializes the (fully reparameterized) distribution with them as graph parents."""
        values = [parameters[k] for k in self._params]
        with name_scope(name, values=values) as name:
            converted = float_params(_dt.float32, **dict(zip(self._params, values)))
            tensors = embed_checks(validate_args, lambda: checks(*converted), *converted)
            for k, t in zip(self._params, tensors):
                setattr(self, "_" + k, t)
        Distribution.__init__(self, dtype=tensors[0].dtype,
                              reparameterization_type=FULLY_REPARAMETERIZED,
                              validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                              parameters=parameters, graph_parents=list(tensors), name=name)

    @classmethod
    def _param_shapes(cls, sample_shape):
        return {k: sample_shape for k in cls._params}

    def _param_tensors(self):
        return [getattr(self, "_" + k) for k in self._params]

    def _batch_shape(self):
        return batch_shape_of(*self._param_tensors())

    def _batch_shape_tensor(self):
        return batch_shape_tensor_of(*self._param_tensors())


# ----- Normal -------------------------------------------------------------------------------------
def _positive_scale(loc, scale):
    return [C.assert_positive(scale, message="scale must be positive")]


class Normal(_FloatParamsDistribution):
    """The Normal distribution with mean ``loc`` and standard deviation ``scale``."""

    _params = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=False, allow_nan_stats=True, name="Normal"):
        parameters = dict(locals())
        self._init_params(name, parameters, validate_args, allow_nan_stats, _positive_scale)

    @property
    def loc(self):
        """Distribution parameter for the mean."""
        return self._loc

    @property
    def scale(self):
        """Distribution parameter for standard deviation."""
        return self._scale

    def _sample_n(self, n, seed=None):
        shape = _n_shape(n, self._batch_shape_list_or_tensor())
        sampled = random_normal(shape, mean=0.0, stddev=1.0, dtype=self.dtype, seed=seed)
        return sampled * self._scale + self._loc

    def _z(self, x):
        with name_scope("standardize"):
            return (x - self._loc) / self._scale

    def _log_prob(self, x):
        return -0.5 * M.square(self._z(x)) - (0.5 * math.log(2.0 * math.pi) + M.log(self._scale))

    def _cdf(self, x):
        return 0.5 * erfc(-self._z(x) * (1.0 / math.sqrt(2.0)))

    def _log_cdf(self, x):
        return _log_ndtr(self._z(x))

    def _survival_function(self, x):
        return 0.5 * erfc(self._z(x) * (1.0 / math.sqrt(2.0)))

    def _log_survival_function(self, x):
        return _log_ndtr(-self._z(x))

    def _quantile(self, p):
        return self._loc + self._scale * ndtri(p)

    def _entropy(self):
        scale = self._scale * A.ones_like(self._loc)
        return 0.5 * math.log(2.0 * math.pi * math.e) + M.log(scale)

    def _mean(self):
        return self._loc * A.ones_like(self._scale)

    def _stddev(self):
        return self._scale * A.ones_like(self._loc)

    def _mode(self):
        return self._mean()


@RegisterKL(Normal, Normal)
def _kl_normal_normal(n_a, n_b, name=None):
    with name_scope(name, "kl_normal_normal", [n_a.loc, n_b.loc]):
        ratio = M.square(n_a.scale / n_b.scale)
        return (M.square(n_a.loc - n_b.loc) / (2.0 * M.square(n_b.scale))
                + 0.5 * (ratio - 1.0 - M.log(ratio)))


# ----- Uniform ------------------------------------------------------------------------------------
class Uniform(_FloatParamsDistribution):
    """The uniform distribution on ``[low, high)``."""

    _params = ("low", "high")

    def __init__(self, low=0.0, high=1.0, validate_args=False, allow_nan_stats=True,
                 name="Uniform"):
        parameters = dict(locals())
        self._init_params(name, parameters, validate_args, allow_nan_stats, lambda low, high: [
            C.assert_less(low, high, message="uniform not defined when low >= high.")])

    @property
    def low(self):
        """Lower boundary of the output interval."""
        return self._low

    @property
    def high(self):
        """Upper boundary of the output interval."""
        return self._high

    def range(self, name="range"):
        """``high - low``."""
        with self._name_scope(name):
            return self._high - self._low

    def _sample_n(self, n, seed=None):
        shape = _n_shape(n, self._batch_shape_list_or_tensor())
        u = random_uniform(shape, dtype=self.dtype, seed=seed)
        return self._low + (self._high - self._low) * u

    def _prob(self, x):
        ones = ones_of(x, self._low, self._high)
        inside = M.logical_and(x >= self._low * ones, x < self._high * ones)
        density = ones / (self._high - self._low)
        return M.where(M.is_nan(x * ones), x * ones,
                       M.where(inside, density, A.zeros_like(density)))

    def _cdf(self, x):
        ones = ones_of(x, self._low, self._high)
        x, low, high = x * ones, self._low * ones, self._high * ones
        inner = (x - low) / (high - low)
        return M.where(x < low, A.zeros_like(x), M.where(x >= high, ones, inner))

    def _entropy(self):
        return M.log(self._high - self._low)

    def _mean(self):
        return (self._low + self._high) / 2.0

    def _variance(self):
        return M.square(self._high - self._low) / 12.0

    def _stddev(self):
        return (self._high - self._low) / math.sqrt(12.0)


# ----- Laplace ------------------------------------------------------------------------------------
class Laplace(_FloatParamsDistribution):
    """The Laplace distribution: density ``exp(-|x - loc| / scale) / (2 scale)``."""

    _params = ("loc", "scale")

    def __init__(self, loc, scale, validate_args=False, allow_nan_stats=True, name="Laplace"):
        parameters = dict(locals())
        self._init_params(name, parameters, validate_args, allow_nan_stats, _positive_scale)

    @property
    def loc(self):
        """Distribution parameter for the location."""
        return self._loc

    @property
    def scale(self):
        """Distribution parameter for scale."""
        return self._scale

    def _sample_n(self, n, seed=None):
        shape = _n_shape(n, self._batch_shape_list_or_tensor())
        low = np.nextafter(self.dtype.np.type(-1.0), self.dtype.np.type(0.0))
        u = random_uniform(shape, minval=low, maxval=1.0, dtype=self.dtype, seed=seed)
        return self._loc - self._scale * M.sign(u) * M.log1p(-M.abs(u))

    def _log_prob(self, x):
        return -math.log(2.0) - M.log(self._scale) - M.abs(x - self._loc) / self._scale

    def _cdf(self, x):
        z = (x - self._loc) / self._scale
        return 0.5 - 0.5 * M.sign(z) * M.expm1(-M.abs(z))

    def _log_cdf(self, x):
        z = (x - self._loc) / self._scale
        neg = math.log(0.5) + M.minimum(z, 0.0)          # z <= 0: log(exp(z) / 2)
        pos = M.log1p(-0.5 * M.exp(-M.maximum(z, 0.0)))  # z > 0: log(1 - exp(-z) / 2)
        return M.where(z <= 0.0, neg, pos)

    def _log_survival_function(self, x):
        z = (x - self._loc) / self._scale
        pos = math.log(0.5) - M.maximum(z, 0.0)
        neg = M.log1p(-0.5 * M.exp(M.minimum(z, 0.0)))
        return M.where(z >= 0.0, pos, neg)

    def _entropy(self):
        scale = self._scale * A.ones_like(self._loc)
        return math.log(2.0) + 1.0 + M.log(scale)

    def _mean(self):
        return self._loc * A.ones_like(self._scale)

    def _stddev(self):
        return math.sqrt(2.0) * self._scale * A.ones_like(self._loc)

    def _mode(self):
        return self._mean()


# ----- Gamma and Exponential ----------------------------------------------------------------------
class Gamma(_FloatParamsDistribution):
    """The Gamma distribution with ``concentration`` (shape) and ``rate`` (inverse scale):
    density ``rate^c x^(c-1) exp(-rate x) / Gamma(c)``, mean ``concentration / rate``."""

    _params = ("concentration", "rate")

    def __init__(self, concentration, rate, validate_args=False, allow_nan_stats=True,
                 name="Gamma"):
        parameters = dict(locals())
        self._init_params(name, parameters, validate_args, allow_nan_stats,
                          lambda c, r: [C.assert_positive(c), C.assert_positive(r)])

    @property
    def concentration(self):
        """Concentration parameter."""
        return self._concentration

    @property
    def rate(self):
        """Rate parameter."""
        return self._rate

    def _sample_n(self, n, seed=None):
        shape = _vector(n)
        return random_gamma(shape, self._concentration, beta=self._rate, dtype=self.dtype,
                            seed=seed)

    def _log_prob(self, x):
        c, r = self._concentration, self._rate
        return (c - 1.0) * M.log(x) - r * x + c * M.log(r) - lgamma(c)

    def _cdf(self, x):
        return igamma(self._concentration, self._rate * x)

    def _survival_function(self, x):
        return igammac(self._concentration, self._rate * x)

    def _entropy(self):
        c, r = self._concentration, self._rate
        return c - M.log(r) + lgamma(c) + (1.0 - c) * digamma(c)

    def _mean(self):
        return self._concentration / self._rate

    def _variance(self):
        return self._concentration / M.square(self._rate)

    def _stddev(self):
        return M.sqrt(self._concentration) / self._rate

    def _mode(self):
        mode = (self._concentration - 1.0) / self._rate
        return nan_unless(self.allow_nan_stats, mode,
                          self._concentration * A.ones_like(mode) >= 1.0,
                          "mode not defined when any concentration < 1")


@RegisterKL(Gamma, Gamma)
def _kl_gamma_gamma(g0, g1, name=None):
    with name_scope(name, "kl_gamma_gamma", [g0.concentration, g1.concentration]):
        c0, r0, c1, r1 = g0.concentration, g0.rate, g1.concentration, g1.rate
        return ((c0 - c1) * digamma(c0) + lgamma(c1) - lgamma(c0)
                + c1 * M.log(r0) - c1 * M.log(r1) + c0 * (r1 / r0 - 1.0))


class Exponential(Gamma):
    """The Exponential distribution with ``rate``: ``Gamma(concentration=1, rate)``."""

    def __init__(self, rate, validate_args=False, allow_nan_stats=True, name="Exponential"):
        parameters = dict(locals())
        with name_scope(name, values=[rate]) as name:
            rate = float_params(_dt.float32, rate=rate)
            self._rate_only = rate
            super().__init__(concentration=A.ones_like(rate), rate=rate,
                             validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                             name=name)
        self._parameters = {k: v for k, v in parameters.items()
                            if k not in ("self", "__class__")}

    @staticmethod
    def _param_shapes(sample_shape):
        return {"rate": sample_shape}

    @property
    def rate(self):
        return self._rate

    def _sample_n(self, n, seed=None):
        shape = _n_shape(n, self._batch_shape_list_or_tensor())
        tiny = np.finfo(self.dtype.np).tiny
        u = random_uniform(shape, minval=tiny, maxval=1.0, dtype=self.dtype, seed=seed)
        return -M.log(u) / self._rate

    def _log_prob(self, x):
        return M.log(self._rate) - self._rate * x

    def _cdf(self, x):
        return -M.expm1(-self._rate * x)

    def _log_survival_function(self, x):
        return -self._rate * x


# ----- Beta ---------------------------------------------------------------------------------------
def _lbeta(a, b):
    return lgamma(a) + lgamma(b) - lgamma(a + b)


class Beta(Distribution):
    """The Beta distribution on ``(0, 1)``: density
    ``x^(c1-1) (1-x)^(c0-1) / B(c1, c0)`` with ``concentration1`` (alpha) and
    ``concentration0`` (beta)."""

    def __init__(self, concentration1=None, concentration0=None, validate_args=False,
                 allow_nan_stats=True, name="Beta"):
        parameters = dict(locals())
        with name_scope(name, values=[concentration1, concentration0]) as name:
            c1, c0 = float_params(_dt.float32, concentration1=concentration1,
                                  concentration0=concentration0)
            self._concentration1, self._concentration0 = embed_checks(
                validate_args, lambda: [C.assert_positive(c1, message="Concentration parameter "
                                                          "must be positive."),
                                        C.assert_positive(c0, message="Concentration parameter "
                                                          "must be positive.")], c1, c0)
            self._total_concentration = self._concentration1 + self._concentration0
        super().__init__(dtype=self._total_concentration.dtype,
                         reparameterization_type=FULLY_REPARAMETERIZED,
                         validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                         parameters=parameters,
                         graph_parents=[self._concentration1, self._concentration0],
                         name=name)

    @staticmethod
    def _param_shapes(sample_shape):
        return {"concentration1": sample_shape, "concentration0": sample_shape}

    @property
    def concentration1(self):
        """Concentration parameter associated with a ``1`` outcome."""
        return self._concentration1

    @property
    def concentration0(self):
        """Concentration parameter associated with a ``0`` outcome."""
        return self._concentration0

    @property
    def total_concentration(self):
        """Sum of concentration parameters."""
        return self._total_concentration

    def _batch_shape(self):
        return self._total_concentration.shape

    def _batch_shape_tensor(self):
        return A.shape(self._total_concentration)

    def _check_x(self, x):
        if not self.validate_args:
            return x
        from flowgrad.framework.graph import control_dependencies  # noqa: PLC0415
        with control_dependencies([C.assert_positive(x, message="sample must be positive"),
                                   C.assert_less(x, A.ones_like(x),
                                                 message="sample must be less than `1`.")]):
            return A.identity(x)

    def _sample_n(self, n, seed=None):
        ones = A.ones_like(self._total_concentration)
        shape = _vector(n)
        g1 = random_gamma(shape, self._concentration1 * ones, dtype=self.dtype, seed=seed)
        g0 = random_gamma(shape, self._concentration0 * ones, dtype=self.dtype,
                          seed=derive_seed(seed, "beta"))
        return g1 / (g1 + g0)

    def _log_prob(self, x):
        x = self._check_x(x)
        c1, c0 = self._concentration1, self._concentration0
        return (c1 - 1.0) * M.log(x) + (c0 - 1.0) * M.log1p(-x) - _lbeta(c1, c0)

    def _cdf(self, x):
        x = self._check_x(x)
        ones = ones_of(x, self._total_concentration)
        return betainc(self._concentration1 * ones, self._concentration0 * ones, x * ones)

    def _entropy(self):
        c1, c0, t = self._concentration1, self._concentration0, self._total_concentration
        return (_lbeta(c1, c0) - (c1 - 1.0) * digamma(c1) - (c0 - 1.0) * digamma(c0)
                + (t - 2.0) * digamma(t))

    def _mean(self):
        return self._concentration1 / self._total_concentration

    def _variance(self):
        m = self._mean()
        return m * (1.0 - m) / (1.0 + self._total_concentration)

    def _mode(self):
        mode = (self._concentration1 - 1.0) / (self._total_concentration - 2.0)
        defined = M.logical_and(self._concentration1 > 1.0, self._concentration0 > 1.0)
        return nan_unless(self.allow_nan_stats, mode, defined,
                          "Mode undefined for concentration1 <= 1 or concentration0 <= 1.")


@RegisterKL(Beta, Beta)
def _kl_beta_beta(d1, d2, name=None):
    with name_scope(name, "kl_beta_beta", [d1.total_concentration, d2.total_concentration]):
        a1, b1, t1 = d1.concentration1, d1.concentration0, d1.total_concentration
        a2, b2, t2 = d2.concentration1, d2.concentration0, d2.total_concentration
        return (_lbeta(a2, b2) - _lbeta(a1, b1) + (a1 - a2) * digamma(a1)
                + (b1 - b2) * digamma(b1) + (t2 - t1) * digamma(t1))


# ----- StudentT -----------------------------------------------------------------------------------
class StudentT(_FloatParamsDistribution):
    """Student's t distribution with ``df`` degrees of freedom, ``loc`` and ``scale``."""

    _params = ("df", "loc", "scale")

    def __init__(self, df, loc, scale, validate_args=False, allow_nan_stats=True,
                 name="StudentT"):
        parameters = dict(locals())
        self._init_params(name, parameters, validate_args, allow_nan_stats,
                          lambda df, loc, scale: [C.assert_positive(df)])

    @property
    def df(self):
        """Degrees of freedom."""
        return self._df

    @property
    def loc(self):
        """Locations of these Student's t distribution(s)."""
        return self._loc

    @property
    def scale(self):
        """Scaling factors of these Student's t distribution(s)."""
        return self._scale

    def _sample_n(self, n, seed=None):
        batch = self._batch_shape_list_or_tensor()
        normal = random_normal(_n_shape(n, batch), dtype=self.dtype, seed=seed)
        df = self._df * ones_of(self._loc, self._scale)
        shape = _vector(n)
        gamma = random_gamma(shape, 0.5 * df, beta=0.5, dtype=self.dtype,
                             seed=derive_seed(seed, "student_t"))
        return normal * M.rsqrt(gamma / df) * self._scale + self._loc

    def _log_prob(self, x):
        y = (x - self._loc) / self._scale
        df = self._df
        return (-0.5 * (df + 1.0) * M.log1p(M.square(y) / df) - M.log(M.abs(self._scale))
                - (0.5 * M.log(df) + 0.5 * math.log(math.pi) + lgamma(0.5 * df)
                   - lgamma(0.5 * (df + 1.0))))

    def _cdf(self, x):
        y = (x - self._loc) / self._scale
        ones = ones_of(y, self._df)
        y, df = y * ones, self._df * ones
        neg_cdf = 0.5 * betainc(0.5 * df, 0.5 * ones, df / (M.square(y) + df))
        return M.where(y < 0.0, neg_cdf, 1.0 - neg_cdf)

    def _entropy(self):
        v = self._df * ones_of(self._loc, self._scale)
        u = v + 1.0
        return (0.5 * u * (digamma(0.5 * u) - digamma(0.5 * v)) + 0.5 * M.log(v)
                + _lbeta(0.5 * v, 0.5 * A.ones_like(v)) + M.log(M.abs(self._scale)))

    def _mean(self):
        mean = self._loc * ones_of(self._df, self._scale)
        return nan_unless(self.allow_nan_stats, mean, self._df * A.ones_like(mean) > 1.0,
                          "mean not defined for components of df <= 1")

    def _variance(self):
        ones = ones_of(self._df, self._loc, self._scale)
        df = self._df * ones
        denom = M.where(df > 2.0, df - 2.0, ones)
        var = M.square(self._scale) * ones * df / denom
        inf = convert_to_tensor(np.inf, dtype=self.dtype) * ones
        var = M.where(df > 2.0, var, inf)
        return nan_unless(self.allow_nan_stats, var, df > 1.0,
                          "variance not defined for components of df <= 1")

    def _mode(self):
        return self._loc * ones_of(self._df, self._scale)
