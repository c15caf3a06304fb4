"""Data types: TF1's dtype objects over numpy dtypes, and the conversion rules.

TensorFlow never promotes silently: ``float32 + float64`` is a TypeError, and a Python
number next to a tensor takes the tensor's dtype.  Only literal Python values get
defaults (``float -> float32``, ``int -> int32``); numpy arrays keep their own dtype.
"""

from __future__ import annotations

import numpy as np


class DType:
    """A tensor element type, e.g. ``flowgrad.float32``."""

    __slots__ = ("name", "_np")

    def __init__(self, name: str, np_dtype: type) -> None:
        self.name = name
        self._np = np.dtype(np_dtype)

    # --- TF1 attributes -----------------------------------------------------------
    @property
    def as_numpy_dtype(self) -> type:
        return self._np.type

    @property
    def np(self) -> np.dtype:
        return self._np

    @property
    def base_dtype(self) -> "DType":
        return self

    @property
    def real_dtype(self) -> "DType":
        return self

    @property
    def is_floating(self) -> bool:
        return self._np.kind == "f"

    @property
    def is_integer(self) -> bool:
        return self._np.kind in "iu"

    @property
    def is_unsigned(self) -> bool:
        return self._np.kind == "u"

    @property
    def is_bool(self) -> bool:
        return self._np.kind == "b"

    @property
    def is_complex(self) -> bool:
        return self._np.kind == "c"

    @property
    def is_numeric(self) -> bool:
        return self._np.kind in "iufc"

    @property
    def size(self) -> int:
        return self._np.itemsize

    @property
    def min(self):
        return np.finfo(self._np).min if self.is_floating else np.iinfo(self._np).min

    @property
    def max(self):
        return np.finfo(self._np).max if self.is_floating else np.iinfo(self._np).max

    def is_compatible_with(self, other) -> bool:
        return self == as_dtype(other)

    # --- identity -----------------------------------------------------------------
    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self.name == other.name
        try:
            return self.name == as_dtype(other).name
        except TypeError:
            return False

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", np.float16)
half = float16
float32 = DType("float32", np.float32)
float64 = DType("float64", np.float64)
double = float64
int8 = DType("int8", np.int8)
int16 = DType("int16", np.int16)
int32 = DType("int32", np.int32)
int64 = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
bool_ = DType("bool", np.bool_)
complex64 = DType("complex64", np.complex64)
complex128 = DType("complex128", np.complex128)
string = DType("string", np.object_)

_ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
        bool_, complex64, complex128, string)
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "double": float64, "float": float32, "int": int32})
_BY_NP = {d.np: d for d in _ALL}
_BY_NP[np.dtype(np.str_)] = string
_BY_NP[np.dtype(np.bytes_)] = string
# Opaque host values (a loop's saved history): never converted, fed or differentiated.
variant = DType("variant", np.object_)
_BY_NAME["variant"] = variant
_PY_DEFAULT = {float: float32, int: int32, bool: bool_, complex: complex128, str: string,
               bytes: string}


def _to_bytes(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, np.bytes_ | np.str_):
        return _to_bytes(x.item())
    raise TypeError(f"Expected string or bytes, got {x!r} of type {type(x).__name__}.")


def string_array(value) -> np.ndarray:
    """``value`` as a ``tf.string`` value: an object array of ``bytes`` (str encoded UTF-8)."""
    if isinstance(value, np.ndarray) and value.dtype == object and all(
            type(x) is bytes for x in value.reshape(-1)):
        return value
    arr = np.asarray(value, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, x in enumerate(arr.reshape(-1)):
        flat[i] = _to_bytes(x)
    return out


def as_dtype(value) -> DType:
    """Converts a DType, numpy dtype/type, Python type or name into a :class:`DType`."""
    if isinstance(value, DType):
        return value
    if isinstance(value, str):
        if value in _BY_NAME:
            return _BY_NAME[value]
        raise TypeError(f"Cannot convert {value!r} to a flowgrad DType.")
    if value in _PY_DEFAULT:
        return _PY_DEFAULT[value]
    try:
        npd = np.dtype(value)
    except TypeError:
        raise TypeError(f"Cannot convert {value!r} to a flowgrad DType.") from None
    if npd.kind in "US":
        return string
    if npd in _BY_NP:
        return _BY_NP[npd]
    raise TypeError(f"Cannot convert {value!r} to a flowgrad DType.")


def infer_dtype(value) -> DType:
    """The dtype TensorFlow gives a Python or numpy value when no dtype is asked for."""
    if isinstance(value, np.ndarray | np.generic):
        return as_dtype(value.dtype)
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int32 if -2**31 <= value < 2**31 else int64
    if isinstance(value, float):
        return float32
    if isinstance(value, complex):
        return complex128
    if isinstance(value, str | bytes):
        return string
    arr = np.asarray(value)
    if arr.dtype == np.float64:
        return float32  # nested Python floats, as in tf.constant([1.0, 2.0])
    if arr.dtype == np.int64 and (arr.size == 0 or (arr.min() >= -2**31 and arr.max() < 2**31)):
        return int32
    return as_dtype(arr.dtype)


def convertible(value, dtype: DType) -> bool:
    """Whether a literal (not a tensor) may be converted to ``dtype`` without surprise."""
    src = infer_dtype(value)
    if src == dtype or dtype == string:
        return src == dtype
    if dtype.is_floating or dtype.is_complex:
        return src.is_numeric
    if dtype.is_integer:
        if src.is_integer:
            return True
        if src.is_floating:  # 2.0 -> int is fine, 2.5 is not
            arr = np.asarray(value)
            return bool(np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
        return False
    if dtype.is_bool:
        return src.is_bool
    return False

