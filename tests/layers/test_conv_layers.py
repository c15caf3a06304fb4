"""tf.layers convolution and pooling layers: TF1 names, shapes, reuse, formats, values."""

import numpy as np
import pytest

import flowgrad as tf


def test_conv_and_pool_layer_names_and_shapes():
    x = tf.placeholder(tf.float32, (None, 28, 28, 1))
    h = tf.layers.conv2d(x, 6, 5, padding="same", activation=tf.nn.relu)
    assert h.shape.as_list() == [None, 28, 28, 6]
    p = tf.layers.max_pooling2d(h, 2, 2)
    assert p.shape.as_list() == [None, 14, 14, 6]
    h2 = tf.layers.conv2d(p, 16, (5, 5))                  # valid padding by default
    assert h2.shape.as_list() == [None, 10, 10, 16]
    a = tf.layers.average_pooling2d(h2, 3, 2, padding="same")
    assert a.shape.as_list() == [None, 5, 5, 16]
    t = tf.layers.conv2d_transpose(a, 4, 3, strides=2)
    assert t.shape.as_list() == [None, 11, 11, 4]
    names = [v.op.name for v in tf.global_variables()]
    assert names == ["conv2d/kernel", "conv2d/bias", "conv2d_1/kernel", "conv2d_1/bias",
                     "conv2d_transpose/kernel", "conv2d_transpose/bias"]
    assert tf.global_variables()[0].shape.as_list() == [5, 5, 1, 6]
    assert tf.global_variables()[4].shape.as_list() == [3, 3, 4, 16]


def test_conv_layer_reuse_and_class_form():
    x = tf.placeholder(tf.float32, (None, 8, 8, 3))
    y1 = tf.layers.conv2d(x, 4, 3, name="c")
    y2 = tf.layers.conv2d(x, 4, 3, name="c", reuse=True)
    assert len(tf.trainable_variables()) == 2
    layer = tf.layers.Conv2D(2, 3, strides=2, padding="same", use_bias=False)
    y3 = layer(x)
    assert y3.shape.as_list() == [None, 4, 4, 2] and layer.kernel.op.name == "conv2d/kernel"
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        v = np.random.rand(2, 8, 8, 3).astype(np.float32)
        a, b = s.run([y1, y2], {x: v})
    np.testing.assert_array_equal(a, b)


def test_conv_layer_matches_nn_conv2d_and_channels_first():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 7, 7, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, (None, 7, 7, 3))
    k0 = tf.constant_initializer(rng.standard_normal((3, 3, 3, 5)).astype(np.float32))
    b0 = tf.constant_initializer(np.arange(5, dtype=np.float32))
    y = tf.layers.conv2d(x, 5, 3, strides=2, padding="same", kernel_initializer=k0,
                         bias_initializer=b0)
    xc = tf.transpose(x, [0, 3, 1, 2])
    yc = tf.layers.conv2d(xc, 5, 3, strides=2, padding="same", kernel_initializer=k0,
                          bias_initializer=b0, data_format="channels_first")
    assert yc.shape.as_list() == [None, 5, 4, 4]
    kernel = tf.global_variables()[0]
    ref = tf.nn.bias_add(tf.nn.conv2d(x, kernel, [1, 2, 2, 1], "SAME"), tf.range(5.0))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        a, c, r = s.run([y, yc, ref], {x: xv})
    np.testing.assert_allclose(a, r, rtol=1e-5)
    np.testing.assert_allclose(c.transpose(0, 2, 3, 1), a, rtol=1e-5, atol=1e-5)


def test_pooling_values_and_errors():
    x = tf.constant(np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1))
    with tf.Session() as s:
        m, a = s.run([tf.layers.max_pooling2d(x, 2, 2),
                      tf.layers.average_pooling2d(x, 3, 2, padding="same")])
    assert m[0, :, :, 0].tolist() == [[5, 7], [13, 15]]
    # SAME average pooling divides by the number of valid cells (TF semantics)
    assert a[0, :, :, 0].tolist() == [[5.0, 6.5], [11.0, 12.5]]
    with pytest.raises(ValueError, match="padding must be 'same' or 'valid'"):
        tf.layers.max_pooling2d(x, 2, 2, padding="full")
    with pytest.raises(ValueError, match="rank 4"):
        tf.layers.conv2d(tf.zeros([3, 3]), 2, 3)
