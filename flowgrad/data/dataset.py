"""``tf.data.Dataset``: a description of an input pipeline, run by an iterator op.

A :class:`Dataset` is built in Python and never computes anything by itself.  Its elements
are described by ``output_types``/``output_shapes`` (nested tuples and dicts of leaves).
Tensors that a dataset takes from the graph (``from_tensor_slices(placeholder)``) are
*captured*: they become inputs of the op that initializes an iterator, so feeding them at
``sess.run(iterator.initializer, feed_dict=...)`` chooses the data.  When the iterator is
initialized in a session, the pipeline becomes a chain of Python generators over flat
tuples of numpy arrays (see :meth:`Dataset._elements`); ``get_next`` pulls one element per
``Session.run``.

Functions given to ``map``/``filter`` are traced once, as in TF1, into a private graph
whose placeholders stand for one element; at run time that graph runs in its own session.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Iterator

import numpy as np

from flowgrad.data import structure as nest
from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import constant_value, convert_to_tensor
from flowgrad.framework.shapes import TensorShape, as_shape

AUTOTUNE = -1
_Flat = tuple  # one element: a flat tuple of numpy arrays


class _Env:
    """What a pipeline needs while it runs in one session: captured values, state."""

    def __init__(self, session, captured: dict) -> None:
        self.session = session
        self.captured = captured
        self.threads: list = []

    def state(self, key, factory: Callable):
        res = self.session._resources
        if key not in res:
            res[key] = factory()
        return res[key]


class Dataset(abc.ABC):
    """An input pipeline: a source and a chain of transformations (TF1's ``tf.data``)."""

    _spec: Any  # structure of (DType, TensorShape)

    # --- what the elements look like ----------------------------------------------------
    _structure: Any          # the element's nesting, leaves None (None: a single leaf)
    _flat_spec: list         # [(DType, TensorShape)] per leaf

    @property
    def output_types(self) -> Any:
        return _map_specs(lambda s: s[0], self)

    @property
    def output_shapes(self) -> Any:
        return _map_specs(lambda s: s[1], self)

    @property
    def output_classes(self) -> Any:
        return _map_specs(lambda s: Tensor, self)

    def _spec_tree(self) -> Any:
        return _pack_specs(self._structure, self._flat_spec)

    def _captured(self) -> list[Tensor]:
        """Graph tensors this pipeline reads (inputs of the iterator's initializer)."""
        return []

    @abc.abstractmethod
    def _elements(self, env: _Env) -> Iterator[_Flat]:
        """The elements, as flat tuples of arrays, for one pass in one session."""

    def __repr__(self) -> str:
        types = _map_specs(lambda s: s[0].name, self)
        return f"<{type(self).__name__} shapes: {self.output_shapes}, types: {types}>"

    # --- sources ------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors) -> "Dataset":
        """One element per row (first dimension) of every component of ``tensors``."""
        return _TensorSlices(tensors)

    @staticmethod
    def from_tensors(tensors) -> "Dataset":
        """A dataset of exactly one element: ``tensors``."""
        return _Tensors(tensors)

    @staticmethod
    def from_generator(generator: Callable, output_types, output_shapes=None,
                       args=None) -> "Dataset":
        """Elements produced by calling ``generator(*args)`` afresh for every iteration."""
        return _Generator(generator, output_types, output_shapes, args)

    @staticmethod
    def range(*args) -> "Dataset":
        """``Dataset.range(stop)``, ``(start, stop)``, ``(start, stop, step)``: int64 scalars."""
        return _Range(*args)

    @staticmethod
    def zip(datasets) -> "Dataset":
        """Elements of several datasets side by side (stops at the shortest)."""
        return _Zip(datasets)

    # --- transformations ----------------------------------------------------------------
    def map(self, map_func: Callable, num_parallel_calls: int | None = None) -> "Dataset":
        """Applies ``map_func`` (built from tf ops, traced once) to every element."""
        return _t._Map(self, map_func, num_parallel_calls)

    def filter(self, predicate: Callable) -> "Dataset":
        """Keeps the elements for which ``predicate`` (a scalar bool tensor) is true."""
        return _t._Filter(self, predicate)

    def shuffle(self, buffer_size: int, seed: int | None = None,
                reshuffle_each_iteration: bool | None = None) -> "Dataset":
        """Samples uniformly from a buffer of ``buffer_size`` elements (TF's algorithm)."""
        return _t._Shuffle(self, buffer_size, seed,
                        True if reshuffle_each_iteration is None else reshuffle_each_iteration)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> "Dataset":
        """Stacks ``batch_size`` consecutive elements (the last batch may be smaller)."""
        return _t._Batch(self, batch_size, drop_remainder)

    def repeat(self, count: int | None = None) -> "Dataset":
        """Repeats the dataset ``count`` times (forever when ``None`` or -1)."""
        return _t._Repeat(self, count)

    def prefetch(self, buffer_size: int) -> "Dataset":
        """Prepares up to ``buffer_size`` elements ahead in a background thread."""
        return _t._Prefetch(self, buffer_size)

    def take(self, count: int) -> "Dataset":
        """The first ``count`` elements (all of them when ``count`` is -1)."""
        return _t._Take(self, count)

    def skip(self, count: int) -> "Dataset":
        """All but the first ``count`` elements (none when ``count`` is -1)."""
        return _t._Skip(self, count)

    def shard(self, num_shards: int, index: int) -> "Dataset":
        """Every ``num_shards``-th element, starting at ``index`` (for data parallelism)."""
        return _t._Shard(self, num_shards, index)

    def concatenate(self, dataset: "Dataset") -> "Dataset":
        """This dataset's elements, then ``dataset``'s (same types and structure)."""
        return _t._Concatenate(self, dataset)

    def cache(self, filename: str = "") -> "Dataset":
        """Keeps the elements of the first pass in memory and replays them afterwards."""
        return _t._Cache(self)

    def padded_batch(self, batch_size: int, padded_shapes, padding_values=None,
                     drop_remainder: bool = False) -> "Dataset":
        """Batches elements of different shapes, padding each component to ``padded_shapes``
        (``None``/-1 dimensions: to the longest element of the batch) with
        ``padding_values`` (default 0, or ``b""`` for strings)."""
        from flowgrad.data.extras import _PaddedBatch  # noqa: PLC0415
        return _PaddedBatch(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def flat_map(self, map_func: Callable) -> "Dataset":
        """The elements of the datasets ``map_func(element)`` returns, one after another."""
        from flowgrad.data.extras import _FlatMap  # noqa: PLC0415
        return _FlatMap(self, map_func)

    def interleave(self, map_func: Callable, cycle_length: int = AUTOTUNE,
                   block_length: int = 1, num_parallel_calls: int | None = None) -> "Dataset":
        """Interleaves the datasets ``map_func`` returns: ``cycle_length`` of them are open at
        a time and ``block_length`` consecutive elements are taken from each in turn."""
        from flowgrad.data.extras import _Interleave  # noqa: PLC0415
        return _Interleave(self, map_func, cycle_length, block_length)

    def window(self, size: int, shift: int | None = None, stride: int = 1,
               drop_remainder: bool = False) -> "Dataset":
        """Windows of ``size`` elements, starting every ``shift`` (default ``size``)
        elements, taking every ``stride``-th one.  Each window (per component) is a
        dataset: use it inside ``flat_map``/``interleave``, e.g.
        ``ds.window(3, 1, drop_remainder=True).flat_map(lambda w: w.batch(3))``."""
        from flowgrad.data.extras import _Window  # noqa: PLC0415
        return _Window(self, size, shift, stride, drop_remainder)

    def apply(self, transformation_func: Callable) -> "Dataset":
        """``transformation_func(self)``, e.g. ``ds.apply(tf.data.experimental.unbatch())``."""
        out = transformation_func(self)
        if not isinstance(out, Dataset):
            raise TypeError(f"`transformation_func` must return a Dataset, got {out!r}.")
        return out

    def unbatch(self) -> "Dataset":
        """Splits every element along its first dimension into several elements."""
        from flowgrad.data.extras import _Unbatch  # noqa: PLC0415
        return _Unbatch(self)

    def reduce(self, initial_state, reduce_func: Callable):
        """A tensor (structure) that folds all elements: ``state = reduce_func(state, el)``
        from ``initial_state``; evaluating it runs the whole pipeline."""
        from flowgrad.data.extras import reduce as _reduce  # noqa: PLC0415
        return _reduce(self, initial_state, reduce_func)

    @staticmethod
    def list_files(file_pattern, shuffle: bool | None = None, seed: int | None = None
                   ) -> "Dataset":
        """File names matching ``file_pattern`` (globs), shuffled unless ``shuffle=False``."""
        from flowgrad.data.extras import list_files as _list_files  # noqa: PLC0415
        return _list_files(file_pattern, shuffle, seed)

    # --- iterators ----------------------------------------------------------------------
    def make_one_shot_iterator(self):
        """An iterator that initializes itself the first time ``get_next`` runs."""
        from flowgrad.data.iterator import Iterator as _It  # noqa: PLC0415
        return _It._one_shot(self)

    def make_initializable_iterator(self, shared_name: str | None = None):
        """An iterator with an ``initializer`` op to (re)start it, e.g. with new feeds."""
        from flowgrad.data.iterator import Iterator as _It  # noqa: PLC0415
        it = _It.from_structure(self.output_types, self.output_shapes, shared_name)
        it._initializer = it.make_initializer(self)
        return it


class _Spec(tuple):
    """A leaf ``(dtype, shape)`` that structure helpers treat as one value."""

    def __new__(cls, dtype, shape):
        return tuple.__new__(cls, (dtype, shape))


def _with_specs(ds: Dataset, structure: Any, flat_spec: list) -> None:
    ds._structure = structure
    ds._flat_spec = [(_dt.as_dtype(d), as_shape(s)) for d, s in flat_spec]


def _copy_specs(ds: Dataset, parent: Dataset) -> None:
    ds._structure, ds._flat_spec = parent._structure, list(parent._flat_spec)


def _pack_specs(structure, flat_spec):
    it = iter(flat_spec)

    def build(s):
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return {k: built[k] for k in s}
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return type(s)(*[build(v) for v in s])
        if isinstance(s, tuple):
            return tuple(build(v) for v in s)
        d, sh = next(it)
        return _Spec(d, sh)
    return build(structure)


def _map_specs(fn, ds):
    """The user-facing structure with ``fn(spec)`` at every leaf."""
    def build(x):
        if isinstance(x, _Spec):
            return fn(x)
        if isinstance(x, dict):
            return {k: build(v) for k, v in x.items()}
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*[build(v) for v in x])
        return tuple(build(v) for v in x)
    return build(ds._spec_tree())


def _structure_of(value) -> Any:
    """``value`` with every leaf replaced by None (the nesting only)."""
    return nest.pack_as(value, [None] * len(nest.flatten(value)))


# --- sources -------------------------------------------------------------------------
def _leaf_value(v):
    """A component given to a source: a graph tensor (captured) or a numpy array."""
    if isinstance(v, Tensor) or hasattr(v, "_as_graph_element"):
        return convert_to_tensor(v)
    if isinstance(v, np.ndarray):
        return _dt.string_array(v) if v.dtype.kind in "OSU" else v
    dt = _dt.infer_dtype(v)
    return np.asarray(v, dtype=dt.np) if dt != _dt.string else _dt.string_array(v)


def _leaf_dtype(v) -> _dt.DType:
    return v.dtype if isinstance(v, Tensor) else _dt.as_dtype(v.dtype)


def _leaf_shape(v) -> TensorShape:
    return v.shape if isinstance(v, Tensor) else TensorShape(v.shape)


class _TensorSlices(Dataset):
    def __init__(self, tensors) -> None:
        nest.refuse_sparse(_structure_of(tensors), "from_tensor_slices")
        leaves = [_leaf_value(v) for v in nest.flatten(tensors)]
        if not leaves:
            raise ValueError("from_tensor_slices needs at least one component.")
        n = None
        for v in leaves:
            sh = _leaf_shape(v)
            if sh.ndims == 0:
                raise ValueError("from_tensor_slices: every component must have at least one "
                                 "dimension to slice along; got a scalar.")
            d0 = sh.as_list()[0] if sh.ndims is not None else None
            if d0 is not None:
                if n is not None and d0 != n:
                    raise ValueError(f"from_tensor_slices: all components must have the same "
                                     f"size in the first dimension, got {n} and {d0}.")
                n = d0
        self._leaves = leaves
        _with_specs(self, _structure_of(tensors),
                    [(_leaf_dtype(v), TensorShape(None) if _leaf_shape(v).ndims is None
                      else _leaf_shape(v)[1:]) for v in leaves])

    def _captured(self):
        return [v for v in self._leaves if isinstance(v, Tensor)]

    def _values(self, env: _Env) -> list[np.ndarray]:
        vals = [env.captured[v] if isinstance(v, Tensor) else v for v in self._leaves]
        sizes = {len(v) if np.ndim(v) else -1 for v in vals}
        if len(sizes) != 1 or -1 in sizes:
            raise errors.InvalidArgumentError(
                None, None, "from_tensor_slices: all components must have the same size in "
                f"the first dimension, got shapes {[np.shape(v) for v in vals]}.")
        return vals

    def _elements(self, env):
        vals = self._values(env)
        for i in range(len(vals[0])):
            yield tuple(v[i] for v in vals)


class _Tensors(_TensorSlices):
    def __init__(self, tensors) -> None:
        leaves = [_leaf_value(v) for v in nest.flatten(tensors)]
        self._leaves = leaves
        _with_specs(self, _structure_of(tensors),
                    [(_leaf_dtype(v), _leaf_shape(v)) for v in leaves])

    def _elements(self, env):
        yield tuple(np.asarray(env.captured[v]) if isinstance(v, Tensor) else v
                    for v in self._leaves)


class _Generator(Dataset):
    def __init__(self, generator, output_types, output_shapes, args) -> None:
        if not callable(generator):
            raise TypeError("from_generator: `generator` must be callable (a function that "
                            "returns an iterator, e.g. a generator function).")
        types = nest.flatten(output_types)
        if output_shapes is None:
            shapes = [TensorShape(None)] * len(types)
        else:
            shapes = [as_shape(s) for s in _flatten_shapes(output_types, output_shapes)]
        self._gen = generator
        self._args = [_leaf_value(a) for a in (args if isinstance(args, list | tuple)
                                               else () if args is None else (args,))]
        _with_specs(self, _structure_of(output_types), list(zip(types, shapes)))

    def _captured(self):
        return [a for a in self._args if isinstance(a, Tensor)]

    def _elements(self, env):
        structure = self._structure
        # the generator gets numpy values, as in TF (tensors evaluated, strings as bytes)
        args = [_generator_arg(env.captured[a] if isinstance(a, Tensor) else a)
                for a in self._args]
        for item in self._gen(*args):
            try:
                leaves = nest.flatten(nest.pack_as(structure, nest.flatten(item)))
            except ValueError:
                raise errors.InvalidArgumentError(
                    None, None, f"from_generator: the generator yielded {item!r}, whose "
                    f"structure does not match output_types {self.output_types}.") from None
            out = []
            for v, (dt, sh) in zip(leaves, self._flat_spec):
                try:
                    a = np.asarray(v, dtype=dt.np) if dt != _dt.string else \
                        _dt.string_array(v)
                except (TypeError, ValueError) as e:
                    raise errors.InvalidArgumentError(
                        None, None, f"from_generator: cannot convert {v!r} to "
                        f"{dt.name}: {e}") from None
                if not sh.is_compatible_with(TensorShape(a.shape)):
                    raise errors.InvalidArgumentError(
                        None, None, f"from_generator: `generator` yielded an element of shape "
                        f"{a.shape} where an element of shape {sh} was expected.")
                out.append(a)
            yield tuple(out)


def _generator_arg(value):
    """An argument as TF hands it to a generator: numpy values, strings as bytes."""
    a = np.asarray(value)
    if a.dtype == object:
        a = np.vectorize(lambda x: x.encode() if isinstance(x, str) else x, otypes=[object])(a)
    return a[()] if a.ndim == 0 else a


def _flatten_shapes(types, shapes) -> list:
    """Shapes are lists/tuples themselves: flatten them along the types' structure."""
    if isinstance(types, dict):
        return [s for k in sorted(types) for s in _flatten_shapes(types[k], shapes[k])]
    if isinstance(types, tuple):
        if len(types) != len(shapes):
            raise ValueError(f"output_shapes {shapes} does not match output_types {types}.")
        return [s for t, sh in zip(types, shapes) for s in _flatten_shapes(t, sh)]
    return [shapes]


def _int_arg(value, what: str):
    """An integer argument: a Python int, or a scalar integer tensor read at run time."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        t = convert_to_tensor(value)
        if not t.dtype.is_integer or t.shape.ndims not in (0, None):
            raise TypeError(f"{what}: expected an integer scalar, got {t}.")
        known = constant_value(t)
        return int(known) if known is not None else t
    return int(value)


def _int_value(env: _Env, v) -> int:
    return int(env.captured[v]) if isinstance(v, Tensor) else v


class _Range(Dataset):
    def __init__(self, *args) -> None:
        if not 1 <= len(args) <= 3:
            raise TypeError("Dataset.range takes 1 to 3 arguments (start, stop, step).")
        self._args = [_int_arg(a, "Dataset.range") for a in args]
        if not any(isinstance(a, Tensor) for a in self._args):
            range(*self._args)              # a step of 0 fails here, at build time
        _with_specs(self, None, [(_dt.int64, TensorShape(()))])

    def _captured(self):
        return [a for a in self._args if isinstance(a, Tensor)]

    def _elements(self, env):
        try:
            r = range(*[_int_value(env, a) for a in self._args])
        except ValueError as e:
            raise errors.InvalidArgumentError(None, None, f"Dataset.range: {e}") from None
        for i in r:
            yield (np.int64(i),)


class _Zip(Dataset):
    def __init__(self, datasets) -> None:
        self._parts = nest.flatten(datasets)
        for d in self._parts:
            if not isinstance(d, Dataset):
                raise TypeError(f"Dataset.zip expects a (nested) tuple of datasets, got {d!r}.")
        self._sizes = [len(d._flat_spec) for d in self._parts]
        windows = [getattr(d, "_yields_datasets", False) for d in self._parts]
        if any(windows):
            if not all(windows):
                raise TypeError("Dataset.zip: cannot zip datasets of windows (window()) with "
                                "datasets of tensors.")
            self._yields_datasets = True
        structure = nest.pack_as(datasets, [d._structure for d in self._parts])
        _with_specs(self, structure, [s for d in self._parts for s in d._flat_spec])

    def _captured(self):
        return [t for d in self._parts for t in d._captured()]

    def _elements(self, env):
        for items in zip(*[d._elements(env) for d in self._parts]):
            yield tuple(v for item in items for v in item)


# the transformations subclass Dataset, so they are imported once it exists
from flowgrad.data import transformations as _t  # noqa: E402
