"""``tf.compat``: ``import flowgrad.compat.v1 as tf`` gives the same TF1 namespace."""

from flowgrad.compat import v1  # noqa: F401
