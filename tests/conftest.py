import pytest

import flowgrad as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    """Every test starts with an empty default graph, as a fresh TF1 program would."""
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()
