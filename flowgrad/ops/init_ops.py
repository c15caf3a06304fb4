"""Initializers (``tf.*_initializer``, ``tf.initializers.*``): callables that build the
initial-value tensor of a variable: ``init(shape, dtype=None, partition_info=None)``."""

from __future__ import annotations

import math

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.registry import constant
from flowgrad.framework.shapes import as_shape
from flowgrad.ops import array_ops as A
from flowgrad.ops import state_ops as S


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype, partition_info)``."""

    dtype = None

    def _dtype(self, dtype):
        return _dt.as_dtype(dtype or self.dtype or _dt.float32)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def __init__(self, dtype=_dt.float32):
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return A.zeros(shape, self._dtype(dtype))


class Ones(Initializer):
    def __init__(self, dtype=_dt.float32):
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return A.ones(shape, self._dtype(dtype))


class Constant(Initializer):
    def __init__(self, value=0, dtype=_dt.float32, verify_shape=False):
        self.value, self.dtype = value, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dt = self._dtype(dtype)
        v = np.asarray(self.value)
        shp = as_shape(shape).as_list()
        if v.size == 1:
            return A.fill(shp, constant(v.reshape(()), dtype=dt))
        return constant(v, dtype=dt, shape=shp)

    def get_config(self):
        return {"value": self.value, "dtype": self.dtype.name}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None, dtype=_dt.float32):
        self.minval, self.maxval, self.seed, self.dtype = minval, maxval, seed, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return S.random_uniform(shape, self.minval, self.maxval, self._dtype(dtype), self.seed)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=_dt.float32):
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return S.random_normal(shape, self.mean, self.stddev, self._dtype(dtype), self.seed)


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=_dt.float32):
        self.mean, self.stddev, self.seed, self.dtype = mean, stddev, seed, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return S.truncated_normal(shape, self.mean, self.stddev, self._dtype(dtype), self.seed)


def _fans(shape) -> tuple[float, float]:
    shape = as_shape(shape).as_list()
    if len(shape) < 1:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = float(np.prod(shape[:-2]))   # conv kernels: [..., in, out]
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(Initializer):
    """Samples with variance ``scale / n`` where ``n`` is fan_in, fan_out or their mean."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 dtype=_dt.float32):
        if scale <= 0.0:
            raise ValueError("`scale` must be a positive float.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid `mode` argument: {mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"Invalid `distribution` argument: {distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.seed, self.dtype = seed, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dt = self._dtype(dtype)
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            # the std of a normal truncated at 2 sigma is 0.8796... of the untruncated one
            stddev = math.sqrt(scale) / 0.87962566103423978
            return S.truncated_normal(shape, 0.0, stddev, dt, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return S.random_normal(shape, 0.0, math.sqrt(scale), dt, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return S.random_uniform(shape, -limit, limit, dt, seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, "dtype": self.dtype.name}


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None, dtype=_dt.float32):
        super().__init__(1.0, "fan_avg", "uniform", seed, dtype)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None, dtype=_dt.float32):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed, dtype)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal sample."""

    def __init__(self, gain=1.0, seed=None, dtype=_dt.float32):
        self.gain, self.seed, self.dtype = gain, seed, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        from flowgrad.ops.linalg_ops import qr  # noqa: PLC0415
        from flowgrad.ops.math_ops import sign  # noqa: PLC0415
        from flowgrad.ops.reduce_ops import reduce_sum  # noqa: PLC0415
        shp = as_shape(shape).as_list()
        if len(shp) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional")
        rows = int(np.prod(shp[:-1]))
        cols = shp[-1]
        flat = (max(rows, cols), min(rows, cols))
        z = S.random_normal(flat, dtype=self._dtype(dtype), seed=self.seed)
        q, r = qr(z)
        # multiply column j by sign(r[j, j]) so that q is uniformly (Haar) distributed
        eye = constant(np.eye(flat[1]), dtype=self._dtype(dtype))
        q = q * sign(reduce_sum(r * eye, axis=0))
        if rows < cols:
            q = A.transpose(q)
        return A.reshape(q * self.gain, shp)


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    def __init__(self, gain=1.0, dtype=_dt.float32):
        self.gain, self.dtype = gain, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        shp = as_shape(shape).as_list()
        if len(shp) != 2:
            raise ValueError(f"Identity matrix initializer can only be used for 2D matrices, "
                             f"got shape {shp}")
        return constant(np.eye(*shp) * self.gain, dtype=self._dtype(dtype))

    def get_config(self):
        return {"gain": self.gain, "dtype": self.dtype.name}


class UniformUnitScaling(Initializer):
    """Uniform in ``[-sqrt(3 / fan_in) * factor, sqrt(3 / fan_in) * factor]`` (TF1)."""

    def __init__(self, factor=1.0, seed=None, dtype=_dt.float32):
        self.factor, self.seed, self.dtype = factor, seed, _dt.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        shp = as_shape(shape).as_list()
        input_size = 1.0
        for d in shp[:-1]:
            input_size *= float(d)
        limit = math.sqrt(3 / max(input_size, 1.0)) * self.factor
        return S.random_uniform(shp, -limit, limit, self._dtype(dtype), seed=self.seed)


def he_normal(seed=None):
    return VarianceScaling(2.0, "fan_in", "truncated_normal", seed)


def he_uniform(seed=None):
    return VarianceScaling(2.0, "fan_in", "uniform", seed)


def lecun_normal(seed=None):
    return VarianceScaling(1.0, "fan_in", "truncated_normal", seed)


def lecun_uniform(seed=None):
    return VarianceScaling(1.0, "fan_in", "uniform", seed)


zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
orthogonal_initializer = Orthogonal
identity_initializer = Identity
uniform_unit_scaling_initializer = UniformUnitScaling
