"""Special functions of TF1's ``tf.math``: ``lgamma``, ``digamma``, ``polygamma``,
``igamma`` / ``igammac`` (regularized incomplete gamma), ``betainc`` (regularized
incomplete beta) and ``ndtri`` (the standard normal quantile), with their gradients.

The numpy kernels are vectorized series / continued fractions in float64; with CuPy the
kernels call ``cupyx.scipy.special``.
"""

from __future__ import annotations

import math

import numpy as np

from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import (NodeSpec, convert_to_tensor, elementwise, op,
                                         require_float)
from flowgrad.ops import math_ops as M
from flowgrad.ops._xp import _cupy_special
from flowgrad.ops.random_extra_ops import random_gamma_grad


def _float_unary(node: NodeSpec):
    require_float(node, 0)
    return node.inputs[0].shape, node.inputs[0].dtype


def _float_nary(node: NodeSpec):
    require_float(node)
    return elementwise(node)


def _host(xp, name: str, fn, *args):
    """``fn`` (numpy, float64) on ``args``, or ``cupyx.scipy.special.<name>`` under CuPy."""
    dtype = args[-1].dtype
    special = _cupy_special(xp)
    if special is not None:
        return getattr(special, name)(*args).astype(dtype, copy=False)
    if xp is not np:
        return xp.asarray(_host(np, name, fn, *[xp.asnumpy(a) for a in args]))
    out = fn(*np.broadcast_arrays(*[np.asarray(a, np.float64) for a in args]))
    return np.asarray(out, dtype=dtype)


# ----- numpy kernels -----------------------------------------------------------------------------
def _lgamma_safe(x):
    x = np.asarray(x, np.float64)
    out = np.full(x.shape, np.inf)
    ok = ~((x <= 0) & (x == np.floor(x))) & np.isfinite(x)
    out[ok] = np.vectorize(math.lgamma, otypes=[np.float64])(x[ok])
    out[np.isnan(x)] = np.nan
    return out


def _digamma_np(x):
    """psi(x): the recurrence up to x >= 8, then the asymptotic series; below 1/2 through
    the reflection psi(x) = psi(1 - x) - pi / tan(pi x). NaN at the poles."""
    x = np.array(x, np.float64)
    pole = (x <= 0) & (x == np.floor(x))
    refl = (x < 0.5) & ~pole
    z = np.where(refl, 1.0 - x, x)
    z = np.where(pole | np.isnan(z), 1.0, z)
    acc = np.zeros(x.shape)
    while (small := z < 8.0).any():
        acc[small] -= 1.0 / z[small]
        z[small] += 1.0
    w = 1.0 / (z * z)
    out = acc + np.log(z) - 0.5 / z - w * (1 / 12 - w * (1 / 120 - w * (1 / 252 - w * (
        1 / 240 - w / 132))))
    out = np.where(refl, out - np.pi / np.tan(np.pi * np.where(refl, x, 0.5)), out)
    out[pole] = np.nan
    out[np.isnan(x)] = np.nan
    return out


# Bernoulli numbers B_2 .. B_20, for the Euler-Maclaurin tail of the Hurwitz zeta function
_B2K = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798,
        -174611 / 330]


def _zeta_np(s, q):
    """Hurwitz zeta ``sum_k (q + k)^-s`` for integer ``s > 1`` and ``q`` not a non-positive
    integer: the terms up to ``q + k >= 10`` summed, the rest by Euler-Maclaurin."""
    n = 10 + int(max(0.0, np.ceil(-np.min(q, initial=0.0))))
    total = np.zeros(np.broadcast(s, q).shape)
    for k in range(n):
        total = total + (q + k) ** -s
    a = q + n
    total = total + a ** (1.0 - s) / (s - 1.0) + 0.5 * a ** -s
    fact = 1.0
    poch = s.copy()                    # s (s+1) ... (s+2j-2)
    apow = a ** (-s - 1.0)
    for j, b in enumerate(_B2K, start=1):
        fact *= (2 * j - 1) * (2 * j) if j > 1 else 2
        total = total + b / fact * poch * apow
        poch = poch * (s + 2 * j - 1) * (s + 2 * j)
        apow = apow / (a * a)
    return total


def _polygamma_np(n, x):
    out = np.full(x.shape, np.nan)
    zero = n == 0
    out[zero] = _digamma_np(x[zero])
    pos = (n >= 1) & (n == np.floor(n)) & ~((x <= 0) & (x == np.floor(x))) & ~np.isnan(x)
    nn, xx = n[pos], x[pos]
    fact = np.exp(np.vectorize(math.lgamma, otypes=[np.float64])(nn + 1.0)) if nn.size else nn
    out[pos] = np.where(nn % 2 == 1, 1.0, -1.0) * fact * _zeta_np(nn + 1.0, xx)
    return out


def _igamma_np(a, x):
    """Regularized lower incomplete gamma P(a, x): the series below ``a + 1``, Legendre's
    continued fraction (modified Lentz) above."""
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (x >= 0)
    out[ok & (x == 0)] = 0.0
    out[ok & np.isinf(x)] = 1.0
    series = ok & (x > 0) & (x < a + 1.0)
    frac = ok & (x >= a + 1.0) & np.isfinite(x)
    if series.any():
        aa, xx = a[series], x[series]
        term = 1.0 / aa
        total = term.copy()
        ap = aa.copy()
        for _ in range(2000):
            ap = ap + 1.0
            term = term * xx / ap
            total = total + term
            if np.all(np.abs(term) < np.abs(total) * 1e-17):
                break
        out[series] = total * np.exp(-xx + aa * np.log(xx) - _lgamma_safe(aa))
    if frac.any():
        out[frac] = 1.0 - _igammac_cf(a[frac], x[frac])
    return out


def _lentz_step(d, c, a_n, b_n, tiny):
    """One step of the modified Lentz method for a continued fraction
    ``b_0 + a_1 / (b_1 + a_2 / (b_2 + ...))``: the updated ``d`` and ``c`` (kept away from 0
    by ``tiny``) and the factor ``d * c`` by which the convergent changes."""
    d = a_n * d + b_n
    d = np.where(np.abs(d) < tiny, tiny, d)
    c = b_n + a_n / c
    c = np.where(np.abs(c) < tiny, tiny, c)
    d = 1.0 / d
    return d, c, d * c


def _igammac_cf(a, x):
    tiny = 1e-300
    b = x + 1.0 - a
    c = np.full(a.shape, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, 2000):
        an = -i * (i - a)
        b = b + 2.0
        d, c, delta = _lentz_step(d, c, an, b, tiny)
        h = h * delta
        if np.all(np.abs(delta - 1.0) < 1e-16):
            break
    return np.exp(-x + a * np.log(x) - _lgamma_safe(a)) * h


def _igammac_np(a, x):
    out = 1.0 - _igamma_np(a, x)
    frac = (a > 0) & (x >= a + 1.0) & np.isfinite(x)
    if frac.any():                       # no cancellation in the upper tail
        out[frac] = _igammac_cf(a[frac], x[frac])
    return out


def _betacf(a, b, x):
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones(a.shape)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    for m in range(1, 3000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d, c, _ = _lentz_step(d, c, aa, 1.0, tiny)
        h = h * d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d, c, delta = _lentz_step(d, c, aa, 1.0, tiny)
        h = h * delta
        if np.all(np.abs(delta - 1.0) < 1e-16):
            break
    return h


def _betainc_np(a, b, x):
    """Regularized incomplete beta I_x(a, b) by its continued fraction, evaluated at ``x``
    or, through ``I_x(a, b) = 1 - I_{1-x}(b, a)``, where that converges faster."""
    out = np.full(x.shape, np.nan)
    ok = (a > 0) & (b > 0) & (x >= 0) & (x <= 1)
    out[ok & (x == 0)] = 0.0
    out[ok & (x == 1)] = 1.0
    inner = ok & (x > 0) & (x < 1)
    if inner.any():
        aa, bb, xx = a[inner], b[inner], x[inner]
        flip = xx > (aa + 1.0) / (aa + bb + 2.0)
        a2, b2, x2 = np.where(flip, bb, aa), np.where(flip, aa, bb), np.where(flip, 1 - xx, xx)
        front = np.exp(_lgamma_safe(a2 + b2) - _lgamma_safe(a2) - _lgamma_safe(b2)
                       + a2 * np.log(x2) + b2 * np.log1p(-x2)) / a2
        val = front * _betacf(a2, b2, x2)
        out[inner] = np.where(flip, 1.0 - val, val)
    return out


# Acklam's rational approximations of the normal quantile (relative error 1.2e-9), refined
# by one Halley step on erfc.
_NDTRI_A = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
            1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
_NDTRI_B = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
            6.680131188771972e+01, -1.328068155288572e+01]
_NDTRI_C = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
            -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
_NDTRI_D = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
            3.754408661907416e+00]


def _ndtri_np(p):
    p = np.asarray(p, np.float64)
    out = np.full(p.shape, np.nan)
    out[p == 0] = -np.inf
    out[p == 1] = np.inf
    inner = (p > 0) & (p < 1)
    q = p[inner]
    x = np.empty(q.shape)
    low, high = q < 0.02425, q > 1 - 0.02425
    mid = ~(low | high)
    a, b, c, d = _NDTRI_A, _NDTRI_B, _NDTRI_C, _NDTRI_D
    r = q[mid] - 0.5
    t = r * r
    x[mid] = ((((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5]) * r /
              (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1.0))
    for sel, sign, tail in ((low, 1.0, q[low]), (high, -1.0, 1.0 - q[high])):
        u = np.sqrt(-2.0 * np.log(tail))
        x[sel] = sign * (((((c[0] * u + c[1]) * u + c[2]) * u + c[3]) * u + c[4]) * u + c[5]) / \
            ((((d[0] * u + d[1]) * u + d[2]) * u + d[3]) * u + 1.0)
    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    for _ in range(2):
        # the residual in the tail nearer to x: no cancellation for tiny probabilities
        upper = x > 0
        e = np.where(upper, (1.0 - q) - 0.5 * erfc(x / math.sqrt(2.0)),
                     0.5 * erfc(-x / math.sqrt(2.0)) - q)          # Phi(x) - q
        u = e * math.sqrt(2.0 * math.pi) * np.exp(0.5 * x * x)
        x = x - u / (1.0 + 0.5 * x * u)
    out[inner] = x
    return out


# ----- ops ----------------------------------------------------------------------------------------
@op("Lgamma", shape=_float_unary)
def lgamma(xp, x):
    """``tf.lgamma``: ``log |Gamma(x)|``, elementwise."""
    return _host(xp, "gammaln", _lgamma_safe, x)


@lgamma.grad
def _lgamma_grad(op_, dy):
    return [dy * digamma(op_.inputs[0])]


@op("Digamma", shape=_float_unary)
def digamma(xp, x):
    """``tf.digamma``: ``d/dx log Gamma(x)``, elementwise."""
    return _host(xp, "digamma", _digamma_np, x)


@digamma.grad
def _digamma_grad(op_, dy):
    x = op_.inputs[0]
    return [dy * _polygamma(M.cast(1.0, x.dtype) + _zeros(x), x)]


def _zeros(x):
    from flowgrad.ops.array_ops import zeros_like  # noqa: PLC0415
    return zeros_like(x)


@op("Polygamma", shape=_float_nary, same_dtype=True)
def _polygamma(xp, a, x):
    return _host(xp, "polygamma", _polygamma_np, a, x)


@_polygamma.grad
def _polygamma_grad(op_, dy):
    a, x = op_.inputs
    return [None, dy * _polygamma(a + 1.0, x)]


def polygamma(a, x, name=None):
    """``tf.polygamma``: the ``a``-th derivative of ``digamma`` at ``x`` (``a`` a
    non-negative integer, given as a float tensor like ``x``)."""
    with name_scope(name, "Polygamma") as scope:
        x = convert_to_tensor(x, name="x")
        a = convert_to_tensor(a, dtype=x.dtype, name="a")
        return _polygamma(a, x, name=scope)


@op("Igamma", shape=_float_nary, same_dtype=True)
def _igamma(xp, a, x):
    return _host(xp, "gammainc", _igamma_np, a, x)


@op("Igammac", shape=_float_nary, same_dtype=True)
def _igammac(xp, a, x):
    return _host(xp, "gammaincc", _igammac_np, a, x)


def _igamma_partials(a, x):
    """(dP/da, dP/dx) of the regularized lower incomplete gamma P(a, x)."""
    density = M.exp(-x + (a - 1.0) * M.log(x) - lgamma(a))
    return -random_gamma_grad(a + _zeros(x), x + _zeros(a)) * density, density


@_igamma.grad
def _igamma_grad(op_, dy):
    da, dx = _igamma_partials(*op_.inputs)
    return [dy * da, dy * dx]


@_igammac.grad
def _igammac_grad(op_, dy):
    da, dx = _igamma_partials(*op_.inputs)
    return [-dy * da, -dy * dx]


def igamma(a, x, name=None):
    """``tf.igamma``: the regularized lower incomplete gamma function ``P(a, x)``."""
    with name_scope(name, "Igamma") as scope:
        x = convert_to_tensor(x, name="x")
        a = convert_to_tensor(a, dtype=x.dtype, name="a")
        return _igamma(a, x, name=scope)


def igammac(a, x, name=None):
    """``tf.igammac``: the regularized upper incomplete gamma function ``Q(a, x)``."""
    with name_scope(name, "Igammac") as scope:
        x = convert_to_tensor(x, name="x")
        a = convert_to_tensor(a, dtype=x.dtype, name="a")
        return _igammac(a, x, name=scope)


@op("Betainc", shape=_float_nary, same_dtype=True)
def _betainc(xp, a, b, x):
    return _host(xp, "betainc", _betainc_np, a, b, x)


@_betainc.grad
def _betainc_grad(op_, dy):
    """As TF1: the gradient with respect to ``x`` only (``a`` and ``b`` get none)."""
    a, b, x = op_.inputs
    log_beta = lgamma(a) + lgamma(b) - lgamma(a + b)
    return [None, None, dy * M.exp((a - 1.0) * M.log(x) + (b - 1.0) * M.log1p(-x) - log_beta)]


def betainc(a, b, x, name=None):
    """``tf.betainc``: the regularized incomplete beta function ``I_x(a, b)``."""
    with name_scope(name, "Betainc") as scope:
        x = convert_to_tensor(x, name="x")
        a = convert_to_tensor(a, dtype=x.dtype, name="a")
        b = convert_to_tensor(b, dtype=x.dtype, name="b")
        return _betainc(a, b, x, name=scope)



@op("Ndtri", shape=_float_unary)
def ndtri(xp, x):
    """``tf.math.ndtri``: the quantile of the standard normal distribution, the inverse of
    ``0.5 * erfc(-x / sqrt(2))``."""
    return _host(xp, "ndtri", _ndtri_np, x)


@ndtri.grad
def _ndtri_grad(op_, dy):
    y = op_.outputs[0]
    return [dy * math.sqrt(2.0 * math.pi) * M.exp(0.5 * M.square(y))]
