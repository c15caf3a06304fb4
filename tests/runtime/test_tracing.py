"""Traced runs (FULL_TRACE -> RunMetadata.step_stats) and the Chrome-trace timeline."""

import json

import numpy as np
import pytest

import flowgrad as tf


def _model():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None, 3), name="x")
        w = tf.Variable(np.ones((3, 2), np.float32), name="w")
        logits = tf.matmul(x, w, name="logits")
        loss = tf.reduce_mean(tf.square(logits), name="loss")
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        bad = tf.debugging.check_numerics(x, message="x has NaN")
    return g, x, w, loss, train, bad


FULL = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
XS = np.arange(6, dtype=np.float32).reshape(2, 3) / 10


@pytest.mark.parametrize("warm", [0, 2])
def test_traced_run_fills_step_stats_and_matches_untraced(warm, on_cpu):
    g, x, w, loss, train, bad = _model()
    with tf.Session(graph=g) as s1, tf.Session(graph=g) as s2:
        for s in (s1, s2):
            s.run(w.initializer)
            for _ in range(warm):
                s.run([train, loss], {x: XS})
        md = tf.RunMetadata()
        traced = s1.run([train, loss], {x: XS}, options=FULL, run_metadata=md)
        plain = s2.run([train, loss], {x: XS})
        assert traced[1] == plain[1]
        np.testing.assert_array_equal(s1.run(w), s2.run(w))
    stats = md.step_stats.dev_stats[0]
    assert "CPU:0" in stats.device
    names = [n.node_name for n in stats.node_stats]
    assert "logits" in names
    mm = stats.node_stats[names.index("logits")]
    assert mm.op_end_rel_micros >= 0 and mm.all_start_micros > 0
    assert list(mm.output[0].shape) == [2, 2]
    assert mm.timeline_label.startswith("logits = MatMul(")


def test_timeline_chrome_trace():
    g, x, w, loss, train, bad = _model()
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        md = tf.RunMetadata()
        sess.run(train, {x: XS}, options=FULL, run_metadata=md)
    trace = tf.client.timeline.Timeline(md.step_stats).generate_chrome_trace_format(
        show_memory=True)
    events = json.loads(trace)["traceEvents"]
    ops = [e for e in events if e.get("ph") == "X"]
    assert any(e["args"]["name"] == "logits" for e in ops)
    assert all(e["dur"] >= 0 and "ts" in e for e in ops)
    assert any(e.get("cat") == "DataFlow" for e in events)
    with pytest.raises(ValueError, match="FULL_TRACE"):
        tf.client.timeline.Timeline(None)


def test_failing_traced_run_rolls_back():
    g, x, w, loss, train, bad = _model()
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        before = sess.run(w)
        xs = XS.copy()
        xs[0, 0] = np.nan
        with pytest.raises(tf.errors.InvalidArgumentError, match="NaN"):
            sess.run([train, bad], {x: xs}, options=FULL, run_metadata=tf.RunMetadata())
        np.testing.assert_array_equal(sess.run(w), before)


def test_untraced_options_run_normally():
    g, x, w, loss, train, bad = _model()
    with tf.Session(graph=g) as sess:
        sess.run(w.initializer)
        md = tf.RunMetadata()
        sess.run(loss, {x: XS}, options=tf.RunOptions(), run_metadata=md)
        assert md.step_stats is None
