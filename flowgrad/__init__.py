"""flowgrad: TensorFlow 1's graph programming model on numpy (and CuPy).

    import flowgrad as tf
    x = tf.placeholder(tf.float32, (None, 784))
    ...
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())

This module only re-exports; everything is defined in the subpackages.
"""

__version__ = "0.1.0"

from flowgrad.framework import errors
from flowgrad.framework.dtypes import (DType, as_dtype, bool_ as bool, complex64, complex128,  # noqa: A004
                                       double, float16, float32, float64, half, int8, int16, int32,
                                       int64, string, uint8, uint16, uint32, uint64)
from flowgrad.framework.graph import (Graph, GraphKeys, Operation, Tensor, add_to_collection,
                                      add_to_collections, control_dependencies, device,
                                      get_collection, get_collection_ref, get_default_graph,
                                      name_scope, reset_default_graph, set_random_seed)
from flowgrad.framework.registry import (NotDifferentiable, RegisterGradient, constant,
                                         convert_to_tensor, no_gradient)
from flowgrad.framework.shapes import Dimension, TensorShape
from flowgrad.ops.array_ops import (broadcast_to, check_numerics, concat, expand_dims, fill,
                                    gather, gather_nd, identity, matrix_transpose, newaxis,
                                    one_hot, ones, ones_like, pad, placeholder,
                                    placeholder_with_default, range, rank, reshape, reverse,
                                    reverse_v2, scatter_nd, shape, shape_n, size, slice, split,
                                    squeeze, stack, stop_gradient, strided_slice, tile, transpose,
                                    unstack, zeros, zeros_like)
from flowgrad.ops.math_ops import (abs, accumulate_n, acos, add, add_n, asin, atan, atan2, cast,
                                   ceil, clip_by_value, cos, cosh, div, div_no_nan, divide, equal,
                                   erf, exp, expm1, floor, floor_div, floordiv, floormod, greater,
                                   greater_equal, is_finite, is_inf, is_nan, less, less_equal, log,
                                   log1p, logical_and, logical_not, logical_or, logical_xor,
                                   matmul, maximum, minimum, multiply, negative, not_equal,
                                   pow, realdiv, reciprocal, rint, round, rsqrt, saturate_cast,
                                   select, sigmoid, sign, sin, sinh, sqrt, square,
                                   squared_difference, subtract, tan, tanh, to_double,
                                   to_float, to_int32, to_int64, truediv, where, where_v2)
from flowgrad.ops.reduce_ops import (arg_max, arg_min, argmax, argmin, count_nonzero, cumprod,
                                     cumsum, reduce_all, reduce_any, reduce_logsumexp, reduce_max,
                                     reduce_mean, reduce_min, reduce_prod, reduce_std, reduce_sum,
                                     reduce_variance)
from flowgrad.ops.state_ops import (assign, assign_add, assign_sub, categorical, group,
                                    is_variable_initialized, multinomial, no_op, random_normal,
                                    random_shuffle, random_uniform, truncated_normal,
                                    with_dependencies)
from flowgrad.ops.state_ops import tuple_ as tuple  # noqa: A004
from flowgrad.ops.init_ops import (constant_initializer, glorot_normal_initializer,
                                   glorot_uniform_initializer, ones_initializer,
                                   orthogonal_initializer, random_normal_initializer,
                                   random_uniform_initializer, truncated_normal_initializer,
                                   variance_scaling_initializer, zeros_initializer)
from flowgrad.ops.variables import (AUTO_REUSE, Variable, VariableScope, all_variables,
                                    assert_variables_initialized, get_variable,
                                    get_variable_scope, global_variables,
                                    global_variables_initializer, initialize_all_variables,
                                    initialize_local_variables, initialize_variables,
                                    local_variables, local_variables_initializer,
                                    model_variables, moving_average_variables,
                                    report_uninitialized_variables, trainable_variables,
                                    variable_scope, variables_initializer)
from flowgrad.autodiff.gradients import gradients, hessians
from flowgrad.runtime.session import (ConfigProto, GPUOptions, InteractiveSession, RunMetadata,
                                      RunOptions, Session, get_default_session)
from flowgrad import nn, train
from flowgrad.namespaces import (compat, config, debugging, dtypes, initializers, linalg, math,
                                 random, test)

# TF1's legacy aliases
mul, sub, neg = multiply, subtract, negative
from flowgrad.ops.logging_ops import Print, print_v2 as print  # noqa: E402, A004

from flowgrad.ops.check_ops import (Assert, assert_equal, assert_greater, assert_greater_equal,  # noqa: E402
                                    assert_less, assert_less_equal, assert_negative,
                                    assert_non_negative, assert_none_equal, assert_positive,
                                    assert_rank, assert_type, is_tensor)
from flowgrad.ops.script_ops import identity_n, numpy_function, py_func  # noqa: E402
from flowgrad.ops.template import make_template  # noqa: E402

# --- training stack (losses, layers, initializers, checkpoints) -----------------------------
from flowgrad import layers, losses  # noqa: E402
from flowgrad.ops import init_ops as _init_ops  # noqa: E402
from flowgrad.ops import variables as _variables  # noqa: E402
from flowgrad.ops.clip_ops import (clip_by_average_norm, clip_by_global_norm,  # noqa: E402
                                   clip_by_norm, global_norm)
from flowgrad.ops.init_ops import (identity_initializer,  # noqa: E402
                                   uniform_unit_scaling_initializer)
from flowgrad.ops.nn_ops import top_k as _top_k  # noqa: E402

initializers.identity = _init_ops.Identity
initializers.uniform_unit_scaling = _init_ops.UniformUnitScaling
initializers.global_variables = _variables.global_variables_initializer
initializers.local_variables = _variables.local_variables_initializer
initializers.variables = _variables.variables_initializer
math.top_k = _top_k

# --- convolutions -------------------------------------------------------------------------
from flowgrad.ops.space_batch_ops import (batch_to_space, batch_to_space_nd,  # noqa: E402
                                          required_space_to_batch_paddings, space_to_batch,
                                          space_to_batch_nd)

# --- main job (data, summary, viz) ----------------------------------------------------------
from flowgrad import data, summary  # noqa: E402

# --- the rest of TF1 (control flow, rnn, linalg, meta-graphs, app, gfile, logging) ---------
from flowgrad.ops.linalg_ops import (cholesky, cholesky_solve, cross, diag, diag_part, einsum,  # noqa: E402
                                    eye, log_matrix_determinant, matrix_band_part,
                                    matrix_determinant, matrix_diag, matrix_diag_part,
                                    matrix_inverse, matrix_set_diag, matrix_solve,
                                    matrix_triangular_solve, norm, svd, tensordot, trace)
from flowgrad.ops.array_extra_ops import (bincount, boolean_mask, confusion_matrix,  # noqa: E402
                                         depth_to_space, dynamic_partition, dynamic_stitch,
                                         invert_permutation, roll,
                                         lin_space, linspace, log_sigmoid, meshgrid,
                                         reverse_sequence, scatter_add, scatter_div, scatter_max,
                                         scatter_min, scatter_mul, scatter_nd_add,
                                         scatter_nd_sub, scatter_nd_update, scatter_sub,
                                         scatter_update, segment_max, segment_mean, segment_min,
                                         segment_prod, segment_sum, sequence_mask, setdiff1d,
                                         space_to_depth, unique, unique_with_counts,
                                         unsorted_segment_max, unsorted_segment_mean,
                                         unsorted_segment_min, unsorted_segment_prod,
                                         unsorted_segment_sum)
from flowgrad.ops.control_flow import case, cond, while_loop
from flowgrad.ops.functional_ops import foldl, foldr, map_fn, scan
from flowgrad.ops.embedding_ops import IndexedSlices
from flowgrad.ops.tensor_array_ops import TensorArray
from flowgrad.ops.math_extra_ops import (acosh, argsort, asinh, atanh,  # noqa: E402
                                        broadcast_dynamic_shape, broadcast_static_shape,
                                        dimension_at_index, dimension_value, ensure_shape, erfc,
                                        is_non_decreasing, is_numeric_tensor,
                                        is_strictly_increasing, make_ndarray,
                                        parallel_stack, searchsorted, sort, tensor_scatter_add,
                                        tensor_scatter_nd_add, tensor_scatter_nd_sub,
                                        tensor_scatter_nd_update, tensor_scatter_sub,
                                        tensor_scatter_update, to_complex64, to_complex128,
                                        truncatediv, truncatemod, unravel_index,
                                        verify_tensor_all_finite)
from flowgrad.ops.linalg_ops import (matrix_solve_ls, qr, self_adjoint_eig,  # noqa: E402
                                    self_adjoint_eigvals)
from flowgrad.namespaces import app, flags, gfile, logging  # noqa: E402

# --- tf.metrics -----------------------------------------------------------------------------
# (tf.metrics, like tf.contrib, tf.image, tf.saved_model and tf.graph_util, is imported on
# first use: see _LAZY below)

# --- tf.image ---------------------------------------------------------------------------------
from flowgrad.ops import image_ops as _image_ops  # noqa: E402,F401 - registers the resize ops

# --- sparse tensors ---------------------------------------------------------------------------
from flowgrad.namespaces import sparse  # noqa: E402
from flowgrad.ops.sparse_tensor import (SparseTensor, SparseTensorValue,  # noqa: E402
                                        sparse_placeholder)
from flowgrad.ops.sparse_ops import (sparse_merge, sparse_reorder,  # noqa: E402
                                     sparse_reshape, sparse_retain, sparse_tensor_to_dense,
                                     sparse_to_dense, sparse_to_indicator, sparse_transpose)
from flowgrad.ops.sparse_layout_ops import (sparse_concat, sparse_fill_empty_rows,  # noqa: E402
                                            sparse_slice, sparse_split)
from flowgrad.ops.sparse_math_ops import (sparse_reduce_max, sparse_reduce_max_sparse,  # noqa: E402
                                          sparse_reduce_sum, sparse_reduce_sum_sparse,
                                          sparse_tensor_dense_matmul)
from flowgrad.ops.sparse_binary_ops import (sparse_add, sparse_maximum,  # noqa: E402
                                            sparse_minimum, sparse_softmax)
from flowgrad.ops.sparse_embedding_ops import (safe_embedding_lookup_sparse,  # noqa: E402
                                               embedding_lookup_sparse, sparse_segment_mean,
                                               sparse_segment_sqrt_n, sparse_segment_sum)

nn.embedding_lookup_sparse = embedding_lookup_sparse
nn.safe_embedding_lookup_sparse = safe_embedding_lookup_sparse
del embedding_lookup_sparse, safe_embedding_lookup_sparse

# --- custom gradients, random extras ----------------------------------------------------------
from flowgrad.autodiff.custom_gradient import custom_gradient  # noqa: E402
from flowgrad.ops.random_extra_ops import random_gamma, random_poisson  # noqa: E402

random.gamma = random_gamma
random.poisson = random_poisson

# --- graph freezing, graph import and SavedModel -------------------------------------------------
from flowgrad.train.graph_def import GraphDef, NodeDef, import_graph_def  # noqa: E402

# --- strings and lookup tables ---------------------------------------------------------------
from flowgrad.namespaces import lookup, strings  # noqa: E402
from flowgrad.ops.string_ops import (as_string, decode_raw, reduce_join,  # noqa: E402
                                     regex_replace, string_join, string_split, string_strip,
                                     string_to_hash_bucket, string_to_hash_bucket_fast,
                                     string_to_hash_bucket_strong, string_to_number, substr)
from flowgrad.ops.lookup_ops import initialize_all_tables, tables_initializer  # noqa: E402

# --- queues --------------------------------------------------------------------------------------
from flowgrad.ops.queue_ops import (FIFOQueue, PaddingFIFOQueue, QueueBase,  # noqa: E402
                                    RandomShuffleQueue)
from flowgrad.train.input import count_up_to  # noqa: E402

# --- readers -------------------------------------------------------------------------------------
from flowgrad.ops.io_ops import (FixedLengthRecordReader, IdentityReader,  # noqa: E402
                                 ReaderBase, TextLineReader, TFRecordReader, WholeFileReader)
from flowgrad.ops.queue_ops import PriorityQueue  # noqa: E402

# --- TFRecord files, tf.train.Example, parsing (tf.io, tf.python_io) ---------------------------
from flowgrad import io  # noqa: E402
from flowgrad.io import example_pb as _example_pb  # noqa: E402
from flowgrad.ops.parsing_ops import (FixedLenFeature, FixedLenSequenceFeature,  # noqa: E402
                                      SparseFeature, VarLenFeature, parse_example,
                                      parse_single_example, parse_single_sequence_example)

import types as _types  # noqa: E402

python_io = _types.ModuleType("flowgrad.python_io", "tf.python_io: TFRecord files")
python_io.TFRecordWriter = io.TFRecordWriter
python_io.TFRecordOptions = io.TFRecordOptions
python_io.TFRecordCompressionType = io.TFRecordCompressionType
python_io.tf_record_iterator = io.tf_record_iterator


def _train_getattr(name: str, _before=getattr(train, "__getattr__", None)):
    # tf.train.Example and friends are built (importing protobuf) when first used
    if name in _example_pb.NAMES:
        value = _example_pb.message_class(name)
        setattr(train, name, value)
        return value
    if _before is not None:
        return _before(name)
    raise AttributeError(f"module 'flowgrad.train' has no attribute '{name}'")


train.__getattr__ = _train_getattr

# --- tf.distributions ---------------------------------------------------------------------------
# (tf.distributions itself loads on first use: _LAZY below)
from flowgrad.ops.special_ops import (betainc, digamma, igamma, igammac, lgamma,  # noqa: E402
                                      polygamma)
from flowgrad.ops.special_ops import ndtri as _ndtri  # noqa: E402

math.lgamma, math.digamma, math.polygamma = lgamma, digamma, polygamma
math.igamma, math.igammac, math.betainc, math.ndtri = igamma, igammac, betainc, _ndtri

# --- distributed and GPU ----------------------------------------------------------------------


# Imported on first use: tf.distributed (the only part that needs mpi4py), and namespaces
# that register no op of their own, to keep `import flowgrad` short. name -> (module,
# attribute or None for the module itself).
_LAZY = {
    "distributed": ("flowgrad.distributed", None),
    "contrib": ("flowgrad.contrib", None),
    "metrics": ("flowgrad.metrics", None),
    "image": ("flowgrad.image", None),
    "extract_image_patches": ("flowgrad.image", "extract_image_patches"),
    "random_crop": ("flowgrad.image", "random_crop"),
    "saved_model": ("flowgrad.saved_model", None),
    "graph_util": ("flowgrad.graph_util", None),
    "distributions": ("flowgrad.distributions", None),
}


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'flowgrad' has no attribute '{name}'")
    import importlib  # noqa: PLC0415
    module = importlib.import_module(target[0])
    value = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# --- performance (graph compiler options, profiling) ---------------------------------------
from flowgrad.compiler import GraphOptions, OptimizerOptions  # noqa: E402
from flowgrad import client  # noqa: E402

# --- TF1's default op names (tf.add makes "Add", a + b makes "add") -------------------------
from flowgrad.ops.math_api import (add, floormod, mod, multiply, pow, scalar_mul,  # noqa: E402, F811, A004
                                   subtract)
mul, sub = multiply, subtract  # noqa: E402
