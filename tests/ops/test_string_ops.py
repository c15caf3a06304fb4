"""String tensors hold bytes; the string ops against TensorFlow 1's values."""

import importlib.util

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.ops import string_hash
from flowgrad.testing.op_test import OpCase, check_op


def _run(t, feed=None):
    with tf.Session() as s:
        return s.run(t, feed)


# --- bytes semantics ---------------------------------------------------------------------------
def test_constants_fetches_and_feeds_are_bytes():
    out = _run(tf.constant(["ab", "hé"]))
    assert out.dtype == object and out.tolist() == [b"ab", "hé".encode()]
    assert _run(tf.constant("x")) == b"x"
    assert _run(tf.constant(b"\xff\x00")) == b"\xff\x00"
    p = tf.placeholder(tf.string, [None])
    for fed in (["a", "é"], [b"a", "é".encode()], np.array(["a", "é"]),
                np.array([b"a", "é".encode()])):
        assert _run(p, {p: fed}).tolist() == [b"a", "é".encode()]
    with pytest.raises(TypeError, match="string"):
        _run(p, {p: [1, 2]})


def test_py_func_and_dataset_strings_are_bytes():
    y = tf.py_func(lambda x: np.array(["x" + v.decode() for v in x], dtype=object),
                   [tf.constant(["a", "b"])], tf.string)
    assert _run(y).tolist() == [b"xa", b"xb"]
    for src in (["p", "q"], np.array(["p", "q"]), np.array([b"p", b"q"])):
        it = tf.data.Dataset.from_tensor_slices(src).make_one_shot_iterator().get_next()
        with tf.Session() as s:
            assert [s.run(it), s.run(it)] == [b"p", b"q"]
    gen = tf.data.Dataset.from_generator(lambda: iter(["é"]), tf.string, [])
    with tf.Session() as s:
        assert s.run(gen.make_one_shot_iterator().get_next()) == "é".encode()
    v = tf.Variable("abc")
    with tf.Session() as s:
        s.run(v.initializer)
        assert s.run(v) == b"abc" and s.run(tf.assign(v, "é")) == "é".encode()


# --- ops -----------------------------------------------------------------------------------------
def test_as_string():
    assert _run(tf.as_string([3.5, 1e-7, 12345678.0])).tolist() == \
        [b"3.500000", b"0.000000", b"12345678.000000"]
    assert _run(tf.as_string([3.5], precision=2, width=8, fill="0")).tolist() == [b"00003.50"]
    assert _run(tf.as_string([3.5], shortest=True)).tolist() == [b"3.5"]
    assert _run(tf.as_string([3.5], scientific=True)).tolist() == [b"3.500000e+00"]
    assert _run(tf.as_string([3, -4], width=5)).tolist() == [b"    3", b"   -4"]
    assert _run(tf.as_string([7], width=4, fill="0")).tolist() == [b"0007"]
    assert _run(tf.as_string([True, False])).tolist() == [b"true", b"false"]
    assert _run(tf.as_string(tf.constant([1 + 2j], tf.complex64))).tolist() == \
        [b"(1.000000,2.000000)"]
    assert _run(tf.as_string(tf.constant([1.0, 2.5], tf.float64), precision=3)).tolist() == \
        [b"1.000", b"2.500"]
    with pytest.raises(ValueError, match="Fill argument not supported"):
        tf.as_string([1.0], fill="x")
    with pytest.raises(TypeError, match="string tensor"):
        tf.as_string(["a"])


def test_join_length_substr_unicode():
    assert _run(tf.strings.join([["a", "b"], "c"], separator="+")).tolist() == [b"a+c", b"b+c"]
    assert _run(tf.string_join(["x", "y"])) == b"xy"
    with pytest.raises(ValueError, match="same shape"):
        tf.string_join([["a", "b"], ["c"]])
    assert _run(tf.strings.length(["héllo", ""])).tolist() == [6, 0]
    assert _run(tf.strings.length(["héllo", ""], unit="UTF8_CHAR")).tolist() == [5, 0]
    assert _run(tf.strings.substr(["hello", "hi"], 1, 3)).tolist() == [b"ell", b"i"]
    assert _run(tf.substr("hello", -3, 2)) == b"ll"
    assert _run(tf.substr("hello", 1, -1)) == b"ello"
    assert _run(tf.substr("hello", 5, 2)) == b""
    assert _run(tf.strings.substr(["hello", "world"], [0, 1], [2, 3])).tolist() == \
        [b"he", b"orl"]
    assert _run(tf.strings.substr("héllo", 1, 2, unit="UTF8_CHAR")) == "él".encode()
    with pytest.raises(tf.errors.InvalidArgumentError, match="pos 5 out of range"):
        _run(tf.strings.substr("hi", 5, 1))


def test_string_split_gives_a_sparse_tensor_value():
    sp = _run(tf.string_split(["a b  c", "", "de"]))
    assert isinstance(sp, tf.SparseTensorValue)
    assert sp.indices.tolist() == [[0, 0], [0, 1], [0, 2], [2, 0]]
    assert sp.values.tolist() == [b"a", b"b", b"c", b"de"]
    assert sp.dense_shape.tolist() == [3, 3]
    sp = _run(tf.string_split(["a b  c", "de"], skip_empty=False))
    assert sp.values.tolist() == [b"a", b"b", b"", b"c", b"de"] and \
        sp.dense_shape.tolist() == [2, 4]
    assert _run(tf.string_split(["a,b;c"], delimiter=",;")).values.tolist() == [b"a", b"b", b"c"]
    assert _run(tf.string_split(["abc"], delimiter="")).values.tolist() == [b"a", b"b", b"c"]
    sp = _run(tf.strings.split([" a  b ", "c"]))
    assert sp.values.tolist() == [b"a", b"b", b"c"] and \
        sp.indices.tolist() == [[0, 0], [0, 1], [1, 0]]
    assert _run(tf.strings.split(["a,,b", "c"], sep=",")).values.tolist() == \
        [b"a", b"", b"b", b"c"]
    assert _run(tf.strings.split(["a,,b,c"], sep=",", maxsplit=1)).values.tolist() == \
        [b"a", b",b,c"]
    dense = tf.sparse.to_dense(tf.string_split(["a b", "c"]), default_value="")
    assert _run(dense).tolist() == [[b"a", b"b"], [b"c", b""]]
    with pytest.raises(ValueError, match="vector"):
        tf.string_split([["a"]])


def test_string_to_number():
    assert _run(tf.strings.to_number([" 1.5", "inf", "-2e3"])).tolist() == [1.5, np.inf, -2000]
    out = _run(tf.string_to_number([" 12 ", "-3"], out_type=tf.int32))
    assert out.dtype == np.int32 and out.tolist() == [12, -3]
    assert _run(tf.strings.to_number(["1.25"], tf.float64)).dtype == np.float64
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="StringToNumberOp could not correctly convert string: abc"):
        _run(tf.strings.to_number("abc"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="convert string: 1.5"):
        _run(tf.strings.to_number(["1.5"], tf.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="3000000000"):
        _run(tf.strings.to_number(["3000000000"], tf.int32))


def test_regex_strip_case():
    assert _run(tf.strings.regex_replace(["aabb", "ab"], "a(b)", r"<\1\0>")).tolist() == \
        [b"a<bab>b", b"<bab>"]
    assert _run(tf.regex_replace(["aaa"], "a", "b", replace_global=False)).tolist() == [b"baa"]
    assert _run(tf.strings.regex_full_match(["abc", "ab1", ""], "[a-z]+")).tolist() == \
        [True, False, False]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid pattern"):
        _run(tf.strings.regex_full_match(["a"], "("))
    assert _run(tf.strings.strip(["  a b \n"])).tolist() == [b"a b"]
    assert _run(tf.string_strip("\tx ")) == b"x"
    assert _run(tf.strings.lower("ÀBC")) == "Àbc".encode()
    assert _run(tf.strings.lower("ÀBC", encoding="utf-8")) == "àbc".encode()
    assert _run(tf.strings.upper("héllo")) == "HéLLO".encode()
    assert _run(tf.strings.upper("héllo", encoding="utf-8")) == "HÉLLO".encode()


def test_reduce_join():
    x = [["a", "b"], ["c", "d"]]
    assert _run(tf.reduce_join(x, axis=0, separator="-")).tolist() == [b"a-c", b"b-d"]
    assert _run(tf.reduce_join(x)) == b"abcd"
    assert _run(tf.reduce_join(x, axis=[1, 0])) == b"abcd"
    out = tf.reduce_join(x, axis=-1, keep_dims=True)
    assert out.shape.as_list() == [2, 1] and _run(out).tolist() == [[b"ab"], [b"cd"]]
    assert _run(tf.strings.reduce_join(x, 1, keepdims=False)).tolist() == [b"ab", b"cd"]
    assert _run(tf.reduce_join(x, reduction_indices=[])).tolist() == [[b"a", b"b"], [b"c", b"d"]]


def test_format():
    got = tf.strings.format("x={} y={}", [tf.constant([1, 2, 3, 4, 5, 6, 7]), tf.constant("hi")])
    assert _run(got) == b'x=[1 2 3 ... 5 6 7] y="hi"'
    assert _run(tf.strings.format("{}", [tf.constant(["a", "b"])])) == b'["a" "b"]'
    assert _run(tf.strings.format("a {} b {}", [tf.constant([[1, 2], [3, 4]]),
                                                tf.constant([1.5, 2.25])])) == \
        b"a [[1 2]\n [3 4]] b [1.5 2.25]"
    with pytest.raises(ValueError, match="placeholders"):
        tf.strings.format("{} {}", [tf.constant(1)])


_HASH_STRINGS = ["", "a", "hello", "héllo wörld", "x" * 70, "tensorflow!"]


def test_hash_buckets_equal_tensorflows():
    # bucket numbers TensorFlow gives for these strings and 1000 buckets
    assert _run(tf.strings.to_hash_bucket_fast(_HASH_STRINGS, 1000)).tolist() == \
        [263, 939, 296, 627, 745, 69]
    assert _run(tf.string_to_hash_bucket_strong(_HASH_STRINGS, 1000, key=[1, 2])).tolist() == \
        [435, 646, 622, 560, 729, 521]
    assert _run(tf.string_to_hash_bucket(_HASH_STRINGS, 1000)).tolist() == \
        [899, 868, 938, 426, 926, 479]
    out = tf.string_to_hash_bucket_fast([["a"]], 7)
    assert out.dtype == tf.int64 and out.shape.as_list() == [1, 1]


def test_python_fingerprint64_equals_farmhash():
    farmhash = pytest.importorskip("farmhash")
    rng = np.random.default_rng(0)
    for n in list(range(0, 140)) + [200, 257, 1000]:
        s = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert string_hash._fingerprint64_py(s) == farmhash.fingerprint64(s), n


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                    reason="tensorflow is not installed")
def test_hash_buckets_cross_checked_with_tensorflow():
    import tensorflow as real  # noqa: PLC0415
    rng = np.random.default_rng(1)
    strings = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in range(0, 90, 7)]
    ours = _run([tf.strings.to_hash_bucket_fast(strings, 997),
                 tf.strings.to_hash_bucket_strong(strings, 997, key=[5, 9]),
                 tf.string_to_hash_bucket(strings, 997)])
    theirs = [real.strings.to_hash_bucket_fast(strings, 997).numpy(),
              real.strings.to_hash_bucket_strong(strings, 997, key=[5, 9]).numpy(),
              real.strings.to_hash_bucket(strings, 997).numpy()]
    for a, b in zip(ours, theirs):
        assert a.tolist() == b.tolist()


def test_decode_raw():
    assert _run(tf.decode_raw([b"\x01\x00\x02\x00"], tf.int16)).tolist() == [[1, 2]]
    assert _run(tf.decode_raw([b"\x01\x00\x02\x00"], tf.int16, little_endian=False)).tolist() \
        == [[256, 512]]
    x = np.array([1.5, -2.0], np.float32)
    out = tf.decode_raw(tf.constant([x.tobytes(), x[::-1].tobytes()]), tf.float32)
    assert out.shape.as_list() == [2, None]
    assert _run(out).tolist() == [[1.5, -2.0], [-2.0, 1.5]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        _run(tf.decode_raw([b"\x01\x00", b"\x01\x00\x02\x00"], tf.int16))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple of 2"):
        _run(tf.decode_raw([b"\x01"], tf.int16))


def test_string_ops_have_no_gradient():
    x = tf.constant([1.0, 2.0])
    y = tf.string_to_number(tf.as_string(x))
    assert tf.gradients(tf.reduce_sum(y), x) == [None]


# op-harness rows for the string ops with numeric outputs (their forward and shapes; strings
# are fed, so there is nothing to differentiate)
_RAW = np.array([np.arange(6, dtype=np.float32).tobytes(),
                 np.arange(6, 12, dtype=np.float32).tobytes()], dtype=object)
_NUMS = np.array([["1.5", "-2"], [" 3e2", "inf"]], dtype=object)

CASES = [
    OpCase("decode_raw", lambda b: tf.decode_raw(b, tf.float32),
           lambda b: np.arange(12, dtype=np.float32).reshape(2, 6), [(2,)], inputs=[_RAW],
           grad=False),
    OpCase("string_to_number", lambda s: tf.string_to_number(s, tf.float64),
           lambda s: np.array([[1.5, -2.0], [300.0, np.inf]]), [(2, 2)], inputs=[_NUMS],
           grad=False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_rows(case):
    check_op(case)
