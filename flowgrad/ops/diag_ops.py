"""Diagonals and band parts of (batches of) matrices: ``diag``, ``diag_part``,
``matrix_diag``, ``matrix_diag_part``, ``matrix_set_diag``, ``matrix_band_part``."""

from __future__ import annotations


import numpy as np

from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import (NodeSpec, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A


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


def _swap_shape(node: NodeSpec):
    x = node.inputs[0]
    dims = _matrix_dims(node, x, square=False)
    if dims is None:
        return TensorShape(None), x.dtype
    batch, m, n = dims
    return TensorShape(batch + [n, m]), x.dtype


@op("MatrixTransposeLast2", shape=_swap_shape)
def _matrix_transpose_any_rank(xp, x):
    return xp.swapaxes(x, -1, -2)


@_matrix_transpose_any_rank.grad
def _matrix_transpose_any_rank_grad(op_, dy):
    return [_matrix_transpose_any_rank(dy)]


def adjoint(x, name=None) -> Tensor:
    """``tf.linalg.adjoint`` (real inputs): swaps the last two axes, for any rank, known or
    not."""
    return _matrix_transpose_any_rank(x, name=name or "adjoint")
