"""Optimizer updates against hand-computed numbers, slots, global step, schedules.

Every case minimises ``loss = sum(w**2) / 2`` (so ``grad == w``) from ``w = [1, -2]`` with
``learning_rate = 0.1`` for three steps. The expected values were worked out by hand from
TF1's update formulas (quoted in each optimizer's docstring), e.g. for Momentum(0.9):

    step 1: accum = 1            w = 1 - 0.1 * 1 = 0.9
    step 2: accum = 0.9 + 0.9    w = 0.9 - 0.1 * 1.8 = 0.72
    step 3: accum = 1.62 + 0.72  w = 0.72 - 0.1 * 2.34 = 0.486

and for Adam, step 1: m = 0.1, v = 0.001, lr_t = 0.1 * sqrt(0.001) / 0.1, so
w = 1 - lr_t * 0.1 / (sqrt(0.001) + 1e-8) = 0.9000000316.
"""

import numpy as np
import pytest

import flowgrad as tf

EXPECTED = {
    "momentum": ([[0.9, -1.8], [0.72, -1.44], [0.486, -0.972]],
                 lambda: tf.train.MomentumOptimizer(0.1, 0.9)),
    "nesterov": ([[0.81, -1.62], [0.5751, -1.1502], [0.327321, -0.654642]],
                 lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True)),
    "adam": ([[0.9000000316, -1.900000016], [0.8004122825, -1.800166513],
              [0.7015863457, -1.700623428]],
             lambda: tf.train.AdamOptimizer(0.1)),
    "rmsprop_momentum": ([[0.9, -1.824588396], [0.7591326201, -1.588049986],
                          [0.6104223695, -1.344422746]],
                         lambda: tf.train.RMSPropOptimizer(0.1, decay=0.9, momentum=0.5)),
    "rmsprop_centered": ([[0.8994962185, -1.821825839], [0.7568863567, -1.577131051],
                          [0.6050630481, -1.319868049]],
                         lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5, centered=True)),
    "adagrad": ([[0.9046537411, -1.90122704], [0.8393387333, -1.832776723],
                 [0.787512768, -1.777700709]],
                lambda: tf.train.AdagradOptimizer(0.1)),
    "adadelta": ([[0.9995527864, -1.999552786], [0.9990999744, -1.999099925],
                  [0.9986434432, -1.998643277]],
                 lambda: tf.train.AdadeltaOptimizer(1.0)),
    "sgd": ([[0.9, -1.8], [0.81, -1.62], [0.729, -1.458]],
            lambda: tf.train.GradientDescentOptimizer(0.1)),
}


@pytest.mark.parametrize("dtype,rtol", [(tf.float32, 2e-6), (tf.float64, 1e-9)],
                         ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_three_steps_match_hand_computed_values(name, dtype, rtol):
    expected, make = EXPECTED[name]
    with tf.Graph().as_default():
        w = tf.Variable(np.array([1.0, -2.0]), dtype=dtype, name="w")
        step = tf.train.get_or_create_global_step()
        train = make().minimize(tf.reduce_sum(w * w) / 2, global_step=step)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            for want in expected:
                s.run(train)
                got = s.run(w)
                assert got.dtype == dtype.np
                np.testing.assert_allclose(got, want, rtol=rtol, err_msg=name)
            assert s.run(step) == 3


def test_slot_and_non_slot_variable_names_are_tf1s():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.layers.dense(x, 2)
        loss = tf.reduce_mean(y * y)
        adam = tf.train.AdamOptimizer()
        adam.minimize(loss)
        names = [v.op.name for v in tf.global_variables()]
        assert names == ["dense/kernel", "dense/bias", "beta1_power", "beta2_power",
                         "dense/kernel/Adam", "dense/kernel/Adam_1", "dense/bias/Adam",
                         "dense/bias/Adam_1"]
        assert adam.get_slot_names() == ["m", "v"]
        kernel = tf.trainable_variables()[0]
        assert adam.get_slot(kernel, "m").op.name == "dense/kernel/Adam"
        assert adam.get_slot(kernel, "nope") is None
        assert not adam.get_slot(kernel, "v").trainable
        rms = tf.train.RMSPropOptimizer(0.1, centered=True)
        rms.minimize(loss)
        assert rms.get_slot(kernel, "rms").op.name == "dense/kernel/RMSProp"
        assert rms.get_slot(kernel, "mg").op.name == "dense/kernel/RMSProp_1"
        assert rms.get_slot(kernel, "momentum").op.name == "dense/kernel/RMSProp_2"
        mom = tf.train.MomentumOptimizer(0.1, 0.9)
        mom.minimize(loss)
        assert mom.get_slot(kernel, "momentum").op.name == "dense/kernel/Momentum"
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            np.testing.assert_array_equal(s.run(rms.get_slot(kernel, "rms")), np.ones([3, 2]))
            b1, b2 = s.run(adam._get_beta_accumulators())
            assert (b1, b2) == (np.float32(0.9), np.float32(0.999))


def test_adam_beta_powers_advance_once_per_step():
    with tf.Graph().as_default():
        a = tf.Variable([1.0, 2.0])
        b = tf.Variable(3.0)
        opt = tf.train.AdamOptimizer(0.01, beta1=0.5, beta2=0.25)
        train = opt.minimize(tf.reduce_sum(a * a) + b * b)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(train)
            s.run(train)
            np.testing.assert_allclose(s.run(list(opt._get_beta_accumulators())),
                                       [0.125, 0.015625])


def test_minimize_raises_when_nothing_is_connected():
    with tf.Graph().as_default():
        tf.Variable(1.0, name="v")
        other = tf.Variable(2.0, name="unrelated")
        loss = tf.constant(3.0) * tf.stop_gradient(other)
        with pytest.raises(ValueError, match="No gradients provided for any variable"):
            tf.train.AdamOptimizer().minimize(loss)


def test_learning_rate_tensor_and_schedules():
    with tf.Graph().as_default():
        step = tf.train.get_or_create_global_step()
        ex = tf.train.exponential_decay(0.1, step, 10, 0.5)
        ex_st = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
        pw = tf.train.piecewise_constant(step, [5, 10], [1.0, 0.5, 0.1])
        poly = tf.train.polynomial_decay(0.1, step, 20, end_learning_rate=0.01, power=2.0)
        poly_c = tf.train.polynomial_decay(0.1, step, 10, end_learning_rate=0.0, cycle=True)
        cos = tf.train.cosine_decay(0.1, step, 20, alpha=0.1)
        w = tf.Variable(1.0)
        train = tf.train.GradientDescentOptimizer(ex).minimize(w * w, global_step=step)
        set_step = tf.assign(step, tf.placeholder_with_default(tf.constant(0, tf.int64), []))
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(train)                    # lr = 0.1 at step 0: w = 1 - 0.1 * 2
            assert s.run(w) == np.float32(0.8)
            for k, want in [(5, [0.1 * 0.5 ** 0.5, 0.1, 1.0, 0.09 * 0.75 ** 2 + 0.01, 0.05,
                                 0.1 * (0.9 * 0.5 * (1 + np.cos(np.pi / 4)) + 0.1)]),
                            (15, [0.1 * 0.5 ** 1.5, 0.05, 0.1, 0.09 * 0.25 ** 2 + 0.01, 0.025,
                                  0.1 * (0.9 * 0.5 * (1 + np.cos(3 * np.pi / 4)) + 0.1)]),
                            (10, [0.05, 0.05, 0.5, 0.09 * 0.25 + 0.01, 0.0,
                                  0.1 * (0.9 * 0.5 + 0.1)])]:
                s.run(set_step, {set_step.op.inputs[1]: k})
                got = s.run([ex, ex_st, pw, poly, poly_c, cos])
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7,
                                           err_msg=f"step {k}")


def test_clip_by_global_norm_in_a_training_loop():
    with tf.Graph().as_default():
        w = tf.Variable([3.0, 4.0])
        opt = tf.train.GradientDescentOptimizer(1.0)
        grads, vars_ = zip(*opt.compute_gradients(tf.reduce_sum(w * w) / 2))
        clipped, norm = tf.clip_by_global_norm(grads, 1.0)
        train = opt.apply_gradients(zip(clipped, vars_))
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            assert s.run(norm) == 5.0
            s.run(train)
            np.testing.assert_allclose(s.run(w), [2.4, 3.2], rtol=1e-6)


def test_gradient_shape_mismatch_fails_at_build_time():
    with tf.Graph().as_default():
        w = tf.Variable([1.0, 2.0], name="w")
        with pytest.raises(ValueError, match="does not match variable 'w'"):
            tf.train.AdamOptimizer().apply_gradients([(tf.constant([1.0, 2.0, 3.0]), w)])


SPARSE = {
    "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9),
    "nesterov": lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
    "adagrad": lambda: tf.train.AdagradOptimizer(0.1),
    "rmsprop": lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5),
    "rmsprop_centered": lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5, centered=True),
    "adadelta": lambda: tf.train.AdadeltaOptimizer(1.0),
    "adam": lambda: tf.train.AdamOptimizer(0.1),
}


@pytest.mark.parametrize("name", sorted(SPARSE))
def test_embedding_gradients_update_only_their_rows(name):
    """TF1's sparse updates: rows 1 and 3 (row 1 looked up twice: its gradients summed) move
    exactly as a dense variable holding just those rows; the other rows and their slots stay."""
    e0 = np.arange(10, dtype=np.float32).reshape(5, 2) / 10
    w = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]], dtype=np.float32)
    with tf.Graph().as_default():
        emb = tf.Variable(e0, name="emb")
        opt = SPARSE[name]()
        loss = tf.reduce_sum(tf.nn.embedding_lookup(emb, tf.constant([1, 3, 1])) * w)
        train = opt.minimize(loss)
        dense = tf.Variable(e0[[1, 3]], name="dense")
        dense_opt = SPARSE[name]()
        train_dense = dense_opt.minimize(tf.reduce_sum(dense * np.stack([w[0] + w[2], w[1]])))
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            slots0 = {k: s.run(opt.get_slot(emb, k)) for k in opt.get_slot_names()}
            for _ in range(3):
                s.run([train, train_dense])
            got, want = s.run([emb, dense])
            np.testing.assert_allclose(got[[1, 3]], want, rtol=1e-6, err_msg=name)
            np.testing.assert_array_equal(got[[0, 2, 4]], e0[[0, 2, 4]])
            for k in opt.get_slot_names():
                slot = s.run(opt.get_slot(emb, k))
                np.testing.assert_allclose(slot[[1, 3]], s.run(dense_opt.get_slot(dense, k)),
                                           rtol=1e-6, err_msg=f"{name} slot {k}")
                if name != "adam":   # TF1's sparse Adam decays every row (zeros stay zero)
                    np.testing.assert_array_equal(slot[[0, 2, 4]], slots0[k][[0, 2, 4]])


def test_get_or_create_global_step_returns_the_existing_one():
    with tf.Graph().as_default():
        a = tf.train.get_or_create_global_step()
        assert tf.train.get_or_create_global_step() is a
        assert a.op.name == "global_step" and a.dtype == tf.int64


def test_variable_constraints_are_applied_after_each_update():
    with tf.Graph().as_default():
        x = tf.constant([[1.0, 1.0]])
        y = tf.layers.dense(x, 2, kernel_constraint=lambda w: tf.clip_by_value(w, -0.1, 0.1),
                            kernel_initializer=tf.zeros_initializer())
        train = tf.train.MomentumOptimizer(10.0, 0.9).minimize(-tf.reduce_sum(y))
        kernel, bias = tf.trainable_variables()
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(train)
            np.testing.assert_array_equal(s.run(kernel), np.full([2, 2], 0.1, np.float32))
            np.testing.assert_array_equal(s.run(bias), [10.0, 10.0])   # no constraint
