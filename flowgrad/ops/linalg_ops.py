"""Linear algebra ops (``tf.linalg``): inverses, determinants, solves, Cholesky, diagonals,
band parts, traces, norms and ``einsum``.

Every op works on batches of matrices (the last two axes); gradients follow TF's rules and
are built from graph ops, so second-order gradients work where the rule is smooth.
"""

from __future__ import annotations

import builtins

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant, constant_value,
                                         convert_to_tensor, op, require_float)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import _xp
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R
from flowgrad.ops.diag_ops import (_matrix_dims, adjoint, diag, diag_part, matrix_band_part,  # noqa: F401
                                   matrix_diag, matrix_diag_part, matrix_set_diag)
from flowgrad.ops.einsum_ops import cross, einsum, matvec, tensordot  # noqa: F401


def _adj(x: Tensor) -> Tensor:
    return adjoint(x)


def _square_matrix_shape(node: NodeSpec):
    require_float(node, 0)
    x = node.inputs[0]
    _matrix_dims(node, x)
    return x.shape, x.dtype


# ----- QR --------------------------------------------------------------------------------
def _qr_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return [(TensorShape(None), x.dtype)] * 2
    if x.shape.ndims < 2:
        node.fail("qr needs a matrix (rank >= 2)")
    *batch, m, n = x.shape.as_list()
    full = node.attrs["full_matrices"]
    k = None if m is None or n is None else min(m, n)
    q = batch + [m, m if full else k]
    r = batch + [m if full else k, n]
    return [(TensorShape(q), x.dtype), (TensorShape(r), x.dtype)]


@op("Qr", shape=_qr_shape)
def _qr(xp, input, *, full_matrices=False):  # noqa: A002
    q, r = xp.linalg.qr(input, mode="complete" if full_matrices else "reduced")
    return q, r


NotDifferentiable("Qr")


def qr(input, full_matrices: bool = False, name=None):  # noqa: A002
    """``tf.linalg.qr``: ``(q, r)`` with ``input = q @ r``."""
    return tuple(_qr(input, full_matrices=bool(full_matrices), name=name))


def qr_q(x):
    return qr(x)[0]


# ----- Inverse, determinant ---------------------------------------------------------------
@op("MatrixInverse", shape=_square_matrix_shape)
def _matrix_inverse(xp, input, *, adjoint=False):  # noqa: A002
    if adjoint:
        input = xp.swapaxes(input, -1, -2)
    return xp.linalg.inv(input)


@_matrix_inverse.grad
def _matrix_inverse_grad(op, dy):
    y = op.outputs[0]
    if op.attrs["adjoint"]:   # y = inv(x^T): dx = -y dy^T y
        return [-M.matmul(y, M.matmul(dy, y, transpose_a=True))]
    return [-M.matmul(y, M.matmul(dy, y, transpose_b=True), transpose_a=True)]


def matrix_inverse(input, adjoint: bool = False, name=None) -> Tensor:  # noqa: A002
    """``tf.matrix_inverse``: the inverse of each square matrix in ``input``.

    >>> import flowgrad as tf
    >>> tf.Session().run(tf.matrix_inverse([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    return _matrix_inverse(input, adjoint=bool(adjoint), name=name or "MatrixInverse")


def _det_shape(node: NodeSpec):
    require_float(node, 0)
    x = node.inputs[0]
    dims = _matrix_dims(node, x)
    return TensorShape(None if dims is None else dims[0]), x.dtype


@op("MatrixDeterminant", shape=_det_shape)
def _matrix_determinant(xp, input):  # noqa: A002
    return xp.asarray(xp.linalg.det(input), dtype=input.dtype)


@_matrix_determinant.grad
def _matrix_determinant_grad(op, dy):
    x, det = op.inputs[0], op.outputs[0]
    scale = A.expand_dims(A.expand_dims(dy * det, -1), -1)
    return [scale * _adj(matrix_inverse(x))]


def matrix_determinant(input, name=None) -> Tensor:  # noqa: A002
    """``tf.matrix_determinant``: the determinant of each square matrix."""
    return _matrix_determinant(input, name=name or "MatrixDeterminant")


def _slogdet_shape(node: NodeSpec):
    s, dt = _det_shape(node)
    return [(s, dt), (s, dt)]


@op("LogMatrixDeterminant", shape=_slogdet_shape)
def _log_matrix_determinant(xp, input):  # noqa: A002
    sign, logabs = xp.linalg.slogdet(input)
    return xp.asarray(sign, dtype=input.dtype), xp.asarray(logabs, dtype=input.dtype)


@_log_matrix_determinant.grad
def _log_matrix_determinant_grad(op, dsign, dlogabs):
    x = op.inputs[0]
    scale = A.expand_dims(A.expand_dims(dlogabs, -1), -1)
    return [scale * _adj(matrix_inverse(x))]


def log_matrix_determinant(input, name=None):  # noqa: A002
    """``tf.linalg.slogdet``: ``(sign, log|det|)`` of each square matrix."""
    return tuple(_log_matrix_determinant(input, name=name or "LogMatrixDeterminant"))


def logdet(matrix, name=None) -> Tensor:
    """``tf.linalg.logdet``: log-determinant of Hermitian positive definite matrices."""
    with name_scope(name, "logdet"):
        chol = cholesky(matrix)
        return 2.0 * R.reduce_sum(M.log(matrix_diag_part(chol)), axis=-1)


# ----- Solves ------------------------------------------------------------------------------
def _solve_shape(node: NodeSpec):
    require_float(node)
    a, b = node.inputs
    _matrix_dims(node, a)
    if b.shape.ndims is not None and b.shape.ndims < 2:
        node.fail(f"rhs must be a matrix (rank >= 2), got shape {b.shape}; use "
                  "tf.expand_dims(rhs, -1) for a single right-hand side")
    if a.shape.ndims is not None and b.shape.ndims is not None:
        if a.shape[-1] is not None and b.shape[-2] is not None and a.shape[-1] != b.shape[-2]:
            node.fail(f"matrix is {a.shape[-2]}x{a.shape[-1]} but rhs has {b.shape[-2]} rows")
        return a.shape[:-2].concatenate([a.shape[-1], b.shape[-1]]) \
            if a.shape.ndims >= b.shape.ndims else b.shape, a.dtype
    return b.shape, a.dtype


@op("MatrixSolve", shape=_solve_shape, same_dtype=True)
def _matrix_solve(xp, matrix, rhs, *, adjoint=False):
    if adjoint:
        matrix = xp.swapaxes(matrix, -1, -2)
    return _xp.linalg_solve(xp, matrix, rhs)


@_matrix_solve.grad
def _matrix_solve_grad(op, dy):
    a, x = op.inputs[0], op.outputs[0]
    adjoint = op.attrs["adjoint"]
    db = matrix_solve(a, dy, adjoint=not adjoint)
    da = -M.matmul(x, db, transpose_b=True) if adjoint else -M.matmul(db, x, transpose_b=True)
    return [da, db]


def matrix_solve(matrix, rhs, adjoint: bool = False, name=None) -> Tensor:
    """``tf.matrix_solve``: ``X`` with ``matrix @ X = rhs`` (``matrix^T`` when ``adjoint``)."""
    return _matrix_solve(matrix, rhs, adjoint=bool(adjoint), name=name or "MatrixSolve")


@op("MatrixTriangularSolve", shape=_solve_shape, same_dtype=True)
def _matrix_triangular_solve(xp, matrix, rhs, *, lower=True, adjoint=False):
    tri = xp.tril(matrix) if lower else xp.triu(matrix)
    if adjoint:
        tri = xp.swapaxes(tri, -1, -2)
    return _xp.linalg_solve(xp, tri, rhs)


@_matrix_triangular_solve.grad
def _matrix_triangular_solve_grad(op, dy):
    a, x = op.inputs[0], op.outputs[0]
    lower, adjoint = op.attrs["lower"], op.attrs["adjoint"]
    db = matrix_triangular_solve(a, dy, lower=lower, adjoint=not adjoint)
    da = -M.matmul(x, db, transpose_b=True) if adjoint else -M.matmul(db, x, transpose_b=True)
    da = matrix_band_part(da, -1, 0) if lower else matrix_band_part(da, 0, -1)
    return [da, db]


def matrix_triangular_solve(matrix, rhs, lower: bool = True, adjoint: bool = False,
                            name=None) -> Tensor:
    """``tf.matrix_triangular_solve``: solves with the lower (or upper) triangle of
    ``matrix``; the other triangle is ignored."""
    return _matrix_triangular_solve(matrix, rhs, lower=bool(lower), adjoint=bool(adjoint),
                                    name=name or "MatrixTriangularSolve")


# ----- Cholesky ----------------------------------------------------------------------------
@op("Cholesky", shape=_square_matrix_shape)
def _cholesky(xp, input):  # noqa: A002
    try:
        with _xp.raise_linalg_errors(xp):
            return xp.linalg.cholesky(input)
    except np.linalg.LinAlgError as e:
        from flowgrad.framework.errors import InvalidArgumentError  # noqa: PLC0415
        raise InvalidArgumentError(None, None, "Cholesky decomposition was not successful. "
                                   "The input might not be valid (it must be symmetric "
                                   f"positive definite): {e}") from None


@_cholesky.grad
def _cholesky_grad(op, dl):
    # TF's rule (Murray 2016): phi(L^T dL) sandwiched between L^-1, then symmetrised.
    l_ = op.outputs[0]
    n = A.shape(l_)[-1]
    l_inv = matrix_triangular_solve(l_, _eye_like(l_, n), lower=True)
    middle = M.matmul(l_, dl, transpose_a=True)
    middle = matrix_set_diag(matrix_band_part(middle, -1, 0), 0.5 * matrix_diag_part(middle))
    da = M.matmul(M.matmul(l_inv, middle, transpose_a=True), l_inv)
    return [0.5 * (da + _adj(da))]


def _eye_like(x: Tensor, n) -> Tensor:
    if x.shape.ndims is not None and x.shape[-1] is not None:
        return constant(np.eye(x.shape[-1], dtype=x.dtype.np))
    return matrix_diag(A.ones(A.expand_dims(n, 0), dtype=x.dtype))


def cholesky(input, name=None) -> Tensor:  # noqa: A002
    """``tf.cholesky``: lower-triangular ``L`` with ``input = L @ L^T`` (symmetric PD input)."""
    return _cholesky(input, name=name or "Cholesky")


def cholesky_solve(chol, rhs, name=None) -> Tensor:
    """``tf.cholesky_solve``: solves ``A X = rhs`` given ``chol = cholesky(A)``."""
    with name_scope(name, "cholesky_solve"):
        y = matrix_triangular_solve(chol, rhs, lower=True, adjoint=False)
        return matrix_triangular_solve(chol, y, lower=True, adjoint=True)


# ----- Composites ---------------------------------------------------------------------------
def eye(num_rows, num_columns=None, batch_shape=None, dtype=_dt.float32, name=None) -> Tensor:
    """``tf.eye``: identity matrices ``[*batch_shape, num_rows, num_columns]``.

    >>> import flowgrad as tf
    >>> tf.Session().run(tf.eye(2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    dtype = _dt.as_dtype(dtype)
    rows = _static(num_rows)
    cols = rows if num_columns is None else _static(num_columns)
    batch = [] if batch_shape is None else A._int_list(batch_shape, "batch_shape")
    if rows is not None and cols is not None:
        m = np.eye(rows, cols, dtype=dtype.np)
        return constant(np.broadcast_to(m, tuple(batch) + m.shape).copy(), dtype=dtype,
                        name=name or "eye")
    with name_scope(name, "eye"):
        r = convert_to_tensor(num_rows, _dt.int32)
        c = r if num_columns is None else convert_to_tensor(num_columns, _dt.int32)
        z = A.zeros(A.stack(batch + [r, c]), dtype=dtype)
        return matrix_set_diag(z, A.ones(A.stack(batch + [M.minimum(r, c)]), dtype=dtype))


def _static(v):
    if isinstance(v, Tensor):
        c = constant_value(v)
        return None if c is None else int(c)
    return int(v)


def trace(x, name=None) -> Tensor:
    """``tf.trace``: the sum of each matrix's main diagonal."""
    with name_scope(name, "Trace") as scope:
        return R.reduce_sum(matrix_diag_part(x), axis=-1, name=scope)


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None,  # noqa: A002
         keep_dims=None) -> Tensor:
    """``tf.norm``: vector norms (any ``ord`` > 0, ``inf``) over one axis or the whole tensor,
    matrix norms (``'fro'``/``'euclidean'``, 1, 2, ``inf``) over a pair of axes."""
    keepdims = bool(keepdims if keepdims is not None else keep_dims)
    x = convert_to_tensor(tensor)
    is_matrix = isinstance(axis, list | tuple) and len(axis) == 2
    if axis is not None and not is_matrix:
        ax = A._int_list([axis] if isinstance(axis, int) else axis, "axis")
        if len(ax) != 1:
            raise ValueError(f"'axis' must be None, an integer, or a tuple of 2 unique "
                             f"integers, got {axis}")
        axis = ax[0]
    if is_matrix:
        if ord not in ("fro", "euclidean", 1, 2, np.inf):
            raise ValueError(f"'ord' must be a supported matrix norm in ['euclidean', 'fro', "
                             f"1, 2, inf], got {ord}")
        a0, a1 = A._int_list(axis, "axis")
        if a0 == a1:
            raise ValueError(f"'axis' must contain 2 unique integers, got {axis}")
    elif not (ord in ("fro", "euclidean") or (isinstance(ord, int | float) and ord > 0)):
        raise ValueError(f"'ord' must be a supported vector norm, got {ord}")
    with name_scope(name, "norm"):                    # TF's result: norm/Squeeze
        if ord in ("fro", "euclidean"):
            out = M.sqrt(R.reduce_sum(M.square(x), axis=list(axis) if is_matrix else axis,
                                      keepdims=True))
        elif is_matrix:
            a0, a1 = axis
            if ord == 2:
                r = x.shape.ndims
                if r is None:
                    raise ValueError("the matrix 2-norm needs a tensor of known rank")
                a0, a1 = a0 % r, a1 % r
                perm = [i for i in builtins.range(r) if i not in (a0, a1)] + [a0, a1]
                s = singular_values(A.transpose(x, perm))
                out = R.reduce_max(s, axis=-1)
                for a in sorted((a0, a1)):
                    out = A.expand_dims(out, a)
            else:
                sum_axis, max_axis = (a0, a1) if ord == 1 else (a1, a0)
                out = R.reduce_max(R.reduce_sum(M.abs(x), axis=sum_axis, keepdims=True),
                                   axis=max_axis, keepdims=True)
        elif ord == np.inf:
            out = R.reduce_max(M.abs(x), axis=axis, keepdims=True)
        elif ord == 1:
            out = R.reduce_sum(M.abs(x), axis=axis, keepdims=True)
        else:
            p = constant(float(ord), dtype=x.dtype)
            out = M.pow(R.reduce_sum(M.pow(M.abs(x), p), axis=axis, keepdims=True), 1.0 / p)
        if not keepdims:
            out = A.squeeze(out, None if axis is None else list(axis) if is_matrix else [axis])
        return out


# ----- Singular values ---------------------------------------------------------------------
def _sv_shape(node: NodeSpec):
    require_float(node, 0)
    x = node.inputs[0]
    dims = _matrix_dims(node, x, square=False)
    if dims is None:
        return TensorShape(None), x.dtype
    batch, m, n = dims
    return TensorShape(batch + [None if m is None or n is None else min(m, n)]), x.dtype


@op("SingularValues", shape=_sv_shape)
def _singular_values(xp, input):  # noqa: A002
    return xp.linalg.svd(input, compute_uv=False)


@_singular_values.grad
def _singular_values_grad(op, ds):
    return [_singular_values_grad_op(op.inputs[0], ds)]


@op("SingularValuesGrad", shape=lambda n: (n.inputs[0].shape, n.inputs[0].dtype))
def _singular_values_grad_op(xp, x, ds):
    """``U diag(ds) V^T``: the gradient of the singular values (distinct values assumed)."""
    u, _, vt = xp.linalg.svd(x, full_matrices=False)
    return xp.matmul(u * ds[..., None, :], vt)


NotDifferentiable("SingularValuesGrad")


def singular_values(x, name=None) -> Tensor:
    """The singular values of each matrix, in decreasing order (``svd(compute_uv=False)``)."""
    return _singular_values(x, name=name or "Svd")


def svd(tensor, full_matrices: bool = False, compute_uv: bool = True, name=None):
    """``tf.svd``: singular values ``s`` and, if ``compute_uv``, ``u`` and ``v``
    (``tensor = u @ diag(s) @ v^T``). Gradients flow through ``s`` only."""
    s = singular_values(tensor, name=name)
    if not compute_uv:
        return s
    u, v = _svd_uv(tensor, full_matrices=bool(full_matrices))
    return s, u, v


def _svd_uv_shape(node: NodeSpec):
    x = node.inputs[0]
    dims = _matrix_dims(node, x, square=False)
    if dims is None:
        return [(TensorShape(None), x.dtype)] * 2
    batch, m, n = dims
    k = None if m is None or n is None else min(m, n)
    full = node.attrs["full_matrices"]
    return [(TensorShape(batch + [m, m if full else k]), x.dtype),
            (TensorShape(batch + [n, n if full else k]), x.dtype)]


@op("SvdUV", shape=_svd_uv_shape)
def _svd_uv(xp, input, *, full_matrices=False):  # noqa: A002
    u, _, vt = xp.linalg.svd(input, full_matrices=full_matrices)
    return u, xp.swapaxes(vt, -1, -2)


NotDifferentiable("SvdUV")


# ----- symmetric eigendecomposition, least squares ----------------------------------------------
def _eig_shape(node: NodeSpec):
    require_float(node, 0)
    x = node.inputs[0]
    dims = _matrix_dims(node, x)
    if dims is None:
        return [(TensorShape(None), x.dtype)] * 2
    batch, m, _ = dims
    return [(TensorShape(batch + [m]), x.dtype), (x.shape, x.dtype)]


@op("SelfAdjointEigV2", shape=_eig_shape)
def _self_adjoint_eig(xp, input, *, compute_v=True):  # noqa: A002
    e, v = xp.linalg.eigh(input, UPLO="L")
    return e, v


@_self_adjoint_eig.grad
def _self_adjoint_eig_grad(op_, de, dv):
    # TF's rule: V (diag(de) + F o (V^T dV)) V^T with F_ij = 1 / (e_j - e_i) off the
    # diagonal; the op reads only the lower triangle, so the result is folded onto it.
    e, v = op_.outputs
    diff = A.expand_dims(e, -2) - A.expand_dims(e, -1)
    off = M.logical_not(M.cast(_eye_like(v, A.shape(v)[-1]), _dt.bool_))
    safe = M.where(off, diff, A.ones_like(diff))
    f = M.where(off, M.reciprocal(safe), A.zeros_like(diff))
    inner = matrix_diag(de) + f * M.matmul(v, dv, transpose_a=True)
    da = M.matmul(v, M.matmul(inner, v, transpose_b=True))
    da = matrix_band_part(da + _adj(da), -1, 0)
    return [matrix_set_diag(da, 0.5 * matrix_diag_part(da))]


def self_adjoint_eig(tensor, name=None):
    """``tf.self_adjoint_eig``: ``(e, v)``: eigenvalues in ascending order and eigenvectors
    (columns) of symmetric matrices; only the lower triangle is read."""
    return tuple(_self_adjoint_eig(tensor, name=name or "SelfAdjointEigV2"))


def self_adjoint_eigvals(tensor, name=None) -> Tensor:
    """``tf.self_adjoint_eigvals``: the eigenvalues of symmetric matrices, ascending."""
    return self_adjoint_eig(tensor, name=name)[0]


def matrix_solve_ls(matrix, rhs, l2_regularizer=0.0, fast: bool = True, name=None) -> Tensor:
    """``tf.matrix_solve_ls``: least-squares solutions of ``matrix @ X = rhs`` (with an L2
    regulariser), by the normal equations and a Cholesky factorisation as TF's fast path."""
    with name_scope(name, "matrix_solve_ls"):
        a = convert_to_tensor(matrix)
        b = convert_to_tensor(rhs, dtype=a.dtype)
        m, n = a.shape[-2], a.shape[-1]
        lam = convert_to_tensor(l2_regularizer, dtype=a.dtype)
        if m is not None and n is not None and m < n:   # underdetermined: minimum norm
            gram = M.matmul(a, a, transpose_b=True)
            gram = gram + lam * _eye_like(gram, A.shape(gram)[-1])
            return M.matmul(a, cholesky_solve(cholesky(gram), b), transpose_a=True)
        gram = M.matmul(a, a, transpose_a=True)
        gram = gram + lam * _eye_like(gram, A.shape(gram)[-1])
        return cholesky_solve(cholesky(gram), M.matmul(a, b, transpose_a=True))
