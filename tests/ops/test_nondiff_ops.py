"""Op harness rows for ops without gradients (comparisons, logic, indices, shapes) and
composites; forward, static shape and dtype are checked."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

A = np.array([[1.0, -2.0, 3.0], [0.5, 2.0, -1.0]])
B = np.array([[1.0, 2.0, 0.0], [0.5, -2.0, -1.0]])
BOOL_A = np.array([True, False, True, False])
BOOL_B = np.array([True, True, False, False])


def nd(name, fn, ref, inputs, **kw):
    return OpCase(name, fn, ref, [np.shape(i) for i in inputs], inputs=inputs, grad=False, **kw)


CASES = [
    nd("equal", tf.equal, np.equal, [A, B]),
    nd("not_equal", tf.not_equal, np.not_equal, [A, B]),
    nd("less", tf.less, np.less, [A, B]),
    nd("less_equal", tf.less_equal, np.less_equal, [A, B]),
    nd("greater", tf.greater, np.greater, [A, B]),
    nd("greater_equal", tf.greater_equal, np.greater_equal, [A, B]),
    nd("operators_cmp", lambda a, b: tf.logical_and(a < b, a <= b), lambda a, b: (a < b) & (a <= b),
       [A, B]),
    nd("logical_and", tf.logical_and, np.logical_and, [BOOL_A, BOOL_B]),
    nd("logical_or", tf.logical_or, np.logical_or, [BOOL_A, BOOL_B]),
    nd("logical_not", tf.logical_not, np.logical_not, [BOOL_A]),
    nd("logical_xor", tf.logical_xor, np.logical_xor, [BOOL_A, BOOL_B]),
    nd("floor", tf.floor, np.floor, [A]),
    nd("ceil", tf.ceil, np.ceil, [A]),
    nd("round_half_even", tf.round, np.round, [np.array([0.5, 1.5, 2.5, -0.5])]),
    nd("is_nan", tf.is_nan, np.isnan, [np.array([np.nan, 1.0, np.inf])]),
    nd("is_finite", tf.is_finite, np.isfinite, [np.array([np.nan, 1.0, np.inf])]),
    nd("argmax", lambda x: tf.argmax(x, 1), lambda x: np.argmax(x, 1), [A]),
    nd("argmin", lambda x: tf.argmin(x, 0), lambda x: np.argmin(x, 0), [A]),
    nd("floordiv_int", tf.floordiv, np.floor_divide, [np.array([7, -7, 8]), np.array([2, 2, 3])]),
    nd("mod_int", tf.mod, np.mod, [np.array([7, -7, 8]), np.array([3, 3, -3])]),
    nd("cast_to_int", lambda x: tf.cast(x, tf.int64), lambda x: x.astype(np.int64), [A]),
    nd("one_hot_axis0", lambda i: tf.one_hot(i, 3, axis=0), lambda i: np.eye(3)[i].T.astype(
        np.float32), [np.array([0, 2])]),
    nd("one_hot_on_off", lambda i: tf.one_hot(i, 2, on_value=5, off_value=-1),
       lambda i: np.where(np.eye(2)[i] > 0, 5, -1).astype(np.int32), [np.array([1, 0])]),
    nd("shape", tf.shape, lambda x: np.array(x.shape, np.int32), [A]),
    nd("size", tf.size, lambda x: np.int32(x.size), [A]),
    nd("rank", tf.rank, lambda x: np.int32(x.ndim), [A]),
    nd("where_coords", tf.where, lambda c: np.argwhere(c).astype(np.int64), [BOOL_A]),
    nd("reduce_any", lambda b: tf.reduce_any(b, 0), lambda b: b.any(0),
       [np.stack([BOOL_A, BOOL_B])]),
    nd("reduce_all", lambda b: tf.reduce_all(b, 1, keepdims=True),
       lambda b: b.all(1, keepdims=True), [np.stack([BOOL_A, BOOL_B])]),
    nd("is_inf", tf.is_inf, np.isinf, [np.array([np.nan, 1.0, -np.inf])]),
    nd("rint", tf.math.rint, np.rint, [np.array([0.5, 1.5, -2.7])]),
    nd("range_tensors", lambda a, b: tf.range(a, b, 2), lambda a, b: np.arange(a, b, 2),
       [np.int32(1), np.int32(8)]),
    nd("identity_n", lambda a, b: tf.identity_n([a, b]), lambda a, b: [a, b], [A, B]),
    # factorizations are unique up to signs: check that they reconstruct the input
    nd("qr_reconstructs", lambda a: tf.matmul(*tf.linalg.qr(a)), lambda a: a,
       [np.arange(12.0).reshape(4, 3) ** 1.5]),
    nd("svd_reconstructs", lambda a: (lambda s, u, v: tf.matmul(u * s, v, transpose_b=True))(
        *tf.linalg.svd(a)), lambda a: a, [np.arange(12.0).reshape(3, 4) ** 1.5]),
    nd("count_nonzero", tf.count_nonzero, lambda x: np.int64(np.count_nonzero(x)), [B]),
    OpCase("tensordot_1", lambda a, b: tf.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1),
           [(2, 3), (3, 4)], dynamic=False),   # as in TF, tensordot needs known ranks
    OpCase("tensordot_pairs", lambda a, b: tf.tensordot(a, b, [[0, 2], [1, 0]]),
           lambda a, b: np.tensordot(a, b, [[0, 2], [1, 0]]), [(2, 3, 4), (4, 2, 5)],
           dynamic=False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def test_random_op_statistics():
    tf.set_random_seed(0)
    u = tf.random_uniform((20000,), -2.0, 4.0)
    n = tf.random_normal((20000,), mean=1.0, stddev=3.0)
    t = tf.truncated_normal((20000,), stddev=1.0)
    i = tf.random_uniform((20000,), 0, 10, dtype=tf.int32)
    with tf.Session() as s:
        vu, vn, vt, vi = s.run([u, n, t, i])
    assert vu.dtype == np.float32 and -2 <= vu.min() and vu.max() < 4
    assert abs(vu.mean() - 1.0) < 0.05
    assert abs(vn.mean() - 1.0) < 0.1 and abs(vn.std() - 3.0) < 0.1
    assert np.abs(vt).max() <= 2.0 and abs(vt.std() - 0.88) < 0.02
    assert vi.dtype == np.int32 and set(np.unique(vi)) == set(range(10))
