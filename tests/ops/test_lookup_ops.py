"""Lookup tables: contents per session, initializers, OOV buckets as TensorFlow hashes them."""

import numpy as np
import pytest

import flowgrad as tf


def _kv(keys, values, key_dtype=None, value_dtype=None):
    return tf.lookup.KeyValueTensorInitializer(keys, values, key_dtype, value_dtype)


def test_static_hash_table_lookup_size_export_and_feeds():
    table = tf.lookup.StaticHashTable(_kv(["a", "b", "é"], tf.constant([1, 2, 3], tf.int64)), -1)
    keys = tf.placeholder(tf.string, [None])
    out = table.lookup(keys)
    assert out.dtype == tf.int64 and out.shape.as_list() == [None]
    k, v = table.export()
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        assert s.run(out, {keys: ["a", "c", "é"]}).tolist() == [1, -1, 3]
        assert s.run(out, {keys: [b"b", "é".encode()]}).tolist() == [2, 3]
        assert s.run(table.lookup(tf.constant([["b"], ["zz"]]))).tolist() == [[2], [-1]]
        assert s.run(table.size()) == 3
        ks, vs = s.run([k, v])
        assert dict(zip(ks.tolist(), vs.tolist())) == {b"a": 1, b"b": 2, "é".encode(): 3}
        s.run(table.initializer)            # the same data again: allowed
    assert table.key_dtype == tf.string and table.value_dtype == tf.int64


def test_string_values_and_int_keys():
    table = tf.contrib.lookup.HashTable(_kv(tf.constant([3, 7], tf.int64), ["three", "seven"]),
                                        "?")
    with tf.Session() as s:
        s.run(table.init)
        assert s.run(table.lookup(tf.constant([7, 1, 3], tf.int64))).tolist() == \
            [b"seven", b"?", b"three"]


def test_uninitialized_table_raises_and_sessions_are_separate():
    table = tf.lookup.StaticHashTable(_kv(["a"], tf.constant([1], tf.int64)), 0)
    out = table.lookup(tf.constant(["a"]))
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError, match="Table not initialized"):
            s.run(out)
        with pytest.raises(tf.errors.FailedPreconditionError, match="tables_initializer"):
            s.run(table.size())
        s.run(tf.tables_initializer())
        assert s.run(out).tolist() == [1]
    with tf.Session() as s2:
        with pytest.raises(tf.errors.FailedPreconditionError):
            s2.run(out)


def test_tables_register_their_initializers():
    t1 = tf.lookup.StaticHashTable(_kv(["a"], tf.constant([1], tf.int64)), -1)
    t2 = tf.contrib.lookup.index_table_from_tensor(["x", "y"])
    inits = tf.get_collection(tf.GraphKeys.TABLE_INITIALIZERS)
    assert t1.initializer in inits and t2.init in inits and len(inits) == 2
    assert tf.tables_initializer().type == "NoOp"


def test_duplicate_keys_and_dtype_errors():
    table = tf.lookup.StaticHashTable(_kv(["a", "a"], tf.constant([1, 2], tf.int64)), -1)
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError, match="different value"):
            s.run(table.initializer)
    with pytest.raises(TypeError, match="keys must be string"):
        table.lookup(tf.constant([1], tf.int64))
    with pytest.raises(TypeError):
        tf.lookup.StaticHashTable(_kv(["a"], tf.constant([1], tf.int64)), "x")


def test_text_file_initializer(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("cat\t10\ndog\t20\némeu\t30\n", encoding="utf-8")
    whole = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(path), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64,
        tf.lookup.TextFileIndex.LINE_NUMBER), -1)
    cols = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(path), tf.string, 0, tf.int64, 1, delimiter="\t"), -1)
    by_line = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(path), tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER, tf.string, 0, vocab_size=2),
        "UNK")
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        assert s.run(whole.lookup(tf.constant(["dog\t20", "dog"]))).tolist() == [1, -1]
        assert s.run(cols.lookup(tf.constant(["émeu", "cat", "x"]))).tolist() == [30, 10, -1]
        assert s.run(by_line.lookup(tf.constant([0, 1, 2], tf.int64))).tolist() == \
            [b"cat", b"dog", b"UNK"]
        assert s.run(by_line.size()) == 2
    with pytest.raises(ValueError, match="int64"):
        tf.lookup.TextFileInitializer(str(path), tf.string, 0, tf.string,
                                      tf.lookup.TextFileIndex.LINE_NUMBER)
    bad = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(path), tf.string, 0, tf.int64, 2), -1)
    short = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        str(path), tf.string, 0, tf.int64, 1, vocab_size=5), -1)
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid number of columns"):
            s.run(bad.initializer)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid vocab_size"):
            s.run(short.initializer)


def test_vocabulary_tables_with_oov_buckets_as_tensorflow():
    # ids TensorFlow's StaticVocabularyTable gives for these keys
    vocab = tf.lookup.StaticVocabularyTable(_kv(["x", "y"], tf.constant([0, 1], tf.int64)), 3)
    ints = tf.lookup.StaticVocabularyTable(
        _kv(tf.constant([5, 7], tf.int64), tf.constant([0, 1], tf.int64)), 4)
    contrib = tf.contrib.lookup.index_table_from_tensor(["x", "y"], num_oov_buckets=3)
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        assert s.run(vocab.lookup(tf.constant(["x", "zz", "y", "q"]))).tolist() == [0, 3, 1, 4]
        assert s.run(ints.lookup(tf.constant([5, 6, 7, 100], tf.int64))).tolist() == \
            [0, 5, 1, 5]
        assert s.run(contrib.lookup(tf.constant(["x", "zz", "y", "q"]))).tolist() == \
            [0, 3, 1, 4]
        assert s.run([vocab.size(), contrib.size()]) == [5, 5]
    with pytest.raises(ValueError, match="oov_buckets must be > 0"):
        tf.lookup.StaticVocabularyTable(_kv(["x"], tf.constant([0], tf.int64)), 0)


def test_index_tables_from_tensor_and_file(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("the\nquick\nfox\n")
    ids = tf.contrib.lookup.index_table_from_tensor(tf.constant(["a", "b", "c"]),
                                                    default_value=-5)
    from_file = tf.contrib.lookup.index_table_from_file(str(path), num_oov_buckets=1)
    words = tf.contrib.lookup.index_to_string_table_from_tensor(["a", "b"])
    words_file = tf.contrib.lookup.index_to_string_table_from_file(str(path), default_value="?")
    sp = tf.SparseTensor([[0, 0], [1, 2]], tf.constant(["c", "q"]), [2, 3])
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        assert s.run(ids.lookup(tf.constant(["b", "zz"]))).tolist() == [1, -5]
        assert s.run(from_file.lookup(tf.constant(["fox", "the", "dog"]))).tolist() == [2, 0, 3]
        assert s.run(words.lookup(tf.constant([1, 0, 9], tf.int64))).tolist() == \
            [b"b", b"a", b"UNK"]
        assert s.run(words_file.lookup(tf.constant([2, 3], tf.int64))).tolist() == [b"fox", b"?"]
        got = s.run(ids.lookup(sp))
        assert isinstance(got, tf.SparseTensorValue) and got.values.tolist() == [2, -5]
        assert got.indices.tolist() == [[0, 0], [1, 2]]
    with pytest.raises(ValueError, match="Can't specify both"):
        tf.contrib.lookup.index_table_from_tensor(["a"], num_oov_buckets=1, default_value=3)
    with tf.Session() as s:
        dup = tf.contrib.lookup.index_table_from_tensor(["a", "a"])
        with pytest.raises(tf.errors.FailedPreconditionError, match="different value"):
            s.run(dup.init)


def test_mutable_hash_table():
    table = tf.contrib.lookup.MutableHashTable(tf.string, tf.float32, default_value=-1.0)
    ins = table.insert(tf.constant(["a", "b"]), tf.constant([1.5, 2.5]))
    more = table.insert(["b", "c"], [9.0, 3.0])
    rm = table.remove(["a"])
    out = table.lookup(tf.constant(["a", "b", "c"]))
    k, v = table.export()
    with tf.Session() as s:
        assert s.run(table.size()) == 0
        assert s.run(out).tolist() == [-1.0, -1.0, -1.0]
        s.run(ins)
        assert s.run(out).tolist() == [1.5, 2.5, -1.0]
        s.run(more)
        assert s.run(out).tolist() == [1.5, 9.0, 3.0]
        s.run(rm)
        assert s.run(out).tolist() == [-1.0, 9.0, 3.0]
        ks, vs = s.run([k, v])
        assert dict(zip(ks.tolist(), vs.tolist())) == {b"b": 9.0, b"c": 3.0}
        assert vs.dtype == np.float32


def test_scaffold_local_init_op_fills_tables():
    table = tf.lookup.StaticHashTable(_kv(["a"], tf.constant([4], tf.int64)), -1)
    out = table.lookup(tf.constant(["a"]))
    scaffold = tf.train.Scaffold()
    scaffold.finalize()
    with tf.Session() as s:
        s.run(scaffold.local_init_op)
        assert s.run(out).tolist() == [4]
