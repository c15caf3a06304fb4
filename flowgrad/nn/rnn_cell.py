"""``tf.nn.rnn_cell``: the recurrent cells."""

from flowgrad.ops.rnn_cell import (BasicLSTMCell, BasicRNNCell, DropoutWrapper, GRUCell,
                                   LSTMCell, LSTMStateTuple, MultiRNNCell,
                                   OutputProjectionWrapper, RNNCell)

__all__ = ["BasicLSTMCell", "BasicRNNCell", "DropoutWrapper", "GRUCell", "LSTMCell",
           "LSTMStateTuple", "MultiRNNCell", "OutputProjectionWrapper", "RNNCell"]
