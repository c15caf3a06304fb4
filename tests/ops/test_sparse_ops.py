"""tf.SparseTensor, the sparse ops and their gradients; feeding and fetching sparse values."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.ops.sparse_binary_ops import _cwise
from flowgrad.testing.op_test import OpCase, check_op

IND = np.array([[0, 1], [1, 0], [1, 2], [2, 3]], np.int64)
SHAPE = [3, 4]
IND_B = np.array([[0, 1], [0, 2], [2, 3]], np.int64)       # overlaps IND at two entries
UNORDERED = np.array([[2, 3], [0, 1], [1, 2], [1, 0]], np.int64)
EMPTY_ROW = np.array([[0, 1], [0, 3], [2, 0], [3, 1]], np.int64)   # rows 1 and 4 empty


def _dense(ind, vals, shape, default=0.0):
    out = np.full(shape, default, dtype=np.asarray(vals).dtype)
    out[tuple(np.asarray(ind).T)] = vals
    return out


def _sp(vals, ind=IND, shape=SHAPE):
    return tf.SparseTensor(ind, vals, shape)


def _softmax_ref(v):
    d = _dense(IND, v, SHAPE, -np.inf)
    e = np.exp(d - d.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _seg_ref(data, idx, seg, kind):
    n = seg[-1] + 1
    out = np.zeros((n,) + data.shape[1:])
    cnt = np.bincount(seg, minlength=n)
    for i, s in zip(idx, seg):
        out[s] += data[i]
    scale = {"sum": np.ones(n), "mean": np.maximum(cnt, 1),
             "sqrtn": np.sqrt(np.maximum(cnt, 1))}[kind]
    return out / scale[:, None]


SEG_IDX = np.array([0, 2, 2, 1, 3], np.int32)
SEG_IDS = np.array([0, 0, 1, 3, 3], np.int32)
EMB_IND = np.array([[0, 0], [0, 1], [2, 0], [2, 1], [2, 2]], np.int64)
EMB_IDS = np.array([3, 1, 0, 3, 4], np.int64)


def _emb_ref(params, w, combiner):
    out = np.zeros((3, params.shape[1]))
    den = np.zeros(3)
    for (r, _), i, wi in zip(EMB_IND, EMB_IDS, w):
        out[r] += wi * params[i]
        den[r] += wi if combiner == "mean" else wi * wi
    if combiner == "sum":
        return out
    den = den if combiner == "mean" else np.sqrt(den)
    return np.divide(out, den[:, None], out=np.zeros_like(out), where=den[:, None] > 0)


def _emb_sp(w=None):
    ids = tf.SparseTensor(EMB_IND, tf.constant(EMB_IDS), [3, 3])
    return ids, (None if w is None else tf.SparseTensor(EMB_IND, w, [3, 3]))


CASES = [
    OpCase("sparse_to_dense", lambda v: tf.sparse.to_dense(_sp(v)),
           lambda v: _dense(IND, v, SHAPE), [(4,)]),
    OpCase("sparse_to_dense_default", lambda v, d: tf.sparse_to_dense(IND, SHAPE, v, d),
           lambda v, d: _dense(IND, v, SHAPE, d), [(4,), ()]),
    OpCase("sparse_dense_matmul", lambda v, b: tf.sparse_tensor_dense_matmul(_sp(v), b),
           lambda v, b: _dense(IND, v, SHAPE) @ b, [(4,), (4, 2)]),
    OpCase("sparse_dense_matmul_adjoint_a",
           lambda v, b: tf.sparse.sparse_dense_matmul(_sp(v), b, adjoint_a=True),
           lambda v, b: _dense(IND, v, SHAPE).T @ b, [(4,), (3, 2)]),
    OpCase("sparse_dense_matmul_adjoint_b",
           lambda v, b: tf.sparse_tensor_dense_matmul(_sp(v), b, adjoint_b=True),
           lambda v, b: _dense(IND, v, SHAPE) @ b.T, [(4,), (5, 4)]),
    OpCase("sparse_reduce_sum_axis1", lambda v: tf.sparse_reduce_sum(_sp(v), axis=1),
           lambda v: _dense(IND, v, SHAPE).sum(1), [(4,)]),
    OpCase("sparse_reduce_sum_all_keepdims",
           lambda v: tf.sparse_reduce_sum(_sp(v), keepdims=True),
           lambda v: _dense(IND, v, SHAPE).sum(keepdims=True), [(4,)]),
    OpCase("sparse_reduce_sum_axis0_keepdims",
           lambda v: tf.sparse.reduce_sum(_sp(v), axis=[-2], keepdims=True),
           lambda v: _dense(IND, v, SHAPE).sum(0, keepdims=True), [(4,)]),
    OpCase("sparse_reduce_max", lambda v: tf.sparse_reduce_max(_sp(v), 1),
           lambda v: np.array([v[0], max(v[1], v[2]), v[3]]), [(4,)], grad=False),
    OpCase("sparse_reduce_sum_sparse",
           lambda v: (lambda s: (s.indices, s.values))(tf.sparse_reduce_sum_sparse(_sp(v), 0)),
           lambda v: (np.array([[0], [1], [2], [3]]), np.array([v[1], v[0], v[2], v[3]])),
           [(4,)], grad=False),
    OpCase("sparse_reduce_max_sparse",
           lambda v: (lambda s: (s.indices, s.values))(
               tf.sparse.reduce_max(_sp(v), 1, output_is_sparse=True)),
           lambda v: (np.array([[0], [1], [2]]), np.array([v[0], max(v[1], v[2]), v[3]])),
           [(4,)], grad=False),
    OpCase("sparse_add", lambda a, b: tf.sparse.to_dense(tf.sparse.add(_sp(a), _sp(b, IND_B))),
           lambda a, b: _dense(IND, a, SHAPE) + _dense(IND_B, b, SHAPE), [(4,), (3,)]),
    OpCase("sparse_add_dense", lambda a, d: tf.sparse_add(_sp(a), d),
           lambda a, d: _dense(IND, a, SHAPE) + d, [(4,), (3, 4)]),
    OpCase("sparse_concat", lambda a, b: tf.sparse.to_dense(tf.sparse_concat(1, [_sp(a),
                                                                              _sp(b, IND_B)])),
           lambda a, b: np.concatenate([_dense(IND, a, SHAPE), _dense(IND_B, b, SHAPE)], 1),
           [(4,), (3,)], grad=False),
    OpCase("sparse_reshape", lambda v: tf.sparse.to_dense(tf.sparse_reshape(_sp(v), [2, -1])),
           lambda v: _dense(IND, v, SHAPE).reshape(2, 6), [(4,)]),
    OpCase("sparse_transpose", lambda v: tf.sparse.to_dense(tf.sparse_transpose(_sp(v))),
           lambda v: _dense(IND, v, SHAPE).T, [(4,)]),
    OpCase("sparse_reorder", lambda v: tf.sparse_reorder(_sp(v, UNORDERED)).values,
           lambda v: v[[1, 3, 2, 0]], [(4,)]),
    OpCase("sparse_retain",
           lambda v: tf.sparse.to_dense(tf.sparse_retain(_sp(v), [True, False, True, True])),
           lambda v: _dense(IND[[0, 2, 3]], v[[0, 2, 3]], SHAPE), [(4,)]),
    OpCase("sparse_slice", lambda v: tf.sparse.to_dense(tf.sparse_slice(_sp(v), [1, 1], [5, 3])),
           lambda v: _dense(IND, v, SHAPE)[1:, 1:], [(4,)]),
    OpCase("sparse_split",
           lambda v: [tf.sparse.to_dense(p) for p in
                      tf.sparse_split(sp_input=_sp(v), num_split=3, axis=1)],
           lambda v: np.split(_dense(IND, v, SHAPE), [2, 3], 1), [(4,)], grad=False),
    OpCase("sparse_fill_empty_rows",
           lambda v, d: (lambda f: (tf.sparse.to_dense(f[0]), f[1]))(
               tf.sparse_fill_empty_rows(_sp(v, EMPTY_ROW, [5, 6]), d)),
           lambda v, d: (_dense(np.r_[EMPTY_ROW, [[1, 0], [4, 0]]], np.r_[v, d, d], [5, 6]),
                         np.array([False, True, False, False, True])), [(4,), ()]),
    OpCase("sparse_softmax", lambda v: tf.sparse.to_dense(tf.sparse.softmax(_sp(v))),
           lambda v: _dense(IND, _softmax_ref(v)[tuple(IND.T)], SHAPE), [(4,)]),
    OpCase("sparse_maximum",
           lambda a, b: tf.sparse.to_dense(tf.sparse_maximum(_sp(a), _sp(b, IND_B))),
           lambda a, b: np.maximum(_dense(IND, a, SHAPE), _dense(IND_B, b, SHAPE)),
           [(4,), (3,)], grad=False),
    OpCase("sparse_minimum",
           lambda a, b: tf.sparse.to_dense(tf.sparse_minimum(_sp(a), _sp(b, IND_B))),
           lambda a, b: np.minimum(_dense(IND, a, SHAPE), _dense(IND_B, b, SHAPE)),
           [(4,), (3,)], grad=False),
    OpCase("sparse_dense_cwise_mul", lambda v, d: (_sp(v) * d).values,
           lambda v, d: v * d[IND[:, 1]], [(4,), (4,)]),
    OpCase("sparse_dense_cwise_div", lambda v, d: (_sp(v) / d).values,
           lambda v, d: v / d[IND[:, 0], 0], [(4,), (3, 1)], domain=[(-2, 2), (0.5, 2)]),
    OpCase("sparse_dense_cwise_add", lambda v, d: _cwise(_sp(v), d, "SparseDenseCwiseAdd").values,
           lambda v, d: v + d[tuple(IND.T)], [(4,), (3, 4)]),
    OpCase("sparse_eye", lambda x: tf.sparse.to_dense(tf.sparse.eye(3, 4, dtype=tf.float64)) * x,
           lambda x: np.eye(3, 4) * x, [(3, 4)]),
    OpCase("sparse_from_dense", lambda x: tf.sparse.to_dense(tf.sparse.from_dense(x)) * 2.0,
           lambda x: 2 * x, [(3, 4)]),
    OpCase("sparse_merge",
           lambda w: tf.sparse.to_dense(tf.sparse_merge(
               tf.SparseTensor(IND, tf.constant([3, 1, 0, 2], tf.int64), SHAPE), _sp(w), 5)),
           lambda w: _dense([[0, 3], [1, 1], [1, 0], [2, 2]], w, [3, 5]), [(4,)]),
    OpCase("sparse_segment_sum", lambda d: tf.sparse_segment_sum(d, SEG_IDX, SEG_IDS),
           lambda d: _seg_ref(d, SEG_IDX, SEG_IDS, "sum"), [(4, 3)]),
    OpCase("sparse_segment_mean", lambda d: tf.sparse_segment_mean(d, SEG_IDX, SEG_IDS),
           lambda d: _seg_ref(d, SEG_IDX, SEG_IDS, "mean"), [(4, 3)]),
    OpCase("sparse_segment_sqrt_n", lambda d: tf.sparse.segment_sqrt_n(d, SEG_IDX, SEG_IDS),
           lambda d: _seg_ref(d, SEG_IDX, SEG_IDS, "sqrtn"), [(4, 3)]),
    OpCase("embedding_lookup_sparse_sum",
           lambda p, w: tf.nn.embedding_lookup_sparse(p, *_emb_sp(w), combiner="sum"),
           lambda p, w: _emb_ref(p, w, "sum"), [(5, 2), (5,)]),
    OpCase("embedding_lookup_sparse_mean",
           lambda p, w: tf.nn.embedding_lookup_sparse(p, *_emb_sp(w), combiner="mean"),
           lambda p, w: _emb_ref(p, w, "mean"), [(5, 2), (5,)], domain=[(-2, 2), (0.5, 2)]),
    OpCase("embedding_lookup_sparse_sqrtn",
           lambda p, w: tf.nn.embedding_lookup_sparse(p, *_emb_sp(w), combiner="sqrtn"),
           lambda p, w: _emb_ref(p, w, "sqrtn"), [(5, 2), (5,)], domain=[(-2, 2), (0.5, 2)]),
    OpCase("embedding_lookup_sparse_unweighted",
           lambda p: tf.nn.embedding_lookup_sparse(p, _emb_sp()[0], None),
           lambda p: _emb_ref(p, np.ones(5), "mean"), [(5, 2)]),
    OpCase("safe_embedding_lookup_sparse",
           lambda p: tf.nn.safe_embedding_lookup_sparse(
               p, tf.SparseTensor([[0, 0], [0, 1], [2, 0], [2, 1]],
                                  tf.constant([1, -1, 4, 0], tf.int64), [4, 2])),
           lambda p: np.stack([p[1], np.zeros(2), (p[4] + p[0]) / 2, np.zeros(2)]), [(5, 2)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# ----- the SparseTensor object, feeding and fetching -----------------------------------------
def test_sparse_tensor_properties_and_fetch():
    sp = tf.SparseTensor([[0, 0], [1, 2]], [1.5, 2.0], [2, 3])
    assert sp.dtype == tf.float32 and sp.indices.dtype == tf.int64
    assert sp.dense_shape.dtype == tf.int64 and sp.get_shape().as_list() == [2, 3]
    assert sp.op is sp.values.op and sp.graph is tf.get_default_graph()
    assert tf.sparse.SparseTensor is tf.SparseTensor is tf.compat.v1.SparseTensor
    with tf.Session() as sess:
        v = sess.run(sp)
        assert isinstance(v, tf.SparseTensorValue)
        np.testing.assert_array_equal(v.indices, [[0, 0], [1, 2]])
        np.testing.assert_array_equal(v.values, np.float32([1.5, 2.0]))
        np.testing.assert_array_equal(v.dense_shape, [2, 3])
        nested = sess.run({"a": [sp], "b": sp.values})
        assert isinstance(nested["a"][0], tf.SparseTensorValue)
        with sess.as_default():
            assert sp.eval().values.tolist() == [1.5, 2.0]


def test_convert_to_tensor_of_sparse_tensor_raises_type_error():
    sp = tf.SparseTensor([[0]], [1.0], [3])
    with pytest.raises(TypeError, match="Failed to convert object of type .*SparseTensor"):
        tf.convert_to_tensor(sp)
    with pytest.raises(TypeError):
        tf.reduce_sum(sp)


def test_sparse_placeholder_feeds_value_or_tuple_and_partial_shape():
    sp = tf.sparse_placeholder(tf.float32, shape=[None, 3], name="x")
    assert sp.get_shape().as_list() == [None, 3]
    assert sp.indices.shape.as_list() == [None, 2]
    dense = tf.sparse.to_dense(sp)
    y = tf.sparse_reduce_sum(sp, axis=1)
    value = tf.SparseTensorValue(np.array([[0, 0], [2, 1]]), np.float32([4, 5]),
                                 np.array([3, 3]))
    with tf.Session() as sess:
        d, s = sess.run([dense, y], {sp: value})
        np.testing.assert_array_equal(d, [[4, 0, 0], [0, 0, 0], [0, 5, 0]])
        np.testing.assert_array_equal(s, [4, 0, 5])
        back = sess.run(sp, {sp: ([[1, 1]], [7.0], [2, 3])})
        assert back.values.tolist() == [7.0] and back.dense_shape.tolist() == [2, 3]
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            sess.run(dense, {sp: ([0, 1], [7.0], [2, 3])})


def test_sparse_placeholder_fully_known_and_unknown_shape():
    full = tf.sparse_placeholder(tf.float64, shape=[2, 2])
    none = tf.sparse_placeholder(tf.float64)
    assert full.shape.as_list() == [2, 2] and none.shape.ndims is None
    with tf.Session() as sess:
        # a fully known shape need not be fed
        out = sess.run(tf.sparse.to_dense(full), {full.indices: [[1, 0]], full.values: [3.0]})
        np.testing.assert_array_equal(out, [[0, 0], [3, 0]])
        out = sess.run(tf.sparse.to_dense(none), {none: ([[0, 0, 1]], [2.0], [1, 1, 2])})
        assert out.shape == (1, 1, 2) and out[0, 0, 1] == 2


# ----- expected numbers ----------------------------------------------------------------------
def test_to_dense_default_and_unordered_indices():
    sp = tf.SparseTensor(UNORDERED, [1.0, 2.0, 3.0, 4.0], SHAPE)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"indices\[1\] = \[0, 1\] is out of order.*"
                                             "tf.sparse.reorder"):
            sess.run(tf.sparse.to_dense(sp))
        got = sess.run(tf.sparse.to_dense(sp, default_value=-1.0, validate_indices=False))
        want = np.full(SHAPE, -1.0, np.float32)
        want[tuple(UNORDERED.T)] = [1, 2, 3, 4]
        np.testing.assert_array_equal(got, want)
        r = sess.run(tf.sparse.reorder(sp))
        np.testing.assert_array_equal(r.indices, [[0, 1], [1, 0], [1, 2], [2, 3]])
        np.testing.assert_array_equal(r.values, [2, 4, 3, 1])
        np.testing.assert_array_equal(sess.run(tf.sparse.to_dense(tf.sparse.reorder(sp))),
                                      np.where(want < 0, 0, want))
    rep = tf.SparseTensor([[0, 1], [0, 1]], [1.0, 2.0], [2, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="is repeated"):
        _run(tf.sparse.to_dense(rep))
    oob = tf.SparseTensor([[0, 5]], [1.0], [2, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of bounds"):
        _run(tf.sparse.to_dense(oob))


def test_matmul_numbers_and_build_errors():
    sp = tf.SparseTensor([[0, 1], [1, 0]], [2.0, 3.0], [2, 2])
    b = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    out = _run([tf.sparse_tensor_dense_matmul(sp, b),
                tf.sparse_tensor_dense_matmul(sp, b, adjoint_a=True, adjoint_b=True)])
    np.testing.assert_array_equal(out[0], [[6, 8], [3, 6]])
    np.testing.assert_array_equal(out[1], [[6, 12], [2, 6]])
    with pytest.raises(ValueError, match="SparseTensorDenseMatMul.*inner dimensions differ"):
        tf.sparse_tensor_dense_matmul(sp, tf.ones([3, 2]))
    with pytest.raises(TypeError, match="does not match type"):
        tf.sparse_tensor_dense_matmul(sp, tf.ones([2, 2], tf.float64))


def test_reductions_follow_tf_docs():
    x = tf.SparseTensor([[0, 0], [0, 2], [1, 1]], [1, 1, 1], [2, 3])
    got = _run([tf.sparse_reduce_sum(x), tf.sparse_reduce_sum(x, 0), tf.sparse_reduce_sum(x, 1),
                tf.sparse_reduce_sum(x, 1, keepdims=True), tf.sparse_reduce_sum(x, [0, 1])])
    assert got[0] == 3 and got[4] == 3
    np.testing.assert_array_equal(got[1], [1, 1, 1])
    np.testing.assert_array_equal(got[2], [2, 1])
    np.testing.assert_array_equal(got[3], [[2], [1]])
    m = tf.SparseTensor([[0, 0], [0, 2], [1, 1]], [1, 2, 3], [2, 3])
    neg = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], [-7, 4, 3], [3, 2])
    got = _run([tf.sparse_reduce_max(m), tf.sparse_reduce_max(m, 0), tf.sparse_reduce_max(m, -1),
                tf.sparse_reduce_max(neg, 1)])
    assert got[0] == 3
    np.testing.assert_array_equal(got[1], [1, 3, 2])
    np.testing.assert_array_equal(got[2], [2, 3])
    np.testing.assert_array_equal(got[3], [-7, 4, 0])
    s = _run(tf.sparse_reduce_sum_sparse(x, 1, keep_dims=True))
    np.testing.assert_array_equal(s.indices, [[0, 0], [1, 0]])
    np.testing.assert_array_equal(s.values, [2, 1])
    np.testing.assert_array_equal(s.dense_shape, [2, 1])
    with pytest.raises(ValueError, match="SparseReduceSum.*out of range"):
        tf.sparse_reduce_sum(x, 2)


def test_sparse_add_threshold_and_dense():
    a = tf.SparseTensor([[0, 0], [0, 1], [1, 1]], [1.0, 0.2, 0.1], [2, 2])
    b = tf.SparseTensor([[0, 1], [1, 0]], [-0.1, 5.0], [2, 2])
    got = _run([tf.sparse.add(a, b), tf.sparse_add(a, b, thresh=0.25),
                tf.sparse.add(a, tf.ones([2, 2]))])
    np.testing.assert_array_equal(got[0].indices, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_allclose(got[0].values, [1.0, 0.1, 5.0, 0.1])
    # the summed entry 0.2 - 0.1 falls below the threshold; single entries stay
    np.testing.assert_array_equal(got[1].indices, [[0, 0], [1, 0], [1, 1]])
    np.testing.assert_allclose(got[2], [[2.0, 1.2], [1.0, 1.1]])
    with pytest.raises(ValueError, match="SparseAdd.*shapes do not match"):
        tf.sparse.add(a, tf.SparseTensor([[0, 0]], [1.0], [3, 2]))


def test_concat_split_slice_reshape_transpose_retain():
    a = tf.SparseTensor([[0, 2], [1, 0], [1, 1]], [1.0, 2.0, 3.0], [2, 3])
    b = tf.SparseTensor([[0, 1], [0, 2]], [4.0, 5.0], [2, 4])
    c = _run(tf.sparse.concat(1, [a, b]))
    np.testing.assert_array_equal(c.indices, [[0, 2], [0, 4], [0, 5], [1, 0], [1, 1]])
    np.testing.assert_array_equal(c.values, [1, 4, 5, 2, 3])
    np.testing.assert_array_equal(c.dense_shape, [2, 7])
    parts = _run(tf.sparse.split(sp_input=tf.sparse.concat(1, [a, b]), num_split=3, axis=1))
    assert [p.dense_shape.tolist() for p in parts] == [[2, 3], [2, 2], [2, 2]]
    np.testing.assert_array_equal(parts[1].indices, [[0, 1]])
    np.testing.assert_array_equal(parts[2].indices, [[0, 0]])
    s = _run(tf.sparse.slice(a, [0, 1], [2, 2]))
    np.testing.assert_array_equal(s.indices, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(s.values, [1, 3])
    np.testing.assert_array_equal(s.dense_shape, [2, 2])
    r = tf.sparse.reshape(a, [3, -1])
    assert r.shape.as_list() == [3, 2]
    np.testing.assert_array_equal(_run(r).indices, [[1, 0], [1, 1], [2, 0]])
    t = tf.sparse.transpose(a)
    assert t.shape.as_list() == [3, 2]
    np.testing.assert_array_equal(_run(t).indices, [[0, 1], [1, 1], [2, 0]])
    np.testing.assert_array_equal(_run(t).values, [2, 3, 1])
    k = _run(tf.sparse.retain(a, [True, False, True]))
    np.testing.assert_array_equal(k.values, [1, 3])
    with pytest.raises(ValueError, match="SparseConcat.*differ outside the concat"):
        tf.sparse.concat(0, [a, b])
    unknown = tf.sparse_placeholder(tf.float32, [None, 4])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="SparseConcat.*differ outside the concat"):
        _run(tf.sparse.concat(0, [a, unknown]), {unknown: ([[0, 0]], [1.0], [1, 4])})
    wide = _run(tf.sparse.concat(0, [a, b], expand_nonconcat_dim=True))
    np.testing.assert_array_equal(wide.dense_shape, [4, 4])
    with pytest.raises(ValueError, match="Keyword arguments are required"):
        tf.sparse_split(a, 2, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="SparseReshape: cannot reshape"):
        _run(tf.sparse.reshape(a, [4, -1]))


def test_fill_empty_rows_softmax_maximum():
    sp = tf.SparseTensor(EMPTY_ROW, [1.0, 2.0, 3.0, 4.0], [5, 6])
    filled, empty = tf.sparse.fill_empty_rows(sp, -1.0)
    f, e = _run([filled, empty])
    np.testing.assert_array_equal(f.indices, [[0, 1], [0, 3], [1, 0], [2, 0], [3, 1], [4, 0]])
    np.testing.assert_array_equal(f.values, [1, 2, -1, 3, 4, -1])
    np.testing.assert_array_equal(e, [False, True, False, False, True])
    x = tf.SparseTensor([[0, 0], [0, 2], [1, 1]], [1.0, 2.0, 5.0], [2, 3])
    got = _run(tf.sparse.softmax(x)).values
    np.testing.assert_allclose(got, [np.exp(-1) / (1 + np.exp(-1)), 1 / (1 + np.exp(-1)), 1.0],
                               rtol=1e-6)
    zero = tf.SparseTensor([[0]], [0.0], [7])
    one = tf.SparseTensor([[1]], [1.0], [7])
    res = _run(tf.sparse_maximum(zero, one))
    np.testing.assert_array_equal(res.indices, [[0], [1]])
    np.testing.assert_array_equal(res.values, [0, 1])
    with pytest.raises(ValueError, match="SparseSoftmax.*rank >= 2"):
        tf.sparse.softmax(tf.SparseTensor([[0]], [1.0], [3]))


def test_sparse_times_dense_broadcasts_dense_side():
    sp = tf.SparseTensor([[0, 1], [1, 2]], [2.0, 3.0], [2, 3])
    got = _run([(sp * tf.constant([10.0, 20.0, 30.0])).values,
                (sp / tf.constant([[2.0], [3.0]])).values])
    np.testing.assert_array_equal(got[0], [40, 90])
    np.testing.assert_array_equal(got[1], [1, 1])
    with pytest.raises(ValueError, match="SparseDenseCwiseMul.*does not broadcast"):
        sp * tf.ones([4])
    with pytest.raises(ValueError, match="more dimensions"):
        sp * tf.ones([1, 2, 3])


def test_embedding_lookup_sparse_numbers():
    params = tf.constant(np.arange(10, dtype=np.float32).reshape(5, 2))
    ids = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], tf.constant([1, 3, 4], tf.int64), [3, 2])
    w = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], [1.0, 3.0, 2.0], [3, 2])
    got = _run([tf.nn.embedding_lookup_sparse(params, ids, None, combiner="sum"),
                tf.nn.embedding_lookup_sparse(params, ids, w, combiner="mean"),
                tf.nn.embedding_lookup_sparse(params, ids, w, combiner="sqrtn")])
    np.testing.assert_allclose(got[0], [[8, 10], [0, 0], [8, 9]])
    np.testing.assert_allclose(got[1], [[5, 6], [0, 0], [8, 9]])
    np.testing.assert_allclose(got[2], [[20 / np.sqrt(10), 24 / np.sqrt(10)], [0, 0], [8, 9]],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="combiner"):
        tf.nn.embedding_lookup_sparse(params, ids, None, combiner="max")
    with pytest.raises(ValueError, match="sp_weights.values has shape"):
        tf.nn.embedding_lookup_sparse(params, ids, tf.SparseTensor([[0, 0]], [1.0], [3, 2]))


def test_safe_embedding_lookup_sparse_default_id_and_rank3():
    params = tf.constant(np.arange(10, dtype=np.float32).reshape(5, 2))
    ids = tf.SparseTensor([[0, 0, 0], [0, 1, 0], [1, 1, 1]],
                          tf.constant([2, -1, 4], tf.int64), [2, 2, 2])
    got = _run([tf.nn.safe_embedding_lookup_sparse(params, ids),
                tf.nn.safe_embedding_lookup_sparse(params, ids, default_id=0)])
    assert got[0].shape == (2, 2, 2)
    np.testing.assert_allclose(got[0], [[[4, 5], [0, 0]], [[0, 0], [8, 9]]])
    np.testing.assert_allclose(got[1], [[[4, 5], [0, 1]], [[0, 1], [8, 9]]])


def test_training_step_with_sparse_inputs_lowers_the_loss():
    rng = np.random.default_rng(0)
    x = tf.sparse_placeholder(tf.float32, shape=[None, 6])       # bag-of-words features
    ids = tf.sparse_placeholder(tf.int64, shape=[None, 3])       # token ids per example
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable(rng.normal(size=(6, 1)).astype(np.float32))
    emb = tf.Variable(rng.normal(size=(7, 1)).astype(np.float32))
    pred = tf.sparse_tensor_dense_matmul(x, w) + tf.nn.embedding_lookup_sparse(
        emb, ids, None, combiner="mean")
    loss = tf.reduce_mean(tf.square(pred - y))
    gw, gemb = tf.gradients(loss, [w, emb])
    assert isinstance(gemb, tf.IndexedSlices)
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    feed = {x: tf.SparseTensorValue([[0, 1], [0, 4], [1, 2], [2, 5]], np.float32([1, 2, 1, 3]),
                                    [3, 6]),
            ids: ([[0, 0], [0, 1], [1, 0], [2, 0], [2, 2]], [1, 4, 6, 0, 2], [3, 3]),
            y: np.float32([[1], [-1], [0.5]])}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, feed)
        for _ in range(20):
            sess.run(step, feed)
        last = sess.run(loss, feed)
    assert last < 0.5 * first


def test_sparse_segment_errors_and_num_segments():
    data = tf.constant(np.ones((3, 2), np.float32))
    got = _run(tf.sparse.segment_sum(data, [0, 1], [0, 0], num_segments=3))
    np.testing.assert_array_equal(got, [[2, 2], [0, 0], [0, 0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="segment_ids must be sorted"):
        _run(tf.sparse_segment_sum(data, [0, 1], [1, 0]))
    with pytest.raises(ValueError, match="same length"):
        tf.sparse_segment_sum(data, [0, 1, 2], [0, 0])


def test_to_indicator_merge_and_make_callable():
    ids = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], tf.constant([3, 1, 2], tf.int64), [3, 2])
    ind = tf.sparse.to_indicator(ids, 4)
    assert ind.dtype == tf.bool
    np.testing.assert_array_equal(_run(ind), [[False, True, False, True], [False] * 4,
                                             [False, False, True, False]])
    ph = tf.sparse_placeholder(tf.float32, [None, 2])
    dense = tf.sparse.to_dense(ph)
    with tf.Session() as sess:
        f = sess.make_callable([dense, ph], [ph])
        d, back = f(tf.SparseTensorValue([[1, 1]], [2.5], [2, 2]))
        np.testing.assert_array_equal(d, [[0, 0], [0, 2.5]])
        assert isinstance(back, tf.SparseTensorValue) and back.values.tolist() == [2.5]
