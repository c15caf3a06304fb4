"""Graph structure: names, scopes, collections, control dependencies, devices."""

import numpy as np
import pytest

import flowgrad as tf


def test_unique_op_names_and_tensor_names():
    a = tf.constant(1.0)
    b = tf.constant(2.0)
    m1 = tf.matmul([[1.0]], [[2.0]])
    m2 = tf.matmul([[1.0]], [[2.0]])
    assert a.name == "Const:0" and b.name == "Const_1:0"
    assert m1.op.name == "MatMul" and m2.op.name == "MatMul_1"
    assert (a + b).op.name == "add"
    assert (a * b).op.name == "mul"


def test_name_scopes_nest_and_uniquify():
    with tf.name_scope("layer"):
        c = tf.constant(1.0, name="c")
        with tf.name_scope("inner") as scope:
            d = tf.constant(1.0, name="d")
    with tf.name_scope("layer"):
        e = tf.constant(1.0, name="c")
    assert c.name == "layer/c:0"
    assert scope == "layer/inner/"
    assert d.name == "layer/inner/d:0"
    assert e.name == "layer_1/c:0"
    with tf.name_scope("layer/"):          # re-entering an existing scope by its full name
        f = tf.constant(1.0, name="c")
    assert f.name == "layer/c_1:0"


def test_an_op_keeps_its_name_when_python_values_become_constants():
    # TF1: the constants made from Python values live under the op's own name scope
    with tf.Graph().as_default() as g:
        v = tf.Variable(2.0, name="v")
        y = tf.multiply(v, 3.0, name="y")
        z = tf.add(v, 1.0)
        w = tf.add(v, 1.0)
        assert (y.op.name, y.op.inputs[1].op.name) == ("y", "y/y")
        assert z.op.inputs[1].op.name == z.op.name + "/y"
        assert w.op.inputs[1].op.name == w.op.name + "/y" and w.op.name == z.op.name + "_1"
        assert g.get_tensor_by_name("y:0") is y
        with tf.name_scope("outer"):
            u = tf.multiply(v, 2.0, name="scaled")
        assert (u.op.name, u.op.inputs[1].op.name) == ("outer/scaled", "outer/scaled/y")
        with tf.Session() as s:
            s.run(v.initializer)
            assert s.run("y:0") == 6.0


def test_lookup_by_name():
    with tf.name_scope("s"):
        t = tf.constant([1, 2], name="t")
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("s/t:0") is t
    assert g.get_operation_by_name("s/t") is t.op
    with pytest.raises(KeyError, match="does not exist"):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(ValueError, match="looks like an \\(invalid\\) Operation name"):
        g.get_tensor_by_name("s/t")
    assert t.op in g.get_operations()


def test_collections():
    v = tf.Variable(1.0, name="v")
    w = tf.Variable(2.0, trainable=False, name="w")
    assert tf.global_variables() == [v, w]
    assert tf.trainable_variables() == [v]
    tf.add_to_collection("my", 3)
    tf.add_to_collections(["my", "other"], 4)
    assert tf.get_collection("my") == [3, 4]
    assert tf.get_collection("other") == [4]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="w") == [w]
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []


def test_default_graph_stack_and_reset():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(1)
        assert tf.get_default_graph() is g
        with pytest.raises(AssertionError):
            tf.reset_default_graph()
    assert c.graph is g
    assert tf.get_default_graph() is not g
    old = tf.get_default_graph()
    tf.reset_default_graph()
    assert tf.get_default_graph() is not old


def test_finalize_prevents_new_ops():
    g = tf.get_default_graph()
    tf.constant(1)
    g.finalize()
    with pytest.raises(RuntimeError, match="finalized"):
        tf.constant(2)


def test_control_dependencies_order_and_run():
    v = tf.Variable(0.0)
    inc = tf.assign_add(v, 1.0)
    with tf.control_dependencies([inc]):
        read = v.read_value()       # a fresh read; v's cached snapshot would not wait
    assert inc.op in read.op.control_inputs
    with tf.control_dependencies(None):
        free = v.read_value()
    assert free.op.control_inputs == []
    with tf.Session() as s:
        s.run(v.initializer)
        assert s.run(read) == 1.0
        assert s.run(read) == 2.0
        assert s.run(free) == 2.0


def test_device_scopes_are_recorded():
    with tf.device("/gpu:0"):
        a = tf.constant(1.0)
    with tf.device("/device:CPU:0"):
        b = tf.constant(1.0)
    assert a.device == "/device:GPU:0"
    assert b.device == "/device:CPU:0"


def test_static_shapes_and_dimension():
    x = tf.placeholder(tf.float32, (None, 784))
    assert x.shape.as_list() == [None, 784]
    assert x.get_shape()[1] == 784 and x.shape[1].value == 784
    assert x.shape[0] is None
    assert str(x.shape) == "(?, 784)"
    assert x.shape.ndims == 2 and not x.shape.is_fully_defined()
    y = tf.reshape(x, [-1, 28, 28, 1])
    assert y.shape.as_list() == [None, 28, 28, 1]
    z = tf.placeholder(tf.float32)
    assert z.shape.ndims is None
    x.set_shape([32, 784])
    assert x.shape.as_list() == [32, 784]
    with pytest.raises(ValueError):
        x.set_shape([16, 784])


def test_tensor_python_semantics():
    a = tf.constant([1.0, 2.0])
    with pytest.raises(TypeError, match="Python bool"):
        bool(a)
    with pytest.raises(TypeError, match="not iterable"):
        iter(a)
    d = {a: 1}
    assert d[a] == 1
    b = np.array([1.0, 2.0], dtype=np.float32) + a     # numpy defers to the tensor
    assert isinstance(b, tf.Tensor)
