"""``tf.train.init_from_checkpoint`` and ``tf.train.warm_start``: initialise variables from a
checkpoint by replacing their initializers (TF1 semantics: nothing is loaded until the
initializers run, and a variable not named in the map keeps its own initializer).

The checkpoint is read when the map is applied; the values become the variables' new
initial values (constants in the graph).
"""

from __future__ import annotations

import logging

import numpy as np

from flowgrad.framework.graph import GraphKeys, get_default_graph
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V
from flowgrad.train.saver import load_checkpoint

_log = logging.getLogger("flowgrad")


def init_from_checkpoint(ckpt_dir_or_file, assignment_map) -> None:
    """Makes variables initialise from checkpoint tensors.

    ``assignment_map`` maps checkpoint names to current variables:
    ``{'old_scope/': 'new_scope/'}`` takes every variable under ``new_scope/`` from the
    same name under ``old_scope/`` (``'/'`` is the root on either side);
    ``{'old_scope/v': 'new_scope/v'}`` or ``{'old_scope/v': variable}`` one variable.
    Names refer to variables made with ``tf.get_variable``.
    """
    reader = load_checkpoint(ckpt_dir_or_file)
    shapes = reader.get_variable_to_shape_map()
    store = V._store()[0].vars
    for ckpt_name, current in sorted(assignment_map.items(), key=lambda kv: kv[0]):
        var = current if isinstance(current, V.Variable) else None
        if isinstance(current, list | tuple):
            raise ValueError(f"init_from_checkpoint: {ckpt_name!r} maps to a list; partitioned "
                             "variables are not supported, map each variable on its own.")
        if var is None:
            if not isinstance(current, str):
                raise TypeError(f"init_from_checkpoint: assignment_map values must be variables "
                                f"or names, got {current!r} for {ckpt_name!r}")
            var = store.get(current[:-2] if current.endswith(":0") else current)
        if var is not None:
            if ckpt_name not in shapes:
                raise ValueError(f"Tensor {ckpt_name} is not found in {ckpt_dir_or_file} "
                                 f"checkpoint (it holds {sorted(shapes)[:10]}"
                                 f"{' ...' if len(shapes) > 10 else ''})")
            _set_initializer(var, reader, ckpt_name, ckpt_dir_or_file)
            continue
        # scope to scope
        scope = current[:current.rindex("/")] if "/" in current else ""
        if not ckpt_name.endswith("/"):
            raise ValueError(f"Assignment map with scope only name {scope!r} should map to "
                             f"scope only {ckpt_name!r}. Should be 'scope/': 'other_scope/'. "
                             f"(No variable named {current!r} was made with tf.get_variable.)")
        matched = sorted(n for n in store if not scope or n.startswith(scope + "/"))
        if not matched:
            raise ValueError(f"init_from_checkpoint: no variable under scope {current!r} "
                             f"(mapped from {ckpt_name!r}).")
        for name in matched:
            rel = name[len(scope):]
            if current != "/":
                rel = rel[1:]
            full = rel if ckpt_name == "/" else ckpt_name + rel
            full = full.rstrip("/")
            if full not in shapes:
                raise ValueError(f"Tensor {full} ({rel} in {ckpt_name}) is not found in "
                                 f"{ckpt_dir_or_file} checkpoint")
            _set_initializer(store[name], reader, full, ckpt_dir_or_file)


def _set_initializer(var, reader, tensor_name: str, where) -> None:
    value = reader.get_tensor(tensor_name)
    if not var.shape.is_compatible_with(value.shape):
        raise ValueError(f"Shape of variable {var.name} ({var.shape}) doesn't match with shape "
                         f"of tensor {tensor_name} ({list(value.shape)}) from checkpoint "
                         f"reader {where}.")
    if np.dtype(var.dtype.np) != value.dtype:
        raise ValueError(f"Dtype of variable {var.name} ({var.dtype.name}) doesn't match with "
                         f"dtype of tensor {tensor_name} ({value.dtype}) from checkpoint "
                         f"{where}.")
    g = var.graph
    with g.as_default(), g.control_dependencies(None), g.name_scope(None), \
            g.name_scope(var.op.name + "/"):
        init = convert_to_tensor(value, dtype=var.dtype, name="checkpoint_initializer")
        var._initializer_op = S._assign(var._ref(), init, name="Assign").op
    var._initial_value = init
    _log.debug("Initialize variable %s from checkpoint %s with %s", var.name, where,
               tensor_name)


def warm_start(ckpt_to_initialize_from, vars_to_warm_start=".*", var_name_to_vocab_info=None,
               var_name_to_prev_var_name=None) -> None:
    """Initialises the selected variables from a checkpoint (``tf.train.warm_start``).

    ``vars_to_warm_start``: a regex over the trainable variables (default ``'.*'``), a list
    of regexes over the global variables, a list of variables, or ``None`` (nothing).
    ``var_name_to_prev_var_name`` renames: ``{current name: name in the checkpoint}``.
    """
    if var_name_to_vocab_info:
        raise ValueError("warm_start: var_name_to_vocab_info (vocabulary remapping) is not "
                         "supported by flowgrad; warm-start those variables without it.")
    renames = dict(var_name_to_prev_var_name or {})
    if vars_to_warm_start is None:
        selected = []
    elif isinstance(vars_to_warm_start, str):
        selected = get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES,
                                                      vars_to_warm_start)
    elif isinstance(vars_to_warm_start, list | tuple) and \
            all(isinstance(v, str) for v in vars_to_warm_start):
        selected = []
        for pattern in vars_to_warm_start:
            for v in get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, pattern):
                if v not in selected:
                    selected.append(v)
    elif isinstance(vars_to_warm_start, list | tuple) and \
            all(isinstance(v, V.Variable) for v in vars_to_warm_start):
        selected = list(vars_to_warm_start)
    else:
        raise ValueError("warm_start: vars_to_warm_start must be a regex string, a list of "
                         f"regex strings, a list of Variables or None; got {vars_to_warm_start!r}")
    reader = load_checkpoint(ckpt_to_initialize_from)
    shapes = reader.get_variable_to_shape_map()
    used = set()
    for v in selected:
        name = v.op.name
        prev = renames.get(name, name)
        used.add(name)
        if prev not in shapes:
            raise ValueError(f"warm_start: {prev} (for variable {name}) is not in checkpoint "
                             f"{ckpt_to_initialize_from}")
        _set_initializer(v, reader, prev, ckpt_to_initialize_from)
    unused = sorted(set(renames) - used)
    if unused:
        raise ValueError(f"warm_start: var_name_to_prev_var_name names variables that were not "
                         f"warm-started: {unused}")
