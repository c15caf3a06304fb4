"""Assertions, py_func, identity_n and make_template."""

import numpy as np
import pytest

import flowgrad as tf


def test_assert_ops_fail_the_run_with_data():
    x = tf.placeholder(tf.float32, (None,))
    check = tf.assert_positive(x, message="x must be positive")
    with tf.control_dependencies([check]):
        y = tf.sqrt(x)
    with tf.Session() as s:
        assert list(s.run(y, {x: [4.0]})) == [2.0]
        with pytest.raises(tf.errors.InvalidArgumentError, match="x must be positive"):
            s.run(y, {x: [-1.0]})
    a = tf.Assert(tf.reduce_all(x < 10.0), ["too big:", x], summarize=2)
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"too big: \[11.0, 12.0\]"):
            s.run(a, {x: [11.0, 12.0, 13.0]})


def test_static_assertions_fail_at_build_time():
    with pytest.raises(tf.errors.InvalidArgumentError, match="x == y"):
        tf.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]))
    with pytest.raises(ValueError, match="must have rank 2"):
        tf.assert_rank(tf.zeros([3]), 2)
    with pytest.raises(TypeError, match="must be of type float32"):
        tf.assert_type(tf.constant(1), tf.float32)
    assert tf.assert_less(tf.constant(1), 2).type == "NoOp"


def test_py_func_and_its_gradient_override():
    x = tf.placeholder(tf.float64, (3,))
    y = tf.py_func(lambda a: np.sort(a)[::-1].copy(), [x], tf.float64)
    z1, z2 = tf.py_func(lambda a: (a.sum(), a.max()), [x], [tf.float64, tf.float64])
    with tf.Session() as s:
        out = s.run([y, z1, z2], {x: [1.0, 3.0, 2.0]})
    assert list(out[0]) == [3.0, 2.0, 1.0] and out[1] == 6.0 and out[2] == 3.0

    @tf.RegisterGradient("DoubleGrad")
    def _double(op, dy):
        return [dy * 2.0]
    with tf.get_default_graph().gradient_override_map({"PyFunc": "DoubleGrad"}):
        w = tf.py_func(lambda a: 2.0 * a, [x], tf.float64)
    w.set_shape([3])
    g = tf.gradients(tf.reduce_sum(w), x)[0]
    with tf.Session() as s:
        assert list(s.run(g, {x: [1.0, 1.0, 1.0]})) == [2.0, 2.0, 2.0]


def test_identity_n_and_make_template():
    a, b = tf.identity_n([tf.constant(1.0), tf.constant([2, 3])])
    assert a.dtype == tf.float32 and b.shape.as_list() == [2]

    def dense(x):
        w = tf.get_variable("w", [2, 2], initializer=tf.ones_initializer())
        return tf.matmul(x, w)
    layer = tf.make_template("dense", dense)
    y1 = layer(tf.ones([1, 2]))
    y2 = layer(tf.ones([1, 2]))
    assert [v.name for v in tf.global_variables()] == ["dense/w:0"]
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        r1, r2 = s.run([y1, y2])
    assert r1.tolist() == r2.tolist() == [[2.0, 2.0]]
