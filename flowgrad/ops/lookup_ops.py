"""TF1's lookup tables (``tf.lookup``, ``tf.contrib.lookup``). A table's contents are session
state, kept in the session's resources under the table's key, as variables' values are: each
session initializes its own copy (``tf.tables_initializer()``), and a lookup in a session
that has not raises FailedPreconditionError."""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import (GraphKeys, Operation, Tensor, get_default_graph,
                                      name_scope)
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import state_ops as S
from flowgrad.ops import string_ops as SO
from flowgrad.ops.sparse_tensor import SparseTensor
from flowgrad.runtime.placement import register_host_only

_S = _dt.string
_I64 = _dt.int64
_KEY_TYPES = (_S, _dt.int32, _dt.int64)


class _TableState:
    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: dict = {}


def _items(arr: np.ndarray) -> list:
    """Python dict keys/values of an array: bytes for strings, Python numbers otherwise."""
    return list(arr.reshape(-1)) if arr.dtype == object else arr.reshape(-1).tolist()


def _state(ctx, table: str, must_exist: bool, name: str) -> _TableState:
    st = ctx.resources.get(("table", table))
    if st is None:
        if must_exist:
            raise errors.FailedPreconditionError(
                None, ctx.op, f"Table not initialized: the lookup table '{name}' has not been "
                "initialized in this session; run tf.tables_initializer() (or the table's "
                "initializer) first.")
        st = ctx.resources[("table", table)] = _TableState()
    return st


def _fill(ctx, table: str, name: str, keys: list, values: list) -> None:
    data: dict = {}
    for k, v in zip(keys, values):
        old = data.setdefault(k, v)
        if old != v:
            raise errors.FailedPreconditionError(
                None, ctx.op, f"HashTable has different value for same key. Key {k!r} has "
                f"{old!r} and trying to add value {v!r} (table '{name}').")
    st = ctx.resources.get(("table", table))
    if st is not None:
        if st.data != data:
            raise errors.FailedPreconditionError(
                None, ctx.op, f"Table '{name}' was already initialized with different data.")
        return
    _state(ctx, table, False, name).data = data


# ----- ops -----------------------------------------------------------------------------------
def _init_shape(node: NodeSpec):
    keys, values = node.inputs
    if keys.dtype != node.attrs["key_dtype"] or values.dtype != node.attrs["value_dtype"]:
        node.fail(f"the table maps {node.attrs['key_dtype'].name} to "
                  f"{node.attrs['value_dtype'].name}, got keys of {keys.dtype.name} and values "
                  f"of {values.dtype.name}", TypeError)
    if not keys.shape.is_compatible_with(values.shape):
        node.fail(f"keys and values must have the same shape, got {keys.shape} and "
                  f"{values.shape}")
    return []


@op("InitializeTableV2", shape=_init_shape, stateful=True)
def _initialize_table(xp, keys, values, *, table, table_name, key_dtype, value_dtype, ctx):
    if np.shape(keys) != np.shape(values):
        raise errors.InvalidArgumentError(
            None, ctx.op, f"Table '{table_name}': keys and values must have the same shape, "
            f"got {np.shape(keys)} and {np.shape(values)}.")
    _fill(ctx, table, table_name, _items(np.asarray(keys)), _items(np.asarray(values)))


WHOLE_LINE, LINE_NUMBER = -2, -1


def _column(ctx, path, lineno, line: bytes, cols, index, dtype, delimiter):
    if index == WHOLE_LINE:
        return line
    if index == LINE_NUMBER:
        return lineno
    if index >= len(cols):
        raise errors.InvalidArgumentError(
            None, ctx.op, f"Invalid number of columns in {path} line {lineno} ({line!r}): "
            f"expected at least {index + 1} got {len(cols)}.")
    text = cols[index]
    if dtype == _S:
        return text
    try:
        return int(text) if dtype.is_integer else float(text)
    except ValueError:
        raise errors.InvalidArgumentError(
            None, ctx.op, f"Field {text!r} in {path} line {lineno} is not a valid "
            f"{dtype.name}.") from None


@op("InitializeTableFromTextFileV2", shape=lambda n: [], stateful=True)
def _initialize_from_file(xp, filename, *, table, table_name, key_index, value_index,
                          key_dtype, value_dtype, vocab_size=-1, delimiter="\t", ctx):
    path = np.asarray(filename, dtype=object).reshape(())[()].decode("utf-8")
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise errors.NotFoundError(None, ctx.op, f"{path}: {e.strerror}") from None
    if vocab_size > -1:
        if len(lines) < vocab_size:
            raise errors.InvalidArgumentError(
                None, ctx.op, f"Invalid vocab_size in {path}: expected {vocab_size} but got "
                f"{len(lines)}.")
        lines = lines[:vocab_size]
    delim = delimiter.encode("utf-8")
    keys, values = [], []
    for n, line in enumerate(lines):
        cols = line.split(delim) if delim else line.split()
        keys.append(_column(ctx, path, n, line, cols, key_index, key_dtype, delim))
        values.append(_column(ctx, path, n, line, cols, value_index, value_dtype, delim))
    _fill(ctx, table, table_name, keys, values)


def _find_shape(node: NodeSpec):
    keys, default = node.inputs
    if keys.dtype != node.attrs["key_dtype"]:
        node.fail(f"the table's keys are {node.attrs['key_dtype'].name}, got "
                  f"{keys.dtype.name} keys", TypeError)
    if default.dtype != node.attrs["value_dtype"]:
        node.fail(f"the default value must be {node.attrs['value_dtype'].name}, got "
                  f"{default.dtype.name}", TypeError)
    return keys.shape, node.attrs["value_dtype"]


@op("LookupTableFindV2", shape=_find_shape, stateful=True)
def _lookup_find(xp, keys, default_value, *, table, table_name, key_dtype, value_dtype,
                 mutable=False, ctx):
    data = _state(ctx, table, not mutable, table_name).data
    dv = np.asarray(default_value).reshape(-1)
    if dv.size != 1:
        raise errors.InvalidArgumentError(None, ctx.op, f"Table '{table_name}': the default "
                                          f"value must be a scalar, got shape {dv.shape}.")
    dv = _items(dv)[0]
    keys = np.asarray(keys)
    out = np.empty(keys.shape, dtype=value_dtype.np)
    out.reshape(-1)[:] = [data.get(k, dv) for k in _items(keys)] if keys.size else []
    return out


@op("LookupTableSizeV2", shape=lambda n: (TensorShape(()), _I64), stateful=True)
def _lookup_size(xp, *, table, table_name, mutable=False, ctx):
    return np.int64(len(_state(ctx, table, not mutable, table_name).data))


def _export_shape(node: NodeSpec):
    return [(TensorShape([None]), node.attrs["key_dtype"]),
            (TensorShape([None]), node.attrs["value_dtype"])]


@op("LookupTableExportV2", shape=_export_shape, stateful=True)
def _lookup_export(xp, *, table, table_name, key_dtype, value_dtype, mutable=False, ctx):
    data = _state(ctx, table, not mutable, table_name).data
    keys = np.empty(len(data), dtype=key_dtype.np)
    values = np.empty(len(data), dtype=value_dtype.np)
    keys[:] = list(data.keys())
    values[:] = list(data.values())
    return keys, values


@op("LookupTableInsertV2", shape=_init_shape, stateful=True)
def _lookup_insert(xp, keys, values, *, table, table_name, key_dtype, value_dtype, ctx):
    if np.shape(keys) != np.shape(values):
        raise errors.InvalidArgumentError(
            None, ctx.op, f"Table '{table_name}': keys and values must have the same shape, "
            f"got {np.shape(keys)} and {np.shape(values)}.")
    st = _state(ctx, table, False, table_name)
    data = dict(st.data)            # replaced, not mutated: a failed run leaves it as it was
    data.update(zip(_items(np.asarray(keys)), _items(np.asarray(values))))
    st.data = data


def _remove_shape(node: NodeSpec):
    if node.inputs[0].dtype != node.attrs["key_dtype"]:
        node.fail(f"the table's keys are {node.attrs['key_dtype'].name}, got "
                  f"{node.inputs[0].dtype.name} keys", TypeError)
    return []


@op("LookupTableRemoveV2", shape=_remove_shape, stateful=True)
def _lookup_remove(xp, keys, *, table, table_name, key_dtype, ctx):
    st = _state(ctx, table, False, table_name)
    gone = set(_items(np.asarray(keys)))
    st.data = {k: v for k, v in st.data.items() if k not in gone}


_TABLE_OPS = ("InitializeTableV2", "InitializeTableFromTextFileV2", "LookupTableFindV2",
              "LookupTableSizeV2", "LookupTableExportV2", "LookupTableInsertV2",
              "LookupTableRemoveV2")
for _t in _TABLE_OPS:
    NotDifferentiable(_t)
del _t
register_host_only(*_TABLE_OPS)


# ----- initializers --------------------------------------------------------------------------
class TableInitializerBase:
    """The base of table initializers: ``key_dtype``, ``value_dtype`` and
    ``initialize(table)``, which builds the op that fills the table."""

    def __init__(self, key_dtype, value_dtype) -> None:
        self._key_dtype = _dt.as_dtype(key_dtype)
        self._value_dtype = _dt.as_dtype(value_dtype)

    @property
    def key_dtype(self):
        return self._key_dtype

    @property
    def value_dtype(self):
        return self._value_dtype

    def _check(self, table) -> None:
        if table.key_dtype != self._key_dtype or table.value_dtype != self._value_dtype:
            raise TypeError(f"Initializer maps {self._key_dtype.name} to "
                            f"{self._value_dtype.name} but the table maps "
                            f"{table.key_dtype.name} to {table.value_dtype.name}.")


class KeyValueTensorInitializer(TableInitializerBase):
    """``tf.lookup.KeyValueTensorInitializer``: a table filled from a keys tensor and a
    values tensor of the same shape."""

    def __init__(self, keys, values, key_dtype=None, value_dtype=None, name=None) -> None:
        with name_scope(name or "key_value_init"):
            self._keys = convert_to_tensor(keys, key_dtype, name="keys")
            self._values = convert_to_tensor(values, value_dtype, name="values")
        self._name = name or "key_value_init"
        super().__init__(self._keys.dtype, self._values.dtype)

    def initialize(self, table) -> Operation:
        self._check(table)
        with name_scope(self._name):
            return _initialize_table(self._keys, self._values, table=table._key,
                                     table_name=table.name, key_dtype=self.key_dtype,
                                     value_dtype=self.value_dtype, name="table_init")


class TextFileIndex:
    """Which column of a line a key or value is: ``WHOLE_LINE`` or ``LINE_NUMBER``."""
    WHOLE_LINE = WHOLE_LINE
    LINE_NUMBER = LINE_NUMBER


class TextFileInitializer(TableInitializerBase):
    """``tf.lookup.TextFileInitializer``: one table entry per line of a text file; the key
    and the value are a column (split at ``delimiter``), the whole line
    (``TextFileIndex.WHOLE_LINE``, strings) or the line number (``LINE_NUMBER``, int64)."""

    def __init__(self, filename, key_dtype, key_index, value_dtype, value_index,
                 vocab_size=None, delimiter="\t", name=None) -> None:
        key_dtype, value_dtype = _dt.as_dtype(key_dtype), _dt.as_dtype(value_dtype)
        for what, index, dtype in (("key", key_index, key_dtype),
                                   ("value", value_index, value_dtype)):
            if index < WHOLE_LINE:
                raise ValueError(f"Invalid {what} index {index}.")
            if index == LINE_NUMBER and dtype != _I64:
                raise ValueError(f"Signature mismatch. {what.capitalize()}s must be dtype "
                                 f"int64, got {dtype.name} (the {what} is the line number).")
            if index == WHOLE_LINE and dtype != _S:
                raise ValueError(f"Signature mismatch. {what.capitalize()}s must be dtype "
                                 f"string, got {dtype.name} (the {what} is the whole line).")
        if vocab_size is not None and vocab_size <= 0:
            raise ValueError(f"Invalid vocab_size {vocab_size}.")
        self._filename = filename
        self._key_index, self._value_index = int(key_index), int(value_index)
        self._vocab_size = vocab_size
        self._delimiter = delimiter
        self._name = name or "text_file_init"
        super().__init__(key_dtype, value_dtype)

    def initialize(self, table) -> Operation:
        self._check(table)
        with name_scope(self._name):
            filename = convert_to_tensor(self._filename, _S, name="asset_filepath")
            init = _initialize_from_file(
                filename, table=table._key, table_name=table.name, key_index=self._key_index,
                value_index=self._value_index, key_dtype=self.key_dtype,
                value_dtype=self.value_dtype,
                vocab_size=-1 if self._vocab_size is None else int(self._vocab_size),
                delimiter=self._delimiter, name="table_init")
        get_default_graph().add_to_collection(GraphKeys.ASSET_FILEPATHS, filename)
        return init


class TextFileStringTableInitializer(TextFileInitializer):
    """Strings from a text file: key the line number, value the whole line by default."""

    def __init__(self, filename, key_column_index=LINE_NUMBER, value_column_index=WHOLE_LINE,
                 vocab_size=None, delimiter="\t", name="text_file_string_table_init") -> None:
        super().__init__(filename, _I64, key_column_index, _S, value_column_index,
                         vocab_size, delimiter, name)


class TextFileIdTableInitializer(TextFileInitializer):
    """Ids from a text file: key the whole line, value the line number by default."""

    def __init__(self, filename, key_column_index=WHOLE_LINE, value_column_index=LINE_NUMBER,
                 vocab_size=None, delimiter="\t", name="text_file_id_table_init",
                 key_dtype=_S) -> None:
        super().__init__(filename, key_dtype, key_column_index, _I64, value_column_index,
                         vocab_size, delimiter, name)


# ----- tables --------------------------------------------------------------------------------
def _lookup_keys(keys, key_dtype):
    """(dense key tensor, rebuild) for a Tensor, a Python value or a SparseTensor."""
    if isinstance(keys, SparseTensor):
        values = keys.values
        return values, lambda out: SparseTensor(keys.indices, out, keys.dense_shape)
    tensor = isinstance(keys, Tensor) or hasattr(keys, "_as_graph_element")
    t = convert_to_tensor(keys) if tensor else convert_to_tensor(keys, key_dtype, name="keys")
    return t, lambda out: out


class LookupInterface:
    """What every table has: key and value dtypes, a name, ``lookup`` and ``size``."""

    def __init__(self, key_dtype, value_dtype, name: str) -> None:
        self._key_dtype = _dt.as_dtype(key_dtype)
        self._value_dtype = _dt.as_dtype(value_dtype)
        if self._key_dtype not in _KEY_TYPES:
            raise TypeError(f"Table keys must be string, int32 or int64, got "
                            f"{self._key_dtype.name}.")
        graph = get_default_graph()
        self._name = graph.unique_name(name)
        self._key = f"{self._name}#{id(self)}"

    @property
    def key_dtype(self):
        return self._key_dtype

    @property
    def value_dtype(self):
        return self._value_dtype

    @property
    def name(self) -> str:
        return self._name

    _mutable = False

    def _check_keys(self, t: Tensor) -> Tensor:
        if t.dtype != self._key_dtype:
            if {t.dtype, self._key_dtype} <= {_dt.int32, _dt.int64}:
                return M.cast(t, self._key_dtype)
            raise TypeError(f"Table '{self._name}': keys must be {self._key_dtype.name}, got "
                            f"{t.dtype.name}.")
        return t

    def size(self, name=None) -> Tensor:
        """The number of entries (an int64 scalar)."""
        return _lookup_size(table=self._key, table_name=self._name, mutable=self._mutable,
                            name=name or f"{self._name}_Size")

    def _find(self, keys, default, name) -> Tensor:
        return _lookup_find(keys, default, table=self._key, table_name=self._name,
                            key_dtype=self._key_dtype, value_dtype=self._value_dtype,
                            mutable=self._mutable, name=name)

    def export(self, name=None):
        """(keys, values): every entry, as two vectors."""
        return _lookup_export(table=self._key, table_name=self._name,
                              key_dtype=self._key_dtype, value_dtype=self._value_dtype,
                              mutable=self._mutable, name=name or f"{self._name}_Export")


class _TableWithDefault(LookupInterface):
    """A table whose missing keys look up ``default_value`` (a scalar ``_default_value``)."""

    @property
    def default_value(self) -> Tensor:
        return self._default_value

    def lookup(self, keys, name=None):
        """The values of ``keys`` (a Tensor or SparseTensor); missing keys get the default."""
        dense, rebuild = _lookup_keys(keys, self._key_dtype)
        dense = self._check_keys(dense)
        return rebuild(self._find(dense, self._default_value, name or f"{self._name}_Lookup"))


class InitializableLookupTableBase(_TableWithDefault):
    """A table filled once by an initializer op, registered in ``TABLE_INITIALIZERS``."""

    def __init__(self, default_value, initializer, name: str) -> None:
        super().__init__(initializer.key_dtype, initializer.value_dtype, name)
        self._default_value = convert_to_tensor(default_value, self._value_dtype,
                                                name=f"{self._name}_default")
        if self._default_value.shape.ndims not in (None, 0):
            raise ValueError(f"Table '{self._name}': default_value must be a scalar, got shape "
                             f"{self._default_value.shape}.")
        self._initializer = initializer
        self._init_op = initializer.initialize(self)
        get_default_graph().add_to_collection(GraphKeys.TABLE_INITIALIZERS, self._init_op)

    @property
    def initializer(self) -> Operation:
        return self._init_op

    @property
    def init(self) -> Operation:
        return self._init_op


class StaticHashTable(InitializableLookupTableBase):
    """``tf.lookup.StaticHashTable``: an immutable table filled by ``initializer``."""

    def __init__(self, initializer, default_value, name=None) -> None:
        super().__init__(default_value, initializer, name or "hash_table")


class HashTable(StaticHashTable):
    """``tf.contrib.lookup.HashTable`` (TF1's name for ``StaticHashTable``)."""


class _IdsWithHashBuckets(LookupInterface):
    """A table of int64 ids: those of ``_table`` (when there is one), and for keys outside
    it one of ``_num_oov_buckets`` hash buckets numbered after them."""

    @property
    def initializer(self):
        return self._table.initializer if self._table is not None else S.no_op()

    init = initializer

    def size(self, name=None) -> Tensor:
        """Vocabulary size plus ``num_oov_buckets``."""
        with name_scope(name or f"{self._name}_Size"):
            base = self._table.size() if self._table is not None else \
                convert_to_tensor(0, _I64)
            return M.add(base, convert_to_tensor(self._num_oov_buckets, _I64))

    def lookup(self, keys, name=None):
        dense, rebuild = _lookup_keys(keys, self._key_dtype)
        dense = self._check_keys(dense)
        with name_scope(name or f"{self._name}_Lookup"):
            return rebuild(_ids_with_buckets(self._table, dense, self._num_oov_buckets))


class StaticVocabularyTable(_IdsWithHashBuckets):
    """``tf.lookup.StaticVocabularyTable``: ids from a vocabulary; a key outside it goes to
    one of ``num_oov_buckets`` extra ids, ``vocab_size + Fingerprint64(key) % num_oov_buckets``
    (integer keys hashed as their decimal string), as in TensorFlow."""

    def __init__(self, initializer, num_oov_buckets, lookup_key_dtype=None, name=None) -> None:
        if num_oov_buckets <= 0:
            raise ValueError(f"oov_buckets must be > 0, got {num_oov_buckets}.")
        if initializer is not None and initializer.value_dtype != _I64:
            raise TypeError(f"Invalid value dtype {initializer.value_dtype.name}: the "
                            "initializer's values must be int64 ids.")
        self._num_oov_buckets = int(num_oov_buckets)
        name = name or "hash_table"
        if initializer is not None:
            with name_scope(name):
                self._table = StaticHashTable(initializer, -1)
            key_dtype = initializer.key_dtype
        else:
            self._table = None
            key_dtype = lookup_key_dtype or _S
        super().__init__(lookup_key_dtype or key_dtype, _I64, name)
        if key_dtype not in (_S, _I64) and self._table is not None:
            raise TypeError(f"Invalid key dtype {key_dtype.name}: string or int64 expected.")



def _ids_with_buckets(table, keys: Tensor, num_oov_buckets: int) -> Tensor:
    as_text = keys if keys.dtype == _S else SO.as_string(keys)
    buckets = SO.string_to_hash_bucket_fast(as_text, num_oov_buckets)
    if table is None:
        return buckets
    if table.key_dtype != keys.dtype:
        keys = M.cast(keys, table.key_dtype)
    ids = table.lookup(keys)
    return M.where(M.not_equal(ids, table.default_value), ids, M.add(buckets, table.size()))


class IdTableWithHashBuckets(_IdsWithHashBuckets):
    """``tf.contrib.lookup.IdTableWithHashBuckets``: ``table``'s ids, and for keys it lacks
    ``table.size() + Fingerprint64(key) % num_oov_buckets``."""

    def __init__(self, table, num_oov_buckets, hasher_spec=None, name=None,
                 key_dtype=None) -> None:
        if hasher_spec is not None and hasher_spec is not FastHashSpec:
            raise ValueError("IdTableWithHashBuckets: only FastHashSpec (Fingerprint64) "
                             "hashing is available.")
        self._table = table
        self._num_oov_buckets = int(num_oov_buckets)
        kd = key_dtype or (table.key_dtype if table is not None else _S)
        super().__init__(kd, _I64, name or "hash_bucket")



FastHashSpec = "FastHashSpec"


class MutableHashTable(_TableWithDefault):
    """``tf.contrib.lookup.MutableHashTable``: starts empty in each session; ``insert``,
    ``remove``, ``lookup``, ``size``, ``export``."""

    _mutable = True

    def __init__(self, key_dtype, value_dtype, default_value, name="MutableHashTable",
                 checkpoint=True) -> None:
        super().__init__(key_dtype, value_dtype, name)
        self._default_value = convert_to_tensor(default_value, self._value_dtype,
                                                name=f"{self._name}_default")
        if self._default_value.shape.ndims not in (None, 0):
            raise ValueError(f"MutableHashTable '{self._name}': default_value must be a "
                             "scalar (vector values are not supported).")

    def insert(self, keys, values, name=None) -> Operation:
        keys = self._check_keys(convert_to_tensor(keys, self._key_dtype, name="keys"))
        values = convert_to_tensor(values, self._value_dtype, name="values")
        return _lookup_insert(keys, values, table=self._key, table_name=self._name,
                              key_dtype=self._key_dtype, value_dtype=self._value_dtype,
                              name=name or f"{self._name}_Insert")

    def remove(self, keys, name=None) -> Operation:
        keys = self._check_keys(convert_to_tensor(keys, self._key_dtype, name="keys"))
        return _lookup_remove(keys, table=self._key, table_name=self._name,
                              key_dtype=self._key_dtype, name=name or f"{self._name}_Remove")



# ----- contrib.lookup's index tables ---------------------------------------------------------
def _check_oov(num_oov_buckets, default_value) -> None:
    if num_oov_buckets < 0:
        raise ValueError(f"num_oov_buckets must be >= 0, got {num_oov_buckets}.")
    if num_oov_buckets and default_value != -1:
        raise ValueError(f"Can't specify both num_oov_buckets ({num_oov_buckets}) and a "
                         f"default_value ({default_value}): keys outside the vocabulary go to "
                         "the OOV buckets.")


def index_table_from_tensor(vocabulary_list, num_oov_buckets=0, default_value=-1,
                            hasher_spec=FastHashSpec, dtype=_S, name=None):
    """A table from each string (or integer) of ``vocabulary_list`` to its position."""
    if vocabulary_list is None:
        raise ValueError("vocabulary_list must be specified.")
    _check_oov(num_oov_buckets, default_value)
    dtype = _dt.as_dtype(dtype)
    with name_scope(name or "string_to_index"):
        keys = convert_to_tensor(vocabulary_list, dtype, name="vocabulary_list")
        if keys.dtype.is_integer and keys.dtype != _I64:
            keys = M.cast(keys, _I64)
        ids = M.cast(A.range(A.size(keys)), _I64) if keys.shape.ndims != 1 or \
            keys.shape[0] is None else convert_to_tensor(
                np.arange(int(keys.shape[0]), dtype=np.int64))
        init = KeyValueTensorInitializer(keys, ids, keys.dtype, _I64, name="table_init")
        table = StaticHashTable(init, default_value, name="hash_table")
        if num_oov_buckets:
            return IdTableWithHashBuckets(table, num_oov_buckets, hasher_spec,
                                          key_dtype=dtype if dtype == _S else _I64)
    return table


def index_table_from_file(vocabulary_file=None, num_oov_buckets=0, vocab_size=None,
                          default_value=-1, hasher_spec=FastHashSpec, key_dtype=_S, name=None,
                          key_column_index=WHOLE_LINE, value_column_index=LINE_NUMBER,
                          delimiter="\t"):
    """A table from each line (or column) of ``vocabulary_file`` to its line number."""
    if vocabulary_file is None or isinstance(vocabulary_file, str) and not vocabulary_file:
        raise ValueError("vocabulary_file must be specified and must not be empty.")
    _check_oov(num_oov_buckets, default_value)
    key_dtype = _dt.as_dtype(key_dtype)
    file_key_dtype = _S if key_dtype == _S else _I64
    with name_scope(name or "string_to_index"):
        init = TextFileInitializer(vocabulary_file, file_key_dtype, key_column_index, _I64,
                                   value_column_index, vocab_size, delimiter,
                                   name="table_init")
        table = StaticHashTable(init, default_value, name="hash_table")
        if num_oov_buckets:
            return IdTableWithHashBuckets(table, num_oov_buckets, hasher_spec,
                                          key_dtype=key_dtype)
    return table


def index_to_string_table_from_tensor(vocabulary_list, default_value="UNK", name=None):
    """A table from positions (int64) to the strings of ``vocabulary_list``."""
    if vocabulary_list is None:
        raise ValueError("vocabulary_list must be specified.")
    with name_scope(name or "index_to_string"):
        values = convert_to_tensor(vocabulary_list, _S, name="vocabulary_list")
        keys = M.cast(A.range(A.size(values)), _I64)
        init = KeyValueTensorInitializer(keys, values, _I64, _S, name="table_init")
        return StaticHashTable(init, default_value, name="hash_table")


def index_to_string_table_from_file(vocabulary_file, vocab_size=None, default_value="UNK",
                                    name=None, key_column_index=LINE_NUMBER,
                                    value_column_index=WHOLE_LINE, delimiter="\t"):
    """A table from line numbers (int64) to the lines (or a column) of ``vocabulary_file``."""
    if vocabulary_file is None or isinstance(vocabulary_file, str) and not vocabulary_file:
        raise ValueError("vocabulary_file must be specified and must not be empty.")
    with name_scope(name or "index_to_string"):
        init = TextFileInitializer(vocabulary_file, _I64, key_column_index, _S,
                                   value_column_index, vocab_size, delimiter,
                                   name="table_init")
        return StaticHashTable(init, default_value, name="hash_table")


def index_to_string(tensor, mapping, default_value="UNK", name=None):
    """``tf.contrib.lookup.index_to_string``: ``tensor``'s ids looked up in ``mapping``."""
    table = index_to_string_table_from_tensor(mapping, default_value, name)
    return table.lookup(tensor)


def tables_initializer(name="init_all_tables") -> Operation:
    """``tf.tables_initializer``: one op running every initializer in ``TABLE_INITIALIZERS``."""
    inits = get_default_graph().get_collection(GraphKeys.TABLE_INITIALIZERS)
    return S.group(*inits, name=name) if inits else S.no_op(name=name)


initialize_all_tables = tables_initializer
