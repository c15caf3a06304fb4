"""``tf.layers``: TF1's graph-mode layers, in class and functional form."""

from flowgrad.layers.base import InputSpec, Layer
from flowgrad.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten
from flowgrad.layers.normalization import BatchNormalization, batch_normalization

__all__ = ["BatchNormalization", "Dense", "Dropout", "Flatten", "InputSpec", "Layer",
           "batch_normalization", "dense", "dropout", "flatten"]

# --- convolutions ---------------------------------------------------------------------------
from flowgrad.layers.convolutional import (Conv2D, Conv2DTranspose, conv2d,  # noqa: E402
                                           conv2d_transpose)
from flowgrad.layers.pooling import (AveragePooling2D, MaxPooling2D,  # noqa: E402
                                     average_pooling2d, max_pooling2d)

__all__ += ["AveragePooling2D", "Conv2D", "Conv2DTranspose", "MaxPooling2D",
            "average_pooling2d", "conv2d", "conv2d_transpose", "max_pooling2d"]
