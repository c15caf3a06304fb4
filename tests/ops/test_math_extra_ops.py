"""Inverse hyperbolics, erfc, sorting/searching, functional scatters and small helpers."""

import math

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

IDX = np.array([[0, 1], [2, 0]])

CASES = [
    OpCase("asinh", tf.asinh, np.arcsinh, [(3, 4)]),
    OpCase("acosh", tf.acosh, np.arccosh, [(3, 4)], domain=(1.2, 3.0)),
    OpCase("atanh", tf.atanh, np.arctanh, [(3, 4)], domain=(-0.8, 0.8)),
    OpCase("erfc", tf.erfc, np.vectorize(math.erfc), [(5,)]),
    OpCase("sort", tf.sort, lambda x: np.sort(x, -1), [(3, 5)]),
    OpCase("sort_desc_axis0", lambda x: tf.sort(x, axis=0, direction="DESCENDING"),
           lambda x: -np.sort(-x, 0), [(4, 3)]),
    OpCase("tensor_scatter_update",
           lambda t, u: tf.tensor_scatter_nd_update(t, tf.constant(IDX), u),
           lambda t, u: _np_scatter(t, u, "update"), [(3, 2, 2), (2, 2)]),
    OpCase("tensor_scatter_add",
           lambda t, u: tf.tensor_scatter_add(t, tf.constant(IDX), u),
           lambda t, u: _np_scatter(t, u, "add"), [(3, 2, 2), (2, 2)]),
    OpCase("tensor_scatter_sub",
           lambda t, u: tf.tensor_scatter_nd_sub(t, tf.constant([[1], [1]]), u),
           lambda t, u: t - np.stack([np.zeros(2), u[0] + u[1], np.zeros(2)]), [(3, 2), (2, 2)]),
    OpCase("ensure_shape", lambda x: tf.ensure_shape(x, [None, 3]) * 2.0, lambda x: 2 * x,
           [(2, 3)]),
    # integer / non-differentiable ops: forward, static shapes and devices
    OpCase("searchsorted", tf.searchsorted, lambda s, v: np.searchsorted(s, v), [(5,), (3,)],
           inputs=[np.array([0.0, 1.0, 2.0, 4.0, 8.0]), np.array([1.5, -1.0, 9.0])],
           grad=False),
    OpCase("unravel_index", lambda i: tf.unravel_index(i, [3, 4]),
           lambda i: np.stack(np.unravel_index(i, (3, 4))), [(3,)],
           inputs=[np.array([0, 5, 11], dtype=np.int32)], grad=False),
    OpCase("truncatediv_mod", lambda x, y: (tf.truncatediv(x, y), tf.truncatemod(x, y)),
           lambda x, y: (np.trunc(x / y).astype(x.dtype), np.fmod(x, y)), [(4,), (4,)],
           inputs=[np.array([-7, 7, -7, 7]), np.array([2, 2, -2, -2])], grad=False),
    OpCase("broadcast_dynamic_shape", tf.broadcast_dynamic_shape,
           lambda a, b: np.array(np.broadcast_shapes(tuple(a), tuple(b))), [(2,), (3,)],
           inputs=[np.array([2, 1], dtype=np.int32), np.array([4, 1, 3], dtype=np.int32)],
           grad=False),
]


def _np_scatter(t, u, mode):
    out = t.copy()
    for (i, j), row in zip(IDX, u):
        out[i, j] = row if mode == "update" else out[i, j] + row
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


def _run(*fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(list(fetches), feed)


def test_sorting_searching_unravel_truncation():
    got = _run(tf.argsort([3, 1, 2, 1]), tf.argsort([3, 1, 2], direction="DESCENDING"),
               tf.sort(tf.constant([[3, 1, 2]], dtype=tf.int64)),
               tf.searchsorted([[0, 3, 9, 9, 10], [1, 2, 3, 4, 5]], [[2, 4, 9], [0, 2, 6]]),
               tf.searchsorted([1.0, 2.0, 2.0, 3.0], [2.0], side="right"),
               tf.unravel_index([1, 5, 7], [3, 3]),
               tf.truncatediv(tf.constant([-7, 7, -7]), tf.constant([2, -2, -2])),
               tf.truncatemod(tf.constant([-7, 7]), tf.constant([2, -2])),
               tf.div(tf.constant([-7]), tf.constant([2])))
    assert got[0].tolist() == [1, 3, 2, 0] and got[0].dtype == np.int32
    assert got[1].tolist() == [0, 2, 1]
    assert got[2].tolist() == [[1, 2, 3]]
    assert got[3].tolist() == [[1, 2, 2], [0, 1, 5]]
    assert got[4].tolist() == [3]
    assert got[5].tolist() == [[0, 1, 2], [1, 2, 1]]
    assert got[6].tolist() == [-3, -3, 3] and got[7].tolist() == [-1, 1]
    assert got[8].tolist() == [-4]                # tf.div floors for ints, truncatediv does not


def test_helpers():
    x = tf.placeholder(tf.float32, [None, 3])
    e = tf.ensure_shape(x, [2, None])
    assert e.shape.as_list() == [2, 3]
    with pytest.raises(ValueError, match="incompatible"):
        tf.ensure_shape(x, [2, 4])
    a, b = tf.identity_n([x, x])
    assert tf.is_tensor(a) and tf.is_tensor(tf.Variable(1.0)) and not tf.is_tensor(1.0)
    assert tf.is_numeric_tensor(a) and not tf.is_numeric_tensor(tf.constant(True))
    assert tf.dimension_value(tf.TensorShape([3])[0]) == 3 and tf.dimension_value(None) is None
    assert tf.dimension_at_index(tf.TensorShape([None, 5]), 1) == 5
    assert tf.broadcast_static_shape(tf.TensorShape([2, 1]), tf.TensorShape([3])).as_list() \
        == [2, 3]
    with pytest.raises(ValueError, match="Incompatible"):
        tf.broadcast_static_shape(tf.TensorShape([2]), tf.TensorShape([3]))
    got = _run(e, tf.broadcast_dynamic_shape(tf.constant([2, 1]), tf.constant([4, 1, 3])),
               tf.is_non_decreasing([1, 1, 2]), tf.is_strictly_increasing([1, 1, 2]),
               tf.is_strictly_increasing(tf.constant([], dtype=tf.int32)),
               tf.parallel_stack([[1], [2]]), feed={x: np.ones((2, 3))})
    assert got[1].tolist() == [4, 2, 3]
    assert got[2] and not got[3] and got[4]
    assert got[5].tolist() == [[1], [2]]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible"):
        _run(e, feed={x: np.ones((3, 3))})
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad values"):
        _run(tf.verify_tensor_all_finite(tf.constant([np.nan]), "bad values"))
