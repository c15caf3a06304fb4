"""``tf.contrib.framework``: variable selection, checkpoint loading helpers and arg scopes."""

from __future__ import annotations

import logging

import numpy as np

from flowgrad.contrib.arg_scope import (add_arg_scope, arg_scope, arg_scoped_arguments,
                                        current_arg_scope, has_arg_scope)
from flowgrad.framework.graph import GraphKeys as _Keys
from flowgrad.framework.graph import get_default_graph as _graph
from flowgrad.framework.graph import name_scope as _name_scope
from flowgrad.ops import array_ops as A
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V
from flowgrad.train.optimizer import get_global_step, get_or_create_global_step
from flowgrad.train.saver import Saver as _Saver
from flowgrad.train.saver import load_checkpoint as _load_checkpoint

_log = logging.getLogger("flowgrad")


def get_variables(scope=None, suffix=None, collection=_Keys.GLOBAL_VARIABLES) -> list:
    """Variables of ``collection`` whose names match the regex ``scope`` (and end with
    ``suffix``); ``scope`` may be a ``VariableScope``."""
    if isinstance(scope, V.VariableScope):
        scope = scope.name
    if suffix is not None:
        if ":" not in suffix:
            suffix += ":"
        return [v for v in _graph().get_collection(collection, scope)
                if suffix in v.name]
    return _graph().get_collection(collection, scope)


def get_model_variables(scope=None, suffix=None) -> list:
    return get_variables(scope, suffix, _Keys.MODEL_VARIABLES)


def get_trainable_variables(scope=None, suffix=None) -> list:
    return get_variables(scope, suffix, _Keys.TRAINABLE_VARIABLES)


def get_variables_by_name(given_name, scope=None) -> list:
    """Variables whose last name component is ``given_name``."""
    return [v for v in get_variables(scope) if v.op.name.rsplit("/", 1)[-1] == given_name]


def get_unique_variable(var_op_name: str):
    """The one global variable named ``var_op_name``."""
    found = [v for v in get_variables(var_op_name) if v.op.name == var_op_name]
    if not found:
        raise ValueError(f"Couldn't find variable {var_op_name}")
    return found[0]


def get_variables_to_restore(include=None, exclude=None) -> list:
    """The global variables under the scopes in ``include`` (all by default), minus those
    under the scopes in ``exclude``."""
    if include is not None and not isinstance(include, list | tuple):
        raise TypeError("include is provided but is not a list or a tuple.")
    if exclude is not None and not isinstance(exclude, list | tuple):
        raise TypeError("exclude is provided but is not a list or a tuple.")
    if include is None:
        chosen = get_variables()
    else:
        chosen = []
        for scope in include:
            chosen += get_variables(scope)
    dropped = set()
    for scope in exclude or ():
        dropped |= set(get_variables(scope))
    return [v for v in chosen if v not in dropped]


def model_variable(name, shape=None, dtype=None, initializer=None, regularizer=None,
                   trainable=True, collections=None, caching_device=None, device=None,
                   partitioner=None, custom_getter=None, use_resource=None, **kwargs):
    """``get_variable`` that also adds the variable to ``MODEL_VARIABLES``."""
    cols = list(collections or []) + [_Keys.GLOBAL_VARIABLES, _Keys.MODEL_VARIABLES]
    return variable(name, shape=shape, dtype=dtype, initializer=initializer,
                    regularizer=regularizer, trainable=trainable, collections=cols,
                    custom_getter=custom_getter)


def variable(name, shape=None, dtype=None, initializer=None, regularizer=None, trainable=True,
             collections=None, caching_device=None, device=None, partitioner=None,
             custom_getter=None, use_resource=None, **kwargs):
    """``get_variable`` with ``GLOBAL_VARIABLES`` always among ``collections``."""
    cols = list(collections) if collections is not None else [_Keys.GLOBAL_VARIABLES]
    cols = list(dict.fromkeys(cols + [_Keys.GLOBAL_VARIABLES]))
    return V.get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                          regularizer=regularizer, trainable=trainable, collections=cols,
                          custom_getter=custom_getter)


def _as_name_map(var_list) -> dict:
    if isinstance(var_list, dict):
        return dict(var_list)
    out = {}
    for v in var_list:
        if not isinstance(v, V.Variable):
            raise TypeError(f"var_list must hold variables, got {v!r}")
        out[v.op.name] = v
    return out


def _filter_missing(model_path, var_list, ignore_missing_vars: bool) -> dict:
    names = _as_name_map(var_list)
    if not ignore_missing_vars:
        return names
    reader = _load_checkpoint(model_path)
    kept = {}
    for name, v in names.items():
        if reader.has_tensor(name):
            kept[name] = v
        else:
            _log.warning("Variable %s missing in checkpoint %s", name, model_path)
    return kept


def assign_from_checkpoint(model_path, var_list, ignore_missing_vars: bool = False):
    """``(assign_op, feed_dict)`` that loads ``var_list`` (variables, or a dict
    ``{checkpoint name: variable}``) from ``model_path`` when run."""
    names = _filter_missing(model_path, var_list, ignore_missing_vars)
    reader = _load_checkpoint(model_path)
    feed, assigns = {}, []
    with _name_scope("assign_from_checkpoint"):
        for ckpt_name, v in names.items():
            if not reader.has_tensor(ckpt_name):
                raise ValueError(f"Tensor {ckpt_name} is not found in checkpoint {model_path}")
            value = reader.get_tensor(ckpt_name)
            if not v.shape.is_compatible_with(value.shape):
                raise ValueError(f"Total size of new array must be unchanged for {ckpt_name}: "
                                 f"checkpoint shape {list(value.shape)}, variable {v.name} "
                                 f"shape {v.shape}")
            ph = A.placeholder(v.dtype, v.shape, name="placeholder")
            feed[ph] = np.asarray(value, dtype=v.dtype.np)
            assigns.append(S.assign(v, ph))
        return S.group(*assigns), feed


def assign_from_checkpoint_fn(model_path, var_list, ignore_missing_vars: bool = False,
                              reshape_variables: bool = False):
    """A function ``fn(session)`` restoring ``var_list`` from ``model_path`` with a Saver
    (``None`` if nothing is left to restore after dropping missing variables)."""
    if not var_list:
        raise ValueError("var_list cannot be empty")
    names = _filter_missing(model_path, var_list, ignore_missing_vars)
    if not names:
        _log.warning("No Variables to restore")
        return None
    saver = _Saver(names, reshape=reshape_variables)

    def callback(session):
        return saver.restore(session, model_path)
    return callback


__all__ = ["add_arg_scope", "arg_scope", "arg_scoped_arguments", "assign_from_checkpoint",
           "assign_from_checkpoint_fn", "current_arg_scope", "get_global_step",
           "get_model_variables", "get_or_create_global_step", "get_trainable_variables",
           "get_unique_variable", "get_variables", "get_variables_by_name",
           "get_variables_to_restore", "has_arg_scope", "model_variable", "variable"]
