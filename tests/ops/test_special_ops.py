"""lgamma, digamma, polygamma, igamma, igammac, betainc: values against scipy.special,
gradients against float64 finite differences."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

try:                       # the rows also serve the coverage and device checks: scipy optional
    from scipy import special
except ImportError:
    special = None


def _ref(name):
    return getattr(special, name) if special is not None else None


POS = (0.3, 4.0)

CASES = [
    OpCase("lgamma", tf.lgamma, _ref("gammaln"), [(3, 4)], domain=(-3.7, 5.0)),
    OpCase("digamma", tf.digamma, _ref("digamma"), [(3, 4)], domain=POS),
    OpCase("digamma_negative", tf.digamma, _ref("digamma"), [(6,)],
           inputs=[np.array([-2.5, -1.3, -0.7, 0.2, 7.5, 30.0])], rtol=1e-9),
    OpCase("polygamma", tf.polygamma, _ref("polygamma"), [(2, 3), (2, 3)],
           inputs=[np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 4.0]]),
                   np.array([[0.4, 1.5, 3.0], [2.0, 9.0, 0.7]])],
           grad_inputs=[1], rtol=1e-9),
    OpCase("igamma", tf.igamma, _ref("gammainc"), [(3, 4), (3, 4)], domain=[POS, (0.1, 6.0)],
           order2=False),
    OpCase("igamma_x_bcast", tf.igamma, _ref("gammainc"), [(4,), (3, 4)],
           domain=[POS, (0.1, 6.0)], grad_inputs=[1]),
    OpCase("igammac", tf.igammac, _ref("gammaincc"), [(3, 4), (3, 4)],
           domain=[POS, (0.1, 6.0)], order2=False),
    OpCase("betainc", tf.betainc, _ref("betainc"), [(3, 4), (3, 4), (3, 4)],
           domain=[POS, POS, (0.05, 0.95)], grad_inputs=[2]),
    OpCase("ndtri", tf.math.ndtri, _ref("ndtri"), [(3, 4)], domain=(0.01, 0.99), rtol=1e-12),
    OpCase("ndtri_tails", tf.math.ndtri, _ref("ndtri"), [(4,)],
           inputs=[np.array([1e-12, 3e-3, 0.999, 1 - 1e-6])], grad_tol=1e-4, eps=1e-14,
           order2=False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def test_special_functions_in_tails_and_edges():
    pytest.importorskip("scipy")
    a = tf.constant([0.5, 3.0, 50.0, 200.0], tf.float64)
    x = tf.constant([0.01, 30.0, 40.0, 230.0], tf.float64)
    b = tf.constant([2.0, 0.5, 40.0, 7.0], tf.float64)
    u = tf.constant([0.0, 1.0, 0.999, 1e-4], tf.float64)
    with tf.Session() as sess:
        p, q, bi, lg = sess.run([tf.igamma(a, x), tf.igammac(a, x), tf.betainc(a, b, u),
                                 tf.lgamma(tf.constant([0.0, -2.0, 1e-8, 171.5], tf.float64))])
    av, xv, bv, uv = (np.array(v) for v in ([0.5, 3.0, 50.0, 200.0], [0.01, 30.0, 40.0, 230.0],
                                            [2.0, 0.5, 40.0, 7.0], [0.0, 1.0, 0.999, 1e-4]))
    np.testing.assert_allclose(p, special.gammainc(av, xv), rtol=1e-12)
    np.testing.assert_allclose(q, special.gammaincc(av, xv), rtol=1e-10)   # upper tail, 1e-11
    np.testing.assert_allclose(bi, special.betainc(av, bv, uv), rtol=1e-12, atol=1e-300)
    assert np.isinf(lg[0]) and np.isinf(lg[1])
    np.testing.assert_allclose(lg[2:], special.gammaln([1e-8, 171.5]), rtol=1e-13)
    assert tf.math.lgamma is tf.lgamma and tf.math.betainc is tf.betainc


def test_float32_and_tf_math_names():
    pytest.importorskip("scipy")
    x = tf.constant([0.5, 2.0], tf.float32)
    y = tf.math.digamma(x)
    assert y.dtype == tf.float32 and y.shape.as_list() == [2]
    with pytest.raises(TypeError, match="floating-point"):
        tf.lgamma(tf.constant([1, 2]))
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y), special.digamma([0.5, 2.0]), rtol=1e-6)
