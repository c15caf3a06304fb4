"""Float32 matrix products through oneDNN: ``onednn.matmul`` on strided and transposed
operands, with a scale and a sum, ``product``'s size rule, and MatMul ops (kernel and
inlined plan code) equal to numpy's products up to float32 rounding."""

import threading

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.runtime import onednn

pytestmark = pytest.mark.skipif(not onednn.available(), reason="oneDNN is not installed")


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())


def _operands(m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k)).astype(np.float32),
            rng.standard_normal((k, n)).astype(np.float32))


@pytest.mark.parametrize("layout", ["nn", "tn", "nt", "tt", "strided"])
def test_matmul_takes_transposed_and_strided_operands(layout):
    a, b = _operands(37, 29, 23)
    if "t" in layout[:1]:
        a = np.ascontiguousarray(a.T).T           # F-ordered view of the same values
    if layout[1:] == "t":
        b = np.ascontiguousarray(b.T).T
    if layout == "strided":                       # every other row and column of a larger one
        big = np.zeros((74, 58), np.float32)
        big[::2, ::2] = a
        a = big[::2, ::2]
    assert onednn.matmul_takes(a, b)
    _close(onednn.matmul(a, b), a.astype(np.float64) @ b)


def test_matmul_scale_and_sum_into_out():
    a, b = _operands(16, 12, 8)
    c = np.arange(16 * 8, dtype=np.float32).reshape(16, 8) / 7
    want = c.astype(np.float64) - 0.25 * (a.astype(np.float64) @ b)
    out = onednn.matmul(a, b, c, alpha=-0.25, beta=1.0)
    assert out is c
    _close(c, want)
    # a second call with another scale reuses the primitive (the scale is a run-time value)
    onednn.matmul(a, b, c, alpha=0.5, beta=1.0)
    _close(c, want + 0.5 * (a.astype(np.float64) @ b))


def test_matmul_rejects_negative_strides_and_unaligned_data():
    a, b = _operands(8, 8, 8)
    assert not onednn.matmul_takes(a[::-1], b)
    raw = np.zeros(8 * 8 * 4 + 2, np.uint8)[2:].view(np.float32).reshape(8, 8)
    assert not raw.flags.aligned and not onednn.matmul_takes(raw, b)
    assert not onednn.usable(raw)
    raw[:] = a
    _close(onednn.product(raw, b), a.astype(np.float64) @ b)     # numpy's product then


def test_product_sends_only_large_float32_products(monkeypatch):
    calls = []
    real = onednn.matmul
    monkeypatch.setattr(onednn, "matmul", lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    big_a, big_b = _operands(128, 64, 64)        # 524288 multiply-adds
    small_a, small_b = _operands(8, 8, 8)
    _close(onednn.product(big_a, big_b), big_a.astype(np.float64) @ big_b)
    onednn.product(small_a, small_b)
    onednn.product(big_a.astype(np.float64), big_b.astype(np.float64))
    assert calls == [(128, 64)]
    monkeypatch.setattr(onednn, "ENABLED", False)
    onednn.product(big_a, big_b)
    assert calls == [(128, 64)]


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_ops_and_their_gradients_in_plans(ta, tb):
    """The plan's inlined products (and the gradients') go to oneDNN and agree with numpy."""
    a, b = _operands(96, 80, 72, seed=1)
    a_in = np.ascontiguousarray(a.T) if ta else a
    b_in = np.ascontiguousarray(b.T) if tb else b
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, a_in.shape)
        w = tf.Variable(b_in)
        y = tf.matmul(x, w, transpose_a=ta, transpose_b=tb)
        loss = tf.reduce_sum(y * y)
        gx, gw = tf.gradients(loss, [x, w])
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        for _ in range(3):                          # the plan is specialized from its 2nd run
            got = sess.run([y, gx, gw], {x: a_in})
        src = "\n".join(p.specialized_source or "" for p in sess._plans.values())
    assert "onednn_product(" in src
    y64 = a.astype(np.float64) @ b
    dy = 2 * y64
    da, db = dy @ b.T, a.T.astype(np.float64) @ dy
    _close(got[0], y64)
    _close(got[1], da.T if ta else da)
    _close(got[2], db.T if tb else db)


def test_products_from_several_threads():
    a, b = _operands(64, 96, 80, seed=2)
    want = a.astype(np.float64) @ b
    errors = []

    def work(i):
        for _ in range(20):
            out = onednn.matmul(a, b)
            if not np.allclose(out, want, rtol=2e-5, atol=1e-3):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_version_and_library_path(monkeypatch):
    assert onednn.version().split(".")[0] == "3"
    assert onednn.library_path().endswith((".so.3", ".dylib")) or "dnnl" in onednn.library_path()
    monkeypatch.setattr(onednn, "ENABLED", False)
    assert onednn.version() is None and onednn.library_path() is None
