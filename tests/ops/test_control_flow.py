"""cond / case / while_loop / map_fn / scan / fold: forward values, TF1 semantics, gradients."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op


def _doubling_until(x):
    # the trip count depends on the data: double until the norm exceeds 10
    def body(i, v):
        return i + 1, v * 1.5 + tf.sin(v)
    return tf.while_loop(lambda i, v: tf.reduce_sum(v * v) < 100.0, body, [0, x])[1]


def _np_doubling_until(x):
    while np.sum(x * x) < 100.0:
        x = x * 1.5 + np.sin(x)
    return x


def _loop_with_capture(x, w):
    # w is a loop invariant captured from outside; the counter is an int loop variable
    def body(i, h):
        return i + 1, tf.tanh(tf.matmul(h, w))
    return tf.while_loop(lambda i, h: i < 4, body, (tf.constant(0), x))[1]


def _np_loop_with_capture(x, w):
    for _ in range(4):
        x = np.tanh(x @ w)
    return x


def _nested_loops(x):
    def outer(i, v):
        inner = tf.while_loop(lambda j, u: j < i, lambda j, u: (j + 1, u * 0.9 + tf.cos(u)),
                              [0, v])[1]
        return i + 1, inner
    return tf.while_loop(lambda i, v: i < 3, outer, [0, x])[1]


def _np_nested(x):
    for i in range(3):
        for _ in range(i):
            x = x * 0.9 + np.cos(x)
    return x


def _cond_in_loop(x):
    def body(i, v):
        v2 = tf.cond(tf.equal(i % 2, 0), lambda: v * v, lambda: tf.sin(v))
        return i + 1, v2
    return tf.while_loop(lambda i, v: i < 4, body, [0, x])[1]


def _np_cond_in_loop(x):
    for i in range(4):
        x = x * x if i % 2 == 0 else np.sin(x)
    return x


def _loop_in_cond(x, y):
    return tf.cond(tf.reduce_sum(y) > 0,
                   lambda: tf.foldl(lambda a, r: a * r, x),
                   lambda: tf.reduce_sum(x, 0) + y)


def _nested_structure(x, y):
    def body(state):
        a, (b, c) = state["a"], state["bc"]
        return {"a": a + b * c, "bc": (b * 0.5, tf.exp(-c))}
    out = tf.while_loop(lambda s: tf.reduce_sum(s["bc"][0]) > 0.01, lambda s: (body(s),),
                        [{"a": x, "bc": (y, x)}])
    return out["a"], out["bc"][1]


def _tensor_array_rnn(x, w):
    # the TF1 idiom: read inputs from one TensorArray, write outputs to another
    n = 4
    ta_in = tf.TensorArray(x.dtype, size=n).unstack(x)

    def body(t, h, ta):
        h = tf.tanh(tf.matmul(tf.expand_dims(ta_in.read(t), 0), w) + h)
        return t + 1, h, ta.write(t, tf.reduce_sum(h, 0))
    _, _, ta = tf.while_loop(lambda t, h, ta: t < n, body,
                             [0, tf.zeros([1, 3], x.dtype), tf.TensorArray(x.dtype, size=n)])
    return ta.stack()


def _np_tensor_array_rnn(x, w):
    h, out = np.zeros((1, 3)), []
    for t in range(4):
        h = np.tanh(x[t:t + 1] @ w + h)
        out.append(h[0])
    return np.stack(out)


CASES = [
    # dynamic=False: with unknown input shapes h's shape would change in the loop (TF1 errors)
    OpCase("tensor_array_in_loop", _tensor_array_rnn, _np_tensor_array_rnn, [(4, 2), (2, 3)],
           dynamic=False),
    OpCase("cond_true", lambda x: tf.cond(tf.reduce_sum(x) > -100.0, lambda: x * tf.exp(x),
                                          lambda: x), lambda x: x * np.exp(x), [(3, 2)]),
    OpCase("cond_false_branch_capture", lambda x, y: tf.cond(tf.reduce_sum(x) > 100.0,
                                                             lambda: x, lambda: tf.sin(x) * y),
           lambda x, y: np.sin(x) * y, [(4,), (4,)]),
    OpCase("cond_nested_outputs", lambda x: tf.cond(tf.constant(True), lambda: (x * 2.0, [x * x]),
                                                    lambda: (x, [x]))[1][0],
           lambda x: x * x, [(3,)]),
    OpCase("case", lambda x: tf.case([(tf.reduce_sum(x) < -100.0, lambda: x),
                                      (tf.reduce_sum(x) < 100.0, lambda: tf.tanh(x))],
                                     default=lambda: -x), np.tanh, [(3,)]),
    OpCase("while_data_dependent_trips", _doubling_until, _np_doubling_until, [(3,)],
           domain=(0.5, 1.5)),
    OpCase("while_captured_invariant", _loop_with_capture, _np_loop_with_capture,
           [(2, 3), (3, 3)]),
    OpCase("while_nested", _nested_loops, _np_nested, [(4,)]),
    OpCase("while_cond_inside", _cond_in_loop, _np_cond_in_loop, [(3,)]),
    OpCase("while_inside_cond", _loop_in_cond, lambda x, y: np.prod(x, 0), [(3, 2), (2,)],
           domain=[(-2, 2), (0.5, 1)]),
    OpCase("while_nested_structure", _nested_structure, None, [(3,), (3,)],
           domain=(0.5, 1.0)),
    OpCase("map_fn", lambda x: tf.map_fn(lambda r: tf.reduce_sum(r * r) * r, x),
           lambda x: np.sum(x * x, 1, keepdims=True) * x, [(4, 3)]),
    OpCase("scan", lambda x: tf.scan(lambda a, r: a * tf.tanh(r) + r, x),
           None, [(5, 2)]),
    OpCase("scan_init_reverse", lambda x, h: tf.scan(lambda a, r: tf.sin(a) + r, x,
                                                     initializer=h, reverse=True),
           None, [(4, 3), (3,)]),
    OpCase("scan_nested", lambda x, y: tf.scan(lambda a, e: (a[0] + e[0] * a[1], a[1] * e[1]),
                                               (x, y))[0], None, [(4, 2), (4, 2)]),
    OpCase("foldl", lambda x: tf.foldl(lambda a, r: a * r + 1.0, x), None, [(4, 3)]),
    OpCase("foldr", lambda x, h: tf.foldr(lambda a, r: tf.tanh(a * r), x, initializer=h),
           None, [(4, 3), (3,)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_cond_runs_only_the_taken_branch():
    p = tf.placeholder(tf.bool, [])
    x = tf.constant([1.0, 2.0])
    bad = lambda: tf.gather(x, [5])          # noqa: E731 - would fail if it ran
    y = tf.cond(p, lambda: x * 3.0, bad)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {p: True}), [3.0, 6.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="GatherV2"):
            sess.run(y, {p: False})


def test_cond_python_bool_and_side_effects():
    v = tf.Variable(0.0)
    assert tf.cond(True, lambda: 1, lambda: 2) == 1
    p = tf.placeholder(tf.bool, [])
    y = tf.cond(p, lambda: tf.assign_add(v, 1.0), lambda: tf.assign_add(v, 10.0))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(y, {p: True})
        sess.run(y, {p: False})
        assert sess.run(v) == 11.0


def test_cond_checks():
    p = tf.placeholder(tf.bool, [])
    with pytest.raises(TypeError, match="same dtype"):
        tf.cond(p, lambda: tf.constant(1), lambda: tf.constant(1.0))
    with pytest.raises(ValueError, match="same structure"):
        tf.cond(p, lambda: (1.0, 2.0), lambda: 1.0)
    with pytest.raises(TypeError, match="bool"):
        tf.cond(tf.constant(1.0), lambda: 1.0, lambda: 2.0)


def test_cond_shapes_merge():
    p = tf.placeholder(tf.bool, [])
    y = tf.cond(p, lambda: tf.zeros([2, 3]), lambda: tf.zeros([2, 4]))
    assert y.shape.as_list() == [2, None]


def test_case_dict_default_exclusive():
    x = tf.placeholder(tf.int32, [])
    r = tf.case({tf.equal(x, 1): lambda: tf.constant(10), tf.equal(x, 2): lambda: tf.constant(20)},
                default=lambda: tf.constant(-1), exclusive=True)
    with tf.Session() as sess:
        assert [sess.run(r, {x: v}) for v in (1, 2, 3)] == [10, 20, -1]
    r2 = tf.case([(x > 0, lambda: tf.constant(1)), (x > 1, lambda: tf.constant(2))],
                 default=lambda: tf.constant(0), exclusive=True)
    with tf.Session() as sess:
        assert sess.run(r2, {x: 1}) == 1
        with pytest.raises(tf.errors.InvalidArgumentError, match="exclusive"):
            sess.run(r2, {x: 5})
    r3 = tf.case([(x > 0, lambda: tf.constant(1)), (x > 1, lambda: tf.constant(2))])
    with tf.Session() as sess:
        assert sess.run(r3, {x: 3}) == 1
        with pytest.raises(tf.errors.InvalidArgumentError, match="none of the predicates"):
            sess.run(r3, {x: -3})


def test_while_loop_tf1_forms():
    i = tf.while_loop(lambda i: i < 10, lambda i: i + 1, [0])
    assert isinstance(i, tf.Tensor)
    i2, s2 = tf.while_loop(lambda i, s: i < 5, lambda i, s: (i + 1, s + tf.cast(i, tf.float32)),
                           (0, 0.0))
    capped = tf.while_loop(lambda i: i < 100, lambda i: i + 1, [0], maximum_iterations=7)
    same = tf.while_loop(lambda i: i < 3, lambda i: [i + 1], [0], return_same_structure=True)
    assert _run([i, i2, s2, capped]) == [10, 5, 10.0, 7]
    assert isinstance(same, list) and _run(same) == [3]


def test_while_shape_invariants():
    x = tf.constant(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="shape_invariants"):
        tf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, tf.concat([x, x], 0)), [0, x])
    _, y = tf.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, tf.concat([x, x], 0)), [0, x],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 2])])
    assert y.shape.as_list() == [None, 2]
    assert _run(y).shape == (8, 2)


def test_while_body_errors_name_the_inner_op():
    x = tf.placeholder(tf.float32, [None])

    def body(i, v):
        return i + 1, tf.check_numerics(tf.log(v), "log went bad")
    _, y = tf.while_loop(lambda i, v: i < 3, body, [0, x])
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="log went bad"):
            sess.run(y, {x: [0.5, 2.0]})


def test_training_through_a_loop_with_variables():
    # y = w^4 * x via a loop; minimize (y - 1)^2 by gradient descent on w
    w = tf.Variable(1.2, dtype=tf.float64)
    x = tf.constant(0.5, tf.float64)
    _, y = tf.while_loop(lambda i, a: i < 4, lambda i, a: (i + 1, a * w), [0, x])
    loss = tf.square(y - 1.0)
    step = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    g = tf.gradients(loss, w)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        wv = 1.2
        np.testing.assert_allclose(sess.run(g), 2 * (0.5 * wv ** 4 - 1) * 0.5 * 4 * wv ** 3)
        l0 = sess.run(loss)
        for _ in range(30):
            sess.run(step)
        assert sess.run(loss) < l0 * 1e-3


def test_variables_created_inside_a_loop_body():
    x = tf.placeholder(tf.float32, [2, 3])

    def body(i, h):
        with tf.variable_scope("cell", reuse=tf.AUTO_REUSE):
            w = tf.get_variable("w", [3, 3], initializer=tf.constant_initializer(0.1))
        return i + 1, tf.matmul(h, w)
    _, y = tf.while_loop(lambda i, h: i < 2, body, [0, x])
    assert [v.op.name for v in tf.trainable_variables()] == ["cell/w"]
    g = tf.gradients(tf.reduce_sum(y), tf.trainable_variables())[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, gv = sess.run([y, g], {x: np.ones((2, 3))})
    np.testing.assert_allclose(out, np.full((2, 3), 0.09), rtol=1e-6)
    assert gv.shape == (3, 3) and np.all(gv > 0)


def test_map_fn_and_scan_values():
    e = tf.constant([1.0, 2.0, 3.0, 4.0])
    out = _run([tf.map_fn(lambda v: v * v, e), tf.scan(lambda a, v: a + v, e),
                tf.scan(lambda a, v: a + v, e, reverse=True),
                tf.foldl(lambda a, v: a - v, e), tf.foldr(lambda a, v: a - v, e),
                tf.map_fn(lambda t: (t[0] * t[1], t[0]), (e, e * 2.0))])
    np.testing.assert_allclose(out[0], [1, 4, 9, 16])
    np.testing.assert_allclose(out[1], [1, 3, 6, 10])
    np.testing.assert_allclose(out[2], [10, 9, 7, 4])
    assert out[3] == -8.0 and out[4] == -2.0
    np.testing.assert_allclose(out[5][0], [2, 8, 18, 32])


def test_straight_line_plans_are_untouched():
    # a graph without control flow compiles to the same one-line-per-op plan
    x = tf.placeholder(tf.float32, [2])
    y = x * 2.0 + 1.0
    with tf.Session() as sess:
        sess.run(y, {x: [1.0, 2.0]})
        (plan,) = sess._plans.values()
    assert "While" not in plan.source and len(plan.ops) == 4


def test_tensor_array_dynamic_size_and_errors():
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    _, ta = tf.while_loop(lambda i, a: i < 3,
                          lambda i, a: (i + 1, a.write(i, tf.fill([2], tf.cast(i, tf.float32)))),
                          [0, ta])
    fixed = tf.TensorArray(tf.float32, size=2, element_shape=[2]).write(0, [1.0, 2.0])
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(ta.stack()), [[0, 0], [1, 1], [2, 2]])
        assert sess.run(ta.size()) == 3
        np.testing.assert_allclose(sess.run(fixed.stack()), [[1, 2], [0, 0]])
        np.testing.assert_allclose(sess.run(fixed.read(0)), [1, 2])
        with pytest.raises(tf.errors.InvalidArgumentError, match="dynamic_size"):
            sess.run(fixed.write(5, [0.0, 0.0]).stack())
    with pytest.raises(ValueError, match="incompatible"):
        fixed.write(1, [1.0, 2.0, 3.0])
