"""TF1's queues (``tf.FIFOQueue``, ``tf.RandomShuffleQueue``, ``tf.PaddingFIFOQueue``,
``tf.PriorityQueue``).

A queue's contents are session state, kept in the session's resources under the queue's key
(as lookup tables' are). Its ops block: a dequeue waits for enough elements, an enqueue for
room; both wait on the queue's own condition variable, never on a session-wide lock, so
other threads keep running the session meanwhile (queue runners feed a queue from threads
while the main thread dequeues). A run's ``RunOptions(timeout_in_ms=...)`` bounds the wait
(DeadlineExceededError); a closed queue ends dequeues with OutOfRangeError once it has too
few elements left, and refuses enqueues (CancelledError).
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
import time

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import get_default_graph, get_seed, name_scope
from flowgrad.framework.registry import (NodeSpec, NotDifferentiable, constant_value,
                                         convert_to_tensor, op)
from flowgrad.framework.shapes import TensorShape
from flowgrad.runtime.placement import register_host_only

_POLL_S = 0.05      # how often a blocked op looks whether its session was closed


class _PriorityItems:
    """A priority queue's elements: ``append``/``popleft``/``len`` as a deque's, but
    ``popleft`` takes the element of smallest priority (component 0); ties leave in the
    order they came."""

    def __init__(self) -> None:
        self._heap: list = []
        self._count = itertools.count()

    def append(self, element) -> None:
        heapq.heappush(self._heap, (int(element[0]), next(self._count), element))

    def popleft(self):
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return len(self._heap)


class _QueueState:
    """One queue's elements (tuples of arrays, one per component) in one session."""

    def __init__(self, spec) -> None:
        _, kind, capacity, dtypes, shapes, min_after, seed = spec[:7]
        self.kind, self.capacity, self.min_after = kind, capacity, min_after
        self.dtypes = [np.dtype(object) if d == "string" else _dt.as_dtype(d).np
                       for d in dtypes]
        self.shapes = shapes
        self.items = _PriorityItems() if kind == "priority" else collections.deque()
        self.closed = False
        self.cancelled = False
        self.cond = threading.Condition()
        self.rng = np.random.default_rng(None if seed is None else [seed[0], seed[1], 0x0E0E])


def _state(ctx, spec) -> _QueueState:
    res = ctx.resources
    key = ("queue", spec[0])
    st = res.get(key)
    if st is None:
        st = res.setdefault(key, _QueueState(spec))
    return st


def _wait(ctx, st: _QueueState, ready, what: str) -> None:
    """Waits (holding ``st.cond``) until ``ready()``; the run's timeout and the session's
    closing end the wait with an error."""
    session = ctx.session
    timeout = session._run.timeout_ms
    deadline = time.monotonic() + timeout / 1000.0 if timeout > 0 else None
    while not ready():
        if session._closed:
            raise errors.CancelledError(None, ctx.op, f"{what}: the session was closed.")
        wait = _POLL_S
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.DeadlineExceededError(
                    None, ctx.op, f"{what}: timed out after {timeout} ms "
                    "(RunOptions.timeout_in_ms).")
            wait = min(wait, left)
        st.cond.wait(wait)


def _name(spec) -> str:
    return spec[7]


def _check_element(ctx, st: _QueueState, comps, batched: bool, spec):
    out = []
    n = None
    for i, (c, dt) in enumerate(zip(comps, st.dtypes)):
        a = np.array(c, dtype=dt)     # a copy: the caller may reuse its array
        shp = a.shape[1:] if batched else a.shape
        if batched:
            if a.ndim == 0:
                raise errors.InvalidArgumentError(
                    None, ctx.op, f"EnqueueMany on queue '{_name(spec)}': component {i} is a "
                    "scalar; enqueue_many needs a leading batch dimension.")
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise errors.InvalidArgumentError(
                    None, ctx.op, f"EnqueueMany on queue '{_name(spec)}': components have "
                    f"different batch sizes ({n} and {a.shape[0]}).")
        want = st.shapes[i] if st.shapes is not None else None
        if want is not None and (len(want) != len(shp) or
                                 any(w is not None and w != s for w, s in zip(want, shp))):
            raise errors.InvalidArgumentError(
                None, ctx.op, f"Shape mismatch in tuple component {i} of queue "
                f"'{_name(spec)}': expected {list(want)}, got {list(shp)}.")
        out.append(a)
    if batched:
        return [tuple(a[j, ...] for a in out) for j in range(n or 0)]    # arrays, 0-d too
    return [tuple(out)]


def _enqueue(ctx, comps, spec, batched: bool) -> None:
    st = _state(ctx, spec)
    elems = _check_element(ctx, st, comps, batched, spec)
    what = f"Enqueue on queue '{_name(spec)}'"
    with st.cond:
        for e in elems:
            if st.closed:
                raise errors.CancelledError(None, ctx.op, f"{what}: the queue is closed.")
            _wait(ctx, st, lambda: st.closed or len(st.items) < st.capacity, what)
            if st.closed:
                raise errors.CancelledError(
                    None, ctx.op, f"{what}: the queue was closed" +
                    (" and its pending enqueues cancelled." if st.cancelled else "."))
            st.items.append(e)
            st.cond.notify_all()


def _take(st: _QueueState, n: int) -> list:
    if st.kind == "random_shuffle":
        out = []
        for _ in range(n):
            j = int(st.rng.integers(len(st.items)))
            st.items.rotate(-j)
            out.append(st.items.popleft())
            st.items.rotate(j)
        return out
    return [st.items.popleft() for _ in range(n)]


def _stack(st: _QueueState, elems: list, ctx, spec):
    comps = []
    for i, dt in enumerate(st.dtypes):
        parts = [e[i] for e in elems]
        if st.kind == "padding" and parts:
            shape = tuple(max(p.shape[k] for p in parts) for k in range(parts[0].ndim))
            arr = np.zeros((len(parts),) + shape, dtype=dt)
            if dt.kind == "O":
                arr[...] = b""
            for j, p in enumerate(parts):
                arr[(j,) + tuple(slice(0, s) for s in p.shape)] = p
            comps.append(arr)
            continue
        if not parts:
            want = st.shapes[i] if st.shapes is not None else None
            comps.append(np.zeros((0,) + tuple(s or 0 for s in (want or ())), dtype=dt))
            continue
        if any(p.shape != parts[0].shape for p in parts):
            raise errors.InvalidArgumentError(
                None, ctx.op, f"Dequeue of several elements from queue '{_name(spec)}': "
                f"component {i} has elements of different shapes ({parts[0].shape} and "
                "others); give the queue fixed shapes or use a PaddingFIFOQueue.")
        comps.append(np.stack(parts))
    return tuple(comps)


def _dequeue(ctx, spec, n: int | None, up_to: bool = False):
    st = _state(ctx, spec)
    what = f"Dequeue on queue '{_name(spec)}'"
    need = 1 if n is None else n
    if need < 0:
        raise errors.InvalidArgumentError(None, ctx.op, f"{what}: n must be >= 0, got {n}.")
    with st.cond:
        _wait(ctx, st, lambda: st.closed or len(st.items) >= need + st.min_after, what)
        have = len(st.items)
        if have < need:
            if not (up_to and have > 0):
                raise errors.OutOfRangeError(
                    None, ctx.op, f"{what}: the queue is closed and has insufficient elements "
                    f"(requested {need}, current size {have}).")
            need = have
        elems = _take(st, need)
        st.cond.notify_all()
    if n is None:
        return elems[0]
    return _stack(st, elems, ctx, spec)


# ----- ops -----------------------------------------------------------------------------------
def _component_shapes(spec, batch):
    shapes = spec[4]
    out = []
    for i, d in enumerate(spec[3]):
        s = TensorShape(None) if shapes is None or shapes[i] is None else TensorShape(
            list(shapes[i]))
        if batch is not False:
            s = TensorShape([batch]).concatenate(s)
        out.append((s, _dt.as_dtype(d)))
    return out


def _enqueue_shape(node: NodeSpec):
    spec = node.attrs["queue"]
    if len(node.inputs) != len(spec[3]):
        node.fail(f"the queue has {len(spec[3])} components, got {len(node.inputs)}")
    for i, (t, d) in enumerate(zip(node.inputs, spec[3])):
        if t.dtype != _dt.as_dtype(d):
            node.fail(f"component {i} of the queue is {d}, got {t.dtype.name}", TypeError)
    return []


@op("QueueEnqueueV2", shape=_enqueue_shape, stateful=True)
def _queue_enqueue(xp, *components, queue, ctx):
    _enqueue(ctx, components, queue, False)


@op("QueueEnqueueManyV2", shape=_enqueue_shape, stateful=True)
def _queue_enqueue_many(xp, *components, queue, ctx):
    _enqueue(ctx, components, queue, True)


@op("QueueDequeueV2", shape=lambda n: _component_shapes(n.attrs["queue"], False),
    stateful=True)
def _queue_dequeue(xp, *, queue, ctx):
    return _dequeue(ctx, queue, None)


def _many_shape(node: NodeSpec):
    n = constant_value(node.inputs[0]) if not node.attrs.get("up_to") else None
    return _component_shapes(node.attrs["queue"], None if n is None else int(n))


@op("QueueDequeueManyV2", shape=_many_shape, stateful=True)
def _queue_dequeue_many(xp, n, *, queue, up_to=False, ctx):
    return _dequeue(ctx, queue, int(n), up_to)


@op("QueueCloseV2", shape=lambda n: [], stateful=True)
def _queue_close(xp, *, queue, cancel_pending_enqueues=False, ctx):
    st = _state(ctx, queue)
    with st.cond:
        st.closed = True
        st.cancelled = st.cancelled or cancel_pending_enqueues
        st.cond.notify_all()


@op("QueueSizeV2", shape=lambda n: (TensorShape(()), _dt.int32), stateful=True)
def _queue_size(xp, *, queue, ctx):
    return np.int32(len(_state(ctx, queue).items))


@op("QueueIsClosedV2", shape=lambda n: (TensorShape(()), _dt.bool_), stateful=True)
def _queue_is_closed(xp, *, queue, ctx):
    return np.bool_(_state(ctx, queue).closed)


_QUEUE_OPS = ("QueueEnqueueV2", "QueueEnqueueManyV2", "QueueDequeueV2", "QueueDequeueManyV2",
              "QueueCloseV2", "QueueSizeV2", "QueueIsClosedV2")
for _t in _QUEUE_OPS:
    NotDifferentiable(_t)
del _t
register_host_only(*_QUEUE_OPS)


# ----- the Python classes ----------------------------------------------------------------------
def _as_list(x):
    return list(x) if isinstance(x, list | tuple) else [x]


class QueueBase:
    """The base of TF1's queues: ``enqueue``, ``enqueue_many``, ``dequeue``,
    ``dequeue_many``, ``dequeue_up_to``, ``close``, ``size``, ``is_closed``."""

    _kind = "fifo"

    def __init__(self, capacity, dtypes, shapes=None, names=None, shared_name=None,
                 name="fifo_queue", min_after_dequeue=0, seed=None) -> None:
        self._dtypes = [_dt.as_dtype(d) for d in _as_list(dtypes)]
        if shapes is not None:
            one = isinstance(shapes, TensorShape) or (
                isinstance(shapes, list | tuple) and len(self._dtypes) == 1 and
                (not shapes or isinstance(shapes[0], int | type(None))))
            shapes = [shapes] if one else _as_list(shapes)
            shapes = [TensorShape(s) for s in shapes]
            if len(shapes) != len(self._dtypes):
                raise ValueError(f"Queue shapes must have the same length as dtypes: got "
                                 f"{len(shapes)} shapes for {len(self._dtypes)} dtypes.")
        self._shapes = shapes
        if names is not None:
            names = _as_list(names)
            if len(names) != len(self._dtypes):
                raise ValueError(f"Queue names must have the same length as dtypes: got "
                                 f"{len(names)} names for {len(self._dtypes)} dtypes.")
        self._names = names
        g = get_default_graph()
        self._name = g.unique_name(name)
        seeds = get_seed(seed)
        key = shared_name or f"{self._name}:{id(self)}"
        dts = tuple(d.name for d in self._dtypes)
        shp = None if shapes is None else tuple(
            None if s.rank is None else tuple(s.as_list()) for s in shapes)
        self._spec = (key, self._kind, int(capacity), dts, shp, int(min_after_dequeue),
                      None if seeds == (None, None) else (seeds[0] or 0, seeds[1] or 0),
                      self._name)

    # --- properties ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def dtypes(self) -> list:
        return list(self._dtypes)

    @property
    def shapes(self) -> list:
        return list(self._shapes) if self._shapes is not None else \
            [TensorShape(None)] * len(self._dtypes)

    @property
    def names(self):
        return self._names

    # --- ops ------------------------------------------------------------------------------------
    def _components(self, vals, many: bool) -> list:
        if self._names is not None:
            if not isinstance(vals, dict):
                raise ValueError("This queue has names: enqueue a dictionary keyed by them.")
            if set(vals) != set(self._names):
                raise ValueError(f"Enqueued keys {sorted(vals)} do not match the queue's names "
                                 f"{sorted(self._names)}.")
            vals = [vals[k] for k in self._names]
        else:
            vals = list(vals) if isinstance(vals, list | tuple) else [vals]
        if len(vals) != len(self._dtypes):
            raise ValueError(f"Queue '{self._name}' has {len(self._dtypes)} components, "
                             f"got {len(vals)} values to enqueue.")
        out = []
        for i, (v, d) in enumerate(zip(vals, self._dtypes)):
            t = convert_to_tensor(v, d, name=f"component_{i}")
            if self._shapes is not None:
                s = t.shape[1:] if many and t.shape.rank is not None else t.shape
                if many and t.shape.rank == 0:
                    raise ValueError(f"enqueue_many on queue '{self._name}': component {i} "
                                     "is a scalar; it needs a leading batch dimension.")
                if not s.is_compatible_with(self._shapes[i]):
                    raise ValueError(f"Shape {s} of component {i} is incompatible with the "
                                     f"queue's shape {self._shapes[i]} (queue '{self._name}').")
            out.append(t)
        return out

    def enqueue(self, vals, name=None):
        with name_scope(name or f"{self._name}_enqueue"):
            return _queue_enqueue(self._components(vals, False), queue=self._spec,
                                  name="QueueEnqueueV2")

    def enqueue_many(self, vals, name=None):
        with name_scope(name or f"{self._name}_EnqueueMany"):
            return _queue_enqueue_many(self._components(vals, True), queue=self._spec,
                                       name="QueueEnqueueManyV2")

    def _wrap(self, outs):
        outs = list(outs)
        if self._names is not None:
            return dict(zip(self._names, outs))
        return outs[0] if len(outs) == 1 else outs

    def dequeue(self, name=None):
        return self._wrap(_queue_dequeue(queue=self._spec, name=name or f"{self._name}_Dequeue"))

    def dequeue_many(self, n, name=None):
        with name_scope(name or f"{self._name}_DequeueMany"):
            n = convert_to_tensor(n, _dt.int32, name="n")
            return self._wrap(_queue_dequeue_many(n, queue=self._spec, name="QueueDequeueManyV2"))

    def dequeue_up_to(self, n, name=None):
        with name_scope(name or f"{self._name}_DequeueUpTo"):
            n = convert_to_tensor(n, _dt.int32, name="n")
            return self._wrap(_queue_dequeue_many(n, queue=self._spec, up_to=True,
                                                  name="QueueDequeueUpToV2"))

    def close(self, cancel_pending_enqueues=False, name=None):
        return _queue_close(queue=self._spec, cancel_pending_enqueues=bool(cancel_pending_enqueues),
                            name=name or f"{self._name}_Close")

    def size(self, name=None):
        return _queue_size(queue=self._spec, name=name or f"{self._name}_Size")

    def is_closed(self, name=None):
        return _queue_is_closed(queue=self._spec, name=name or f"{self._name}_IsClosed")


class FIFOQueue(QueueBase):
    """``tf.FIFOQueue``: elements come out in the order they went in."""

    def __init__(self, capacity, dtypes, shapes=None, names=None, shared_name=None,
                 name="fifo_queue") -> None:
        super().__init__(capacity, dtypes, shapes, names, shared_name, name)


class PaddingFIFOQueue(QueueBase):
    """``tf.PaddingFIFOQueue``: a FIFO queue whose ``dequeue_many`` pads each component to the
    largest shape of the batch (zeros; empty strings); ``shapes`` may have None dimensions."""

    _kind = "padding"

    def __init__(self, capacity, dtypes, shapes, names=None, shared_name=None,
                 name="padding_fifo_queue") -> None:
        if shapes is None:
            raise ValueError("PaddingFIFOQueue needs shapes (their unknown dimensions may be "
                             "None).")
        super().__init__(capacity, dtypes, shapes, names, shared_name, name)


class RandomShuffleQueue(QueueBase):
    """``tf.RandomShuffleQueue``: dequeues take random elements, and (until closed) leave at
    least ``min_after_dequeue`` in the queue."""

    _kind = "random_shuffle"

    def __init__(self, capacity, min_after_dequeue, dtypes, shapes=None, names=None, seed=None,
                 shared_name=None, name="random_shuffle_queue") -> None:
        if min_after_dequeue >= capacity:
            raise ValueError(f"min_after_dequeue ({min_after_dequeue}) must be smaller than the "
                             f"capacity ({capacity}).")
        super().__init__(capacity, dtypes, shapes, names, shared_name, name,
                         min_after_dequeue=min_after_dequeue, seed=seed)


class PriorityQueue(QueueBase):
    """``tf.PriorityQueue(capacity, types, shapes=None, names=None, shared_name=None,
    name='priority_queue')``: each element is an int64 scalar priority followed by
    components of ``types`` (with ``shapes``, which exclude the priority); dequeues take the
    smallest priority first (equal priorities in the order they were enqueued).

        q = tf.PriorityQueue(10, [tf.string], shapes=[[]])
        q.enqueue_many([[3, 1], [b"c", b"a"]])
        priority, value = q.dequeue()          # 1, b"a"
    """

    _kind = "priority"

    def __init__(self, capacity, types, shapes=None, names=None, shared_name=None,
                 name="priority_queue") -> None:
        types = _as_list(types)
        if shapes is not None:
            shapes = _as_list(shapes) if len(types) != 1 or not shapes or \
                isinstance(shapes[0], list | tuple | TensorShape) else [shapes]
            if len(shapes) != len(types):
                raise ValueError(f"PriorityQueue: shapes must have the same length as types: "
                                 f"got {len(shapes)} shapes for {len(types)} types.")
            shapes = [TensorShape([])] + [TensorShape(s) for s in shapes]
        else:
            shapes = [TensorShape([])] + [TensorShape(None)] * len(types)
        super().__init__(capacity, [_dt.int64] + types, shapes, names, shared_name, name)
