"""``tf.io``: TFRecord files, ``tf.train.Example`` parsing and ``decode_raw``.

``tf.python_io`` holds the TFRecord part under its TF1 name. The Example message classes
are ``tf.train.Example`` and friends (:mod:`flowgrad.io.example_pb`, built on first use).
"""

from flowgrad.io.tfrecord import (TFRecordCompressionType, TFRecordOptions, TFRecordWriter,
                                  tf_record_iterator)
from flowgrad.namespaces import gfile
from flowgrad.ops.parsing_ops import (FixedLenFeature, FixedLenSequenceFeature, SparseFeature,
                                      VarLenFeature, decode_raw, parse_example,
                                      parse_single_example, parse_single_sequence_example)

__all__ = ["FixedLenFeature", "FixedLenSequenceFeature", "SparseFeature",
           "TFRecordCompressionType", "TFRecordOptions", "TFRecordWriter", "VarLenFeature",
           "decode_raw", "gfile", "parse_example", "parse_single_example",
           "parse_single_sequence_example", "tf_record_iterator"]
