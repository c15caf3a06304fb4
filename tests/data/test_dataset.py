"""tf.data semantics: ordering, seeds, end of data, iterator kinds, structures, errors."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.data import Dataset, Iterator


def drain(sess, nxt, limit=10_000):
    out = []
    for _ in range(limit):
        try:
            out.append(sess.run(nxt))
        except tf.errors.OutOfRangeError:
            return out
    raise AssertionError("dataset did not end")


def values(ds):
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        return drain(sess, nxt)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def test_from_tensor_slices_order_and_end():
    ds = Dataset.from_tensor_slices(np.arange(5))
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        assert [int(sess.run(nxt)) for _ in range(5)] == [0, 1, 2, 3, 4]
        with pytest.raises(tf.errors.OutOfRangeError, match="End of sequence"):
            sess.run(nxt)
        with pytest.raises(tf.errors.OutOfRangeError):   # stays at the end
            sess.run(nxt)


def test_types_shapes_and_structures():
    ds = Dataset.from_tensor_slices({"x": np.zeros((4, 3), np.float32), "y": [1, 2, 3, 4]})
    assert ds.output_types == {"x": tf.float32, "y": tf.int32}
    assert ds.output_shapes["x"].as_list() == [3]
    b = ds.batch(3)
    assert b.output_shapes["x"].as_list() == [None, 3]
    assert ds.batch(3, drop_remainder=True).output_shapes["x"].as_list() == [3, 3]
    el = b.make_one_shot_iterator().get_next()
    assert set(el) == {"x", "y"} and el["x"].shape.as_list() == [None, 3]
    with tf.Session() as sess:
        first = sess.run(el)
        assert first["x"].shape == (3, 3) and first["y"].tolist() == [1, 2, 3]
        assert sess.run(el)["y"].tolist() == [4]


def test_batch_drop_remainder_repeat_take_skip_shard():
    r = Dataset.range(10)
    assert [v.tolist() for v in values(r.batch(4))] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [v.tolist() for v in values(r.batch(4, drop_remainder=True))] == \
        [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [int(v) for v in values(Dataset.range(3).repeat(2))] == [0, 1, 2, 0, 1, 2]
    assert [int(v) for v in values(r.skip(7))] == [7, 8, 9]
    assert [int(v) for v in values(r.take(3))] == [0, 1, 2]
    assert [int(v) for v in values(r.take(-1))] == list(range(10))
    assert [int(v) for v in values(r.shard(3, 1))] == [1, 4, 7]
    assert [int(v) for v in values(Dataset.range(2).repeat().take(5))] == [0, 1, 0, 1, 0]
    assert values(r.skip(-1)) == []
    with pytest.raises(ValueError, match="index"):
        r.shard(3, 3)


def test_map_traces_tf_ops_and_parallel_calls_keep_order():
    ds = Dataset.from_tensor_slices((np.arange(20, dtype=np.float32), np.arange(20)))
    m = ds.map(lambda x, y: (tf.square(x), y * 2), num_parallel_calls=4)
    assert m.output_types == (tf.float32, tf.int64)
    got = values(m)
    assert [float(a) for a, _ in got] == [float(i * i) for i in range(20)]
    assert [int(b) for _, b in got] == [2 * i for i in range(20)]
    single = values(Dataset.range(4).map(lambda x: tf.cast(x, tf.float32) + 0.5))
    assert [float(v) for v in single] == [0.5, 1.5, 2.5, 3.5]


def test_map_captures_tensors_of_the_enclosing_graph():
    outer = tf.constant(2.0)
    ds = Dataset.from_tensor_slices(np.ones(3, np.float32)).map(lambda x: x * outer)
    assert [float(v) for v in values(ds)] == [2.0, 2.0, 2.0]


def test_filter_and_prefetch():
    ds = Dataset.range(10).filter(lambda x: tf.equal(x % 2, 0)).prefetch(2)
    assert [int(v) for v in values(ds)] == [0, 2, 4, 6, 8]


def test_shuffle_is_a_permutation_and_seeded_runs_repeat():
    ds = Dataset.range(50).shuffle(10, seed=7).repeat(2)
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as sess:
        run1 = [int(v) for v in drain(sess, nxt)]
    with tf.Session() as sess:      # a seeded pipeline repeats per session
        run2 = [int(v) for v in drain(sess, nxt)]
    assert run1 == run2
    e1, e2 = run1[:50], run1[50:]
    assert sorted(e1) == list(range(50)) and sorted(e2) == list(range(50))
    assert e1 != list(range(50))
    assert e1 != e2                 # reshuffle_each_iteration defaults to True
    # a buffer of 10 moves no element more than 9 places earlier
    assert all(e1.index(i) >= i - 9 for i in range(50))


def test_shuffle_without_reshuffle_repeats_the_order():
    ds = Dataset.range(20).shuffle(20, seed=3, reshuffle_each_iteration=False).repeat(2)
    out = [int(v) for v in values(ds)]
    assert out[:20] == out[20:] and sorted(out[:20]) == list(range(20))


def test_shuffle_seeds_differ():
    a = [int(v) for v in values(Dataset.range(30).shuffle(30, seed=1))]
    tf.reset_default_graph()
    b = [int(v) for v in values(Dataset.range(30).shuffle(30, seed=2))]
    assert a != b


def test_initializable_iterator_feeds_and_restarts():
    x = tf.placeholder(tf.float32, [None])
    it = Dataset.from_tensor_slices(x).batch(2).make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not been initialized"):
            sess.run(nxt)
        sess.run(it.initializer, {x: [1, 2, 3]})
        assert [v.tolist() for v in drain(sess, nxt)] == [[1, 2], [3]]
        sess.run(it.initializer, {x: [9]})
        assert [v.tolist() for v in drain(sess, nxt)] == [[9]]


def test_from_structure_switches_between_train_and_test_sets():
    train = Dataset.from_tensor_slices((np.arange(6, dtype=np.float32),
                                        np.zeros(6, np.int64))).batch(4)
    test = Dataset.from_tensor_slices((np.arange(100, 103, dtype=np.float32),
                                       np.ones(3, np.int64))).batch(4)
    it = Iterator.from_structure(train.output_types, train.output_shapes)
    x, y = it.get_next()
    train_init, test_init = it.make_initializer(train), it.make_initializer(test)
    with tf.Session() as sess:
        sess.run(train_init)
        assert sess.run(x).tolist() == [0, 1, 2, 3]
        sess.run(test_init)
        assert [v.tolist() for v in drain(sess, x)] == [[100, 101, 102]]
        sess.run(train_init)
        assert sess.run([x, y])[1].tolist() == [0, 0, 0, 0]
    with pytest.raises(TypeError, match="types"):
        it.make_initializer(Dataset.range(3).batch(2).map(lambda v: (v, v)))


def test_iterator_state_is_per_session():
    nxt = Dataset.range(3).make_one_shot_iterator().get_next()
    with tf.Session() as a, tf.Session() as b:
        assert int(a.run(nxt)) == 0 and int(a.run(nxt)) == 1
        assert int(b.run(nxt)) == 0


def test_one_shot_refuses_placeholders():
    x = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match="make_initializable_iterator"):
        Dataset.from_tensor_slices(x).make_one_shot_iterator()


def test_from_generator_checks_shapes_and_restarts_per_iteration():
    def gen():
        yield from ([1.0, 2.0], [3.0, 4.0])

    ds = Dataset.from_generator(gen, tf.float32, tf.TensorShape([2])).repeat(2)
    assert [v.tolist() for v in values(ds)] == [[1, 2], [3, 4], [1, 2], [3, 4]]
    bad = Dataset.from_generator(lambda: iter([[1.0, 2.0, 3.0]]), tf.float32, [2])
    nxt = bad.make_one_shot_iterator().get_next()
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="shape"):
        sess.run(nxt)


def test_from_tensor_slices_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same size"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))


def test_get_next_feeds_a_model_and_namespaces():
    assert tf.data.Dataset is Dataset
    assert tf.compat.v1.data.Iterator is Iterator
    ds = tf.data.Dataset.from_tensors(np.ones((2, 3), np.float32)).repeat(3)
    x = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
    total = tf.reduce_sum(x)
    with tf.Session() as sess:
        assert [float(sess.run(total)) for _ in range(3)] == [6.0, 6.0, 6.0]
        with pytest.raises(tf.errors.OutOfRangeError):
            sess.run(total)


def test_concatenate_zip_cache():
    a, b = Dataset.range(2), Dataset.range(5, 7)
    assert [int(v) for v in values(a.concatenate(b))] == [0, 1, 5, 6]
    z = Dataset.zip((a, b))
    assert [(int(p), int(q)) for p, q in values(z)] == [(0, 5), (1, 6)]
    assert [int(v) for v in values(a.cache().repeat(2))] == [0, 1, 0, 1]
