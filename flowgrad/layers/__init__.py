"""``tf.layers``: TF1's graph-mode layers, in class and functional form."""

from flowgrad.layers.base import InputSpec, Layer
from flowgrad.layers.core import Dense, Dropout, Flatten, dense, dropout, flatten
from flowgrad.layers.normalization import BatchNormalization, batch_normalization
from flowgrad.layers.convolutional import (Conv1D, Conv2D, Conv2DTranspose, Convolution2D,
                                           Convolution2DTranspose, conv1d, conv2d,
                                           conv2d_transpose)
from flowgrad.layers.pooling import (AveragePooling1D, AveragePooling2D, AvgPool2D,
                                     MaxPool2D, MaxPooling1D, MaxPooling2D, average_pooling1d,
                                     average_pooling2d, max_pooling1d, max_pooling2d)

__all__ = ["AveragePooling1D", "AveragePooling2D", "AvgPool2D", "BatchNormalization", "Conv1D",
           "Conv2D", "Conv2DTranspose", "Convolution2D", "Convolution2DTranspose", "Dense",
           "Dropout", "Flatten", "InputSpec", "Layer", "MaxPool2D", "MaxPooling1D",
           "MaxPooling2D", "average_pooling1d", "average_pooling2d", "batch_normalization",
           "conv1d", "conv2d", "conv2d_transpose", "dense", "dropout", "flatten",
           "max_pooling1d", "max_pooling2d"]

# --- 3-D convolutions and pooling, separable convolutions ---------------------------------
from flowgrad.layers.convolutional_extra import (AveragePooling3D, AvgPool3D,  # noqa: E402
                                                 Conv3D, Conv3DTranspose, Convolution3D,
                                                 Convolution3DTranspose, MaxPool3D,
                                                 MaxPooling3D, SeparableConv1D,
                                                 SeparableConv2D, SeparableConvolution1D,
                                                 SeparableConvolution2D, average_pooling3d,
                                                 conv3d, conv3d_transpose, max_pooling3d,
                                                 separable_conv1d, separable_conv2d)

__all__ += ["AveragePooling3D", "AvgPool3D", "Conv3D", "Conv3DTranspose", "Convolution3D",
            "Convolution3DTranspose", "MaxPool3D", "MaxPooling3D", "SeparableConv1D",
            "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
            "average_pooling3d", "conv3d", "conv3d_transpose", "max_pooling3d",
            "separable_conv1d", "separable_conv2d"]
