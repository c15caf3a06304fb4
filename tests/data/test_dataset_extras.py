"""tf.data extras: padded_batch, flat_map/interleave, unbatch, reduce, from_generator with
args, TextLineDataset, list_files and tf.data.experimental."""

import gzip

import numpy as np
import pytest

import flowgrad as tf

Dataset = tf.data.Dataset


def _run(ds, limit=1000):
    nxt = ds.make_one_shot_iterator().get_next()
    out = []
    with tf.Session() as s:
        try:
            for _ in range(limit):
                out.append(s.run(nxt))
        except tf.errors.OutOfRangeError:
            pass
    return out


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


# --- padded_batch ------------------------------------------------------------------------------
def test_padded_batch_pads_to_the_longest_in_each_batch():
    ds = Dataset.range(1, 6).map(lambda n: tf.fill([n], n))
    pb = ds.padded_batch(2, padded_shapes=[None])
    assert pb.output_shapes.as_list() == [None, None]
    out = _run(pb)
    assert [o.tolist() for o in out] == [[[1, 0], [2, 2]],
                                         [[3, 3, 3, 0], [4, 4, 4, 4]],
                                         [[5, 5, 5, 5, 5]]]


def test_padded_batch_fixed_shapes_values_structures_and_drop_remainder():
    ds = Dataset.range(1, 4).map(lambda n: (tf.fill([n], tf.cast(n, tf.float32)),
                                            tf.fill(tf.stack([tf.constant(2, tf.int64), n]),
                                                    n)))
    pb = ds.padded_batch(2, padded_shapes=([4], [None, 3]),
                         padding_values=(-1.0, tf.constant(9, tf.int64)),
                         drop_remainder=True)
    assert pb.output_shapes[0].as_list() == [2, 4]
    assert pb.output_shapes[1].as_list() == [2, None, 3]
    (a, b), = _run(pb)
    assert a.tolist() == [[1, -1, -1, -1], [2, 2, -1, -1]]
    assert b.tolist() == [[[1, 9, 9], [1, 9, 9]], [[2, 2, 9], [2, 2, 9]]]
    strings = Dataset.from_tensor_slices([["a", "b"], ["c", "d"]])
    out = _run(strings.padded_batch(2, padded_shapes=[3]))
    assert out[0].tolist() == [[b"a", b"b", b""], [b"c", b"d", b""]]
    lines = Dataset.from_tensors(np.array([b"x"], dtype=object))
    assert _run(lines.padded_batch(1, [2]))[0].tolist() == [[b"x", b""]]


def test_padded_batch_errors():
    ds = Dataset.range(1, 4).map(lambda n: tf.fill([n], n))
    with pytest.raises(ValueError, match="rank"):
        ds.padded_batch(2, padded_shapes=[None, None])
    with pytest.raises(ValueError, match="padded_shapes is required"):
        ds.padded_batch(2, padded_shapes=None)
    with pytest.raises(ValueError, match="smaller than"):
        Dataset.from_tensors(np.zeros(5)).padded_batch(1, padded_shapes=[3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="smaller size"):
        _run(ds.padded_batch(3, padded_shapes=[2]))
    with pytest.raises(ValueError, match="must be positive"):
        ds.padded_batch(0, padded_shapes=[None])


# --- flat_map / interleave ---------------------------------------------------------------------
def test_interleave_cycle_and_block_order():
    # TF's documented example: cycle_length=2 datasets are open at a time, block_length=4
    # elements are taken from each in turn, and an exhausted one is replaced by the next
    ds = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6),
                                        cycle_length=2, block_length=4)
    assert [int(v) for v in _run(ds)] == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3,
                                          4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5]
    ds = Dataset.range(3).interleave(lambda x: Dataset.from_tensor_slices(tf.fill([2], x) * 10
                                                                          + [0, 1]),
                                     cycle_length=3, block_length=1)
    assert [int(v) for v in _run(ds)] == [0, 10, 20, 1, 11, 21]


def test_flat_map_and_unbatch():
    ds = Dataset.range(3).flat_map(lambda x: Dataset.from_tensor_slices(tf.fill([x + 1], x)))
    assert [int(v) for v in _run(ds)] == [0, 1, 1, 2, 2, 2]
    batched = Dataset.from_tensor_slices((np.arange(6).reshape(3, 2),
                                          np.arange(6, 12).reshape(3, 2)))
    un = batched.apply(tf.data.experimental.unbatch())
    assert un.output_shapes == (tf.TensorShape([]), tf.TensorShape([]))
    assert [(int(a), int(b)) for a, b in _run(un)] == [(i, i + 6) for i in range(6)]
    assert [int(v) for v in _run(Dataset.range(7).batch(3).unbatch())] == list(range(7))


def test_dataset_functions_must_return_datasets():
    with pytest.raises(TypeError, match="must return a Dataset"):
        Dataset.range(3).flat_map(lambda x: x + 1)
    with pytest.raises(ValueError, match="cycle_length must be positive"):
        Dataset.range(3).interleave(lambda x: Dataset.from_tensors(x), cycle_length=0)
    with pytest.raises(TypeError, match="must return a Dataset"):
        Dataset.range(3).apply(lambda ds: 3)


# --- from_generator ------------------------------------------------------------------------------
def test_from_generator_args_and_padded_batch():
    seen = []

    def gen(n, tag):
        seen.append((type(n), tag))
        for i in range(1, int(n) + 1):
            yield np.arange(i, dtype=np.int32), i * 0.5

    n = tf.placeholder(tf.int64, (), name="n")
    ds = Dataset.from_generator(gen, (tf.int32, tf.float32), ([None], []), args=(n, "lbl"))
    pb = ds.padded_batch(2, padded_shapes=([None], []))
    it = pb.make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        s.run(it.initializer, {n: 3})
        a, b = s.run(nxt)
        assert a.tolist() == [[0, 0], [0, 1]] and b.tolist() == [0.5, 1.0]
        a, b = s.run(nxt)
        assert a.tolist() == [[0, 1, 2]] and b.tolist() == [1.5]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(nxt)
    assert seen == [(np.int64, b"lbl")]


# --- reduce -----------------------------------------------------------------------------------
def test_reduce_folds_the_dataset():
    total = Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x)
    count, acc = Dataset.from_tensor_slices(np.arange(6.0).reshape(3, 2)).reduce(
        (np.int64(0), np.zeros(2)), lambda st, x: (st[0] + 1, st[1] + x))
    with tf.Session() as s:
        assert s.run(total) == 10
        c, a = s.run([count, acc])
        assert c == 3 and a.tolist() == [6.0, 9.0]
    with pytest.raises(TypeError, match="dtype"):
        Dataset.range(3).reduce(np.int32(0), lambda s, x: x)


# --- text files -------------------------------------------------------------------------------
def test_text_line_dataset_over_two_files(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"first\r\nsecond\n")
    b.write_bytes(b"third\nfourth")
    ds = tf.data.TextLineDataset([str(a), str(b)])
    assert ds.output_types == tf.string and ds.output_shapes == tf.TensorShape([])
    assert _run(ds) == [b"first", b"second", b"third", b"fourth"]
    z = tmp_path / "c.txt.gz"
    z.write_bytes(gzip.compress(b"x\ny\n"))
    assert _run(tf.data.TextLineDataset(str(z), compression_type="GZIP")) == [b"x", b"y"]
    names = tf.placeholder(tf.string, (None,))
    it = tf.data.TextLineDataset(names).make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        s.run(it.initializer, {names: [str(b)]})
        assert [s.run(nxt), s.run(nxt)] == [b"third", b"fourth"]
        s.run(it.initializer, {names: [str(tmp_path / "missing.txt")]})
        with pytest.raises(tf.errors.NotFoundError):
            s.run(nxt)
    with pytest.raises(ValueError, match="compression_type"):
        tf.data.TextLineDataset(str(a), compression_type="BZIP2")


def test_list_files(tmp_path):
    for name in ("b.csv", "a.csv", "c.csv", "skip.txt"):
        (tmp_path / name).write_text("1\n")
    pattern = str(tmp_path / "*.csv")
    ordered = _run(Dataset.list_files(pattern, shuffle=False))
    assert ordered == [str(tmp_path / n).encode() for n in ("a.csv", "b.csv", "c.csv")]
    shuffled = _run(Dataset.list_files(pattern, seed=4))
    assert sorted(shuffled) == ordered
    lines = Dataset.list_files(pattern, shuffle=False).interleave(
        tf.data.TextLineDataset, cycle_length=2)
    assert _run(lines) == [b"1", b"1", b"1"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one file"):
        _run(Dataset.list_files(str(tmp_path / "*.nope")))


# --- tf.data.experimental ---------------------------------------------------------------------
def test_experimental_map_and_batch_and_shuffle_and_repeat():
    ds = Dataset.range(5).apply(tf.data.experimental.map_and_batch(lambda x: x * 2, 2,
                                                                   drop_remainder=True))
    assert [o.tolist() for o in _run(ds)] == [[0, 2], [4, 6]]
    rep = Dataset.range(4).apply(tf.data.experimental.shuffle_and_repeat(4, count=3, seed=1))
    out = [int(v) for v in _run(rep)]
    assert len(out) == 12 and all(sorted(out[i:i + 4]) == [0, 1, 2, 3] for i in (0, 4, 8))
    assert tf.data.experimental.AUTOTUNE == -1


# --- functions that use tensors of the enclosing graph ------------------------------------------
def test_functions_capture_tensors_of_the_enclosing_graph():
    threshold = tf.placeholder(tf.int64, (), name="threshold")
    scale = tf.constant(10, tf.int64)
    ds = Dataset.range(8).filter(lambda x: x >= threshold).map(lambda x: x * scale)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        for t, expected in ((5, [50, 60, 70]), (6, [60, 70])):
            s.run(it.initializer, {threshold: t})   # the value is taken at initialization
            got = []
            with pytest.raises(tf.errors.OutOfRangeError):
                while True:
                    got.append(int(s.run(nxt)))
            assert got == expected
    with pytest.raises(ValueError, match="placeholder 'threshold'"):
        ds.make_one_shot_iterator()
    offset = tf.constant(100, tf.int64)
    flat = Dataset.range(2).flat_map(lambda x: Dataset.from_tensors(x + offset).repeat(2))
    assert [int(v) for v in _run(flat)] == [100, 100, 101, 101]
    nested = Dataset.range(3).flat_map(
        lambda x: Dataset.range(2).map(lambda y: y + x * 10 + offset))
    assert [int(v) for v in _run(nested)] == [100, 101, 110, 111, 120, 121]
    total = Dataset.range(4).reduce(np.int64(0), lambda st, x: st + x * scale)
    with tf.Session() as s:
        assert s.run(total) == 60


# --- window ------------------------------------------------------------------------------------
def test_window_shift_stride_and_remainder():
    def windows(ds):
        return [o.tolist() for o in _run(ds.flat_map(lambda w: w.batch(10)))]
    assert windows(Dataset.range(7).window(3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert windows(Dataset.range(7).window(3, shift=1)) == \
        [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6], [5, 6], [6]]
    assert windows(Dataset.range(7).window(3, shift=1, stride=2, drop_remainder=True)) == \
        [[0, 2, 4], [1, 3, 5], [2, 4, 6]]
    assert windows(Dataset.range(7).window(2, shift=3)) == [[0, 1], [3, 4], [6]]
    pairs = Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 10)).window(
        2, drop_remainder=True)
    out = _run(pairs.flat_map(lambda a, b: Dataset.zip((a.batch(2), b.batch(2)))))
    assert [(a.tolist(), b.tolist()) for a, b in out] == [([0, 1], [0, 10]), ([2, 3], [20, 30])]
    zipped = Dataset.zip((Dataset.range(4).window(2), Dataset.range(10, 14).window(2)))
    out = _run(zipped.flat_map(lambda a, b: Dataset.zip((a, b)).batch(2)))
    assert [(a.tolist(), b.tolist()) for a, b in out] == [([0, 1], [10, 11]), ([2, 3], [12, 13])]
    with pytest.raises(TypeError, match="cannot zip"):
        Dataset.zip((Dataset.range(4).window(2), Dataset.range(4)))
    with pytest.raises(TypeError, match="elements of this dataset are datasets"):
        pairs.map(lambda a, b: a)
    with pytest.raises(TypeError, match="are datasets"):
        pairs.take(1).make_one_shot_iterator()
    with pytest.raises(ValueError, match="shift must be positive"):
        Dataset.range(3).window(2, shift=0)


def test_counts_may_be_tensors():
    ds = Dataset.range(4).flat_map(lambda x: Dataset.from_tensors(x).repeat(x))
    assert [int(v) for v in _run(ds)] == [1, 2, 2, 3, 3, 3]
    nested = Dataset.range(1, 4).flat_map(lambda n: Dataset.range(n).skip(n - 2).take(1))
    assert [int(v) for v in _run(nested)] == [0, 1]      # skip(-1) drops everything
    n = tf.placeholder(tf.int64, ())
    it = Dataset.range(10).take(n).make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        s.run(it.initializer, {n: 2})
        assert [s.run(nxt), s.run(nxt)] == [0, 1]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(nxt)
    with pytest.raises(TypeError, match="integer scalar"):
        Dataset.range(3).repeat(tf.constant([1.0]))


def test_reduce_relaxes_a_growing_state_shape():
    grown = Dataset.range(3).reduce(tf.zeros([0], tf.int64),
                                    lambda st, x: tf.concat([st, tf.reshape(x, [1])], 0))
    assert grown.shape.as_list() == [None]
    with tf.Session() as s:
        assert s.run(grown).tolist() == [0, 1, 2]
