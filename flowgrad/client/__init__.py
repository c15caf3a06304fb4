"""``tf.client``: ``timeline`` (Chrome traces of traced runs)."""

from flowgrad.client import timeline

__all__ = ["timeline"]
