"""Parsing ``tf.train.Example`` records: ``tf.parse_example``, ``parse_single_example``,
``parse_single_sequence_example``, the feature specs, and ``tf.decode_raw``.

    features = {"x": tf.FixedLenFeature([3], tf.float32),
                "label": tf.FixedLenFeature([], tf.int64, default_value=0),
                "tags": tf.VarLenFeature(tf.string)}
    parsed = tf.parse_example(serialized_batch, features)   # dict: Tensor / SparseTensor

A feature's values come from the list of its dtype (``float_list`` for tf.float32,
``int64_list`` for tf.int64, ``bytes_list`` for tf.string); another list is an error, as is
a missing feature that has no default. The ops run on the host and decode with the
``protobuf`` package (``pip install 'flowgrad[tfrecord]'``).
"""

from __future__ import annotations

import collections
import math

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import (NodeSpec, constant_value,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops.sparse_tensor import SparseTensor
from flowgrad.runtime.placement import register_host_only

# --- feature specs --------------------------------------------------------------------------
FixedLenFeature = collections.namedtuple("FixedLenFeature", ["shape", "dtype", "default_value"])
FixedLenFeature.__new__.__defaults__ = (None,)
FixedLenFeature.__doc__ = ("``tf.io.FixedLenFeature(shape, dtype, default_value=None)``: a "
                           "dense feature of ``prod(shape)`` values, parsed to shape "
                           "``shape``; without a default it is required.")

VarLenFeature = collections.namedtuple("VarLenFeature", ["dtype"])
VarLenFeature.__doc__ = "``tf.io.VarLenFeature(dtype)``: any number of values, as a SparseTensor."

FixedLenSequenceFeature = collections.namedtuple(
    "FixedLenSequenceFeature", ["shape", "dtype", "allow_missing", "default_value"])
FixedLenSequenceFeature.__new__.__defaults__ = (False, None)
FixedLenSequenceFeature.__doc__ = (
    "``tf.io.FixedLenSequenceFeature(shape, dtype, allow_missing=False, default_value=None)``:"
    " a sequence of items of shape ``shape``, parsed to ``[n, *shape]`` (batches padded with "
    "``default_value`` to the longest)")

SparseFeature = collections.namedtuple(
    "SparseFeature", ["index_key", "value_key", "dtype", "size", "already_sorted"])
SparseFeature.__new__.__defaults__ = (False,)
SparseFeature.__doc__ = (
    "``tf.io.SparseFeature(index_key, value_key, dtype, size, already_sorted=False)``: a "
    "SparseTensor of dense shape ``size`` whose indices are the int64 feature(s) "
    "``index_key`` and values the feature ``value_key``")

_LIST_OF = {"float32": "float_list", "int64": "int64_list", "string": "bytes_list"}
_WORD = {"float_list": "float", "int64_list": "int64", "bytes_list": "string"}
_NP = {"float32": np.float32, "int64": np.int64, "string": object}


# --- building the op's attributes -------------------------------------------------------------
def _dtype_name(dtype, key: str, what: str) -> str:
    name = _dt.as_dtype(dtype).name
    if name not in _LIST_OF:
        raise ValueError(f"{what}: feature '{key}' has dtype {name}; Example features are "
                         "tf.float32, tf.int64 or tf.string.")
    return name


def _flat_default(value, dtype: str, count: int | None, key: str, what: str):
    if value is None:
        return None
    arr = np.asarray(value, dtype=_NP[dtype]) if dtype != "string" else \
        np.asarray([v.encode() if isinstance(v, str) else v for v in np.ravel(value)],
                   dtype=object)
    flat = arr.reshape(-1)
    if count is not None and flat.size != count:
        raise ValueError(f"{what}: default_value of feature '{key}' has {flat.size} values "
                         f"but its shape needs {count}.")
    return tuple(flat.tolist())


def _shape(shape, key: str, what: str) -> tuple:
    dims = tuple(TensorShape(shape).as_list()) if shape is not None else None
    if dims is None or any(d is None or d < 0 for d in dims):
        raise ValueError(f"{what}: feature '{key}' needs a fully defined shape, got {shape}.")
    return dims


def _specs(features: dict, what: str, sequence: bool = False) -> tuple:
    """Feature specs as hashable attribute tuples ``(kind, key, dtype, shape, default, aux)``."""
    out = []
    for key in features:
        f = features[key]
        if isinstance(f, FixedLenFeature) and not sequence:
            shape = _shape(f.shape, key, what)
            d = _dtype_name(f.dtype, key, what)
            out.append(("dense", key, d, shape,
                        _flat_default(f.default_value, d, math.prod(shape), key, what), None))
        elif isinstance(f, FixedLenSequenceFeature):
            if not sequence and not f.allow_missing:
                raise ValueError(f"{what}: FixedLenSequenceFeature '{key}' requires "
                                 "allow_missing=True (Unsupported: FixedLenSequenceFeature "
                                 "requires allow_missing to be True).")
            d = _dtype_name(f.dtype, key, what)
            out.append(("seq", key, d, _shape(f.shape, key, what),
                        _flat_default(f.default_value, d, 1, key, what),
                        bool(f.allow_missing)))
        elif isinstance(f, VarLenFeature):
            out.append(("var", key, _dtype_name(f.dtype, key, what), None, None, None))
        elif isinstance(f, SparseFeature) and not sequence:
            index_keys = (f.index_key,) if isinstance(f.index_key, str) else tuple(f.index_key)
            sizes = (f.size,) if isinstance(f.size, int | np.integer) else tuple(f.size)
            if len(sizes) != len(index_keys):
                raise ValueError(f"{what}: SparseFeature '{key}' has {len(index_keys)} index "
                                 f"keys but size {f.size}.")
            out.append(("sparse", key, _dtype_name(f.dtype, key, what),
                        tuple(int(s) for s in sizes), None,
                        (f.value_key, index_keys, bool(f.already_sorted))))
        else:
            allowed = ("FixedLenSequenceFeature or VarLenFeature" if sequence else
                       "FixedLenFeature, VarLenFeature, FixedLenSequenceFeature or "
                       "SparseFeature")
            raise ValueError(f"{what}: feature '{key}' is {f!r}; expected {allowed}.")
    return tuple(out)


def _spec_outputs(specs: tuple, lead: list) -> list:
    """(shape, dtype) of each output: dense ones, then sparse (indices, values, shape)."""
    out = []
    for kind, _, dtype, shape, _, aux in specs:
        if kind == "dense":
            out.append((lead + list(shape), dtype))
        elif kind == "seq":
            out.append((lead + [None] + list(shape), dtype))
        else:
            rank = len(lead) + (len(shape) if kind == "sparse" else 1)
            out += [([None, rank], "int64"), ([None], dtype), ([rank], "int64")]
    return out


def _order(specs: tuple) -> tuple:
    """Dense outputs first, then sparse, as in TF's parse ops."""
    return tuple(s for s in specs if s[0] in ("dense", "seq")) + \
        tuple(s for s in specs if s[0] in ("var", "sparse"))


# --- decoding ---------------------------------------------------------------------------------
def _where(names, b: int, key: str) -> str:
    name = names[b] if b < len(names) else "<unknown>"
    return f"Name: {name}, Key: {key}, Index: {b}"


def _values(feature, dtype: str, where: str) -> np.ndarray:
    kind = feature.WhichOneof("kind")
    if kind is None:
        return np.zeros(0, dtype=_NP[dtype])
    want = _LIST_OF[dtype]
    if kind != want:
        raise errors.InvalidArgumentError(
            None, None, f"{where}.  Data types don't match. Data type: {_WORD[kind]} but "
            f"expected type: {_WORD[want]}")
    if dtype == "float32":
        return _floats(feature.float_list)
    values = getattr(feature, kind).value
    return np.array(list(values), dtype=object) if dtype == "string" else \
        np.array(values, dtype=np.int64)


def _floats(float_list) -> np.ndarray:
    """A FloatList's values straight from its packed encoding (tag, varint length, little-
    endian float32s): ~50x faster than converting the values one by one."""
    data = float_list.SerializeToString()
    if not data:
        return np.zeros(0, np.float32)
    if data[0] != 0x0A:                           # not the packed field 1
        return np.array(float_list.value, dtype=np.float32)
    pos, length, shift = 1, 0, 0
    while True:
        byte = data[pos]
        length |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            break
    return np.frombuffer(data, dtype="<f4", count=length // 4, offset=pos).astype(np.float32)


def _dense(maps, spec, names, batched: bool) -> np.ndarray:
    _, key, dtype, shape, default, _ = spec
    n = math.prod(shape)
    out = np.empty((len(maps), n), dtype=_NP[dtype])
    for b, m in enumerate(maps):
        if key not in m or m[key].WhichOneof("kind") is None:      # a Feature with no list
            if default is None:
                raise errors.InvalidArgumentError(
                    None, None, f"{_where(names, b, key)}.  Feature: {key} (data type: "
                    f"{_WORD[_LIST_OF[dtype]]}) is required but could not be found.")
            out[b] = default
            continue
        v = _values(m[key], dtype, _where(names, b, key))
        if v.size != n:
            raise errors.InvalidArgumentError(
                None, None, f"{_where(names, b, key)}.  Number of {_WORD[_LIST_OF[dtype]]} "
                f"values != expected.  Values size: {v.size} but output shape: {list(shape)}")
        out[b] = v
    return out.reshape(((len(maps),) if batched else ()) + tuple(shape))


def _padded(rows: list, spec, batched: bool) -> np.ndarray:
    _, _, dtype, shape, default, _ = spec
    stride = math.prod(shape)
    longest = max((len(r) for r in rows), default=0)
    pad = default[0] if default is not None else (b"" if dtype == "string" else 0)
    out = np.full((len(rows), longest * stride), pad, dtype=_NP[dtype])
    for b, r in enumerate(rows):
        out[b, :len(r) * stride] = np.concatenate(r) if len(r) else []
    out = out.reshape((len(rows), longest) + tuple(shape))
    return out if batched else out[0]


def _seq_rows(maps, spec, names) -> list:
    """Each example's items (value arrays of ``prod(shape)``) of a FixedLenSequenceFeature."""
    _, key, dtype, shape, _, _ = spec
    stride = math.prod(shape)
    rows = []
    for b, m in enumerate(maps):
        v = _values(m[key], dtype, _where(names, b, key)) if key in m else \
            np.zeros(0, dtype=_NP[dtype])
        if stride == 0 or v.size % stride:
            raise errors.InvalidArgumentError(
                None, None, f"{_where(names, b, key)}.  Number of values is not a multiple of "
                f"stride. Values size: {v.size}, stride: {stride}")
        rows.append([v[i:i + stride] for i in range(0, v.size, stride)])
    return rows


def _ragged(rows: list, dtype: str, batched: bool) -> list:
    """``(indices, values, dense_shape)`` of a SparseTensor with one row per list."""
    lengths = [len(r) for r in rows]
    values = np.concatenate(rows) if rows else np.zeros(0)
    values = values.astype(_NP[dtype]) if dtype != "string" else np.asarray(values, object)
    if not len(values):
        values = np.zeros(0, dtype=_NP[dtype])
    cols = np.concatenate([np.arange(k, dtype=np.int64) for k in lengths]) if rows else \
        np.zeros(0, np.int64)
    longest = max(lengths, default=0)
    if not batched:
        return [cols.reshape(-1, 1), values, np.array([longest], np.int64)]
    batch = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    return [np.stack([batch, cols], axis=1).astype(np.int64), values,
            np.array([len(rows), longest], np.int64)]


def _sparse_feature(maps, spec, names, batched: bool) -> list:
    _, _, dtype, sizes, _, (value_key, index_keys, already_sorted) = spec
    idx_rows, val_rows = [], []
    for b, m in enumerate(maps):
        vals = _values(m[value_key], dtype, _where(names, b, value_key)) if value_key in m \
            else np.zeros(0, dtype=_NP[dtype])
        cols = []
        for k in index_keys:
            ix = _values(m[k], "int64", _where(names, b, k)) if k in m else \
                np.zeros(0, np.int64)
            if ix.size != vals.size:
                raise errors.InvalidArgumentError(
                    None, None, f"{_where(names, b, k)}.  SparseFeature: {ix.size} indices "
                    f"in '{k}' but {vals.size} values in '{value_key}'")
            cols.append(ix)
        ix = np.stack(cols, axis=1) if cols else np.zeros((vals.size, 0), np.int64)
        if (ix < 0).any() or (ix >= np.array(sizes)).any():
            raise errors.InvalidArgumentError(
                None, None, f"{_where(names, b, value_key)}.  SparseFeature indices "
                f"{ix.tolist()} out of the dense shape {list(sizes)}")
        if not already_sorted and len(ix):
            order = np.lexsort(ix.T[::-1])
            ix, vals = ix[order], vals[order]
        lead = [np.full((len(ix), 1), b, np.int64)] if batched else []
        idx_rows.append(np.concatenate(lead + [ix], axis=1))
        val_rows.append(vals)
    rank = len(sizes) + (1 if batched else 0)
    indices = np.concatenate(idx_rows) if idx_rows else np.zeros((0, rank), np.int64)
    values = np.concatenate(val_rows) if val_rows else np.zeros(0, _NP[dtype])
    shape = ([len(maps)] if batched else []) + list(sizes)
    return [indices.astype(np.int64), values, np.array(shape, np.int64)]


def _parse_maps(maps, specs, names, batched: bool) -> list:
    out = []
    for spec in specs:
        kind, key, dtype = spec[0], spec[1], spec[2]
        if kind == "dense":
            out.append(_dense(maps, spec, names, batched))
        elif kind == "seq":
            out.append(_padded(_seq_rows(maps, spec, names), spec, batched))
        elif kind == "var":
            rows = [_values(m[key], dtype, _where(names, b, key)) if key in m
                    else np.zeros(0, _NP[dtype]) for b, m in enumerate(maps)]
            out += _ragged(rows, dtype, batched)
        else:
            out += _sparse_feature(maps, spec, names, batched)
    return out


def _decode(cls, data, b: int, names):
    from google.protobuf.message import DecodeError  # noqa: PLC0415
    try:
        return cls.FromString(bytes(data))
    except (DecodeError, TypeError) as e:
        name = names[b] if b < len(names) else "<unknown>"
        raise errors.InvalidArgumentError(
            None, None, f"Could not parse example input, value: {bytes(data)[:40]!r} (name: "
            f"{name}, index {b}): {e}") from None


def _example_class(name: str):
    from flowgrad.io import example_pb  # noqa: PLC0415
    return example_pb.message_class(name)


# --- ParseExample -------------------------------------------------------------------------------
def _parse_example_shape(node: NodeSpec):
    x = node.inputs[0]
    batched = node.attrs["batched"]
    if x.dtype != _dt.string:
        node.fail(f"serialized must be a string tensor, got {x.dtype.name}", TypeError)
    rank = 1 if batched else 0
    if x.shape.ndims not in (None, rank):
        node.fail(f"serialized must be a {'vector' if batched else 'scalar'}, got shape "
                  f"{x.shape}")
    lead = [x.shape[0] if x.shape.ndims == 1 else None] if batched else []
    return _spec_outputs(node.attrs["specs"], lead)


@op("ParseExample", shape=_parse_example_shape)
def _parse_example(xp, serialized, *, specs, batched, names=()):
    cls = _example_class("Example")
    rows = np.asarray(serialized, dtype=object).reshape(-1)
    maps = [_decode(cls, s, b, names).features.feature for b, s in enumerate(rows)]
    return _parse_maps(maps, specs, names, batched)


def _outputs_to_dict(specs: tuple, outputs: list) -> dict:
    result, i = {}, 0
    for kind, key, *_ in specs:
        if kind in ("dense", "seq"):
            result[key] = outputs[i]
            i += 1
        else:
            result[key] = SparseTensor(*outputs[i:i + 3])
            i += 3
    return result


def _parse(serialized, features, name, example_names, batched: bool, what: str) -> dict:
    if not features:
        raise ValueError(f"{what}: Missing: features was {features}.")
    specs = _order(_specs(dict(features), what))
    names = _example_names(example_names)
    with name_scope(name, what):
        serialized = convert_to_tensor(serialized, name="serialized")
        outs = _parse_example(serialized, specs=specs, batched=batched, names=names, name=what)
        outs = outs if isinstance(outs, list) else [outs]
        parsed = _outputs_to_dict(specs, outs)
    return {k: parsed[k] for k in features}


def _example_names(example_names) -> tuple:
    """Names for error messages: a list of strings, or a constant tensor of them."""
    if example_names is None:
        return ()
    if hasattr(example_names, "_as_graph_element") or hasattr(example_names, "op"):
        value = constant_value(convert_to_tensor(example_names))
        if value is None:
            return ()
        example_names = np.asarray(value, dtype=object).reshape(-1).tolist()
    return tuple(_text(n) for n in example_names)


def _text(n) -> str:
    return n.decode() if isinstance(n, bytes) else str(n)


def parse_example(serialized, features, name=None, example_names=None) -> dict:
    """``tf.parse_example``: a batch (string vector) of serialized Examples to a dict of
    ``[batch, *shape]`` tensors (FixedLenFeature), ``[batch, longest, *shape]`` tensors
    (FixedLenSequenceFeature with allow_missing=True) and SparseTensors (VarLenFeature:
    indices ``[example, position]``, dense shape ``[batch, longest]``; SparseFeature)."""
    return _parse(serialized, features, name, example_names, True, "ParseExample")


def parse_single_example(serialized, features, name=None, example_names=None) -> dict:
    """``tf.parse_single_example``: one serialized Example (a string scalar) to a dict of
    tensors of shape ``shape`` and SparseTensors with indices ``[position]``.

    >>> import flowgrad as tf
    >>> ex = tf.train.Example(features=tf.train.Features(feature={
    ...     "x": tf.train.Feature(float_list=tf.train.FloatList(value=[1.0, 2.0]))}))
    >>> with tf.Graph().as_default(), tf.Session() as s:
    ...     s.run(tf.parse_single_example(ex.SerializeToString(),
    ...                                   {"x": tf.FixedLenFeature([2], tf.float32)}))
    {'x': array([1., 2.], dtype=float32)}
    """
    if example_names is not None and not isinstance(example_names, str | bytes):
        example_names = list(example_names)
    elif example_names is not None:
        example_names = [example_names]
    return _parse(serialized, features, name, example_names, False, "ParseSingleExample")


# --- ParseSingleSequenceExample ---------------------------------------------------------------
def _parse_sequence_shape(node: NodeSpec):
    x = node.inputs[0]
    if x.dtype != _dt.string:
        node.fail(f"serialized must be a string tensor, got {x.dtype.name}", TypeError)
    if x.shape.ndims not in (None, 0):
        node.fail(f"serialized must be a scalar, got shape {x.shape}")
    steps = []
    for spec in node.attrs["sequence"]:               # var: indices [step, position]
        steps += _spec_outputs((spec,), [] if spec[0] == "seq" else [None])
    return _spec_outputs(node.attrs["context"], []) + steps


@op("ParseSingleSequenceExample", shape=_parse_sequence_shape)
def _parse_sequence_example(xp, serialized, *, context, sequence, names=()):
    ex = _decode(_example_class("SequenceExample"), np.asarray(serialized, object).item(), 0,
                 names)
    out = _parse_maps([ex.context.feature], context, names, False)
    lists = ex.feature_lists.feature_list
    for kind, key, dtype, shape, default, allow_missing in sequence:
        where = f"Name: {names[0] if names else '<unknown>'}, Feature list: {key}"
        if key not in lists:
            if kind == "seq" and not allow_missing:
                raise errors.InvalidArgumentError(
                    None, None, f"{where}.  Feature list '{key}' is required but could not be "
                    "found.  Did you mean to include it in feature_list_dense_missing_"
                    "assumed_empty or feature_list_dense_defaults?")
            steps = []
        else:
            steps = [_values(f, dtype, f"{where}, Index: {t}")
                     for t, f in enumerate(lists[key].feature)]
        if kind == "var":
            out += _ragged(steps, dtype, True)
            continue
        n = math.prod(shape)
        for t, v in enumerate(steps):
            if v.size != n:
                raise errors.InvalidArgumentError(
                    None, None, f"{where}, Index: {t}.  Number of {_WORD[_LIST_OF[dtype]]} "
                    f"values != expected.  values size: {v.size} but output shape: "
                    f"{list(shape)}")
        values = np.stack(steps) if steps else np.zeros((0, n), _NP[dtype])
        out.append(values.astype(_NP[dtype]).reshape((len(steps),) + tuple(shape)))
    return out


def parse_single_sequence_example(serialized, context_features=None, sequence_features=None,
                                  example_name=None, name=None) -> tuple[dict, dict]:
    """``tf.parse_single_sequence_example``: one serialized SequenceExample to
    ``(context, feature_lists)`` dicts. Context features are FixedLenFeature or
    VarLenFeature; sequence features FixedLenSequenceFeature (``[steps, *shape]``) or
    VarLenFeature (indices ``[step, position]``)."""
    what = "ParseSingleSequenceExample"
    context_features = dict(context_features or {})
    sequence_features = dict(sequence_features or {})
    if not context_features and not sequence_features:
        raise ValueError(f"{what}: Missing features (context_features and sequence_features "
                         "are both empty).")
    for k, f in context_features.items():
        if not isinstance(f, FixedLenFeature | VarLenFeature):
            raise ValueError(f"{what}: context feature '{k}' is {f!r}; expected "
                             "FixedLenFeature or VarLenFeature.")
    context = _order(_specs(context_features, what))
    sequence = _order(_specs(sequence_features, what, sequence=True))
    names = () if example_name is None else (_text(example_name),)
    with name_scope(name, what):
        serialized = convert_to_tensor(serialized, name="serialized")
        outs = _parse_sequence_example(serialized, context=context, sequence=sequence,
                                       names=names, name=what)
        outs = outs if isinstance(outs, list) else [outs]
    n = len(_spec_outputs(context, []))
    return (_outputs_to_dict(context, outs[:n]), _outputs_to_dict(sequence, outs[n:]))


# tf.decode_raw is ``flowgrad.ops.string_ops.decode_raw`` (re-exported here for tf.io)
from flowgrad.ops.string_ops import decode_raw  # noqa: E402,F401


register_host_only("ParseExample", "ParseSingleSequenceExample", "DecodeRaw")
