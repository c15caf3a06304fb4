"""Moving averages, custom gradients, gamma/Poisson sampling, warm starts, contrib.framework
and the contrib.layers functions, against hand-computed TF1 numbers."""

import os

import numpy as np
import pytest

import flowgrad as tf

L = tf.contrib.layers
F = tf.contrib.framework


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


# ----- ExponentialMovingAverage ----------------------------------------------------------
def test_ema_of_a_variable_and_a_tensor():
    v = tf.Variable(1.0, name="v")
    x = tf.placeholder(tf.float32, [])
    m = tf.multiply(x, 2.0, name="m")
    ema = tf.train.ExponentialMovingAverage(0.9)
    step_op = ema.apply([v, m])
    sv, sm = ema.average(v), ema.average(m)
    assert sv.op.name == "v/ExponentialMovingAverage" and sm.op.name == "m/ExponentialMovingAverage"
    assert ema.average_name(v) == "v/ExponentialMovingAverage"
    assert sv not in tf.trainable_variables() and sv in tf.global_variables()
    assert tf.moving_average_variables() == [v]      # TF1 collects the averaged variable
    incr = v.assign_add(1.0)
    want_v, want_m, value = 1.0, 0.0, 1.0             # a variable's shadow starts at its value
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(4):
            sess.run(incr)
            value += 1.0
            sess.run(step_op, {x: float(i)})
            want_v -= (want_v - value) * 0.1
            want_m -= (want_m - 2.0 * i) * 0.1        # a tensor's shadow starts at zero
            got_v, got_m = sess.run([sv, sm])
            np.testing.assert_allclose([got_v, got_m], [want_v, want_m], rtol=1e-6)


def test_ema_num_updates_caps_the_decay():
    v = tf.Variable(0.0, name="v")
    step = tf.Variable(0, trainable=False, name="step")
    ema = tf.train.ExponentialMovingAverage(0.99, num_updates=step)
    update = ema.apply([v])
    with tf.control_dependencies([update]):
        bump = tf.group(step.assign_add(1), name="bump")
    set_v = v.assign(tf.cast(step, tf.float32) + 5.0)
    want = 0.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for n in range(5):
            sess.run(set_v)
            sess.run(bump)
            decay = min(0.99, (1.0 + n) / (10.0 + n))
            want -= (want - (n + 5.0)) * (1 - decay)
            np.testing.assert_allclose(sess.run(ema.average(v)), want, rtol=1e-6)


def test_ema_zero_debias_of_a_tensor():
    x = tf.placeholder(tf.float32, [2])
    t = tf.identity(x, name="t")
    ema = tf.train.ExponentialMovingAverage(0.8, zero_debias=True)
    op = ema.apply([t])
    names = {v.op.name for v in tf.global_variables()}
    assert {"t/ExponentialMovingAverage/biased", "t/ExponentialMovingAverage/local_step"} <= names
    feeds = [np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([0.5, 0.5])]
    biased = np.zeros(2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for k, f in enumerate(feeds, 1):
            sess.run(op, {x: f})
            biased = 0.8 * biased + 0.2 * f
            np.testing.assert_allclose(sess.run(ema.average(t)), biased / (1 - 0.8 ** k),
                                       rtol=1e-5)


def test_assign_moving_average_public():
    v = tf.Variable([1.0, 1.0])
    upd = tf.train.assign_moving_average(v, tf.constant([3.0, 5.0]), 0.75, zero_debias=False)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(upd), [1.5, 2.0])
    with pytest.raises(TypeError, match="needs a tf.Variable"):
        tf.train.assign_moving_average(tf.constant(1.0), 2.0, 0.9)


def test_ema_rejects_integers():
    with pytest.raises(TypeError, match="half, float, or double"):
        tf.train.ExponentialMovingAverage(0.9).apply([tf.Variable(1, name="i")])


def test_variables_to_restore_loads_averages_through_a_saver(tmp_path):
    w = tf.Variable([1.0, 2.0], name="w")
    counter = tf.Variable(7, trainable=False, name="counter")
    ema = tf.train.ExponentialMovingAverage(0.5)
    op = ema.apply([w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign([3.0, 6.0]))
        sess.run(op)                                # shadow: [2, 4]
        path = tf.train.Saver().save(sess, str(tmp_path / "model"))
    with tf.Graph().as_default():
        w2 = tf.Variable([0.0, 0.0], name="w")
        counter2 = tf.Variable(0, trainable=False, name="counter")
        restore_map = tf.train.ExponentialMovingAverage(0.5).variables_to_restore()
        assert restore_map == {"w/ExponentialMovingAverage": w2, "counter": counter2}
        with tf.Session() as sess:
            tf.train.Saver(restore_map).restore(sess, path)
            np.testing.assert_allclose(sess.run(w2), [2.0, 4.0])
            assert sess.run(counter2) == 7
    del counter


# ----- custom_gradient -------------------------------------------------------------------
@tf.custom_gradient
def _clip_grad(x):
    def grad(dy):
        return tf.clip_by_value(dy, -0.5, 0.5)
    return tf.identity(x), grad


def test_custom_gradient_replaces_the_gradient_and_each_call_has_its_own():
    x = tf.placeholder(tf.float32, [3])
    y1 = _clip_grad(3.0 * x)
    y2 = _clip_grad(x)                     # a second call: its own registration
    g1, g2 = tf.gradients(tf.reduce_sum(y1), x)[0], tf.gradients(tf.reduce_sum(4.0 * y2), x)[0]
    with tf.Session() as sess:
        out, d1, d2 = sess.run([y1, g1, g2], {x: [1.0, 2.0, 3.0]})
    np.testing.assert_allclose(out, [3.0, 6.0, 9.0])
    np.testing.assert_allclose(d1, [1.5] * 3)     # clipped 1 -> 0.5, times 3 from the mul
    np.testing.assert_allclose(d2, [0.5] * 3)     # clipped 4 -> 0.5


def test_custom_gradient_two_inputs_and_second_order():
    @tf.custom_gradient
    def log1pexp(a, b):
        e = tf.exp(a)
        def grad(dy):
            return dy * (1 - 1 / (1 + e)), dy * 2.0 * b
        return tf.log(1 + e) + b * b, grad

    a = tf.placeholder(tf.float64, [])
    b = tf.placeholder(tf.float64, [])
    y = log1pexp(a, b)
    da, db = tf.gradients(y, [a, b])
    (dda,) = tf.gradients(da, [a])
    with tf.Session() as sess:
        got = sess.run([y, da, db, dda], {a: 100.0, b: 3.0})
    assert np.isfinite(got[0])
    np.testing.assert_allclose(got[1:3], [1.0, 6.0])
    np.testing.assert_allclose(got[3], 0.0, atol=1e-12)    # d/da of 1 - 1/(1+e^a) at 100


def test_custom_gradient_with_variables():
    w = tf.Variable(2.0, name="w")

    @tf.custom_gradient
    def scale(x):
        def grad(dy, variables=None):
            assert variables == [w]
            return dy * 7.0, [tf.reduce_sum(dy) * 11.0]
        return x * w, grad

    x = tf.placeholder(tf.float32, [3])
    y = scale(x)
    dx, dw = tf.gradients(tf.reduce_sum(y), [x, w])
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(y), var_list=[w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([y, dx, dw], {x: [1.0, 2.0, 3.0]})
        sess.run(train, {x: [1.0, 2.0, 3.0]})
        np.testing.assert_allclose(sess.run(w), 2.0 - 0.1 * 33.0, rtol=1e-6)
    np.testing.assert_allclose(got[0], [2.0, 4.0, 6.0])
    np.testing.assert_allclose(got[1], [7.0] * 3)
    np.testing.assert_allclose(got[2], 33.0)


def test_custom_gradient_errors():
    w = tf.Variable(1.0, name="w")

    @tf.custom_gradient
    def uses_var(x):
        return x * w, lambda dy: dy

    with pytest.raises(TypeError, match="keyword argument 'variables'"):
        uses_var(tf.constant(1.0))

    @tf.custom_gradient
    def bad_count(a, b):
        return a + b, lambda dy: dy

    a, b = tf.constant(1.0), tf.constant(2.0)
    y = bad_count(a, b)
    with pytest.raises(ValueError, match="returned 1 gradients for 2 inputs"):
        tf.gradients(y, [a, b])
    with pytest.raises(ValueError, match="keyword arguments"):
        _clip_grad(x=tf.constant(1.0))

    @tf.custom_gradient
    def bad_shape(x):
        return tf.identity(x), lambda dy: tf.reduce_sum(dy)

    x3 = tf.constant([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"bad_shape returned a gradient of shape \(\)"):
        tf.gradients(bad_shape(x3), x3)

    @tf.custom_gradient
    def not_a_pair(x):
        return x

    with pytest.raises(TypeError, match="pair"):
        not_a_pair(tf.constant(1.0))


# ----- random_gamma / random_poisson ------------------------------------------------------
def test_random_gamma_moments_shape_and_seed():
    tf.set_random_seed(3)
    s = tf.random_gamma([4000], [0.5, 4.0], beta=[1.0, 2.0], seed=7)
    assert s.shape.as_list() == [4000, 2] and s.dtype == tf.float32
    s64 = tf.random.gamma([3, 2], 2.0, dtype=tf.float64)
    assert s64.shape.as_list() == [3, 2] and s64.dtype == tf.float64
    with tf.Session() as sess:
        a = sess.run(s)
    with tf.Session() as sess:
        b = sess.run(s)
    np.testing.assert_array_equal(a, b)            # a seeded op repeats in a new session
    assert (a > 0).all()
    np.testing.assert_allclose(a.mean(0), [0.5, 2.0], rtol=0.1)
    np.testing.assert_allclose(a.var(0), [0.5, 1.0], rtol=0.2)
    with pytest.raises(TypeError, match="dtype"):
        tf.random_gamma([2], 1.0, dtype=tf.int32)


def test_random_poisson_moments_dtype_and_seed():
    def sample():
        with tf.Graph().as_default():
            tf.set_random_seed(11)
            p = tf.random_poisson([2.0, 9.0], [5000], dtype=tf.int64)
            q = tf.random.poisson(3.0, [2, 3])
            assert p.shape.as_list() == [5000, 2] and p.dtype == tf.int64
            assert q.shape.as_list() == [2, 3] and q.dtype == tf.float32
            with tf.Session() as sess:
                return sess.run(p)
    a, b = sample(), sample()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.mean(0), [2.0, 9.0], rtol=0.08)
    np.testing.assert_allclose(a.var(0), [2.0, 9.0], rtol=0.15)
    with pytest.raises(TypeError, match="dtype"):
        tf.random_poisson(1.0, [2], dtype=tf.bool)


# ----- init_from_checkpoint / warm_start ---------------------------------------------------
def _write_checkpoint(tmp_path):
    with tf.Graph().as_default():
        with tf.variable_scope("old"):
            tf.get_variable("a", initializer=tf.constant([1.0, 2.0]))
            tf.get_variable("sub/b", initializer=tf.constant(5.0))
        tf.get_variable("c", initializer=tf.constant(7.0))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            return tf.train.Saver().save(sess, os.path.join(str(tmp_path), "ckpt"))


def test_init_from_checkpoint_scope_and_single_maps(tmp_path):
    _write_checkpoint(tmp_path)
    with tf.variable_scope("new"):
        a = tf.get_variable("a", [2])
        b = tf.get_variable("sub/b", [])
    c1 = tf.get_variable("c1", [])
    c2 = tf.get_variable("c2", [])
    keep = tf.get_variable("keep", initializer=tf.constant(3.0))
    tf.train.init_from_checkpoint(str(tmp_path), {"old/": "new/", "c": c1})
    tf.train.init_from_checkpoint(str(tmp_path), {"c": "c2"})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([a, b, c1, c2, keep])
    np.testing.assert_allclose(got[0], [1.0, 2.0])
    assert got[1:] == [5.0, 7.0, 7.0, 3.0]


def test_init_from_checkpoint_root_mapping(tmp_path):
    _write_checkpoint(tmp_path)
    with tf.variable_scope("net"):
        with tf.variable_scope("old"):
            a = tf.get_variable("a", [2])
    tf.train.init_from_checkpoint(str(tmp_path), {"/": "net/"})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(a), [1.0, 2.0])


def test_init_from_checkpoint_errors(tmp_path):
    _write_checkpoint(tmp_path)
    with tf.variable_scope("new"):
        tf.get_variable("a", [3])
    v = tf.get_variable("v", [])
    with pytest.raises(ValueError, match="not found"):
        tf.train.init_from_checkpoint(str(tmp_path), {"missing": v})
    with pytest.raises(ValueError, match="Shape of variable"):
        tf.train.init_from_checkpoint(str(tmp_path), {"old/": "new/"})
    with pytest.raises(ValueError, match="should map to scope only"):
        tf.train.init_from_checkpoint(str(tmp_path), {"old/a": "new/"})


def test_warm_start_with_renames(tmp_path):
    _write_checkpoint(tmp_path)
    c = tf.get_variable("c", [])
    d = tf.get_variable("d", [])
    frozen = tf.get_variable("frozen", initializer=tf.constant(1.0), trainable=False)
    tf.train.warm_start(str(tmp_path), vars_to_warm_start=[c, d],
                        var_name_to_prev_var_name={"d": "old/sub/b"})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run([c, d, frozen]) == [7.0, 5.0, 1.0]
    with pytest.raises(ValueError, match="not in checkpoint"):
        tf.train.warm_start(str(tmp_path), ".*")


# ----- contrib.framework ------------------------------------------------------------------
def test_arg_scope_nesting_and_errors():
    @F.add_arg_scope
    def f(x, a=0, b=0):
        return x, a, b

    with F.arg_scope([f], a=1, b=2):
        assert f(0) == (0, 1, 2)
        with F.arg_scope([f], b=3) as sc:
            assert f(0) == (0, 1, 3)
            assert f(0, b=9) == (0, 1, 9)
        assert f(0) == (0, 1, 2)
    assert f(0) == (0, 0, 0)
    with F.arg_scope(sc):
        assert f(0) == (0, 1, 3)
    with pytest.raises(ValueError, match="not decorated"):
        with F.arg_scope([lambda x: x], a=1):
            pass
    with pytest.raises(TypeError, match="list/tuple"):
        with F.arg_scope(f, a=1):
            pass


def test_arg_scope_with_contrib_layers():
    x = tf.placeholder(tf.float32, [None, 6, 6, 2])
    with F.arg_scope([L.conv2d, L.fully_connected], activation_fn=None,
                     weights_initializer=tf.ones_initializer()):
        y = L.fully_connected(L.flatten(L.conv2d(x, 1, [1, 1])), 1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(y, {x: np.full((1, 6, 6, 2), -1.0)})
    np.testing.assert_allclose(out, [[-72.0]])          # no ReLU anywhere


def test_variables_to_restore_and_assign_from_checkpoint_fn(tmp_path):
    with tf.variable_scope("net"):
        a = tf.get_variable("a", initializer=tf.constant(1.0))
        with tf.variable_scope("head"):
            h = tf.get_variable("h", initializer=tf.constant(2.0))
    gs = F.get_or_create_global_step()
    assert F.get_or_create_global_step() is gs
    assert F.get_variables_to_restore(include=["net"], exclude=["net/head"]) == [a]
    assert F.get_variables_to_restore(exclude=["net"]) == [gs]
    with pytest.raises(TypeError, match="not a list"):
        F.get_variables_to_restore(include="net")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(sess, str(tmp_path / "m"))
        sess.run([a.assign(10.0), h.assign(20.0)])
        extra = tf.get_variable("extra", initializer=tf.constant(0.0))
        fn = F.assign_from_checkpoint_fn(path, [a, h, extra], ignore_missing_vars=True)
        fn(sess)
        assert sess.run([a, h]) == [1.0, 2.0]
        op, feed = F.assign_from_checkpoint(path, {"net/a": h})
        sess.run(op, feed)
        assert sess.run(h) == 1.0
    assert F.assign_from_checkpoint_fn(path, [extra], ignore_missing_vars=True) is None


# ----- contrib.layers -----------------------------------------------------------------------
def test_contrib_layer_variable_names():
    x = tf.placeholder(tf.float32, [None, 8, 8, 3])
    net = L.conv2d(x, 4, [3, 3])
    net = L.conv2d(net, 4, 3, scope="conv2", normalizer_fn=L.batch_norm)
    net = L.conv2d_transpose(net, 2, 3, stride=2)
    net = L.max_pool2d(net, [2, 2])
    net = L.fully_connected(L.flatten(net), 5)
    net = L.layer_norm(net)
    L.repeat(x, 2, L.conv2d, 3, [3, 3], scope="rep")
    L.stack(tf.reshape(x, [-1, 192]), L.fully_connected, [8, 4], scope="fc")
    L.embed_sequence(tf.constant([[1, 2]]), vocab_size=10, embed_dim=4)
    names = [v.op.name for v in tf.global_variables()]
    assert names == [
        "Conv/weights", "Conv/biases", "conv2/weights", "conv2/BatchNorm/beta",
        "conv2/BatchNorm/moving_mean", "conv2/BatchNorm/moving_variance",
        "Conv2d_transpose/weights", "Conv2d_transpose/biases", "fully_connected/weights",
        "fully_connected/biases", "LayerNorm/beta", "LayerNorm/gamma", "rep/rep_1/weights",
        "rep/rep_1/biases", "rep/rep_2/weights", "rep/rep_2/biases", "fc/fc_1/weights",
        "fc/fc_1/biases", "fc/fc_2/weights", "fc/fc_2/biases", "EmbedSequence/embeddings"]
    assert [v.op.name for v in tf.model_variables()] == names
    shapes = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    assert shapes["Conv/weights"] == [3, 3, 3, 4]
    assert shapes["Conv2d_transpose/weights"] == [3, 3, 2, 4]
    assert "conv2/BatchNorm/moving_mean" not in [v.op.name for v in tf.trainable_variables()]


def test_fully_connected_and_conv2d_outputs():
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float64, [None, 5, 5, 2])
    y = L.conv2d(x, 3, [3, 3], stride=2, padding="VALID",
                 biases_initializer=tf.constant_initializer(0.5))
    z = L.fully_connected(L.flatten(y), 2, activation_fn=tf.nn.sigmoid,
                          outputs_collections="outs")
    assert tf.get_collection("outs") == [z]
    xv = rng.randn(2, 5, 5, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, wf, bf, got_y, got_z = sess.run(
            ["Conv/weights:0", "fully_connected/weights:0", "fully_connected/biases:0", y, z],
            {x: xv})
    want = np.zeros((2, 2, 2, 3))
    for i in range(2):
        for j in range(2):
            patch = xv[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :]
            want[:, i, j] = np.tensordot(patch, w, axes=3) + 0.5
    want = np.maximum(want, 0)
    np.testing.assert_allclose(got_y, want, rtol=1e-10)
    np.testing.assert_allclose(got_z, 1 / (1 + np.exp(-(want.reshape(2, -1) @ wf + bf))),
                               rtol=1e-10)


def test_pooling_dropout_one_hot_transpose_shapes():
    x = tf.placeholder(tf.float32, [2, 4, 4, 1])
    mp = L.max_pool2d(x, 2)
    ap = L.avg_pool2d(x, [2, 2], stride=1, padding="SAME")
    ct = L.conv2d_transpose(x, 3, [3, 3], stride=2, padding="VALID")
    keep = tf.placeholder(tf.bool, [])
    dr = L.dropout(x, keep_prob=0.5, is_training=keep)
    oh = L.one_hot_encoding(tf.constant([0, 2], tf.int32), 3)
    assert ct.shape.as_list() == [2, 9, 9, 3]
    xv = np.arange(32, dtype=np.float32).reshape(2, 4, 4, 1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([mp, ap, dr, oh], {x: xv, keep: False})
        dropped = sess.run(dr, {x: xv + 1, keep: True})
    np.testing.assert_allclose(got[0][0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_allclose(got[1][0, 3, 3, 0], 15.0)
    np.testing.assert_allclose(got[1][0, 0, 0, 0], (0 + 1 + 4 + 5) / 4)
    np.testing.assert_allclose(got[2], xv)
    assert set(np.unique(dropped / (xv + 1))) <= {0.0, 2.0}
    np.testing.assert_allclose(got[3], [[1, 0, 0], [0, 0, 1]])
    assert oh.dtype == tf.float32


@pytest.mark.parametrize("fused", [None, False])
def test_batch_norm_training_updates(fused):
    x = tf.placeholder(tf.float64, [4, 3])
    y = L.batch_norm(x, decay=0.9, scale=True, is_training=True, fused=fused)
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    xv = np.arange(12.0).reshape(4, 3) ** 1.5
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(y, {x: xv})
        sess.run(updates, {x: xv})
        mm, mv = sess.run(["BatchNorm/moving_mean:0", "BatchNorm/moving_variance:0"])
    mean, var = xv.mean(0), xv.var(0)
    np.testing.assert_allclose(out, (xv - mean) / np.sqrt(var + 1e-3), rtol=1e-8)
    batch_var = var * 4 / 3 if fused is None else var      # fused (default): unbiased
    # TF1 rounds 1 - decay to float32 whatever the variable's dtype
    np.testing.assert_allclose(mm, 0.1 * mean, rtol=1e-7)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * batch_var, rtol=1e-7)


def test_batch_norm_in_place_updates_and_training_tensor():
    x = tf.placeholder(tf.float32, [2, 2, 2, 2])
    training = tf.placeholder(tf.bool, [])
    y = L.batch_norm(x, decay=0.5, updates_collections=None, is_training=training,
                     zero_debias_moving_mean=False)
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    xv = np.random.RandomState(1).randn(2, 2, 2, 2).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        infer = sess.run(y, {x: xv, training: False})
        np.testing.assert_allclose(infer, xv / np.sqrt(1 + 1e-3), rtol=1e-5)
        assert sess.run("BatchNorm/moving_mean:0").tolist() == [0.0, 0.0]
        sess.run(y, {x: xv, training: True})
        mm = sess.run("BatchNorm/moving_mean:0")
    np.testing.assert_allclose(mm, 0.5 * xv.mean((0, 1, 2)), rtol=1e-5, atol=1e-7)


def test_layer_norm_and_embed_sequence_values():
    x = tf.placeholder(tf.float64, [2, 3, 4])
    y = L.layer_norm(x, begin_norm_axis=1, begin_params_axis=-1)
    ids = tf.constant([[0, 2], [1, 1]])
    e = L.embed_sequence(ids, vocab_size=3, embed_dim=2,
                         initializer=tf.constant_initializer(np.arange(6.0).reshape(3, 2)))
    xv = np.random.RandomState(2).randn(2, 3, 4)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, emb = sess.run([y, e], {x: xv})
    m = xv.mean((1, 2), keepdims=True)
    v = xv.var((1, 2), keepdims=True)
    np.testing.assert_allclose(got, (xv - m) / np.sqrt(v + 1e-12), rtol=1e-8)
    np.testing.assert_allclose(emb, np.arange(6.0).reshape(3, 2)[[[0, 2], [1, 1]]])
    with pytest.raises(ValueError, match="must be < rank"):
        L.layer_norm(x, begin_norm_axis=3)
    with pytest.raises(ValueError, match="vocab size"):
        L.embed_sequence(ids)


def test_optimize_loss_steps_and_counts():
    w = tf.get_variable("w", initializer=tf.constant([1.0, -2.0]))
    loss = tf.reduce_sum(tf.square(w))
    gs = tf.train.get_or_create_global_step()
    train = L.optimize_loss(loss, gs, 0.25, "SGD", clip_gradients=1.0)
    lr = [v for v in tf.global_variables() if v.op.name == "OptimizeLoss/learning_rate"]
    assert len(lr) == 1 and lr[0] not in tf.trainable_variables()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(train) == pytest.approx(5.0)     # the loss before the step
        g = np.array([2.0, -4.0])
        np.testing.assert_allclose(sess.run(w), [1.0, -2.0] - 0.25 * g / np.linalg.norm(g),
                                   rtol=1e-6)
        assert sess.run(gs) == 1
    with pytest.raises(ValueError, match="Optimizer name should be one of"):
        L.optimize_loss(loss, gs, 0.1, "Nope")
    with pytest.raises(ValueError, match="Learning rate is None"):
        L.optimize_loss(loss, gs, None, "SGD")


def test_contrib_layer_errors():
    with pytest.raises(ValueError, match="rank 4"):
        L.conv2d(tf.placeholder(tf.float32, [2, 3]), 1, 1)
    with pytest.raises(ValueError, match="last dimension"):
        L.fully_connected(tf.placeholder(tf.float32, [2, None]), 3)
    with pytest.raises(ValueError, match="must be 1 when rate"):
        L.conv2d(tf.placeholder(tf.float32, [1, 5, 5, 1]), 1, 3, stride=2, rate=2)
    with pytest.raises(ValueError, match="renorm"):
        L.batch_norm(tf.placeholder(tf.float32, [2, 3]), renorm=True)


def test_ema_after_a_train_op_sees_the_updated_variable():
    w = tf.Variable(1.0, name="w")
    step = tf.train.GradientDescentOptimizer(0.5).minimize(tf.square(w))   # w <- w - w = 0
    ema = tf.train.ExponentialMovingAverage(0.5)
    with tf.control_dependencies([step]):
        train = ema.apply([w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        assert sess.run([w, ema.average(w)]) == [0.0, 0.5]


def test_random_gamma_gradient_wrt_alpha_and_beta():
    # implicit reparameterization: d E[x] / d alpha = 1 / beta and d E[x^2] / d alpha =
    # (2 alpha + 1) / beta^2; d E[x] / d beta = -alpha / beta^2
    tf.set_random_seed(5)
    alpha = tf.constant([0.4, 3.0])
    beta = tf.constant(2.0)
    s = tf.random_gamma([20000], alpha, beta=beta)
    d_mean = tf.gradients(tf.reduce_mean(s, 0)[0] + tf.reduce_mean(s, 0)[1], [alpha, beta])
    d_sq = tf.gradients(tf.reduce_mean(tf.square(s)), alpha)[0] * 2.0
    with tf.Session() as sess:
        (ga, gb), gsq = sess.run([d_mean, d_sq])
    np.testing.assert_allclose(ga, [0.5, 0.5], rtol=0.05)
    np.testing.assert_allclose(gb, -(0.4 + 3.0) / 4.0, rtol=0.05)
    np.testing.assert_allclose(gsq, [(2 * 0.4 + 1) / 4.0, (2 * 3.0 + 1) / 4.0], rtol=0.08)


def test_conv1d_by_rank_and_dilation():
    x = tf.placeholder(tf.float64, [1, 7, 2])
    y = L.convolution(x, 3, 3, rate=2, padding="VALID", activation_fn=None, scope="c1")
    assert tf.global_variables()[0].shape.as_list() == [3, 2, 3]
    assert y.shape.as_list() == [1, 3, 3]
    xv = np.random.RandomState(4).randn(1, 7, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, got = sess.run(["c1/weights:0", y], {x: xv})
    want = np.stack([sum(xv[0, i + 2 * k] @ w[k] for k in range(3)) for i in range(3)])
    np.testing.assert_allclose(got[0], want, rtol=1e-10)
    with pytest.raises(ValueError, match="expects input with rank 3"):
        L.conv1d(tf.placeholder(tf.float32, [1, 4, 4, 1]), 1, 1)
