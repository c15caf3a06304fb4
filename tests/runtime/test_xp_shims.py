"""The array-module shims (``flowgrad/ops/_xp.py``) against numpy: the device path of every
shim on the strict simulated device (and on CuPy when a GPU is usable), and the numpy-only
spellings the simulated device refuses."""

import math

import numpy as np
import pytest

from flowgrad.ops import _xp
from flowgrad.runtime import backend
from flowgrad.testing.fake_device import FakeDeviceBackend


@pytest.fixture(params=["simulated", "gpu"])
def dev(request):
    if request.param == "simulated":
        return FakeDeviceBackend()
    if not backend.gpu_available():
        pytest.skip("no GPU")
    return backend.gpu()


def _at_both(dev, ufunc, out, index, updates):
    """``np.<ufunc>.at`` on host copies, and ``_xp.ufunc_at`` on the device."""
    want = out.copy()
    with np.errstate(invalid="ignore"):
        getattr(np, ufunc).at(want, index, updates)
    got = dev.asarray(out)
    d_index = tuple(dev.asarray(i) for i in index) if isinstance(index, tuple) else \
        dev.asarray(index)
    _xp.ufunc_at(dev.xp, ufunc, got, d_index, dev.asarray(updates))
    return dev.to_host(got), want


IDX = np.array([3, 0, 3, -1, 3, 1, 0, 3])          # repeats, and -1 (the last row)


@pytest.mark.parametrize("ufunc", ["add", "subtract", "multiply", "divide", "maximum",
                                   "minimum"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ufunc_at_floats_rows(dev, ufunc, dtype):
    rng = np.random.default_rng(0)
    out = rng.uniform(0.5, 2.0, (5, 3)).astype(dtype)
    upd = rng.uniform(0.5, 2.0, (IDX.size, 3)).astype(dtype)
    got, want = _at_both(dev, ufunc, out, IDX, upd)
    assert got.dtype == want.dtype
    if ufunc in ("maximum", "minimum"):
        np.testing.assert_array_equal(got, want)
    else:       # a run's updates are grouped differently: last-bit differences
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("ufunc", ["add", "subtract", "multiply", "maximum", "minimum",
                                   "floor_divide"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint32])
def test_ufunc_at_integers_exact(dev, ufunc, dtype):
    out = np.array([7, 100, 9, 50, 11], dtype=dtype)
    upd = np.array([2, 3, 1, 5, 2, 4, 1, 3], dtype=dtype)
    got, want = _at_both(dev, ufunc, out, IDX, upd)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype


def test_ufunc_at_leading_axes_broadcast_index_and_scalar_update(dev):
    out = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    rows = np.array([[1], [0], [1]])                   # (3, 1) against (1, 2): broadcast
    cols = np.array([[2, 2]])
    got, want = _at_both(dev, "multiply", out, (rows, cols), np.float64(1.5))
    np.testing.assert_allclose(got, want, rtol=1e-15)
    got, want = _at_both(dev, "add", out.astype(np.int64), (rows, cols), np.int64(5))
    np.testing.assert_array_equal(got, want)


def test_ufunc_at_max_propagates_nan_and_handles_empty_index(dev):
    out = np.zeros(3)
    got, want = _at_both(dev, "maximum", out, np.array([1, 1, 2]),
                         np.array([np.nan, 1.0, -1.0]))
    np.testing.assert_array_equal(got, want)              # [0, nan, 0]
    got, want = _at_both(dev, "multiply", out + 2, np.zeros(0, np.int64), np.zeros(0))
    np.testing.assert_array_equal(got, want)


def test_ufunc_at_numpy_path_is_numpy():
    out = np.ones(3)
    _xp.ufunc_at(np, "multiply", out, np.array([0, 0, 2]), np.array([2.0, 3.0, 5.0]))
    assert out.tolist() == [6.0, 1.0, 5.0]


def test_erf_erfc_on_the_device_match_math(dev):
    x = np.linspace(-3, 3, 7)
    for fn, ref in ((_xp.erf, math.erf), (_xp.erfc, math.erfc)):
        for v in (x, x.astype(np.float32), np.float64(0.5) * np.ones(())):
            got = fn(dev.xp, dev.asarray(v))
            assert got.dtype == v.dtype and got.shape == v.shape
            want = np.vectorize(ref, otypes=[v.dtype])(v)
            np.testing.assert_allclose(dev.to_host(got), want, atol=0,
                                       rtol=1e-6 if v.dtype == np.float32 else 1e-14)
            np.testing.assert_array_equal(fn(np, v), want)


def test_linalg_solve_broadcasts_batches_on_the_device(dev):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 4, 4)) + 4 * np.eye(4)
    b = rng.standard_normal((4, 3))
    got = dev.to_host(_xp.linalg_solve(dev.xp, dev.asarray(a), dev.asarray(b)))
    np.testing.assert_allclose(got, np.linalg.solve(a, b), rtol=1e-12)
    with pytest.raises(ValueError, match="must have"):       # what CuPy itself refuses
        dev.xp.linalg.solve(dev.asarray(a), dev.asarray(b))


def test_einsum_into_on_the_device(dev):
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3.0)
    out = dev.asarray(np.empty(2))
    assert _xp.einsum_into(dev.xp, "ij,j->i", dev.asarray(a), dev.asarray(b), out=out) is out
    np.testing.assert_array_equal(dev.to_host(out), a @ b)


def test_the_device_refuses_numpy_only_spellings():
    dev = FakeDeviceBackend()
    xp = dev.xp
    x = dev.asarray(np.ones((2, 2)))
    with pytest.raises(TypeError, match="multiply.at"):
        xp.multiply.at(x, dev.asarray(np.array([0])), 2.0)
    with pytest.raises(TypeError, match="maximum.at"):
        xp.maximum.at(x, dev.asarray(np.array([0])), 2.0)   # CuPy rounds float64 via float32
    xp.add.at(x, dev.asarray(np.array([0, 0])), 1.0)           # native on CuPy
    with pytest.raises(TypeError, match="sparse"):
        xp.indices((2, 2), sparse=True)
    with pytest.raises(TypeError, match="out"):
        xp.einsum("ij->i", x, out=dev.asarray(np.empty(2)))
    with pytest.raises(TypeError, match="host scalars"):
        xp.arange(dev.asarray(np.int32(3)))
    with pytest.raises(ValueError, match="Unsupported dtype"):
        dev.asarray(np.array(["a", "b"], dtype=object))
