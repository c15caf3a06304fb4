"""The gradient engine: graph growth, fan-out sums, broadcasting, higher order, overrides."""

import math

import numpy as np
import pytest

import flowgrad as tf


def test_lecture_autodiff_example_adds_nodes():
    x1 = tf.placeholder(tf.float32, (), name="x1")
    x2 = tf.placeholder(tf.float32, (), name="x2")
    y = tf.sin(x1) + x1 * x2
    g = tf.get_default_graph()
    before = len(g.get_operations())
    dx1, dx2 = tf.gradients(y, [x1, x2])
    new = g.get_operations()[before:]
    assert len(new) > 0 and all(op.name.startswith("gradients/") for op in new)
    assert {"gradients/Sin_grad/Cos", "gradients/mul_grad/mul"} <= {op.name for op in new}
    with tf.Session() as s:
        v1, v2 = s.run([dx1, dx2], {x1: 0.5, x2: 2.0})
    assert v1 == pytest.approx(2.0 + math.cos(0.5), rel=1e-6)
    assert v2 == pytest.approx(0.5)


def test_second_derivative():
    x = tf.placeholder(tf.float64, ())
    y = x ** 3 + tf.sin(x)
    dy = tf.gradients(y, x)[0]
    d2y = tf.gradients(dy, x)[0]
    d3y = tf.gradients(d2y, x)[0]
    with tf.Session() as s:
        a, b, c = s.run([dy, d2y, d3y], {x: 0.7})
    assert a == pytest.approx(3 * 0.49 + math.cos(0.7))
    assert b == pytest.approx(6 * 0.7 - math.sin(0.7))
    assert c == pytest.approx(6 - math.cos(0.7))


def test_fan_out_gradients_are_summed():
    x = tf.placeholder(tf.float32, ())
    y = x * x + x          # x used three times
    g = tf.gradients(y, x)[0]
    assert g.op.type == "AddN"
    with tf.Session() as s:
        assert s.run(g, {x: 3.0}) == 7.0


def test_broadcast_gradients_reduce_to_input_shape_with_unknown_batch():
    x = tf.placeholder(tf.float32, (None, 3))
    b = tf.Variable(np.zeros(3, np.float32))
    c = tf.Variable(np.float32(2.0))
    y = tf.reduce_sum((x + b) * c)
    gb, gc = tf.gradients(y, [b, c])
    assert gb.shape.as_list() == [3] and gc.shape.as_list() == []
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        vb, vc = s.run([gb, gc], {x: np.ones((4, 3))})
    np.testing.assert_allclose(vb, [8.0, 8.0, 8.0])
    assert vc == 12.0


def test_runtime_broadcast_of_unknown_dims():
    a = tf.placeholder(tf.float64, (None, None))
    b = tf.placeholder(tf.float64, (None, None))
    ga = tf.gradients(tf.reduce_sum(a * b), a)[0]
    with tf.Session() as s:
        out = s.run(ga, {a: np.ones((1, 3)), b: np.arange(6.0).reshape(2, 3)})
    np.testing.assert_allclose(out, [[3.0, 5.0, 7.0]])


def test_unconnected_gradients_are_none_or_zero():
    x = tf.placeholder(tf.float32, (2,))
    z = tf.placeholder(tf.float32, (2,))
    y = tf.reduce_sum(x * 2.0)
    assert tf.gradients(y, [x, z])[1] is None
    gz = tf.gradients(y, z, unconnected_gradients="zero")[0]
    with tf.Session() as s:
        assert list(s.run(gz, {z: [1, 2]})) == [0.0, 0.0]


def test_stop_gradient_and_stop_gradients_argument():
    x = tf.placeholder(tf.float32, ())
    y = tf.stop_gradient(x * x) + x
    z = x * x + x
    with tf.Session() as s:
        assert s.run(tf.gradients(y, x)[0], {x: 3.0}) == 1.0
        inner = z.op.inputs[0]
        assert s.run(tf.gradients(z, x, stop_gradients=[inner])[0], {x: 3.0}) == 1.0


def test_grad_ys_weights_the_outputs():
    x = tf.placeholder(tf.float32, (2,))
    y = x * 3.0
    g = tf.gradients(y, x, grad_ys=tf.constant([1.0, 10.0]))[0]
    with tf.Session() as s:
        assert list(s.run(g, {x: [0.0, 0.0]})) == [3.0, 30.0]


def test_gradient_wrt_variables_and_integer_paths():
    w = tf.Variable([1.0, 2.0])
    n = tf.cast(tf.reduce_sum(tf.cast(w, tf.int32)), tf.float32)   # through ints: no grad
    loss = tf.reduce_sum(w * w) + n
    g = tf.gradients(loss, w)[0]
    with tf.Session() as s:
        s.run(w.initializer)
        assert list(s.run(g)) == [2.0, 4.0]


def test_register_gradient_and_override_map():
    @tf.RegisterGradient("TimesTen")
    def _times_ten(op, dy):
        return [dy * 10.0]

    x = tf.placeholder(tf.float32, ())
    with tf.get_default_graph().gradient_override_map({"Identity": "TimesTen"}):
        y = tf.identity(x)
    assert tf.get_default_graph()  # the override is recorded on the node
    with tf.Session() as s:
        assert s.run(tf.gradients(y, x)[0], {x: 1.0}) == 10.0


def test_op_without_gradient_raises_clearly():
    x = tf.placeholder(tf.float32, (3,))
    y = tf.floor(x) * x          # Floor is declared NotDifferentiable: only x's path counts
    with tf.Session() as s:
        assert list(s.run(tf.gradients(y, x)[0], {x: [1.5, 2.5, 3.5]})) == [1.0, 2.0, 3.0]

    @tf.RegisterGradient("NoSuch")
    def _unused(op, dy):
        return [dy]
    from flowgrad.framework.registry import _GRADIENTS
    saved = _GRADIENTS.pop("Sin")
    try:
        with pytest.raises(LookupError, match="No gradient defined for operation 'Sin'"):
            tf.gradients(tf.sin(x), x)
    finally:
        _GRADIENTS["Sin"] = saved


def test_gradient_of_non_float_raises():
    i = tf.constant([1, 2])
    with pytest.raises(TypeError, match="not a floating-point type"):
        tf.gradients(i * 2, i)


def test_hessian():
    x = tf.placeholder(tf.float64, (2,))
    y = x[0] ** 2 * x[1] + x[1] ** 3
    h = tf.hessians(y, x)[0]
    with tf.Session() as s:
        out = s.run(h, {x: [1.0, 2.0]})
    np.testing.assert_allclose(out, [[4.0, 2.0], [2.0, 12.0]])


def test_gradient_descent_minimize_and_global_step():
    x = tf.placeholder(tf.float32, (None, 1))
    w = tf.Variable([[0.0]])
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 3.0 * x))
    step = tf.train.get_or_create_global_step()
    opt = tf.train.GradientDescentOptimizer(0.1)
    train = opt.minimize(loss, global_step=step)
    gv = opt.compute_gradients(loss)
    assert gv[0][1] is w
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(100):
            s.run(train, {x: [[1.0], [2.0]]})
        assert s.run(step) == 100
        assert s.run(w)[0, 0] == pytest.approx(3.0, abs=1e-4)


def test_minimize_with_no_gradients_raises_like_tf():
    w = tf.Variable(1.0)
    loss = tf.constant(2.0)
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        tf.train.GradientDescentOptimizer(0.1).minimize(loss, var_list=[w])


def test_broadcast_to_with_unknown_dims_and_bias_without_extra_ops():
    x = tf.placeholder(tf.float64, (None, 1))
    y = tf.broadcast_to(x, [2, 3])
    g = tf.gradients(tf.reduce_sum(y * y), x)[0]
    with tf.Session() as s:
        np.testing.assert_allclose(s.run(g, {x: [[1.0], [2.0]]}), [[6.0], [12.0]])
    # (?, 3) + (3,): the batch dim of x cannot have been stretched -> no run-time reduction
    a = tf.placeholder(tf.float32, (None, 3))
    b = tf.Variable(np.zeros(3, np.float32))
    ga = tf.gradients(tf.reduce_sum(a + b), a)[0]
    assert ga.op.type != "SumToLike"
