"""``tf.contrib.lookup``: TF1's lookup tables under their contrib names."""

from flowgrad.ops.lookup_ops import (FastHashSpec, HashTable, IdTableWithHashBuckets,  # noqa: F401
                                     InitializableLookupTableBase, KeyValueTensorInitializer,
                                     LookupInterface, MutableHashTable, TableInitializerBase,
                                     TextFileIdTableInitializer, TextFileIndex,
                                     TextFileInitializer, TextFileStringTableInitializer,
                                     index_table_from_file, index_table_from_tensor,
                                     index_to_string, index_to_string_table_from_file,
                                     index_to_string_table_from_tensor)
