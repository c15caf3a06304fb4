"""``tf.contrib``: the TF1 contrib modules that flowgrad provides."""

from flowgrad.contrib import layers, rnn

__all__ = ["layers", "rnn"]
