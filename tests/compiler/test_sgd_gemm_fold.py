"""The fold_sgd_gemm pass: an in-place SGD update whose step is a MatMul used by nothing
else runs as one BLAS GEMM into the variable at the end of the plan.  Results match the
unfolded update up to rounding, the fold stays away where it would change meaning, its
fallbacks compute the same, and a failing run still leaves every variable unchanged."""

import os
import subprocess
import sys

import numpy as np
import pytest

import flowgrad as tf
from flowgrad import compiler
from flowgrad.compiler import PASSES, CompilerOptions
from flowgrad.compiler import codegen
from flowgrad.runtime import blas, onednn

pytestmark = [pytest.mark.skipif(not blas.available(), reason="no direct BLAS in this numpy"),
              pytest.mark.usefixtures("on_cpu")]      # the fold is host code generation
DEFAULT_MIN = CompilerOptions().fold_min_elements


@pytest.fixture(autouse=True)
def _fold_small_variables(monkeypatch):
    """The variables here are small; the size threshold is tested with the mlp."""
    monkeypatch.setattr(compiler.options, "fold_min_elements", 0)


@pytest.fixture
def keep_onednn():
    """Asked for by the tests of the fold through oneDNN."""


@pytest.fixture(autouse=True)
def _blas_gemm(request, monkeypatch):
    """The fold through OpenBLAS (float32 folds prefer oneDNN where it is installed; tests
    that ask for ``keep_onednn`` keep it)."""
    if "keep_onednn" not in request.fixturenames:
        monkeypatch.setattr(onednn, "ENABLED", False)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


class _Passes:
    """Sets compiler options for a block (restores all of them after)."""

    def __init__(self, **flags):
        self.flags = flags

    def __enter__(self):
        self.saved = compiler.options.copy()
        for k, v in self.flags.items():
            setattr(compiler.options, k, v)

    def __exit__(self, *exc):
        for k in PASSES:
            setattr(compiler.options, k, getattr(self.saved, k))


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-13}


def _sources(sess) -> str:
    return "\n".join(p.specialized_source or "" for p in sess._plans.values())


# (which input of tf.matmul the variable is, the forward attrs) -> the gradient MatMul's
# (transpose_a, transpose_b): all four combinations
LAYOUTS = {
    "x@w": ("b", False, False, (True, False)),
    "x.T@w": ("b", True, False, (False, False)),
    "w@x": ("a", False, False, (False, True)),
    "x.T@w.T": ("b", True, True, (True, True)),
}


def _layer_graph(layout, dtype, lr_fed, extra=None):
    """loss = sum(tanh(matmul(...)) ** 2) of one variable ``w`` trained by SGD; ``extra``
    adds fetches (and may change the graph) given (w, grad, loss)."""
    side, ta, tb, want = LAYOUTS[layout]
    rng = np.random.RandomState(4)
    dt = tf.as_dtype(dtype)
    g = tf.Graph()
    with g.as_default():
        if side == "b":        # product (6, 4); x holds the other operand
            x = tf.placeholder(dt, (5, 6) if ta else (6, 5), name="x")
            w = tf.Variable((rng.randn(4, 5) if tb else rng.randn(5, 4)).astype(dtype) * 0.4,
                            name="w")
            y = tf.matmul(x, w, transpose_a=ta, transpose_b=tb)
        else:
            x = tf.placeholder(dt, (5, 4), name="x")
            w = tf.Variable(rng.randn(6, 5).astype(dtype) * 0.4, name="w")
            y = tf.matmul(w, x)
        loss = tf.reduce_sum(tf.square(tf.tanh(y)))
        grad = tf.gradients(loss, w)[0]
        assert grad.op.type == "MatMul"
        assert (grad.op.attrs["transpose_a"], grad.op.attrs["transpose_b"]) == want
        lr = tf.placeholder(dt, (), name="lr") if lr_fed else 0.3
        train = tf.train.GradientDescentOptimizer(lr).apply_gradients([(grad, w)])
        fetches = [train, loss] + (extra(w, grad, loss) if extra is not None else [])
    xs = rng.rand(*x.shape.as_list()).astype(dtype)
    feed = {x: xs}
    if lr_fed:
        feed[lr] = np.asarray(0.3, dtype)
    return g, w, fetches, feed, grad


def _run(layout, dtype, lr_fed=False, fold=True, steps=4, extra=None):
    g, w, fetches, feed, _ = _layer_graph(layout, dtype, lr_fed, extra)
    with _Passes(fold_sgd_gemm=fold), tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        outs = [sess.run(fetches, feed)[1:] for _ in range(steps)]
        return outs, sess.run(w), _sources(sess)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_fold_matches_the_unfolded_update_for_every_transpose(layout, dtype):
    lr_fed = layout in ("x@w", "w@x")           # fed learning rate and constant one
    off, w_off, src_off = _run(layout, dtype, lr_fed, fold=False)
    on, w_on, src_on = _run(layout, dtype, lr_fed, fold=True)
    assert "_sgd_gemm(" in src_on and "_sgd_gemm(" not in src_off
    np.testing.assert_allclose(w_on, w_off, **_tol(dtype))
    np.testing.assert_allclose(np.array(on), np.array(off), **_tol(dtype))
    assert not np.allclose(w_on, _run(layout, dtype, lr_fed, steps=0)[1])     # it trained
    # and against numpy: a folded step (the plan is specialized from its 2nd run on)
    g, w, fetches, feed, grad = _layer_graph(layout, dtype, lr_fed)
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        sess.run(fetches, feed)
        sess.run(fetches, feed)
        w1, g1 = sess.run([w, grad], feed)
        sess.run(fetches, feed)
        assert "_sgd_gemm(" in _sources(sess)
        np.testing.assert_allclose(sess.run(w), w1 - dtype(0.3) * g1, **_tol(dtype))


def test_the_mlp_benchmark_step_folds_the_large_weight_updates(monkeypatch):
    from flowgrad import bench
    monkeypatch.setattr(compiler.options, "fold_min_elements", DEFAULT_MIN)
    sources = []
    generate = codegen.generate

    def spy(*args, **kwargs):
        out = generate(*args, **kwargs)
        sources.append(out[0])
        return out
    monkeypatch.setattr(codegen, "generate", spy)
    runner = bench.make_runner("flowgrad", "mlp")
    runner.step()
    runner.step()
    (src,) = [s for s in sources if "_sgd_gemm(" in s]     # the specialized plan
    assert src.count("_sgd_gemm(w") == 2             # 784x512 and 512x512 weights
    assert "xp_subtract(w" in src                     # the biases as before
    for mm in ("MatMul", "MatMul_1"):
        (line,) = [ln for ln in src.splitlines() if f"'gradients/{mm}_grad/MatMul_1'" in ln]
        assert "blas_takes(" in line                  # not computed: only the fallback's
    # 512x10 (5120 elements) is below the threshold: computed and subtracted as before
    (line,) = [ln for ln in src.splitlines() if "'gradients/MatMul_2_grad/MatMul_1'" in ln]
    assert ("xp_matmul(" in line or "onednn_product(" in line) and "blas_takes(" not in line


def _unfolded_equal(extra, layout="x@w", dtype=np.float32):
    """The fold does not happen with ``extra``, and results equal the unfolded run's."""
    off, w_off, _ = _run(layout, dtype, fold=False, extra=extra)
    on, w_on, src = _run(layout, dtype, extra=extra)
    assert "_sgd_gemm(" not in src
    np.testing.assert_array_equal(w_on, w_off)
    for a, b in zip(on, off):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    return on


def test_no_fold_when_the_gradient_is_fetched():
    on = _unfolded_equal(lambda w, grad, loss: [grad])
    assert on[0][1].shape == (5, 4)


def test_no_fold_when_the_gradient_has_another_consumer():
    _unfolded_equal(lambda w, grad, loss: [tf.reduce_sum(grad * grad)])


def test_no_fold_when_the_variable_is_read_after_the_update():
    g, w, fetches, feed, _ = _layer_graph("x@w", np.float32, False)
    with g.as_default():
        with tf.control_dependencies([fetches[0]]):
            after = w.read_value() * 1.0
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        for _ in range(3):
            _, _, a = sess.run(fetches + [after], feed)
            np.testing.assert_array_equal(a, sess.run(w))
        assert "_sgd_gemm(" not in _sources(sess)


def test_no_fold_when_an_operand_is_a_variable_the_plan_writes():
    """y = v @ w with both trained: w's step reads v and v's reads w, and the other's buffer
    write would come first at the end of the plan."""
    def build():
        rng = np.random.RandomState(2)
        g = tf.Graph()
        with g.as_default():
            v = tf.Variable(rng.randn(6, 5).astype(np.float32))
            w = tf.Variable(rng.randn(5, 4).astype(np.float32))
            loss = tf.reduce_sum(tf.square(tf.tanh(tf.matmul(v, w))))
            train = tf.train.GradientDescentOptimizer(0.2).minimize(loss)
            init = tf.global_variables_initializer()
        return g, v, w, train, init

    res = {}
    for fold in (False, True):
        g, v, w, train, init = build()
        with _Passes(fold_sgd_gemm=fold), tf.Session(graph=g) as sess:
            sess.run(init)
            for _ in range(4):
                sess.run(train)
            res[fold] = sess.run([v, w])
            assert "_sgd_gemm(" not in _sources(sess)
            assert "xp_subtract(w" in _sources(sess)        # still updated in place
    for a, b in zip(res[False], res[True]):
        np.testing.assert_array_equal(a, b)


needs_onednn = pytest.mark.skipif(not onednn.available(), reason="oneDNN is not installed")


@needs_onednn
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_float32_folds_run_on_onednn(monkeypatch, keep_onednn, layout):
    """With oneDNN the folded update is its GEMM with the step's scale and a sum post-op
    (``w = -lr * a @ b + w``): the same weights as the unfolded update, up to rounding."""
    calls = []
    real = onednn.matmul
    monkeypatch.setattr(onednn, "matmul", lambda *a, **k: calls.append(len(a)) or real(*a, **k))
    off, w_off, _ = _run(layout, np.float32, fold=False)
    calls.clear()
    on, w_on, src = _run(layout, np.float32)
    assert "_sgd_gemm(" in src and 5 in calls           # matmul(a, b, w, -lr, 1.0)
    np.testing.assert_allclose(w_on, w_off, **_tol(np.float32))
    np.testing.assert_allclose(np.array(on), np.array(off), **_tol(np.float32))


@needs_onednn
def test_when_onednn_refuses_the_fold_falls_back_to_the_blas(monkeypatch, keep_onednn):
    off, w_off, _ = _run("x@w", np.float32, fold=False)
    refused = []
    monkeypatch.setattr(onednn, "matmul", lambda *a, **k: refused.append(1))
    on, w_on, src = _run("x@w", np.float32)
    assert "_sgd_gemm(" in src and refused
    np.testing.assert_allclose(w_on, w_off, **_tol(np.float32))


def test_no_fold_without_a_direct_blas(monkeypatch):
    monkeypatch.setattr(blas, "available", lambda: False)
    _unfolded_equal(None)


@pytest.mark.parametrize("refuse", ["takes", "gemm"])
def test_fallbacks_when_the_blas_refuses_compute_the_same(monkeypatch, refuse):
    """``takes`` False: the step is computed where the MatMul stood; ``gemm`` False at the end
    of the plan: numpy's product there.  Both equal the unfolded update bit for bit."""
    off, w_off, _ = _run("x.T@w.T", np.float32, fold=False)
    calls = []
    monkeypatch.setattr(blas, refuse, lambda *a, **k: calls.append(1) or False)
    on, w_on, src = _run("x.T@w.T", np.float32)
    assert "_sgd_gemm(" in src and calls
    np.testing.assert_array_equal(w_on, w_off)
    np.testing.assert_array_equal(np.array(on), np.array(off))


def test_direct_blas_off_by_environment():
    code = ("import numpy as np, flowgrad as tf\n"
            "from flowgrad.runtime import blas\n"
            "assert not blas.available()\n"
            "x = tf.placeholder(tf.float32, (6, 5))\n"
            "w = tf.Variable(np.ones((5, 4), np.float32))\n"
            "loss = tf.reduce_sum(tf.square(tf.matmul(x, w)))\n"
            "train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)\n"
            "xs = np.arange(30, dtype=np.float32).reshape(6, 5) / 30\n"
            "with tf.Session() as s:\n"
            "    s.run(w.initializer)\n"
            "    for _ in range(3):\n"
            "        s.run(train, {x: xs})\n"
            "    src = ''.join(p.specialized_source or '' for p in s._plans.values())\n"
            "    assert '_sgd_gemm(' not in src and 'out=w' in src, src\n"
            "    print(repr(s.run(w).tolist()))\n")
    env = dict(os.environ, FLOWGRAD_DIRECT_BLAS="0", PYTHONPATH=os.path.abspath(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    w = np.ones((5, 4), np.float32)
    xs = np.arange(30, dtype=np.float32).reshape(6, 5) / 30
    for _ in range(3):
        w = w - np.float32(0.01) * (xs.T @ (2 * (xs @ w)))
    np.testing.assert_allclose(np.array(eval(out.stdout)), w, rtol=1e-5)


def test_a_failing_run_leaves_folded_variables_unchanged():
    """check_numerics after the gradient (on the bias's gradient, computed later in the
    plan) fails: the GEMM at the end never runs."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (8, 5))
        y = tf.placeholder(tf.float32, (8, 3))
        w = tf.Variable(np.full((5, 3), 0.1, np.float32))
        b = tf.Variable(np.zeros(3, np.float32))
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
        gw, gb = tf.gradients(loss, [w, b])
        checked = tf.debugging.check_numerics(gb, message="bad bias gradient")
        limit = tf.debugging.assert_less(loss, 1e3, message="loss too large")
        opt = tf.train.GradientDescentOptimizer(0.1)
        with tf.control_dependencies([checked, limit]):
            train = opt.apply_gradients([(gw, w), (gb, b)])
    rng = np.random.RandomState(0)
    xs, ys = rng.rand(8, 5).astype(np.float32), rng.rand(8, 3).astype(np.float32)
    with tf.Session(graph=g) as sess:
        sess.run([w.initializer, b.initializer])
        for _ in range(3):
            sess.run(train, {x: xs, y: ys})
        src = _sources(sess)
        assert "_sgd_gemm(w" in src
        assert src.index("CheckNumerics") < src.index("_sgd_gemm(w")
        before = sess.run([w, b])
        bad = ys.copy()
        bad[0, 0] = np.nan
        with pytest.raises(tf.errors.InvalidArgumentError, match="bad bias gradient"):
            sess.run(train, {x: xs, y: bad})
        with pytest.raises(tf.errors.InvalidArgumentError, match="loss too large"):
            sess.run(train, {x: xs, y: ys + 1e3})
        for a, c in zip(sess.run([w, b]), before):
            np.testing.assert_array_equal(a, c)
        sess.run(train, {x: xs, y: ys})
        assert not np.array_equal(sess.run(w), before[0])


def test_switch_spelling_and_arrays_a_user_holds():
    assert "fold_sgd_gemm" not in CompilerOptions.from_env("-fold_sgd_gemm").enabled()
    assert CompilerOptions.from_env("inplace_updates,fold_sgd_gemm").enabled() == [
        "inplace_updates", "fold_sgd_gemm"]
    g, w, fetches, feed, _ = _layer_graph("x@w", np.float32, True)
    with g.as_default():
        assign = tf.assign(w, np.ones((5, 4), np.float32))
    with tf.Session(graph=g) as sess:
        held = sess.run(assign)              # the variable's buffer is the user's array
        read = sess.run(w)
        for _ in range(4):
            sess.run(fetches, feed)
        assert "_sgd_gemm(w" in _sources(sess)
        np.testing.assert_array_equal(held, np.ones((5, 4), np.float32))
        np.testing.assert_array_equal(read, np.ones((5, 4), np.float32))
        assert not np.array_equal(sess.run(w), held)
