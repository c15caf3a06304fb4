"""``tf.contrib.rnn``: the TF1 contrib aliases of the recurrent cells and RNN functions."""

from flowgrad.ops.rnn import bidirectional_dynamic_rnn, dynamic_rnn, static_rnn
from flowgrad.ops.rnn_cell import (BasicLSTMCell, BasicRNNCell, DropoutWrapper, GRUCell,
                                   LSTMCell, LSTMStateTuple, MultiRNNCell,
                                   OutputProjectionWrapper, RNNCell)

__all__ = ["BasicLSTMCell", "BasicRNNCell", "DropoutWrapper", "GRUCell", "LSTMCell",
           "LSTMStateTuple", "MultiRNNCell", "OutputProjectionWrapper", "RNNCell",
           "bidirectional_dynamic_rnn", "dynamic_rnn", "static_rnn"]
