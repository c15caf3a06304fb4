"""``tf.distributions.Distribution``: the base class of TF1's probability distributions.

A distribution holds parameter tensors of a common *batch shape*; each draw has the
*event shape* (scalar for univariate distributions, ``[K]`` for Categorical-like vectors).
``sample(sample_shape)`` returns ``sample_shape + batch_shape + event_shape``. Subclasses
implement the underscored methods (``_log_prob``, ``_sample_n``, ...); the public methods
convert arguments, open name scopes and fall back on each other (``prob`` from
``log_prob`` and back, ``stddev`` from ``variance`` and back, ``survival_function`` from
``cdf``) as TF1 does.
"""

from __future__ import annotations

import contextlib

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, control_dependencies, name_scope
from flowgrad.framework.registry import constant_value, convert_to_tensor
from flowgrad.framework.shapes import TensorShape, as_shape
from flowgrad.ops import array_ops as A
from flowgrad.ops import check_ops as C
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.math_extra_ops import broadcast_dynamic_shape, broadcast_static_shape

__all__ = ["Distribution", "ReparameterizationType", "FULLY_REPARAMETERIZED",
           "NOT_REPARAMETERIZED"]


class ReparameterizationType:
    """Whether samples are differentiable functions of the parameters
    (``FULLY_REPARAMETERIZED``) or not (``NOT_REPARAMETERIZED``). Compared by identity."""

    def __init__(self, rep_type: str):
        self._rep_type = rep_type

    def __repr__(self):
        return f"<Reparameteriation Type: {self._rep_type}>"

    def __eq__(self, other):
        return self is other

    def __hash__(self):
        return id(self)


FULLY_REPARAMETERIZED = ReparameterizationType("FULLY_REPARAMETERIZED")
NOT_REPARAMETERIZED = ReparameterizationType("NOT_REPARAMETERIZED")


# ----- shape helpers shared by the distributions --------------------------------------------------
def static_or_dynamic(static: TensorShape, dynamic):
    """A Python list when ``static`` is fully known, else the int32 tensor ``dynamic()``."""
    if static.is_fully_defined():
        return static.as_list()
    return dynamic()


def concat_shapes(*parts):
    """Concatenates shape parts (Python lists or int32 vectors): a Python list when every
    part is known at build time (so the result keeps a static shape), else a tensor."""
    lists = []
    for p in parts:
        if isinstance(p, Tensor):
            v = constant_value(p)
            if v is None:
                return A.concat([A.reshape(M.cast(q, _dt.int32), [-1]) if isinstance(q, Tensor)
                                 else convert_to_tensor(np.asarray(q, np.int32).reshape(-1))
                                 for q in parts], 0)
            p = np.asarray(v).reshape(-1).tolist()
        lists.extend(int(d) for d in np.asarray(p, np.int64).reshape(-1))
    return lists


def batch_shape_of(*params) -> TensorShape:
    shape = TensorShape([])
    for p in params:
        shape = broadcast_static_shape(shape, p.shape)
    return shape


def batch_shape_tensor_of(*params):
    shape = A.shape(params[0])
    for p in params[1:]:
        shape = broadcast_dynamic_shape(shape, A.shape(p))
    return shape


def embed_checks(validate_args: bool, checks, *tensors):
    """``tensors`` passed through ``tf.identity`` under control dependencies on ``checks()``
    (the ``tf.Assert``-style parameter checks) when ``validate_args``; else unchanged."""
    if not validate_args:
        return tensors
    with control_dependencies(checks()):
        return tuple(A.identity(t) for t in tensors)


def nan_unless(allow_nan_stats: bool, value, is_defined, message: str):
    """``value`` where ``is_defined``, NaN elsewhere (``allow_nan_stats``) or a run-time
    ``InvalidArgumentError`` with ``message`` (``allow_nan_stats=False``)."""
    if allow_nan_stats:
        nan = convert_to_tensor(np.nan, dtype=value.dtype)
        return M.where(is_defined, value, A.fill(A.shape(value), nan))
    with control_dependencies([C.Assert(R.reduce_all(is_defined), [message])]):
        return A.identity(value)


class _DistributionMeta(type):
    """Copies the public methods' docstrings to subclasses (as TF1's metaclass does)."""

    def __new__(mcs, name, bases, attrs):
        cls = super().__new__(mcs, name, bases, attrs)
        for base in cls.__mro__[1:]:
            for k, v in vars(base).items():
                if callable(v) and not k.startswith("_") and k in attrs and \
                        attrs[k].__doc__ is None and v.__doc__:
                    attrs[k].__doc__ = v.__doc__
        return cls


def _overrides(obj, method: str) -> bool:
    return getattr(type(obj), method) is not getattr(Distribution, method)


class Distribution(metaclass=_DistributionMeta):
    """A generic probability distribution (TF1's ``tf.distributions.Distribution``)."""

    def __init__(self, dtype, reparameterization_type, validate_args, allow_nan_stats,
                 parameters=None, graph_parents=None, name=None):
        if not isinstance(reparameterization_type, ReparameterizationType):
            raise TypeError(f"reparameterization_type must be a ReparameterizationType, got "
                            f"{reparameterization_type!r}")
        graph_parents = [] if graph_parents is None else graph_parents
        for i, t in enumerate(graph_parents):
            if t is None or not isinstance(t, Tensor):
                raise ValueError(f"Graph parent item {i} is not a Tensor; {t}.")
        if not name or name[-1] != "/":      # not yet a scope: open a unique one
            with name_scope(name or type(self).__name__) as name:
                pass
        self._dtype = dtype
        self._reparameterization_type = reparameterization_type
        self._allow_nan_stats = bool(allow_nan_stats)
        self._validate_args = bool(validate_args)
        self._parameters = {k: v for k, v in dict(parameters or {}).items()
                            if k not in ("self", "__class__") and not k.startswith("__")}
        self._graph_parents = list(graph_parents)
        self._name = name

    # ----- properties ------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Name prepended to all ops created by this distribution."""
        return self._name

    @property
    def dtype(self):
        """The ``DType`` of the ``Tensor``\\ s handled by this distribution."""
        return self._dtype

    @property
    def parameters(self) -> dict:
        """The dictionary of the arguments the distribution was constructed with."""
        return dict(self._parameters)

    @property
    def reparameterization_type(self) -> ReparameterizationType:
        """``FULLY_REPARAMETERIZED`` or ``NOT_REPARAMETERIZED``."""
        return self._reparameterization_type

    @property
    def allow_nan_stats(self) -> bool:
        """When True, undefined statistics (a mode that does not exist...) are NaN; when
        False they raise at run time."""
        return self._allow_nan_stats

    @property
    def validate_args(self) -> bool:
        """Whether the parameters (and arguments) are checked at run time."""
        return self._validate_args

    @property
    def graph_parents(self) -> list:
        return list(self._graph_parents)

    def copy(self, **override_parameters_kwargs):
        """A new distribution of the same type, with some constructor arguments replaced."""
        parameters = dict(self.parameters, **override_parameters_kwargs)
        return type(self)(**parameters)

    @classmethod
    def param_shapes(cls, sample_shape, name="DistributionParamShapes"):
        """The shapes of the constructor's parameters that give samples of
        ``sample_shape`` from a call to ``sample()``."""
        with name_scope(name):
            return cls._param_shapes(convert_to_tensor(sample_shape, dtype=_dt.int32,
                                                       name="sample_shape"))

    @classmethod
    def param_static_shapes(cls, sample_shape):
        """``param_shapes`` with static (``TensorShape``) values."""
        if isinstance(sample_shape, TensorShape):
            if not sample_shape.is_fully_defined():
                raise ValueError("TensorShape sample_shape must be fully defined")
            sample_shape = sample_shape.as_list()
        params = cls.param_shapes(sample_shape)
        out = {}
        for k, v in params.items():
            value = constant_value(v)
            if value is None:
                raise ValueError(f"sample_shape must be a fully-defined TensorShape or list/"
                                 f"tuple, got {sample_shape}")
            out[k] = TensorShape(np.asarray(value).tolist())
        return out

    @classmethod
    def _param_shapes(cls, sample_shape):
        raise NotImplementedError(f"_param_shapes not implemented: {cls.__name__}")

    # ----- shapes ----------------------------------------------------------------------
    def batch_shape_tensor(self, name="batch_shape_tensor"):
        """The batch shape as a 1-D int32 tensor."""
        with self._name_scope(name):
            static = self.batch_shape
            if static.is_fully_defined():
                return convert_to_tensor(static.as_list(), dtype=_dt.int32, name="batch_shape")
            return self._batch_shape_tensor()

    @property
    def batch_shape(self) -> TensorShape:
        """The (static) shape of the batch of distributions."""
        return as_shape(self._batch_shape())

    def event_shape_tensor(self, name="event_shape_tensor"):
        """The event shape as a 1-D int32 tensor."""
        with self._name_scope(name):
            static = self.event_shape
            if static.is_fully_defined():
                return convert_to_tensor(static.as_list(), dtype=_dt.int32, name="event_shape")
            return self._event_shape_tensor()

    @property
    def event_shape(self) -> TensorShape:
        """The (static) shape of one draw."""
        return as_shape(self._event_shape())

    def _batch_shape(self):
        return TensorShape(None)

    def _batch_shape_tensor(self):
        raise NotImplementedError(f"batch_shape_tensor is not implemented: {type(self).__name__}")

    def _event_shape(self):
        return TensorShape([])

    def _event_shape_tensor(self):
        return convert_to_tensor([], dtype=_dt.int32)

    def is_scalar_event(self, name="is_scalar_event"):
        """Whether the event shape is ``[]`` (a Python bool when known statically)."""
        with self._name_scope(name):
            return self._is_scalar(self.event_shape, self.event_shape_tensor)

    def is_scalar_batch(self, name="is_scalar_batch"):
        """Whether the batch shape is ``[]`` (a Python bool when known statically)."""
        with self._name_scope(name):
            return self._is_scalar(self.batch_shape, self.batch_shape_tensor)

    @staticmethod
    def _is_scalar(static, dynamic):
        if static.ndims is not None:
            return static.ndims == 0
        return M.equal(A.size(dynamic()), 0)

    # ----- sampling --------------------------------------------------------------------
    def _batch_shape_list_or_tensor(self):
        return static_or_dynamic(self.batch_shape, self._batch_shape_tensor)

    def sample(self, sample_shape=(), seed=None, name="sample"):
        """Draws samples of shape ``sample_shape + batch_shape + event_shape``; a
        reparameterized distribution's samples are differentiable in its parameters."""
        with self._name_scope(name):
            static_sample = None
            if not isinstance(sample_shape, Tensor):
                static_sample = [int(d) for d in np.asarray(sample_shape, np.int64).reshape(-1)]
            else:
                v = constant_value(sample_shape)
                if v is not None:
                    static_sample = [int(d) for d in np.asarray(v).reshape(-1)]
            if static_sample is not None:
                n = int(np.prod(static_sample, dtype=np.int64))
                samples = self._sample_n(n, seed)
                samples.set_shape(TensorShape([n]).concatenate(self.batch_shape)
                                  .concatenate(self.event_shape))
                rest = samples.shape[1:]
                if rest.is_fully_defined():
                    return A.reshape(samples, static_sample + rest.as_list())
                final = concat_shapes(static_sample, A.shape(samples)[1:])
                out = A.reshape(samples, final)
                out.set_shape(TensorShape(static_sample).concatenate(rest))
                return out
            shape_t = A.reshape(M.cast(sample_shape, _dt.int32), [-1], name="sample_shape")
            n = R.reduce_prod(shape_t)
            samples = self._sample_n(n, seed)
            samples.set_shape(TensorShape([None]).concatenate(self.batch_shape)
                              .concatenate(self.event_shape))
            out = A.reshape(samples, A.concat([shape_t, A.shape(samples)[1:]], 0))
            rank = shape_t.shape.as_list()[0]
            out.set_shape(TensorShape([None] * rank).concatenate(samples.shape[1:])
                          if rank is not None else TensorShape(None))
            return out

    def _sample_n(self, n, seed=None):
        raise NotImplementedError(f"sample_n is not implemented: {type(self).__name__}")

    # ----- densities and distribution functions --------------------------------------
    def _convert(self, value):
        """``value`` as a tensor, preferably of the distribution's dtype (as TF1's
        ``preferred_dtype``: a value that does not fit it keeps its own)."""
        if isinstance(value, Tensor):
            return value
        try:
            return convert_to_tensor(value, dtype=self.dtype, name="value")
        except (TypeError, ValueError):
            return convert_to_tensor(value, name="value")

    def _either(self, public: str, direct: str, other: str, convert, *args, fallback=None):
        """``self.<direct>(*args)`` when the subclass defines it, else ``convert`` of
        ``self.<other>(*args)``, else ``fallback()``; without one, ``public`` is not
        implemented."""
        if _overrides(self, direct):
            return getattr(self, direct)(*args)
        if _overrides(self, other):
            return convert(getattr(self, other)(*args))
        if fallback is not None:
            return fallback()
        raise NotImplementedError(f"{public} is not implemented: {type(self).__name__}")

    def log_prob(self, value, name="log_prob"):
        """Log probability density/mass function at ``value``."""
        with self._name_scope(name):
            return self._either("log_prob", "_log_prob", "_prob", M.log, self._convert(value))

    def prob(self, value, name="prob"):
        """Probability density/mass function at ``value``."""
        with self._name_scope(name):
            return self._either("prob", "_prob", "_log_prob", M.exp, self._convert(value))

    def log_cdf(self, value, name="log_cdf"):
        """Log cumulative distribution function, ``log P[X <= x]``."""
        with self._name_scope(name):
            return self._either("log_cdf", "_log_cdf", "_cdf", M.log, self._convert(value))

    def cdf(self, value, name="cdf"):
        """Cumulative distribution function, ``P[X <= x]``."""
        with self._name_scope(name):
            return self._either("cdf", "_cdf", "_log_cdf", M.exp, self._convert(value))

    def log_survival_function(self, value, name="log_survival_function"):
        """``log P[X > x]``, accurate where the cdf is near 1 when the distribution
        defines it directly."""
        with self._name_scope(name):
            value = self._convert(value)
            return self._either("log_survival_function", "_log_survival_function",
                                "_survival_function", M.log, value,
                                fallback=lambda: M.log1p(-self.cdf(value)))

    def survival_function(self, value, name="survival_function"):
        """``P[X > x] = 1 - cdf(x)``."""
        with self._name_scope(name):
            value = self._convert(value)
            return self._either("survival_function", "_survival_function",
                                "_log_survival_function", M.exp, value,
                                fallback=lambda: 1.0 - self.cdf(value))

    # ----- statistics ------------------------------------------------------------------
    def entropy(self, name="entropy"):
        """Shannon entropy in nats."""
        with self._name_scope(name):
            return self._entropy()

    def mean(self, name="mean"):
        """Mean."""
        with self._name_scope(name):
            return self._mean()

    def quantile(self, value, name="quantile"):
        """Quantile function (inverse cdf)."""
        with self._name_scope(name):
            return self._quantile(self._convert(value))

    def variance(self, name="variance"):
        """Variance, ``E[(X - E[X])**2]``."""
        with self._name_scope(name):
            return self._either("variance", "_variance", "_stddev", M.square)

    def stddev(self, name="stddev"):
        """Standard deviation, ``sqrt(variance)``."""
        with self._name_scope(name):
            return self._either("stddev", "_stddev", "_variance", M.sqrt)

    def covariance(self, name="covariance"):
        """Covariance; for a scalar event the variance, for a vector event a matrix of shape
        ``batch_shape + [k, k]``."""
        with self._name_scope(name):
            if _overrides(self, "_covariance"):
                return self._covariance()
            if self.event_shape.ndims == 0:
                return self.variance()
            raise NotImplementedError(f"covariance is not implemented: {type(self).__name__}")

    def mode(self, name="mode"):
        """Mode (a most likely value)."""
        with self._name_scope(name):
            return self._mode()

    def cross_entropy(self, other, name="cross_entropy"):
        """``H[self, other] = -E_self[log other(X)]``, as ``entropy + KL[self || other]``."""
        from flowgrad.distributions.kullback_leibler import kl_divergence  # noqa: PLC0415
        with self._name_scope(name):
            return self._entropy() + kl_divergence(self, other)

    def kl_divergence(self, other, name="kl_divergence"):
        """``KL[self || other]``, from the registered pair (see ``RegisterKL``)."""
        from flowgrad.distributions.kullback_leibler import kl_divergence  # noqa: PLC0415
        with self._name_scope(name):
            return kl_divergence(self, other)

    # the methods a subclass defines (base versions mark "not defined" for the fallbacks)
    def _log_prob(self, value):
        raise NotImplementedError(f"log_prob is not implemented: {type(self).__name__}")

    def _prob(self, value):
        raise NotImplementedError(f"prob is not implemented: {type(self).__name__}")

    def _log_cdf(self, value):
        raise NotImplementedError(f"log_cdf is not implemented: {type(self).__name__}")

    def _cdf(self, value):
        raise NotImplementedError(f"cdf is not implemented: {type(self).__name__}")

    def _log_survival_function(self, value):
        raise NotImplementedError(f"log_survival_function is not implemented: "
                                  f"{type(self).__name__}")

    def _survival_function(self, value):
        raise NotImplementedError(f"survival_function is not implemented: "
                                  f"{type(self).__name__}")

    def _entropy(self):
        raise NotImplementedError(f"entropy is not implemented: {type(self).__name__}")

    def _mean(self):
        raise NotImplementedError(f"mean is not implemented: {type(self).__name__}")

    def _quantile(self, value):
        raise NotImplementedError(f"quantile is not implemented: {type(self).__name__}")

    def _variance(self):
        raise NotImplementedError(f"variance is not implemented: {type(self).__name__}")

    def _stddev(self):
        raise NotImplementedError(f"stddev is not implemented: {type(self).__name__}")

    def _covariance(self):
        raise NotImplementedError(f"covariance is not implemented: {type(self).__name__}")

    def _mode(self):
        raise NotImplementedError(f"mode is not implemented: {type(self).__name__}")

    # ----- naming ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _name_scope(self, name=None):
        with name_scope(self._name):
            with name_scope(name) as s:
                yield s

    def __str__(self):
        batch = self.batch_shape
        event = self.event_shape
        b = "" if batch.ndims is None else f" batch_shape={tuple(batch.as_list())}"
        e = "" if event.ndims is None else f" event_shape={tuple(event.as_list())}"
        return (f"tf.distributions.{type(self).__name__}(\"{self.name}\"{b}{e}, "
                f"dtype={self.dtype.name})")

    def __repr__(self):
        return (f"<tf.distributions.{type(self).__name__} '{self.name}' "
                f"batch_shape={self.batch_shape} event_shape={self.event_shape} "
                f"dtype={self.dtype.name}>")
