"""TF1's readers, the priority queue and the ``batch_join`` family of input pipelines."""

import gzip
import threading

import numpy as np
import pytest

import flowgrad as tf

_T = tf.RunOptions(timeout_in_ms=5000)     # a bug must not hang the suite


def _run(sess, fetches, **kw):
    return sess.run(fetches, options=_T, **kw)


@pytest.fixture(autouse=True)
def _no_threads_left():
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left, f"threads left running: {left}"


def _files_queue(paths):
    """A closed queue holding ``paths`` (what a one-epoch, unshuffled producer gives)."""
    q = tf.FIFOQueue(10, tf.string, shapes=[[]])
    return q, [q.enqueue_many([[str(p) for p in paths]]), q.close()]


def _write_records(path, records, options=None):
    with tf.python_io.TFRecordWriter(str(path), options) as w:
        for r in records:
            w.write(r)


def _example(x, y) -> bytes:
    f = tf.train.Feature
    return tf.train.Example(features=tf.train.Features(feature={
        "x": f(float_list=tf.train.FloatList(value=x)),
        "y": f(int64_list=tf.train.Int64List(value=[y]))})).SerializeToString()


def _drain(sess, fetch) -> list:
    got = []
    with pytest.raises(tf.errors.OutOfRangeError):
        while True:
            got.append(_run(sess, fetch))
    return got


def test_tfrecord_shuffle_batch_pipeline_two_epochs(tmp_path):
    files = [tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"]
    _write_records(files[0], [_example([i, 0.5, -1.0], i) for i in range(6)])
    _write_records(files[1], [_example([i, 0.5, -1.0], i) for i in range(100, 106)])
    with tf.Graph().as_default():
        filename_queue = tf.train.string_input_producer([str(f) for f in files], num_epochs=2)
        reader = tf.TFRecordReader()
        key, serialized = reader.read(filename_queue)
        assert key.shape.as_list() == [] and serialized.dtype == tf.string
        features = tf.parse_single_example(serialized, {
            "x": tf.FixedLenFeature([3], tf.float32), "y": tf.FixedLenFeature([], tf.int64)})
        xb, yb = tf.train.shuffle_batch([features["x"], features["y"]], batch_size=4,
                                        capacity=50, min_after_dequeue=10, seed=1)
        assert xb.shape.as_list() == [4, 3] and yb.shape.as_list() == [4]
        with tf.Session() as s:
            s.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            got = []
            try:
                while not coord.should_stop():
                    x, y = _run(s, [xb, yb])
                    np.testing.assert_array_equal(x[:, 0], y)
                    np.testing.assert_array_equal(x[:, 1:], np.tile([0.5, -1.0], (4, 1)))
                    got.extend(y.tolist())
            except tf.errors.OutOfRangeError:
                ended = True
            finally:
                coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
            assert ended
            want = list(range(6)) + list(range(100, 106))
            assert sorted(got) == sorted(want * 2)          # every record exactly twice
            assert _run(s, [reader.num_records_produced(),
                            reader.num_work_units_completed()]) == [24, 4]


def test_tfrecord_reader_keys_are_byte_offsets_and_gzip(tmp_path):
    plain, packed = tmp_path / "p.tfrecord", tmp_path / "z.tfrecord.gz"
    _write_records(plain, [b"aa", b"bbb"])
    _write_records(packed, [b"c", b""], tf.python_io.TFRecordOptions(
        tf.python_io.TFRecordCompressionType.GZIP))
    with tf.Graph().as_default():
        q, fill = _files_queue([plain])
        key, value = tf.TFRecordReader().read(q)
        zq, zfill = _files_queue([packed])
        zkey, zvalue = tf.TFRecordReader(options=tf.python_io.TFRecordOptions(
            tf.python_io.TFRecordCompressionType.GZIP)).read(zq)
        with tf.Session() as s:
            _run(s, fill + zfill)
            # a record takes 16 bytes of framing: offsets 0 and 16 + 2
            assert _drain(s, [key, value]) == [[f"{plain}:0".encode(), b"aa"],
                                               [f"{plain}:18".encode(), b"bbb"]]
            assert _drain(s, [zkey, zvalue]) == [[f"{packed}:0".encode(), b"c"],
                                                 [f"{packed}:17".encode(), b""]]


def test_whole_file_reader_and_counters(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"\x00\x01two\n")
    b.write_bytes(b"")
    with tf.Graph().as_default():
        q, fill = _files_queue([a, b])
        reader = tf.WholeFileReader()
        key, value = reader.read(q)
        counts = [reader.num_records_produced(), reader.num_work_units_completed()]
        with tf.Session() as s:
            _run(s, fill)
            assert _run(s, counts) == [0, 0]
            assert _run(s, [key, value]) == [str(a).encode(), b"\x00\x01two\n"]
            assert _run(s, counts) == [1, 1]       # a whole file is one work unit, done
            assert _run(s, [key, value]) == [str(b).encode(), b""]
            with pytest.raises(tf.errors.OutOfRangeError):
                _run(s, key)
            assert _run(s, counts) == [2, 2]


def test_text_line_reader_skips_headers_and_strips_line_endings(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"header\nl1\r\n\nlast")
    b.write_bytes(b"header\nb1\n")
    with tf.Graph().as_default():
        q, fill = _files_queue([a, b])
        key, value = tf.TextLineReader(skip_header_lines=1).read(q)
        with tf.Session() as s:
            _run(s, fill)
            got = _drain(s, [key, value])
    assert got == [[f"{a}:2".encode(), b"l1"], [f"{a}:3".encode(), b""],
                   [f"{a}:4".encode(), b"last"], [f"{b}:2".encode(), b"b1"]]


def test_fixed_length_record_reader_header_footer_hop_and_zlib(tmp_path):
    path, packed = tmp_path / "r.bin", tmp_path / "r.bin.gz"
    path.write_bytes(b"HH" + b"abcdefgh" + b"F")
    packed.write_bytes(gzip.compress(b"HH" + b"abcdefgh" + b"F"))
    with tf.Graph().as_default():
        q1, f1 = _files_queue([path])
        back_to_back = tf.FixedLengthRecordReader(3, header_bytes=2, footer_bytes=1).read(q1)
        q2, f2 = _files_queue([path])
        hopping = tf.FixedLengthRecordReader(3, header_bytes=2, footer_bytes=1,
                                             hop_bytes=2).read(q2)
        q3, f3 = _files_queue([packed])
        gz = tf.FixedLengthRecordReader(4, header_bytes=2, encoding="GZIP").read(q3)
        with tf.Session() as s:
            _run(s, f1 + f2 + f3)
            k = str(path).encode()
            # 8 data bytes: "abc", "def"; the incomplete "gh" is dropped
            assert _drain(s, list(back_to_back)) == [[k + b":0", b"abc"], [k + b":1", b"def"]]
            # records start every 2 bytes while 3 record bytes and the footer fit
            assert _drain(s, list(hopping)) == [[k + b":0", b"abc"], [k + b":1", b"cde"],
                                                [k + b":2", b"efg"]]
            kz = str(packed).encode()
            assert _drain(s, list(gz)) == [[kz + b":0", b"abcd"], [kz + b":1", b"efgh"]]
    with pytest.raises(ValueError, match="record_bytes"):
        tf.FixedLengthRecordReader(0)


def test_identity_reader_and_reset():
    with tf.Graph().as_default():
        q, fill = _files_queue(["w1", "w2", "w3"])
        reader = tf.IdentityReader()
        key, value = reader.read(q)
        counts = [reader.num_records_produced(), reader.num_work_units_completed()]
        with tf.Session() as s:
            _run(s, fill)
            assert _run(s, [key, value]) == [b"w1", b"w1"]
            assert _run(s, counts) == [1, 1]
            _run(s, reader.reset())
            assert _run(s, counts) == [0, 0]
            assert _drain(s, value) == [b"w2", b"w3"]


def test_read_up_to_stops_at_the_end_of_each_file(tmp_path):
    a, b = tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"
    _write_records(a, [b"a%d" % i for i in range(5)])
    _write_records(b, [b"b0", b"b1"])
    with tf.Graph().as_default():
        q, fill = _files_queue([a, b])
        reader = tf.TFRecordReader()
        keys, values = reader.read_up_to(q, 3)
        assert keys.shape.as_list() == [None] and values.dtype == tf.string
        with tf.Session() as s:
            _run(s, fill)
            got = [v.tolist() for v in _drain(s, values)]
            assert got == [[b"a0", b"a1", b"a2"], [b"a3", b"a4"], [b"b0", b"b1"]]
            assert _run(s, reader.num_records_produced()) == 7
        qw, fillw = _files_queue([a, b])
        _, whole = tf.WholeFileReader().read_up_to(qw, 5)
        with tf.Session() as s:
            _run(s, fillw)
            assert [len(v) for v in _drain(s, whole)] == [1, 1]


def test_priority_queue_smallest_first():
    with tf.Graph().as_default():
        q = tf.PriorityQueue(10, [tf.string, tf.float32], shapes=[[], [2]])
        assert q.dtypes == [tf.int64, tf.string, tf.float32]
        fill = q.enqueue_many([[5, 1, 3, 1], [b"e", b"a", b"c", b"a2"],
                               np.arange(8, dtype=np.float32).reshape(4, 2)])
        one = q.enqueue((2, b"b", [9.0, 9.0]))
        p, v, x = q.dequeue()
        assert p.dtype == tf.int64 and p.shape.as_list() == [] and x.shape.as_list() == [2]
        ps, vs, _ = q.dequeue_many(3)
        with tf.Session() as s:
            _run(s, [fill])
            _run(s, one)
            got = _run(s, [p, v, x])
            assert got[:2] == [1, b"a"]                  # ties leave in arrival order
            np.testing.assert_array_equal(got[2], [2.0, 3.0])
            pv, vv = _run(s, [ps, vs])
            assert pv.tolist() == [1, 2, 3] and vv.tolist() == [b"a2", b"b", b"c"]
            assert _run(s, q.size()) == 1
        with pytest.raises(ValueError, match="incompatible"):
            q.enqueue(([1, 2], b"x", [0.0, 0.0]))     # the priority is a scalar


def test_batch_join_two_readers_one_thread_each(tmp_path):
    names = []
    for i in range(3):
        p = tmp_path / f"f{i}.txt"
        p.write_bytes(b"".join(b"%d\n" % (10 * i + j) for j in range(4)))
        names.append(str(p))
    with tf.Graph().as_default():
        files = tf.train.string_input_producer(names, num_epochs=1, shuffle=False)
        tensors_list = []
        for tag in range(2):
            _, line = tf.TextLineReader(name=f"reader{tag}").read(files)
            tensors_list.append({"n": tf.string_to_number(line, tf.int32),
                                 "tag": tf.constant(tag)})
        batch = tf.train.batch_join(tensors_list, batch_size=5,
                                    allow_smaller_final_batch=True)
        assert set(batch) == {"n", "tag"} and batch["n"].shape.as_list() == [None]
        qrs = tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)
        assert len(qrs[-1].enqueue_ops) == 2           # one thread per tensor list
        with tf.Session() as s:
            s.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            got = _drain(s, batch)
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
    numbers = sorted(n for b in got for n in b["n"].tolist())
    assert numbers == [10 * i + j for i in range(3) for j in range(4)]
    assert all(len(b["n"]) == 5 for b in got[:-1])


def test_shuffle_batch_join_and_maybe_batch():
    with tf.Graph().as_default():
        a = tf.train.range_input_producer(10, num_epochs=1, shuffle=False).dequeue()
        b = tf.train.range_input_producer(10, num_epochs=1, shuffle=False).dequeue() + 100
        shuffled = tf.train.shuffle_batch_join([[a], [b]], batch_size=4, capacity=20,
                                               min_after_dequeue=5, seed=2,
                                               allow_smaller_final_batch=True)
        c = tf.train.range_input_producer(10, num_epochs=1, shuffle=False).dequeue()
        evens = tf.train.maybe_batch([c], tf.equal(c % 2, 0), batch_size=2)
        with tf.Session() as s:
            s.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            got = [n for batch in _drain(s, shuffled) for n in batch.tolist()]
            kept = [batch.tolist() for batch in _drain(s, evens)]
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
    assert sorted(got) == list(range(10)) + list(range(100, 110))
    assert kept == [[0, 2], [4, 6]]            # 8 waits for a partner that never comes
    with tf.Graph().as_default():
        with pytest.raises(TypeError, match="expected types"):
            tf.train.batch_join([[tf.constant(1)], [tf.constant(1.0)]], batch_size=2)
        with pytest.raises(ValueError, match="vector"):
            tf.train.maybe_batch([tf.constant(1)], tf.constant([True]), batch_size=2)


def test_errors_missing_file_and_bad_queues(tmp_path):
    missing = tmp_path / "missing.tfrecord"
    with tf.Graph().as_default():
        q, fill = _files_queue([missing])
        key, _ = tf.TFRecordReader().read(q)
        with pytest.raises(TypeError, match="tf.string"):
            tf.TextLineReader().read(tf.FIFOQueue(3, tf.int32))
        with pytest.raises(TypeError, match="queue"):
            tf.WholeFileReader().read(tf.constant(["a"]))
        vq = tf.FIFOQueue(3, tf.string)                 # no shapes: a vector gets in
        vfill = vq.enqueue([["a", "b"]])
        vkey, _ = tf.WholeFileReader().read(vq)
        with tf.Session() as s:
            _run(s, fill)
            with pytest.raises(tf.errors.NotFoundError, match="missing.tfrecord"):
                _run(s, key)
            _run(s, vfill)
            with pytest.raises(tf.errors.InvalidArgumentError, match="one-element"):
                _run(s, vkey)


def test_reader_state_is_per_session(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"x\ny\n")
    with tf.Graph().as_default():
        q = tf.FIFOQueue(10, tf.string, shapes=[[]])
        fill = q.enqueue(str(path))
        _, line = tf.TextLineReader().read(q)
        for _ in range(2):
            with tf.Session() as s:
                _run(s, fill)
                assert [_run(s, line), _run(s, line)] == [b"x", b"y"]


def test_serialize_and_restore_state_resume_in_a_new_session(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"a1\na2\na3\n")
    b.write_bytes(b"b1\n")
    with tf.Graph().as_default():
        q, fill = _files_queue([a, b])
        refill = q.enqueue_many([[str(b)]])           # what the first session had left
        reader = tf.TextLineReader()
        assert reader.supports_serialize
        key, line = reader.read(q)
        state = reader.serialize_state()
        saved = tf.placeholder(tf.string, [])
        restore = reader.restore_state(saved)
        counts = [reader.num_records_produced(), reader.num_work_units_completed()]
        with tf.Session() as s:
            _run(s, fill)
            assert [_run(s, line), _run(s, line)] == [b"a1", b"a2"]
            blob = _run(s, state)
            # TF's ReaderBaseState fields (work_started 1, num_records_produced 2,
            # current_work) and field 15: two records of the current work were read
            path = str(a).encode()
            n = len(path)
            size = bytes([n]) if n < 128 else bytes([n & 0x7F | 0x80, n >> 7])
            assert blob == b"\x08\x01\x18\x02\x78\x02\x22" + size + path
        with tf.Session() as s:
            _run(s, refill)
            _run(s, q.close())
            _run(s, restore, feed_dict={saved: blob})
            assert _run(s, counts) == [2, 0]
            assert _run(s, [key, line]) == [f"{a}:3".encode(), b"a3"]
            assert _drain(s, line) == [b"b1"]
            assert _run(s, counts) == [4, 2]
            with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse"):
                _run(s, restore, feed_dict={saved: b"\xff"})
            idle = _run(s, state)
            _run(s, reader.reset())
            _run(s, restore, feed_dict={saved: idle})
            assert _run(s, counts) == [4, 2]


def test_one_reader_shared_by_runner_threads_and_missing_file_in_a_pipeline(tmp_path):
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"r{i}.tfrecord"))
        _write_records(paths[-1], [b"%d" % (10 * i + j) for j in range(7)])
    with tf.Graph().as_default():
        files = tf.train.string_input_producer(paths, num_epochs=1)
        _, record = tf.TFRecordReader().read(files)
        batch = tf.train.batch([tf.string_to_number(record, tf.int32)], batch_size=4,
                               num_threads=3, allow_smaller_final_batch=True)
        with tf.Session() as s:
            s.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            got = [n for b in _drain(s, batch) for n in b.tolist()]
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=5)
    assert sorted(got) == [10 * i + j for i in range(3) for j in range(7)]
    with tf.Graph().as_default():
        files = tf.train.string_input_producer([str(tmp_path / "absent.tfrecord")])
        _, record = tf.TFRecordReader().read(files)
        batch = tf.train.batch([record], batch_size=2)
        with tf.Session() as s:
            coord = tf.train.Coordinator()
            threads = tf.train.start_queue_runners(s, coord)
            with pytest.raises(tf.errors.OutOfRangeError):     # the runner's error closed it
                _run(s, batch)
            with pytest.raises(tf.errors.NotFoundError, match="absent.tfrecord"):
                coord.join(threads, stop_grace_period_secs=5)
