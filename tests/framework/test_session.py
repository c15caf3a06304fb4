"""Session semantics: fetch structures, feeds, plans, state, errors, rollback."""

import collections

import numpy as np
import pytest

import flowgrad as tf


def test_lecture_slide_code_runs_verbatim():
    b = tf.Variable(tf.zeros((100,)))
    W = tf.Variable(tf.random_uniform((784, 100), -1, 1))
    x = tf.placeholder(tf.float32, (1, 784))
    h = tf.nn.relu(tf.matmul(x, W) + b)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    out = sess.run(h, {x: np.random.random((1, 784))})
    assert out.shape == (1, 100) and out.dtype == np.float32 and (out >= 0).all()
    assert -1 <= sess.run(W).min() and sess.run(W).max() < 1


def test_fetch_structures():
    a = tf.constant(1.0, name="a")
    b = tf.constant([2, 3], name="b")
    Pair = collections.namedtuple("Pair", "x y")
    with tf.Session() as s:
        assert s.run(a) == 1.0 and isinstance(s.run(a), np.float32)
        assert s.run("a:0") == 1.0
        r = s.run({"k": [a, (b, a)], "p": Pair(a, b)})
        assert r["k"][0] == 1.0 and list(r["k"][1][0]) == [2, 3]
        assert isinstance(r["k"][1], tuple) and isinstance(r["p"], Pair)
        assert s.run([a.op, a]) == [None, 1.0]
        assert s.run(tf.no_op()) is None


def test_feed_any_tensor_cuts_the_graph():
    x = tf.placeholder(tf.float32, ())
    y = x * 2.0
    z = y + 1.0
    with tf.Session() as s:
        assert s.run(z, {y: 10.0}) == 11.0        # x need not be fed
        assert s.run(z, {"Placeholder:0": 1.0}) == 3.0
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match="You must feed a value for placeholder tensor 'Placeholder'"):
            s.run(z)


def test_feed_shape_and_dtype_checks():
    x = tf.placeholder(tf.float32, (None, 2), name="x")
    with tf.Session() as s:
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(3,\) for Tensor "
                                             r"'x:0', which has shape '\(\?, 2\)'"):
            s.run(x, {x: np.zeros(3)})
        out = s.run(x, {x: [[1, 2]]})                 # converted to the placeholder's dtype
        assert out.dtype == np.float32
        with pytest.raises(TypeError, match="cannot be a tf.Tensor"):
            s.run(x, {x: tf.constant([[1.0, 2.0]])})


def test_placeholder_with_default():
    x = tf.placeholder_with_default(tf.constant([1.0, 2.0]), (None,))
    with tf.Session() as s:
        assert list(s.run(x)) == [1.0, 2.0]
        assert list(s.run(x, {x: [5.0]})) == [5.0]


def test_plans_are_cached_per_fetch_and_feed():
    x = tf.placeholder(tf.float32, ())
    y = x + 1.0
    with tf.Session() as s:
        for i in range(3):
            assert s.run(y, {x: float(i)}) == i + 1
        assert len(s._plans) == 1
        s.run([y], {x: 0.0})                 # same elements and feeds: same plan
        assert len(s._plans) == 1
        s.run(y, {y: 0.0})
        assert len(s._plans) == 2


def test_variables_live_in_the_session():
    v = tf.Variable([1.0, 2.0], name="v")
    inc = v.assign_add([1.0, 1.0])
    s1, s2 = tf.Session(), tf.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    s1.run(inc)
    assert list(s1.run(v)) == [2.0, 3.0] and list(s2.run(v)) == [1.0, 2.0]
    fetched = s1.run(v)
    fetched[0] = 100.0                     # a fetched value is a copy
    assert s1.run(v)[0] == 2.0


def test_uninitialized_variable_error_names_it():
    v = tf.Variable(1.0, name="weights")
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError,
                           match="Attempting to use uninitialized value weights"):
            s.run(v + 1.0)
        assert list(s.run(tf.report_uninitialized_variables())) == [b"weights"]
        s.run(tf.global_variables_initializer())
        assert len(s.run(tf.report_uninitialized_variables())) == 0


def test_failed_run_leaves_variables_unchanged():
    v = tf.Variable(1.0, name="v")
    w = tf.Variable(5.0, name="w")
    upd_v = v.assign(2.0)
    x = tf.placeholder(tf.float32, ())
    bad = tf.debugging.check_numerics(tf.log(x), "log of x")
    with tf.control_dependencies([upd_v]):
        upd_w = w.assign_add(1.0)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        with pytest.raises(tf.errors.InvalidArgumentError, match="log of x"):
            s.run([upd_w, bad], {x: -1.0})
        assert s.run(v) == 1.0 and s.run(w) == 5.0
        s.run([upd_w, bad], {x: 1.0})
        assert s.run(v) == 2.0 and s.run(w) == 6.0


def test_runtime_error_names_op_and_user_line():
    x = tf.placeholder(tf.float32, (None,))
    idx = tf.placeholder(tf.int32, (None,))
    g = tf.gather(x, idx, name="my_gather")
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError) as e:
            s.run(g, {x: [1.0, 2.0], idx: [0, 5]})
    msg = str(e.value)
    assert "GatherV2 'my_gather'" in msg and "test_session.py" in msg and "not in [0, 2)" in msg
    assert e.value.op.name == "my_gather"


def test_closed_session_raises():
    c = tf.constant(1)
    s = tf.Session()
    s.close()
    with pytest.raises(RuntimeError, match="closed Session"):
        s.run(c)


def test_default_session_eval_and_interactive():
    c = tf.constant(3.0)
    with pytest.raises(ValueError, match="No default session"):
        c.eval()
    with tf.Session() as s:
        assert tf.get_default_session() is s
        assert c.eval() == 3.0
        tf.no_op().run()
    s = tf.InteractiveSession()
    assert c.eval() == 3.0
    s.close()
    assert tf.get_default_session() is None


def test_session_graph_argument():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(7)
    with tf.Session(graph=g) as s:
        assert s.run(c) == 7
    with tf.Session() as s:
        with pytest.raises(ValueError, match="not an element of this graph"):
            s.run(c)


def test_random_ops_are_reproducible_with_seeds():
    def draw():
        tf.reset_default_graph()
        tf.set_random_seed(42)
        a = tf.random_uniform((3,))
        b = tf.random_normal((2,), seed=7)
        with tf.Session() as s:
            return s.run([a, b]), s.run([a, b])
    first, second = draw()
    again, _ = draw()
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], second[0])      # the sequence advances per run
    t = tf.truncated_normal((1000,), stddev=2.0, seed=1)
    with tf.Session() as s:
        assert np.abs(s.run(t)).max() <= 4.0


def test_make_callable_and_run_options():
    x = tf.placeholder(tf.float32, (2,))
    y = tf.reduce_sum(x * 2.0)
    with tf.Session() as s:
        f = s.make_callable(y, [x])
        assert f([1.0, 2.0]) == 6.0
        assert s.run(y, {x: [1.0, 1.0]}, options=tf.RunOptions(),
                     run_metadata=tf.RunMetadata()) == 4.0


def test_compat_v1_namespace():
    import flowgrad.compat.v1 as tf1
    assert tf1.placeholder is tf.placeholder
    assert tf.compat.v1.Session is tf.Session
    tf1.disable_eager_execution()
