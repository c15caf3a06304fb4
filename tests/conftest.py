import os

import pytest

import flowgrad as tf


def pytest_configure(config):
    """``FLOWGRAD_TEST_DEVICE=simulated``: every session that would take a GPU gets the strict
    simulated device (``tests/runtime/test_suite_on_simulated_device.py`` runs part of the
    suite that way, so CPU CI covers the device plans)."""
    if os.environ.get("FLOWGRAD_TEST_DEVICE") == "simulated":
        from flowgrad.runtime import backend
        from flowgrad.testing.fake_device import FakeDeviceBackend
        backend._GPU[:] = [FakeDeviceBackend()]


@pytest.fixture(autouse=True)
def fresh_graph():
    """Every test starts with an empty default graph, as a fresh TF1 program would."""
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


@pytest.fixture
def on_cpu(monkeypatch):
    """Sessions run on the CPU even where a GPU is visible: for tests of host-only code
    generation (the BLAS fold, blocked and out= updates), which a GPU plan does not use."""
    monkeypatch.setenv("FLOWGRAD_DEVICE", "cpu")
