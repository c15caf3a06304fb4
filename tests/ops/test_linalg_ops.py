"""Op harness rows for linear algebra: inverses, solves, determinants, Cholesky, diagonals,
norms and einsum (forward vs numpy, static shapes, 1st/2nd-order gradients)."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

I3 = np.eye(3)


def _wc(x):
    """A well-conditioned matrix near ``x`` (adds 4 I)."""
    return x + 4.0 * tf.eye(tf.shape(x)[-1], dtype=tf.float64)


def _spd(x):
    """A symmetric positive definite matrix built from ``x``."""
    return tf.matmul(x, x, transpose_b=True) + 3.0 * tf.eye(tf.shape(x)[-1], dtype=tf.float64)


def _spd_np(x):
    return x @ np.swapaxes(x, -1, -2) + 3.0 * np.eye(x.shape[-1])


CASES = [
    OpCase("matrix_inverse", lambda x: tf.matrix_inverse(_wc(x)),
           lambda x: np.linalg.inv(x + 4 * I3), [(3, 3)]),
    OpCase("matrix_inverse_batched_adjoint",
           lambda x: tf.linalg.inv(_wc(x), adjoint=True),
           lambda x: np.linalg.inv(np.swapaxes(x + 4 * I3, -1, -2)), [(2, 3, 3)]),
    OpCase("matrix_determinant", lambda x: tf.matrix_determinant(_wc(x)),
           lambda x: np.linalg.det(x + 4 * I3), [(3, 3)]),
    OpCase("matrix_determinant_batched", tf.linalg.det, np.linalg.det, [(2, 2, 2)]),
    OpCase("slogdet", lambda x: tf.linalg.slogdet(_wc(x)),
           lambda x: np.linalg.slogdet(x + 4 * I3), [(2, 3, 3)]),
    OpCase("logdet", lambda x: tf.linalg.logdet(_spd(x)),
           lambda x: np.linalg.slogdet(_spd_np(x))[1], [(3, 3)]),
    OpCase("matrix_solve", lambda a, b: tf.matrix_solve(_wc(a), b),
           lambda a, b: np.linalg.solve(a + 4 * I3, b), [(3, 3), (3, 2)]),
    OpCase("matrix_solve_adjoint", lambda a, b: tf.matrix_solve(_wc(a), b, adjoint=True),
           lambda a, b: np.linalg.solve((a + 4 * I3).T, b), [(3, 3), (3, 2)]),
    OpCase("matrix_triangular_solve",
           lambda a, b: tf.matrix_triangular_solve(_wc(a), b, lower=True),
           lambda a, b: np.linalg.solve(np.tril(a + 4 * I3), b), [(3, 3), (3, 2)]),
    OpCase("matrix_triangular_solve_upper_adj",
           lambda a, b: tf.matrix_triangular_solve(_wc(a), b, lower=False, adjoint=True),
           lambda a, b: np.linalg.solve(np.triu(a + 4 * I3).T, b), [(3, 3), (3, 1)]),
    OpCase("cholesky", lambda x: tf.cholesky(_spd(x)), lambda x: np.linalg.cholesky(_spd_np(x)),
           [(3, 3)]),
    OpCase("cholesky_batched", lambda x: tf.linalg.cholesky(_spd(x)),
           lambda x: np.linalg.cholesky(_spd_np(x)), [(2, 4, 4)]),
    OpCase("cholesky_solve", lambda x, b: tf.cholesky_solve(tf.cholesky(_spd(x)), b),
           lambda x, b: np.linalg.solve(_spd_np(x), b), [(3, 3), (3, 2)]),
    OpCase("diag", tf.diag, np.diag, [(4,)]),
    OpCase("diag_rank2", tf.diag,
           lambda x: np.einsum("ij,ik,jl->ijkl", x, np.eye(2), np.eye(3)), [(2, 3)]),
    OpCase("diag_part", tf.diag_part, np.diag, [(4, 4)]),
    OpCase("matrix_diag", tf.matrix_diag, lambda x: x[..., None] * np.eye(3), [(2, 3)]),
    OpCase("matrix_diag_part", tf.matrix_diag_part,
           lambda x: np.diagonal(x, axis1=-2, axis2=-1), [(2, 3, 4)]),
    OpCase("matrix_set_diag", tf.matrix_set_diag,
           lambda x, d: x * (1 - np.eye(4, 3)) + np.pad(d[..., None] * np.eye(3), [(0, 0),
                                                                                   (0, 1),
                                                                                   (0, 0)]),
           [(2, 4, 3), (2, 3)]),
    OpCase("matrix_band_part", lambda x: tf.matrix_band_part(x, 1, 0),
           lambda x: np.tril(np.triu(x, -1)), [(4, 4)]),
    OpCase("matrix_band_part_upper", lambda x: tf.linalg.band_part(x, 0, -1), np.triu,
           [(2, 3, 4)]),
    OpCase("trace", tf.trace, lambda x: np.trace(x, axis1=-2, axis2=-1), [(2, 3, 3)]),
    OpCase("eye_mul", lambda x: tf.eye(3, dtype=tf.float64) * x,
           lambda x: np.eye(3) * x, [(3, 3)]),
    OpCase("norm_euclidean", tf.norm, np.linalg.norm, [(3, 4)]),
    OpCase("norm_axis", lambda x: tf.norm(x, axis=1), lambda x: np.linalg.norm(x, axis=1),
           [(3, 4)]),
    OpCase("norm_ord1", lambda x: tf.norm(x, ord=1, axis=0, keepdims=True),
           lambda x: np.abs(x).sum(0, keepdims=True), [(3, 4)], order2=False),
    OpCase("norm_ord3", lambda x: tf.norm(x, ord=3, axis=-1),
           lambda x: np.linalg.norm(x, ord=3, axis=-1), [(2, 5)], domain=(0.3, 2)),
    OpCase("norm_inf", lambda x: tf.norm(x, ord=np.inf), lambda x: np.abs(x).max(),
           [(5,)], order2=False),
    OpCase("norm_fro", lambda x: tf.norm(x, ord="fro", axis=[-2, -1]),
           lambda x: np.linalg.norm(x, "fro", axis=(-2, -1)), [(2, 3, 4)]),
    OpCase("norm_matrix_1", lambda x: tf.norm(x, ord=1, axis=(0, 1)),
           lambda x: np.linalg.norm(x, 1), [(3, 4)], order2=False),
    OpCase("norm_matrix_inf", lambda x: tf.norm(x, ord=np.inf, axis=(0, 1)),
           lambda x: np.linalg.norm(x, np.inf), [(3, 4)], order2=False),
    OpCase("norm_matrix_2", lambda x: tf.norm(x, ord=2, axis=(1, 2)),
           lambda x: np.linalg.norm(x, 2, axis=(1, 2)), [(2, 3, 4)], order2=False,
           dynamic=False),
    OpCase("svd_values", lambda x: tf.svd(x, compute_uv=False),
           lambda x: np.linalg.svd(x, compute_uv=False), [(4, 3)], order2=False),
    OpCase("einsum_matmul", lambda a, b: tf.einsum("ij,jk->ik", a, b), np.matmul,
           [(2, 3), (3, 4)]),
    OpCase("einsum_batch_ellipsis", lambda a, b: tf.einsum("...ij,...jk->...ik", a, b),
           np.matmul, [(2, 2, 3), (2, 3, 4)], dynamic=False),
    OpCase("einsum_implicit_outer", lambda a, b: tf.einsum("i,j", a, b), np.outer,
           [(3,), (4,)]),
    OpCase("einsum_trace", lambda a: tf.einsum("ii", a), np.trace, [(3, 3)]),
    OpCase("einsum_diag", lambda a: tf.einsum("ii->i", a), np.diag, [(3, 3)]),
    OpCase("einsum_sum_only_in_one", lambda a, b: tf.einsum("ij,k->ik", a, b),
           lambda a, b: np.einsum("ij,k->ik", a, b), [(2, 3), (4,)]),
    OpCase("einsum_three", lambda a, b, c: tf.einsum("ij,jk,kl->il", a, b, c),
           lambda a, b, c: a @ b @ c, [(2, 3), (3, 2), (2, 2)]),
    OpCase("einsum_transpose", lambda a: tf.einsum("ijk->kji", a),
           lambda a: a.transpose(2, 1, 0), [(2, 3, 4)]),
    OpCase("tensordot_int", lambda a, b: tf.tensordot(a, b, 2),
           lambda a, b: np.tensordot(a, b, 2), [(2, 3, 4), (3, 4, 2)], dynamic=False),
    OpCase("tensordot_pairs", lambda a, b: tf.tensordot(a, b, [[0, 2], [1, 0]]),
           lambda a, b: np.tensordot(a, b, ([0, 2], [1, 0])), [(2, 3, 4), (4, 2)],
           dynamic=False),
    OpCase("matvec", tf.linalg.matvec, lambda a, b: np.einsum("...ij,...j->...i", a, b),
           [(2, 3, 4), (2, 4)]),
    OpCase("cross", tf.cross, np.cross, [(2, 3), (2, 3)]),
    OpCase("self_adjoint_eigvals", lambda x: tf.self_adjoint_eigvals(x + tf.linalg.adjoint(x)),
           lambda x: np.linalg.eigvalsh(x + x.T), [(4, 4)], order2=False),
    # eigenvectors up to sign: v*v is sign-invariant
    OpCase("self_adjoint_eig_vectors",
           lambda x: tf.square(tf.self_adjoint_eig(x + tf.linalg.adjoint(x))[1]),
           lambda x: np.linalg.eigh(x + np.swapaxes(x, -1, -2))[1] ** 2, [(2, 3, 3)],
           order2=False),
    OpCase("matrix_solve_ls", lambda a, b: tf.matrix_solve_ls(a, b),
           lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0], [(5, 3), (5, 2)], rtol=1e-5),
    OpCase("matrix_solve_ls_l2", lambda a, b: tf.matrix_solve_ls(a, b, l2_regularizer=0.5),
           lambda a, b: np.linalg.solve(a.T @ a + 0.5 * np.eye(3), a.T @ b), [(5, 3), (5, 2)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def test_eye_shapes_and_dynamic_sizes():
    with tf.Graph().as_default(), tf.Session() as sess:
        n = tf.placeholder(tf.int32, ())
        got = sess.run([tf.eye(2, 3), tf.eye(2, batch_shape=[2]), tf.eye(n, 2)], {n: 3})
    np.testing.assert_array_equal(got[0], np.eye(2, 3))
    np.testing.assert_array_equal(got[1], np.stack([np.eye(2)] * 2))
    np.testing.assert_array_equal(got[2], np.eye(3, 2))
    assert got[0].dtype == np.float32


def test_errors_name_the_op():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="MatrixInverse.*square"):
            tf.matrix_inverse(tf.zeros([2, 3]))
        with pytest.raises(ValueError, match="MatrixSolve.*rows"):
            tf.matrix_solve(tf.zeros([2, 2]), tf.zeros([3, 1]))
        with pytest.raises(ValueError, match="ord"):
            tf.norm(tf.zeros([2, 2]), ord=3, axis=[0, 1])
        with pytest.raises(ValueError, match="Einsum.*size"):
            tf.einsum("ij,jk->ik", tf.zeros([2, 3]), tf.zeros([4, 2]))
        with pytest.raises(ValueError, match="operands"):
            tf.einsum("ij,jk->ik", tf.zeros([2, 3]))


def test_cholesky_of_indefinite_matrix_raises():
    with tf.Graph().as_default(), tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Cholesky"):
            sess.run(tf.cholesky(tf.constant([[1.0, 2.0], [2.0, 1.0]])))
