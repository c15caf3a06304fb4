"""``tf.contrib``: the parts of TF1's contrib that classic training scripts use."""

from flowgrad.contrib import framework, layers, lookup, rnn

__all__ = ["framework", "layers", "lookup", "rnn"]
