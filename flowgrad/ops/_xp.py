"""Array-module shims: the few operations whose numpy spelling CuPy lacks, written once.

Kernels receive ``xp`` — numpy on the CPU, CuPy on a GPU, or the strict simulated device in
tests — and are written against the API these share.  Where they differ, a kernel calls a
helper here instead of branching itself.  Every helper takes the plain numpy path when
``xp is np``, so the CPU computes exactly what it did before and pays one identity test.

* ``ufunc_at`` — ``np.<ufunc>.at`` (unbuffered ``out[index] op= updates``).  CuPy's ``at``
  covers few ufuncs and dtypes; the rest go through a sort-based equivalent.
* ``erf`` / ``erfc`` — ``cupyx.scipy.special`` on CuPy (numpy has no erf ufunc).
* ``linalg_solve`` — batch dimensions broadcast explicitly (CuPy's ``solve`` wants them
  equal).
* ``raise_linalg_errors`` — makes CuPy raise ``LinAlgError`` where numpy does (a failed
  Cholesky), instead of returning a silently invalid factor.
* ``einsum_into`` — ``einsum(..., out=)`` (CuPy's einsum has no ``out``).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np


def _dtypes(*names: str) -> frozenset:
    return frozenset(np.dtype(n) for n in names)


#: the ``ufunc.at`` a device array module runs natively and exactly, by ufunc and dtype of
#: the target.  CuPy 14 has ``at`` (atomics) for add (int32, uint32, uint64, float16/32/64),
#: subtract (int32, uint32) and maximum/minimum (int32, uint32, uint64, float32, float64);
#: its float maximum/minimum go through ``fmaxf``/``fminf`` — float64 rounded to float32 and
#: NaN dropped — so floats are left out of those.  Everything else, multiply and the
#: divisions included, takes ``ufunc_at``'s sort-based path.  The simulated device refuses
#: any ``at`` not listed here, so CPU tests catch a kernel that would fail on a GPU.
DEVICE_UFUNC_AT = {
    "add": _dtypes("int32", "uint32", "uint64", "float16", "float32", "float64"),
    "subtract": _dtypes("int32", "uint32"),
    "maximum": _dtypes("int32", "uint32", "uint64"),
    "minimum": _dtypes("int32", "uint32", "uint64"),
}

# sort-based path: how the updates of one index combine (associatively) before the ufunc
# applies once: x - (a + b), x / (a * b), x // (a * b), x * (a * b), max(x, max(a, b)), ...
_COMBINE = {"add": "add", "subtract": "add", "multiply": "multiply", "divide": "multiply",
            "true_divide": "multiply", "floor_divide": "multiply", "maximum": "maximum",
            "minimum": "minimum"}


def ufunc_at(xp, ufunc: str, out, index, updates) -> None:
    """``np.<ufunc>.at(out, index, updates)`` on any array module: ``out[index] op= updates``
    in place, each repeated index applied once per occurrence.

    ``ufunc`` is a name (``"add"``, ``"subtract"``, ``"multiply"``, ``"divide"``,
    ``"floor_divide"``, ``"maximum"``, ``"minimum"``); ``index`` an integer array (rows of
    ``out``) or a tuple of them (its leading axes); ``updates`` broadcasts to
    ``out[index].shape``.  numpy runs its ``ufunc.at``; a device module runs its own where
    ``DEVICE_UFUNC_AT`` lists it (float subtract as an add of the negated updates), and
    otherwise the updates are sorted by index, each run of equal indices is reduced with a
    segmented scan (log2(n) elementwise passes over the updates) and the result applied once
    per distinct index.  That path groups a run's updates differently from numpy's
    left-to-right loop (last-bit differences in float products and quotients), and an
    integer floor division by several updates divides by their product.
    """
    if xp is np:
        getattr(np, ufunc).at(out, index, updates)
        return
    native = DEVICE_UFUNC_AT.get(ufunc, ())
    if out.dtype in native:
        getattr(xp, ufunc).at(out, index, updates)
    elif ufunc == "subtract" and out.dtype.kind in "f" and out.dtype in DEVICE_UFUNC_AT["add"]:
        xp.add.at(out, index, xp.negative(xp.asarray(updates, dtype=out.dtype)))
    else:
        _sorted_at(xp, ufunc, out, index, updates)


def _sorted_at(xp, ufunc: str, out, index, updates) -> None:
    key = list(index) if isinstance(index, tuple) else [index]
    if len(key) > 1:
        key = list(xp.broadcast_arrays(*key))
    ishape = tuple(key[0].shape)
    lead, rest = out.shape[:len(key)], out.shape[len(key):]
    # each indexed position as one integer, negative indices wrapped as numpy wraps them
    flat = [xp.where(k < 0, k + d, k).reshape(-1).astype(np.int64) for k, d in zip(key, lead)]
    lin = flat[0]
    for k, d in zip(flat[1:], lead[1:]):
        lin = lin * d + k
    n = int(lin.shape[0])
    if n == 0:
        return
    vals = xp.broadcast_to(xp.asarray(updates, dtype=out.dtype), ishape + rest)
    vals = vals.reshape((n,) + rest)
    order = xp.argsort(lin)
    lin, vals = lin[order], vals[order]
    combine = getattr(xp, _COMBINE[ufunc])
    step = 1
    while step < n:     # inclusive segmented scan: vals[i] combines its run up to i
        same = (lin[step:] == lin[:-step]).reshape((-1,) + (1,) * len(rest))
        vals = xp.concatenate([vals[:step],
                               xp.where(same, combine(vals[:-step], vals[step:]), vals[step:])])
        step *= 2
    last = xp.concatenate([lin[1:] != lin[:-1], xp.ones(1, dtype=bool)])
    where = tuple(k[order][last] for k in flat)      # each distinct position once
    out[where] = getattr(xp, ufunc)(out[where], vals[last])


def _cupy_special(xp):
    """``cupyx.scipy.special`` when ``xp`` is CuPy, else None."""
    if getattr(xp, "__name__", "") != "cupy":
        return None
    import cupyx.scipy.special as special  # noqa: PLC0415 - only with CuPy
    return special


def _math_elementwise(xp, fn, name: str, x):
    if xp is np:
        if x.ndim:
            return np.vectorize(fn, otypes=[x.dtype])(x)
        return np.asarray(fn(float(x)), dtype=x.dtype)
    special = _cupy_special(xp)
    if special is not None:
        return getattr(special, name)(x).astype(x.dtype, copy=False)
    # another array module (the simulated device): computed on the host, explicitly
    return xp.asarray(_math_elementwise(np, fn, name, xp.asnumpy(x)))


def erf(xp, x):
    """The error function, elementwise, in ``x``'s dtype."""
    return _math_elementwise(xp, math.erf, "erf", x)


def erfc(xp, x):
    """The complementary error function ``1 - erf(x)``, elementwise, in ``x``'s dtype."""
    return _math_elementwise(xp, math.erfc, "erfc", x)


def linalg_solve(xp, a, b):
    """``xp.linalg.solve(a, b)`` for ``a (..., M, M)`` and ``b (..., M, K)`` whose batch
    dimensions broadcast against each other (numpy broadcasts them, CuPy wants them equal)."""
    if xp is not np and a.shape[:-2] != b.shape[:-2]:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.ascontiguousarray(xp.broadcast_to(a, batch + a.shape[-2:]))
        b = xp.ascontiguousarray(xp.broadcast_to(b, batch + b.shape[-2:]))
    return xp.linalg.solve(a, b)


def raise_linalg_errors(xp):
    """A context in which ``xp.linalg`` raises ``np.linalg.LinAlgError`` where numpy does.
    CuPy otherwise skips checking cuSOLVER's status (a host sync) and returns whatever the
    failed factorisation left."""
    if xp is np or getattr(xp, "__name__", "") != "cupy":
        return contextlib.nullcontext()
    import cupyx  # noqa: PLC0415 - only with CuPy
    return cupyx.errstate(linalg="raise")


def einsum_into(xp, subscripts: str, *operands, out):
    """``einsum(subscripts, *operands, out=out)``; returns ``out``."""
    if xp is np:
        return np.einsum(subscripts, *operands, out=out)
    out[...] = xp.einsum(subscripts, *operands)
    return out
