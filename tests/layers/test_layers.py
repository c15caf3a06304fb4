"""tf.layers: TF1 variable names, reuse, dropout/batch-norm training flags, regularizers."""

import numpy as np
import pytest

import flowgrad as tf


def _names(vs):
    return [v.op.name for v in vs]


def test_dense_names_match_tf1():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        h = tf.layers.dense(x, 8, activation=tf.nn.relu)
        h = tf.layers.dense(h, 3)
        fc = tf.layers.Dense(2, name="fc")
        a, b = fc(h), fc(h)
        with tf.variable_scope("model"):
            tf.layers.dense(x, 5)
            tf.layers.dense(x, 5, name="out")
        assert _names(tf.global_variables()) == [
            "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias", "fc/kernel",
            "fc/bias", "model/dense/kernel", "model/dense/bias", "model/out/kernel",
            "model/out/bias"]
        assert _names(tf.trainable_variables()) == _names(tf.global_variables())
        assert h.op.name == "dense_1/BiasAdd"
        assert a.op.name == "fc/BiasAdd" and b.op.name == "fc_1/BiasAdd"
        assert fc.name == "fc" and _names(fc.trainable_weights) == ["fc/kernel", "fc/bias"]
        assert fc.kernel.shape.as_list() == [3, 2]


def test_dense_reuse_through_variable_scope_and_reuse_argument():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        with tf.variable_scope("net"):
            y1 = tf.layers.dense(x, 3, name="fc")
        with tf.variable_scope("net", reuse=True):
            y2 = tf.layers.dense(x, 3, name="fc")
        y3 = tf.layers.dense(x, 3, name="net/fc", reuse=True)
        with tf.variable_scope("net", reuse=tf.AUTO_REUSE):
            y4 = tf.layers.dense(x, 3, name="fc")
        assert _names(tf.global_variables()) == ["net/fc/kernel", "net/fc/bias"]
        with pytest.raises(ValueError, match="already exists"):
            with tf.variable_scope("net"):
                tf.layers.dense(x, 3, name="fc")
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            xv = np.random.RandomState(0).rand(2, 4)
            v1, v2, v3, v4 = s.run([y1, y2, y3, y4], {x: xv})
        np.testing.assert_array_equal(v1, v2)
        np.testing.assert_array_equal(v1, v3)
        np.testing.assert_array_equal(v1, v4)


def test_dense_values_initializers_and_rank3_inputs():
    with tf.Graph().as_default():
        x = tf.constant(np.arange(12, dtype=np.float32).reshape(2, 3, 2))
        y = tf.layers.dense(x, 2, kernel_initializer=tf.ones_initializer(),
                            bias_initializer=tf.constant_initializer(0.5))
        assert y.shape.as_list() == [2, 3, 2]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            got = s.run(y)
        want = np.arange(12).reshape(2, 3, 2).sum(-1, keepdims=True) + 0.5
        np.testing.assert_array_equal(got, np.repeat(want, 2, -1))
        with pytest.raises(ValueError, match="last dimension of the inputs to `Dense`"):
            tf.layers.dense(tf.placeholder(tf.float32, [None, None]), 3)


def test_default_kernel_initializer_is_glorot_uniform():
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        tf.layers.dense(tf.placeholder(tf.float32, [None, 300]), 200)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            k = s.run(tf.trainable_variables()[0])
        limit = np.sqrt(6 / 500)
        assert np.abs(k).max() <= limit and np.abs(k).max() > 0.99 * limit
        assert abs(k.var() - limit ** 2 / 3) < 0.05 * limit ** 2


def test_kernel_regularizer_feeds_regularization_losses_and_total_loss():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 2])
        tf.layers.dense(x, 2, kernel_initializer=tf.ones_initializer(),
                        kernel_regularizer=tf.contrib.layers.l2_regularizer(0.1),
                        bias_regularizer=tf.contrib.layers.l1_regularizer(0.5),
                        bias_initializer=tf.constant_initializer(-2.0))
        regs = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
        assert [r.op.name for r in regs] == ["dense/kernel/Regularizer/l2_regularizer",
                                             "dense/bias/Regularizer/l1_regularizer"]
        tf.losses.add_loss(tf.constant(1.0))
        total = tf.losses.get_total_loss()
        reg = tf.losses.get_regularization_loss()
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            # l2: 0.1 * (4 * 1) / 2 = 0.2; l1: 0.5 * (2 + 2) = 2.0
            np.testing.assert_allclose(s.run([reg, total]), [2.2, 3.2], rtol=1e-6)
        assert tf.contrib.layers.l2_regularizer(0.0)(tf.constant(1.0)) is None
        with pytest.raises(ValueError, match="less than 0"):
            tf.contrib.layers.l1_regularizer(-1.0)


def test_dropout_layer_training_flag():
    with tf.Graph().as_default():
        x = tf.ones([100, 50])
        training = tf.placeholder(tf.bool, [])
        off = tf.layers.dropout(x, rate=0.5)
        on = tf.layers.dropout(x, rate=0.5, training=True)
        flag = tf.layers.dropout(x, rate=0.5, training=training)
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(off), np.ones([100, 50]))
            assert set(np.unique(s.run(on))) == {0.0, 2.0}
            assert set(np.unique(s.run(flag, {training: True}))) == {0.0, 2.0}
            np.testing.assert_array_equal(s.run(flag, {training: False}), np.ones([100, 50]))


def test_flatten():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 2, 3, 4])
        y = tf.layers.flatten(x)
        assert y.shape.as_list() == [None, 24]
        z = tf.layers.Flatten(data_format="channels_first")(x)
        u = tf.placeholder(tf.float32, [None, None, 3])
        d = tf.layers.flatten(u)
        assert d.shape.ndims == 2
        xv = np.arange(48, dtype=np.float32).reshape(2, 2, 3, 4)
        with tf.Session() as s:
            yv, zv = s.run([y, z], {x: xv})
            dv = s.run(d, {u: xv[:, 0, :, :3]})
        np.testing.assert_array_equal(yv, xv.reshape(2, 24))
        np.testing.assert_array_equal(zv, xv.transpose(0, 2, 3, 1).reshape(2, 24))
        np.testing.assert_array_equal(dv, xv[:, 0, :, :3].reshape(2, 9))


def test_batch_normalization_train_vs_inference():
    rng = np.random.RandomState(0)
    xv = (rng.randn(32, 3) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        training = tf.placeholder(tf.bool, [])
        y = tf.layers.batch_normalization(x, momentum=0.9, training=training)
        names = _names(tf.global_variables())
        assert names == ["batch_normalization/gamma", "batch_normalization/beta",
                         "batch_normalization/moving_mean",
                         "batch_normalization/moving_variance"]
        assert _names(tf.trainable_variables()) == names[:2]
        updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        assert len(updates) == 2
        mm, mv = tf.global_variables()[2:]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            # inference: moving stats (0, 1) at first
            np.testing.assert_allclose(s.run(y, {x: xv, training: False}),
                                       xv / np.sqrt(1 + 1e-3), rtol=1e-6)
            s.run(updates, {x: xv, training: False})          # no-op when not training
            np.testing.assert_array_equal(s.run(mm), [0, 0, 0])
            # training: batch stats, and one update of the moving averages
            yt, _ = s.run([y, updates], {x: xv, training: True})
            np.testing.assert_allclose(yt, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-3),
                                       rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(s.run(mm), 0.1 * xv.mean(0), rtol=1e-5, atol=1e-6)
            # a rank-2 input takes TF1's non-fused path: biased batch variance
            np.testing.assert_allclose(s.run(mv), 0.9 + 0.1 * xv.var(0), rtol=1e-5)


def test_batch_normalization_layer_with_python_flag_and_train_op():
    rng = np.random.RandomState(1)
    xv = (rng.randn(16, 2, 2, 3) * 2 + 1).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.constant(xv)
        bn = tf.layers.BatchNormalization(momentum=0.5)
        y_train = bn(x, training=True)
        y_infer = bn(x, training=False)
        assert _names(bn.weights) == ["batch_normalization/gamma", "batch_normalization/beta",
                                      "batch_normalization/moving_mean",
                                      "batch_normalization/moving_variance"]
        loss = tf.reduce_mean(tf.square(y_train))
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train = tf.train.GradientDescentOptimizer(0.0).minimize(loss)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(train)
            s.run(train)
            mm, mv = s.run([bn.moving_mean, bn.moving_variance])
            n = 16 * 2 * 2
            mean, var = xv.mean((0, 1, 2)), xv.var((0, 1, 2))
            np.testing.assert_allclose(mm, 0.75 * mean, rtol=1e-5)
            # rank 4: TF1's fused path feeds the unbiased variance to the moving average
            np.testing.assert_allclose(mv, 0.25 + 0.75 * var * n / (n - 1), rtol=1e-5)
            np.testing.assert_allclose(s.run(y_infer), (xv - mm) / np.sqrt(mv + 1e-3),
                                       rtol=1e-4, atol=1e-5)


def test_layer_base_class_protocol():
    class Scale(tf.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", shape=[int(input_shape[-1])],
                                     initializer=tf.ones_initializer())
            self.c = self.add_weight("count", shape=[], trainable=False,
                                     initializer=tf.zeros_initializer())
            super().build(input_shape)

        def call(self, inputs):
            return inputs * self.w

    with tf.Graph().as_default():
        layer = Scale()
        y = layer(tf.ones([2, 3]))
        layer(tf.ones([2, 3]))
        assert _names(layer.trainable_weights) == ["scale/w"]
        assert _names(layer.non_trainable_weights) == ["scale/count"]
        assert layer.count_params() == 4
        assert y.op.name == "scale/mul"
        frozen = tf.layers.Dense(2, trainable=False)
        frozen(tf.ones([1, 2]))
        assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 2
        assert "dense/kernel:0" not in [v.name for v in tf.trainable_variables()]


def test_fused_batch_normalization_layer_is_one_op_and_matches_unfused():
    rng = np.random.RandomState(2)
    xv = rng.randn(4, 3, 3, 5)
    outs = {}
    for fused in (True, False):
        with tf.Graph().as_default() as g:
            x = tf.constant(xv)
            y = tf.layers.BatchNormalization(fused=fused, epsilon=1e-3,
                                             dtype=tf.float64)(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
            grads = tf.gradients(loss, [x] + tf.trainable_variables())
            types = [o.type for o in g.get_operations()]
            assert ("FusedBatchNormV3" in types) == fused
            with tf.Session() as s:
                s.run(tf.global_variables_initializer())
                outs[fused] = s.run([y] + grads)
    for a, b in zip(outs[True], outs[False]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fused_batch_normalization_with_a_training_tensor():
    rng = np.random.RandomState(3)
    xv = rng.randn(4, 3, 3, 2) * 2 + 1
    with tf.Graph().as_default() as g:
        x = tf.constant(xv)
        training = tf.placeholder(tf.bool, [])
        y = tf.layers.batch_normalization(x, momentum=0.5, training=training)
        assert "FusedBatchNormV3" in [o.type for o in g.get_operations()]
        dx = tf.gradients(tf.reduce_sum(tf.sin(y)), x)[0]
        updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        mm = tf.global_variables()[2]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            yi, _, dxi = s.run([y, updates, dx], {training: False})
            np.testing.assert_allclose(yi, xv / np.sqrt(1 + 1e-3), rtol=1e-12)
            np.testing.assert_array_equal(s.run(mm), [0, 0])        # inference: no update
            np.testing.assert_allclose(dxi, np.cos(yi) / np.sqrt(1 + 1e-3), rtol=1e-12)
            yt, _ = s.run([y, updates], {training: True})
            mean, var = xv.mean((0, 1, 2)), xv.var((0, 1, 2))
            np.testing.assert_allclose(yt, (xv - mean) / np.sqrt(var + 1e-3), rtol=1e-10)
            np.testing.assert_allclose(s.run(mm), 0.5 * mean, rtol=1e-12)
