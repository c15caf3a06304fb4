"""Monitored sessions and hooks: TF1's training loop (``tf.train.MonitoredTrainingSession``)."""

import glob
import logging
import os

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.train import basic_session_run_hooks as hooks_lib

pytest.importorskip("tensorboardX")

ONES = np.ones(4, np.float32)


@pytest.fixture(autouse=True)
def fresh_writers():
    yield
    tf.summary.FileWriterCache.clear()


def linear_model():
    """loss = mean((w*x - 2)^2), one SGD step per run; with x = 1, w moves 1 -> 2."""
    step = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [None], name="x")
    w = tf.Variable(1.0, name="w")
    loss = tf.reduce_mean(tf.square(x * w - 2.0), name="loss")
    tf.summary.scalar("loss", loss)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    return x, w, loss, train, step


def w_after(n):
    w = 1.0
    for _ in range(n):
        w -= 0.1 * 2.0 * (w - 2.0)
    return w


def events(logdir):
    out = []
    for path in sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*"))):
        out.extend(tf.train.summary_iterator(path))
    return out


def scalars(logdir, tag):
    return [(e.step, v.simple_value) for e in events(logdir) for v in e.summary.value
            if v.tag == tag]


class FakeClock:
    """Stands in for the ``time`` module of the hooks: time moves only when told."""

    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now

    def sleep(self, secs):
        self.now += secs


class Recorder(tf.train.SessionRunHook):
    """Records its calls in a shared log; optionally asks for fetches and feeds."""

    def __init__(self, name, log, fetches=None, feed_dict=None):
        self.name, self.log, self.fetches, self.feed_dict = name, log, fetches, feed_dict
        self.results = []

    def begin(self):
        self.log.append((self.name, "begin", tf.get_default_graph().finalized))

    def after_create_session(self, session, coord):
        self.log.append((self.name, "after_create_session", session.graph.finalized))
        assert not coord.should_stop()

    def before_run(self, run_context):
        self.log.append((self.name, "before_run"))
        if self.fetches is None and self.feed_dict is None:
            return None
        return tf.train.SessionRunArgs(self.fetches, feed_dict=self.feed_dict)

    def after_run(self, run_context, run_values):
        self.log.append((self.name, "after_run"))
        self.results.append(run_values.results)

    def end(self, session):
        self.log.append((self.name, "end"))


# ----- the training loop ---------------------------------------------------------------
def test_stop_at_step_hook_last_step_and_num_steps():
    x, w, _, train, step = linear_model()
    runs = 0
    with tf.train.MonitoredSession(hooks=[tf.train.StopAtStepHook(last_step=7)]) as sess:
        while not sess.should_stop():
            sess.run(train, {x: ONES})
            runs += 1
        raw = sess._tf_sess()         # the session underneath: runs no hooks
        assert raw.run(step) == 7
        np.testing.assert_allclose(raw.run(w), w_after(7), rtol=1e-6)
    assert runs == 7

    scaffold = tf.train.Scaffold(init_fn=lambda scaffold, sess: step.load(5, sess))
    creator = tf.train.ChiefSessionCreator(scaffold=scaffold)
    runs = 0
    with tf.train.MonitoredSession(creator, hooks=[tf.train.StopAtStepHook(num_steps=3)]) as s:
        while not s.should_stop():
            s.run(train, {x: ONES})
            runs += 1
    assert runs == 3          # num_steps counts from the step the session started at


def test_training_session_checkpoints_by_steps_and_resumes(tmp_path):
    ckpt = str(tmp_path)
    x, w, _, train, step = linear_model()
    with tf.train.MonitoredTrainingSession(
            checkpoint_dir=ckpt, save_checkpoint_steps=4, save_summaries_steps=None,
            log_step_count_steps=None,
            hooks=[tf.train.StopAtStepHook(last_step=10)]) as sess:
        while not sess.should_stop():
            sess.run(train, {x: ONES})
    assert not tf.get_default_graph().finalized        # unfinalized again on close
    saved = sorted(int(p.split("-")[-1].split(".")[0])
                   for p in glob.glob(os.path.join(ckpt, "model.ckpt-*.safetensors")))
    assert saved == [0, 4, 8, 10]                      # creation, every 4 steps, the end
    assert tf.train.latest_checkpoint(ckpt).endswith("model.ckpt-10")
    np.testing.assert_allclose(tf.train.load_variable(ckpt, "w"), w_after(10), rtol=1e-6)

    tf.reset_default_graph()
    x, w, _, train, step = linear_model()
    with tf.train.MonitoredTrainingSession(
            checkpoint_dir=ckpt, save_summaries_steps=None, log_step_count_steps=None,
            hooks=[tf.train.StopAtStepHook(num_steps=5)]) as sess:
        raw = sess._tf_sess()
        assert raw.run(step) == 10
        np.testing.assert_allclose(raw.run(w), w_after(10), rtol=1e-6)
        while not sess.should_stop():
            sess.run(train, {x: ONES})
        assert raw.run(step) == 15
    np.testing.assert_allclose(tf.train.load_variable(ckpt, "w"), w_after(15), rtol=1e-6)


def test_checkpoints_by_seconds(tmp_path, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(hooks_lib, "time", clock)
    x, _, _, train, step = linear_model()
    saves = []

    class Listener(tf.train.CheckpointSaverListener):
        def before_save(self, session, global_step_value):
            saves.append(("before", global_step_value))

        def after_save(self, session, global_step_value):
            saves.append(("after", global_step_value))

        def end(self, session, global_step_value):
            saves.append(("end", global_step_value))

    hook = tf.train.CheckpointSaverHook(str(tmp_path), save_secs=60, listeners=[Listener()])
    with tf.train.SingularMonitoredSession(hooks=[hook]) as sess:
        for i in range(1, 7):
            sess.run(train, {x: ONES})
            if i == 2:
                clock.now += 61          # a minute passes: the next step saves
    assert [s for s in saves if s[0] == "after"] == [("after", 0), ("after", 3),
                                                     ("after", 6)]
    assert saves[-1] == ("end", 6)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == \
        ["model.ckpt-0", "model.ckpt-3", "model.ckpt-6"]
    logs = [e.session_log for e in events(str(tmp_path)) if e.HasField("session_log")]
    assert [lg.status for lg in logs] == [tf.summary.SessionLog.CHECKPOINT] * 3


def test_listener_after_save_can_stop_training(tmp_path):
    x, _, _, train, step = linear_model()

    class StopAfterFirstRealSave(tf.train.CheckpointSaverListener):
        def after_save(self, session, global_step_value):
            return global_step_value > 0

    hook = tf.train.CheckpointSaverHook(str(tmp_path), save_steps=2,
                                        listeners=[StopAfterFirstRealSave()])
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
        while not sess.should_stop():
            sess.run(train, {x: ONES})
        assert sess._tf_sess().run(step) == 2


def test_summaries_and_step_rate_land_in_the_event_file(tmp_path):
    logdir = str(tmp_path)
    x, _, loss, train, step = linear_model()
    with tf.train.MonitoredTrainingSession(
            checkpoint_dir=logdir, save_summaries_steps=3, log_step_count_steps=4,
            save_checkpoint_secs=None,
            hooks=[tf.train.StopAtStepHook(last_step=9)]) as sess:
        losses = []
        while not sess.should_stop():
            losses.append(sess.run([train, loss], {x: ONES})[1])
    written = scalars(logdir, "loss")
    # the summary of a run is written at the step the run produced (TF1's numbering)
    assert [s for s, _ in written] == [1, 4, 7]
    np.testing.assert_allclose([v for _, v in written], [losses[0], losses[3], losses[6]],
                               rtol=1e-6)
    rates = scalars(logdir, "global_step/sec")
    assert [s for s, _ in rates] == [5, 9] and all(r > 0 for _, r in rates)
    starts = [e for e in events(logdir) if e.HasField("session_log")]
    assert starts[0].session_log.status == tf.summary.SessionLog.START
    assert any(e.HasField("graph_def") for e in events(logdir))
    assert not glob.glob(os.path.join(logdir, "*.safetensors"))   # no checkpoint hook


def test_summary_saver_hook_with_writer_and_summary_op(tmp_path):
    x, _, loss, train, step = linear_model()
    other = tf.summary.scalar("twice", 2.0 * loss)
    writer = tf.summary.FileWriter(str(tmp_path))
    hook = tf.train.SummarySaverHook(save_steps=2, summary_writer=writer, summary_op=other)
    with tf.train.MonitoredSession(hooks=[hook, tf.train.StopAtStepHook(last_step=4)]) as s:
        while not s.should_stop():
            s.run(train, {x: ONES})
    writer.close()
    assert [st for st, _ in scalars(str(tmp_path), "twice")] == [1, 3]
    assert scalars(str(tmp_path), "loss") == []


def test_logging_tensor_hook_logs_values(caplog):
    x, w, loss, train, step = linear_model()
    caplog.set_level(logging.INFO, logger="flowgrad")
    hook = tf.train.LoggingTensorHook({"w": w, "step": "global_step"}, every_n_iter=2)
    end_hook = tf.train.LoggingTensorHook(["w"], at_end=True,
                                          formatter=lambda v: f"final w {v['w']:.4f}")
    with tf.train.MonitoredSession(hooks=[hook, end_hook]) as sess:
        for _ in range(5):
            sess.run(train, {x: ONES})
        final = sess._tf_sess().run(w)
    lines = [r.getMessage() for r in caplog.records if r.name == "flowgrad"]
    logged = [ln for ln in lines if ln.startswith("step = ")]
    assert [ln.split(",")[0] for ln in logged] == ["step = 0", "step = 2", "step = 4"]
    assert logged[0] == "step = 0, w = 1.0"
    assert logged[1].startswith(f"step = 2, w = {np.float32(w_after(2))} (")
    assert lines[-1] == f"final w {final:.4f}" == f"final w {w_after(5):.4f}"


def test_logging_tensor_hook_arguments():
    with pytest.raises(ValueError, match="exactly one of every_n_iter"):
        tf.train.LoggingTensorHook(["a"])
    with pytest.raises(ValueError, match="exactly one of every_n_iter"):
        tf.train.LoggingTensorHook(["a"], every_n_iter=1, every_n_secs=1)
    with pytest.raises(ValueError, match="invalid every_n_iter=0"):
        tf.train.LoggingTensorHook(["a"], every_n_iter=0)


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt")
def test_nan_tensor_hook():
    x = tf.placeholder(tf.float32, [], name="x")
    tf.train.get_or_create_global_step()
    loss = tf.sqrt(x)
    with tf.train.MonitoredSession(hooks=[tf.train.NanTensorHook(loss)]) as sess:
        sess.run(loss, {x: 4.0})
        with pytest.raises(tf.train.NanLossDuringTrainingError, match="NaN loss during"):
            sess.run(loss, {x: -1.0})

    hook = tf.train.NanTensorHook(loss, fail_on_nan_loss=False)
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
        sess.run(loss, {x: 4.0})
        assert not sess.should_stop()
        sess.run(loss, {x: -1.0})
        assert sess.should_stop()
        with pytest.raises(RuntimeError, match="Run called even after should_stop"):
            sess.run(loss, {x: 4.0})


# ----- the hook protocol -----------------------------------------------------------------
def test_hook_call_order_and_merged_fetches_and_feeds():
    x, w, loss, train, step = linear_model()
    bias = tf.placeholder_with_default(0.0, [], name="bias")
    shifted = loss + bias
    log = []
    a = Recorder("a", log, fetches={"step": step, "loss": shifted}, feed_dict={bias: 10.0})
    b = Recorder("b", log)
    c = Recorder("c", log, fetches=[w])
    with tf.train.MonitoredSession(hooks=[a, b, c]) as sess:
        out = sess.run({"l": loss}, feed_dict={x: ONES})
        assert set(out) == {"l"} and out["l"] == pytest.approx(1.0)
        sess.run(train, {x: ONES})
    assert log[:6] == [("a", "begin", False), ("b", "begin", False), ("c", "begin", False),
                       ("a", "after_create_session", True),
                       ("b", "after_create_session", True),
                       ("c", "after_create_session", True)]
    per_run = ["before_run"] * 3 + ["after_run"] * 3
    assert [e[1] for e in log[6:18]] == per_run * 2
    assert [e[0] for e in log[6:12]] == ["a", "b", "c", "a", "b", "c"]
    assert log[18:] == [("a", "end"), ("b", "end"), ("c", "end")]
    # hook a's feed reached the run, the caller's feed too; b asked for nothing
    assert a.results[0]["loss"] == pytest.approx(11.0)
    assert a.results[0]["step"] == 0 and a.results[1]["step"] == 0   # read before the update
    assert b.results == [None, None]
    assert c.results[0] == [pytest.approx(1.0)]


def test_feed_conflicts_and_bad_before_run_are_errors():
    x, _, loss, _, _ = linear_model()
    with tf.train.MonitoredSession(hooks=[Recorder("a", [], feed_dict={x: ONES})]) as sess:
        with pytest.raises(RuntimeError, match="Same tensor is fed by a SessionRunHook and "
                                               "user"):
            sess.run(loss, {x: ONES})
    two = [Recorder("a", [], feed_dict={x: ONES}), Recorder("b", [], feed_dict={x: ONES})]
    with tf.train.MonitoredSession(hooks=two) as sess:
        with pytest.raises(RuntimeError, match="Same tensor is fed by two hooks"):
            sess.run(loss)

    class Bad(tf.train.SessionRunHook):
        def before_run(self, run_context):
            return [loss]

    with tf.train.MonitoredSession(hooks=[Bad()]) as sess:
        with pytest.raises(TypeError, match="must return a tf.train.SessionRunArgs"):
            sess.run(loss, {x: ONES})


def test_hook_request_stop_and_run_context():
    x, _, loss, train, step = linear_model()

    class StopWhenSmall(tf.train.SessionRunHook):
        def before_run(self, run_context):
            assert run_context.original_args.fetches is train
            assert x in run_context.original_args.feed_dict
            return tf.train.SessionRunArgs(loss)

        def after_run(self, run_context, run_values):
            assert isinstance(run_values.options, tf.RunOptions)
            if run_values.results < 0.05:
                run_context.request_stop()

    runs = 0
    with tf.train.MonitoredSession(hooks=[StopWhenSmall()]) as sess:
        while not sess.should_stop():
            sess.run(train, {x: ONES})
            runs += 1
    assert runs == 1 + next(n for n in range(100) if (w_after(n) - 2.0) ** 2 < 0.05)


def test_hook_run_options_are_merged_and_traced():
    x, _, loss, train, _ = linear_model()

    class Tracing(tf.train.SessionRunHook):
        def before_run(self, run_context):
            return tf.train.SessionRunArgs(
                None, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE))

        def after_run(self, run_context, run_values):
            self.options = run_values.options
            self.metadata = run_values.run_metadata

    hook = Tracing()
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
        sess.run(train, {x: ONES}, options=tf.RunOptions(timeout_in_ms=5))
    assert hook.options.trace_level == tf.RunOptions.FULL_TRACE
    assert hook.options.timeout_in_ms == 5
    assert hook.metadata.step_stats is not None


# ----- input pipelines ---------------------------------------------------------------------
def test_out_of_range_ends_the_with_block_cleanly():
    step = tf.train.get_or_create_global_step()
    data = tf.data.Dataset.from_tensor_slices(np.arange(10, dtype=np.float32)).batch(3)
    batch = data.make_one_shot_iterator().get_next()
    total = tf.Variable(0.0, name="total")
    add = tf.group(tf.assign_add(total, tf.reduce_sum(batch)), tf.assign_add(step, 1))
    log = []
    final = tf.train.FinalOpsHook(total)
    runs = 0
    with tf.train.MonitoredSession(hooks=[Recorder("r", log), final]) as sess:
        while not sess.should_stop():
            sess.run(add)
            runs += 1
    assert runs == 4                   # 3 + 3 + 3 + 1 elements, then OutOfRangeError
    assert log[-1] == ("r", "end")     # hooks' end() ran: a clean stop
    assert final.final_ops_values == pytest.approx(45.0)


def test_errors_other_than_out_of_range_propagate_and_skip_end():
    x, _, loss, _, _ = linear_model()
    log = []
    with pytest.raises(tf.errors.InvalidArgumentError, match="must feed a value"):
        with tf.train.MonitoredSession(hooks=[Recorder("r", log)]) as sess:
            sess.run(loss)
    assert ("r", "end") not in log
    assert not tf.get_default_graph().finalized


def test_feed_fn_hook_feeds_every_run():
    x, _, loss, train, _ = linear_model()
    calls = []

    def feed_fn():
        calls.append(1)
        return {x: ONES * 2}

    with tf.train.MonitoredSession(hooks=[tf.train.FeedFnHook(feed_fn)]) as sess:
        assert sess.run(loss) == pytest.approx((2.0 - 2.0) ** 2)
        sess.run(train)
    assert len(calls) == 2


# ----- Scaffold, creators, sessions ----------------------------------------------------
def test_scaffold_defaults():
    x, w, loss, _, step = linear_model()
    local = tf.Variable(3.0, name="local", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    scaffold = tf.train.Scaffold().finalize()
    g = tf.get_default_graph()
    assert g.finalized
    assert g.get_collection(tf.GraphKeys.INIT_OP) == [scaffold.init_op]
    assert g.get_collection(tf.GraphKeys.LOCAL_INIT_OP) == [scaffold.local_init_op]
    assert g.get_collection(tf.GraphKeys.READY_OP) == [scaffold.ready_op]
    assert g.get_collection(tf.GraphKeys.SUMMARY_OP) == [scaffold.summary_op]
    assert g.get_collection(tf.GraphKeys.SAVERS) == [scaffold.saver]
    assert isinstance(scaffold.saver, tf.train.Saver)
    sess = tf.Session()
    assert sorted(v.decode() if isinstance(v, bytes) else v
                  for v in sess.run(scaffold.ready_op)) == ["global_step", "local", "w"]
    assert sorted(sess.run(scaffold.ready_for_local_init_op)) == [b"global_step", b"w"]
    sess.run(scaffold.init_op)
    assert list(sess.run(scaffold.ready_op)) == [b"local"]
    sess.run(scaffold.local_init_op)
    assert len(sess.run(scaffold.ready_op)) == 0
    assert sess.run(local) == 3.0
    summary = tf.summary.Summary()
    summary.ParseFromString(sess.run(scaffold.summary_op, {x: ONES}))
    assert [v.tag for v in summary.value] == ["loss"]
    # a second scaffold picks the same pieces from the collections
    g._unsafe_unfinalize()
    again = tf.train.Scaffold().finalize()
    assert again.init_op is scaffold.init_op and again.saver is scaffold.saver
    copy = tf.train.Scaffold(copy_from_scaffold=scaffold, init_feed_dict={x: ONES})
    assert copy.init_op is scaffold.init_op and copy.init_feed_dict == {x: ONES}
    with pytest.raises(TypeError, match="copy_from_scaffold is not a Scaffold"):
        tf.train.Scaffold(copy_from_scaffold=object())


def test_scaffold_without_summaries_and_with_two_savers():
    tf.train.get_or_create_global_step()
    tf.Variable(1.0, name="v")
    scaffold = tf.train.Scaffold().finalize()
    assert scaffold.summary_op is None
    tf.get_default_graph()._unsafe_unfinalize()
    tf.add_to_collection(tf.GraphKeys.SAVERS, tf.train.Saver())
    with pytest.raises(RuntimeError, match="More than one item in collection savers"):
        tf.train.Scaffold().finalize()
    tf.add_to_collection(tf.GraphKeys.INIT_OP, tf.no_op())
    with pytest.raises(RuntimeError, match=r"Scaffold\(init_op=item to use\)"):
        tf.train.Scaffold().finalize()


def test_scaffold_init_fn_and_init_feed_dict():
    step = tf.train.get_or_create_global_step()
    start = tf.placeholder(tf.float32, [], name="start")
    v = tf.Variable(start, name="v")
    seen = []

    def init_fn(scaffold, sess):
        seen.append(scaffold)
        sess.run(v.initializer, {start: 7.0})

    scaffold = tf.train.Scaffold(init_feed_dict={start: 5.0}, init_fn=init_fn)
    with tf.train.SingularMonitoredSession(scaffold=scaffold) as sess:
        assert sess.raw_session().run(v) == 7.0
        assert sess.raw_session().run(step) == 0
    assert seen == [scaffold]


def test_session_manager_reports_what_is_uninitialized():
    tf.Variable(1.0, name="lonely")
    scaffold = tf.train.Scaffold(init_op=tf.no_op())
    with pytest.raises(RuntimeError, match="Init operations did not make model ready.*"
                                           "Variables not initialized: lonely"):
        tf.train.MonitoredSession(tf.train.ChiefSessionCreator(scaffold=scaffold))
    assert not tf.get_default_graph().finalized     # a failed creation leaves it open
    with pytest.raises(ValueError, match="must also pass a local_init_op"):
        tf.train.SessionManager(ready_for_local_init_op=scaffold.ready_op)


def test_checkpoint_filename_with_path_and_worker_sessions(tmp_path):
    x, w, _, train, step = linear_model()
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path),
                                           save_summaries_steps=None,
                                           log_step_count_steps=None) as sess:
        sess.run(train, {x: ONES})
    first = str(tmp_path / "model.ckpt-0")
    with tf.train.SingularMonitoredSession(checkpoint_filename_with_path=first) as sess:
        assert sess.raw_session().run(w) == 1.0 and sess.raw_session().run(step) == 0
    log = []
    with tf.train.MonitoredTrainingSession(is_chief=False, checkpoint_dir=str(tmp_path),
                                           hooks=[Recorder("r", log)]) as sess:
        # a worker neither restores nor gets the chief's default hooks
        assert sess.run(step) == 0
        assert [type(h).__name__ for h in sess._hooks] == ["Recorder"]
    assert log[-1] == ("r", "end")


def test_default_hooks_of_monitored_training_session(tmp_path):
    linear_model()
    mine = Recorder("mine", [])
    chief = Recorder("chief", [])
    sess = tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), hooks=[mine],
                                             chief_only_hooks=[chief])
    names = [type(h).__name__ for h in sess._hooks]
    assert names == ["Recorder", "StepCounterHook", "SummarySaverHook",
                     "CheckpointSaverHook", "Recorder"]
    assert sess._hooks[0] is chief and sess._hooks[-1] is mine
    saver_hook = sess._hooks[3]
    assert saver_hook._timer._every_secs == 600 and saver_hook._timer._every_steps is None
    assert sess._hooks[2]._timer._every_steps == 100
    sess.close()
    tf.reset_default_graph()
    linear_model()
    sess = tf.train.MonitoredTrainingSession(save_summaries_secs=30)
    assert sess._hooks == []            # no directory: no default hooks
    sess.close()


def test_run_after_close_and_double_close_are_errors():
    x, _, loss, _, _ = linear_model()
    sess = tf.train.MonitoredSession()
    assert sess.graph is tf.get_default_graph()
    sess.close()
    assert sess.should_stop() and sess.graph is None
    with pytest.raises(RuntimeError, match="closed MonitoredSession"):
        sess.run(loss, {x: ONES})
    with pytest.raises(RuntimeError, match="already closed"):
        sess.close()
    with pytest.raises(RuntimeError, match="Graph is finalized"):
        with tf.train.MonitoredSession():
            tf.constant(1.0)


def test_run_step_fn():
    x, w, loss, train, step = linear_model()
    log = []

    def step_fn(step_context):
        value = step_context.session.run(step)         # no hooks
        if value >= 2:
            step_context.request_stop()
        return step_context.run_with_hooks(train, {x: ONES})

    with tf.train.MonitoredSession(hooks=[Recorder("r", log)]) as sess:
        while not sess.should_stop():
            sess.run_step_fn(step_fn)
    assert sum(1 for e in log if e[1] == "before_run") == 2
    assert log[-1] == ("r", "end")

    with tf.train.MonitoredSession() as sess:
        with pytest.raises(ValueError, match="`step_fn` may either have one `step_context`"):
            sess.run_step_fn(lambda ctx: None)

        class Trainer:
            def step(self, step_context):
                return step_context.run_with_hooks(loss, {x: ONES})

        assert sess.run_step_fn(Trainer().step) == pytest.approx(1.0)


def test_recoverable_session_recreates_after_aborted_error():
    x, _, loss, train, step = linear_model()

    class CountingCreator(tf.train.SessionCreator):
        def __init__(self):
            self.inner = tf.train.ChiefSessionCreator()
            self.created = 0

        def create_session(self):
            self.created += 1
            return self.inner.create_session()

    class AbortOnce(tf.train.SessionRunHook):
        aborted = False

        def after_run(self, run_context, run_values):
            if not self.aborted:
                self.aborted = True
                raise tf.errors.AbortedError(None, None, "worker preempted")

    creator = CountingCreator()
    with tf.train.MonitoredSession(creator, hooks=[AbortOnce()]) as sess:
        assert sess.run(loss, {x: ONES}) == pytest.approx(1.0)
    assert creator.created == 2

    with pytest.raises(tf.errors.AbortedError):
        with tf.train.SingularMonitoredSession(hooks=[AbortOnce()]) as sess:
            sess.run(loss, {x: ONES})


def test_coordinator_stop_with_an_error_surfaces_on_close():
    import threading
    x, _, loss, train, _ = linear_model()

    class Reader(tf.train.SessionRunHook):
        """A background thread that fails, as an input thread might."""

        def after_create_session(self, session, coord):
            def work():
                with coord.stop_on_exception():
                    raise ValueError("reader died")
            thread = threading.Thread(target=work)
            coord.register_thread(thread)
            thread.start()
            thread.join()

    runs = 0
    with pytest.raises(ValueError, match="reader died"):
        with tf.train.MonitoredSession(hooks=[Reader()]) as sess:
            while not sess.should_stop():
                sess.run(train, {x: ONES})
                runs += 1
    assert runs == 0
    with pytest.raises(ValueError, match="reader died"):
        with tf.train.SingularMonitoredSession(hooks=[Reader()]) as sess:
            sess.should_stop()


def test_hooks_need_a_global_step_and_valid_arguments():
    tf.Variable(1.0, name="v")
    with pytest.raises(RuntimeError, match="Global step should be created to use "
                                           "StopAtStepHook"):
        tf.train.MonitoredSession(hooks=[tf.train.StopAtStepHook(num_steps=1)])
    with pytest.raises(ValueError, match="One of num_steps or last_step"):
        tf.train.StopAtStepHook()
    with pytest.raises(ValueError, match="Only one of num_steps or last_step"):
        tf.train.StopAtStepHook(1, 2)
    with pytest.raises(ValueError, match="Either every_secs or every_steps"):
        tf.train.SecondOrStepTimer()
    with pytest.raises(ValueError, match="Can not provide both"):
        tf.train.SecondOrStepTimer(1, 1)
    with pytest.raises(ValueError, match="Exactly one of scaffold or summary_op"):
        tf.train.SummarySaverHook(save_steps=1)
    with pytest.raises(ValueError, match="exactly one of every_n_steps and every_n_secs"):
        tf.train.StepCounterHook(every_n_steps=None)
    with pytest.raises(ValueError, match="cannot provide both saver and scaffold"):
        tf.train.CheckpointSaverHook("d", save_steps=1, saver=object(),
                                     scaffold=tf.train.Scaffold())


def test_second_or_step_timer():
    timer = tf.train.SecondOrStepTimer(every_steps=3)
    assert timer.should_trigger_for_step(0)
    assert timer.update_last_triggered_step(0) == (None, None)
    assert not timer.should_trigger_for_step(0) and not timer.should_trigger_for_step(2)
    assert timer.should_trigger_for_step(3)
    secs, steps = timer.update_last_triggered_step(3)
    assert steps == 3 and secs >= 0 and timer.last_triggered_step() == 3
    assert not tf.train.NeverTriggerTimer().should_trigger_for_step(10)


def test_global_step_waiter_and_step_counter_hooks(caplog):
    x, _, _, train, step = linear_model()
    caplog.set_level(logging.INFO, logger="flowgrad")
    writer_events = []

    class Writer:
        def add_summary(self, summary, global_step):
            writer_events.append((global_step, summary.value[0].tag))

    counter = tf.train.StepCounterHook(every_n_steps=2, summary_writer=Writer())
    waiter = tf.train.GlobalStepWaiterHook(wait_until_step=0)
    with tf.train.MonitoredSession(hooks=[waiter, counter,
                                          tf.train.StopAtStepHook(last_step=5)]) as sess:
        while not sess.should_stop():
            sess.run(train, {x: ONES})
    assert [s for s, _ in writer_events] == [3, 5]
    assert {t for _, t in writer_events} == {"global_step/sec"}
    assert any(r.getMessage().startswith("global_step/sec: ") for r in caplog.records)


def test_profiler_hook_writes_chrome_traces(tmp_path):
    import json
    x, _, _, train, step = linear_model()
    hook = tf.train.ProfilerHook(save_steps=2, output_dir=str(tmp_path))
    with tf.train.MonitoredSession(hooks=[hook, tf.train.StopAtStepHook(last_step=5)]) as s:
        while not s.should_stop():
            s.run(train, {x: ONES})
    traces = sorted(os.listdir(tmp_path))
    # the first step is never traced; then every 2 steps, named by the step after the run
    assert [t for t in traces if t.startswith("timeline")] == ["timeline-2.json",
                                                               "timeline-4.json"]
    trace = json.load(open(tmp_path / "timeline-2.json"))
    names = {e.get("args", {}).get("op") for e in trace["traceEvents"]}
    # (on a device plan the multiply is part of a fused elementwise kernel)
    assert names & {"MatMul", "Mul", "FusedElementwise"}
    tagged = [e.tagged_run_metadata.tag for e in events(str(tmp_path))
              if e.HasField("tagged_run_metadata")]
    assert tagged == ["step_2", "step_4"]


def test_global_step_waiter_polls_until_the_step_is_reached(monkeypatch):
    x, _, _, train, step = linear_model()

    class ChiefElsewhere(FakeClock):
        """Each half-second poll, "another process" advances the global step."""
        session = None
        polls = 0

        def sleep(self, secs):
            self.polls += 1
            step.load(self.session.run(step) + 1, self.session)

    clock = ChiefElsewhere()
    monkeypatch.setattr(hooks_lib, "time", clock)
    with tf.train.SingularMonitoredSession(
            hooks=[tf.train.GlobalStepWaiterHook(wait_until_step=3)]) as sess:
        clock.session = sess.raw_session()
        sess.run(train, {x: ONES})
        assert clock.polls == 3 and sess.raw_session().run(step) == 4
        sess.run(train, {x: ONES})
        assert clock.polls == 3                  # waits only before the first step


def test_scaffold_saver_is_used_by_the_checkpoint_hook(tmp_path):
    x, _, _, train, _ = linear_model()
    scaffold = tf.train.Scaffold(saver=tf.train.Saver(max_to_keep=2))
    with tf.train.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path), scaffold=scaffold, save_checkpoint_steps=1,
            save_summaries_steps=None, log_step_count_steps=None,
            hooks=[tf.train.StopAtStepHook(last_step=4)]) as sess:
        while not sess.should_stop():
            sess.run(train, {x: ONES})
    assert sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*.safetensors"))) \
        == ["model.ckpt-3.safetensors", "model.ckpt-4.safetensors"]
    assert tf.get_default_graph().get_collection(tf.GraphKeys.SAVERS) == []


def test_summary_iterator_detects_corruption(tmp_path):
    writer = tf.summary.FileWriter(str(tmp_path))
    writer.add_summary(tf.Session().run(tf.summary.scalar("a", 1.0)), 3)
    writer.close()
    path = glob.glob(str(tmp_path / "events*"))[0]
    assert [(e.step, e.summary.value[0].tag) for e in tf.train.summary_iterator(path)
            if e.HasField("summary")] == [(3, "a")]
    data = bytearray(open(path, "rb").read())
    data[-6] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(tf.errors.DataLossError, match="checksum mismatch"):
        list(tf.train.summary_iterator(path))
