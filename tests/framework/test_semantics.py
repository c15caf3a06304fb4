"""TF1 semantics with the numbers TensorFlow gives: broadcasting, reductions, dtypes,
slicing, variable scopes and reuse, build-time errors."""

import numpy as np
import pytest

import flowgrad as tf


def run(*fetches, feed=None):
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        out = s.run(list(fetches), feed)
    return out if len(out) > 1 else out[0]


def test_broadcasting():
    a = tf.constant([[1.0], [2.0]])           # (2, 1)
    b = tf.constant([10.0, 20.0, 30.0])       # (3,)
    c = a + b
    assert c.shape.as_list() == [2, 3]
    np.testing.assert_array_equal(run(c), [[11, 21, 31], [12, 22, 32]])
    with pytest.raises(ValueError, match=r"AddV2 'add_1': Dimensions must be equal.*\(2, 3\) and "
                                         r"\(2,\)"):
        c + tf.constant([1.0, 2.0])


def test_reductions_axis_keepdims():
    x = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert run(tf.reduce_sum(x)) == 21.0
    np.testing.assert_array_equal(run(tf.reduce_sum(x, 0)), [5, 7, 9])
    np.testing.assert_array_equal(run(tf.reduce_sum(x, axis=1, keepdims=True)), [[6], [15]])
    np.testing.assert_array_equal(run(tf.reduce_mean(x, reduction_indices=[1])), [2, 5])
    np.testing.assert_array_equal(run(tf.reduce_max(x, -1, keep_dims=True)), [[3], [6]])
    assert tf.reduce_sum(x, [0, 1], keepdims=True).shape.as_list() == [1, 1]
    assert run(tf.reduce_prod(x)) == 720.0
    assert run(tf.reduce_min(x)) == 1.0
    ints = tf.constant([1, 2, 4])
    assert run(tf.reduce_mean(ints)) == 2            # integer mean truncates, as in TF
    assert run(tf.reduce_mean(ints)).dtype == np.int32
    b = tf.constant([[True, False], [True, True]])
    np.testing.assert_array_equal(run(tf.reduce_all(b, 1)), [False, True])
    assert run(tf.reduce_any(b)) == np.True_


def test_argmax_dtype_and_axis():
    x = tf.constant([[1.0, 9.0, 3.0], [7.0, 5.0, 6.0]])
    a = tf.argmax(x, 1)
    assert a.dtype == tf.int64
    np.testing.assert_array_equal(run(a), [1, 0])
    np.testing.assert_array_equal(run(tf.argmin(x, axis=0)), [0, 1, 0])
    assert tf.argmax(x, 1, output_type=tf.int32).dtype == tf.int32
    np.testing.assert_array_equal(run(tf.argmax(x)), [1, 0, 1])   # axis defaults to 0


def test_dtype_rules():
    f32 = tf.constant(1.5)
    assert f32.dtype == tf.float32
    assert tf.constant(1).dtype == tf.int32
    assert tf.constant(np.array([1.0])).dtype == tf.float64   # numpy keeps its dtype
    assert (f32 * 2).dtype == tf.float32                       # Python numbers adopt it
    assert (f32 * np.float64(2.0)).dtype == tf.float32
    with pytest.raises(TypeError, match="float64 that does not match type float32"):
        f32 + tf.constant(np.array(1.0))
    with pytest.raises(TypeError):
        tf.constant(1) + 1.5
    assert (tf.constant(7) / 2).dtype == tf.float64               # truediv of int32
    assert run(tf.constant(7) / 2) == 3.5
    assert run(tf.constant(7) // 2) == 3
    assert run(tf.constant(-7) % 3) == 2                           # floor mod like Python
    assert run(tf.cast(tf.constant([1.7, -1.7]), tf.int32)).tolist() == [1, -1]
    assert tf.cast(f32, tf.float32) is f32
    h = tf.constant(1.0, tf.float16)
    assert (h * 2.0).dtype == tf.float16


def test_slicing():
    x = tf.constant(np.arange(24).reshape(2, 3, 4))
    np.testing.assert_array_equal(run(x[1]), np.arange(24).reshape(2, 3, 4)[1])
    np.testing.assert_array_equal(run(x[:, 1:, ::2]), np.arange(24).reshape(2, 3, 4)[:, 1:, ::2])
    np.testing.assert_array_equal(run(x[..., -1]), np.arange(24).reshape(2, 3, 4)[..., -1])
    np.testing.assert_array_equal(run(x[0, tf.newaxis, :, 0]), [[0, 4, 8]])
    assert x[:, 1:, ::2].shape.as_list() == [2, 2, 2]
    p = tf.placeholder(tf.float32, (None, 5))
    assert p[:, 1:3].shape.as_list() == [None, 2]
    assert p[0].shape.as_list() == [5]
    i = tf.placeholder(tf.int32, ())
    v = tf.constant([10, 20, 30])
    assert run(v[i], feed={i: 2}) == 30
    with pytest.raises(ValueError, match="out of bounds"):
        v[5]


def test_shape_ops():
    x = tf.placeholder(tf.float32, (None, 3))
    s = tf.shape(x)
    assert s.dtype == tf.int32 and s.shape.as_list() == [2]
    out = run(s, tf.size(x), tf.rank(x), feed={x: np.zeros((4, 3))})
    assert out[0].tolist() == [4, 3] and out[1] == 12 and out[2] == 2
    assert tf.ones([2, 3]).shape.as_list() == [2, 3]
    assert run(tf.range(5)).tolist() == [0, 1, 2, 3, 4]
    assert run(tf.range(1.0, 2.0, 0.25)).tolist() == [1.0, 1.25, 1.5, 1.75]
    np.testing.assert_array_equal(run(tf.one_hot([0, 2, 5], 3)),
                                  [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    assert tf.concat([x, x], 1).shape.as_list() == [None, 6]
    assert tf.stack([x, x]).shape.as_list() == [2, None, 3]
    np.testing.assert_array_equal(run(tf.tile([[1, 2]], [2, 2])), [[1, 2, 1, 2], [1, 2, 1, 2]])
    np.testing.assert_array_equal(run(tf.pad([[1]], [[1, 1], [0, 1]])), [[0, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(run(tf.where([True, False], [1, 2], [3, 4])), [1, 4])
    np.testing.assert_array_equal(run(tf.where([[True, False], [False, True]])), [[0, 0], [1, 1]])
    np.testing.assert_array_equal(run(tf.clip_by_value([-2.0, 0.5, 3.0], -1.0, 1.0)),
                                  [-1.0, 0.5, 1.0])


def test_build_time_shape_errors_name_the_op():
    a = tf.placeholder(tf.float32, (32, 784), name="x")
    w = tf.placeholder(tf.float32, (128, 10), name="w")
    with tf.name_scope("dense"):
        with pytest.raises(ValueError, match=r"MatMul 'dense/MatMul': inner dimensions differ: "
                                             r"\(32, 784\) @ \(128, 10\)"):
            tf.matmul(a, w)
    with pytest.raises(ValueError, match="cannot reshape a tensor with 6 elements"):
        tf.reshape(tf.zeros([2, 3]), [4, 2])
    with pytest.raises(TypeError, match="expects a floating-point input, got int32"):
        tf.sqrt(tf.constant([4]))
    with pytest.raises(ValueError, match="inner dimensions differ"):
        tf.matmul(tf.zeros([2, 3]), tf.zeros([4, 5]))


def test_variable_scope_names_and_reuse():
    with tf.variable_scope("layer1"):
        w = tf.get_variable("w", [3, 2])
        assert w.name == "layer1/w:0"
        with pytest.raises(ValueError, match=r"Variable layer1/w already exists, disallowed. "
                                             r"Did you mean to set reuse=True"):
            tf.get_variable("w", [3, 2])
    with tf.variable_scope("layer1", reuse=True):
        assert tf.get_variable("w", [3, 2]) is w
        with pytest.raises(ValueError, match="Variable layer1/v does not exist"):
            tf.get_variable("v", [1])
        with pytest.raises(ValueError, match="Trying to share variable layer1/w, but specified "
                                             "shape"):
            tf.get_variable("w", [4, 2])
    with tf.variable_scope("layer1", reuse=tf.AUTO_REUSE):
        assert tf.get_variable("w", [3, 2]) is w
        v = tf.get_variable("v", [1], initializer=tf.zeros_initializer())
        assert v.name == "layer1/v:0"
    with tf.variable_scope("outer") as scope:
        a = tf.get_variable("a", [])
        scope.reuse_variables()
        assert tf.get_variable("a", []) is a
    with tf.variable_scope(scope):
        assert tf.get_variable("a", []) is a
    # name scopes and variable scopes: ops get uniquified name scopes, variables do not
    with tf.variable_scope("s", reuse=tf.AUTO_REUSE):
        c1 = tf.constant(1.0, name="c")
    with tf.variable_scope("s", reuse=tf.AUTO_REUSE):
        c2 = tf.constant(1.0, name="c")
    assert c1.name == "s/c:0" and c2.name == "s_1/c:0"


def test_get_variable_default_initializer_is_glorot_uniform():
    w = tf.get_variable("w", [100, 300])
    vals = run(w)
    limit = np.sqrt(6.0 / 400)
    assert vals.min() >= -limit and vals.max() <= limit and vals.std() > limit / 3


def test_variable_api():
    v = tf.Variable(np.arange(3.0, dtype=np.float32), name="v")
    assert v.name == "v:0" and v.op.name == "v" and v.initializer.name == "v/Assign"
    assert v.value().name == "v/read:0"
    assert v.shape.as_list() == [3] and v.dtype == tf.float32 and v.trainable
    out = run(v.assign([5.0, 6.0, 7.0]), v * 2)
    assert out[0].tolist() == [5, 6, 7]
    with pytest.raises(ValueError, match="cannot assign a value of shape"):
        v.assign([1.0, 2.0])
    i = tf.Variable(0, name="counter")
    with tf.Session() as s:
        s.run(i.initializer)
        s.run(i.assign_add(5))
        s.run(tf.assign_sub(i, 2))
        assert s.run(i) == 3
        i.load(10, s)
        assert s.run(i) == 10


def test_group_and_tuple():
    v = tf.Variable(0.0)
    g = tf.group(v.assign_add(1.0), v.assign_add(2.0))
    assert g.type == "NoOp"
    with tf.Session() as s:
        s.run(v.initializer)
        s.run(g)
        assert s.run(v) == 3.0
