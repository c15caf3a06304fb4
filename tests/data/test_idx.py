"""The IDX reader and MNIST loader on files the tests write."""

import gzip
import os

import numpy as np
import pytest

from flowgrad.data.mnist import DataError, load_mnist, read_idx, write_idx


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_roundtrip_raw_and_gzipped(tmp_path, name, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
    p = str(tmp_path / name)
    write_idx(p, arr)
    with open(p, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(p)
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)


def test_header_is_big_endian(tmp_path):
    p = str(tmp_path / "l.idx")
    write_idx(p, np.array([7, 8, 9], np.uint8))
    assert open(p, "rb").read() == b"\x00\x00\x08\x01\x00\x00\x00\x03\x07\x08\x09"


@pytest.mark.parametrize("raw, message", [
    (b"\x00\x01\x08\x01\x00\x00\x00\x01\x05", "bad magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "bad magic"),
    (b"\x00\x00", "not an IDX file"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x04\x01\x02", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing bytes"),
])
def test_corrupt_files_raise_clear_errors(tmp_path, raw, message):
    p = tmp_path / "bad.idx"
    p.write_bytes(raw)
    with pytest.raises(DataError, match=message):
        read_idx(str(p))
    g = tmp_path / "bad.idx.gz"
    g.write_bytes(gzip.compress(raw))
    with pytest.raises(DataError, match=message):
        read_idx(str(g))


def test_truncated_gzip_and_missing_file(tmp_path):
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05")[:-6])
    with pytest.raises(DataError, match="damaged"):
        read_idx(str(p))
    with pytest.raises(DataError, match="not found"):
        read_idx(str(tmp_path / "nope.idx"))


def write_mnist(d, n_train=6, n_test=3, gz=True):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    write_idx(os.path.join(d, "train-images-idx3-ubyte" + ext),
              rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8))
    write_idx(os.path.join(d, "train-labels-idx1-ubyte" + ext),
              (np.arange(n_train) % 10).astype(np.uint8))
    write_idx(os.path.join(d, "t10k-images-idx3-ubyte" + ext),
              rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8))
    write_idx(os.path.join(d, "t10k-labels-idx1-ubyte" + ext),
              (np.arange(n_test) % 10).astype(np.uint8))


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist(tmp_path, gz):
    write_mnist(str(tmp_path), gz=gz)
    (xa, ya), (xb, yb) = load_mnist(str(tmp_path))
    assert xa.shape == (6, 28, 28) and xa.dtype == np.float32 and 0 <= xa.min() <= xa.max() <= 1
    assert ya.tolist() == [0, 1, 2, 3, 4, 5] and xb.shape == (3, 28, 28)


def test_load_mnist_from_environment(tmp_path, monkeypatch):
    write_mnist(str(tmp_path / "mnist"))
    monkeypatch.setenv("FLOWGRAD_DATA", str(tmp_path))
    (xa, _), _ = load_mnist()
    assert xa.shape == (6, 28, 28)


def test_load_mnist_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWGRAD_DATA", raising=False)
    with pytest.raises(DataError, match="no data folder given"):
        load_mnist()
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(str(tmp_path / "missing"))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*not found"):
        load_mnist(str(tmp_path))
    write_mnist(str(tmp_path))
    write_idx(str(tmp_path / "train-labels-idx1-ubyte.gz"), np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="one label per image"):
        load_mnist(str(tmp_path))
