"""``tf.contrib.layers``' functional layers, with contrib's argument names, defaults and
variable names (``fully_connected/weights``, ``Conv/biases``, ``BatchNorm/moving_mean``).

Variables are model variables (in ``MODEL_VARIABLES`` as well as ``GLOBAL_VARIABLES``);
``variables_collections`` (a list, or a dict keyed by ``weights``/``biases``/...) adds
them to more collections, ``outputs_collections`` the layer's output. The dense and
convolution layers are ``tf.layers`` layers whose ``kernel``/``bias`` are renamed, as in
TF1. Every function here takes ``arg_scope`` defaults.
"""

from __future__ import annotations

from flowgrad.contrib.arg_scope import add_arg_scope
from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import GraphKeys, get_default_graph, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.layers import convolutional as _conv
from flowgrad.layers import core as _core
from flowgrad.layers.normalization import _count
from flowgrad.ops import array_ops as A
from flowgrad.ops import init_ops as I
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_impl
from flowgrad.ops import nn_ops as N
from flowgrad.ops import pool_ops as P
from flowgrad.ops import variables as V
from flowgrad.ops.control_flow import cond
from flowgrad.ops.embedding_ops import embedding_lookup
from flowgrad.train.moving_averages import assign_moving_average

_relu = N.relu


def _glorot_uniform():
    """contrib's default ``weights_initializer``: Glorot uniform."""
    return I.VarianceScaling(1.0, "fan_avg", "uniform")


# ----- helpers --------------------------------------------------------------------------
def _var_collections(variables_collections, name: str) -> list:
    if isinstance(variables_collections, dict):
        got = variables_collections.get(name)
    else:
        got = variables_collections
    if got is None:
        return []
    return [got] if isinstance(got, str) else list(got)


def _model_collections(variables_collections, name: str) -> list:
    return list(dict.fromkeys([GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES]
                              + _var_collections(variables_collections, name)))


def _renaming_getter(renames: dict, variables_collections):
    """A custom getter that renames a tf.layers variable (``kernel`` -> ``weights``) and
    makes it a model variable."""

    def getter(next_getter, name, **kwargs):
        scope, _, short = name.rpartition("/")
        short = renames.get(short, short)
        full = f"{scope}/{short}" if scope else short
        kwargs["collections"] = _model_collections(variables_collections, short)
        return next_getter(full, **kwargs)
    return getter


def _model_variable(name, shape, dtype, initializer, regularizer, trainable,
                    variables_collections, collection_key=None):
    return V.get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                          regularizer=regularizer, trainable=trainable,
                          collections=_model_collections(variables_collections,
                                                         collection_key or name))


def collect_named_outputs(collections, alias: str, outputs):
    """Adds ``outputs`` to ``collections`` (and records ``alias`` on it)."""
    if collections:
        try:
            outputs.alias = alias
        except AttributeError:
            pass
        get_default_graph().add_to_collections(collections, outputs)
    return outputs


def _pair(value, what: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")
    return value


def _channels_format(data_format) -> str:
    if data_format in (None, "NHWC"):
        return "channels_last"
    if data_format == "NCHW":
        return "channels_first"
    raise ValueError(f"data_format has to be either NCHW or NHWC, got {data_format!r}")


def _finish(outputs, normalizer_fn, normalizer_params, activation_fn, collections, sc_name):
    if normalizer_fn is not None:
        outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    if activation_fn is not None:
        outputs = activation_fn(outputs)
    return collect_named_outputs(collections, sc_name, outputs)


def _weights_layer_args(sc, x, reuse, normalizer_fn, weights_initializer, weights_regularizer,
                        biases_initializer, biases_regularizer, trainable) -> dict:
    """The keyword arguments of a ``tf.layers`` layer built for a contrib function in the
    variable scope ``sc``: no biases when a normalizer follows (or no initializer is given)."""
    return dict(use_bias=normalizer_fn is None and biases_initializer is not None,
                kernel_initializer=weights_initializer, bias_initializer=biases_initializer,
                kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer,
                trainable=trainable, name=sc.name, dtype=x.dtype.base_dtype, _scope=sc,
                _reuse=reuse)


# ----- dense and convolution -----------------------------------------------------------
@add_arg_scope
def fully_connected(inputs, num_outputs, activation_fn=_relu, normalizer_fn=None,
                    normalizer_params=None, weights_initializer=_glorot_uniform(),
                    weights_regularizer=None, biases_initializer=I.zeros_initializer(),
                    biases_regularizer=None, reuse=None, variables_collections=None,
                    outputs_collections=None, trainable=True, scope=None):
    """``activation_fn(inputs @ weights + biases)``; inputs of rank > 2 are contracted on
    their last axis. ``normalizer_fn`` (e.g. ``batch_norm``) replaces the biases."""
    if not isinstance(num_outputs, int):
        raise ValueError(f"num_outputs type should be one of int, got {type(num_outputs)}.")
    getter = _renaming_getter({"kernel": "weights", "bias": "biases"}, variables_collections)
    with V.variable_scope(scope, "fully_connected", reuse=reuse, custom_getter=getter) as sc:
        x = convert_to_tensor(inputs)
        if x.shape.ndims is None or x.shape[-1] is None:
            raise ValueError(f"fully_connected: the last dimension of the inputs must be "
                             f"known, got shape {x.shape}")
        layer = _core.Dense(num_outputs, activation=None, **_weights_layer_args(
            sc, x, reuse, normalizer_fn, weights_initializer, weights_regularizer,
            biases_initializer, biases_regularizer, trainable))
        outputs = layer.apply(x)
        return _finish(outputs, normalizer_fn, normalizer_params, activation_fn,
                       outputs_collections, sc.name)


@add_arg_scope
def convolution(inputs, num_outputs, kernel_size, stride=1, padding="SAME", data_format=None,
                rate=1, activation_fn=_relu, normalizer_fn=None, normalizer_params=None,
                weights_initializer=_glorot_uniform(), weights_regularizer=None,
                biases_initializer=I.zeros_initializer(), biases_regularizer=None, reuse=None,
                variables_collections=None, outputs_collections=None, trainable=True,
                scope=None, conv_dims=None):
    """1-D or 2-D convolution (by the inputs' rank, 3 or 4) with variables ``Conv/weights``
    (``[kw, in, out]`` or ``[kh, kw, in, out]``) and ``Conv/biases``; ``rate`` is the
    dilation (then ``stride`` must be 1)."""
    if data_format not in (None, "NWC", "NCW", "NHWC", "NCHW"):
        raise ValueError(f"Invalid data_format: {data_format!r} (flowgrad convolves 1-D and "
                         "2-D inputs: NWC, NCW, NHWC or NCHW)")
    x = convert_to_tensor(inputs)
    rank = x.shape.ndims
    if conv_dims is not None and rank != conv_dims + 2:
        raise ValueError(f"Convolution expects input with rank {conv_dims + 2}, got {rank} "
                         f"(shape {x.shape})")
    if rank not in (3, 4):
        raise ValueError(f"Convolution not supported for input with rank {rank} (shape "
                         f"{x.shape}): flowgrad's contrib convolution takes rank 3 or 4.")
    dims = rank - 2
    stride = _tuple(stride, dims, "stride")
    rate = _tuple(rate, dims, "rate")
    if max(rate) > 1 and max(stride) > 1:
        raise ValueError(f"convolution: stride {stride} must be 1 when rate {rate} is "
                         "greater than 1")
    fmt = "channels_first" if data_format and data_format.startswith("NC") else "channels_last"
    layer_class = _conv.Conv1D if dims == 1 else _conv.Conv2D
    getter = _renaming_getter({"kernel": "weights", "bias": "biases"}, variables_collections)
    with V.variable_scope(scope, "Conv", reuse=reuse, custom_getter=getter) as sc:
        layer = layer_class(num_outputs, _tuple(kernel_size, dims, "kernel_size"),
                            strides=stride, padding=padding, data_format=fmt,
                            dilation_rate=rate, **_weights_layer_args(
                                sc, x, reuse, normalizer_fn, weights_initializer,
                                weights_regularizer, biases_initializer, biases_regularizer,
                                trainable))
        outputs = layer.apply(x)
        return _finish(outputs, normalizer_fn, normalizer_params, activation_fn,
                       outputs_collections, sc.name)


def _tuple(value, n: int, what: str) -> tuple:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{what} must be an int or {n} ints, got {value!r}")
    return value


@add_arg_scope
def convolution1d(inputs, num_outputs, kernel_size, stride=1, padding="SAME",
                  data_format=None, rate=1, activation_fn=_relu, normalizer_fn=None,
                  normalizer_params=None, weights_initializer=_glorot_uniform(),
                  weights_regularizer=None, biases_initializer=I.zeros_initializer(),
                  biases_regularizer=None, reuse=None, variables_collections=None,
                  outputs_collections=None, trainable=True, scope=None):
    """``convolution`` of rank-3 inputs (``[batch, width, channels]``)."""
    return convolution(inputs, num_outputs, kernel_size, stride, padding, data_format, rate,
                       activation_fn, normalizer_fn, normalizer_params, weights_initializer,
                       weights_regularizer, biases_initializer, biases_regularizer, reuse,
                       variables_collections, outputs_collections, trainable, scope,
                       conv_dims=1)


@add_arg_scope
def convolution2d(inputs, num_outputs, kernel_size, stride=1, padding="SAME",
                  data_format=None, rate=1, activation_fn=_relu, normalizer_fn=None,
                  normalizer_params=None, weights_initializer=_glorot_uniform(),
                  weights_regularizer=None, biases_initializer=I.zeros_initializer(),
                  biases_regularizer=None, reuse=None, variables_collections=None,
                  outputs_collections=None, trainable=True, scope=None):
    """``convolution`` of rank-4 inputs: variables ``Conv/weights`` ``[kh, kw, in, out]``
    and ``Conv/biases``."""
    return convolution(inputs, num_outputs, kernel_size, stride, padding, data_format, rate,
                       activation_fn, normalizer_fn, normalizer_params, weights_initializer,
                       weights_regularizer, biases_initializer, biases_regularizer, reuse,
                       variables_collections, outputs_collections, trainable, scope,
                       conv_dims=2)


conv1d = convolution1d
conv2d = convolution2d


@add_arg_scope
def convolution2d_transpose(inputs, num_outputs, kernel_size, stride=1, padding="SAME",
                            data_format="NHWC", activation_fn=_relu, normalizer_fn=None,
                            normalizer_params=None, weights_initializer=_glorot_uniform(),
                            weights_regularizer=None, biases_initializer=I.zeros_initializer(),
                            biases_regularizer=None, reuse=None, variables_collections=None,
                            outputs_collections=None, trainable=True, scope=None):
    """Transposed 2-D convolution; variables ``Conv2d_transpose/weights``
    ``[kh, kw, out, in]`` and ``Conv2d_transpose/biases``."""
    x = convert_to_tensor(inputs)
    if x.shape.ndims != 4:
        raise ValueError(f"convolution2d_transpose: inputs must have rank 4, got shape "
                         f"{x.shape}")
    fmt = _channels_format(data_format)
    getter = _renaming_getter({"kernel": "weights", "bias": "biases"}, variables_collections)
    with V.variable_scope(scope, "Conv2d_transpose", reuse=reuse, custom_getter=getter) as sc:
        layer = _conv.Conv2DTranspose(
            num_outputs, _pair(kernel_size, "kernel_size"), strides=_pair(stride, "stride"),
            padding=padding, data_format=fmt, **_weights_layer_args(
                sc, x, reuse, normalizer_fn, weights_initializer, weights_regularizer,
                biases_initializer, biases_regularizer, trainable))
        outputs = layer.apply(x)
        return _finish(outputs, normalizer_fn, normalizer_params, activation_fn,
                       outputs_collections, sc.name)


conv2d_transpose = convolution2d_transpose


# ----- pooling, reshaping, dropout ------------------------------------------------------
def _pool(pool_fn, default_name, inputs, kernel_size, stride, padding, data_format,
          outputs_collections, scope):
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format has to be either NCHW or NHWC, got {data_format!r}")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride, "stride")
    with name_scope(scope, default_name) as sc:
        x = convert_to_tensor(inputs)
        if x.shape.ndims not in (None, 4):
            raise ValueError(f"{default_name}: inputs must have rank 4, got shape {x.shape}")
        if data_format == "NHWC":
            ksize, strides = [1, kh, kw, 1], [1, sh, sw, 1]
        else:
            ksize, strides = [1, 1, kh, kw], [1, 1, sh, sw]
        outputs = pool_fn(x, ksize=ksize, strides=strides, padding=padding.upper(),
                          data_format=data_format, name=sc.rstrip("/").rsplit("/", 1)[-1])
        return collect_named_outputs(outputs_collections, sc.rstrip("/"), outputs)


@add_arg_scope
def max_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format="NHWC",
               outputs_collections=None, scope=None):
    """2-D max pooling (``stride`` defaults to 2 and ``padding`` to VALID, as in contrib)."""
    return _pool(P.max_pool, "MaxPool2D", inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


@add_arg_scope
def avg_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format="NHWC",
               outputs_collections=None, scope=None):
    """2-D average pooling."""
    return _pool(P.avg_pool, "AvgPool2D", inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


@add_arg_scope
def flatten(inputs, outputs_collections=None, scope=None):
    """``[batch, ...] -> [batch, k]``."""
    with name_scope(scope, "Flatten") as sc:
        x = convert_to_tensor(inputs)
        if x.shape.ndims is not None and x.shape.ndims < 2:
            raise ValueError(f"Inputs must have a least 2 dimensions, got shape {x.shape}")
        outputs = _core.flatten(x)
        return collect_named_outputs(outputs_collections, sc.rstrip("/"), outputs)


@add_arg_scope
def dropout(inputs, keep_prob=0.5, noise_shape=None, is_training=True,
            outputs_collections=None, scope=None, seed=None):
    """Keeps each element with probability ``keep_prob`` (scaled by ``1 / keep_prob``)
    when ``is_training`` (a bool or a bool tensor); the identity otherwise."""
    with V.variable_scope(scope, "Dropout") as sc:
        x = convert_to_tensor(inputs)
        layer = _core.Dropout(rate=1 - keep_prob, noise_shape=noise_shape, seed=seed,
                              name=sc.name, _scope=sc)
        outputs = layer.apply(x, training=is_training)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


@add_arg_scope
def one_hot_encoding(labels, num_classes, on_value=1.0, off_value=0.0,
                     outputs_collections=None, scope=None):
    """``one_hot(labels, num_classes)`` as float32 (int32 labels are widened to int64)."""
    with name_scope(scope, "OneHotEncoding") as sc:
        labels = convert_to_tensor(labels)
        if labels.dtype == _dt.int32:
            labels = M.cast(labels, _dt.int64)
        outputs = A.one_hot(labels, num_classes, on_value=on_value, off_value=off_value)
        return collect_named_outputs(outputs_collections, sc.rstrip("/"), outputs)


# ----- normalisation ----------------------------------------------------------------------
@add_arg_scope
def batch_norm(inputs, decay=0.999, center=True, scale=False, epsilon=0.001,
               activation_fn=None, param_initializers=None, param_regularizers=None,
               updates_collections=GraphKeys.UPDATE_OPS, is_training=True, reuse=None,
               variables_collections=None, outputs_collections=None, trainable=True,
               batch_weights=None, fused=None, data_format="NHWC",
               zero_debias_moving_mean=False, scope=None, renorm=False, renorm_clipping=None,
               renorm_decay=0.99, adjustment=None):
    """contrib's batch normalisation: variables ``BatchNorm/beta`` (``center``),
    ``BatchNorm/gamma`` (``scale``, off by default), ``BatchNorm/moving_mean`` and
    ``BatchNorm/moving_variance``.

    In training the moving averages move by ``decay``; their update ops go to
    ``updates_collections`` (``UPDATE_OPS``), or run with the output when it is ``None``.
    As in TF1 the fused form (the default for rank 2 and 4) feeds the moving variance the
    unbiased batch variance, the other ranks the biased one. ``is_training`` may be a bool
    tensor.
    """
    if batch_weights is not None or renorm or adjustment is not None:
        raise ValueError("batch_norm: batch_weights, renorm and adjustment are not supported "
                         "by flowgrad; leave them at their defaults.")
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format has to be either NCHW or NHWC, got {data_format!r}")
    x = convert_to_tensor(inputs)
    rank = x.shape.ndims
    if rank is None:
        raise ValueError(f"Inputs {x.name} has undefined rank.")
    axis = 1 if data_format == "NCHW" and rank > 2 else rank - 1
    c = x.shape[axis]
    if c is None:
        raise ValueError(f"Inputs {x.name} has undefined channels dimension {axis} "
                         f"(shape {x.shape}).")
    fused = (fused is None or bool(fused)) and rank in (2, 4)
    inits, regs = dict(param_initializers or {}), dict(param_regularizers or {})
    dt = x.dtype.base_dtype
    with V.variable_scope(scope, "BatchNorm", reuse=reuse) as sc:
        def param(name, init, trainable_, reg=None):
            return _model_variable(name, [c], dt, inits.get(name, init), reg,
                                   trainable_, variables_collections)
        beta = param("beta", I.zeros_initializer(), trainable, regs.get("beta")) \
            if center else None
        gamma = param("gamma", I.ones_initializer(), trainable, regs.get("gamma")) \
            if scale else None
        moving_mean = param("moving_mean", I.zeros_initializer(), False)
        moving_variance = param("moving_variance", I.ones_initializer(), False)
        reduce_axes = [i for i in range(rank) if i != axis]

        def b(t):
            if t is None or axis == rank - 1:
                return t
            return A.reshape(t, [1, c] + [1] * (rank - 2))

        def infer():
            return nn_impl.batch_normalization(x, b(moving_mean.value()),
                                               b(moving_variance.value()),
                                               b(_value(beta)), b(_value(gamma)), epsilon)

        def train():
            if fused and rank == 4:
                one = _value(gamma) if gamma is not None else A.ones([c], dt)
                zero = _value(beta) if beta is not None else A.zeros([c], dt)
                return nn_impl.fused_batch_norm(x, one, zero, epsilon=epsilon,
                                                data_format=data_format, is_training=True)
            mean, var = nn_impl.moments(x, reduce_axes)
            out = nn_impl.batch_normalization(x, b(mean), b(var), b(_value(beta)),
                                              b(_value(gamma)), epsilon)
            if fused:       # the fused kernel's unbiased batch variance
                n = _count(x, reduce_axes)
                var = var * (n / M.maximum(n - 1.0, convert_to_tensor(1.0, dt)))
            return out, mean, var

        static = _core.is_static_bool(is_training)
        if static and not is_training:
            outputs = infer()
        else:
            if static:
                outputs, mean, var = train()
            else:
                is_training = convert_to_tensor(is_training)
                outputs, mean, var = cond(is_training, train, lambda: (
                    infer(), moving_mean.value(), moving_variance.value()))

            def updates():
                um = assign_moving_average(moving_mean, mean, decay,
                                           zero_debias=zero_debias_moving_mean)
                uv = assign_moving_average(moving_variance, var, decay, zero_debias=False)
                return um, uv

            if updates_collections is None:
                def forced():
                    with get_default_graph().control_dependencies(list(updates())):
                        return A.identity(outputs)
                outputs = forced() if static else cond(is_training, forced,
                                                       lambda: A.identity(outputs))
            else:
                if static:
                    um, uv = updates()
                else:
                    um, uv = cond(is_training, updates, lambda: (
                        A.identity(moving_mean.value()), A.identity(moving_variance.value())))
                cols = [updates_collections] if isinstance(updates_collections, str) \
                    else list(updates_collections)
                get_default_graph().add_to_collections(cols, um)
                get_default_graph().add_to_collections(cols, uv)
        outputs.set_shape(x.shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


def _value(v):
    return None if v is None else v.value()


@add_arg_scope
def layer_norm(inputs, center=True, scale=True, activation_fn=None, reuse=None,
               variables_collections=None, outputs_collections=None, trainable=True,
               begin_norm_axis=1, begin_params_axis=-1, scope=None):
    """Normalises over axes ``begin_norm_axis:`` of each example; ``LayerNorm/beta`` and
    ``LayerNorm/gamma`` have the shape of the axes ``begin_params_axis:``."""
    with V.variable_scope(scope, "LayerNorm", reuse=reuse) as sc:
        x = convert_to_tensor(inputs)
        rank = x.shape.ndims
        if rank is None:
            raise ValueError(f"Inputs {x.name} has undefined rank.")
        if begin_norm_axis < 0:
            begin_norm_axis += rank
        if begin_params_axis >= rank or begin_norm_axis >= rank:
            raise ValueError(f"begin_params_axis ({begin_params_axis}) and begin_norm_axis "
                             f"({begin_norm_axis}) must be < rank(inputs) ({rank})")
        params_shape = x.shape.as_list()[begin_params_axis:]
        if any(d is None for d in params_shape):
            raise ValueError(f"Inputs {x.name}: shape(inputs)[{begin_params_axis}:] is not "
                             f"fully defined: {params_shape}")
        dt = x.dtype.base_dtype
        beta = _model_variable("beta", params_shape, dt, I.zeros_initializer(), None,
                               trainable, variables_collections) if center else None
        gamma = _model_variable("gamma", params_shape, dt, I.ones_initializer(), None,
                                trainable, variables_collections) if scale else None
        mean, variance = nn_impl.moments(x, list(range(begin_norm_axis, rank)),
                                         keep_dims=True)
        outputs = nn_impl.batch_normalization(x, mean, variance, _value(beta), _value(gamma),
                                              1e-12)
        outputs.set_shape(x.shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return collect_named_outputs(outputs_collections, sc.name, outputs)


# ----- embeddings and layer repetition ------------------------------------------------------
def embed_sequence(ids, vocab_size=None, embed_dim=None, unique=False, initializer=None,
                   regularizer=None, trainable=True, scope=None, reuse=None):
    """``[batch, length]`` ids -> ``[batch, length, embed_dim]`` through the variable
    ``EmbedSequence/embeddings`` ``[vocab_size, embed_dim]``."""
    if not (reuse or (vocab_size and embed_dim)):
        raise ValueError(f"Must specify vocab size and embedding dimension when not reusing. "
                         f"Got vocab_size={vocab_size} and embed_dim={embed_dim}")
    with V.variable_scope(scope, "EmbedSequence", reuse=reuse):
        shape = [vocab_size, embed_dim] if vocab_size and embed_dim else None
        embeddings = _model_variable("embeddings", shape, _dt.float32, initializer,
                                     regularizer, trainable, None)
        return embedding_lookup(embeddings, ids)


def _layer_name(layer, fallback: str) -> str:
    if hasattr(layer, "__name__"):
        return layer.__name__
    if hasattr(layer, "func") and hasattr(layer.func, "__name__"):    # functools.partial
        return layer.func.__name__
    return fallback


def repeat(inputs, repetitions, layer, *args, **kwargs):
    """Applies ``layer`` ``repetitions`` times, in scopes ``<scope>/<scope>_1``, ``_2``, ..."""
    scope = kwargs.pop("scope", None)
    with V.variable_scope(scope, "Repeat"):
        outputs = convert_to_tensor(inputs)
        scope = scope or _layer_name(layer, "repeat")
        for i in range(repetitions):
            kwargs["scope"] = f"{scope}_{i + 1}"
            outputs = layer(outputs, *args, **kwargs)
        return outputs


def stack(inputs, layer, stack_args, **kwargs):
    """Applies ``layer`` once per entry of ``stack_args`` (its extra positional arguments),
    in scopes ``<scope>/<scope>_1``, ``_2``, ..."""
    scope = kwargs.pop("scope", None)
    if not isinstance(stack_args, list | tuple):
        raise ValueError("stack_args need to be a list or tuple")
    with V.variable_scope(scope, "Stack"):
        outputs = convert_to_tensor(inputs)
        scope = scope or _layer_name(layer, "stack")
        for i, layer_args in enumerate(stack_args):
            kwargs["scope"] = f"{scope}_{i + 1}"
            if not isinstance(layer_args, list | tuple):
                layer_args = [layer_args]
            outputs = layer(outputs, *layer_args, **kwargs)
        return outputs
