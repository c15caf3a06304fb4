"""RNN cells and dynamic_rnn: TF1 variable names, numpy references, gradient checks."""

import numpy as np
import pytest

import flowgrad as tf

rnn_cell = tf.nn.rnn_cell


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _check_gradients(loss, feed, inputs, sess, rng, eps=1e-6, tol=1e-6):
    """d loss along random directions of the inputs and all trainable variables vs central
    finite differences (float64)."""
    variables = tf.trainable_variables()
    grads = tf.gradients(loss, inputs + variables)
    assert all(g is not None for g in grads), [v.name for v, g in zip(inputs + variables, grads)
                                               if g is None]
    gvals = sess.run(grads, feed)
    base = {v: sess.run(v) for v in variables}
    for _ in range(2):
        dirs_in = [rng.standard_normal(feed[x].shape) for x in inputs]
        dirs_v = {v: rng.standard_normal(base[v].shape) for v in variables}
        analytic = sum(float(np.sum(g * d)) for g, d in zip(gvals, dirs_in + list(dirs_v.values())))

        def at(sign):
            f = dict(feed)
            for x, d in zip(inputs, dirs_in):
                f[x] = feed[x] + sign * eps * d
            for v in variables:
                v.load(base[v] + sign * eps * dirs_v[v], sess)
            return sess.run(loss, f)
        numeric = (at(1) - at(-1)) / (2 * eps)
        for v in variables:
            v.load(base[v], sess)
        assert abs(numeric - analytic) <= tol * max(1.0, abs(numeric)), (numeric, analytic)


CELLS = {
    "basic_rnn": lambda: rnn_cell.BasicRNNCell(4),
    "basic_lstm": lambda: rnn_cell.BasicLSTMCell(4, forget_bias=0.5),
    "basic_lstm_concat_state": lambda: rnn_cell.BasicLSTMCell(3, state_is_tuple=False),
    "lstm_peephole_proj_clip": lambda: rnn_cell.LSTMCell(4, use_peepholes=True, num_proj=3,
                                                         cell_clip=5.0),
    "gru": lambda: rnn_cell.GRUCell(4),
    "multi": lambda: rnn_cell.MultiRNNCell([rnn_cell.GRUCell(3), rnn_cell.BasicLSTMCell(2)]),
    "output_projection": lambda: rnn_cell.OutputProjectionWrapper(rnn_cell.BasicRNNCell(3), 2),
    "dropout_keep_all": lambda: rnn_cell.DropoutWrapper(rnn_cell.GRUCell(3),
                                                        input_keep_prob=1.0),
    "residual": lambda: rnn_cell.ResidualWrapper(rnn_cell.BasicRNNCell(2)),
}


@pytest.mark.parametrize("name", list(CELLS))
def test_dynamic_rnn_gradients_with_sequence_length(name):
    rng = np.random.default_rng(1)
    cell = CELLS[name]()
    x = tf.placeholder(tf.float64, [3, 5, 2])
    lengths = tf.constant([5, 2, 3])
    out, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float64)
    terms = [tf.reduce_sum(out * rng.standard_normal(out.shape.as_list()))]
    for s in _flatten(state):
        terms.append(tf.reduce_sum(s * rng.standard_normal(s.shape.as_list())))
    loss = tf.add_n(terms)
    feed = {x: rng.standard_normal((3, 5, 2))}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        outv = sess.run(out, feed)
        assert np.all(outv[1, 2:] == 0) and np.all(outv[2, 3:] == 0)
        _check_gradients(loss, feed, [x], sess, rng)


def _flatten(s):
    from flowgrad.framework.structure import flatten
    return flatten(s)


def test_tf1_variable_names():
    x = tf.placeholder(tf.float32, [2, 4, 3])
    tf.nn.dynamic_rnn(rnn_cell.BasicLSTMCell(5), x, dtype=tf.float32)
    multi = rnn_cell.MultiRNNCell([rnn_cell.DropoutWrapper(rnn_cell.BasicLSTMCell(5),
                                                           output_keep_prob=0.5),
                                   rnn_cell.GRUCell(5)])
    tf.nn.dynamic_rnn(multi, x, dtype=tf.float32, scope="deep")
    tf.nn.bidirectional_dynamic_rnn(rnn_cell.LSTMCell(2, num_proj=1, use_peepholes=True),
                                    rnn_cell.BasicRNNCell(2), x, dtype=tf.float32)
    names = {v.op.name: v.shape.as_list() for v in tf.global_variables()}
    assert names == {
        "rnn/basic_lstm_cell/kernel": [8, 20], "rnn/basic_lstm_cell/bias": [20],
        "deep/multi_rnn_cell/cell_0/basic_lstm_cell/kernel": [8, 20],
        "deep/multi_rnn_cell/cell_0/basic_lstm_cell/bias": [20],
        "deep/multi_rnn_cell/cell_1/gru_cell/gates/kernel": [10, 10],
        "deep/multi_rnn_cell/cell_1/gru_cell/gates/bias": [10],
        "deep/multi_rnn_cell/cell_1/gru_cell/candidate/kernel": [10, 5],
        "deep/multi_rnn_cell/cell_1/gru_cell/candidate/bias": [5],
        "bidirectional_rnn/fw/lstm_cell/kernel": [4, 8],
        "bidirectional_rnn/fw/lstm_cell/bias": [8],
        "bidirectional_rnn/fw/lstm_cell/w_f_diag": [2],
        "bidirectional_rnn/fw/lstm_cell/w_i_diag": [2],
        "bidirectional_rnn/fw/lstm_cell/w_o_diag": [2],
        "bidirectional_rnn/fw/lstm_cell/projection/kernel": [2, 1],
        "bidirectional_rnn/bw/basic_rnn_cell/kernel": [5, 2],
        "bidirectional_rnn/bw/basic_rnn_cell/bias": [2],
    }
    assert tf.contrib.rnn.BasicLSTMCell is rnn_cell.BasicLSTMCell
    assert tf.contrib.rnn.LSTMStateTuple is rnn_cell.LSTMStateTuple


def test_basic_lstm_matches_numpy():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((2, 4, 3))
    x = tf.constant(xv)
    cell = rnn_cell.BasicLSTMCell(5, forget_bias=1.0)
    out, (c, h) = tf.nn.dynamic_rnn(cell, x, dtype=tf.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, b = sess.run(cell.variables)
        outv, cv, hv = sess.run([out, c, h])
    cn, hn = np.zeros((2, 5)), np.zeros((2, 5))
    for t in range(4):
        z = np.concatenate([xv[:, t], hn], 1) @ w + b
        i, j, f, o = np.split(z, 4, axis=1)
        cn = cn * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
        hn = np.tanh(cn) * _sigmoid(o)
        np.testing.assert_allclose(outv[:, t], hn, rtol=1e-10)
    np.testing.assert_allclose(cv, cn, rtol=1e-10)
    np.testing.assert_allclose(hv, hn, rtol=1e-10)


def test_static_rnn_equals_dynamic_rnn_and_time_major():
    rng = np.random.default_rng(3)
    xv = rng.standard_normal((3, 4, 2))
    x = tf.constant(xv)
    cell = rnn_cell.GRUCell(3)
    dyn, dst = tf.nn.dynamic_rnn(cell, x, sequence_length=[4, 1, 2], dtype=tf.float64)
    with tf.variable_scope("rnn", reuse=True):
        pass
    st_out, st_state = tf.nn.static_rnn(cell, tf.unstack(x, axis=1), sequence_length=[4, 1, 2],
                                        dtype=tf.float64)
    tm, tst = tf.nn.dynamic_rnn(cell, tf.transpose(x, [1, 0, 2]), sequence_length=[4, 1, 2],
                                dtype=tf.float64, time_major=True)
    assert len(tf.trainable_variables()) == 4    # one cell, one set of variables
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b, c, d, e, f = sess.run([dyn, dst, tf.stack(st_out, 1), st_state, tm, tst])
    np.testing.assert_allclose(a, c, rtol=1e-12)
    np.testing.assert_allclose(b, d, rtol=1e-12)
    np.testing.assert_allclose(a, np.transpose(e, [1, 0, 2]), rtol=1e-12)
    np.testing.assert_allclose(b, f, rtol=1e-12)


def test_bidirectional_backward_outputs_line_up_with_inputs():
    rng = np.random.default_rng(4)
    xv = rng.standard_normal((2, 5, 2))
    lengths = [5, 3]
    x = tf.constant(xv)
    fw, bw = rnn_cell.BasicRNNCell(3), rnn_cell.BasicRNNCell(3)
    (of, ob), (sf, sb) = tf.nn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=lengths,
                                                         dtype=tf.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        obv, sbv = sess.run([ob, sb])
        w, b = sess.run(bw.variables)
    for r, n in enumerate(lengths):
        h = np.zeros(3)
        for t in reversed(range(n)):
            h = np.tanh(np.concatenate([xv[r, t], h]) @ w + b)
            np.testing.assert_allclose(obv[r, t], h, rtol=1e-10)
        np.testing.assert_allclose(sbv[r], h, rtol=1e-10)
        assert np.all(obv[r, n:] == 0)


def test_dropout_wrapper_drops_and_scales():
    x = tf.ones([200, 1, 50])
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicRNNCell(50, activation=lambda v: v * 0.0 + 1.0),
                                   output_keep_prob=0.5, seed=1)
    out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        v = sess.run(out)
    assert set(np.unique(v)) <= {0.0, 2.0}
    assert 0.4 < np.mean(v == 2.0) < 0.6


def test_rnn_errors():
    with pytest.raises(ValueError, match="dtype"):
        tf.nn.dynamic_rnn(rnn_cell.GRUCell(2), tf.zeros([2, 3, 4]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        rnn_cell.DropoutWrapper(rnn_cell.GRUCell(2), output_keep_prob=1.5)


def test_static_bidirectional_rnn_matches_dynamic():
    rng = np.random.default_rng(5)
    xv = rng.standard_normal((2, 4, 3))
    x = tf.constant(xv)
    fw, bw = rnn_cell.GRUCell(2), rnn_cell.GRUCell(2)
    (df, db), (sf, sb) = tf.nn.bidirectional_dynamic_rnn(fw, bw, x, sequence_length=[4, 2],
                                                         dtype=tf.float64)
    with tf.variable_scope("static"):
        outs, s2f, s2b = tf.contrib.rnn.static_bidirectional_rnn(
            fw, bw, tf.unstack(x, axis=1), sequence_length=[4, 2], dtype=tf.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b, c, d, e, f = sess.run([tf.concat([df, db], 2), tf.stack(outs, 1), sf, s2f, sb,
                                     s2b])
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(c, d, rtol=1e-12)
    np.testing.assert_allclose(e, f, rtol=1e-12)


def test_dropout_gradient_uses_the_forward_mask():
    # the loop's gradient reads the recorded forward values: dropout is not redrawn
    rng = np.random.default_rng(6)
    xv = rng.standard_normal((50, 3, 4))
    cell = rnn_cell.DropoutWrapper(rnn_cell.BasicRNNCell(4), output_keep_prob=0.5, seed=2)
    out, _ = tf.nn.dynamic_rnn(cell, tf.constant(xv), dtype=tf.float64)
    w, b = cell.variables
    gx = tf.gradients(tf.reduce_sum(out[:, 0]), b)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        o, g, wv, bv = sess.run([out, gx, w, b])
    h = np.tanh(np.concatenate([xv[:, 0], np.zeros((50, 4))], 1) @ wv + bv)
    mask = (o[:, 0] != 0) * 2.0
    np.testing.assert_allclose(g, np.sum(mask * (1 - h ** 2), 0), rtol=1e-10)
