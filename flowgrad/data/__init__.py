"""``tf.data``: input pipelines (``Dataset``, ``Iterator``) and the bundled data sets.

    ds = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(1000, seed=1).batch(32)
    x, y = ds.make_one_shot_iterator().get_next()

Data-set loaders: :func:`flowgrad.data.digits.load_digits` (the 8x8 handwritten digits
that scikit-learn ships) and :func:`flowgrad.data.mnist.load_mnist` (MNIST's IDX files).
"""

import types as _types

from flowgrad.data.dataset import AUTOTUNE, Dataset
from flowgrad.data.iterator import (Iterator, get_output_classes, get_output_shapes,
                                    get_output_types, make_initializable_iterator,
                                    make_one_shot_iterator)

from flowgrad.data import extras as _extras
from flowgrad.data.extras import TextLineDataset
from flowgrad.data.readers import TFRecordDataset

experimental = _types.ModuleType("flowgrad.data.experimental", "tf.data.experimental")
experimental.AUTOTUNE = AUTOTUNE
experimental.unbatch = _extras.unbatch
experimental.map_and_batch = _extras.map_and_batch
experimental.shuffle_and_repeat = _extras.shuffle_and_repeat
experimental.parallel_interleave = _extras.parallel_interleave

__all__ = ["AUTOTUNE", "Dataset", "Iterator", "TFRecordDataset", "TextLineDataset", "experimental",
           "get_output_classes", "get_output_shapes", "get_output_types",
           "make_initializable_iterator", "make_one_shot_iterator"]
