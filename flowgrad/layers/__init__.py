"""``tf.layers``: TF1's graph-mode layers, in class and functional form."""

from flowgrad.layers.base import InputSpec, Layer
from flowgrad.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten
from flowgrad.layers.normalization import BatchNormalization, batch_normalization

__all__ = ["BatchNormalization", "Dense", "Dropout", "Flatten", "InputSpec", "Layer",
           "batch_normalization", "dense", "dropout", "flatten"]
