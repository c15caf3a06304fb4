"""The direct BLAS calls: gemm with alpha/beta on every operand layout, thread control."""

import numpy as np
import pytest

from flowgrad.runtime import blas

pytestmark = pytest.mark.skipif(not blas.available(),
                                reason="numpy's BLAS is not an OpenBLAS flowgrad can call")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_layouts_alpha_beta(dtype, ta, tb):
    rng = np.random.default_rng(1)
    m, k, n = 13, 7, 5
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    a, b = (a.T if ta else a), (b.T if tb else b)
    c = rng.standard_normal((m, n)).astype(dtype)
    want = -0.25 * (a.astype(np.float64) @ b) + 1.0 * c
    assert blas.gemm(a, b, c, alpha=-0.25, beta=1.0)
    np.testing.assert_allclose(c, want, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_gemm_into_row_block_of_a_larger_array():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 6))
    big = np.zeros((4, 10))
    assert blas.gemm(a, b, big[:, 2:8])
    np.testing.assert_allclose(big[:, 2:8], a @ b, rtol=1e-12)
    assert not big[:, :2].any() and not big[:, 8:].any()


def test_gemm_declines_what_blas_cannot_take():
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    c = np.zeros((2, 4), np.float32)
    assert blas.gemm(a[::2], a, c)                 # every other row: a leading dimension
    np.testing.assert_allclose(c, a[::2] @ a)
    assert not blas.gemm(a[:, ::2].T, a, c)       # no unit stride on either axis
    assert not blas.gemm(a, a, a)                  # the output aliases an input
    assert not blas.gemm(a.astype(np.int32), a.astype(np.int32), np.zeros((4, 4), np.int32))
    assert not blas.gemm(a, a, np.zeros((4, 8), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="do not match"):
        blas.gemm(a, np.ones((3, 2), np.float32), np.zeros((4, 2), np.float32))
