"""Array odds and ends: harness rows for the differentiable ones, TF1 semantics with
expected numbers (most taken from TF's own documentation examples) for all of them."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

IDS = np.array([0, 0, 1, 3, 3, 3])
UIDS = np.array([2, 0, -1, 2, 1, 0])


def _scatter_row(x):
    """Scatter ops on a variable initialised from ``x`` in the same run."""
    v = tf.Variable(x)
    with tf.control_dependencies([v.initializer]):
        a = tf.scatter_add(v, [0, 0], tf.ones([2, 2], x.dtype))
    with tf.control_dependencies([a]):
        b = tf.scatter_nd_update(v, [[2, 1]], tf.constant([7.0], x.dtype))
    with tf.control_dependencies([b]):
        return tf.identity(tf.scatter_update(v, [1], tf.zeros([1, 2], x.dtype)))


def _scatter_row_np(x):
    out = x.copy()
    out[0] += 2
    out[2, 1] = 7
    out[1] = 0
    return out


def _np_segment(data, ids, n, fn, empty):
    out = np.full((n,) + data.shape[1:], empty, dtype=data.dtype)
    for s in range(n):
        rows = data[ids == s]
        if len(rows):
            out[s] = fn(rows, axis=0)
    return out


CASES = [
    OpCase("segment_sum", lambda x: tf.segment_sum(x, tf.constant(IDS)),
           lambda x: _np_segment(x, IDS, 4, np.sum, 0), [(6, 2)]),
    OpCase("segment_mean", lambda x: tf.segment_mean(x, tf.constant(IDS)),
           lambda x: _np_segment(x, IDS, 4, np.mean, 0), [(6, 2)]),
    OpCase("segment_max", lambda x: tf.segment_max(x, tf.constant(IDS)),
           lambda x: _np_segment(x, IDS, 4, np.max, 0), [(6, 3)], order2=False),
    OpCase("segment_min", lambda x: tf.math.segment_min(x, tf.constant(IDS)),
           lambda x: _np_segment(x, IDS, 4, np.min, 0), [(6,)], order2=False),
    OpCase("segment_prod", lambda x: tf.segment_prod(x, tf.constant(IDS)),
           lambda x: _np_segment(x, IDS, 4, np.prod, 1), [(6,)], domain=(0.5, 2.0)),
    OpCase("unsorted_segment_sum", lambda x: tf.unsorted_segment_sum(x, tf.constant(UIDS), 4),
           lambda x: _np_segment(x, UIDS, 4, np.sum, 0), [(6, 2)]),
    OpCase("unsorted_segment_sum_2d_ids",
           lambda x: tf.unsorted_segment_sum(x, tf.constant(UIDS.reshape(2, 3)), 3),
           lambda x: _np_segment(x.reshape(6, 2), UIDS, 3, np.sum, 0), [(2, 3, 2)]),
    OpCase("unsorted_segment_mean", lambda x: tf.unsorted_segment_mean(x, tf.constant(UIDS), 3),
           lambda x: _np_segment(x, UIDS, 3, np.mean, 0), [(6,)]),
    OpCase("unsorted_segment_max", lambda x: tf.unsorted_segment_max(x, tf.constant(UIDS), 3),
           lambda x: _np_segment(x, UIDS, 3, np.max, 0), [(6, 2)], order2=False),
    OpCase("boolean_mask", lambda x: tf.boolean_mask(x, tf.constant([True, False, True])),
           lambda x: x[[0, 2]], [(3, 4)]),
    OpCase("boolean_mask_2d_axis1",
           lambda x: tf.boolean_mask(x, tf.constant([[True, False], [False, True]]), axis=1),
           lambda x: x.reshape(3, 4)[:, [0, 3]], [(3, 2, 2)]),
    OpCase("reverse_sequence",
           lambda x: tf.reverse_sequence(x, tf.constant([2, 4, 0]), seq_axis=1, batch_axis=0),
           lambda x: np.stack([np.concatenate([r[:n][::-1], r[n:]]) for r, n in
                               zip(x, [2, 4, 0])]), [(3, 4, 2)]),
    OpCase("reverse_sequence_time_major",
           lambda x: tf.reverse_sequence(x, tf.constant([3, 1]), seq_axis=0, batch_axis=1),
           lambda x: np.stack([np.concatenate([x[:n, b][::-1], x[n:, b]]) for b, n in
                               enumerate([3, 1])], axis=1), [(4, 2)]),
    OpCase("space_to_depth", lambda x: tf.space_to_depth(x, 2),
           lambda x: x.reshape(1, 2, 2, 2, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(1, 2, 2, 12),
           [(1, 4, 4, 3)], dynamic=False),
    OpCase("depth_to_space_roundtrip", lambda x: tf.depth_to_space(tf.space_to_depth(x, 2), 2),
           lambda x: x, [(2, 4, 2, 1)], dynamic=False),
    OpCase("roll", lambda x: tf.roll(x, [1, -2], [0, 1]),
           lambda x: np.roll(x, (1, -2), (0, 1)), [(3, 4)]),
    OpCase("dynamic_partition_stitch",
           lambda x: tf.dynamic_stitch(
               [tf.constant([1, 3]), tf.constant([0, 2])],
               tf.dynamic_partition(x * x, tf.constant([1, 0, 1, 0]), 2)),
           lambda x: x * x, [(4, 2)], dynamic=False),
    # integer / non-differentiable ops: forward, static shapes and devices
    OpCase("unique", tf.unique, lambda x: (np.array([3, 1, 2, 5]), np.array([0, 1, 0, 2, 1, 3])),
           [(6,)], inputs=[np.array([3, 1, 3, 2, 1, 5])], grad=False),
    OpCase("setdiff1d", tf.setdiff1d, lambda x, y: (np.array([1, 4]), np.array([0, 3])),
           [(4,), (2,)], inputs=[np.array([1, 2, 3, 4]), np.array([3, 2])], grad=False),
    OpCase("invert_permutation", tf.invert_permutation, np.argsort, [(4,)],
           inputs=[np.array([2, 0, 3, 1], dtype=np.int32)], grad=False),
    OpCase("linspace", lambda a, b: tf.linspace(a, b, 5), lambda a, b: np.linspace(a, b, 5),
           [(), ()], grad=False),
    OpCase("bincount", lambda x: tf.bincount(x, minlength=6), lambda x: np.bincount(x, None, 6),
           [(5,)], inputs=[np.array([1, 4, 1, 0, 4], dtype=np.int32)], grad=False),
    OpCase("scatter_ops_on_a_variable", lambda x: _scatter_row(x),
           lambda x: _scatter_row_np(x), [(3, 2)], grad=False, dynamic=False),
    OpCase("log_sigmoid", tf.log_sigmoid, lambda x: -np.log1p(np.exp(-x)), [(3, 4)],
           domain=(-5, 5)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def _run(*fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(list(fetches), feed)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def test_unique_keeps_first_occurrence_order():
    y, idx = tf.unique([1, 1, 2, 4, 4, 4, 7, 8, 8])
    yv, iv = _run(y, idx)
    assert yv.tolist() == [1, 2, 4, 7, 8] and iv.tolist() == [0, 0, 1, 2, 2, 2, 3, 4, 4]
    assert iv.dtype == np.int32
    y, idx, count = tf.unique_with_counts(tf.constant([3.0, 1.0, 3.0, 2.0]), out_idx=tf.int64)
    yv, iv, cv = _run(y, idx, count)
    assert yv.tolist() == [3.0, 1.0, 2.0] and iv.tolist() == [0, 1, 0, 2]
    assert cv.tolist() == [2, 1, 1] and cv.dtype == np.int64


def test_segment_docs_examples():
    c = tf.constant([[1, 2, 3, 4], [4, 3, 2, 1], [5, 6, 7, 8]])
    got = _run(tf.segment_sum(c, tf.constant([0, 0, 1])),
               tf.unsorted_segment_sum(c, tf.constant([0, 1, 0]), num_segments=2),
               tf.segment_max(tf.constant([1.0, 5.0, 3.0]), [0, 2, 2]),
               tf.unsorted_segment_max(tf.constant([1, 5, 3]), [0, 2, 2], 3))
    assert got[0].tolist() == [[5, 5, 5, 5], [5, 6, 7, 8]]
    assert got[1].tolist() == [[6, 8, 10, 12], [4, 3, 2, 1]]
    assert got[2].tolist() == [1.0, 0.0, 5.0]           # empty sorted segment: 0
    assert got[3].tolist() == [1, np.iinfo(np.int32).min, 5]   # unsorted: lowest value
    m = _run(tf.segment_mean(tf.constant([1, 2, -7, 2]), [0, 0, 1, 1]),
             tf.unsorted_segment_mean(tf.constant([1.0, 2.0, 4.0]), [1, 1, 1], 3))
    assert m[0].tolist() == [1, -2] and m[0].dtype == np.int32
    np.testing.assert_allclose(m[1], [0.0, 7.0 / 3.0, 0.0], rtol=1e-6)


def test_segment_ids_must_be_sorted():
    with pytest.raises(Exception, match="not increasing"):
        _run(tf.segment_sum(tf.constant([1.0, 2.0]), tf.constant([1, 0])))


def test_segment_prod_gradient_with_zeros():
    x = tf.constant([2.0, 0.0, 3.0, 0.0, 0.0, 5.0, 4.0])
    ids = tf.constant([0, 0, 0, 1, 1, 2, 2])
    g = tf.gradients(tf.reduce_sum(tf.segment_prod(x, ids)), x)[0]
    gu = tf.gradients(tf.reduce_sum(tf.unsorted_segment_prod(x, ids, 3)), x)[0]
    got = _run(g, gu)
    assert got[0].tolist() == [0.0, 6.0, 0.0, 0.0, 0.0, 4.0, 5.0] == got[1].tolist()


def test_segment_max_splits_gradient_between_ties():
    x = tf.constant([2.0, 2.0, 1.0])
    g = tf.gradients(tf.reduce_sum(tf.segment_max(x, [0, 0, 0])), x)[0]
    assert _run(g)[0].tolist() == [0.5, 0.5, 0.0]


def test_boolean_and_sequence_masks():
    t = tf.constant([[1, 2], [3, 4], [5, 6]])
    m = tf.boolean_mask(t, np.array([True, False, True]))
    assert m.shape.as_list() == [None, 2]
    got = _run(m, tf.sequence_mask([1, 3, 2], 5), tf.sequence_mask([[1, 3], [2, 0]]),
               tf.sequence_mask(tf.constant([2]), 3, dtype=tf.float32),
               tf.boolean_mask(tf.constant([0, 1, 2, 3]), [True, False, True, True]))
    assert got[0].tolist() == [[1, 2], [5, 6]]
    assert got[1].astype(int).tolist() == [[1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]]
    assert got[2].astype(int).tolist() == [[[1, 0, 0], [1, 1, 1]], [[1, 1, 0], [0, 0, 0]]]
    assert got[3].tolist() == [[1.0, 1.0, 0.0]] and got[3].dtype == np.float32
    assert got[4].tolist() == [0, 2, 3]
    with pytest.raises(ValueError, match="incompatible"):
        tf.boolean_mask(t, [True, False])


def test_scatter_ops_on_variables_replace_the_value():
    v = tf.Variable([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    up = tf.scatter_update(v, [2, 0], [[9.0, 9.0], [7.0, 7.0]])
    add = tf.scatter_add(v, [1, 1], [[1.0, 2.0], [10.0, 20.0]])
    sub = tf.scatter_sub(v, tf.constant([0]), tf.constant([[1.0, 1.0]]))
    mul = tf.scatter_mul(v, [1], [[2.0, 3.0]])
    nd = tf.scatter_nd_update(v, [[0, 1], [2, 0]], [5.0, 6.0])
    with tf.Session() as sess:
        sess.run(v.initializer)
        before = sess.run(v)
        assert sess.run(up).tolist() == [[7, 7], [2, 2], [9, 9]]
        assert before.tolist() == [[1, 1], [2, 2], [3, 3]]      # earlier fetch not mutated
        assert sess.run(add).tolist() == [[7, 7], [13, 24], [9, 9]]  # repeated index summed
        assert sess.run(sub).tolist() == [[6, 6], [13, 24], [9, 9]]
        assert sess.run(mul).tolist() == [[6, 6], [26, 72], [9, 9]]
        assert sess.run(nd).tolist() == [[6, 5], [26, 72], [6, 9]]
        assert sess.run(v).tolist() == [[6, 5], [26, 72], [6, 9]]
        with pytest.raises(Exception, match="not in \\[0, 3\\)"):
            sess.run(tf.scatter_update(v, [3], [[0.0, 0.0]]))
        assert sess.run(v).tolist() == [[6, 5], [26, 72], [6, 9]]   # rolled back
    with pytest.raises(ValueError, match="updates must have shape"):
        tf.scatter_update(v, [0, 1], [[1.0, 2.0]])
    with pytest.raises(TypeError, match="not a variable"):
        tf.scatter_add(tf.constant([1.0]), [0], [1.0])


def test_setdiff_invert_permutation_linspace_meshgrid():
    out, idx = tf.setdiff1d([1, 2, 3, 4, 5, 6], [1, 3, 5])
    x, y = tf.meshgrid([1, 2, 3], [4, 5])
    xi, yi = tf.meshgrid([1, 2, 3], [4, 5], indexing="ij")
    got = _run(out, idx, tf.invert_permutation([3, 4, 0, 2, 1]),
               tf.linspace(10.0, 12.0, 3), tf.lin_space(0.0, 1.0, 5), x, y, xi, yi)
    assert got[0].tolist() == [2, 4, 6] and got[1].tolist() == [1, 3, 5]
    assert got[2].tolist() == [2, 4, 3, 0, 1]
    assert got[3].tolist() == [10.0, 11.0, 12.0] and got[3].dtype == np.float32
    assert got[4].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert got[5].tolist() == [[1, 2, 3], [1, 2, 3]] and got[6].tolist() == [[4, 4, 4], [5, 5, 5]]
    assert got[7].tolist() == [[1, 1], [2, 2], [3, 3]] and got[8].tolist() == [[4, 5]] * 3
    assert tf.linspace(0.0, 1.0, 4).shape.as_list() == [4]


def test_space_to_depth_docs_example():
    x = tf.constant(np.arange(1, 5, dtype=np.float32).reshape(1, 2, 2, 1))
    s2d = tf.space_to_depth(x, 2)
    got = _run(s2d, tf.depth_to_space(s2d, 2),
               tf.space_to_depth(tf.transpose(x, [0, 3, 1, 2]), 2, data_format="NCHW"))
    assert got[0].tolist() == [[[[1, 2, 3, 4]]]]
    np.testing.assert_array_equal(got[1], np.arange(1, 5).reshape(1, 2, 2, 1))
    assert got[2].reshape(-1).tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="divisible"):
        tf.space_to_depth(tf.zeros([1, 3, 4, 1]), 2)


def test_reverse_sequence_docs_example():
    x = tf.constant(np.arange(1, 9).reshape(4, 2))     # time-major, batch of 2
    r = tf.reverse_sequence(x, [3, 2], seq_axis=0, batch_axis=1)
    assert _run(r)[0].tolist() == [[5, 4], [3, 2], [1, 6], [7, 8]]
    with pytest.raises(ValueError, match="seq_lengths must have shape"):
        tf.reverse_sequence(x, [1, 2, 3], seq_axis=0, batch_axis=1)


def test_legacy_names():
    for name in ("arg_min", "arg_max", "to_float", "to_int32", "to_int64", "to_double",
                 "initialize_all_variables", "mul", "sub", "neg", "select", "div",
                 "squared_difference", "Dimension", "log_sigmoid", "space_to_depth",
                 "depth_to_space", "meshgrid", "linspace", "lin_space", "invert_permutation",
                 "setdiff1d", "matrix_inverse", "matrix_determinant", "cholesky", "diag",
                 "diag_part", "trace", "norm", "einsum", "eye", "matrix_transpose",
                 "cumsum", "cumprod", "reverse", "reverse_v2", "unique", "boolean_mask",
                 "sequence_mask", "reverse_sequence", "segment_sum", "unsorted_segment_sum",
                 "scatter_update", "scatter_add", "scatter_sub"):
        assert hasattr(tf, name), name
    for name in ("inv", "det", "slogdet", "solve", "cholesky", "diag", "diag_part",
                 "set_diag", "band_part", "eye", "trace", "norm", "einsum", "matmul",
                 "transpose", "triangular_solve", "logdet", "qr", "svd", "adjoint"):
        assert hasattr(tf.linalg, name), name
    for name in ("segment_sum", "unsorted_segment_sum", "log_sigmoid", "cumsum", "trace"):
        assert hasattr(tf.math, name), name
    assert _run(tf.div(tf.constant(7), tf.constant(2)))[0] == 3      # TF1: floor for ints
    assert _run(tf.to_float(tf.arg_max(tf.constant([1, 3, 2]), 0)))[0] == 1.0


def test_roll_partition_stitch_bincount_confusion():
    parts = tf.dynamic_partition(tf.constant([10, 20, 30, 40, 50]), [0, 0, 1, 1, 0], 2)
    st = tf.dynamic_stitch([[6], [4, 1], [[5, 2], [0, 3]]],
                           [[61.0], [41.0, 11.0], [[51.0, 21.0], [1.0, 31.0]]])
    got = _run(parts[0], parts[1], st, tf.roll([0, 1, 2, 3, 4], 2, 0),
               tf.bincount([1, 1, 3, 0]), tf.bincount(tf.constant([1, 1, 3]), minlength=6),
               tf.bincount([0, 2, 2], weights=[0.5, 1.0, 2.0], dtype=tf.float32),
               tf.confusion_matrix([1, 2, 4], [2, 2, 4]),
               tf.math.confusion_matrix([0, 1], [1, 1], num_classes=3, weights=[2, 5]),
               tf.math.reduce_euclidean_norm(tf.constant([[3.0, 4.0]]), axis=1))
    assert got[0].tolist() == [10, 20, 50] and got[1].tolist() == [30, 40]
    assert got[2].tolist() == [1, 11, 21, 31, 41, 51, 61]
    assert got[3].tolist() == [3, 4, 0, 1, 2]
    assert got[4].tolist() == [1, 2, 0, 1] and got[5].tolist() == [0, 2, 0, 1, 0, 0]
    assert got[6].tolist() == [0.5, 0.0, 3.0] and got[6].dtype == np.float32
    assert got[7].tolist() == [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0],
                               [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]
    assert got[8].tolist() == [[0, 2, 0], [0, 5, 0], [0, 0, 0]]
    assert got[9].tolist() == [5.0]
