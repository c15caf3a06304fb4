"""``tf.data.TFRecordDataset``: the records of TFRecord files as ``tf.string`` scalars."""

from __future__ import annotations

import os

import numpy as np

from flowgrad.data.dataset import Dataset, _with_specs
from flowgrad.data.extras import _names, _string_leaves
from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import Tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.io.tfrecord import _compression_name, read_records


class TFRecordDataset(Dataset):
    """``tf.data.TFRecordDataset(filenames, compression_type=None, buffer_size=None,
    num_parallel_reads=None)``: each record of the files, file after file.

    ``filenames`` is a file name, a list of them, a string tensor or a dataset of file
    names (``tf.data.Dataset.list_files``).
    ``compression_type`` is None, ``''``, ``'ZLIB'`` or ``'GZIP'`` (a string tensor is not
    accepted: it must be known when the pipeline is built). With ``num_parallel_reads=N``
    the files are read N at a time and their records interleaved one by one, in a fixed
    order (TF's deterministic parallel interleave). A bad checksum or a truncated record
    raises ``DataLossError`` when the iterator reaches it.

        ds = tf.data.TFRecordDataset(["a.tfrecord"]).batch(32).map(parse)
    """

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None) -> None:
        self._source = None
        if isinstance(filenames, Dataset):
            if filenames._flat_spec != [(_dt.string, TensorShape(()))]:
                raise TypeError("TFRecordDataset: a dataset of file names must have tf.string "
                                f"scalar elements, got {filenames!r}.")
            self._source, self._files = filenames, []
        else:
            self._files = _string_leaves(filenames, "TFRecordDataset")
        self._compression = _compression_name(compression_type, "TFRecordDataset")
        if buffer_size is not None and int(buffer_size) < 0:
            raise ValueError(f"TFRecordDataset: buffer_size must be >= 0, got {buffer_size}.")
        n = 1 if num_parallel_reads is None else int(num_parallel_reads)
        if n < 1 and n != -1:
            raise ValueError("TFRecordDataset: num_parallel_reads must be positive or "
                             f"tf.data.experimental.AUTOTUNE, got {num_parallel_reads}.")
        self._parallel = 1 if n == -1 else n
        _with_specs(self, None, [(_dt.string, TensorShape(()))])

    def _captured(self):
        if self._source is not None:
            return self._source._captured()
        return [v for v in self._files if isinstance(v, Tensor)]

    def _file_names(self, env):
        if self._source is None:
            yield from _names(self._files, env)
            return
        for (name,) in self._source._elements(env):
            yield os.fsdecode(np.asarray(name, dtype=object).item())

    def _records(self, path: str):
        for r in read_records(path, self._compression, "TFRecordDataset"):
            yield (np.array(r, dtype=object),)

    def _elements(self, env):
        files = self._file_names(env)
        if self._parallel == 1:
            for path in files:
                yield from self._records(path)
            return
        # TF's interleave: a slot whose file ends is refilled when the cycle comes back to it
        slots: list = [None] * self._parallel
        i, more = 0, True
        while more or any(s is not None for s in slots):
            if slots[i] is None and more:
                path = next(files, None)
                if path is None:
                    more = False
                else:
                    slots[i] = self._records(path)
                    continue
            if slots[i] is not None:
                record = next(slots[i], None)
                if record is None:
                    slots[i] = None
                else:
                    yield record
            i = (i + 1) % len(slots)
