"""``tf.nn.rnn_cell``: the recurrent cells."""

from flowgrad.ops.rnn_cell import (BasicLSTMCell, BasicRNNCell, DeviceWrapper, DropoutWrapper,
                                   GRUCell, LSTMCell, LSTMStateTuple, MultiRNNCell,
                                   OutputProjectionWrapper, ResidualWrapper, RNNCell)

__all__ = ["BasicLSTMCell", "BasicRNNCell", "DeviceWrapper", "DropoutWrapper", "GRUCell",
           "LSTMCell", "LSTMStateTuple", "MultiRNNCell", "OutputProjectionWrapper",
           "ResidualWrapper", "RNNCell"]
