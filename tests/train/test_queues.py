"""TF1 queues, queue runners, the coordinator and the queue-based input pipelines."""

import threading

import numpy as np
import pytest

import flowgrad as tf

_T = tf.RunOptions(timeout_in_ms=5000)     # a bug must not hang the suite


def _run(sess, fetches, **kw):
    return sess.run(fetches, options=_T, **kw)


def test_fifo_order_and_enqueue_many_dequeue_many_shapes():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(10, [tf.float32, tf.int32], shapes=[[2], []])
        one = q.enqueue([[1.0, 2.0], 7])
        many = q.enqueue_many([np.arange(6, dtype=np.float32).reshape(3, 2), [10, 11, 12]])
        x, i = q.dequeue()
        xs, is_ = q.dequeue_many(3)
        assert x.shape.as_list() == [2] and i.shape.as_list() == []
        assert xs.shape.as_list() == [3, 2] and is_.shape.as_list() == [3]
        with tf.Session() as s:
            _run(s, one)
            _run(s, many)
            assert _run(s, q.size()) == 4
            a, b = _run(s, [x, i])
            np.testing.assert_array_equal(a, [1.0, 2.0])
            assert b == 7
            a, b = _run(s, [xs, is_])
            np.testing.assert_array_equal(a, np.arange(6).reshape(3, 2))
            np.testing.assert_array_equal(b, [10, 11, 12])
            assert _run(s, q.size()) == 0


def test_single_component_and_named_queue():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(5, tf.int64)
        d = q.dequeue()
        assert isinstance(d, tf.Tensor)
        nq = tf.FIFOQueue(5, [tf.int32, tf.float32], shapes=[[], []], names=["a", "b"])
        enq = nq.enqueue({"a": 1, "b": 2.5})
        out = nq.dequeue()
        assert set(out) == {"a", "b"}
        with tf.Session() as s:
            _run(s, q.enqueue_many([[5, 6]]))
            assert _run(s, d) == 5
            _run(s, enq)
            got = _run(s, out)
            assert got["a"] == 1 and got["b"] == 2.5


def test_graph_build_errors():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(5, [tf.float32], shapes=[[2]])
        with pytest.raises(ValueError, match="incompatible"):
            q.enqueue([[1.0, 2.0, 3.0]])
        with pytest.raises(ValueError, match="1 components"):
            q.enqueue([1.0, 2.0])
        with pytest.raises((TypeError, ValueError), match="int32"):
            tf.FIFOQueue(5, tf.int32).enqueue(tf.constant(1.5))
        with pytest.raises(ValueError, match="min_after_dequeue"):
            tf.RandomShuffleQueue(5, 5, tf.float32)


def test_close_semantics_dequeue_up_to_and_out_of_range():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(10, tf.int32, shapes=[[]])
        fill = q.enqueue_many([[1, 2, 3, 4, 5]])
        many = q.dequeue_many(3)
        up_to = q.dequeue_up_to(3)
        with tf.Session() as s:
            _run(s, fill)
            assert not _run(s, q.is_closed())
            _run(s, q.close())
            assert _run(s, q.is_closed())
            with pytest.raises(tf.errors.CancelledError, match="closed"):
                _run(s, q.enqueue(9))
            np.testing.assert_array_equal(_run(s, many), [1, 2, 3])
            with pytest.raises(tf.errors.OutOfRangeError, match="insufficient"):
                _run(s, many)             # 2 left, 3 asked, queue closed
            np.testing.assert_array_equal(_run(s, up_to), [4, 5])   # the remainder
            with pytest.raises(tf.errors.OutOfRangeError):
                _run(s, up_to)
            with pytest.raises(tf.errors.OutOfRangeError):
                _run(s, q.dequeue())


def test_blocking_timeouts_and_wakeups():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(2, tf.int32, shapes=[[]])
        d = q.dequeue()
        enq = q.enqueue(1)
        short = tf.RunOptions(timeout_in_ms=50)
        with tf.Session() as s:
            with pytest.raises(tf.errors.DeadlineExceededError, match="timed out"):
                s.run(d, options=short)             # empty: waits, then times out
            s.run(enq)
            s.run(enq)
            with pytest.raises(tf.errors.DeadlineExceededError):
                s.run(enq, options=short)           # full
            assert s.run(q.size()) == 2
            # a dequeue waiting in another thread wakes up when an element arrives
            s.run(q.dequeue_many(2))
            got = []
            t = threading.Thread(target=lambda: got.append(_run(s, d)))
            t.start()
            s.run(q.enqueue(42))
            t.join(5)
            assert got == [42]
            # closing wakes a blocked dequeue with OutOfRangeError
            errs = []

            def blocked():
                try:
                    _run(s, d)
                except tf.errors.OutOfRangeError as e:
                    errs.append(e)
            t = threading.Thread(target=blocked)
            t.start()
            s.run(q.close())
            t.join(5)
            assert len(errs) == 1


def test_cancel_pending_enqueues():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(1, tf.int32, shapes=[[]])
        enq = q.enqueue(1)
        with tf.Session() as s:
            s.run(enq)
            errs = []

            def blocked():
                try:
                    _run(s, enq)
                except tf.errors.CancelledError as e:
                    errs.append(e)
            t = threading.Thread(target=blocked)
            t.start()
            s.run(q.close(cancel_pending_enqueues=True))
            t.join(5)
            assert len(errs) == 1 and "cancelled" in str(errs[0])
            assert s.run(q.dequeue()) == 1        # what was enqueued stays


def test_random_shuffle_queue_seeded_and_min_after_dequeue():
    def order(seed):
        with tf.Graph().as_default():
            q = tf.RandomShuffleQueue(20, 3, tf.int32, shapes=[[]], seed=seed)
            d = q.dequeue()
            with tf.Session() as s:
                _run(s, q.enqueue_many([np.arange(10, dtype=np.int32)]))
                out = [int(_run(s, d)) for _ in range(7)]
                # 3 left: a dequeue would go below min_after_dequeue, so it waits
                with pytest.raises(tf.errors.DeadlineExceededError):
                    s.run(d, options=tf.RunOptions(timeout_in_ms=30))
                _run(s, q.close())      # closed: the rest comes out
                out += [int(v) for v in _run(s, q.dequeue_up_to(10))]
                return out
    a, b, c = order(7), order(7), order(8)
    assert a == b
    assert sorted(a) == list(range(10))
    assert a != list(range(10)) and a != c


def test_padding_fifo_queue_pads_batches():
    with tf.Graph().as_default():
        q = tf.PaddingFIFOQueue(5, [tf.int32], shapes=[[None]])
        out = q.dequeue_many(2)
        assert out.shape.as_list() == [2, None]
        with tf.Session() as s:
            _run(s, q.enqueue([[1, 2, 3]]))
            _run(s, q.enqueue([[4]]))
            np.testing.assert_array_equal(_run(s, out), [[1, 2, 3], [4, 0, 0]])


def test_queue_state_is_per_session():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(5, tf.int32, shapes=[[]])
        enq = q.enqueue(3)
        with tf.Session() as s1, tf.Session() as s2:
            s1.run(enq)
            assert s1.run(q.size()) == 1 and s2.run(q.size()) == 0


def test_queue_runner_and_coordinator_feed_training():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(64, 3)).astype(np.float32)
    ys = xs @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    with tf.Graph().as_default():
        data = tf.constant(np.concatenate([xs, ys], 1))
        q = tf.FIFOQueue(32, tf.float32, shapes=[[4]])
        enq = q.enqueue_many([data])
        tf.train.add_queue_runner(tf.train.QueueRunner(q, [enq]))
        batch = q.dequeue_many(16)
        x, y = batch[:, :3], batch[:, 3:]
        w = tf.Variable(tf.zeros([3, 1]))
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
        train = tf.train.GradientDescentOptimizer(0.3).minimize(loss)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            assert len(threads) == 2          # the enqueue thread and the close-on-stop one
            for _ in range(150):
                if coord.should_stop():
                    break
                _run(s, train)
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
            assert all(not t.is_alive() for t in threads)
            np.testing.assert_allclose(s.run(w).ravel(), [1.0, -2.0, 0.5], atol=1e-2)
            assert s.run(q.is_closed())      # the runner's cancel op closed the queue


def test_concurrent_runs_from_two_threads_update_different_variables():
    with tf.Graph().as_default():
        a = tf.Variable(0.0)
        b = tf.Variable(0.0)
        inc_a = tf.assign_add(a, 1.0)
        inc_b = tf.assign_add(b, 2.0)
        p = tf.placeholder(tf.float32, [])
        with tf.control_dependencies([tf.assign_add(b, 1000.0)]):
            bad = tf.debugging.assert_negative(p)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            errors = []

            def work(op, n):
                try:
                    for _ in range(n):
                        s.run(op)
                except Exception as e:  # noqa: BLE001 - checked below
                    errors.append(e)
            ts = [threading.Thread(target=work, args=(inc_a, 300)),
                  threading.Thread(target=work, args=(inc_b, 300))]
            for t in ts:
                t.start()
            for t in ts:
                t.join(10)
            assert not errors
            assert s.run(a) == 300.0 and s.run(b) == 600.0
            # a failing run rolls back its own updates only, while another thread runs
            t = threading.Thread(target=work, args=(inc_a, 200))
            t.start()
            with pytest.raises(tf.errors.InvalidArgumentError):
                s.run(bad, {p: 1.0})
            t.join(10)
            assert not errors
            assert s.run(b) == 600.0 and s.run(a) == 500.0


def test_runner_exception_is_reported_by_coord_join():
    with tf.Graph().as_default():
        q = tf.FIFOQueue(4, tf.float32, shapes=[[]])
        x = tf.placeholder(tf.float32, [])     # never fed: the enqueue op fails
        qr = tf.train.QueueRunner(q, [q.enqueue(x)])
        tf.train.add_queue_runner(qr)
        with tf.Session() as s:
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            with pytest.raises(tf.errors.InvalidArgumentError):
                coord.join(threads, stop_grace_period_secs=5)
            assert coord.should_stop()


def test_coordinator_protocol():
    coord = tf.train.Coordinator()
    assert not coord.should_stop()
    with coord.stop_on_exception():
        raise ValueError("boom")
    assert coord.should_stop()
    with pytest.raises(ValueError, match="boom"):
        coord.raise_requested_exception()
    coord.clear_stop()
    assert not coord.should_stop()
    coord.request_stop(tf.errors.OutOfRangeError(None, None, "end"))   # a clean stop
    coord.join([], stop_grace_period_secs=1)
    t = threading.Thread(target=coord.wait_for_stop)
    t.start()
    coord.join([t], stop_grace_period_secs=5)


def test_string_input_producer_num_epochs_ends_with_out_of_range():
    with tf.Graph().as_default():
        q = tf.train.string_input_producer(["a", "b", "c"], num_epochs=2, shuffle=False)
        name = q.dequeue()
        with tf.Session() as s:
            s.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            got = []
            with pytest.raises(tf.errors.OutOfRangeError):
                while True:
                    got.append(_run(s, name))
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
            assert got == [b"a", b"b", b"c", b"a", b"b", b"c"]


def test_slice_input_producer_and_batch_with_smaller_final_batch():
    with tf.Graph().as_default():
        xs = tf.constant(np.arange(10, dtype=np.float32).reshape(10, 1))
        ys = tf.constant(np.arange(10, dtype=np.int64))
        x, y = tf.train.slice_input_producer([xs, ys], num_epochs=1, shuffle=False)
        bx, by = tf.train.batch([x, y], batch_size=4, allow_smaller_final_batch=True)
        assert bx.shape.as_list() == [None, 1]
        with tf.Session() as s:
            s.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            got = []
            with pytest.raises(tf.errors.OutOfRangeError):
                while True:
                    vx, vy = _run(s, [bx, by])
                    np.testing.assert_array_equal(vx.ravel(), vy)
                    got.append(vy.tolist())
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
            assert got == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_shuffle_batch_over_range_input_producer():
    with tf.Graph().as_default():
        i = tf.train.range_input_producer(12, num_epochs=1, shuffle=False).dequeue()
        b = tf.train.shuffle_batch([i], batch_size=4, capacity=12, min_after_dequeue=4,
                                   seed=3, allow_smaller_final_batch=True)
        assert isinstance(b, tf.Tensor) and b.shape.as_list() == [None]   # as TF's
        with tf.Session() as s:
            s.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            got = []
            with pytest.raises(tf.errors.OutOfRangeError):
                while True:
                    got.extend(_run(s, b).tolist())
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
            assert sorted(got) == list(range(12)) and got != list(range(12))


def test_monitored_session_starts_queue_runners():
    with tf.Graph().as_default():
        q = tf.train.string_input_producer(["x", "y"], num_epochs=1, shuffle=False)
        d = q.dequeue()
        got = []
        with tf.train.MonitoredSession() as s:
            while not s.should_stop():
                got.append(s.run(d))
        assert got == [b"x", b"y"]


def test_count_up_to_and_runtime_shape_check():
    with tf.Graph().as_default():
        v = tf.Variable(0, dtype=tf.int64)
        c = tf.count_up_to(v, 2)
        q = tf.FIFOQueue(3, tf.float32, shapes=[[2]])
        p = tf.placeholder(tf.float32, [None])
        enq = q.enqueue([p])
        with tf.Session() as s:
            s.run(v.initializer)
            assert [s.run(c), s.run(c)] == [0, 1]
            with pytest.raises(tf.errors.OutOfRangeError, match="limit of 2"):
                s.run(c)
            assert s.run(v) == 2
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected \[2\]"):
                _run(s, enq, feed_dict={p: [1.0, 2.0, 3.0]})


def test_batch_dynamic_pad_and_enqueue_many():
    with tf.Graph().as_default():
        p = tf.placeholder(tf.int32, [None])
        b = tf.train.batch([p], batch_size=2, dynamic_pad=True)
        q = tf.train.batch({"x": tf.constant([[1, 2], [3, 4], [5, 6]])}, batch_size=3,
                           enqueue_many=True)
        assert b.shape.as_list() == [2, None] and q["x"].shape.as_list() == [3, 2]
        enq = tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)[0].enqueue_ops[0]
        with tf.Session() as s:
            _run(s, enq, feed_dict={p: [1, 2, 3]})
            _run(s, enq, feed_dict={p: [4]})
            np.testing.assert_array_equal(_run(s, b), [[1, 2, 3], [4, 0, 0]])
            _run(s, tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)[1].enqueue_ops[0])
            np.testing.assert_array_equal(_run(s, q["x"]), [[1, 2], [3, 4], [5, 6]])
