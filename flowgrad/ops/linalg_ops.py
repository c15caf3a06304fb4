"""Linear algebra ops (``tf.linalg``): inverses, determinants, solves, Cholesky, diagonals,
band parts, traces, norms and ``einsum``.

Every op works on batches of matrices (the last two axes); gradients follow TF's rules and
are built from graph ops, so second-order gradients work where the rule is smooth.
"""

from __future__ import annotations

import builtins
import string

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant, constant_value,
                                         convert_to_tensor, op, require_float)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import reduce_ops as R


def _adj(x: Tensor) -> Tensor:
    return A.matrix_transpose(x)


def _matrix_dims(node: NodeSpec, x: Tensor, square: bool = True):
    """(batch dims, m, n) of a matrix input; fails naming the op if it is not one."""
    if x.shape.ndims is None:
        return None
    if x.shape.ndims < 2:
        node.fail(f"needs a matrix or a batch of matrices (rank >= 2), got rank "
                  f"{x.shape.ndims}")
    *batch, m, n = x.shape.as_list()
    if square and m is not None and n is not None and m != n:
        node.fail(f"needs square matrices, got {m}x{n}")
    return batch, m, n


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
    return xp.linalg.solve(matrix, rhs)


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
    return xp.linalg.solve(tri, rhs)


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


# ----- Diagonals and band parts ---------------------------------------------------------------
def _diag_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return TensorShape(None), x.dtype
    if x.shape.ndims == 0:
        node.fail("diagonal must be at least rank 1")
    return x.shape.concatenate(x.shape), x.dtype


@op("Diag", shape=_diag_shape)
def _diag(xp, diagonal):
    n = diagonal.size
    out = xp.zeros((n, n), dtype=diagonal.dtype)
    idx = xp.arange(n)
    out[idx, idx] = diagonal.reshape(-1)
    return out.reshape(diagonal.shape + diagonal.shape)


@_diag.grad
def _diag_grad(op, dy):
    return [diag_part(dy)]


def diag(diagonal, name=None) -> Tensor:
    """``tf.diag``: a tensor of rank ``2k`` with ``diagonal`` (rank ``k``) on its diagonal."""
    return _diag(diagonal, name=name or "Diag")


def _diag_part_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return TensorShape(None), x.dtype
    r = x.shape.ndims
    if r % 2 or r == 0:
        node.fail(f"input must have an even, nonzero rank, got {r}")
    a, b = x.shape[: r // 2], x.shape[r // 2:]
    if not a.is_compatible_with(b):
        node.fail(f"the first half of the dimensions {a} must equal the second half {b}")
    return a.merge_with(b), x.dtype


@op("DiagPart", shape=_diag_part_shape)
def _diag_part(xp, input):  # noqa: A002
    half = input.shape[: input.ndim // 2]
    n = int(np.prod(half)) if half else 1
    idx = xp.arange(n)
    return input.reshape(n, n)[idx, idx].reshape(half)


@_diag_part.grad
def _diag_part_grad(op, dy):
    return [diag(dy)]


def diag_part(input, name=None) -> Tensor:  # noqa: A002
    """``tf.diag_part``: the inverse of ``tf.diag``."""
    return _diag_part(input, name=name or "DiagPart")


def _matrix_diag_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.shape.ndims is None:
        return TensorShape(None), x.dtype
    if x.shape.ndims < 1:
        node.fail("diagonal must be at least rank 1")
    return x.shape.concatenate([x.shape[-1]]), x.dtype


@op("MatrixDiag", shape=_matrix_diag_shape)
def _matrix_diag(xp, diagonal):
    n = diagonal.shape[-1]
    out = xp.zeros(diagonal.shape + (n,), dtype=diagonal.dtype)
    idx = xp.arange(n)
    out[..., idx, idx] = diagonal
    return out


@_matrix_diag.grad
def _matrix_diag_grad(op, dy):
    return [matrix_diag_part(dy)]


def matrix_diag(diagonal, name=None) -> Tensor:
    """``tf.matrix_diag``: batched square matrices with ``diagonal[..., i]`` on the diagonal."""
    return _matrix_diag(diagonal, name=name or "MatrixDiag")


def _matrix_diag_part_shape(node: NodeSpec):
    x = node.inputs[0]
    dims = _matrix_dims(node, x, square=False)
    if dims is None:
        return TensorShape(None), x.dtype
    batch, m, n = dims
    k = None if m is None or n is None else min(m, n)
    return TensorShape(batch + [k]), x.dtype


@op("MatrixDiagPart", shape=_matrix_diag_part_shape)
def _matrix_diag_part(xp, input):  # noqa: A002
    return xp.diagonal(input, axis1=-2, axis2=-1).copy()


@_matrix_diag_part.grad
def _matrix_diag_part_grad(op, dy):
    return [matrix_set_diag(A.zeros_like(op.inputs[0]), dy)]


def matrix_diag_part(input, name=None) -> Tensor:  # noqa: A002
    """``tf.matrix_diag_part``: the main diagonal of each matrix, ``[..., min(m, n)]``."""
    return _matrix_diag_part(input, name=name or "MatrixDiagPart")


def _matrix_set_diag_shape(node: NodeSpec):
    x, d = node.inputs
    if x.dtype != d.dtype:
        node.fail(f"diagonal dtype {d.dtype.name} differs from input dtype {x.dtype.name}",
                  TypeError)
    dims = _matrix_dims(node, x, square=False)
    if dims is not None and d.shape.ndims is not None:
        batch, m, n = dims
        k = None if m is None or n is None else min(m, n)
        if not TensorShape(batch + [k]).is_compatible_with(d.shape):
            node.fail(f"diagonal must have shape {TensorShape(batch + [k])}, got {d.shape}")
    return x.shape, x.dtype


@op("MatrixSetDiag", shape=_matrix_set_diag_shape)
def _matrix_set_diag(xp, input, diagonal):  # noqa: A002
    out = input.copy()
    k = min(input.shape[-2:])
    idx = xp.arange(k)
    out[..., idx, idx] = diagonal
    return out


@_matrix_set_diag.grad
def _matrix_set_diag_grad(op, dy):
    d = op.inputs[1]
    return [matrix_set_diag(dy, A.zeros_like(d)), matrix_diag_part(dy)]


def matrix_set_diag(input, diagonal, name=None) -> Tensor:  # noqa: A002
    """``tf.matrix_set_diag``: ``input`` with its main diagonals replaced by ``diagonal``."""
    return _matrix_set_diag(input, diagonal, name=name or "MatrixSetDiag")


def _band_part_shape(node: NodeSpec):
    x = node.inputs[0]
    _matrix_dims(node, x, square=False)
    return x.shape, x.dtype


@op("MatrixBandPart", shape=_band_part_shape)
def _matrix_band_part(xp, input, *, num_lower, num_upper):  # noqa: A002
    m, n = input.shape[-2:]
    d = xp.arange(n)[None, :] - xp.arange(m)[:, None]   # column - row
    keep = xp.ones((m, n), dtype=bool)
    if num_lower >= 0:
        keep &= d >= -num_lower
    if num_upper >= 0:
        keep &= d <= num_upper
    return xp.where(keep, input, xp.zeros((), dtype=input.dtype))


@_matrix_band_part.grad
def _matrix_band_part_grad(op, dy):
    return [matrix_band_part(dy, op.attrs["num_lower"], op.attrs["num_upper"])]


def matrix_band_part(input, num_lower, num_upper, name=None) -> Tensor:  # noqa: A002
    """``tf.matrix_band_part``: keeps ``num_lower`` sub- and ``num_upper`` super-diagonals
    (a negative count keeps the whole triangle)."""
    lo, up = (int(A._int_list(v, name_)[0]) for v, name_ in
              ((num_lower, "num_lower"), (num_upper, "num_upper")))
    return _matrix_band_part(input, num_lower=lo, num_upper=up, name=name or "MatrixBandPart")


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
    with name_scope(name, "norm") as scope:
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
            if axis is None:
                out = A.reshape(out, [])
            else:
                out = A.squeeze(out, list(axis) if is_matrix else [axis])
        return A.identity(out, name=scope)


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


# ----- einsum -------------------------------------------------------------------------------
def _parse_einsum(equation: str, ranks: list[int | None]) -> tuple[list[str], str]:
    """Input and output subscripts with ``...`` expanded into explicit letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(ranks):
        raise ValueError(f"einsum equation '{equation}' names {len(subs)} operands but "
                         f"{len(ranks)} were given")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in string.ascii_letters if c not in used]
    ell_rank = 0
    for s, r in zip(subs, ranks):
        if "..." in s:
            if r is None:
                raise ValueError(f"einsum '{equation}': an operand with '...' needs a known "
                                 "rank")
            ell_rank = max(ell_rank, r - (len(s) - 3))
    ell = "".join(free[:ell_rank])
    out_subs = []
    for s, r in zip(subs, ranks):
        if "..." in s:
            k = r - (len(s) - 3)
            s = s.replace("...", ell[ell_rank - k:])
        elif r is not None and r != len(s):
            raise ValueError(f"einsum '{equation}': subscripts '{s}' name {len(s)} axes but "
                             f"the operand has rank {r}")
        out_subs.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:   # implicit mode: broadcast letters, then letters seen once, alphabetically
        counts: dict[str, int] = {}
        for s in out_subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    for c in out:
        if not any(c in s for s in out_subs):
            raise ValueError(f"einsum '{equation}': output subscript '{c}' does not appear in "
                             "any input")
    return out_subs, out


def _einsum_shape(node: NodeSpec):
    subs, out = node.attrs["subscripts"], node.attrs["output"]
    sizes: dict[str, int | None] = {}
    for s, t in zip(subs, node.inputs):
        if t.shape.ndims is None:
            continue
        for c, d in zip(s, t.shape.as_list()):
            if d is None or d == 1:
                sizes.setdefault(c, None if d is None else 1)
                continue
            if sizes.get(c) not in (None, 1, d):
                node.fail(f"dimension '{c}' has size {sizes[c]} in one operand and {d} in "
                          "another")
            sizes[c] = d
    dt = node.inputs[0].dtype
    for t in node.inputs[1:]:
        if t.dtype != dt:
            node.fail(f"all operands must have the same dtype, got {dt.name} and "
                      f"{t.dtype.name}", TypeError)
    return TensorShape([sizes.get(c) for c in out]), dt


@op("Einsum", shape=_einsum_shape)
def _einsum(xp, *inputs, subscripts, output):
    return xp.asarray(xp.einsum(",".join(subscripts) + "->" + output, *inputs,
                                optimize=len(inputs) > 2))


@_einsum.grad
def _einsum_grad(op, dy):
    subs, out = op.attrs["subscripts"], op.attrs["output"]
    return [_einsum_operand_grad(op.inputs, subs, out, dy, k) for k in builtins.range(len(subs))]


def _einsum_operand_grad(inputs, subs, out, dy, k):
    """d(sum dy * einsum)/d(operand k): an einsum of ``dy`` with the other operands."""
    x = inputs[k]
    target = subs[k]
    used = set("".join(subs) + out)
    fresh = iter(c for c in string.ascii_letters if c not in used)
    # a letter repeated within operand k (a diagonal) is renamed and tied by an identity
    ops_, ops_subs = [dy] + [t for i, t in enumerate(inputs) if i != k], \
        [out] + [s for i, s in enumerate(subs) if i != k]
    renamed = []
    seen: dict[str, int] = {}
    for pos, c in enumerate(target):
        if c in seen:
            n = x.shape[pos]
            if n is None:
                raise ValueError("the gradient of einsum with a repeated subscript needs a "
                                 "static size for that axis")
            c2 = next(fresh)
            ops_.append(constant(np.eye(n, dtype=x.dtype.np)))
            ops_subs.append(c + c2)
            renamed.append(c2)
        else:
            seen[c] = pos
            renamed.append(c)
    available = set("".join(ops_subs))
    kept = "".join(c for c in renamed if c in available)
    g = _einsum(ops_, subscripts=tuple(ops_subs), output=kept)
    if len(kept) == len(renamed):
        return g
    # letters summed within operand k alone: their gradient is dy broadcast along them
    dims = []
    for c in renamed:
        dims.append(-1 if c in available else 1)
    shape_ = [A.shape(g)[kept.index(c)] if c in available else 1 for c in renamed]
    g = A.reshape(g, A.stack([convert_to_tensor(s, _dt.int32) if not isinstance(s, Tensor)
                              else s for s in shape_]))
    return A.broadcast_to(g, A.shape(x))


def einsum(equation: str, *inputs, **kwargs) -> Tensor:
    """``tf.einsum``: Einstein summation over the operands (``...`` and implicit output
    supported); differentiable in every operand.

    >>> import flowgrad as tf
    >>> tf.Session().run(tf.einsum("ij,jk->ik", [[1.0, 2.0]], [[3.0], [4.0]])).tolist()
    [[11.0]]
    """
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum got unexpected keyword arguments {sorted(kwargs)}")
    if len(inputs) == 1 and isinstance(inputs[0], list | tuple) and \
            equation.count(",") + 1 != 1:
        inputs = tuple(inputs[0])
    tensors = [convert_to_tensor(t) for t in inputs]
    if tensors and not all(t.dtype == tensors[0].dtype for t in tensors[1:]):
        tensors = [convert_to_tensor(t, dtype=tensors[0].dtype) if not isinstance(t, Tensor)
                   else t for t in tensors]
    subs, out = _parse_einsum(equation, [t.shape.ndims for t in tensors])
    return _einsum(tensors, subscripts=tuple(subs), output=out, name=name or "einsum")


# ----- tensordot, cross, matvec ----------------------------------------------------------------
def tensordot(a, b, axes, name=None) -> Tensor:
    """``tf.tensordot``: sums the products of ``a`` and ``b`` over ``axes`` (an int ``n``: the
    last ``n`` axes of ``a`` with the first ``n`` of ``b``; or a pair of axis lists)."""
    a, b = convert_to_tensor(a), convert_to_tensor(b)
    ra, rb = a.shape.ndims, b.shape.ndims
    if ra is None or rb is None:
        raise ValueError("tensordot needs operands of known rank")
    if isinstance(axes, int | np.integer) or (isinstance(axes, Tensor) and
                                               axes.shape.ndims == 0):
        n = int(A._int_list(axes, "axes")[0])
        if n > min(ra, rb) or n < 0:
            raise ValueError(f"tensordot: axes={n} is out of range for ranks {ra} and {rb}")
        ax_a, ax_b = list(builtins.range(ra - n, ra)), list(builtins.range(n))
    else:
        if len(axes) != 2:
            raise ValueError(f"'axes' must be an integer or a pair of axis lists, got {axes}")
        ax_a = [int(i) % ra for i in A._int_list(axes[0] if isinstance(axes[0], list | tuple |
                                                                         Tensor) else [axes[0]],
                                                 "axes")]
        ax_b = [int(i) % rb for i in A._int_list(axes[1] if isinstance(axes[1], list | tuple |
                                                                         Tensor) else [axes[1]],
                                                 "axes")]
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: different numbers of axes {ax_a} and {ax_b}")
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in builtins.range(ra)]
    sb = [next(letters) for _ in builtins.range(rb)]
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + \
        [c for j, c in enumerate(sb) if j not in ax_b]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b,
                  name=name or "Tensordot")


def matvec(a, b, transpose_a: bool = False, adjoint_a: bool = False, name=None) -> Tensor:
    """``tf.linalg.matvec``: ``a @ b`` for (batches of) matrices ``a`` and vectors ``b``."""
    with name_scope(name, "MatVec") as scope:
        prod = M.matmul(a, A.expand_dims(b, -1), transpose_a=transpose_a or adjoint_a)
        return A.squeeze(prod, axis=[-1], name=scope)


def _cross_shape(node: NodeSpec):
    a, b = node.inputs
    if a.dtype != b.dtype:
        node.fail(f"dtypes differ: {a.dtype.name} and {b.dtype.name}", TypeError)
    if not a.shape.is_compatible_with(b.shape):
        node.fail("both inputs must have the same shape")
    s = a.shape.merge_with(b.shape)
    if s.ndims is not None and s[-1] not in (None, 3):
        node.fail(f"the last dimension must be 3, got {s[-1]}")
    return s, a.dtype


@op("Cross", shape=_cross_shape)
def _cross(xp, a, b):
    return xp.cross(a, b)


@_cross.grad
def _cross_grad(op, dy):
    a, b = op.inputs
    return [cross(b, dy), cross(dy, a)]


def cross(a, b, name=None) -> Tensor:
    """``tf.cross``: pairwise cross products of 3-vectors (last axis)."""
    return _cross(a, b, name=name or "Cross")
