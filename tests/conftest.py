import pytest

import flowgrad as tf


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
