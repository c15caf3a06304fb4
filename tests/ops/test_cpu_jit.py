"""The optional numba max-pool kernels (``ops/cpu_jit.py``) against the numpy kernels: every
geometry (window, stride, dilation, SAME/VALID), both data formats, float32 and float64,
ties and infinities.  Windows that tile the input give identical arrays; overlapping ones
add a cell's gradients in another order (equal up to rounding)."""

import numpy as np
import pytest

from flowgrad.ops import cpu_jit
from flowgrad.ops.pool_ops import _max_pool, max_pool_grad_op

pytest.importorskip("numba")

POOL = _max_pool.opdef.kernel
POOL_GRAD = max_pool_grad_op.opdef.kernel

GEOMETRIES = [  # (N, H, W, C), ksize, strides, padding, dilations
    ((3, 8, 8, 6), (2, 2), (2, 2), "VALID", (1, 1)),      # LeNet's: windows tile the input
    ((2, 10, 10, 16), (2, 2), (2, 2), "SAME", (1, 1)),
    ((2, 7, 9, 3), (3, 3), (2, 2), "SAME", (1, 1)),       # ResNet's stem pool, odd sizes
    ((2, 7, 6, 12), (3, 2), (1, 2), "VALID", (1, 1)),
    ((1, 9, 8, 5), (2, 3), (3, 1), "SAME", (1, 1)),
    ((2, 9, 9, 4), (2, 2), (1, 1), "SAME", (2, 2)),       # dilated (tf.nn.pool)
    ((2, 5, 5, 9), (5, 5), (1, 1), "VALID", (1, 1)),
]


def _attrs(ksize, strides, padding, dilations, fmt):
    four = (lambda a: (1, a[0], a[1], 1)) if fmt == "NHWC" else (lambda a: (1, 1, a[0], a[1]))
    return {"ksize": four(ksize), "strides": four(strides), "padding": padding,
            "data_format": fmt, "dilations": four(dilations)}


def _both(monkeypatch, fn, *args, **attrs):
    monkeypatch.setenv("FLOWGRAD_NUMBA", "0")
    ref = fn(np, *args, **attrs)
    monkeypatch.setenv("FLOWGRAD_NUMBA", "1")
    assert cpu_jit.kernels_for(np, *args) is not None
    return ref, fn(np, *args, **attrs)


def _data(rng, shape, dtype, ties):
    if ties:   # few distinct values: most windows have several maxima
        return rng.randint(-2, 3, shape).astype(dtype)
    return rng.randn(*shape).astype(dtype)


@pytest.mark.parametrize("fmt", ["NHWC", "NCHW"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_max_pool_and_grad_match_numpy(monkeypatch, geometry, dtype, fmt):
    shape, ksize, strides, padding, dilations = geometry
    attrs = _attrs(ksize, strides, padding, dilations, fmt)
    rng = np.random.RandomState(len(shape) + shape[-1])
    for ties in (False, True):
        x = _data(rng, shape, dtype, ties)
        if fmt == "NCHW":
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        ref, got = _both(monkeypatch, POOL, x, **attrs)
        assert got.dtype == dtype and got.shape == ref.shape
        np.testing.assert_array_equal(got, ref)
        dy = rng.randn(*ref.shape).astype(dtype)
        gref, ggot = _both(monkeypatch, POOL_GRAD, x, ref, dy, **attrs)
        assert ggot.dtype == dtype and ggot.shape == x.shape
        tiles = ksize == strides and dilations == (1, 1) and padding == "VALID" and \
            shape[1] % ksize[0] == 0 and shape[2] % ksize[1] == 0
        if tiles:
            np.testing.assert_array_equal(ggot, gref)
        else:
            np.testing.assert_allclose(ggot, gref, rtol=1e-6, atol=1e-6)


def test_infinities_nan_and_transposed_inputs(monkeypatch):
    """-inf windows (padding ties), +inf and NaN in the forward, and non-contiguous inputs
    (a transposed view) take the same values as the numpy kernels."""
    rng = np.random.RandomState(0)
    x = rng.randn(2, 6, 7, 5)
    x[0, :3, :3, 0] = -np.inf            # a SAME window whose valid cells are all -inf
    x[1, 2, 2, 1] = np.inf
    attrs = _attrs((3, 3), (2, 2), "SAME", (1, 1), "NHWC")
    ref, got = _both(monkeypatch, POOL, x, **attrs)
    np.testing.assert_array_equal(got, ref)
    dy = rng.randn(*ref.shape)
    gref, ggot = _both(monkeypatch, POOL_GRAD, x, ref, dy, **attrs)
    np.testing.assert_allclose(ggot, gref, rtol=1e-12, atol=1e-12)
    xn = x.copy()
    xn[1, 4, 4, 3] = np.nan
    ref, got = _both(monkeypatch, POOL, xn, **attrs)
    np.testing.assert_array_equal(got, ref)          # NaN propagates as np.maximum's does
    xt = rng.randn(2, 5, 8, 8).transpose(0, 2, 3, 1)  # NHWC view of an NCHW buffer
    attrs = _attrs((2, 2), (2, 2), "VALID", (1, 1), "NHWC")
    ref, got = _both(monkeypatch, POOL, xt, **attrs)
    np.testing.assert_array_equal(got, ref)
    dy = rng.randn(*ref.shape)
    gref, ggot = _both(monkeypatch, POOL_GRAD, xt, ref, dy, **attrs)
    np.testing.assert_array_equal(ggot, gref)


def test_selection(monkeypatch):
    """Only numpy float32/float64 arrays of one dtype take the compiled kernels, and
    ``FLOWGRAD_NUMBA=0`` switches them off."""
    monkeypatch.setenv("FLOWGRAD_NUMBA", "1")
    a32, a64 = np.zeros((1, 2, 2, 1), np.float32), np.zeros((1, 2, 2, 1))
    assert cpu_jit.kernels_for(np, a32, a32) is not None
    assert cpu_jit.kernels_for(np, a32, a64) is None
    assert cpu_jit.kernels_for(np, a32.astype(np.float16)) is None
    assert cpu_jit.kernels_for(object(), a32) is None
    monkeypatch.setenv("FLOWGRAD_NUMBA", "0")
    assert cpu_jit.kernels_for(np, a32) is None
    assert not cpu_jit.enabled()
