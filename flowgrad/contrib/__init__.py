"""``tf.contrib``: the parts of TF1's contrib that classic training scripts use."""

from flowgrad.contrib import layers, rnn

__all__ = ["layers", "rnn"]
