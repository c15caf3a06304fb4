"""Initializers: values, distributions and fan modes as in TF1."""

import numpy as np
import pytest

import flowgrad as tf


def _init(initializer, shape, dtype=tf.float32):
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        v = tf.get_variable("v", shape=shape, dtype=dtype, initializer=initializer)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            return s.run(v)


def test_constant_family():
    np.testing.assert_array_equal(_init(tf.zeros_initializer(), [2, 3]), np.zeros([2, 3]))
    np.testing.assert_array_equal(_init(tf.ones_initializer(), [3]), np.ones([3]))
    np.testing.assert_array_equal(_init(tf.constant_initializer(2.5), [2, 2]),
                                  np.full([2, 2], 2.5))
    np.testing.assert_array_equal(_init(tf.constant_initializer([1, 2, 3, 4]), [2, 2]),
                                  [[1, 2], [3, 4]])
    np.testing.assert_array_equal(_init(tf.initializers.identity(gain=3.0), [2, 3]),
                                  3 * np.eye(2, 3))
    got = _init(tf.zeros_initializer(), [2], dtype=tf.int64)
    assert got.dtype == np.int64


@pytest.mark.parametrize("make,shape,std", [
    (lambda: tf.random_normal_initializer(0.5, 2.0), [200, 100], 2.0),
    (lambda: tf.truncated_normal_initializer(stddev=1.0), [200, 100], 0.8796),
    (lambda: tf.random_uniform_initializer(-3.0, 3.0), [200, 100], np.sqrt(3.0)),
    (lambda: tf.glorot_uniform_initializer(), [300, 100], np.sqrt(2 / 400)),
    (lambda: tf.glorot_normal_initializer(), [300, 100], np.sqrt(2 / 400)),
    (lambda: tf.initializers.he_normal(), [300, 100], np.sqrt(2 / 300)),
    (lambda: tf.initializers.he_uniform(), [300, 100], np.sqrt(2 / 300)),
    (lambda: tf.initializers.lecun_normal(), [300, 100], np.sqrt(1 / 300)),
    (lambda: tf.variance_scaling_initializer(2.0, "fan_out", "uniform"), [300, 100],
     np.sqrt(2 / 100)),
    (lambda: tf.variance_scaling_initializer(1.0, "fan_avg", "untruncated_normal"), [300, 100],
     np.sqrt(1 / 200)),
    (lambda: tf.variance_scaling_initializer(1.0, "fan_in", "normal"), [3, 3, 20, 40],
     np.sqrt(1 / 180)),
    (lambda: tf.contrib.layers.xavier_initializer(), [300, 100], np.sqrt(2 / 400)),
    (lambda: tf.contrib.layers.variance_scaling_initializer(), [300, 100], np.sqrt(2 / 300)),
])
def test_random_initializers_have_tf1_spread(make, shape, std):
    v = _init(make(), shape)
    assert v.shape == tuple(shape)
    assert abs(v.std() - std) < 0.05 * std, (v.std(), std)


def test_truncated_and_uniform_bounds():
    v = _init(tf.truncated_normal_initializer(stddev=0.1), [100, 100])
    assert np.abs(v).max() <= 0.2
    lim = np.sqrt(6 / 400)
    v = _init(tf.glorot_uniform_initializer(), [300, 100])
    assert np.abs(v).max() <= lim


def test_orthogonal_and_seeded_repeatability():
    q = _init(tf.orthogonal_initializer(gain=2.0), [6, 4])
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    q = _init(tf.initializers.orthogonal(), [3, 7])
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)
    a = _init(tf.glorot_uniform_initializer(seed=3), [4, 4])
    b = _init(tf.glorot_uniform_initializer(seed=3), [4, 4])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="two-dimensional"):
        _init(tf.orthogonal_initializer(), [5])
    with pytest.raises(ValueError, match="mode"):
        tf.variance_scaling_initializer(mode="fan_sideways")


def test_initializer_repr_shows_its_config():
    import flowgrad as tf
    assert repr(tf.zeros_initializer()) == "Zeros()"
    assert repr(tf.constant_initializer(2.0)) == "Constant(value=2.0, dtype='float32')"
    assert repr(tf.glorot_uniform_initializer(seed=3)).startswith("GlorotUniform(scale=1.0")
