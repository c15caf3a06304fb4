"""More of ``tf.data``: ``padded_batch``, ``flat_map``/``interleave``, ``unbatch``, ``reduce``,
``TextLineDataset``, ``Dataset.list_files`` and ``tf.data.experimental``'s transformations.

``flat_map``/``interleave`` functions return a Dataset.  As with ``map``, the function is
traced once into a private graph whose placeholders stand for one input element; the tensors
the returned dataset captures (``Dataset.from_tensors(x)``) are evaluated there for every
input element, and the inner dataset then runs with those values.
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from collections import deque
from typing import Any, Callable

import numpy as np

from flowgrad.data import structure as nest
from flowgrad.data.dataset import (Dataset, _Env, _flatten_shapes, _leaf_shape, _leaf_value,
                                   _structure_of, _with_specs)
from flowgrad.data.transformations import (FunctionGraph, _common_shape, _pack_specs_values,
                                           _placeholder, _Shuffle, _Unary)
from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import Tensor
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_value,
                                         convert_to_tensor, get_opdef, make_op, op)
from flowgrad.framework.shapes import TensorShape, as_shape
from flowgrad.runtime.placement import register_host_only


# --- padded_batch -----------------------------------------------------------------------------
class _PaddedBatch(_Unary):
    def __init__(self, parent, batch_size, padded_shapes, padding_values, drop_remainder):
        super().__init__(parent)
        nest.refuse_sparse(parent._structure, "padded_batch")
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"padded_batch: batch_size must be positive, got {batch_size}.")
        self._n, self._drop = batch_size, bool(drop_remainder)
        types = parent.output_types
        if padded_shapes is None:
            raise ValueError("padded_batch: padded_shapes is required (use None or -1 for "
                             "dimensions padded to the longest element of each batch).")
        try:
            shapes = [as_shape([None if d == -1 else d for d in s] if isinstance(s, list | tuple)
                               else s) for s in _flatten_shapes(types, padded_shapes)]
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"padded_batch: padded_shapes {padded_shapes} does not match the "
                             f"structure of the elements {parent.output_shapes}: {e}") from None
        for i, ((dt, have), want) in enumerate(zip(parent._flat_spec, shapes)):
            if want.ndims is None:
                raise ValueError(f"padded_batch: padded_shapes component {i} must have a known "
                                 "rank, e.g. [None] or [10, None].")
            if have.ndims is not None and have.ndims != want.ndims:
                raise ValueError(f"padded_batch: padded_shapes component {i} is {want}, of rank "
                                 f"{want.ndims}, but the elements have shape {have} (rank "
                                 f"{have.ndims}).")
            if have.ndims is not None:
                for a, b in zip(have.as_list(), want.as_list()):
                    if a is not None and b is not None and a > b:
                        raise ValueError(f"padded_batch: padded_shapes component {i} is {want}, "
                                         f"smaller than the elements' shape {have}.")
        self._shapes = shapes
        if padding_values is None:
            pads = [b"" if dt == _dt.string else 0 for dt, _ in parent._flat_spec]
        else:
            pads = nest.flatten(padding_values)
            if len(pads) != len(shapes):
                raise ValueError(f"padded_batch: padding_values {padding_values} does not match "
                                 f"the structure of the elements {types}.")
        self._pads = []
        for i, (p, (dt, _)) in enumerate(zip(pads, parent._flat_spec)):
            v = _leaf_value(p)
            if _leaf_shape(v).ndims not in (0, None):
                raise ValueError(f"padded_batch: padding value {i} must be a scalar, got {p!r}.")
            if isinstance(v, Tensor):
                known = constant_value(v)
                v = v if known is None else np.asarray(known)
            if isinstance(v, Tensor):
                if v.dtype != dt:
                    raise TypeError(f"padded_batch: padding value {i} has dtype {v.dtype.name}"
                                    f" but the component has dtype {dt.name}.")
            elif dt != _dt.string and v.dtype == object or dt == _dt.string and v.dtype != object:
                raise TypeError(f"padded_batch: padding value {i} ({p!r}) does not match the "
                                f"component's dtype {dt.name}.")
            self._pads.append(v)
        lead = batch_size if drop_remainder else None
        self._flat_spec = [(d, TensorShape([lead]).concatenate(s))
                           for (d, _), s in zip(parent._flat_spec, shapes)]

    def _captured(self):
        return self._parent._captured() + [p for p in self._pads if isinstance(p, Tensor)]

    def _elements(self, env):
        pads = [env.captured[p] if isinstance(p, Tensor) else p for p in self._pads]
        rows: list = []
        for el in self._parent._elements(env):
            rows.append(el)
            if len(rows) == self._n:
                yield self._pad(rows, pads)
                rows = []
        if rows and not self._drop:
            yield self._pad(rows, pads)

    def _pad(self, rows, pads) -> tuple:
        out = []
        for i, (col, want, pad, (dt, _)) in enumerate(zip(zip(*rows), self._shapes, pads,
                                                           self._flat_spec)):
            col = [np.asarray(c) for c in col]
            if any(c.ndim != want.ndims for c in col):
                raise errors.InvalidArgumentError(
                    None, None, f"padded_batch: component {i} has elements of shapes "
                    f"{[c.shape for c in col]}, not of rank {want.ndims} like padded_shapes "
                    f"{want}.")
            target = []
            for axis, d in enumerate(want.as_list()):
                longest = max(c.shape[axis] for c in col)
                if d is not None and longest > d:
                    raise errors.InvalidArgumentError(
                        None, None, f"padded_batch: Attempted to pad to a smaller size than "
                        f"the input element: component {i} has size {longest} in dimension "
                        f"{axis}, padded_shapes gives {d}.")
                target.append(longest if d is None else d)
            batch = np.empty([len(col)] + target, dtype=col[0].dtype)
            if dt == _dt.string and isinstance(pad, np.ndarray) and pad.ndim == 0:
                pad = pad.item()
            batch[...] = np.asarray(pad, dtype=batch.dtype) if dt != _dt.string else pad
            for j, c in enumerate(col):
                batch[(j,) + tuple(slice(0, n) for n in c.shape)] = c
            out.append(batch)
        return tuple(out)


# --- window -------------------------------------------------------------------------------------
class _Window(_Unary):
    """Elements are windows: per component, a list of ``size`` (or fewer) input values."""

    _yields_datasets = True

    def __init__(self, parent, size, shift, stride, drop_remainder) -> None:
        super().__init__(parent)
        nest.refuse_sparse(parent._structure, "window")
        self._size = int(size)
        self._shift = self._size if shift is None else int(shift)
        self._stride = int(stride)
        for what, v in (("size", self._size), ("shift", self._shift),
                        ("stride", self._stride)):
            if v <= 0:
                raise ValueError(f"window: {what} must be positive, got {v}.")
        self._drop = bool(drop_remainder)

    def _elements(self, env):
        source, live, buf = self._parent._elements(env), True, deque()
        target = (self._size - 1) * self._stride + 1
        while True:
            while live and len(buf) < target:
                try:
                    buf.append(next(source))
                except StopIteration:
                    live = False
            if not buf or (self._drop and len(buf) < target):
                return
            window = [buf[i] for i in range(0, len(buf), self._stride)]
            yield tuple(list(col) for col in zip(*window))
            if self._shift >= len(buf):
                skip = self._shift - len(buf)
                buf.clear()
                while live and skip > 0:
                    try:
                        next(source)
                    except StopIteration:
                        live = False
                    skip -= 1
            else:
                for _ in range(self._shift):
                    buf.popleft()


class _WindowComponent(Dataset):
    """One component of a window, inside a flat_map/interleave function: a finite dataset
    whose values the function's caller provides for each window."""

    def __init__(self, dtype, shape) -> None:
        _with_specs(self, None, [(dtype, shape)])

    def _elements(self, env):
        for v in env.captured[self]:
            yield (v,)


# --- datasets returned by functions (flat_map, interleave) ------------------------------------
class _TracedDataset:
    """A function from one element to a Dataset, traced once into a private graph."""

    def __init__(self, fn: Callable, ds: Dataset, what: str) -> None:
        self.graph = FunctionGraph()
        self.what = what
        self.windows: list[_WindowComponent] = []
        with self.graph.as_default():
            if getattr(ds, "_yields_datasets", False):
                self.windows = [_WindowComponent(dt, sh) for dt, sh in ds._flat_spec]
                self.inputs = []
                args = _pack_specs_values(ds._structure, self.windows)
            else:
                self.inputs = [_placeholder(dt, sh, f"arg{i}")
                               for i, (dt, sh) in enumerate(ds._flat_spec)]
                args = _pack_specs_values(ds._structure, self.inputs)
            result = fn(*args) if isinstance(args, tuple) and not hasattr(args, "_fields") \
                else fn(args)
        if not isinstance(result, Dataset):
            raise TypeError(f"Dataset.{what}: `map_func` must return a Dataset, got {result!r}.")
        self.dataset = result
        inner = result._captured()
        # tensors of the private graph are evaluated per element; the inner dataset may also
        # read tensors of other graphs directly (from_tensor_slices(outer_tensor))
        self.private = [t for t in inner if t.graph is self.graph]
        self.outer = [t for t in inner if t.graph is not self.graph]

    @property
    def captured(self) -> list[Tensor]:
        """Outer tensors that the function or its dataset uses."""
        return list(self.graph.captures) + self.outer

    def elements_for(self, env: _Env, key, element: tuple):
        """The inner dataset's elements for one input element."""
        values: list = []
        tensors = () if self.windows else element
        if self.private:
            def make():
                from flowgrad.runtime.session import Session  # noqa: PLC0415
                return Session(graph=self.graph).make_callable(
                    self.private, feed_list=self.inputs + list(self.graph.captures.values()))
            extra = [env.captured[t] for t in self.graph.captures]
            values = env.state(("dataset-fn", key), make)(*tensors, *extra)
        captured = dict(zip(self.private, values))
        captured.update((t, env.captured[t]) for t in self.outer)
        captured.update(zip(self.windows, element if self.windows else ()))
        return self.dataset._elements(_Env(env.session, captured))


def _inner_specs(ds: Dataset, fn: _TracedDataset) -> None:
    _with_specs(ds, fn.dataset._structure, list(fn.dataset._flat_spec))


class _FlatMap(_Unary):
    _consumes_datasets = True

    def __init__(self, parent, map_func) -> None:
        super().__init__(parent)
        self._fn = _TracedDataset(map_func, parent, "flat_map")
        _inner_specs(self, self._fn)

    def _captured(self):
        return self._parent._captured() + self._fn.captured

    def _elements(self, env):
        for el in self._parent._elements(env):
            yield from self._fn.elements_for(env, id(self), el)


class _Interleave(_Unary):
    _consumes_datasets = True

    def __init__(self, parent, map_func, cycle_length, block_length) -> None:
        super().__init__(parent)
        self._fn = _TracedDataset(map_func, parent, "interleave")
        _inner_specs(self, self._fn)
        cycle_length = int(cycle_length)
        if cycle_length == -1:             # AUTOTUNE: the number of CPU cores, as in TF
            cycle_length = os.cpu_count() or 1
        if cycle_length <= 0:
            raise ValueError(f"interleave: cycle_length must be positive (or AUTOTUNE), got "
                             f"{cycle_length}.")
        if int(block_length) <= 0:
            raise ValueError(f"interleave: block_length must be positive, got {block_length}.")
        self._cycle, self._block = cycle_length, int(block_length)

    def _captured(self):
        return self._parent._captured() + self._fn.captured

    def _elements(self, env):
        # TF's InterleaveDataset: visit the cycle's slots in turn, taking block_length
        # elements from each; an exhausted slot is refilled from the next input element.
        source = self._parent._elements(env)
        slots: list = [None] * self._cycle
        open_, end_of_input, i, taken = 0, False, 0, 0
        while not end_of_input or open_ > 0:
            if slots[i] is not None:
                try:
                    el = next(slots[i])
                except StopIteration:
                    slots[i] = None
                    open_ -= 1
                    i, taken = (i + 1) % self._cycle, 0
                    continue
                taken += 1
                if taken == self._block:
                    i, taken = (i + 1) % self._cycle, 0
                yield el
            elif not end_of_input:
                try:
                    arg = next(source)
                except StopIteration:
                    end_of_input = True
                    continue
                slots[i] = iter(self._fn.elements_for(env, id(self), arg))
                open_ += 1
            else:
                i, taken = (i + 1) % self._cycle, 0


# --- unbatch ---------------------------------------------------------------------------------
class _Unbatch(_Unary):
    def __init__(self, parent) -> None:
        super().__init__(parent)
        nest.refuse_sparse(parent._structure, "unbatch")
        for d, s in parent._flat_spec:
            if s.ndims == 0:
                raise ValueError(f"unbatch: every component needs a leading (batch) dimension; "
                                 f"the elements have shapes {parent.output_shapes}.")
        self._flat_spec = [(d, s[1:] if s.ndims is not None else TensorShape(None))
                           for d, s in parent._flat_spec]

    def _elements(self, env):
        for el in self._parent._elements(env):
            sizes = {np.shape(c)[0] if np.ndim(c) else None for c in el}
            if len(sizes) != 1 or None in sizes:
                raise errors.InvalidArgumentError(
                    None, None, f"unbatch: the components of an element must have the same "
                    f"size in their first dimension, got shapes {[np.shape(c) for c in el]}.")
            for j in range(sizes.pop()):
                yield tuple(c[j] for c in el)


# --- map_and_batch, shuffle_and_repeat ----------------------------------------------------------
def map_and_batch(map_func, batch_size, num_parallel_batches=None, drop_remainder=False,
                  num_parallel_calls=None) -> Callable[[Dataset], Dataset]:
    """``tf.data.experimental.map_and_batch``: ``map`` then ``batch``, for ``apply``."""
    if num_parallel_batches is not None and num_parallel_calls is not None:
        raise ValueError("map_and_batch: give num_parallel_batches or num_parallel_calls, "
                         "not both.")
    calls = num_parallel_calls if num_parallel_batches is None else \
        int(num_parallel_batches) * int(batch_size)

    def transform(ds: Dataset) -> Dataset:
        return ds.map(map_func, num_parallel_calls=calls).batch(batch_size, drop_remainder)
    return transform


def shuffle_and_repeat(buffer_size, count=None, seed=None) -> Callable[[Dataset], Dataset]:
    """``tf.data.experimental.shuffle_and_repeat``: each repetition in a fresh order."""
    def transform(ds: Dataset) -> Dataset:
        return ds.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True).repeat(count)
    return transform


def unbatch() -> Callable[[Dataset], Dataset]:
    """``tf.data.experimental.unbatch()``, for ``Dataset.apply``."""
    return lambda ds: ds.unbatch()


def parallel_interleave(map_func, cycle_length, block_length=1, sloppy=False,
                        buffer_output_elements=None, prefetch_input_elements=None
                        ) -> Callable[[Dataset], Dataset]:
    """``tf.data.experimental.parallel_interleave``: ``interleave``'s order (the elements
    are produced in order; ``sloppy`` changes nothing here)."""
    return lambda ds: ds.interleave(map_func, cycle_length, block_length)


# --- sources: TextLineDataset, list_files ---------------------------------------------------------
def _string_leaves(value, what: str) -> list:
    """File names given as a string, a list of strings or a string tensor."""
    if isinstance(value, Tensor) or hasattr(value, "_as_graph_element"):
        t = convert_to_tensor(value)
        if t.dtype != _dt.string:
            raise TypeError(f"{what}: expected a string tensor, got {t.dtype.name}.")
        return [t]
    items = [value] if isinstance(value, str | bytes | os.PathLike) else list(value)
    for v in items:
        if not isinstance(v, str | bytes | os.PathLike):
            raise TypeError(f"{what}: expected file names (strings), got {v!r}.")
    return [os.fsdecode(v) for v in items]


def _names(leaves, env: _Env) -> list[str]:
    out = []
    for v in leaves:
        if isinstance(v, Tensor):
            out.extend(os.fsdecode(x) for x in np.asarray(env.captured[v]).reshape(-1))
        else:
            out.append(v)
    return out


class TextLineDataset(Dataset):
    """``tf.data.TextLineDataset``: the lines of text files, without their line endings, as
    ``tf.string`` scalars (bytes), file after file."""

    def __init__(self, filenames, compression_type=None, buffer_size=None) -> None:
        self._files = _string_leaves(filenames, "TextLineDataset")
        ct = (compression_type or "").upper()
        if ct not in ("", "ZLIB", "GZIP"):
            raise ValueError(f"TextLineDataset: compression_type must be None, '', 'ZLIB' or "
                             f"'GZIP', got {compression_type!r}.")
        self._compression = ct
        _with_specs(self, None, [(_dt.string, TensorShape(()))])

    def _captured(self):
        return [v for v in self._files if isinstance(v, Tensor)]

    def _read(self, path: str) -> bytes:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise errors.NotFoundError(None, None, f"{path}; No such file or directory") \
                from None
        try:
            if self._compression == "GZIP":
                return gzip.decompress(data)
            if self._compression == "ZLIB":
                return zlib.decompress(data)
        except (OSError, zlib.error) as e:
            raise errors.DataLossError(None, None, f"TextLineDataset: cannot decompress {path} "
                                       f"as {self._compression}: {e}") from None
        return data

    def _elements(self, env):
        for path in _names(self._files, env):
            for line in self._read(path).splitlines():
                yield (np.array(line.rstrip(b"\r"), dtype=object),)


class _ListFiles(Dataset):
    def __init__(self, patterns) -> None:
        self._patterns = _string_leaves(patterns, "Dataset.list_files")
        _with_specs(self, None, [(_dt.string, TensorShape(()))])

    def _captured(self):
        return [v for v in self._patterns if isinstance(v, Tensor)]

    def _elements(self, env):
        patterns = _names(self._patterns, env)
        files = sorted({f for p in patterns for f in glob.glob(p)})
        if not files:
            raise errors.InvalidArgumentError(
                None, None, f"Expect at least one file to match the patterns {patterns}; none "
                "does.")
        for f in files:
            yield (np.array(f.encode(), dtype=object),)


def list_files(file_pattern, shuffle=None, seed=None) -> Dataset:
    """``Dataset.list_files``: the file names matching ``file_pattern`` (a glob, or a list
    of them), sorted, then shuffled (``shuffle`` defaults to True; each pass in a new
    order)."""
    ds = _ListFiles(file_pattern)
    if shuffle is None or shuffle:
        ds = _Shuffle(ds, 2**31 - 1, seed, True)
    return ds


# --- Dataset.reduce ----------------------------------------------------------------------------
class _Reducer:
    """``reduce_func(state, element)`` traced once into a private graph."""

    def __init__(self, fn, ds: Dataset, state_structure, state_spec: list) -> None:
        self.graph = FunctionGraph()
        with self.graph.as_default():
            self.state_in = [_placeholder(dt, sh, f"state{i}")
                             for i, (dt, sh) in enumerate(state_spec)]
            self.inputs = [_placeholder(dt, sh, f"arg{i}")
                           for i, (dt, sh) in enumerate(ds._flat_spec)]
            state = nest.pack_as(state_structure, self.state_in)
            element = _pack_specs_values(ds._structure, self.inputs)
            if ds._structure is None:
                element = element[0]
            result = fn(state, element)
            leaves = [convert_to_tensor(v) for v in nest.flatten(result)]
        if not nest.same_layout(_structure_of(result), state_structure) or \
                len(leaves) != len(state_spec):
            raise TypeError(f"Dataset.reduce: reduce_func must return the structure of "
                            f"initial_state ({state_structure}), got {result}.")
        for i, (t, (dt, _)) in enumerate(zip(leaves, state_spec)):
            if t.dtype != dt:
                raise TypeError(f"Dataset.reduce: component {i} of the state has dtype "
                                f"{dt.name} in initial_state but reduce_func returns "
                                f"{t.dtype.name}.")
        self.outputs = leaves

    def callable_for(self, env: _Env, key):
        def make():
            from flowgrad.runtime.session import Session  # noqa: PLC0415
            return Session(graph=self.graph).make_callable(
                self.outputs, feed_list=self.state_in + self.inputs
                + list(self.graph.captures.values()))
        call = env.state(("dataset-reduce", key), make)
        extra = [env.captured[t] for t in self.graph.captures]
        return lambda *args: call(*args, *extra)


def _reduce_shape(node: NodeSpec):
    return [(s, d) for d, s in zip(node.attrs["output_types"], node.attrs["output_shapes"])]


@op("ReduceDataset", shape=_reduce_shape, stateful=True)
def _reduce_dataset(xp, *inputs, dataset, reducer, n_captured, output_types, output_shapes,
                    ctx):
    captured = dict(zip(dataset._captured() + list(reducer.graph.captures),
                        inputs[:n_captured]))
    state = [np.asarray(v) for v in inputs[n_captured:]]
    env = _Env(ctx.session, captured)
    call = reducer.callable_for(env, id(reducer))
    for el in dataset._elements(env):
        state = [np.asarray(v) for v in call(*state, *el)]
    return tuple(state)


NotDifferentiable("ReduceDataset")
register_host_only("ReduceDataset")


def _same_shape(a: TensorShape, b: TensorShape) -> bool:
    return a.ndims == b.ndims and (a.ndims is None or a.as_list() == b.as_list())


def reduce(ds: Dataset, initial_state, reduce_func) -> Any:
    """``Dataset.reduce``: folds every element into a state; returns the final state."""
    if getattr(ds, "_yields_datasets", False):
        raise TypeError("Dataset.reduce: the elements of this dataset are datasets (from "
                        "window()); turn each into tensors with flat_map first.")
    leaves = [convert_to_tensor(v) for v in nest.flatten(initial_state)]
    structure = _structure_of(initial_state)
    spec = [(t.dtype, t.shape) for t in leaves]
    reducer = _Reducer(reduce_func, ds, structure, spec)
    # the state keeps the shape that both the initial value and every step agree on
    spec = [(d, _common_shape(s, t.shape)) for (d, s), t in zip(spec, reducer.outputs)]
    if not all(_same_shape(a.shape, s) for a, (_, s) in zip(reducer.state_in, spec)):
        reducer = _Reducer(reduce_func, ds, structure, spec)   # traced again, relaxed
    captured = ds._captured() + list(reducer.graph.captures)
    outs = make_op(get_opdef("ReduceDataset"), captured + leaves,
                   {"dataset": ds, "reducer": reducer, "n_captured": len(captured),
                    "output_types": tuple(d for d, _ in spec),
                    "output_shapes": tuple(s for _, s in spec)}, "ReduceDataset")
    outs = list(outs) if isinstance(outs, list | tuple) else [outs]
    return nest.pack_as(structure, outs)


__all__ = ["TextLineDataset", "list_files", "map_and_batch", "parallel_interleave",
           "shuffle_and_repeat", "unbatch"]
