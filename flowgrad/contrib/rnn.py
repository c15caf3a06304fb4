"""``tf.contrib.rnn``: the TF1 contrib aliases of the recurrent cells and RNN functions."""

from flowgrad.ops.rnn import (bidirectional_dynamic_rnn, dynamic_rnn,
                              static_bidirectional_rnn, static_rnn)
from flowgrad.ops.rnn_cell import (BasicLSTMCell, BasicRNNCell, DeviceWrapper, DropoutWrapper,
                                   GRUCell, LSTMCell, LSTMStateTuple, MultiRNNCell,
                                   OutputProjectionWrapper, ResidualWrapper, RNNCell)

__all__ = ["BasicLSTMCell", "BasicRNNCell", "DeviceWrapper", "DropoutWrapper", "GRUCell",
           "LSTMCell", "LSTMStateTuple", "MultiRNNCell", "OutputProjectionWrapper",
           "ResidualWrapper", "RNNCell",
           "bidirectional_dynamic_rnn", "dynamic_rnn", "static_bidirectional_rnn", "static_rnn"]
