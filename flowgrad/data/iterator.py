"""``tf.data.Iterator``: graph ops that start a pipeline and pull its next element.

Two stateful ops carry an iterator:

* ``MakeIterator`` (the ``initializer``) takes the dataset's captured tensors as inputs,
  starts the dataset's generator chain, and keeps it in the session's resources under the
  iterator's name — running it again restarts the pipeline, possibly from another dataset
  (``Iterator.from_structure(...).make_initializer(test_set)``).
* ``IteratorGetNext`` returns the next element as one output per component and raises
  ``tf.errors.OutOfRangeError`` at the end.  A one-shot iterator's ``IteratorGetNext``
  starts its pipeline itself on its first run in a session.

Iterator state lives per session, so two sessions over one graph iterate independently.
"""

from __future__ import annotations

from typing import Any

from flowgrad.data import structure as nest
from flowgrad.data.dataset import Dataset, _Env
from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import Operation, Tensor, get_default_graph
from flowgrad.framework.registry import NodeSpec, get_opdef, make_op, op, NotDifferentiable
from flowgrad.framework.shapes import TensorShape, as_shape
from flowgrad.runtime.placement import register_host_only


class _IteratorState:
    """One running pipeline in one session."""

    __slots__ = ("elements", "done")

    def __init__(self, elements) -> None:
        self.elements = elements
        self.done = False

    def next(self, ctx) -> tuple:
        if not self.done:
            try:
                return next(self.elements)
            except StopIteration:
                self.done = True
            except errors.OpError as e:
                if e.op is None:
                    e.op = ctx.op
                raise
        raise errors.OutOfRangeError(None, ctx.op, "End of sequence")

    def close(self) -> None:
        close = getattr(self.elements, "close", None)
        if close is not None:
            close()


def _start(ctx, key: str, dataset: Dataset, captured_values) -> None:
    captured = dict(zip(dataset._captured(), captured_values))
    env = _Env(ctx.session, captured)
    old = ctx.resources.get(("iterator", key))
    if old is not None:
        old.close()
    ctx.resources[("iterator", key)] = _IteratorState(dataset._elements(env))


@op("MakeIterator", shape=lambda n: [], stateful=True)
def _make_iterator(xp, *captured, key, dataset, ctx):
    _start(ctx, key, dataset, captured)


def _get_next_shape(node: NodeSpec):
    return [(s, d) for d, s in zip(node.attrs["output_types"], node.attrs["output_shapes"])]


@op("IteratorGetNext", shape=_get_next_shape, stateful=True)
def _iterator_get_next(xp, *captured, key, output_types, output_shapes, one_shot=None, ctx):
    state = ctx.resources.get(("iterator", key))
    if state is None:
        if one_shot is None:
            raise errors.FailedPreconditionError(
                None, ctx.op, "GetNext() failed because the iterator has not been "
                "initialized. Ensure that you have run the initializer operation for this "
                "iterator before getting the next element "
                "(sess.run(iterator.initializer)).")
        _start(ctx, key, one_shot, captured)
        state = ctx.resources[("iterator", key)]
    return state.next(ctx)


NotDifferentiable("MakeIterator")
NotDifferentiable("IteratorGetNext")
# pipelines are Python generators over numpy arrays: on a GPU session these ops run on the
# host, and the plan copies the captured inputs there and each element to the device
register_host_only("MakeIterator", "IteratorGetNext")


class Iterator:
    """``tf.data.Iterator``: ``get_next()`` tensors advanced by every ``Session.run``."""

    def __init__(self, key: str, structure: Any, flat_spec: list,
                 one_shot: Dataset | None = None) -> None:
        self._key = key
        self._structure = structure
        self._flat_spec = flat_spec
        self._one_shot = one_shot
        self._initializer: Operation | None = None
        self._graph = get_default_graph()

    # --- construction -------------------------------------------------------------------
    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name: str | None = None,
                       output_classes=None) -> "Iterator":
        """An iterator not bound to a dataset; ``make_initializer(ds)`` binds it."""
        types = [_dt.as_dtype(t) for t in nest.flatten(output_types)]
        if output_shapes is None:
            shapes = [TensorShape(None)] * len(types)
        else:
            from flowgrad.data.dataset import _flatten_shapes  # noqa: PLC0415
            shapes = [as_shape(s) for s in _flatten_shapes(output_types, output_shapes)]
        structure = nest.pack_as(output_types, [None] * len(types))
        key = shared_name or get_default_graph().unique_name("Iterator")
        return Iterator(key, structure, list(zip(types, shapes)))

    @staticmethod
    def _one_shot(dataset: Dataset) -> "Iterator":
        _check_tensor_elements(dataset)
        for t in dataset._captured():
            if t.op.type in ("Placeholder", "PlaceholderWithDefault"):
                raise ValueError(f"Cannot make a one-shot iterator for a dataset that captures "
                                 f"the placeholder '{t.op.name}': use "
                                 "make_initializable_iterator() and feed it when running "
                                 "iterator.initializer.")
        key = get_default_graph().unique_name("OneShotIterator")
        return Iterator(key, dataset._structure, list(dataset._flat_spec), one_shot=dataset)

    # --- ops ------------------------------------------------------------------------------
    def make_initializer(self, dataset: Dataset, name: str | None = None) -> Operation:
        """An op that (re)starts this iterator on ``dataset`` in the session that runs it."""
        if not isinstance(dataset, Dataset):
            raise TypeError(f"make_initializer expects a Dataset, got {dataset!r}")
        _check_tensor_elements(dataset)
        if not nest.same_layout(self._structure, dataset._structure) or \
                len(self._flat_spec) != len(dataset._flat_spec):
            raise TypeError(f"Expected output structure {self.output_types}, but the dataset "
                            f"has {dataset.output_types}.")
        for (d, s), (dd, ds) in zip(self._flat_spec, dataset._flat_spec):
            if d != dd:
                raise TypeError(f"Expected output types {self.output_types} but got dataset "
                                f"with output types {dataset.output_types}.")
            if not s.is_compatible_with(ds):
                raise TypeError(f"Expected output shapes compatible with {self.output_shapes} "
                                f"but got dataset with output shapes {dataset.output_shapes}.")
        return make_op(get_opdef("MakeIterator"), list(dataset._captured()),
                       {"key": self._key, "dataset": dataset}, name or "make_initializer")

    @property
    def initializer(self) -> Operation:
        if self._initializer is None:
            raise ValueError("Iterator does not have an initializer: it was made with "
                             "from_structure (use make_initializer(dataset)) or is one-shot.")
        return self._initializer

    def get_next(self, name: str | None = None) -> Any:
        """The next element, as the dataset's structure of tensors."""
        captured = list(self._one_shot._captured()) if self._one_shot is not None else []
        outs = make_op(get_opdef("IteratorGetNext"), captured,
                       {"key": self._key,
                        "output_types": tuple(d for d, _ in self._flat_spec),
                        "output_shapes": tuple(s for _, s in self._flat_spec),
                        "one_shot": self._one_shot}, name or "IteratorGetNext")
        return nest.pack_as(self._structure, list(outs)) if self._structure is not None \
            else outs[0]

    # --- description --------------------------------------------------------------------
    @property
    def output_types(self) -> Any:
        return _user_specs(self, 0)

    @property
    def output_shapes(self) -> Any:
        return _user_specs(self, 1)

    @property
    def output_classes(self) -> Any:
        return nest.pack_as(self._structure, [Tensor] * len(self._flat_spec)) \
            if self._structure is not None else Tensor

    def __repr__(self) -> str:
        return f"<Iterator '{self._key}' types: {self.output_types}>"


def _check_tensor_elements(dataset: Dataset) -> None:
    if getattr(dataset, "_yields_datasets", False):
        raise TypeError("An iterator cannot return the elements of this dataset: they are "
                        "datasets (from window()). Turn each into tensors with flat_map, e.g. "
                        "ds.window(n).flat_map(lambda w: w.batch(n)).")


def _user_specs(it: Iterator, i: int):
    leaves = [s[i] for s in it._flat_spec]
    return nest.pack_as(it._structure, leaves) if it._structure is not None else leaves[0]


def make_one_shot_iterator(dataset: Dataset) -> Iterator:
    """``tf.compat.v1.data.make_one_shot_iterator(dataset)``."""
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset: Dataset, shared_name: str | None = None) -> Iterator:
    """``tf.compat.v1.data.make_initializable_iterator(dataset)``."""
    return dataset.make_initializable_iterator(shared_name)


def get_output_types(dataset_or_iterator) -> Any:
    return dataset_or_iterator.output_types


def get_output_shapes(dataset_or_iterator) -> Any:
    return dataset_or_iterator.output_shapes


def get_output_classes(dataset_or_iterator) -> Any:
    return dataset_or_iterator.output_classes


