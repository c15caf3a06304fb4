"""``tf.layers.Layer``: TF1's graph-mode layer base class.

A layer owns a variable scope, uniquified from its class name on first use (``dense``,
``dense_1``, ...) or given by ``name=``. ``build(input_shape)`` creates the weights with
``add_weight`` (``get_variable`` under that scope, so the names are TF1's ``dense/kernel``
and an enclosing ``variable_scope(..., reuse=True)`` shares them); ``call(inputs)`` builds
the ops, under a fresh name scope per call. Regularization losses go to
``REGULARIZATION_LOSSES`` and update ops (batch-norm moving averages) to ``UPDATE_OPS``.
"""

from __future__ import annotations

import re

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import GraphKeys, Tensor, get_default_graph
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import variables as V


def _snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


class InputSpec:
    """Constraints on a layer's input (rank, last dimension)."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None) -> None:
        self.dtype, self.shape, self.ndim = dtype, shape, ndim
        self.max_ndim, self.min_ndim, self.axes = max_ndim, min_ndim, axes or {}


class Layer:
    """Base class: subclasses implement ``build(input_shape)`` and ``call(inputs, ...)``."""

    def __init__(self, trainable: bool = True, name: str | None = None, dtype=None,
                 _scope=None, _reuse=None, **kwargs) -> None:
        allowed = {"activity_regularizer", "input_shape", "batch_input_shape", "_scope",
                   "_reuse", "autocast"}
        for k in kwargs:
            if k not in allowed:
                raise TypeError(f"Keyword argument not understood: {k}")
        self.trainable = trainable
        self.built = False
        self.dtype = None if dtype is None else _dt.as_dtype(dtype)
        self.input_spec = None
        self._reuse = _reuse
        self._scope = _scope if isinstance(_scope, V.VariableScope) else None
        self._scope_name = _scope if isinstance(_scope, str) else name
        self._base_name = name or _snake_case(type(self).__name__)
        self._name = name
        self._trainable_weights: list[V.Variable] = []
        self._non_trainable_weights: list[V.Variable] = []
        self._losses: list[Tensor] = []
        self._updates: list = []
        self._graph = None
        self._call_count = 0
        self.activity_regularizer = kwargs.get("activity_regularizer")

    # --- identity ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        if self._scope is not None:
            return self._scope.name.split("/")[-1]
        return self._name or self._base_name

    @property
    def scope_name(self) -> str:
        if self._scope is None:
            raise ValueError("No name available for layer scope because the layer "
                             f"{self._base_name!r} has not been used yet.")
        return self._scope.name

    @property
    def graph(self):
        return self._graph

    # --- weights --------------------------------------------------------------------------
    @property
    def trainable_weights(self) -> list[V.Variable]:
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[V.Variable]:
        if self.trainable:
            return list(self._non_trainable_weights)
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def weights(self) -> list[V.Variable]:
        return self.trainable_weights + self.non_trainable_weights

    variables = weights

    @property
    def losses(self) -> list[Tensor]:
        return list(self._losses)

    @property
    def updates(self) -> list:
        return list(self._updates)

    def get_losses_for(self, inputs=None) -> list[Tensor]:
        return self.losses

    def get_updates_for(self, inputs=None) -> list:
        return self.updates

    def add_loss(self, losses, inputs=None) -> None:
        losses = losses if isinstance(losses, list | tuple) else [losses]
        g = get_default_graph()
        for loss in losses:
            if loss is None:
                continue
            self._losses.append(loss)
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)

    def add_update(self, updates, inputs=None) -> None:
        updates = updates if isinstance(updates, list | tuple) else [updates]
        g = get_default_graph()
        for u in updates:
            self._updates.append(u)
            if u not in g.get_collection(GraphKeys.UPDATE_OPS):
                g.add_to_collection(GraphKeys.UPDATE_OPS, u)

    def add_weight(self, name: str, shape=None, dtype=None, initializer=None,
                   regularizer=None, trainable: bool | None = None, constraint=None,
                   partitioner=None, use_resource=None, getter=None, **kwargs) -> V.Variable:
        """Creates (or, when reusing, fetches) ``<layer scope>/<name>`` via get_variable."""
        trainable = self.trainable if trainable is None else trainable
        dtype = _dt.as_dtype(dtype or self.dtype or _dt.float32)
        existing = set(V.global_variables())
        collections = kwargs.get("collections")
        v = V.get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                           regularizer=None, trainable=trainable and self.trainable,
                           collections=collections, constraint=constraint)
        if v not in existing and regularizer is not None:
            g = get_default_graph()
            with g.name_scope(None), g.name_scope(v.op.name + "/Regularizer/"):
                loss = regularizer(v)
            self.add_loss(loss)
        if trainable and self.trainable:
            self._trainable_weights.append(v)
        else:
            self._non_trainable_weights.append(v)
        return v

    add_variable = add_weight

    # --- the protocol for subclasses ------------------------------------------------------
    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape) -> TensorShape:
        return TensorShape(input_shape)

    # --- calling ---------------------------------------------------------------------------
    def _set_scope(self) -> None:
        if self._scope is not None:
            return
        if self._reuse:
            cm = V.variable_scope(self._scope_name or self._base_name)
        else:
            cm = V.variable_scope(self._scope_name, default_name=self._base_name)
        with cm as captured:
            self._scope = captured

    def __call__(self, inputs, *args, **kwargs):
        """Builds the layer on first call (creating its variables), then the call's ops."""
        g = get_default_graph()
        if self._graph is None:
            self._graph = g
        elif self._graph is not g:
            raise ValueError(f"Layer {self.name!r} was used in another graph; a layer's "
                             "variables live in one graph.")
        self._set_scope()
        first = inputs[0] if isinstance(inputs, list | tuple) else inputs
        if not isinstance(inputs, list | tuple):
            inputs = convert_to_tensor(inputs)
            first = inputs
        reuse = True if self.built else self._reuse
        with V.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False):
            # ops go under <scope>, then <scope>_1, ... for later calls (as TF1 names them)
            leaf = self._scope.name.split("/")[-1]
            ns = self._scope.original_name_scope if self._call_count == 0 else leaf
            with g.name_scope(ns if ns else leaf):
                if not self.built:
                    if self.dtype is None:
                        self.dtype = first.dtype if hasattr(first, "dtype") else _dt.float32
                    shapes = ([t.shape for t in inputs] if isinstance(inputs, list | tuple)
                              else first.shape)
                    self.build(shapes)
                    self.built = True
                outputs = self.call(inputs, *args, **kwargs)
                if self.activity_regularizer is not None:
                    with g.name_scope("ActivityRegularizer"):
                        self.add_loss(self.activity_regularizer(outputs))
        self._call_count += 1
        return outputs

    apply = __call__

    def count_params(self) -> int:
        total = 0
        for w in self.weights:
            total += int(w.shape.num_elements())
        return total

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable,
                "dtype": self.dtype.name if self.dtype is not None else None}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
