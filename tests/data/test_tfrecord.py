"""TFRecord files, tf.train.Example and the parsing ops (TF1 names and semantics).

Byte-level expectations were taken from TensorFlow's own writer and messages; when
``tensorflow`` is importable the last tests also cross-check files, bytes and parse results
against it."""

import doctest
import gzip
import subprocess
import sys
import zlib

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.io import crc32c as crc
from flowgrad.io import tfrecord as tfr

pytest.importorskip("google.protobuf")


@pytest.fixture(autouse=True)
def _fresh_graph():
    with tf.Graph().as_default():
        yield


def _example(i: int) -> "tf.train.Example":
    return tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[i, 2.0 * i])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 2])),
        "tags": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"t%d" % k
                                                                       for k in range(i)])),
    }))


def _write(path, records, options=None):
    with tf.python_io.TFRecordWriter(str(path), options) as w:
        for r in records:
            w.write(r)


def _run(fetch, feed=None):
    with tf.Session() as s:
        return s.run(fetch, feed)


# --- CRC-32C and framing ----------------------------------------------------------------------
@pytest.mark.parametrize("fn", [crc.crc32c_python, crc.crc32c])
def test_crc32c_known_values(fn):
    assert fn(b"") == 0
    assert fn(b"123456789") == 0xE3069283            # the standard check value
    assert fn(bytes(32)) == 0x8A9136AA                # RFC 3720 B.4
    assert fn(bytes(range(32))) == 0x46DD794E


def test_record_framing_matches_tensorflow():
    # TensorFlow's TFRecordWriter writes exactly these bytes for the record b"abc"
    assert tfr.encode_record(b"abc") == b"\x03\x00\x00\x00\x00\x00\x00\x00\xb0\x99I\x0eabcnW\xf1!"


def test_python_crc_fallback_writes_and_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(crc, "crc32c", crc.crc32c_python)
    _write(tmp_path / "a", [b"abc", b"x" * 300])
    assert (tmp_path / "a").read_bytes()[:19] == tfr.encode_record(b"abc")
    assert list(tf.python_io.tf_record_iterator(str(tmp_path / "a"))) == [b"abc", b"x" * 300]


# --- writer / iterator --------------------------------------------------------------------------
@pytest.mark.parametrize("options", [None, "", "GZIP", "ZLIB",
                                     tf.python_io.TFRecordCompressionType.GZIP,
                                     tf.python_io.TFRecordOptions(
                                         tf.python_io.TFRecordCompressionType.ZLIB,
                                         compression_level=9)])
def test_round_trip(tmp_path, options):
    records = [b"", b"one", bytes(range(256)) * 40, "text"]
    _write(tmp_path / "f", records, options)
    got = list(tf.python_io.tf_record_iterator(str(tmp_path / "f"), options))
    assert got == [b"", b"one", bytes(range(256)) * 40, b"text"]
    raw = (tmp_path / "f").read_bytes()
    name = tf.python_io.TFRecordOptions.get_compression_type_string(options)
    plain = {"": raw, "GZIP": gzip.decompress(raw) if name == "GZIP" else None,
             "ZLIB": zlib.decompress(raw) if name == "ZLIB" else None}[name]
    assert plain == b"".join(tfr.encode_record(r) for r in got)


def test_flush_makes_records_readable_before_close(tmp_path):
    for options in (None, "GZIP"):
        w = tf.io.TFRecordWriter(str(tmp_path / "f"), options)
        w.write(b"a")
        w.write(b"b")
        w.flush()
        data = (tmp_path / "f").read_bytes()
        plain = zlib.decompressobj(31).decompress(data) if options else data
        assert plain == tfr.encode_record(b"a") + tfr.encode_record(b"b")
        w.close()
        w.close()                                            # closing twice is harmless
        with pytest.raises(tf.errors.FailedPreconditionError):
            w.write(b"c")


def test_options_names():
    get = tf.python_io.TFRecordOptions.get_compression_type_string
    assert [get(None), get("gzip"), get(1), get(tf.python_io.TFRecordOptions("GZIP"))] == \
        ["", "GZIP", "ZLIB", "GZIP"]
    with pytest.raises(ValueError, match="compression type"):
        tf.python_io.TFRecordOptions("LZ4")


def test_corrupt_and_truncated_records_raise_data_loss(tmp_path):
    _write(tmp_path / "f", [b"first", b"second record"])
    good = (tmp_path / "f").read_bytes()
    bad = bytearray(good)
    bad[len(tfr.encode_record(b"first")) + 14] ^= 1          # a data byte of record 2
    (tmp_path / "bad").write_bytes(bytes(bad))
    it = tf.python_io.tf_record_iterator(str(tmp_path / "bad"))
    assert next(it) == b"first"
    with pytest.raises(tf.errors.DataLossError, match="data checksum"):
        next(it)
    bad = bytearray(good)
    bad[2] ^= 0x10                                           # the first length
    (tmp_path / "len").write_bytes(bytes(bad))
    with pytest.raises(tf.errors.DataLossError, match="length checksum"):
        list(tf.python_io.tf_record_iterator(str(tmp_path / "len")))
    (tmp_path / "cut").write_bytes(good[:-3])
    with pytest.raises(tf.errors.DataLossError, match="truncated"):
        list(tf.python_io.tf_record_iterator(str(tmp_path / "cut")))
    (tmp_path / "gz").write_bytes(b"not gzip")
    with pytest.raises(tf.errors.DataLossError):
        list(tf.python_io.tf_record_iterator(str(tmp_path / "gz"), "GZIP"))
    with pytest.raises(tf.errors.NotFoundError):
        list(tf.python_io.tf_record_iterator(str(tmp_path / "missing")))


# --- TFRecordDataset --------------------------------------------------------------------------
def _drain(ds):
    nxt = ds.make_one_shot_iterator().get_next()
    out = []
    with tf.Session() as s:
        while True:
            try:
                out.append(s.run(nxt))
            except tf.errors.OutOfRangeError:
                return out


def test_dataset_reads_files_in_order_and_interleaved(tmp_path):
    files = []
    for f, n in (("a", 3), ("b", 1), ("c", 2)):
        _write(tmp_path / f, [b"%s%d" % (f.encode(), i) for i in range(n)], "ZLIB")
        files.append(str(tmp_path / f))
    ds = tf.data.TFRecordDataset(files, compression_type="ZLIB")
    assert ds.output_types == tf.string and ds.output_shapes.as_list() == []
    assert _drain(ds) == [b"a0", b"a1", b"a2", b"b0", b"c0", b"c1"]
    # TF's deterministic interleave: cycle over 2 open files, refill a slot on its next turn
    par = tf.data.TFRecordDataset(files, "ZLIB", num_parallel_reads=2)
    assert _drain(par) == [b"a0", b"b0", b"a1", b"a2", b"c0", b"c1"]


def test_dataset_filenames_from_placeholder_and_corruption(tmp_path):
    _write(tmp_path / "a", [b"r1", b"r2"])
    data = bytearray((tmp_path / "a").read_bytes())
    data[-6] ^= 0xFF
    (tmp_path / "bad").write_bytes(bytes(data))
    names = tf.placeholder(tf.string, [None])
    it = tf.data.TFRecordDataset(names).make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        s.run(it.initializer, {names: [str(tmp_path / "bad")]})
        assert s.run(nxt) == b"r1"
        with pytest.raises(tf.errors.DataLossError):
            s.run(nxt)
    with pytest.raises(ValueError, match="compression"):
        tf.data.TFRecordDataset("x", compression_type="BZIP2")


# --- tf.train.Example -------------------------------------------------------------------------
def test_example_wire_format_and_access():
    ex = tf.train.Example(features=tf.train.Features(feature={
        "a": tf.train.Feature(int64_list=tf.train.Int64List(value=[1, 300]))}))
    # bytes as TensorFlow serializes this message (packed varints under field numbers 1/1/3)
    assert ex.SerializeToString() == b"\n\x0e\n\x0c\n\x01a\x12\x07\x1a\x05\n\x03\x01\xac\x02"
    back = tf.train.Example.FromString(ex.SerializeToString())
    assert list(back.features.feature["a"].int64_list.value) == [1, 300]
    assert back.features.feature["a"].WhichOneof("kind") == "int64_list"
    other = tf.compat.v1.train.Example()
    other.ParseFromString(_example(3).SerializeToString())
    assert list(other.features.feature["x"].float_list.value) == [3.0, 6.0]
    assert other.DESCRIPTOR.full_name == "tensorflow.Example"
    seq = tf.train.SequenceExample()
    seq.context.feature["id"].bytes_list.value.append(b"s1")
    seq.feature_lists.feature_list["w"].feature.add().int64_list.value.extend([4, 5])
    again = tf.train.SequenceExample.FromString(seq.SerializeToString())
    assert list(again.feature_lists.feature_list["w"].feature[0].int64_list.value) == [4, 5]
    assert isinstance(tf.train.FeatureLists(), tf.train.FeatureLists)


def test_import_flowgrad_does_not_import_protobuf():
    code = ("import sys, flowgrad as tf; assert 'google.protobuf' not in sys.modules; "
            "tf.data.TFRecordDataset; tf.io.FixedLenFeature; "
            "assert 'google.protobuf' not in sys.modules; tf.train.Example; "
            "assert 'google.protobuf' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- parsing ----------------------------------------------------------------------------------
FEATURES = {"x": tf.FixedLenFeature([2], tf.float32),
            "label": tf.FixedLenFeature([], tf.int64),
            "tags": tf.VarLenFeature(tf.string),
            "w": tf.FixedLenFeature([1], tf.float32, default_value=[0.5])}


def test_parse_example_dense_sparse_and_defaults():
    s = tf.constant([_example(i).SerializeToString() for i in range(3)])
    out = tf.parse_example(s, FEATURES)
    assert out["x"].shape.as_list() == [3, 2] and out["label"].dtype == tf.int64
    assert isinstance(out["tags"], tf.SparseTensor)
    v = _run(out)
    np.testing.assert_array_equal(v["x"], [[0, 0], [1, 2], [2, 4]])
    assert v["x"].dtype == np.float32
    np.testing.assert_array_equal(v["label"], [0, 1, 0])
    np.testing.assert_array_equal(v["w"], [[0.5]] * 3)
    np.testing.assert_array_equal(v["tags"].indices, [[1, 0], [2, 0], [2, 1]])
    assert list(v["tags"].values) == [b"t0", b"t0", b"t1"]
    np.testing.assert_array_equal(v["tags"].dense_shape, [3, 2])


def test_parse_single_example_and_placeholder_feed():
    s = tf.placeholder(tf.string, [])
    out = tf.io.parse_single_example(s, FEATURES)
    assert out["x"].shape.as_list() == [2] and out["label"].shape.as_list() == []
    v = _run(out, {s: _example(2).SerializeToString()})
    np.testing.assert_array_equal(v["x"], [2, 4])
    assert v["label"] == 0
    np.testing.assert_array_equal(v["tags"].indices, [[0], [1]])
    np.testing.assert_array_equal(v["tags"].dense_shape, [2])


def test_fixed_len_sequence_and_sparse_feature():
    def ex(vals, idx):
        return tf.train.Example(features=tf.train.Features(feature={
            "v": tf.train.Feature(float_list=tf.train.FloatList(value=vals)),
            "i": tf.train.Feature(int64_list=tf.train.Int64List(value=idx))})).SerializeToString()
    s = tf.constant([ex([1, 2, 3, 4], [5, 0]), ex([], []), ex([7, 8], [3])])
    out = tf.parse_example(s, {
        "seq": tf.io.FixedLenSequenceFeature([2], tf.float32, allow_missing=True,
                                             default_value=-1.0)})
    # "seq" reads no feature called "seq": every example has an empty sequence
    assert _run(out["seq"]).shape == (3, 0, 2)
    out2 = tf.parse_example(s[2:], {"v": tf.io.FixedLenSequenceFeature(
        [2], tf.float32, allow_missing=True, default_value=-1.0)})
    np.testing.assert_array_equal(_run(out2["v"]), [[[7, 8]]])
    pad = tf.parse_example(s, {"v": tf.io.FixedLenSequenceFeature(
        [2], tf.float32, allow_missing=True, default_value=-1.0)})
    np.testing.assert_array_equal(_run(pad["v"]), [[[1, 2], [3, 4]], [[-1, -1], [-1, -1]],
                                                   [[7, 8], [-1, -1]]])
    sp = tf.parse_example(tf.constant([ex([], []), ex([9.0], [3])]),
                          {"v": tf.io.SparseFeature("i", "v", tf.float32, 6)})
    v = _run(sp["v"])
    np.testing.assert_array_equal(v.indices, [[1, 3]])
    np.testing.assert_array_equal(v.dense_shape, [2, 6])
    bad = tf.parse_example(s[:1], {"v": tf.io.SparseFeature("i", "v", tf.float32, 6)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="2 indices in 'i' but 4 values"):
        _run(bad["v"])
    good = tf.parse_example(s[:2], {"v": tf.io.FixedLenSequenceFeature(
        [], tf.float32, allow_missing=True)})
    np.testing.assert_array_equal(_run(good["v"]), [[1, 2, 3, 4], [0, 0, 0, 0]])


def test_sparse_feature_sorts_indices():
    ex = tf.train.Example(features=tf.train.Features(feature={
        "v": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0])),
        "i": tf.train.Feature(int64_list=tf.train.Int64List(value=[5, 0]))}))
    out = tf.parse_single_example(ex.SerializeToString(),
                                  {"sp": tf.SparseFeature("i", "v", tf.float32, 6)})
    v = _run(out["sp"])
    np.testing.assert_array_equal(v.indices, [[0], [5]])
    np.testing.assert_array_equal(v.values, [2.0, 1.0])
    np.testing.assert_array_equal(v.dense_shape, [6])


def test_long_float_lists_and_extreme_values():
    x = np.random.default_rng(1).normal(size=1000).astype(np.float32)
    x[:3] = [np.inf, -0.0, np.finfo(np.float32).max]
    ids = [-(2 ** 63), -1, 2 ** 63 - 1]
    ex = tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=x)),
        "i": tf.train.Feature(int64_list=tf.train.Int64List(value=ids))}))
    out = _run(tf.parse_single_example(ex.SerializeToString(), {
        "x": tf.FixedLenFeature([1000], tf.float32), "i": tf.VarLenFeature(tf.int64)}))
    np.testing.assert_array_equal(out["x"], x)
    assert out["x"].dtype == np.float32 and out["x"].flags.writeable
    assert out["i"].values.tolist() == ids


def test_feature_without_a_list_counts_as_missing():
    ex = tf.train.Example()
    ex.features.feature["e"].SetInParent()                    # a Feature with no kind set
    s = tf.constant([ex.SerializeToString()])
    out = tf.parse_example(s, {"e": tf.FixedLenFeature([], tf.float32, default_value=1.0),
                               "v": tf.VarLenFeature(tf.float32)})
    np.testing.assert_array_equal(_run(out["e"]), [1.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="is required"):
        _run(tf.parse_example(s, {"e": tf.FixedLenFeature([], tf.float32)}))


def test_parse_errors():
    s = tf.constant([_example(1).SerializeToString()])
    missing = tf.parse_example(s, {"nope": tf.FixedLenFeature([], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Feature: nope \\(data type: float\\) is required"):
        _run(missing)
    named = tf.parse_example(s, {"nope": tf.FixedLenFeature([], tf.float32)},
                             example_names=tf.constant(["rec0"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Name: rec0, Key: nope"):
        _run(named)
    wrong = tf.parse_example(s, {"label": tf.FixedLenFeature([], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="Key: label, Index: 0.  Data types don't match. Data type: int64 "
                             "but expected type: float"):
        _run(wrong)
    size = tf.parse_example(s, {"x": tf.FixedLenFeature([3], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Values size: 2 but output shape"):
        _run(size)
    junk = tf.parse_example(tf.constant([b"\xff\xff"]), {"x": tf.VarLenFeature(tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse example"):
        _run(junk)
    with pytest.raises(ValueError, match="tf.float32, tf.int64 or tf.string"):
        tf.parse_example(s, {"x": tf.FixedLenFeature([], tf.int32)})
    with pytest.raises(ValueError, match="allow_missing"):
        tf.parse_example(s, {"x": tf.FixedLenSequenceFeature([], tf.float32)})
    with pytest.raises(ValueError, match="default_value"):
        tf.parse_example(s, {"x": tf.FixedLenFeature([2], tf.float32, default_value=[1.0])})
    with pytest.raises(ValueError, match="must be a vector"):
        tf.parse_example(tf.constant(b"x"), {"x": tf.VarLenFeature(tf.float32)})
    with pytest.raises(TypeError, match="string tensor"):
        tf.parse_single_example(tf.constant(1.0), {"x": tf.VarLenFeature(tf.float32)})


def test_parse_single_sequence_example():
    seq = tf.train.SequenceExample()
    seq.context.feature["len"].int64_list.value.append(3)
    tokens = seq.feature_lists.feature_list["tok"]
    for t in ([1, 2], [3, 4], [5, 6]):
        tokens.feature.add().int64_list.value.extend(t)
    words = seq.feature_lists.feature_list["words"]
    for w in ([b"a"], [], [b"b", b"c"]):
        words.feature.add().bytes_list.value.extend(w)
    context, lists = tf.parse_single_sequence_example(
        seq.SerializeToString(),
        context_features={"len": tf.FixedLenFeature([], tf.int64),
                          "id": tf.FixedLenFeature([], tf.string, default_value="none")},
        sequence_features={"tok": tf.FixedLenSequenceFeature([2], tf.int64),
                           "words": tf.VarLenFeature(tf.string),
                           "opt": tf.FixedLenSequenceFeature([], tf.float32,
                                                             allow_missing=True)})
    assert lists["tok"].shape.as_list() == [None, 2]
    assert lists["words"].indices.shape.as_list() == [None, 2]
    assert lists["words"].dense_shape.shape.as_list() == [2]
    assert context["len"].shape.as_list() == []
    c, f = _run((context, lists))
    assert c["len"] == 3 and c["id"] == b"none"
    np.testing.assert_array_equal(f["tok"], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(f["words"].indices, [[0, 0], [2, 0], [2, 1]])
    np.testing.assert_array_equal(f["words"].dense_shape, [3, 2])
    assert f["opt"].shape == (0,)
    _, req = tf.parse_single_sequence_example(
        seq.SerializeToString(), sequence_features={"gone": tf.FixedLenSequenceFeature(
            [], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="'gone' is required"):
        _run(req)


def test_docstring_examples():
    from flowgrad.ops import parsing_ops  # noqa: PLC0415
    failures, tried = doctest.testmod(parsing_ops)
    assert tried >= 2 and failures == 0


def test_decode_raw():
    x = tf.constant([np.array([1, -2], "<i2").tobytes(), np.array([3, 4], "<i2").tobytes()])
    y = tf.decode_raw(x, tf.int16)
    assert y.shape.as_list() == [2, None]
    np.testing.assert_array_equal(_run(y), [[1, -2], [3, 4]])
    big = tf.io.decode_raw(tf.constant(np.array([1.5], ">f4").tobytes()), tf.float32,
                           little_endian=False)
    np.testing.assert_array_equal(_run(big), [1.5])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        _run(tf.decode_raw(tf.constant([b"ab", b"abcd"]), tf.int16))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple of 4"):
        _run(tf.decode_raw(tf.constant(b"abc"), tf.float32))


# --- SparseTensor elements in tf.data ---------------------------------------------------------
def _tagged(n: int) -> bytes:
    ex = tf.train.Example()
    ex.features.feature["t"].int64_list.value.extend(range(n))
    ex.features.feature["y"].float_list.value.append(0.0)      # ends the record with NULs
    return ex.SerializeToString()


SPARSE_SPEC = {"t": tf.VarLenFeature(tf.int64), "y": tf.FixedLenFeature([], tf.float32)}


def test_var_len_features_in_dataset_map_then_batch():
    records = tf.constant([_tagged(i) for i in (1, 3, 0)])
    ds = tf.data.Dataset.from_tensor_slices(records).map(
        lambda s: tf.parse_single_example(s, SPARSE_SPEC)).batch(3)
    el = ds.make_one_shot_iterator().get_next()
    assert isinstance(el["t"], tf.SparseTensor)
    assert el["t"].indices.shape.as_list() == [None, 2]
    v = _run(el)
    np.testing.assert_array_equal(v["t"].indices, [[0, 0], [1, 0], [1, 1], [1, 2]])
    np.testing.assert_array_equal(v["t"].values, [0, 0, 1, 2])
    np.testing.assert_array_equal(v["t"].dense_shape, [3, 3])
    np.testing.assert_array_equal(v["y"], [0, 0, 0])


def test_parse_example_after_batch_keeps_trailing_nul_bytes():
    records = tf.constant([_tagged(i) for i in (2, 0, 1)])
    ds = tf.data.Dataset.from_tensor_slices(records).batch(2).map(
        lambda s: tf.parse_example(s, SPARSE_SPEC))
    got = _drain(ds)
    np.testing.assert_array_equal(got[0]["t"].indices, [[0, 0], [0, 1]])
    np.testing.assert_array_equal(got[0]["t"].dense_shape, [2, 2])
    np.testing.assert_array_equal(got[1]["t"].dense_shape, [1, 1])
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.data.Dataset.from_tensor_slices(tf.SparseTensor([[0, 0]], [1.0], [2, 2]))
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.data.Dataset.from_tensor_slices(records).map(
            lambda s: tf.parse_example(tf.reshape(s, [1]), SPARSE_SPEC)).unbatch()


# --- a TF1 input pipeline end to end ------------------------------------------------------------
def test_tfrecord_pipeline_trains_a_model(tmp_path):
    rng = np.random.default_rng(0)
    w_true = np.array([2.0, -3.0], np.float32)
    for shard in range(2):
        with tf.io.TFRecordWriter(str(tmp_path / f"train-{shard}.tfrecord"), "GZIP") as w:
            for _ in range(64):
                x = rng.normal(size=2).astype(np.float32)
                ex = tf.train.Example(features=tf.train.Features(feature={
                    "x": tf.train.Feature(float_list=tf.train.FloatList(value=x)),
                    "y": tf.train.Feature(float_list=tf.train.FloatList(
                        value=[float(x @ w_true)]))}))
                w.write(ex.SerializeToString())
    files = tf.data.Dataset.list_files(str(tmp_path / "train-*.tfrecord"), shuffle=False)
    spec = {"x": tf.io.FixedLenFeature([2], tf.float32),
            "y": tf.io.FixedLenFeature([1], tf.float32)}
    ds = (tf.data.TFRecordDataset(files, compression_type="GZIP").repeat().shuffle(64, seed=1)
          .batch(16).map(lambda s: tf.parse_example(s, spec)))
    batch = ds.make_one_shot_iterator().get_next()
    assert batch["x"].shape.as_list() == [None, 2]
    w = tf.Variable(tf.zeros([2, 1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(batch["x"], w) - batch["y"]))
    step = tf.train.GradientDescentOptimizer(0.2).minimize(loss)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(60):
            s.run(step)
        np.testing.assert_allclose(s.run(w).ravel(), w_true, atol=1e-2)


# --- cross-checks against TensorFlow (when it is installed) -----------------------------------
@pytest.fixture(scope="module")
def real_tf():
    try:
        import tensorflow as real  # noqa: PLC0415
    except Exception:  # noqa: BLE001 - not installed, or a broken install
        pytest.skip("tensorflow is not importable")
    return real


@pytest.mark.parametrize("compression", ["", "GZIP", "ZLIB"])
def test_tensorflow_reads_our_files_and_we_read_its(tmp_path, real_tf, compression):
    records = [_example(i).SerializeToString() for i in range(4)] + [b"", b"z" * 5000]
    _write(tmp_path / "ours", records, compression)
    theirs = [r.numpy() for r in real_tf.data.TFRecordDataset(str(tmp_path / "ours"),
                                                              compression_type=compression)]
    assert theirs == records
    with real_tf.io.TFRecordWriter(str(tmp_path / "theirs"), compression) as w:
        for r in records:
            w.write(r)
    assert list(tf.python_io.tf_record_iterator(str(tmp_path / "theirs"), compression)) == \
        records
    assert _drain(tf.data.TFRecordDataset(str(tmp_path / "theirs"), compression)) == records
    if not compression:
        assert (tmp_path / "ours").read_bytes() == (tmp_path / "theirs").read_bytes()


def test_example_bytes_and_parse_results_equal_tensorflows(real_tf):
    ours = _example(3)
    theirs = real_tf.train.Example(features=real_tf.train.Features(feature={
        "x": real_tf.train.Feature(float_list=real_tf.train.FloatList(value=[3, 6.0])),
        "label": real_tf.train.Feature(int64_list=real_tf.train.Int64List(value=[1])),
        "tags": real_tf.train.Feature(bytes_list=real_tf.train.BytesList(
            value=[b"t0", b"t1", b"t2"]))}))
    assert ours.SerializeToString(deterministic=True) == \
        theirs.SerializeToString(deterministic=True)
    data = [_example(i).SerializeToString() for i in range(4)]
    spec = {"x": tf.FixedLenFeature([2], tf.float32), "label": tf.FixedLenFeature([], tf.int64),
            "tags": tf.VarLenFeature(tf.string),
            "w": tf.FixedLenFeature([1], tf.float32, default_value=[0.5]),
            "x_seq": tf.FixedLenSequenceFeature([], tf.float32, allow_missing=True)}
    real_spec = {"x": real_tf.io.FixedLenFeature([2], real_tf.float32),
                 "label": real_tf.io.FixedLenFeature([], real_tf.int64),
                 "tags": real_tf.io.VarLenFeature(real_tf.string),
                 "w": real_tf.io.FixedLenFeature([1], real_tf.float32, default_value=[0.5]),
                 "x_seq": real_tf.io.FixedLenSequenceFeature([], real_tf.float32,
                                                             allow_missing=True)}
    got = _run(tf.parse_example(tf.constant(data), spec))
    want = real_tf.io.parse_example(real_tf.constant(data), real_spec)
    for k in ("x", "label", "w", "x_seq"):
        np.testing.assert_array_equal(got[k], want[k].numpy())
        assert got[k].dtype == want[k].numpy().dtype
    np.testing.assert_array_equal(got["tags"].indices, want["tags"].indices.numpy())
    assert list(got["tags"].values) == list(want["tags"].values.numpy())
    np.testing.assert_array_equal(got["tags"].dense_shape, want["tags"].dense_shape.numpy())


def test_sequence_example_parse_equals_tensorflows(real_tf):
    seq = real_tf.train.SequenceExample()
    seq.context.feature["c"].int64_list.value.append(4)
    for t in ([1.0, 2.0], [3.0, 4.0]):
        seq.feature_lists.feature_list["f"].feature.add().float_list.value.extend(t)
    for w in ([b"a"], [], [b"b", b"c"]):
        seq.feature_lists.feature_list["w"].feature.add().bytes_list.value.extend(w)
    data = seq.SerializeToString()

    def specs(m):
        return ({"c": m.io.FixedLenFeature([], m.int64), "cv": m.io.VarLenFeature(m.int64)},
                {"f": m.io.FixedLenSequenceFeature([2], m.float32),
                 "w": m.io.VarLenFeature(m.string),
                 "m": m.io.FixedLenSequenceFeature([], m.int64, allow_missing=True)})
    want = real_tf.io.parse_single_sequence_example(data, *specs(real_tf))
    got = _run(tf.parse_single_sequence_example(data, *specs(tf)))
    for g, w in zip(got, want):
        for k, v in g.items():
            if isinstance(v, tf.SparseTensorValue):
                for part in ("indices", "values", "dense_shape"):
                    np.testing.assert_array_equal(getattr(v, part),
                                                  getattr(w[k], part).numpy())
            else:
                np.testing.assert_array_equal(v, w[k].numpy())
                assert v.dtype == w[k].numpy().dtype
