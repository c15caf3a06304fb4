"""Gradients of gradients through cond / case (IfGradGrad) and while_loop (WhileGradGrad)."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def _nested(x, y):
    def outer_true():
        return tf.cond(tf.reduce_sum(y) > 0.0, lambda: tf.sin(x) * y * y, lambda: x * x * y)
    return tf.cond(tf.reduce_sum(x) > -100.0, outer_true, lambda: x)


def _np_nested(x, y):
    return np.sin(x) * y * y if np.sum(y) > 0 else x * x * y


# harness rows: first and second order against finite differences (float64)
CASES = [
    OpCase("cond_second_order_true", lambda x, y: tf.cond(tf.reduce_sum(x) > -100.0,
                                                          lambda: tf.exp(x) * y * x,
                                                          lambda: y),
           lambda x, y: np.exp(x) * y * x, [(3,), (3,)]),
    OpCase("cond_second_order_false", lambda x, y: tf.cond(tf.reduce_sum(x) > 100.0,
                                                           lambda: y,
                                                           lambda: tf.tanh(x * y) * x),
           lambda x, y: np.tanh(x * y) * x, [(2, 3), (2, 3)]),
    OpCase("cond_nested_second_order", _nested, _np_nested, [(4,), (4,)],
           domain=[(-2, 2), (0.2, 1.0)]),
    OpCase("cond_nested_second_order_inner_false", _nested, _np_nested, [(4,), (4,)],
           domain=[(-2, 2), (-1.0, -0.2)]),
    OpCase("case_second_order", lambda x: tf.case([(tf.reduce_sum(x) < -100.0, lambda: x),
                                                   (tf.reduce_sum(x) < 100.0,
                                                    lambda: tf.sin(x) * x)],
                                                  default=lambda: -x),
           lambda x: np.sin(x) * x, [(3,)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def test_second_and_third_derivatives_both_branches():
    x = tf.placeholder(tf.float64, ())
    p = tf.placeholder(tf.bool, ())
    y = tf.cond(p, lambda: x ** 3, lambda: tf.sin(x))
    g = tf.gradients(y, x)[0]
    h = tf.gradients(g, x)[0]
    h3 = tf.gradients(h, x)[0]
    h4 = tf.gradients(h3, x)[0]
    assert [t.op.type for t in (g, h)] == ["IfGrad", "IfGradGrad"]
    with tf.Session() as sess:
        got = sess.run([y, g, h, h3, h4], {x: 0.7, p: True})
        np.testing.assert_allclose(got, [0.343, 1.47, 4.2, 6.0, 0.0], rtol=1e-12, atol=1e-12)
        got = sess.run([y, g, h, h3, h4], {x: 0.7, p: False})
        np.testing.assert_allclose(got, [np.sin(.7), np.cos(.7), -np.sin(.7), -np.cos(.7),
                                         np.sin(.7)], rtol=1e-12)


def test_capture_used_in_one_branch_only():
    x = tf.placeholder(tf.float64, [2])
    w = tf.placeholder(tf.float64, [2])
    p = tf.placeholder(tf.bool, ())
    y = tf.reduce_sum(tf.cond(p, lambda: x * w ** 3, lambda: tf.exp(x)))
    gw = tf.gradients(y, w)[0]
    hww, hwx = tf.gradients(gw, [w, x])
    gx = tf.gradients(y, x)[0]
    hxx = tf.gradients(gx, x)[0]
    xv, wv = np.array([0.5, -1.5]), np.array([2.0, 0.3])
    with tf.Session() as sess:
        a = sess.run([hww, hwx, hxx], {x: xv, w: wv, p: True})
        np.testing.assert_allclose(a[0], 6 * xv * wv, rtol=1e-12)
        np.testing.assert_allclose(a[1], 3 * wv ** 2, rtol=1e-12)
        np.testing.assert_allclose(a[2], [0.0, 0.0])
        b = sess.run([hww, hwx, hxx], {x: xv, w: wv, p: False})
        np.testing.assert_allclose(b[0], [0.0, 0.0])
        np.testing.assert_allclose(b[1], [0.0, 0.0])
        np.testing.assert_allclose(b[2], np.exp(xv), rtol=1e-12)


def test_branches_using_variables():
    v = tf.Variable(np.array([0.4, -0.8]), name="v")
    u = tf.Variable(1.5, dtype=tf.float64, name="u")
    p = tf.placeholder(tf.bool, ())
    y = tf.cond(p, lambda: tf.reduce_sum(v ** 3) * u, lambda: tf.reduce_sum(tf.exp(v * u)))
    gv, gu = tf.gradients(y, [v, u])
    hvv, hvu = tf.gradients(gv, [v, u])
    huu = tf.gradients(gu, u)[0]
    vv = np.array([0.4, -0.8])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a = sess.run([hvv, hvu, huu], {p: True})
        np.testing.assert_allclose(a[0], 6 * vv * 1.5, rtol=1e-12)
        np.testing.assert_allclose(a[1], 3 * np.sum(vv ** 2), rtol=1e-12)
        np.testing.assert_allclose(a[2], 0.0)
        b = sess.run([hvv, hvu, huu], {p: False})
        e = np.exp(vv * 1.5)
        np.testing.assert_allclose(b[0], 1.5 ** 2 * e, rtol=1e-12)
        np.testing.assert_allclose(b[1], np.sum(e + vv * 1.5 * e), rtol=1e-12)
        np.testing.assert_allclose(b[2], np.sum(vv ** 2 * e), rtol=1e-12)


def _check_directional_fd(sess, var, grad, loss, feed, rng, eps=1e-5):
    """``grad`` (of ``loss`` with respect to ``var``) along a random direction matches the
    central finite difference of ``loss``; ``var`` is restored afterwards."""
    v0, g = sess.run([var, grad], feed)
    d = rng.standard_normal(v0.shape)
    vals = []
    for e in (eps, -eps):
        var.load(v0 + e * d, sess)
        vals.append(sess.run(loss, feed))
    var.load(v0, sess)
    np.testing.assert_allclose(np.sum(g * d), (vals[0] - vals[1]) / (2 * eps), rtol=1e-5)


def _fd_hessian(f, x, eps=1e-4):
    n = x.size
    h = np.zeros((n, n))
    for i in range(n):
        d = np.zeros(n)
        d[i] = eps
        h[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return h


def test_hessians_through_cond_match_finite_differences():
    x = tf.placeholder(tf.float64, [3])
    p = tf.placeholder(tf.bool, ())
    a = tf.constant(np.array([[1.0, 0.5, -0.2], [0.3, -1.0, 0.7], [0.1, 0.2, 0.9]]))

    def quartic():
        z = tf.tensordot(a, x, 1)
        return tf.reduce_sum(z ** 4) + tf.reduce_prod(x)

    def smooth():
        return tf.reduce_sum(tf.sin(x) * tf.exp(tf.reduce_sum(x * x) * 0.1))
    y = tf.cond(p, quartic, smooth)
    g = tf.gradients(y, x)[0]
    hess = tf.hessians(y, x)[0]
    xv = np.array([0.3, -0.7, 1.1])
    with tf.Session() as sess:
        for pv in (True, False):
            got = sess.run(hess, {x: xv, p: pv})
            want = _fd_hessian(lambda v: sess.run(g, {x: v, p: pv}), xv)
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7)
            np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-12)


def test_third_order_polynomial_nested():
    x = tf.placeholder(tf.float64, ())
    p = tf.placeholder(tf.bool, ())
    q = tf.placeholder(tf.bool, ())
    y = tf.cond(p, lambda: tf.cond(q, lambda: x ** 5, lambda: 2.0 * x ** 4) + x * x,
                lambda: x ** 3)
    d = [y]
    for _ in range(4):
        d.append(tf.gradients(d[-1], x)[0])
    xv = 1.3
    with tf.Session() as sess:
        for pv, qv, want in [
                (True, True, [xv ** 5 + xv ** 2, 5 * xv ** 4 + 2 * xv, 20 * xv ** 3 + 2,
                              60 * xv ** 2, 120 * xv]),
                (True, False, [2 * xv ** 4 + xv ** 2, 8 * xv ** 3 + 2 * xv, 24 * xv ** 2 + 2,
                               48 * xv, 48.0]),
                (False, True, [xv ** 3, 3 * xv ** 2, 6 * xv, 6.0, 0.0])]:
            np.testing.assert_allclose(sess.run(d, {x: xv, p: pv, q: qv}), want,
                                       rtol=1e-12, atol=1e-12)


def test_grad_ys_that_depend_on_the_input():
    # double backprop through the incoming gradient: d/dx [dy/dx * x] with grad_ys = x
    x = tf.placeholder(tf.float64, ())
    p = tf.placeholder(tf.bool, ())
    y = tf.cond(p, lambda: tf.sin(x), lambda: x * x)
    g = tf.gradients(y, x, grad_ys=x)[0]          # cos(x) * x   or   2x * x
    h = tf.gradients(g, x)[0]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(h, {x: 0.4, p: True}),
                                   np.cos(.4) - .4 * np.sin(.4), rtol=1e-12)
        np.testing.assert_allclose(sess.run(h, {x: 0.4, p: False}), 4 * .4, rtol=1e-12)


def test_first_order_graph_is_unchanged_until_a_second_order_gradient_is_asked():
    x = tf.placeholder(tf.float64, ())
    p = tf.placeholder(tf.bool, ())
    y = tf.cond(p, lambda: tf.sin(x) * x, lambda: x)
    if_op = y.op
    g = tf.gradients(y, x)[0]
    saved = len(if_op.get_attr("spec").branches[0].saved)
    assert not any(o.type == "IfGradGrad" for o in tf.get_default_graph().get_operations())
    tf.gradients(g, x)
    assert len(if_op.get_attr("spec").branches[0].saved) >= saved


def test_gradient_penalty_through_batch_norm_with_a_training_tensor():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((8, 3, 3, 2))
    tv = rng.standard_normal((8, 1))
    x = tf.placeholder(tf.float64, [8, 3, 3, 2])
    t = tf.placeholder(tf.float64, [8, 1])
    training = tf.placeholder_with_default(True, ())
    w = tf.Variable(rng.standard_normal((2, 2, 2, 3)) * 0.5, name="w")
    h = tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    h = tf.layers.batch_normalization(h, training=training)
    assert any(o.type == "If" for o in tf.get_default_graph().get_operations())
    h = tf.nn.softplus(h)
    out = tf.layers.dense(tf.reshape(h, [8, 27]), 1,
                          kernel_initializer=tf.constant_initializer(0.1))
    loss = tf.reduce_mean((out - t) ** 2)
    dx = tf.gradients(loss, x)[0]
    penalty = tf.reduce_sum(dx * dx)
    total = loss + 10.0 * penalty
    train = tf.train.GradientDescentOptimizer(0.05).minimize(total)
    grads = tf.gradients(penalty, tf.trainable_variables())
    assert all(d is not None for d in grads)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: xv, t: tv}
        first = sess.run(penalty, feed)
        # the penalty's gradient through the cond matches finite differences along w
        _check_directional_fd(sess, w, grads[0], penalty, feed, rng)
        before = sess.run(total, feed)
        for _ in range(30):
            sess.run(train, feed)
        after = sess.run(total, feed)
        assert after < before * 0.3, (before, after)
        assert sess.run(penalty, feed) < first
        # inference branch: second-order gradients are defined there too
        assert np.isfinite(sess.run(grads[0], {x: xv, t: tv, training: False})).all()


def test_hessians_through_while_loop_match_finite_differences():
    x = tf.placeholder(tf.float64, [3])
    w = tf.constant(np.array([[0.9, -0.3, 0.2], [0.4, 0.7, -0.5], [0.1, 0.3, 0.8]]))

    def body(i, v):
        return i + 1, tf.tanh(tf.tensordot(w, v, 1)) + 0.1 * v * v

    y = tf.reduce_sum(tf.while_loop(lambda i, v: i < 4, body, [0, x])[1] ** 2)
    g = tf.gradients(y, x)[0]
    hess = tf.hessians(y, x)[0]
    xv = np.array([0.3, -0.7, 0.5])
    with tf.Session() as sess:
        got = sess.run(hess, {x: xv})
        want = _fd_hessian(lambda v: sess.run(g, {x: v}), xv)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-8)


def test_second_order_through_a_loop_with_a_data_dependent_trip_count():
    x = tf.placeholder(tf.float64, ())
    w = tf.placeholder(tf.float64, ())
    y = tf.while_loop(lambda v: v < 10.0, lambda v: v * w + tf.sin(v), [x])
    g = tf.gradients(y, x)[0]
    hx, hw = tf.gradients(g, [x, w])

    def f(xv, wv):
        while xv < 10.0:
            xv = xv * wv + np.sin(xv)
        return xv

    def fd(fn, v, e=1e-4):
        return (fn(v + e) - fn(v - e)) / (2 * e)
    with tf.Session() as sess:
        got = sess.run([y, g, hx, hw], {x: 0.8, w: 1.7})
        gx = lambda xv, wv: sess.run(g, {x: xv, w: wv})   # noqa: E731
        np.testing.assert_allclose(got[0], f(0.8, 1.7), rtol=1e-12)
        np.testing.assert_allclose(got[2], fd(lambda v: gx(v, 1.7), 0.8), rtol=1e-6)
        np.testing.assert_allclose(got[3], fd(lambda v: gx(0.8, v), 1.7), rtol=1e-6)


def test_gradient_penalty_through_dynamic_rnn():
    rng = np.random.default_rng(1)
    xv, tv = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 2))
    x = tf.placeholder(tf.float64, [4, 5, 3])
    t = tf.placeholder(tf.float64, [4, 2])
    cell = tf.nn.rnn_cell.BasicRNNCell(2, kernel_initializer=tf.constant_initializer(0.3))
    _, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    loss = tf.reduce_mean((state - t) ** 2)
    dx = tf.gradients(loss, x)[0]
    penalty = tf.reduce_sum(dx * dx)
    total = loss + penalty
    kernel = tf.trainable_variables()[0]
    gk = tf.gradients(penalty, kernel)[0]
    train = tf.train.GradientDescentOptimizer(0.5).minimize(total)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: xv, t: tv}
        _check_directional_fd(sess, kernel, gk, penalty, feed, rng)
        before = sess.run(total, feed)
        for _ in range(20):
            sess.run(train, feed)
        assert sess.run(total, feed) < 0.5 * before


def test_third_order_through_while_loop_is_a_clear_error():
    x = tf.placeholder(tf.float64, ())
    y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * x), [0, x])[1]
    g = tf.gradients(y, x)[0]
    h = tf.gradients(g, x)[0]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(h, {x: 1.5}), 12 * 1.5 ** 2, rtol=1e-12)
    with pytest.raises(LookupError, match="WhileGradGrad.*Unroll"):
        tf.gradients(h, x)


def test_meta_graph_round_trip_keeps_second_order_gradients(tmp_path):
    path = str(tmp_path / "cond2.meta")
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float64, [2], name="x")
        p = tf.placeholder(tf.bool, (), name="p")
        y = tf.cond(p, lambda: tf.reduce_sum(x ** 3), lambda: tf.reduce_sum(tf.sin(x) * x))
        z = tf.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, v * x), [0, x])[1]
        gx = tf.gradients(y + tf.reduce_sum(z), x)[0]
        h = tf.gradients(tf.reduce_sum(gx * gx), x)[0]
        tf.identity(h, name="h")
        tf.train.export_meta_graph(path)
        with tf.Session() as sess:
            want = [sess.run(h, {x: [0.5, -1.2], p: pv}) for pv in (True, False)]
    with tf.Graph().as_default():
        tf.placeholder(tf.float32, name="shift")     # op ids shift; sub-graphs still line up
        tf.train.import_meta_graph(path, import_scope="m")
        with tf.Session() as sess:
            got = [sess.run("m/h:0", {"m/x:0": [0.5, -1.2], "m/p:0": pv}) for pv in (True, False)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    xv = np.array([0.5, -1.2])      # d/dx sum((3x^2 + 3x^2)^2) = 144 x^3 (true branch)
    np.testing.assert_allclose(want[0], 144 * xv ** 3, rtol=1e-12)


@pytest.mark.parametrize("norm", ["fused_batch_norm", "lrn"])
def test_gradient_penalty_through_normalisation_ops_matches_finite_differences(norm):
    # their second-order rules differentiate a rebuilt backward formula; dy depends on x
    # here, which that inner differentiation must not follow (the outer gradient does)
    rng = np.random.default_rng(2)
    xv = rng.standard_normal((2, 3, 3, 4))
    x = tf.placeholder(tf.float64, xv.shape)
    if norm == "lrn":
        y = tf.nn.local_response_normalization(x, depth_radius=1, alpha=0.5, beta=0.75)
    else:
        y = tf.nn.fused_batch_norm(x, tf.constant(np.full(4, 1.5)), tf.constant(np.zeros(4)),
                                   is_training=True)[0]
    loss = tf.reduce_sum(tf.sin(y) * y)
    penalty = tf.reduce_sum(tf.gradients(loss, x)[0] ** 2)
    gx = tf.gradients(penalty, x)[0]
    with tf.Session() as sess:
        g = sess.run(gx, {x: xv})
        d = rng.standard_normal(xv.shape)
        fd = (sess.run(penalty, {x: xv + 1e-5 * d}) -
              sess.run(penalty, {x: xv - 1e-5 * d})) / 2e-5
    np.testing.assert_allclose(np.sum(g * d), fd, rtol=1e-6)
