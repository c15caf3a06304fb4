"""The transformations of ``tf.data.Dataset``: each wraps its parent's generator.

``map``/``filter`` functions are traced once into a private graph whose placeholders stand
for one element, and run there in a session of their own (see :class:`_Traced`).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from flowgrad.data import structure as nest
from flowgrad.data.dataset import (AUTOTUNE, Dataset, _copy_specs, _Env, _int_arg, _int_value,
                                   _structure_of, _with_specs)
from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import Graph, Tensor, get_seed
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.framework.shapes import TensorShape

_Flat = tuple  # one element: a flat tuple of numpy arrays


# --- transformations ------------------------------------------------------------------
class _Unary(Dataset):
    def __init__(self, parent: Dataset) -> None:
        if not isinstance(parent, Dataset):
            raise TypeError(f"expected a Dataset, got {parent!r}")
        if getattr(parent, "_yields_datasets", False):
            # elements of window(): only flat_map/interleave and order-only transformations
            if isinstance(self, _PASS_THROUGH):
                self._yields_datasets = True
            elif not getattr(self, "_consumes_datasets", False):
                raise TypeError(f"{type(self).__name__.strip('_')}: the elements of this "
                                "dataset are datasets (from window()); turn each into "
                                "tensors with flat_map, e.g. "
                                "ds.window(n).flat_map(lambda w: w.batch(n)).")
        self._parent = parent
        _copy_specs(self, parent)

    def _captured(self):
        return self._parent._captured()


class FunctionGraph(Graph):
    """The private graph a dataset function is traced into.  A tensor of another graph that
    the function uses (a placeholder, a constant, a variable's value) is *captured*: it is
    replaced by a placeholder here, and its value, taken when the iterator is initialized,
    is fed to that placeholder on every call."""

    def __init__(self) -> None:
        super().__init__()
        self.captures: dict[Tensor, Tensor] = {}    # outer tensor -> placeholder

    def capture(self, t: Tensor) -> Tensor:
        ph = self.captures.get(t)
        if ph is None:
            with self.as_default(), self.control_dependencies(None), self.name_scope(None):
                ph = _placeholder(t.dtype, t.shape, "captured")
            self.captures[t] = ph
        return ph


class _Traced:
    """A user function traced once into a private graph; runs elements through it."""

    def __init__(self, fn: Callable, ds: Dataset, what: str) -> None:
        self.graph = FunctionGraph()
        self.what = what
        with self.graph.as_default():
            self.inputs = [_placeholder(dt, sh, f"arg{i}")
                           for i, (dt, sh) in enumerate(ds._flat_spec)]
            args = _pack_specs_values(ds._structure, self.inputs)
            result = fn(*args) if isinstance(args, tuple) and not hasattr(args, "_fields") \
                else fn(args)
            if isinstance(result, list):
                result = convert_to_tensor(result)
            leaves = [convert_to_tensor(v) for v in nest.flatten(result)]
        self.structure = _structure_of(result)
        self.outputs = leaves

    @property
    def captured(self) -> list[Tensor]:
        """The outer tensors the function uses (inputs of the iterator's initializer)."""
        return list(self.graph.captures)

    def callable_for(self, env: _Env, key) -> Callable:
        from flowgrad.runtime.session import Session  # noqa: PLC0415

        def make():
            sess = Session(graph=self.graph)
            return sess.make_callable(self.outputs, feed_list=self.inputs
                                      + list(self.graph.captures.values()))
        call = env.state(("dataset-fn", key), make)
        if not self.graph.captures:
            return call
        extra = [env.captured[t] for t in self.graph.captures]
        return lambda *el: call(*el, *extra)


def _placeholder(dtype, shape, name):
    from flowgrad.ops.array_ops import placeholder  # noqa: PLC0415
    return placeholder(dtype, shape, name=name)


def _pack_specs_values(structure, leaves):
    if structure is None:
        return (leaves[0],)
    packed = nest.pack_as(structure, leaves)
    return packed


class _Map(_Unary):
    def __init__(self, parent, fn, num_parallel_calls) -> None:
        super().__init__(parent)
        self._fn = _Traced(fn, parent, "map")
        _with_specs(self, self._fn.structure,
                    [(t.dtype, t.shape) for t in self._fn.outputs])
        self._workers = 1 if not num_parallel_calls or num_parallel_calls == 1 else \
            (4 if num_parallel_calls == AUTOTUNE else int(num_parallel_calls))

    def _captured(self):
        return self._parent._captured() + self._fn.captured

    def _elements(self, env):
        call = self._fn.callable_for(env, id(self))
        source = self._parent._elements(env)
        if self._workers <= 1:
            for el in source:
                yield tuple(call(*el))
            return
        with ThreadPoolExecutor(self._workers) as pool:
            while True:
                chunk = [el for _, el in zip(range(self._workers * 4), source)]
                if not chunk:
                    return
                for out in pool.map(lambda el: tuple(call(*el)), chunk):
                    yield out


class _Filter(_Unary):
    def __init__(self, parent, predicate) -> None:
        super().__init__(parent)
        self._fn = _Traced(predicate, parent, "filter")
        outs = self._fn.outputs
        if len(outs) != 1 or outs[0].dtype != _dt.bool_ or outs[0].shape.ndims not in (0, None):
            raise ValueError("Dataset.filter: the predicate must return a scalar tf.bool "
                             f"tensor, got {outs}.")

    def _captured(self):
        return self._parent._captured() + self._fn.captured

    def _elements(self, env):
        call = self._fn.callable_for(env, id(self))
        for el in self._parent._elements(env):
            if bool(call(*el)[0]):
                yield el


class _Shuffle(_Unary):
    def __init__(self, parent, buffer_size, seed, reshuffle) -> None:
        super().__init__(parent)
        buffer_size = int(buffer_size)
        if buffer_size <= 0:
            raise ValueError(f"shuffle: buffer_size must be positive, got {buffer_size}.")
        self._buffer = buffer_size
        self._seeds = get_seed(seed)
        self._reshuffle = reshuffle

    def _rng(self, env) -> np.random.Generator:
        gs, s = self._seeds
        if gs is None and s is None:
            return np.random.default_rng()
        # a seeded pipeline repeats its orders in every new session; each pass (epoch)
        # draws a different order when reshuffle_each_iteration is on
        counter = env.state(("shuffle-pass", id(self)), lambda: [0])
        epoch = counter[0]
        if self._reshuffle:
            counter[0] += 1
        return np.random.default_rng([gs, s, epoch, 0x5EED])

    def _elements(self, env):
        rng = self._rng(env)
        buf: list = []
        for el in self._parent._elements(env):
            if len(buf) < self._buffer:
                buf.append(el)
                continue
            i = int(rng.integers(len(buf)))
            out, buf[i] = buf[i], el
            yield out
        while buf:
            i = int(rng.integers(len(buf)))
            buf[i], buf[-1] = buf[-1], buf[i]
            yield buf.pop()


class _Batch(_Unary):
    def __init__(self, parent, batch_size, drop_remainder) -> None:
        super().__init__(parent)
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"batch: batch_size must be positive, got {batch_size}.")
        self._n, self._drop = batch_size, bool(drop_remainder)
        lead = batch_size if drop_remainder else None
        self._flat_spec = [(d, TensorShape([lead]).concatenate(s) if s.ndims is not None
                            else TensorShape(None)) for d, s in parent._flat_spec]
        # SparseTensor components batch as TF's do: a leading index column, the values
        # concatenated, the dense shape the largest of the batch's
        self._sparse = nest.sparse_starts(parent._structure)
        for i in self._sparse:
            ishape = parent._flat_spec[i][1]
            rank = ishape.as_list()[1] if ishape.ndims == 2 else None
            rank = None if rank is None else rank + 1
            self._flat_spec[i] = (_dt.int64, TensorShape([None, rank]))
            self._flat_spec[i + 1] = (parent._flat_spec[i + 1][0], TensorShape([None]))
            self._flat_spec[i + 2] = (_dt.int64, TensorShape([rank]))

    def _elements(self, env):
        rows: list = []
        for el in self._parent._elements(env):
            rows.append(el)
            if len(rows) == self._n:
                yield _stack(rows, self._sparse)
                rows = []
        if rows and not self._drop:
            yield _stack(rows, self._sparse)


def _stack(rows, sparse=()) -> _Flat:
    cols = list(zip(*rows))
    out: list = [None] * len(cols)
    for i in sparse:
        out[i] = np.concatenate([np.concatenate([np.full((len(ix), 1), b, np.int64),
                                                 np.asarray(ix, np.int64)],
                                                axis=1) for b, ix in enumerate(cols[i])])
        out[i + 1] = np.concatenate([np.asarray(v).reshape(-1) for v in cols[i + 1]])
        shapes = np.stack([np.asarray(d, np.int64) for d in cols[i + 2]])
        out[i + 2] = np.concatenate([[len(rows)], shapes.max(axis=0)]).astype(np.int64)
    try:
        # bytes go in as object scalars: numpy's fixed-width bytes would drop trailing NULs
        return tuple(np.stack([np.asarray(c, dtype=object) if isinstance(c, bytes | str) else c
                               for c in col]) if o is None else o
                     for col, o in zip(cols, out))
    except ValueError as e:
        raise errors.InvalidArgumentError(
            None, None, f"Cannot batch tensors with different shapes: {e}. Make the "
            "elements the same shape (e.g. with map) before batch().") from None


class _Counted(_Unary):
    """A transformation with an integer ``count``: a Python int, or a scalar tensor whose
    value is read when the iterator is initialized (or, in a flat_map function, per
    element)."""

    def __init__(self, parent, count) -> None:
        super().__init__(parent)
        self._count = _int_arg(count, type(self).__name__.strip("_").lower())

    def _captured(self):
        extra = [self._count] if isinstance(self._count, Tensor) else []
        return self._parent._captured() + extra


class _Repeat(_Counted):
    def __init__(self, parent, count) -> None:
        super().__init__(parent, -1 if count is None else count)

    def _elements(self, env):
        count, i = _int_value(env, self._count), 0
        while count < 0 or i < count:
            empty = True
            for el in self._parent._elements(env):
                empty = False
                yield el
            if empty:
                return
            i += 1


class _Take(_Counted):
    def _elements(self, env):
        count = _int_value(env, self._count)
        if count < 0:
            yield from self._parent._elements(env)
            return
        if count == 0:
            return
        for i, el in enumerate(self._parent._elements(env)):
            yield el
            if i + 1 >= count:
                return


class _Skip(_Counted):
    def _elements(self, env):
        count = _int_value(env, self._count)
        if count < 0:
            for _ in self._parent._elements(env):
                pass
            return
        for i, el in enumerate(self._parent._elements(env)):
            if i >= count:
                yield el


class _Shard(_Unary):
    def __init__(self, parent, num_shards, index) -> None:
        super().__init__(parent)
        num_shards, index = int(num_shards), int(index)
        if num_shards <= 0:
            raise ValueError(f"shard: num_shards must be positive, got {num_shards}.")
        if not 0 <= index < num_shards:
            raise ValueError(f"shard: index must be in [0, {num_shards}), got {index}.")
        self._n, self._i = num_shards, index

    def _elements(self, env):
        for i, el in enumerate(self._parent._elements(env)):
            if i % self._n == self._i:
                yield el


class _Concatenate(_Unary):
    def __init__(self, parent, other) -> None:
        super().__init__(parent)
        if not isinstance(other, Dataset):
            raise TypeError(f"concatenate expects a Dataset, got {other!r}")
        if [d for d, _ in parent._flat_spec] != [d for d, _ in other._flat_spec] or \
                not nest.same_layout(parent._structure, other._structure):
            raise TypeError(f"concatenate: the datasets have different types or structure: "
                            f"{parent.output_types} and {other.output_types}.")
        self._other = other
        self._flat_spec = [(d, _common_shape(a, b))
                           for (d, a), (_, b) in zip(parent._flat_spec, other._flat_spec)]

    def _captured(self):
        return self._parent._captured() + self._other._captured()

    def _elements(self, env):
        yield from self._parent._elements(env)
        yield from self._other._elements(env)


def _common_shape(a: TensorShape, b: TensorShape) -> TensorShape:
    """The most specific shape that both ``a`` and ``b`` have."""
    if a.ndims is None or b.ndims is None or a.ndims != b.ndims:
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.as_list(), b.as_list())])


class _Cache(_Unary):
    def _elements(self, env):
        store = env.state(("cache", id(self)), lambda: {"done": False, "items": []})
        if store["done"]:
            yield from store["items"]
            return
        items = []
        for el in self._parent._elements(env):
            items.append(el)
            yield el
        store["items"], store["done"] = items, True


_END = object()


class _Prefetch(_Unary):
    def __init__(self, parent, buffer_size) -> None:
        super().__init__(parent)
        n = int(buffer_size)
        self._size = 2 if n == AUTOTUNE else n

    def _elements(self, env):
        if self._size == 0:
            yield from self._parent._elements(env)
            return
        q: queue.Queue = queue.Queue(self._size)
        stop = threading.Event()
        source = self._parent._elements(env)

        def produce():
            try:
                for el in source:
                    while not stop.is_set():
                        try:
                            q.put(el, timeout=0.05)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                item = _END
            except BaseException as e:  # noqa: BLE001 - handed to the consumer
                item = e
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue

        worker = threading.Thread(target=produce, name="flowgrad-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()


# transformations that only reorder, drop or repeat elements: they also take window()'s
_PASS_THROUGH = (_Shuffle, _Repeat, _Take, _Skip, _Shard, _Cache, _Prefetch)
