"""The numpy kernel of SparseTensorDenseMatMul (run-by-run sparse path and densify + GEMM
path) against a plain reference: unsorted and repeated indices, long rows, adjoints,
integer and complex dtypes."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.ops import sparse_math_ops as S
from flowgrad.testing.op_test import OpCase, check_op

_KERNEL = S._sparse_dense_matmul.opdef.kernel


_XR = np.array([0, 2, 2, 1, 0, 2])
_YR = np.array([3, 0, 3, 1, 1, 0])

CASES = [
    # the values-gradient of SparseTensorDenseMatMul: row-wise dots of gathered rows
    OpCase("sparse_matmul_gather_dot",
           lambda x, y: S._gather_dot(x, y, tf.constant(_XR), tf.constant(_YR)),
           lambda x, y: (x[_XR] * y[_YR]).sum(1), [(3, 5), (4, 5)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_rows(case):
    check_op(case)


def test_gather_dot_rejects_out_of_range_rows():
    with pytest.raises(ValueError, match="SparseMatMulGatherDot: y_rows"):
        S._gather_dot.opdef.kernel(np, np.ones((2, 3)), np.ones((2, 3)), np.array([0]),
                                   np.array([2]))


def _reference(ind, vals, shape, b, adj_a=False, adj_b=False):
    a = np.zeros(shape, dtype=np.result_type(vals, b))
    np.add.at(a, (ind[:, 0], ind[:, 1]), vals)
    a = a.conj().T if adj_a else a
    bb = b.conj().T if adj_b else b
    return a @ bb


def _case(rng, m, k, n, nnz, dtype, long_row=False):
    rows = rng.integers(0, m, nnz)
    if long_row:
        rows[: nnz // 2] = 1                       # one row far longer than a run
    ind = np.stack([rows, rng.integers(0, k, nnz)], 1).astype(np.int64)
    if nnz > 4:
        ind[-3:] = ind[:3]                         # repeated indices are summed
    if np.dtype(dtype).kind == "c":
        vals = (rng.standard_normal(nnz) + 1j * rng.standard_normal(nnz)).astype(dtype)
        b = (rng.standard_normal((k, n)) + 1j * rng.standard_normal((k, n))).astype(dtype)
    elif np.dtype(dtype).kind == "i":
        vals = rng.integers(-5, 5, nnz).astype(dtype)
        b = rng.integers(-5, 5, (k, n)).astype(dtype)
    else:
        vals = rng.standard_normal(nnz).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
    return ind, vals, b


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int32])
@pytest.mark.parametrize("nnz,long_row", [(0, False), (1, False), (60, False), (300, True),
                                          (2000, False)])
@pytest.mark.parametrize("adj_a,adj_b", [(False, False), (True, False), (False, True),
                                         (True, True)])
@pytest.mark.parametrize("path", ["cost model", "sparse", "dense"])
def test_kernel_matches_reference(dtype, nnz, long_row, adj_a, adj_b, path, monkeypatch):
    if path != "cost model":        # force one path (the dense one only where BLAS applies)
        monkeypatch.setattr(S, "_use_dense", lambda *a: path == "dense" and np.dtype(
            a[-1]) in S._BLAS_TYPES)
    rng = np.random.default_rng(nnz + 7 * adj_a + 3 * adj_b)
    m, k, n = 40, 30, 5
    ind, vals, _ = _case(rng, m, k, n, nnz, dtype, long_row)
    inner = m if adj_a else k
    b = _case(rng, inner, inner, n, 0, dtype)[2]          # inner x n
    if adj_b:
        b = np.ascontiguousarray(b.T)
    shape = np.array([m, k])
    got = _KERNEL(np, ind, vals, shape, b, adjoint_a=adj_a, adjoint_b=adj_b)
    want = _reference(ind, vals, (m, k), b, adj_a, adj_b)
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = 1e-12 if np.dtype(dtype).itemsize >= 8 else 1e-4
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_dense_path_matches_sparse_path(dtype):
    rng = np.random.default_rng(3)
    m, k, n = 20, 16, 8
    ind, vals, b = _case(rng, m, k, n, 200, dtype)    # dense enough for the GEMM path
    assert S._use_dense(200, m, k, n, np.dtype(dtype))
    dense = _KERNEL(np, ind, vals, np.array([m, k]), b)
    sparse = S._spmm_rows(ind[:, 0], ind[:, 1], vals, m, b)
    np.testing.assert_allclose(dense, sparse, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dense, _reference(ind, vals, (m, k), b), rtol=1e-12,
                               atol=1e-12)


def test_out_of_range_index_raises():
    with pytest.raises(ValueError, match="SparseTensorDenseMatMul.*out of bounds"):
        _KERNEL(np, np.array([[0, 5]]), np.array([1.0]), np.array([2, 3]), np.ones((3, 2)))


def test_gradients_match_reference():
    rng = np.random.default_rng(5)
    m, k, n = 12, 9, 4
    ind, vals, b = _case(rng, m, k, n, 50, np.float64, long_row=True)
    dy = rng.standard_normal((m, n))
    with tf.Graph().as_default():
        v, bt = tf.constant(vals), tf.constant(b)
        out = tf.sparse_tensor_dense_matmul(tf.SparseTensor(ind, v, [m, k]), bt)
        gv, gb = tf.gradients(out, [v, bt], grad_ys=tf.constant(dy))
        with tf.Session() as sess:
            gv, gb = sess.run([gv, gb])
    np.testing.assert_allclose(gv, np.einsum("ij,ij->i", dy[ind[:, 0]], b[ind[:, 1]]),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, _reference(ind, vals, (m, k), dy, adj_a=True),
                               rtol=1e-12, atol=1e-12)
