"""tf.gfile, tf.logging and the tf.test helpers."""

import logging
import os

import numpy as np
import pytest

import flowgrad as tf

gfile = tf.gfile


def test_gfile_files_and_directories(tmp_path):
    d = str(tmp_path / "a" / "b")
    assert not gfile.Exists(d)
    gfile.MakeDirs(d)
    gfile.MakeDirs(d)                        # existing is fine
    assert gfile.Exists(d) and gfile.IsDirectory(d)
    with pytest.raises(tf.errors.AlreadyExistsError):
        gfile.MkDir(d)
    f = os.path.join(d, "x.txt")
    with gfile.GFile(f, "w") as fh:
        fh.write("line1\n")
        fh.write(b"line2\n")
    with gfile.Open(f) as fh:
        assert fh.readline() == "line1\n"
        assert [line for line in fh] == ["line2\n"]
    with gfile.FastGFile(f, "rb") as fh:
        assert fh.read() == b"line1\nline2\n"
        assert fh.size() == 12
    assert gfile.Stat(f).length == 12 and not gfile.Stat(f).is_directory
    with gfile.GFile(f, "a") as fh:
        fh.write("3")
    assert gfile.GFile(f).read().endswith("3")
    gfile.Copy(f, os.path.join(d, "y.txt"))
    with pytest.raises(tf.errors.AlreadyExistsError):
        gfile.Copy(f, os.path.join(d, "y.txt"))
    gfile.Copy(f, os.path.join(d, "y.txt"), overwrite=True)
    gfile.Rename(os.path.join(d, "y.txt"), os.path.join(d, "z.txt"))
    assert sorted(gfile.ListDirectory(d)) == ["x.txt", "z.txt"]
    assert gfile.Glob(os.path.join(d, "*.txt")) == [f, os.path.join(d, "z.txt")]
    walked = list(gfile.Walk(str(tmp_path)))
    assert walked[0][0] == str(tmp_path) and walked[0][1] == ["a"]
    assert sorted(walked[-1][2]) == ["x.txt", "z.txt"]
    gfile.Remove(f)
    with pytest.raises(tf.errors.NotFoundError):
        gfile.Remove(f)
    with pytest.raises(tf.errors.NotFoundError):
        gfile.GFile(f, "r")
    with pytest.raises(tf.errors.NotFoundError):
        gfile.ListDirectory(f)
    gfile.DeleteRecursively(str(tmp_path / "a"))
    assert not gfile.Exists(str(tmp_path / "a"))
    with pytest.raises(tf.errors.NotFoundError):
        gfile.DeleteRecursively(str(tmp_path / "a"))


def test_logging_levels_and_every_n():
    old = tf.logging.get_verbosity()
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append((record.levelno, record.getMessage()))

    h = Keep()
    tf.logging.get_logger().addHandler(h)
    try:
        tf.logging.set_verbosity(tf.logging.WARN)
        tf.logging.info("hidden")
        tf.logging.warn("shown %d", 1)
        tf.logging.set_verbosity(tf.logging.DEBUG)
        tf.logging.debug("dbg")
        for i in range(7):
            tf.logging.log_every_n(tf.logging.INFO, "every %d", 3, i)
        for i in range(5):
            tf.logging.log_first_n(tf.logging.ERROR, "first %d", 2, i)
        tf.logging.fatal("bad")
        tf.logging.log_if(tf.logging.INFO, "cond", False)
    finally:
        tf.logging.get_logger().removeHandler(h)
        tf.logging.set_verbosity(old)
    assert records == [(30, "shown 1"), (10, "dbg"), (20, "every 0"), (20, "every 3"),
                       (20, "every 6"), (40, "first 0"), (40, "first 1"), (50, "bad")]
    assert (tf.logging.DEBUG, tf.logging.INFO, tf.logging.WARN, tf.logging.ERROR,
            tf.logging.FATAL) == (10, 20, 30, 40, 50)


class ExampleTest(tf.test.TestCase):
    def test_helpers(self):
        x = tf.constant([1.0, 2.0])
        with self.cached_session() as sess:
            self.assertAllClose(sess.run(x * 2), [2.0, 4.0])
            self.assertAllClose((x + 1).eval(), np.array([2.0, 3.0]))
            self.assertAllEqual(self.evaluate(tf.shape(x)), [2])
            self.assertAllClose({"a": sess.run(x)}, {"a": [1.0, 2.0]})
        with self.test_session() as s2:
            self.assertIs(s2, sess)               # one cached session per test
        with self.assertRaises(AssertionError):
            self.assertAllClose([1.0, 2.0], [1.0, 2.1])
        with self.assertRaises(AssertionError):
            self.assertAllEqual([1, 2], [1, 2, 3])
        self.assertArrayNear([1.0, 2.0], [1.0, 2.0 + 1e-7], 1e-6)
        self.assertShapeEqual(np.zeros(2), x)
        self.assertAllInRange([0.1, 0.9], 0.0, 1.0)
        with self.assertRaisesOpError("uninitialized"):
            self.evaluate(tf.Variable(1.0) + 1)
        self.assertTrue(os.path.isdir(self.get_temp_dir()))

    def test_fresh_graph_per_test(self):
        self.assertEqual(tf.get_default_graph().get_operations(), [])

    def test_compute_gradient_error(self):
        x = tf.placeholder(tf.float64, [3])
        y = tf.sin(x) * 2.0
        with self.cached_session():
            theo, num = tf.test.compute_gradient(x, [3], y, [3], x_init_value=[0.1, 0.2, 0.3],
                                                 delta=1e-6)
            np.testing.assert_allclose(theo, np.diag(2 * np.cos([0.1, 0.2, 0.3])), rtol=1e-6)
            np.testing.assert_allclose(num, theo, atol=1e-6)
            self.assertLess(tf.test.compute_gradient_error(x, [3], y, [3]), 1e-4)


def test_testcase_runs_under_unittest():
    import unittest
    result = unittest.TextTestRunner(stream=open(os.devnull, "w"), verbosity=0).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(ExampleTest))
    assert result.wasSuccessful(), result.failures + result.errors


def test_tf_test_members_load_on_first_use():
    """``import flowgrad`` does not import unittest; ``tf.test.TestCase`` still works."""
    import subprocess
    import sys
    code = ("import sys, flowgrad as tf; assert 'unittest' not in sys.modules; "
            "assert 'TestCase' in dir(tf.test); assert tf.test.TestCase.__name__ == "
            "'TestCase'; assert 'unittest' in sys.modules; "
            "assert tf.compat.v1.test.get_temp_dir is tf.test.get_temp_dir")
    subprocess.run([sys.executable, "-c", code], check=True)
