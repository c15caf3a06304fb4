"""Row-wise ("sparse") optimizer updates for ``IndexedSlices`` gradients (embeddings).

As in TF1, only the rows named by the gradient's indices change — their variable rows and
their slot rows; repeated indices are summed first (TF1's ``_deduplicate_indexed_slices``).
Adam has no sparse kernel here because TF1's sparse Adam decays every row of its slots,
which is exactly the dense update with zero gradient rows.

Each kernel copies the arrays it updates and replaces them, so a failed run rolls back.
"""

from __future__ import annotations

from flowgrad.framework.registry import NodeSpec, op
from flowgrad.ops._xp import ufunc_at


def _sparse_shape(node: NodeSpec):
    var = node.inputs[0]
    values, indices = node.inputs[-2], node.inputs[-1]
    if not indices.dtype.is_integer:
        node.fail(f"indices must be int32 or int64, got {indices.dtype.name}", TypeError)
    if values.shape.ndims is not None and var.shape.ndims is not None and \
            not values.shape[1:].is_compatible_with(var.shape[1:]):
        node.fail(f"gradient rows of shape {values.shape[1:]} do not match the rows of "
                  f"variable '{var.op.name}' of shape {var.shape}")
    return var.shape, var.dtype


def _dedupe(xp, values, indices, nrows):
    idx = indices.reshape(-1)
    vals = values.reshape((idx.shape[0],) + tuple(values.shape[indices.ndim:]))
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= nrows):
        bad = idx[(idx < 0) | (idx >= nrows)][0]
        raise ValueError(f"index {int(bad)} is not in [0, {nrows})")
    uniq, inverse = xp.unique(idx, return_inverse=True)
    summed = xp.zeros((uniq.shape[0],) + vals.shape[1:], dtype=vals.dtype)
    ufunc_at(xp, "add", summed, inverse.reshape(-1), vals)
    return uniq, summed


def _copies(*refs):
    return [r.get().copy() for r in refs]


@op("SparseApplyMomentum", shape=_sparse_shape, same_dtype=("var", "accum", "lr", "momentum"),
    ref_inputs=(0, 1), stateful=True)
def sparse_apply_momentum(xp, var, accum, lr, momentum, grad, indices, *, use_locking=False,
                          use_nesterov=False):
    w, a = _copies(var, accum)
    rows, g = _dedupe(xp, grad, indices, w.shape[0])
    a[rows] = a[rows] * momentum + g
    if use_nesterov:
        w[rows] -= g * lr + a[rows] * momentum * lr
    else:
        w[rows] -= a[rows] * lr
    accum.set(a)
    var.set(w)
    return w


@op("SparseApplyAdagrad", shape=_sparse_shape, same_dtype=("var", "accum", "lr"),
    ref_inputs=(0, 1), stateful=True)
def sparse_apply_adagrad(xp, var, accum, lr, grad, indices, *, use_locking=False):
    w, a = _copies(var, accum)
    rows, g = _dedupe(xp, grad, indices, w.shape[0])
    a[rows] += g * g
    one = xp.ones((), dtype=w.dtype)
    w[rows] -= g * lr * (one / xp.sqrt(a[rows]))
    accum.set(a)
    var.set(w)
    return w


@op("SparseApplyRMSProp", shape=_sparse_shape,
    same_dtype=("var", "ms", "mom", "lr", "rho", "momentum", "epsilon"), ref_inputs=(0, 1, 2),
    stateful=True)
def sparse_apply_rms_prop(xp, var, ms, mom, lr, rho, momentum, epsilon, grad, indices, *,
                          use_locking=False):
    w, s, m = _copies(var, ms, mom)
    rows, g = _dedupe(xp, grad, indices, w.shape[0])
    one = xp.ones((), dtype=w.dtype)
    s[rows] = s[rows] + (g * g - s[rows]) * (one - rho)
    m[rows] = m[rows] * momentum + (g * lr) / xp.sqrt(s[rows] + epsilon)
    w[rows] -= m[rows]
    ms.set(s)
    mom.set(m)
    var.set(w)
    return w


@op("SparseApplyCenteredRMSProp", shape=_sparse_shape,
    same_dtype=("var", "mg", "ms", "mom", "lr", "rho", "momentum", "epsilon"),
    ref_inputs=(0, 1, 2, 3), stateful=True)
def sparse_apply_centered_rms_prop(xp, var, mg, ms, mom, lr, rho, momentum, epsilon, grad,
                                   indices, *, use_locking=False):
    w, mgv, s, m = _copies(var, mg, ms, mom)
    rows, g = _dedupe(xp, grad, indices, w.shape[0])
    one = xp.ones((), dtype=w.dtype)
    s[rows] = s[rows] + (g * g - s[rows]) * (one - rho)
    mgv[rows] = mgv[rows] + (g - mgv[rows]) * (one - rho)
    denom = (s[rows] - mgv[rows] * mgv[rows]) + epsilon
    m[rows] = m[rows] * momentum + (g * lr) / xp.sqrt(denom)
    w[rows] -= m[rows]
    ms.set(s)
    mg.set(mgv)
    mom.set(m)
    var.set(w)
    return w


@op("SparseApplyAdadelta", shape=_sparse_shape,
    same_dtype=("var", "accum", "accum_update", "lr", "rho", "epsilon"), ref_inputs=(0, 1, 2),
    stateful=True)
def sparse_apply_adadelta(xp, var, accum, accum_update, lr, rho, epsilon, grad, indices, *,
                          use_locking=False):
    w, a, au = _copies(var, accum, accum_update)
    rows, g = _dedupe(xp, grad, indices, w.shape[0])
    one = xp.ones((), dtype=w.dtype)
    a[rows] = a[rows] * rho + g * g * (one - rho)
    update = xp.sqrt(au[rows] + epsilon) * (one / xp.sqrt(a[rows] + epsilon)) * g
    w[rows] -= update * lr
    au[rows] = au[rows] * rho + update * update * (one - rho)
    accum.set(a)
    accum_update.set(au)
    var.set(w)
    return w
