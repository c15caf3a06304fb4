"""TF1's string ops. A ``tf.string`` value is a numpy object array of ``bytes``; the kernels
loop over it in Python (numpy has no vectorised bytes arithmetic for object arrays) and stay
on the host. None of them has a gradient."""

from __future__ import annotations

import re

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape, broadcast_shapes
from flowgrad.ops import string_hash
from flowgrad.ops.sparse_common import _sp, _sparse_out

_S = _dt.string
_len = len            # some kernels take an input named `len`


def _bad(msg: str):
    return errors.InvalidArgumentError(None, None, msg)


def _strings(node: NodeSpec, *idx: int) -> None:
    for i in idx:
        if node.inputs[i].dtype != _S:
            node.fail(f"input {i} must be a string tensor, got {node.inputs[i].dtype.name}",
                      TypeError)


def _map(fn, arr, otype=object) -> np.ndarray:
    """``fn`` applied to every element of an object array; result of dtype ``otype``."""
    arr = np.asarray(arr, dtype=object)
    out = np.empty(arr.shape, dtype=otype)
    flat = out.reshape(-1)
    for i, x in enumerate(arr.reshape(-1)):
        flat[i] = fn(x)
    return out


def _same_shape(kind: _dt.DType | None = None, check: bool = True):
    def rule(node: NodeSpec):
        if check:
            _strings(node, 0)
        return node.inputs[0].shape, kind or _S
    return rule


def _decode(s: bytes, what: str) -> str:
    try:
        return s.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(f"{what}: {s!r} is not valid UTF-8.") from None


# ----- AsString ------------------------------------------------------------------------------
def _as_string_shape(node: NodeSpec):
    dt = node.inputs[0].dtype
    if dt == _S:
        node.fail("as_string expects a numeric or bool tensor, got a string tensor", TypeError)
    fill = node.attrs["fill"]
    if len(fill) > 1:
        node.fail(f"Fill string must be one or fewer characters, got {fill!r}")
    if fill and fill not in " +-0#":
        node.fail(f"Fill argument not supported: {fill!r}")
    if node.attrs["scientific"] and node.attrs["shortest"]:
        node.fail("Cannot select both scientific and shortest notation")
    if not (dt.is_floating or dt.is_complex) and (node.attrs["precision"] > -1
                                                   or node.attrs["scientific"]
                                                   or node.attrs["shortest"]):
        node.fail(f"precision, scientific and shortest apply to floats, not {dt.name}")
    return node.inputs[0].shape, _S


@op("AsString", shape=_as_string_shape)
def _as_string(xp, input, *, precision=-1, scientific=False, shortest=False,  # noqa: A002
               width=-1, fill=""):
    x = np.asarray(input)
    spec = "%" + fill + (str(width) if width > -1 else "")
    if x.dtype.kind == "b":
        return _map(lambda v: b"true" if v else b"false", x)
    if x.dtype.kind in "iu":
        fmt = spec + "d"
        return _map(lambda v: (fmt % int(v)).encode(), x.astype(object))
    fmt = spec + (f".{precision}" if precision > -1 else "") + \
        ("g" if shortest else "e" if scientific else "f")
    if x.dtype.kind == "c":
        return _map(lambda v: f"({fmt % v.real},{fmt % v.imag})".encode(), x.astype(object))
    return _map(lambda v: (fmt % float(v)).encode(), x.astype(object))


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1,  # noqa: A002
              fill="", name=None) -> Tensor:
    """``tf.as_string``: each element formatted as C's printf would (``%f``, ``%d``, ...)."""
    return _as_string(input, precision=int(precision), scientific=bool(scientific),
                      shortest=bool(shortest), width=int(width), fill=str(fill), name=name)


# ----- StringJoin ----------------------------------------------------------------------------
def _join_shape(node: NodeSpec):
    _strings(node, *range(len(node.inputs)))
    shape = TensorShape(())
    for t in node.inputs:
        if t.shape.ndims == 0:
            continue
        if shape.ndims == 0:
            shape = t.shape
            continue
        merged = shape.merge_with(t.shape) if shape.is_compatible_with(t.shape) else None
        if merged is None:
            node.fail(f"inputs must be scalars or have the same shape, got {shape} and {t.shape}")
        shape = merged
    return shape, _S


@op("StringJoin", shape=_join_shape)
def _string_join(xp, *inputs, separator=""):
    arrs = [np.asarray(a, dtype=object) for a in inputs]
    shapes = {a.shape for a in arrs if a.ndim}
    if len(shapes) > 1:
        raise _bad(f"StringJoin: inputs must be scalars or have the same shape, got "
                   f"{sorted(shapes)}")
    arrs = np.broadcast_arrays(*arrs) if arrs else arrs
    sep = separator.encode()
    out = np.empty(arrs[0].shape, dtype=object)
    flat = out.reshape(-1)
    for i, parts in enumerate(zip(*(a.reshape(-1) for a in arrs))):
        flat[i] = sep.join(parts)
    return out


def string_join(inputs, separator="", name=None) -> Tensor:
    """``tf.strings.join``: element-wise concatenation; scalars broadcast."""
    if not inputs:
        raise ValueError("string_join: `inputs` must hold at least one tensor.")
    return _string_join(list(inputs), separator=str(separator), name=name)


# ----- StringLength --------------------------------------------------------------------------
def _length_shape(node: NodeSpec):
    _strings(node, 0)
    if node.attrs["unit"] not in ("BYTE", "UTF8_CHAR"):
        node.fail(f"unit must be 'BYTE' or 'UTF8_CHAR', got {node.attrs['unit']!r}")
    return node.inputs[0].shape, _dt.int32


@op("StringLength", shape=_length_shape)
def _string_length(xp, input, *, unit="BYTE"):  # noqa: A002
    if unit == "BYTE":
        return _map(len, input, np.int32)
    # UTF-8 characters are the bytes that do not continue one (0b10xxxxxx)
    return _map(lambda s: sum(1 for b in s if b & 0xC0 != 0x80), input, np.int32)


def string_length(input, name=None, unit="BYTE") -> Tensor:  # noqa: A002
    """``tf.strings.length``: bytes (``unit="BYTE"``) or UTF-8 characters per element."""
    return _string_length(input, unit=unit, name=name)


# ----- Substr --------------------------------------------------------------------------------
def _substr_shape(node: NodeSpec):
    _strings(node, 0)
    for i in (1, 2):
        if not node.inputs[i].dtype.is_integer:
            node.fail(f"pos and len must be integers, got {node.inputs[i].dtype.name}", TypeError)
    if node.attrs["unit"] not in ("BYTE", "UTF8_CHAR"):
        node.fail(f"unit must be 'BYTE' or 'UTF8_CHAR', got {node.attrs['unit']!r}")
    shape = broadcast_shapes(node.inputs[0].shape, node.inputs[1].shape)
    shape = shape and broadcast_shapes(shape, node.inputs[2].shape)
    if shape is None:
        node.fail("input, pos and len must broadcast")
    return shape, _S


@op("Substr", shape=_substr_shape)
def _substr(xp, input, pos, len, *, unit="BYTE"):  # noqa: A002
    s, p, n = np.broadcast_arrays(np.asarray(input, dtype=object), np.asarray(pos),
                                  np.asarray(len))
    out = np.empty(s.shape, dtype=object)
    flat = out.reshape(-1)
    for i, (v, a, k) in enumerate(zip(s.reshape(-1), p.reshape(-1), n.reshape(-1))):
        a, k = int(a), int(k)
        text = v if unit == "BYTE" else _decode(v, "Substr")
        size = _len(text)
        if not -size <= a <= size:
            raise _bad(f"Substr: pos {a} out of range for string {v!r} at index {i}")
        if a < 0:
            a += size
        piece = text[a:] if k < 0 else text[a:a + k]     # TF: a negative len takes the rest
        flat[i] = piece if unit == "BYTE" else piece.encode("utf-8")
    return out




def substr(input, pos, len, name=None, unit="BYTE") -> Tensor:  # noqa: A002
    """``tf.strings.substr``: ``len`` bytes (or characters) from ``pos``; negative ``pos``
    counts from the end; ``pos`` and ``len`` broadcast against ``input``."""
    return _substr(input, pos, len, unit=unit, name=name)


# ----- StringSplit / StringSplitV2 -----------------------------------------------------------
def _split_shape(node: NodeSpec):
    _strings(node, 0, 1)
    if node.inputs[0].shape.ndims not in (None, 1):
        node.fail(f"input must be a vector, got shape {node.inputs[0].shape}")
    if node.inputs[1].shape.ndims not in (None, 0):
        node.fail(f"the delimiter must be a scalar, got shape {node.inputs[1].shape}")
    return _sparse_out(2, _S)


def _sparse_parts(rows: list[list[bytes]]):
    indices = [(r, c) for r, row in enumerate(rows) for c in range(_len(row))]
    values = np.empty(_len(indices), dtype=object)
    values[:] = [v for row in rows for v in row]
    width = max((_len(row) for row in rows), default=0)
    return (np.array(indices, dtype=np.int64).reshape(-1, 2), values,
            np.array([_len(rows), width], dtype=np.int64))


@op("StringSplit", shape=_split_shape)
def _string_split(xp, input, delimiter, *, skip_empty=True):  # noqa: A002
    delim = np.asarray(delimiter, dtype=object).reshape(())[()]
    if delim:
        pattern = re.compile(b"[" + re.escape(delim) + b"]")
        rows = [pattern.split(s) for s in np.asarray(input, dtype=object).reshape(-1)]
    else:
        rows = [[bytes([b]) for b in s] for s in np.asarray(input, dtype=object).reshape(-1)]
    if skip_empty:
        rows = [[t for t in row if t] for row in rows]
    return _sparse_parts(rows)


@op("StringSplitV2", shape=_split_shape)
def _string_split_v2(xp, input, sep, *, maxsplit=-1):  # noqa: A002
    sep = np.asarray(sep, dtype=object).reshape(())[()]
    strings = np.asarray(input, dtype=object).reshape(-1)
    rows = [s.split(sep or None, maxsplit) for s in strings]
    return _sparse_parts(rows)


def string_split(source, sep=None, skip_empty=True, delimiter=None,
                 result_type="SparseTensor", name=None):
    """``tf.string_split``: splits each string of a vector at any byte of ``delimiter``
    (default ``" "``; ``""`` splits into bytes); a ``SparseTensor`` of the tokens."""
    if result_type != "SparseTensor":
        raise ValueError(f"string_split: result_type must be 'SparseTensor' (flowgrad has no "
                         f"RaggedTensor), got {result_type!r}.")
    delimiter = sep if delimiter is None else delimiter
    delimiter = " " if delimiter is None else delimiter
    with name_scope(name or "StringSplit"):
        parts = _string_split(source, convert_to_tensor(delimiter, _S),
                              skip_empty=bool(skip_empty))
    return _sp(parts)


def strings_split(input=None, sep=None, maxsplit=-1, result_type="SparseTensor",  # noqa: A002
                  source=None, name=None):
    """``tf.strings.split``: Python's ``str.split`` on each string (``sep=None``: runs of
    whitespace, no empty tokens); a ``SparseTensor`` of the tokens."""
    if result_type != "SparseTensor":
        raise ValueError(f"strings.split: result_type must be 'SparseTensor' (flowgrad has no "
                         f"RaggedTensor), got {result_type!r}.")
    if input is None:
        input = source  # noqa: A001
    if input is None:
        raise ValueError("strings.split: pass `input`.")
    with name_scope(name or "StringSplit"):
        parts = _string_split_v2(input, convert_to_tensor("" if sep is None else sep, _S),
                                 maxsplit=int(maxsplit))
    return _sp(parts)


# ----- StringToNumber ------------------------------------------------------------------------
_NUMBER_TYPES = (_dt.float32, _dt.float64, _dt.int32, _dt.int64)
_FLOAT_RE = re.compile(rb"[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)", re.I)
_INT_RE = re.compile(rb"[+-]?\d+")


def _to_number_shape(node: NodeSpec):
    _strings(node, 0)
    if node.attrs["out_type"] not in _NUMBER_TYPES:
        node.fail(f"out_type must be one of float32, float64, int32, int64, got "
                  f"{node.attrs['out_type'].name}", TypeError)
    return node.inputs[0].shape, node.attrs["out_type"]


@op("StringToNumber", shape=_to_number_shape)
def _string_to_number(xp, string_tensor, *, out_type=_dt.float32):
    dt = out_type
    info = np.iinfo(dt.np) if dt.is_integer else None

    def parse(s: bytes):
        t = s.strip()
        if dt.is_integer:
            if _INT_RE.fullmatch(t) and info.min <= int(t) <= info.max:
                return int(t)
        elif _FLOAT_RE.fullmatch(t):
            return float(t)
        text = s.decode("utf-8", "replace")
        raise _bad(f"StringToNumberOp could not correctly convert string: {text}")

    return _map(parse, string_tensor).astype(dt.np)


def string_to_number(string_tensor, out_type=_dt.float32, name=None) -> Tensor:
    """``tf.strings.to_number``: parses each string; InvalidArgumentError on a bad one."""
    return _string_to_number(string_tensor, out_type=_dt.as_dtype(out_type), name=name)


# ----- regular expressions -------------------------------------------------------------------
def _regex_shape(node: NodeSpec):
    _strings(node, *range(len(node.inputs)))
    for t in node.inputs[1:]:
        if t.shape.ndims not in (None, 0):
            node.fail(f"the pattern and rewrite must be scalars, got shape {t.shape}")
    return node.inputs[0].shape, _S if node.type == "RegexReplace" else _dt.bool_


def _compile(pattern) -> re.Pattern:
    p = np.asarray(pattern, dtype=object).reshape(())[()]
    try:
        return re.compile(p)
    except re.error as e:
        raise _bad(f"Invalid pattern: {p!r}, error: {e}") from None


@op("RegexReplace", shape=_regex_shape)
def _regex_replace(xp, input, pattern, rewrite, *, replace_global=True):  # noqa: A002
    rx = _compile(pattern)
    rw = np.asarray(rewrite, dtype=object).reshape(())[()]
    rw = re.sub(rb"\\0", rb"\\g<0>", rw)         # RE2 writes the whole match as \0
    count = 0 if replace_global else 1
    return _map(lambda s: rx.sub(rw, s, count=count), input)


def regex_replace(input, pattern, rewrite, replace_global=True, name=None) -> Tensor:  # noqa: A002
    """``tf.strings.regex_replace``: ``rewrite`` (``\\1``, ``\\0`` groups) for matches of
    ``pattern`` (Python's ``re`` syntax, which agrees with RE2's for common patterns)."""
    return _regex_replace(input, pattern, rewrite, replace_global=bool(replace_global), name=name)


@op("RegexFullMatch", shape=_regex_shape)
def _regex_full_match(xp, input, pattern):  # noqa: A002
    rx = _compile(pattern)
    return _map(lambda s: rx.fullmatch(s) is not None, input, np.bool_)


def regex_full_match(input, pattern, name=None) -> Tensor:  # noqa: A002
    """``tf.strings.regex_full_match``: whether each whole string matches ``pattern``."""
    return _regex_full_match(input, pattern, name=name)


# ----- strip, lower, upper -------------------------------------------------------------------
@op("StringStrip", shape=_same_shape())
def _string_strip(xp, input):  # noqa: A002
    return _map(bytes.strip, input)


def string_strip(input, name=None) -> Tensor:  # noqa: A002
    """``tf.strings.strip``: leading and trailing whitespace removed."""
    return _string_strip(input, name=name)


def _case_shape(node: NodeSpec):
    _strings(node, 0)
    if node.attrs["encoding"] not in ("", "utf-8"):
        node.fail(f"encoding must be '' or 'utf-8', got {node.attrs['encoding']!r}")
    return node.inputs[0].shape, _S


@op("StringLower", shape=_case_shape)
def _string_lower(xp, input, *, encoding=""):  # noqa: A002
    if encoding:
        return _map(lambda s: _decode(s, "StringLower").lower().encode("utf-8"), input)
    return _map(bytes.lower, input)


@op("StringUpper", shape=_case_shape)
def _string_upper(xp, input, *, encoding=""):  # noqa: A002
    if encoding:
        return _map(lambda s: _decode(s, "StringUpper").upper().encode("utf-8"), input)
    return _map(bytes.upper, input)


def lower(input, encoding="", name=None) -> Tensor:  # noqa: A002
    """``tf.strings.lower``: ASCII letters lowered (all of Unicode with ``encoding="utf-8"``)."""
    return _string_lower(input, encoding=encoding, name=name)


def upper(input, encoding="", name=None) -> Tensor:  # noqa: A002
    """``tf.strings.upper``: ASCII letters raised (all of Unicode with ``encoding="utf-8"``)."""
    return _string_upper(input, encoding=encoding, name=name)


# ----- ReduceJoin ----------------------------------------------------------------------------
def _reduce_join_shape(node: NodeSpec):
    _strings(node, 0)
    shape, axes = node.inputs[0].shape, node.attrs["axes"]
    if shape.ndims is None or axes is None:
        return TensorShape(None) if axes is None or shape.ndims is None else shape, _S
    rank = shape.ndims
    for a in axes:
        if not -rank <= a < max(rank, 1):
            node.fail(f"Invalid reduction dimension {a} for input with {rank} dimensions")
    norm = {a % rank for a in axes} if rank else set()
    dims = shape.as_list()
    out = [1 if i in norm else d for i, d in enumerate(dims)] if node.attrs["keep_dims"] else \
        [d for i, d in enumerate(dims) if i not in norm]
    return TensorShape(out), _S


@op("ReduceJoin", shape=_reduce_join_shape)
def _reduce_join(xp, inputs, *, axes, keep_dims=False, separator=""):
    x = np.asarray(inputs, dtype=object)
    rank = x.ndim
    norm = sorted({a % rank for a in axes}) if rank else []
    keep = [i for i in range(rank) if i not in norm]
    moved = np.transpose(x, keep + norm)
    lead = moved.shape[:_len(keep)]
    rows = moved.reshape(lead + (-1,))
    sep = separator.encode()
    out = np.empty(lead, dtype=object)
    flat = out.reshape(-1)
    for i, row in enumerate(rows.reshape(-1, rows.shape[-1])):
        flat[i] = sep.join(row)
    if keep_dims:
        out = out.reshape([1 if i in norm else d for i, d in enumerate(x.shape)])
    return out


def reduce_join(inputs, axis=None, keep_dims=None, separator="", name=None,
                reduction_indices=None, keepdims=None) -> Tensor:
    """``tf.reduce_join``: joins the strings along ``axis`` (all axes when None)."""
    if axis is not None and reduction_indices is not None:
        raise ValueError("reduce_join: pass either axis or reduction_indices, not both.")
    axis = reduction_indices if axis is None else axis
    if keepdims is not None and keep_dims is not None:
        raise ValueError("reduce_join: pass either keepdims or keep_dims, not both.")
    keep = bool(keepdims if keepdims is not None else keep_dims)
    t = convert_to_tensor(inputs, _S)
    if axis is None:
        if t.shape.ndims is None:
            raise ValueError("reduce_join: axis=None needs an input of known rank.")
        axes = tuple(range(t.shape.ndims))
    else:
        axes = tuple(int(a) for a in np.asarray(axis).reshape(-1))
    return _reduce_join(t, axes=axes, keep_dims=keep, separator=str(separator), name=name)


# ----- StringFormat --------------------------------------------------------------------------
def _format_shape(node: NodeSpec):
    n = node.attrs["template"].count(node.attrs["placeholder"])
    if n != len(node.inputs):
        node.fail(f"{len(node.inputs)} tensors to format but {n} placeholders in the template "
                  f"{node.attrs['template']!r}")
    return TensorShape(()), _S


def _format_item(v) -> str:
    if isinstance(v, bytes):
        return '"' + v.decode("utf-8", "replace") + '"'
    if isinstance(v, np.bool_ | bool):
        return "1" if v else "0"
    if isinstance(v, np.floating | float):
        return f"{float(v):g}"
    return str(v)


def _format_array(a: np.ndarray, summarize: int, depth: int = 0) -> str:
    if a.ndim == 0:
        return _format_item(a[()])
    n = a.shape[0]
    idx = list(range(n)) if summarize < 0 or n <= 2 * summarize else \
        list(range(summarize)) + [None] + list(range(n - summarize, n))
    sep = " " if a.ndim == 1 else "\n" * (a.ndim - 1) + " " * (depth + 1)
    parts = ["..." if i is None else _format_array(np.asarray(a[i]), summarize, depth + 1)
             for i in idx]
    return "[" + sep.join(parts) + "]"


@op("StringFormat", shape=_format_shape)
def _string_format(xp, *inputs, template, placeholder="{}", summarize=3):
    pieces = template.split(placeholder)
    out = [pieces[0]]
    for v, rest in zip(inputs, pieces[1:]):
        a = np.asarray(v)
        out.append(_format_array(a, summarize))
        out.append(rest)
    res = np.empty((), dtype=object)
    res[()] = "".join(out).encode("utf-8")
    return res


def string_format(template, inputs, placeholder="{}", summarize=3, name=None) -> Tensor:
    """``tf.strings.format``: ``template`` with each ``placeholder`` replaced by a tensor,
    printed as ``tf.print`` does (``summarize`` elements kept at each end of a dimension)."""
    if isinstance(inputs, Tensor) or not isinstance(inputs, list | tuple):
        inputs = [inputs]
    return _string_format(list(inputs), template=str(template), placeholder=str(placeholder),
                          summarize=int(summarize), name=name)


# ----- hash buckets --------------------------------------------------------------------------
def _bucket_shape(node: NodeSpec):
    _strings(node, 0)
    if node.attrs["num_buckets"] < 1:
        node.fail(f"num_buckets must be at least 1, got {node.attrs['num_buckets']}")
    if node.type == "StringToHashBucketStrong" and _len(node.attrs["key"]) != 2:
        node.fail(f"key must have 2 elements, got {node.attrs['key']!r}")
    return node.inputs[0].shape, _dt.int64


@op("StringToHashBucketFast", shape=_bucket_shape)
def _hash_bucket_fast(xp, input, *, num_buckets):  # noqa: A002
    return _map(lambda s: string_hash.fingerprint64(s) % num_buckets, input, np.int64)


@op("StringToHashBucketStrong", shape=_bucket_shape)
def _hash_bucket_strong(xp, input, *, num_buckets, key):  # noqa: A002
    return _map(lambda s: string_hash.siphash24(key, s) % num_buckets, input, np.int64)


@op("StringToHashBucket", shape=_bucket_shape)
def _hash_bucket(xp, string_tensor, *, num_buckets):
    return _map(lambda s: string_hash.hash64(s) % num_buckets, string_tensor, np.int64)


def string_to_hash_bucket_fast(input, num_buckets, name=None) -> Tensor:  # noqa: A002
    """``tf.strings.to_hash_bucket_fast``: FarmHash Fingerprint64 modulo ``num_buckets``
    (the numbers TensorFlow gives)."""
    return _hash_bucket_fast(input, num_buckets=int(num_buckets), name=name)


def string_to_hash_bucket_strong(input, num_buckets, key, name=None) -> Tensor:  # noqa: A002
    """``tf.strings.to_hash_bucket_strong``: SipHash-2-4 under ``key`` (two integers)."""
    return _hash_bucket_strong(input, num_buckets=int(num_buckets),
                               key=tuple(int(k) for k in key), name=name)


def string_to_hash_bucket(string_tensor, num_buckets, name=None) -> Tensor:
    """``tf.string_to_hash_bucket`` (deprecated in TF1): TensorFlow's legacy Hash64."""
    return _hash_bucket(string_tensor, num_buckets=int(num_buckets), name=name)


# ----- DecodeRaw -----------------------------------------------------------------------------
_RAW_TYPES = (_dt.float16, _dt.float32, _dt.float64, _dt.int8, _dt.int16, _dt.int32, _dt.int64,
              _dt.uint8, _dt.uint16, _dt.complex64, _dt.complex128, _dt.bool_)


def _decode_raw_shape(node: NodeSpec):
    _strings(node, 0)
    if node.attrs["out_type"] not in _RAW_TYPES:
        node.fail(f"out_type {node.attrs['out_type'].name} is not supported", TypeError)
    return node.inputs[0].shape.concatenate([None]), node.attrs["out_type"]


@op("DecodeRaw", shape=_decode_raw_shape)
def _decode_raw(xp, bytes, *, out_type, little_endian=True):  # noqa: A002
    s = np.asarray(bytes, dtype=object)
    npd = np.dtype(out_type.np).newbyteorder("<" if little_endian else ">")
    flat = s.reshape(-1)
    size = _len(flat[0]) if flat.size else 0
    if size % npd.itemsize:
        raise _bad(f"Input to DecodeRaw has length {size} that is not a multiple of "
                   f"{npd.itemsize}, the size of {out_type.name}")
    for i, v in enumerate(flat):
        if _len(v) != size:
            raise _bad(f"DecodeRaw requires input strings to all be the same size, but element "
                       f"{i} has size {_len(v)} != {size}")
    data = np.frombuffer(b"".join(flat), dtype=npd) if flat.size else np.zeros(0, npd)
    return data.astype(out_type.np).reshape(s.shape + (size // npd.itemsize,))


def decode_raw(input_bytes=None, out_type=None, little_endian=True, name=None,
               bytes=None) -> Tensor:  # noqa: A002
    """``tf.decode_raw``: each string's bytes reinterpreted as a vector of ``out_type``."""
    if input_bytes is None:
        input_bytes = bytes
    if input_bytes is None or out_type is None:
        raise ValueError("decode_raw: pass input_bytes and out_type.")
    return _decode_raw(input_bytes, out_type=_dt.as_dtype(out_type),
                       little_endian=bool(little_endian), name=name)


for _t in ("AsString", "StringJoin", "StringLength", "Substr", "StringSplit", "StringSplitV2",
           "StringToNumber", "RegexReplace", "RegexFullMatch", "StringStrip", "StringLower",
           "StringUpper", "ReduceJoin", "StringFormat", "StringToHashBucketFast",
           "StringToHashBucketStrong", "StringToHashBucket", "DecodeRaw"):
    NotDifferentiable(_t)
del _t
