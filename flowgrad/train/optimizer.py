"""The optimizer base class: ``compute_gradients`` -> ``apply_gradients`` -> ``minimize``.

Subclasses implement ``_apply_dense(grad, var)`` (build the update op for one variable),
optionally ``_apply_sparse(grad, var)`` for ``IndexedSlices`` gradients (embeddings),
and optionally ``_create_slots(var_list)``, ``_prepare()`` and ``_finish(update_ops, name)``.
Slot variables are named as in TF1 (``dense/kernel/Adam``) and are global variables, so
initializers and checkpoints include them.
"""

from __future__ import annotations

from flowgrad.autodiff.gradients import gradients
from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import GraphKeys, Operation, Tensor, get_default_graph
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V
from flowgrad.ops.embedding_ops import IndexedSlices


class Optimizer:
    """Base class for optimizers (``tf.train.Optimizer``)."""

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2

    def __init__(self, use_locking: bool, name: str) -> None:
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict[V.Variable, V.Variable]] = {}
        self._non_slot: dict[str, V.Variable] = {}

    def get_name(self) -> str:
        return self._name

    # --- the three steps ------------------------------------------------------------------
    def compute_gradients(self, loss, var_list=None, gate_gradients=GATE_OP,
                          aggregation_method=None, colocate_gradients_with_ops=False,
                          grad_loss=None) -> list[tuple]:
        """Gradients of ``loss`` for ``var_list`` (default: trainable variables)."""
        if callable(loss):
            raise RuntimeError("compute_gradients needs a loss tensor in graph mode, not a "
                               "callable.")
        loss = convert_to_tensor(loss)
        if var_list is None:
            var_list = (loss.graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
                        + loss.graph.get_collection("trainable_resource_variables"))
        else:
            var_list = list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        if not (loss.dtype.is_floating):
            raise ValueError(f"Invalid type {loss.dtype.name} for {loss.name}, expected: "
                             "float16, float32 or float64.")
        grads = gradients(loss, var_list, grad_ys=grad_loss)
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None) -> Operation:
        """An op that applies the gradients (and increments ``global_step``)."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        for g, v in grads_and_vars:
            if not isinstance(v, V.Variable):
                raise TypeError(f"{v!r} is not a tf.Variable: apply_gradients needs "
                                "(gradient, variable) pairs.")
        present = [(g, v) for g, v in grads_and_vars if g is not None]
        if not present:
            raise ValueError("No gradients provided for any variable, check your graph for "
                             "ops that do not support gradients, between variables "
                             f"{[v.name for _, v in grads_and_vars]} and loss.")
        graph = present[0][1].graph
        with graph.as_default(), graph.name_scope(name or self._name) as scope:
            self._create_slots([v for _, v in present])
            self._prepare()
            updates = []
            for g, v in present:
                with graph.name_scope("update_" + v.op.name.replace("/", "_")):
                    if type(g) is IndexedSlices:        # an embedding's rows: sparse update
                        if g.dtype != v.dtype:
                            raise TypeError(f"Gradient {g.name} of dtype {g.dtype.name} does "
                                            f"not match variable {v.name} of dtype "
                                            f"{v.dtype.name}")
                        updates.append(_constrained(v, self._apply_sparse(g, v)))
                        continue
                    g = convert_to_tensor(g)
                    if g.dtype != v.dtype:
                        raise TypeError(f"Gradient {g.name} of dtype {g.dtype.name} does not "
                                        f"match variable {v.name} of dtype {v.dtype.name}")
                    updates.append(_constrained(v, self._apply_dense(g, v)))
            if global_step is None:
                apply = self._finish(updates, scope)
            else:
                with graph.control_dependencies([self._finish(updates, "update")]):
                    apply = S.assign_add(global_step, _one_like(global_step), name=scope)
                    apply = apply.op
        train_ops = graph.get_collection_ref(GraphKeys.TRAIN_OP)
        if apply not in train_ops:
            train_ops.append(apply)
        return apply

    def minimize(self, loss, global_step=None, var_list=None, gate_gradients=GATE_OP,
                 aggregation_method=None, colocate_gradients_with_ops=False, name=None,
                 grad_loss=None) -> Operation:
        """``compute_gradients`` + ``apply_gradients``: the training op."""
        gv = self.compute_gradients(loss, var_list=var_list, gate_gradients=gate_gradients,
                                    aggregation_method=aggregation_method,
                                    colocate_gradients_with_ops=colocate_gradients_with_ops,
                                    grad_loss=grad_loss)
        if all(g is None for g, _ in gv):
            raise ValueError("No gradients provided for any variable, check your graph for ops "
                             "that do not support gradients, between variables "
                             f"{[v.name for _, v in gv]} and loss {convert_to_tensor(loss)!r}.")
        return self.apply_gradients(gv, global_step=global_step, name=name)

    # --- hooks for subclasses ---------------------------------------------------------------
    def _create_slots(self, var_list) -> None:
        pass

    def _prepare(self) -> None:
        pass

    def _apply_dense(self, grad: Tensor, var: V.Variable):
        raise NotImplementedError(f"{type(self).__name__} must implement _apply_dense")

    def _apply_sparse(self, grad, var: V.Variable):
        """Applies an IndexedSlices gradient; without an override, as a dense one."""
        return self._apply_dense(convert_to_tensor(grad), var)

    def _finish(self, update_ops, name_scope: str) -> Operation:
        return S.group(*update_ops, name=name_scope)

    # --- slots ------------------------------------------------------------------------------
    def _zeros_slot(self, var: V.Variable, slot_name: str, op_name: str) -> V.Variable:
        return self._slot(var, slot_name, op_name, lambda: A.zeros(var.shape.as_list(),
                                                                   var.dtype))

    def _slot(self, var, slot_name, op_name, init_fn) -> V.Variable:
        named = self._slots.setdefault(slot_name, {})
        if var not in named:
            g = var.graph
            with g.control_dependencies(None), g.name_scope(None):
                slot = V.Variable(init_fn, trainable=False, name=f"{var.op.name}/{op_name}",
                                  dtype=var.dtype)
            named[var] = slot
        return named[var]

    def _non_slot_variable(self, name: str, initial_value, graph=None) -> V.Variable:
        if name not in self._non_slot:
            g = graph or get_default_graph()
            with g.control_dependencies(None), g.name_scope(None):
                self._non_slot[name] = V.Variable(initial_value, trainable=False, name=name)
        return self._non_slot[name]

    def get_slot(self, var, name: str):
        return self._slots.get(name, {}).get(var)

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def variables(self) -> list[V.Variable]:
        out = [v for d in self._slots.values() for v in d.values()]
        return out + list(self._non_slot.values())

    def _lr(self, value, var) -> Tensor:
        t = convert_to_tensor(value) if hasattr(value, "_as_graph_element") else \
            convert_to_tensor(value, dtype=var.dtype)
        if t.dtype != var.dtype:
            from flowgrad.ops.math_ops import cast  # noqa: PLC0415
            t = cast(t, var.dtype)
        return t


def _constrained(var, update: Operation) -> Operation:
    """As TF1: a variable with a ``constraint`` is projected right after its update."""
    if getattr(var, "constraint", None) is None:
        return update
    with var.graph.control_dependencies([update]):
        # a fresh read, created under the dependency, sees the updated value
        return S.assign(var, var.constraint(var.read_value()), name="constraint").op


def _one_like(v) -> Tensor:
    return convert_to_tensor(1, dtype=v.dtype)


# ----- global step -------------------------------------------------------------------------
def get_global_step(graph=None):
    g = graph or get_default_graph()
    steps = g.get_collection(GraphKeys.GLOBAL_STEP)
    if len(steps) > 1:
        raise TypeError("Multiple tensors in global_step collection.")
    return steps[0] if steps else None


def create_global_step(graph=None):
    g = graph or get_default_graph()
    if get_global_step(g) is not None:
        raise ValueError('"global_step" already exists.')
    with g.as_default(), g.control_dependencies(None), g.name_scope(None):
        return V.get_variable("global_step", shape=[], dtype=_dt.int64,
                              initializer=_zeros_int64, trainable=False,
                              collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def _zeros_int64(shape, dtype=None, partition_info=None):
    return A.zeros(shape, _dt.int64)


def get_or_create_global_step(graph=None):
    g = graph or get_default_graph()
    step = get_global_step(g)    # (a Variable has no truth value: compare with None)
    return step if step is not None else create_global_step(g)


def global_step(sess, global_step_tensor) -> int:
    return int(sess.run(global_step_tensor))
