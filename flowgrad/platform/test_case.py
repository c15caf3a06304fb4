"""``tf.test``: a ``unittest.TestCase`` with TF1's session helpers and array assertions,
plus ``compute_gradient`` / ``compute_gradient_error`` (numeric vs symbolic Jacobians)."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unittest
from typing import Iterator

import numpy as np

from flowgrad.framework import errors
from flowgrad.framework.graph import Graph, get_default_graph, reset_default_graph


class _NotCollected:
    """A method that test loaders do not take for a test although its name starts with
    ``test`` (``test_session``): seen on the class it is not callable."""

    def __init__(self, fn) -> None:
        self._fn = fn

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        return self._fn.__get__(obj, cls)


class TestCase(unittest.TestCase):
    """TF1's ``tf.test.TestCase``: each test starts with a fresh default graph.

    >>> class MyTest(TestCase):
    ...     def test_add(self):
    ...         import flowgrad as tf
    ...         with self.cached_session():
    ...             self.assertAllClose(tf.add(1.0, 2.0).eval(), 3.0)
    """

    def setUp(self) -> None:
        super().setUp()
        reset_default_graph()
        self._cached = None
        self._tmp = None

    def tearDown(self) -> None:
        if self._cached is not None:
            self._cached[1].close()
            self._cached = None
        super().tearDown()

    # --- sessions -----------------------------------------------------------------------
    @contextlib.contextmanager
    def session(self, graph: Graph | None = None, config=None, use_gpu: bool = False,
                force_gpu: bool = False) -> Iterator:
        """A new session on ``graph`` (default: the default graph), made the default."""
        from flowgrad.runtime.session import Session  # noqa: PLC0415
        sess = Session(graph=graph if graph is not None else get_default_graph(),
                       config=config)
        try:
            with sess.as_default():
                yield sess
        finally:
            sess.close()

    @contextlib.contextmanager
    def cached_session(self, graph: Graph | None = None, config=None, use_gpu: bool = False,
                       force_gpu: bool = False) -> Iterator:
        """One session per test (per graph), reused by later calls; closed in tearDown."""
        from flowgrad.runtime.session import Session  # noqa: PLC0415
        g = graph if graph is not None else get_default_graph()
        if self._cached is None or self._cached[0] is not g:
            if self._cached is not None:
                self._cached[1].close()
            self._cached = (g, Session(graph=g, config=config))
        with self._cached[1].as_default():
            yield self._cached[1]

    test_session = _NotCollected(cached_session)

    def evaluate(self, tensors):
        """Runs ``tensors`` (any nested structure) in the default or cached session."""
        from flowgrad.runtime.session import get_default_session  # noqa: PLC0415
        sess = get_default_session()
        if sess is not None:
            return sess.run(tensors)
        with self.cached_session() as sess:
            return sess.run(tensors)

    def get_temp_dir(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="flowgrad_test_")
            self.addCleanup(_rmtree, self._tmp)
        return self._tmp

    # --- assertions ---------------------------------------------------------------------
    def assertAllClose(self, a, b, rtol: float = 1e-6, atol: float = 1e-6,  # noqa: N802
                       msg=None) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            self.assertEqual(sorted(a), sorted(b), msg)
            for k in a:
                self.assertAllClose(a[k], b[k], rtol, atol, msg)
            return
        if isinstance(a, list | tuple) and isinstance(b, list | tuple) and \
                not _is_numeric_seq(a):
            self.assertEqual(len(a), len(b), msg)
            for x, y in zip(a, b):
                self.assertAllClose(x, y, rtol, atol, msg)
            return
        a, b = _arr(a), _arr(b)
        self.assertEqual(a.shape, b.shape, f"shape mismatch: {a.shape} vs {b.shape}. {msg or ''}")
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=msg or "", equal_nan=True)

    def assertAllCloseAccordingToType(self, a, b, rtol=1e-6, atol=1e-6,  # noqa: N802
                                      float_rtol=1e-6, float_atol=1e-6, half_rtol=1e-3,
                                      half_atol=1e-3, msg=None) -> None:
        a, b = _arr(a), _arr(b)
        if a.dtype == np.float32 or b.dtype == np.float32:
            rtol, atol = max(rtol, float_rtol), max(atol, float_atol)
        if a.dtype == np.float16 or b.dtype == np.float16:
            rtol, atol = max(rtol, half_rtol), max(atol, half_atol)
        self.assertAllClose(a, b, rtol, atol, msg)

    def assertAllEqual(self, a, b, msg=None) -> None:  # noqa: N802
        a, b = _arr(a), _arr(b)
        self.assertEqual(a.shape, b.shape, f"shape mismatch: {a.shape} vs {b.shape}. {msg or ''}")
        np.testing.assert_array_equal(a, b, err_msg=msg or "")

    def assertNotAllClose(self, a, b, **kwargs) -> None:  # noqa: N802
        try:
            self.assertAllClose(a, b, **kwargs)
        except AssertionError:
            return
        raise AssertionError("The two values are close at all elements")

    def assertArrayNear(self, farray1, farray2, err, msg=None) -> None:  # noqa: N802
        self.assertEqual(len(farray1), len(farray2), msg)
        for f1, f2 in zip(farray1, farray2):
            self.assertNear(float(f1), float(f2), err, msg)

    def assertNear(self, f1, f2, err, msg=None) -> None:  # noqa: N802
        self.assertTrue(abs(f1 - f2) <= err, f"{f1} != {f2} +/- {err}{' ' + msg if msg else ''}")

    def assertAllGreater(self, a, comparison_target) -> None:  # noqa: N802
        self.assertGreater(np.min(_arr(a)), comparison_target)

    def assertAllLess(self, a, comparison_target) -> None:  # noqa: N802
        self.assertLess(np.max(_arr(a)), comparison_target)

    def assertAllGreaterEqual(self, a, comparison_target) -> None:  # noqa: N802
        self.assertGreaterEqual(np.min(_arr(a)), comparison_target)

    def assertAllLessEqual(self, a, comparison_target) -> None:  # noqa: N802
        self.assertLessEqual(np.max(_arr(a)), comparison_target)

    def assertAllInRange(self, target, lower_bound, upper_bound, open_lower_bound=False,  # noqa: N802
                         open_upper_bound=False) -> None:
        t = _arr(target)
        lo_ok = t > lower_bound if open_lower_bound else t >= lower_bound
        hi_ok = t < upper_bound if open_upper_bound else t <= upper_bound
        self.assertTrue(bool(np.all(lo_ok & hi_ok)),
                        f"values outside [{lower_bound}, {upper_bound}]: {t[~(lo_ok & hi_ok)]}")

    def assertShapeEqual(self, np_array, tf_tensor, msg=None) -> None:  # noqa: N802
        self.assertEqual(list(np.shape(np_array)), tf_tensor.get_shape().as_list(), msg)

    def assertDTypeEqual(self, target, expected_dtype) -> None:  # noqa: N802
        from flowgrad.framework.dtypes import as_dtype  # noqa: PLC0415
        self.assertEqual(_arr(target).dtype, as_dtype(expected_dtype).np)

    def assertDeviceEqual(self, device1, device2, msg=None) -> None:  # noqa: N802
        self.assertEqual(str(device1 or ""), str(device2 or ""), msg)

    @contextlib.contextmanager
    def assertRaisesWithPredicateMatch(self, exception_type, expected_err_re_or_predicate  # noqa: N802
                                       ) -> Iterator[None]:
        if callable(expected_err_re_or_predicate):
            predicate = expected_err_re_or_predicate
        else:
            def predicate(e):
                return re.search(expected_err_re_or_predicate, str(e)) is not None
        try:
            yield
        except exception_type as e:
            if not predicate(e):
                raise AssertionError(f"Exception of type {type(e).__name__} did not match: "
                                     f"{e}") from e
            return
        raise AssertionError(f"{exception_type.__name__} not raised")

    def assertRaisesOpError(self, expected_err_re_or_predicate):  # noqa: N802
        return self.assertRaisesWithPredicateMatch(errors.OpError,
                                                   expected_err_re_or_predicate)

    def assertProtoEquals(self, expected, message, msg=None) -> None:  # noqa: N802
        self.assertEqual(expected, message, msg)


def _is_numeric_seq(v) -> bool:
    try:
        arr = np.asarray(v)
    except (ValueError, TypeError):
        return False
    return arr.dtype != object


def _arr(v) -> np.ndarray:
    if hasattr(v, "eval") and not isinstance(v, np.ndarray):
        v = v.eval()
    return np.asarray(v)


def _rmtree(path: str) -> None:
    import shutil  # noqa: PLC0415
    shutil.rmtree(path, ignore_errors=True)


def main(argv=None) -> None:
    """``tf.test.main``: runs the tests of ``__main__`` with unittest."""
    unittest.main(argv=argv)


def get_temp_dir() -> str:
    d = os.path.join(tempfile.gettempdir(), "flowgrad_test")
    os.makedirs(d, exist_ok=True)
    return d


# ----- numeric gradients ------------------------------------------------------------------
def compute_gradient(x, x_shape, y, y_shape, x_init_value=None, delta: float = 1e-3,
                     init_targets=None, extra_feed_dict=None):
    """``tf.test.compute_gradient``: ``(theoretical, numerical)`` Jacobians of ``y`` with
    respect to ``x`` (each ``[x.size, y.size]``), in the default session; a list of ``x``
    gives a list of pairs."""
    from flowgrad.autodiff.gradients import gradients  # noqa: PLC0415
    from flowgrad.ops import array_ops as A  # noqa: PLC0415
    from flowgrad.ops import math_ops as M  # noqa: PLC0415
    from flowgrad.ops import reduce_ops as R  # noqa: PLC0415
    from flowgrad.runtime.session import get_default_session  # noqa: PLC0415
    if isinstance(x, list | tuple):
        inits = x_init_value or [None] * len(x)
        return [compute_gradient(xi, si, y, y_shape, vi, delta, init_targets, extra_feed_dict)
                for xi, si, vi in zip(x, x_shape, inits)]
    sess = get_default_session()
    if sess is None:
        raise ValueError("compute_gradient needs a default session: call it inside "
                         "`with tf.Session():` or a test's cached_session()")
    if init_targets:
        sess.run(init_targets)
    feed = dict(extra_feed_dict or {})
    x_shape, y_shape = tuple(x_shape), tuple(y_shape)
    x0 = np.asarray(x_init_value if x_init_value is not None
                    else np.random.default_rng(0).standard_normal(x_shape),
                    dtype=x.dtype.np).reshape(x_shape)
    ny, nx = int(np.prod(y_shape)), int(np.prod(x_shape))
    dy = A.placeholder(y.dtype, y_shape)
    g = gradients(R.reduce_sum(M.multiply(y, dy)), x)[0]
    theoretical = np.zeros((nx, ny))
    for j in range(ny):
        e = np.zeros(ny, dtype=y.dtype.np)
        e[j] = 1
        gv = sess.run(g, {**feed, x: x0, dy: e.reshape(y_shape)}) if g is not None else 0
        theoretical[:, j] = np.asarray(gv).reshape(-1) if g is not None else 0.0
    numerical = np.zeros((nx, ny))
    for i in range(nx):
        xp_, xm = x0.copy().reshape(-1), x0.copy().reshape(-1)
        xp_[i] += delta
        xm[i] -= delta
        yp = np.asarray(sess.run(y, {**feed, x: xp_.reshape(x_shape)}), dtype=np.float64)
        ym = np.asarray(sess.run(y, {**feed, x: xm.reshape(x_shape)}), dtype=np.float64)
        numerical[i] = ((yp - ym) / (2 * delta)).reshape(-1)
    return theoretical, numerical


def compute_gradient_error(x, x_shape, y, y_shape, x_init_value=None, delta: float = 1e-3,
                           init_targets=None, extra_feed_dict=None) -> float:
    """The largest absolute difference between the theoretical and numerical Jacobians."""
    grads = compute_gradient(x, x_shape, y, y_shape, x_init_value, delta, init_targets,
                             extra_feed_dict)
    if isinstance(grads, tuple):
        grads = [grads]
    return max(float(np.max(np.abs(t - n))) if t.size else 0.0 for t, n in grads)
