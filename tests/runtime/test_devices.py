"""Device placement and copies, checked on a strict simulated device (no GPU needed)."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.runtime import backend
from flowgrad.testing.fake_device import DeviceArray, FakeDeviceBackend


@pytest.fixture
def device():
    with backend.use_gpu_backend(FakeDeviceBackend()) as dev:
        yield dev


def _train_xor(config=None):
    tf.reset_default_graph()
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float32, (None, 2))
    y = tf.placeholder(tf.float32, (None, 1))
    w1 = tf.Variable(tf.random_normal((2, 8)))
    w2 = tf.Variable(tf.truncated_normal((8, 1)))
    b = tf.Variable(tf.zeros((1,)))
    logits = tf.matmul(tf.tanh(tf.matmul(x, w1)), w2) + b
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    Y = np.array([[0], [1], [1], [0]], np.float32)
    with tf.Session(config=config) as s:
        s.run(tf.global_variables_initializer())
        for _ in range(50):
            out = s.run([train, loss, w1], {x: X, y: Y})
    return out


def test_device_session_matches_cpu_and_returns_host_arrays(device):
    _, loss_dev, w_dev = _train_xor()
    assert device.copies_to_device > 0 and device.copies_to_host > 0
    assert type(w_dev) is np.ndarray and not isinstance(w_dev, DeviceArray)
    _, loss_cpu, w_cpu = _train_xor(tf.ConfigProto(device_count={"GPU": 0}))
    np.testing.assert_allclose(w_dev, w_cpu, rtol=1e-6)
    assert loss_dev == pytest.approx(loss_cpu, rel=1e-6)


def test_host_pinned_and_host_only_ops_get_copies(device, capsys):
    x = tf.placeholder(tf.float32, (3,))
    with tf.device("/cpu:0"):
        h = x * 2.0
    y = tf.py_func(lambda a: a + 1.0, [h], tf.float32) + x
    cfg = tf.ConfigProto(log_device_placement=True)
    with tf.Session(config=cfg) as s:
        assert [d.device_type for d in s.list_devices()] == ["CPU", "GPU"]
        out = s.run(y, {x: [1.0, 2.0, 3.0]})
    assert out.tolist() == [4.0, 7.0, 10.0]
    log = capsys.readouterr().err
    assert "mul: (Mul): /job:localhost/replica:0/task:0/device:CPU:0" in log
    assert "PyFunc: (PyFunc): /job:localhost/replica:0/task:0/device:CPU:0" in log
    assert "add: (AddV2): /job:localhost/replica:0/task:0/device:GPU:0" in log


def test_gpu_pinned_ops_without_gpu_need_soft_placement():
    with tf.device("/gpu:0"):
        c = tf.constant(1.0) * 2.0
    with backend.use_gpu_backend(None):         # a machine without a GPU, even on one with
        with tf.Session() as s:
            with pytest.raises(tf.errors.InvalidArgumentError,
                               match="allow_soft_placement=True"):
                s.run(c)
        with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as s:
            assert s.run(c) == 2.0


def test_cpu_sessions_never_import_cupy():
    import subprocess
    import sys
    code = ("import sys, flowgrad as tf\n"
            "with tf.Session() as s: s.run(tf.constant(1.0) + 1.0)\n"
            "print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"FLOWGRAD_DEVICE": "cpu", "PATH": ""}, check=True)
    assert out.stdout.strip() == "False"


def test_device_listing():
    assert tf.config.list_physical_devices("CPU")[0].device_type == "CPU"
    assert isinstance(tf.test.is_gpu_available(), bool)


def test_strings_stay_on_the_host(device):
    names = tf.placeholder(tf.string, (None,))
    both = tf.concat([tf.identity(names), tf.constant(["c"])], 0)
    v = tf.Variable(np.ones(2, np.float32), name="weights")
    n = tf.range(tf.size(names)) * 2           # a number computed from a string tensor
    with tf.Session() as s:
        assert list(s.run(tf.report_uninitialized_variables())) == [b"weights"]
        out, counts = s.run([both, n], {names: np.array(["a", "b"], dtype=object)})
        assert list(out) == [b"a", b"b", b"c"]
        assert counts.tolist() == [0, 2] and type(counts) is np.ndarray
        s.run(v.initializer)
        assert list(s.run(tf.report_uninitialized_variables())) == []
