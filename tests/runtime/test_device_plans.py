"""Device plans on the simulated device: feeds already on the device, constants placed once."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.compiler import CompilerOptions
from flowgrad.runtime import backend
from flowgrad.testing.fake_device import DeviceArray, FakeDeviceBackend


@pytest.fixture
def device():
    with backend.use_gpu_backend(FakeDeviceBackend()) as dev:
        yield dev


def test_a_device_array_is_fed_without_a_copy(device):
    x = tf.placeholder(tf.float32, (None, 3))
    w = tf.Variable(np.ones((3, 2), np.float32))
    y = tf.reshape(tf.matmul(x, w), [-1]) * 2.0
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        fed = device.asarray(host)
        first = s.run(y, {x: fed})
        before = device.copies_to_device
        for _ in range(3):
            again = s.run(y, {x: fed})
        assert device.copies_to_device == before        # no feed copy, no constant copy
        np.testing.assert_array_equal(first, again)
        np.testing.assert_array_equal(s.run(y, {x: host}), first)   # a numpy feed is copied
        assert device.copies_to_device == before + 1
    assert type(first) is np.ndarray and not isinstance(first, DeviceArray)


def test_a_device_feed_of_the_wrong_shape_is_refused(device):
    x = tf.placeholder(tf.float32, (None, 3))
    with tf.Session() as s, pytest.raises(ValueError, match="Cannot feed value of shape"):
        s.run(x * 1.0, {x: device.asarray(np.zeros((2, 4), np.float32))})


def test_graph_replay_is_on_by_default_and_can_be_turned_off():
    assert CompilerOptions().cuda_graphs
    off = CompilerOptions.from_env("-cuda_graphs")
    assert not off.cuda_graphs
    assert off.cse and off.fuse_elementwise         # "-" keeps the other defaults
