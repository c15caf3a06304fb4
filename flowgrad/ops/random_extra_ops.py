"""``tf.random_gamma`` and ``tf.random_poisson``: samples of shape ``shape + param.shape``.

Seeded like the other random ops: each op draws from its own per-session generator,
seeded from the (graph seed, op seed) pair. The sampling kernels run on the host.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, constant_shape, op
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops.state_ops import _seeds, _shape_arg
from flowgrad.runtime.placement import register_host_only

_GAMMA_DTYPES = (_dt.float16, _dt.float32, _dt.float64)
_POISSON_DTYPES = (_dt.float16, _dt.float32, _dt.float64, _dt.int32, _dt.int64)


def _sample_shape(node: NodeSpec, dtype):
    shape, param = node.inputs
    if shape.dtype not in (_dt.int32, _dt.int64):
        node.fail(f"shape must be int32 or int64, got {shape.dtype.name}", TypeError)
    return constant_shape(shape).concatenate(param.shape), dtype


@op("RandomGamma", shape=lambda n: _sample_shape(n, n.inputs[1].dtype), stateful=True)
def _random_gamma(xp, shape, alpha, *, ctx, seed=None, seed2=None):
    size = tuple(int(d) for d in shape) + alpha.shape
    return ctx.rng.standard_gamma(alpha, size).astype(alpha.dtype)


@op("RandomPoissonV2", shape=lambda n: _sample_shape(n, n.attrs["dtype"]), stateful=True)
def _random_poisson(xp, shape, rate, *, ctx, dtype, seed=None, seed2=None):
    size = tuple(int(d) for d in shape) + rate.shape
    return ctx.rng.poisson(rate.astype(np.float64), size).astype(dtype.np)


# TF1 defines no gradient for the Poisson sampler; the gamma sampler's reparameterized
# gradient with respect to alpha is not provided here (the 1 / beta scaling is).
NotDifferentiable("RandomGamma")
NotDifferentiable("RandomPoissonV2")
register_host_only("RandomGamma", "RandomPoissonV2")


def random_gamma(shape, alpha, beta=None, dtype=_dt.float32, seed=None, name=None):
    """``tf.random_gamma``: Gamma(alpha, rate beta) samples of shape
    ``shape + broadcast(alpha, beta).shape`` (mean ``alpha / beta``)."""
    dtype = _dt.as_dtype(dtype)
    if dtype not in _GAMMA_DTYPES:
        raise TypeError(f"random_gamma: dtype must be float16, float32 or float64, got "
                        f"{dtype.name}")
    with name_scope(name, "random_gamma") as scope:
        s = _shape_arg(shape)
        alpha = convert_to_tensor(alpha, dtype=dtype, name="alpha")
        beta = convert_to_tensor(1 if beta is None else beta, dtype=dtype, name="beta")
        alpha_b = alpha + A.zeros_like(beta)
        sample = _random_gamma(s, alpha_b, **_seeds(seed))
        tiny = convert_to_tensor(np.finfo(dtype.np).tiny, dtype=dtype)
        return M.maximum(tiny, sample / beta, name=scope)


def random_poisson(lam, shape, dtype=_dt.float32, seed=None, name=None):
    """``tf.random_poisson``: Poisson(lam) samples of shape ``shape + lam.shape``."""
    dtype = _dt.as_dtype(dtype)
    if dtype not in _POISSON_DTYPES:
        raise TypeError(f"random_poisson: dtype must be float16, float32, float64, int32 or "
                        f"int64, got {dtype.name}")
    with name_scope(name, "random_poisson") as scope:
        lam = convert_to_tensor(lam, name="lam")
        if lam.dtype not in _POISSON_DTYPES:
            raise TypeError(f"random_poisson: lam must be a float or int tensor, got "
                            f"{lam.dtype.name}")
        return _random_poisson(_shape_arg(shape), lam, dtype=dtype, name=scope,
                               **_seeds(seed))
