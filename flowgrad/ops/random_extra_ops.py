"""``tf.random_gamma`` and ``tf.random_poisson``: samples of shape ``shape + param.shape``.

Seeded like the other random ops: each op draws from its own per-session generator,
seeded from the (graph seed, op seed) pair. The sampling kernels run on the host. Gamma
samples are differentiable with respect to alpha (implicit reparameterization, as TF1).
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_shape,
                                         convert_to_tensor, elementwise, op)
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


@_random_gamma.grad
def _random_gamma_grad(op, dy):
    """Implicit reparameterization (as TF1): ``d sample / d alpha`` of each sample, summed
    over the sample dimensions by the engine."""
    alpha, sample = op.inputs[1], op.outputs[0]
    return [None, dy * random_gamma_grad(alpha, sample)]


@op("RandomGammaGrad", shape=elementwise, same_dtype=True)
def random_gamma_grad(xp, alpha, sample):
    """``d sample / d alpha`` of standard Gamma(alpha) samples: ``-dP(alpha, x)/dalpha``
    over the density at ``x``, where ``P`` is the regularized lower incomplete gamma."""
    a, x = np.broadcast_arrays(np.asarray(alpha, np.float64), np.asarray(sample, np.float64))
    out = np.empty(a.shape)
    big = a > 1e4      # the series would need more than 1e4 terms
    out[big] = _gamma_grad_large_alpha(a[big], x[big])
    out[~big] = _gamma_grad_series(a[~big], x[~big])
    return out.astype(sample.dtype)


def _digamma(z):
    """psi(z) for z > 0: the recurrence up to z >= 8, then the asymptotic series."""
    z = np.array(z, np.float64)
    acc = np.zeros_like(z)
    while (small := z < 8.0).any():
        acc[small] -= 1.0 / z[small]
        z[small] += 1.0
    w = 1.0 / (z * z)
    return acc + np.log(z) - 0.5 / z - w * (1 / 12 - w * (1 / 120 - w * (1 / 252 - w / 240)))


def _gamma_grad_series(a, x):
    """From P(a, x) = sum_n x^(a+n) e^-x / Gamma(a+n+1): each term's a-derivative is the
    term times log(x) - psi(a+n+1). Divided by the density x^(a-1) e^-x / Gamma(a), the
    first term is x / a, and term n+1 is term n times x / (a+n+1): no underflow where the
    density is tiny. Far in the right tail (terms beyond 1e200, samples that practically
    never occur) the normal approximation takes over."""
    x = np.maximum(x, np.finfo(np.float64).tiny)
    logx = np.log(x)
    ratio = np.ones_like(x)
    psi = _digamma(a + 1.0)
    total = logx - psi
    far = np.zeros(x.shape, bool)
    top = x.max(initial=0.0)
    for n in range(1, int(top + 20.0 * np.sqrt(top) + 200.0)):
        ratio = ratio * x / (a + n)
        far |= ratio > 1e200
        ratio[far] = 0.0
        psi = psi + 1.0 / (a + n)
        step = ratio * (logx - psi)
        total = total + step
        if n > top and not np.any(np.abs(step) > 1e-17 * np.abs(total)):
            break
    out = -(x / a) * total
    out[far] = _gamma_grad_large_alpha(a[far], x[far])
    return out


def _gamma_grad_large_alpha(a, x):
    """Wilson-Hilferty: (x/a)^(1/3) is nearly normal with mean 1 - 1/(9a) and variance
    1/(9a); differentiate x(a) with that standard score held fixed."""
    if a.size == 0:
        return a
    s = 1.0 / np.sqrt(9.0 * a)
    z = (np.cbrt(x / a) - 1.0 + s * s) / s
    c = 1.0 - s * s + z * s
    dc = (s * s - 0.5 * z * s) / a          # d/da of 1 - 1/(9a) + z / sqrt(9a)
    return c ** 3 + 3.0 * a * c * c * dc


# TF1 defines no gradient for the Poisson sampler nor for the gamma gradient itself.
NotDifferentiable("RandomPoissonV2")
NotDifferentiable("RandomGammaGrad")
register_host_only("RandomGamma", "RandomPoissonV2", "RandomGammaGrad")


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
