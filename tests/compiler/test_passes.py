"""Every compiler pass keeps results identical: op harness rows and training runs, with
passes on and off (all at once and one at a time), plus the passes' own behaviour."""

import contextlib
import os

import numpy as np
import pytest

import flowgrad as tf
from flowgrad import compiler
from flowgrad.compiler import PASSES, CompilerOptions
from flowgrad.testing.op_test import check_op, load_cases


CASES = load_cases(*(os.path.join(os.path.dirname(__file__), "..", sub)
                     for sub in ("ops", "nn")))


@contextlib.contextmanager
def passes(**flags):
    saved = compiler.options.copy()
    try:
        for k, v in flags.items():
            setattr(compiler.options, k, v)
        yield
    finally:
        for k in PASSES:
            setattr(compiler.options, k, getattr(saved, k))


def _all(on: bool) -> dict:
    return {p: on for p in PASSES}


# every pass but fold_sgd_gemm keeps results bit for bit (that one rounds the step once less;
# tests/compiler/test_sgd_gemm_fold.py compares it with a tolerance)
BITWISE = {"fold_sgd_gemm": False}


def _case_values(case):
    """Forward and gradient values of an op row, from the 3rd run of one plan."""
    rng = np.random.default_rng(case.seed)
    from flowgrad.testing.op_test import _sample
    values = _sample(case, rng)
    g = tf.Graph()
    with g.as_default():
        phs = [tf.placeholder(tf.as_dtype(v.dtype), v.shape) for v in values]
        out = case.fn(*phs)
        outs = list(out) if isinstance(out, list | tuple) else [out]
        fl = [t for t in outs if t.dtype.is_floating]
        fetch = list(outs)
        if fl and case.grad:
            loss = tf.add_n([tf.reduce_sum(t * t) for t in fl])
            fetch += [d for d in tf.gradients(loss, phs) if d is not None]
        with tf.Session(graph=g) as sess:
            feed = dict(zip(phs, values))
            res = [sess.run(fetch, feed) for _ in range(2)]    # generic, then specialized
    return res


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_rows_identical_with_passes_on_and_off(case):
    with passes(**_all(False)):
        off = _case_values(case)
    on = _case_values(case)
    for run_off, run_on in zip(off, on):
        for a, b in zip(run_off, run_on):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=case.name)


@pytest.mark.parametrize("case", CASES[::10], ids=lambda c: c.name)
def test_op_harness_with_passes_off(case):
    with passes(**_all(False)):
        check_op(case)


def _train(steps=12, batch=(16, 16, 16, 7), fetch_w=False):
    """A small MLP trained with SGD; returns losses and final weights."""
    rng = np.random.RandomState(1)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None, 20))
        y = tf.placeholder(tf.float32, (None, 3))
        w1 = tf.Variable(rng.randn(20, 32).astype(np.float32) * 0.3)
        b1 = tf.Variable(np.zeros(32, np.float32))
        w2 = tf.Variable(rng.randn(32, 3).astype(np.float32) * 0.3)
        b2 = tf.Variable(np.zeros(3, np.float32))
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        h2 = tf.tanh(h) * 1.0 + 0.0
        logits = tf.matmul(h2, w2) + b2
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y,
                                                                          logits=logits))
        loss = loss + 1e-3 * tf.reduce_sum(tf.square(w1)) + 0.0 * tf.reduce_sum(tf.sigmoid(b1))
        step = tf.train.get_or_create_global_step()
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
        init = tf.global_variables_initializer()
    losses = []
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for i in range(steps):
            n = batch[i % len(batch)]
            xs = rng.rand(n, 20).astype(np.float32)
            ys = np.eye(3, dtype=np.float32)[rng.randint(0, 3, n)]
            fetches = [train, loss, w1] if fetch_w else [train, loss]
            out = sess.run(fetches, {x: xs, y: ys})
            losses.append(out[1])
        ws = sess.run([w1, b1, w2, b2, step])
    return np.array(losses), ws


def test_training_identical_with_passes_on_and_off():
    with passes(**_all(False)):
        l_off, w_off = _train()
    with passes(**BITWISE):
        l_on, w_on = _train()
    np.testing.assert_array_equal(l_off, l_on)
    for a, b in zip(w_off, w_on):
        np.testing.assert_array_equal(a, b)
    assert l_on[-4:].mean() < l_on[:4].mean()


@pytest.mark.parametrize("only", PASSES)
def test_training_identical_with_one_pass(only):
    with passes(**_all(False)):
        l_off, w_off = _train(steps=6)
    with passes(**{**_all(False), only: True}):
        l_one, w_one = _train(steps=6)
    np.testing.assert_array_equal(l_off, l_one)
    for a, b in zip(w_off, w_one):
        np.testing.assert_array_equal(a, b)


def test_fetching_a_variable_with_the_train_op_matches_passes_off():
    with passes(**_all(False)):
        l_off, w_off = _train(steps=5, fetch_w=True)
    with passes(**BITWISE):
        l_on, w_on = _train(steps=5, fetch_w=True)
    np.testing.assert_array_equal(l_off, l_on)
    np.testing.assert_array_equal(w_off[0], w_on[0])


def _xor_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None, 2), name="x")
        y = tf.placeholder(tf.float32, (None, 1), name="y")
        w = tf.Variable(np.full((2, 1), 0.5, np.float32), name="w")
        p = tf.sigmoid(tf.matmul(x, w))
        loss = tf.reduce_mean(tf.square(p - y))
        checked = tf.debugging.check_numerics(x * 2.0, message="bad input")
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    return g, x, y, w, loss, checked, train


X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
Y = np.array([[0], [1], [1], [0]], np.float32)


@pytest.mark.parametrize("fold", [False, True])
def test_failed_run_rolls_back_in_place_updates(fold, monkeypatch, on_cpu):
    from flowgrad.runtime import blas
    if fold and not blas.available():
        pytest.skip("no direct BLAS in this numpy")
    monkeypatch.setattr(compiler.options, "fold_min_elements", 0)
    g, x, y, w, loss, checked, train = _xor_graph()
    with passes(fold_sgd_gemm=fold), tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        for _ in range(3):                    # plan compiled, specialized, in place
            sess.run([train, checked], {x: X, y: Y})
        plan = next(p for p in sess._plans.values() if p.specialized_source and p.feeds)
        assert ("_sgd_gemm(w" if fold else "out=w") in plan.specialized_source
        before = sess.run(w)
        bad = X.copy()
        bad[0, 0] = np.nan
        with pytest.raises(tf.errors.InvalidArgumentError, match="bad input"):
            sess.run([train, checked], {x: bad, y: Y})
        np.testing.assert_array_equal(sess.run(w), before)
        sess.run([train, checked], {x: X, y: Y})
        assert not np.array_equal(sess.run(w), before)


def test_in_place_updates_never_touch_arrays_a_user_holds():
    g, x, y, w, loss, checked, train = _xor_graph()
    with g.as_default():
        assign = tf.assign(w, np.ones((2, 1), np.float32))
    with tf.Session(graph=g) as sess:
        held = sess.run(assign)
        read = sess.run(w)
        for _ in range(4):
            sess.run(train, {x: X, y: Y})
        np.testing.assert_array_equal(held, np.ones((2, 1), np.float32))
        np.testing.assert_array_equal(read, np.ones((2, 1), np.float32))
        assert not np.array_equal(sess.run(w), held)


def test_new_feed_shape_falls_back_to_the_generic_plan():
    g, x, y, w, loss, checked, train = _xor_graph()
    with tf.Session(graph=g) as sess, passes(**_all(False)):
        pass
    results = {}
    for mode in ("off", "on"):
        ctx = passes(**_all(False)) if mode == "off" else passes(**BITWISE)
        with ctx, tf.Session(graph=g) as sess:
            sess.run(w.initializer)
            out = []
            for xs, ys in [(X, Y), (X, Y), (X[:3], Y[:3]), (X, Y), (X[:1], Y[:1])]:
                out.append(sess.run([train, loss], {x: xs, y: ys})[1])
            results[mode] = (np.array(out), sess.run(w))
    np.testing.assert_array_equal(results["off"][0], results["on"][0])
    np.testing.assert_array_equal(results["off"][1], results["on"][1])


def test_constant_folding_cse_and_simplification_show_in_the_plan(on_cpu):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, (None, 3))
        c = tf.constant(2.0, tf.float64) * tf.constant(3.0, tf.float64)     # folded
        y = tf.identity(tf.identity(tf.sin(x) * c + tf.sin(x) * 1.0 + 0.0))
    with tf.Session(graph=g) as sess:
        v = sess.run(y, {x: np.ones((2, 3))})
        np.testing.assert_allclose(v, np.sin(1.0) * 7.0)
        plan = next(iter(sess._plans.values()))
        body = plan.source.split("\n", 1)[1]
        assert body.count("xp_sin(") == 1 and body.count("# Sin") == 1     # CSE
        assert body.count("# Mul") == 1 and body.count(" * ") == 1    # 2*3 folded, *1 gone
        assert body.count("# AddV2") == 1                            # + 0.0 dropped
        assert "Identity" not in body
    with passes(**_all(False)), tf.Session(graph=g) as sess:
        np.testing.assert_allclose(sess.run(y, {x: np.ones((2, 3))}), v)
        plan = next(iter(sess._plans.values()))
        assert plan.source.count("(") > 8


def test_shape_specialization_removes_dynamic_shape_machinery(on_cpu):
    g, x, y, w, loss, checked, train = _xor_graph()
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        sess.run(train, {x: X, y: Y})
        plan = next(p for p in sess._plans.values() if p.specialized_source and p.feeds)
        dynamic = {"Shape", "Size", "BroadcastTo", "SumToLike", "SumToShape", "Reshape"}
        generic_types = {n.type for n in plan.program.nodes}
        assert generic_types & dynamic
        spec_types = {n.type for n in plan.specialized[1].nodes}
        assert not spec_types & dynamic, spec_types


def test_runtime_errors_still_name_the_op_and_variable():
    g = tf.Graph()
    with g.as_default():
        a = tf.placeholder(tf.float32, None)
        b = tf.placeholder(tf.float32, None)
        mm = tf.matmul(a, b, name="my_matmul")
        v = tf.Variable(np.ones(3, np.float32), name="uninit")
        r = v * 2.0
    with tf.Session(graph=g) as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="my_matmul"):
            sess.run(mm, {a: np.ones((2, 3)), b: np.ones((4, 2))})
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninit"):
            sess.run(r)


def test_options_from_env_and_config():
    assert CompilerOptions.from_env("none").enabled() == []
    assert "cse" not in CompilerOptions.from_env("-cse").enabled()
    assert CompilerOptions.from_env("fold,inline").enabled() == ["fold", "inline"]
    with pytest.raises(ValueError, match="unknown pass"):
        CompilerOptions.from_env("-nope")
    cfg = tf.ConfigProto(graph_options=tf.GraphOptions(
        optimizer_options=tf.OptimizerOptions(opt_level=tf.OptimizerOptions.L0)))
    assert tf.Session(config=cfg)._options.enabled() == []
    cfg = tf.ConfigProto(graph_options={"cse": False})
    assert "cse" not in tf.Session(config=cfg)._options.enabled()


def test_large_variables_update_in_place_block_by_block_identically(on_cpu):
    def run():
        rng = np.random.RandomState(3)
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, (None, 300))
            w = tf.Variable(rng.randn(300, 1024).astype(np.float32) * 0.05)   # >= 4 blocks
            loss = tf.reduce_mean(tf.square(tf.tanh(tf.matmul(x, w))))
            train = tf.train.GradientDescentOptimizer(0.3).minimize(loss)
        with tf.Session(graph=g) as sess:
            sess.run(w.initializer)
            xs = rng.rand(8, 300).astype(np.float32)
            losses = [sess.run([train, loss], {x: xs})[1] for _ in range(4)]
            plans = [p.specialized_source or "" for p in sess._plans.values()]
            return losses, sess.run(w), plans
    with passes(**_all(False)):
        l_off, w_off, _ = run()
    with passes(**BITWISE):
        l_on, w_on, plans = run()
    assert any("_sgd_blocked" in p for p in plans)
    np.testing.assert_array_equal(l_off, l_on)
    np.testing.assert_array_equal(w_off, w_on)


def _moving_average_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None, 3), name="x")
        m = tf.Variable(np.zeros(3, np.float32), name="m")
        n = tf.Variable(np.ones(3, np.float32), name="n")
        batch = tf.reduce_mean(x, axis=0)
        ema = tf.assign_sub(m, (m - batch) * 0.25)          # batch norm's running mean
        count = tf.assign_add(n, batch * 2.0)
        step = tf.group(ema, count)
    return g, x, m, n, step


@pytest.mark.parametrize("inplace", [False, True])
def test_assign_sub_and_add_update_in_place_with_the_same_numbers(inplace, on_cpu):
    g, x, m, n, step = _moving_average_graph()
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(4)]
    with passes(inplace_updates=inplace), tf.Session(graph=g) as sess:
        sess.run(tf.variables_initializer([m, n]))
        held = sess.run(m)
        want_m, want_n = np.zeros(3, np.float32), np.ones(3, np.float32)
        for f in feeds:
            sess.run(step, {x: f})
            b = f.mean(axis=0, dtype=np.float32)
            want_m = want_m - (want_m - b) * np.float32(0.25)
            want_n = want_n + b * np.float32(2.0)
        plan = next(p for p in sess._plans.values() if p.specialized_source and p.feeds)
        assert ("xp_subtract(w" in plan.specialized_source) == inplace
        assert ("xp_add(w" in plan.specialized_source) == inplace
        np.testing.assert_allclose(sess.run(m), want_m, rtol=1e-6)
        np.testing.assert_allclose(sess.run(n), want_n, rtol=1e-6)
        np.testing.assert_array_equal(held, np.zeros(3, np.float32))   # a user's array


def test_an_update_whose_step_is_another_updated_variable_stays_out_of_place(on_cpu):
    with tf.Graph().as_default() as g:
        a = tf.Variable(np.full(3, 5.0, np.float32))
        b = tf.Variable(np.ones(3, np.float32))
        x = tf.placeholder(tf.float32, (3,))
        with tf.control_dependencies([tf.assign_sub(a, b)]):    # b's buffer is the step
            both = tf.assign_add(b, x).op
    with tf.Session(graph=g) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(both, {x: np.ones(3, np.float32)})
        plan = next(p for p in sess._plans.values() if p.specialized_source and p.feeds)
        assert "xp_add(w" in plan.specialized_source            # b: in place
        assert "xp_subtract(w" not in plan.specialized_source   # a: not
        np.testing.assert_array_equal(sess.run(a), np.full(3, -1.0, np.float32))  # 5-1-2-3
        np.testing.assert_array_equal(sess.run(b), np.full(3, 4.0, np.float32))
