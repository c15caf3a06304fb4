"""TF1's sub-namespaces (``tf.math``, ``tf.random``, ``tf.linalg``, ...) as module objects."""

from __future__ import annotations

import types

from flowgrad.framework import dtypes as _dt
from flowgrad.ops import array_ops as A
from flowgrad.ops import init_ops as I
from flowgrad.ops import math_api as MA
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S


def _module(name: str, doc: str, **members) -> types.ModuleType:
    m = types.ModuleType(f"flowgrad.{name}", doc)
    m.__dict__.update(members)
    return m


math = _module(
    "math", "tf.math",
    abs=M.abs, acos=M.acos, add=MA.add, add_n=M.add_n, argmax=R.argmax, argmin=R.argmin,
    asin=M.asin, atan=M.atan, atan2=M.atan2, ceil=M.ceil, cos=M.cos, cosh=M.cosh,
    count_nonzero=R.count_nonzero, cumprod=R.cumprod, cumsum=R.cumsum, divide=M.divide,
    divide_no_nan=M.div_no_nan, equal=M.equal, erf=M.erf, exp=M.exp, expm1=M.expm1,
    floor=M.floor, floordiv=M.floordiv, floormod=MA.floormod, greater=M.greater,
    greater_equal=M.greater_equal, is_finite=M.is_finite, is_inf=M.is_inf, is_nan=M.is_nan,
    less=M.less, less_equal=M.less_equal, log=M.log, log1p=M.log1p, log_softmax=N.log_softmax,
    logical_and=M.logical_and, logical_not=M.logical_not, logical_or=M.logical_or,
    logical_xor=M.logical_xor, maximum=M.maximum, minimum=M.minimum, mod=MA.mod,
    multiply=MA.multiply, negative=M.negative, not_equal=M.not_equal, pow=MA.pow,
    reciprocal=M.reciprocal, reduce_all=R.reduce_all, reduce_any=R.reduce_any,
    reduce_logsumexp=R.reduce_logsumexp, reduce_max=R.reduce_max, reduce_mean=R.reduce_mean,
    reduce_min=R.reduce_min, reduce_prod=R.reduce_prod, reduce_std=R.reduce_std,
    reduce_sum=R.reduce_sum, reduce_variance=R.reduce_variance, rint=M.rint, round=M.round,
    rsqrt=M.rsqrt, sigmoid=M.sigmoid, sign=M.sign, sin=M.sin, sinh=M.sinh, softmax=N.softmax,
    sqrt=M.sqrt, square=M.square, squared_difference=M.squared_difference,
    subtract=MA.subtract, tan=M.tan, tanh=M.tanh, truediv=M.truediv)

random = _module(
    "random", "tf.random",
    uniform=S.random_uniform, normal=S.random_normal, truncated_normal=S.truncated_normal,
    shuffle=S.random_shuffle, categorical=S.categorical, multinomial=S.multinomial,
    set_random_seed=None)

linalg = _module("linalg", "tf.linalg", matmul=M.matmul,
                 transpose=A.matrix_transpose,
                 matrix_transpose=A.matrix_transpose)

from flowgrad.ops import check_ops as C  # noqa: E402

debugging = _module("debugging", "tf.debugging", check_numerics=A.check_numerics,
                    Assert=C.Assert, assert_equal=C.assert_equal,
                    assert_none_equal=C.assert_none_equal, assert_less=C.assert_less,
                    assert_less_equal=C.assert_less_equal, assert_greater=C.assert_greater,
                    assert_greater_equal=C.assert_greater_equal,
                    assert_positive=C.assert_positive, assert_negative=C.assert_negative,
                    assert_non_negative=C.assert_non_negative, assert_rank=C.assert_rank,
                    assert_type=C.assert_type, is_numeric_tensor=C.is_tensor)

dtypes = _module("dtypes", "tf.dtypes", DType=_dt.DType, as_dtype=_dt.as_dtype, cast=M.cast,
                 float16=_dt.float16, float32=_dt.float32, float64=_dt.float64, int8=_dt.int8,
                 int16=_dt.int16, int32=_dt.int32, int64=_dt.int64, uint8=_dt.uint8,
                 bool=_dt.bool_, string=_dt.string, complex64=_dt.complex64,
                 complex128=_dt.complex128)

initializers = _module(
    "initializers", "tf.initializers",
    zeros=I.Zeros, ones=I.Ones, constant=I.Constant, random_uniform=I.RandomUniform,
    random_normal=I.RandomNormal, truncated_normal=I.TruncatedNormal,
    variance_scaling=I.VarianceScaling, glorot_uniform=I.GlorotUniform,
    glorot_normal=I.GlorotNormal, orthogonal=I.Orthogonal, he_normal=I.he_normal,
    he_uniform=I.he_uniform, lecun_normal=I.lecun_normal, lecun_uniform=I.lecun_uniform)


def _is_gpu_available(cuda_only: bool = False, min_cuda_compute_capability=None) -> bool:
    from flowgrad.runtime.backend import gpu_available  # noqa: PLC0415
    return gpu_available()


test = _module("test", "tf.test", is_gpu_available=_is_gpu_available,
               is_built_with_cuda=lambda: True)


def _list_physical_devices(device_type=None):
    from flowgrad.runtime.backend import list_physical_devices  # noqa: PLC0415
    return list_physical_devices(device_type)


config = _module("config", "tf.config", list_physical_devices=_list_physical_devices,
                 experimental=_module("config.experimental", "tf.config.experimental",
                                      list_physical_devices=_list_physical_devices))

# --- the rest of TF1: linear algebra and array odds and ends ------------------------------
from flowgrad.ops import linalg_ops as _L  # noqa: E402

linalg.__dict__.update(
    inv=_L.matrix_inverse, det=_L.matrix_determinant, slogdet=_L.log_matrix_determinant,
    logdet=_L.logdet, solve=_L.matrix_solve, triangular_solve=_L.matrix_triangular_solve,
    cholesky=_L.cholesky, cholesky_solve=_L.cholesky_solve, diag=_L.matrix_diag,
    diag_part=_L.matrix_diag_part, set_diag=_L.matrix_set_diag, band_part=_L.matrix_band_part,
    eye=_L.eye, trace=_L.trace, norm=_L.norm, einsum=_L.einsum, qr=_L.qr, svd=_L.svd,
    tensor_diag=_L.diag, tensor_diag_part=_L.diag_part, adjoint=_L.adjoint,
    tensordot=_L.tensordot, matvec=_L.matvec, cross=_L.cross, eigh=_L.self_adjoint_eig,
    eigvalsh=_L.self_adjoint_eigvals, lstsq=_L.matrix_solve_ls)

from flowgrad.ops import array_extra_ops as _X  # noqa: E402

math.__dict__.update(
    segment_sum=_X.segment_sum, segment_mean=_X.segment_mean, segment_max=_X.segment_max,
    segment_min=_X.segment_min, segment_prod=_X.segment_prod,
    unsorted_segment_sum=_X.unsorted_segment_sum, unsorted_segment_mean=_X.unsorted_segment_mean,
    unsorted_segment_max=_X.unsorted_segment_max, unsorted_segment_min=_X.unsorted_segment_min,
    unsorted_segment_prod=_X.unsorted_segment_prod, log_sigmoid=_X.log_sigmoid,
    invert_permutation=_X.invert_permutation, trace=_L.trace, bincount=_X.bincount,
    confusion_matrix=_X.confusion_matrix, reduce_euclidean_norm=_X.reduce_euclidean_norm,
    cross=_L.cross)

from flowgrad.ops import math_extra_ops as _E  # noqa: E402

math.__dict__.update(asinh=_E.asinh, acosh=_E.acosh, atanh=_E.atanh, erfc=_E.erfc,
                     truncatediv=_E.truncatediv, truncatemod=_E.truncatemod,
                     is_non_decreasing=_E.is_non_decreasing,
                     is_strictly_increasing=_E.is_strictly_increasing)

# --- the rest of TF1: tf.app, tf.flags, tf.gfile, tf.logging, tf.test --------------------------
from flowgrad.platform import app as _app  # noqa: E402
from flowgrad.platform import flags  # noqa: E402
from flowgrad.platform import gfile  # noqa: E402, F401 - tf.gfile
from flowgrad.platform import tf_logging as logging  # noqa: E402, F401 - tf.logging

app = _module("app", "tf.app", run=_app.run, flags=flags)
test.__dict__.update(
    gpu_device_name=lambda: "/device:GPU:0" if _is_gpu_available() else "")
_TEST_CASE_NAMES = ("TestCase", "main", "get_temp_dir", "compute_gradient",
                    "compute_gradient_error")


def _test_attr(name: str):
    """``tf.test``'s unittest-based members, imported on first use (``unittest`` and its
    dependencies are a tenth of ``import flowgrad`` otherwise)."""
    if name not in _TEST_CASE_NAMES:
        raise AttributeError(f"module 'tf.test' has no attribute '{name}'")
    from flowgrad.platform import test_case  # noqa: PLC0415
    for n in _TEST_CASE_NAMES:
        test.__dict__[n] = getattr(test_case, n)
    return test.__dict__[name]


test.__dict__["__getattr__"] = _test_attr
test.__dict__["__dir__"] = lambda: sorted({*test.__dict__, *_TEST_CASE_NAMES} -
                                          {"__getattr__", "__dir__"})

from flowgrad.compat import v1 as _v1  # noqa: E402

compat = _module("compat", "tf.compat", v1=_v1)

# --- sparse tensors ---------------------------------------------------------------------------
from flowgrad.ops import sparse_binary_ops as _SB  # noqa: E402
from flowgrad.ops import sparse_embedding_ops as _SE  # noqa: E402
from flowgrad.ops import sparse_layout_ops as _SL  # noqa: E402
from flowgrad.ops import sparse_math_ops as _SM  # noqa: E402
from flowgrad.ops import sparse_ops as _SO  # noqa: E402
from flowgrad.ops import sparse_tensor as _ST  # noqa: E402

sparse = _module(
    "sparse", "tf.sparse",
    SparseTensor=_ST.SparseTensor, SparseTensorValue=_ST.SparseTensorValue,
    placeholder=_ST.sparse_placeholder, to_dense=_SO.sparse_tensor_to_dense,
    from_dense=_SO.from_dense, reorder=_SO.sparse_reorder, reshape=_SO.sparse_reshape,
    transpose=_SO.sparse_transpose, retain=_SO.sparse_retain, eye=_SO.sparse_eye,
    merge=_SO.sparse_merge, to_indicator=_SO.sparse_to_indicator,
    concat=_SL.sparse_concat, slice=_SL.sparse_slice, split=_SL.sparse_split,
    fill_empty_rows=_SL.sparse_fill_empty_rows, matmul=_SM.sparse_tensor_dense_matmul,
    sparse_dense_matmul=_SM.sparse_tensor_dense_matmul, reduce_sum=_SM.reduce_sum_v2,
    reduce_max=_SM.reduce_max_v2, reduce_sum_sparse=_SM.sparse_reduce_sum_sparse,
    reduce_max_sparse=_SM.sparse_reduce_max_sparse, add=_SB.sparse_add,
    softmax=_SB.sparse_softmax, maximum=_SB.sparse_maximum, minimum=_SB.sparse_minimum,
    segment_sum=_SE.sparse_segment_sum, segment_mean=_SE.sparse_segment_mean,
    segment_sqrt_n=_SE.sparse_segment_sqrt_n)


# --- strings and lookup tables ---------------------------------------------------------------
from flowgrad.ops import lookup_ops as _L  # noqa: E402
from flowgrad.ops import string_ops as _SO  # noqa: E402

strings = _module(
    "strings", "tf.strings",
    as_string=_SO.as_string, format=_SO.string_format, join=_SO.string_join,
    length=_SO.string_length, lower=_SO.lower, upper=_SO.upper, reduce_join=_SO.reduce_join,
    regex_full_match=_SO.regex_full_match, regex_replace=_SO.regex_replace,
    split=_SO.strings_split, strip=_SO.string_strip, substr=_SO.substr,
    to_hash_bucket=_SO.string_to_hash_bucket,
    to_hash_bucket_fast=_SO.string_to_hash_bucket_fast,
    to_hash_bucket_strong=_SO.string_to_hash_bucket_strong, to_number=_SO.string_to_number)

lookup = _module(
    "lookup", "tf.lookup",
    KeyValueTensorInitializer=_L.KeyValueTensorInitializer, StaticHashTable=_L.StaticHashTable,
    StaticVocabularyTable=_L.StaticVocabularyTable, TextFileIndex=_L.TextFileIndex,
    TextFileInitializer=_L.TextFileInitializer)
