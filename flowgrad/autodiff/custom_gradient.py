"""``@tf.custom_gradient``: a function that supplies its own gradient.

As TF1's graph mode builds it: ``f(*args)`` runs normally and returns ``(y, grad_fn)``; its
outputs, its inputs and the variables it reads then pass through one ``IdentityN`` op whose
gradient is overridden by a rule registered for this call. That rule gives the outputs' own
paths no gradient (so nothing flows back through ``f``'s ops) and returns what
``grad_fn`` computes for the inputs and the variables.
"""

from __future__ import annotations

import functools
import inspect

from flowgrad.framework.graph import Tensor, get_default_graph
from flowgrad.framework.registry import RegisterGradient, convert_to_tensor
from flowgrad.ops import variables as V
from flowgrad.ops.script_ops import identity_n


def custom_gradient(f):
    """Decorator: ``f(*x) -> (y, grad_fn)``; ``grad_fn(*dy)`` returns one gradient per input
    (a list when there are several). When ``f`` reads variables, ``grad_fn`` must accept a
    keyword argument ``variables`` and return ``(input_grads, variable_grads)``.

        @tf.custom_gradient
        def clip_gradient(x):
            def grad(dy):
                return tf.clip_by_value(dy, -1.0, 1.0)
            return tf.identity(x), grad
    """

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        if kwargs:
            raise ValueError(f"custom_gradient: {f.__name__} was called with keyword "
                             f"arguments {sorted(kwargs)}; in graph mode the decorated function "
                             "takes its tensors as positional arguments only.")
        return _graph_mode_call(f, args)

    return decorated


def _graph_mode_call(f, args):
    g = get_default_graph()
    args = [convert_to_tensor(a) for a in args]
    first_id = len(g.get_operations())
    out = f(*args)
    if not isinstance(out, tuple) or len(out) != 2 or not callable(out[1]):
        raise TypeError(f"custom_gradient: {f.__name__} must return a pair (outputs, grad_fn), "
                        f"got {type(out).__name__}")
    result, grad_fn = out
    is_seq = isinstance(result, list | tuple)
    flat = [convert_to_tensor(r) for r in (result if is_seq else [result])]
    variables = _variables_read(g, flat, args, first_id)
    accepts_vars = _accepts_variables(grad_fn)
    if variables and not accepts_vars:
        raise TypeError(f"custom_gradient: {f.__name__} uses variables "
                        f"{[v.op.name for v in variables]}, so its grad_fn must accept a keyword "
                        "argument 'variables' and return (input_grads, variable_grads).")
    n_out, n_in = len(flat), len(args)

    def rule(op, *dys):
        dys = list(dys[:n_out])
        if variables:
            got = grad_fn(*dys, variables=variables)
            if not isinstance(got, list | tuple) or len(got) != 2:
                raise ValueError(f"custom_gradient: the grad_fn of {f.__name__} must return "
                                 "(input_grads, variable_grads) when the function uses "
                                 "variables.")
            input_grads, var_grads = got
            var_grads = list(var_grads)
            if len(var_grads) != len(variables):
                raise ValueError(f"custom_gradient: grad_fn of {f.__name__} returned "
                                 f"{len(var_grads)} variable gradients for {len(variables)} "
                                 f"variables {[v.op.name for v in variables]}; it must "
                                 "return one gradient for each variable.")
        else:
            input_grads, var_grads = grad_fn(*dys), []
        input_grads = list(input_grads) if isinstance(input_grads, list | tuple) \
            else [input_grads]
        if len(input_grads) != n_in:
            raise ValueError(f"custom_gradient: grad_fn of {f.__name__} returned "
                             f"{len(input_grads)} gradients for {n_in} inputs.")
        targets = list(args) + [v.value() for v in variables]
        for i, (d, t) in enumerate(zip(input_grads + var_grads, targets)):
            if d is None:
                continue
            d = convert_to_tensor(d)
            if not d.shape.is_compatible_with(t.shape):
                what = f"input {i}" if i < n_in else f"variable {variables[i - n_in].op.name}"
                raise ValueError(f"custom_gradient: grad_fn of {f.__name__} returned a gradient "
                                 f"of shape {d.shape} for {what} of shape {t.shape}")
        return [None] * n_out + input_grads + var_grads

    RegisterGradient(f"CustomGradient-{id(rule)}")(rule)
    with g.gradient_override_map({"IdentityN": f"CustomGradient-{id(rule)}"}):
        passed = identity_n(flat + args + [v._ref() for v in variables])
    outs = passed[:n_out]
    for o, t in zip(outs, flat):
        o.set_shape(t.shape)
    if not is_seq:
        return outs[0]
    return type(result)(outs) if isinstance(result, tuple) else outs


def _variables_read(g, outputs: list[Tensor], args: list[Tensor], first_id: int) -> list:
    """The variables that ops created by the call read, walking back from its outputs to
    (not past) its arguments."""
    by_op = {}
    for key in ("variables", "local_variables"):
        for v in g.get_collection(key):
            if isinstance(v, V.Variable):
                by_op.setdefault(v.op, v)
    stop = set(map(id, args))
    found, seen, stack = [], set(), [t.op for t in outputs if id(t) not in stop]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        if op.type == "VariableV2":
            if op in by_op and by_op[op] not in found:
                found.append(by_op[op])
            continue
        if op._id < first_id and not _is_variable_read(op):
            continue            # built before the call: not part of f
        stack.extend(t.op for t in op.inputs if id(t) not in stop)
    return sorted(found, key=lambda v: v.op._id)


def _is_variable_read(op) -> bool:
    return op.type == "Identity" and op.inputs and op.inputs[0].op.type == "VariableV2"


def _accepts_variables(fn) -> bool:
    try:
        spec = inspect.getfullargspec(fn)
    except TypeError:
        return False
    return "variables" in spec.args or "variables" in spec.kwonlyargs or spec.varkw is not None
