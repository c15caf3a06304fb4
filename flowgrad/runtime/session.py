"""``Session``: binds a graph to a device, keeps variable values, runs cached plans.

``run(fetches, feed_dict)`` normalises the fetch structure to a flat list of graph
elements, looks up (or compiles) the plan keyed by (fetched elements, fed tensors), calls
it once, and rebuilds the caller's structure from the values.  A run is all-or-nothing
for variables: assignments are logged, and rolled back if any op of the run raises.
Several threads may run one session at once (queue runners do); each run's log is its
thread's own (``_RunState``).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Mapping
from typing import Any, Iterator

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import Graph, Operation, Tensor, get_default_graph
from flowgrad import compiler as _compiler
from flowgrad.compiler.codegen import Env as _CodegenEnv
from flowgrad.runtime import backend as _backend
from flowgrad.runtime import onednn
from flowgrad.runtime.host_memory import keep_freed_memory
from flowgrad.runtime.placement import Placer, to_device
from flowgrad.runtime.plan import compile_plan, failing_op, partial_kernel

_MISSING = object()


class VarRef:
    """A handle to one variable's value in one session (what ref inputs receive)."""

    __slots__ = ("session", "key", "name", "op")

    def __init__(self, session: "BaseSession", op: Operation) -> None:
        self.session, self.key, self.name, self.op = session, op, op.name, op

    def get(self):
        try:
            return self.session._store[self.key]
        except KeyError:
            raise errors.FailedPreconditionError(
                None, self.op, f"Attempting to use uninitialized value {self.name}: run its "
                "initializer first, e.g. sess.run(tf.global_variables_initializer())"
                f"{self.op._where()}") from None

    def set(self, value) -> None:
        s = self.session
        undo = s._run.undo
        if undo is not None and self.key not in undo:
            undo[self.key] = s._store.get(self.key, _MISSING)
        s._store[self.key] = value

    @property
    def initialized(self) -> bool:
        return self.key in self.session._store

    def writable_rows(self, indices):
        """The variable's array, for a kernel to update the rows ``indices`` in place.

        Sparse updates (an embedding's gradient) then cost O(rows), not O(variable): the
        store's array is copied once into one the session owns, and the rows' old values
        are logged so a failed run still rolls back.
        """
        s = self.session
        arr = self.get()
        if s._owned.get(self.key) is not arr:
            arr = arr.copy()          # never write into an array a caller may hold
            self.set(arr)
            s._owned[self.key] = arr
        undo = s._run.undo
        if undo is not None and self.key not in undo:
            xp = s._backend.xp
            rows = xp.unique(xp.asarray(indices).reshape(-1))
            undo[_RowUndo(arr, rows)] = None
        return arr


class _RowUndo:
    """Rows of an array updated in place during a run, with their old values."""

    __slots__ = ("arr", "rows", "old")

    def __init__(self, arr, rows) -> None:
        self.arr, self.rows, self.old = arr, rows, arr[rows].copy()

    def restore(self) -> None:
        self.arr[self.rows] = self.old


class OpContext:
    """What a kernel that declares ``ctx`` gets: its op, session and device services."""

    __slots__ = ("session", "op", "_rng")

    def __init__(self, session: "BaseSession", op: Operation) -> None:
        self.session, self.op, self._rng = session, op, None

    @property
    def xp(self):
        return self.session._backend.xp

    def var(self, t_or_op) -> VarRef:
        op = t_or_op.op if isinstance(t_or_op, Tensor) else t_or_op
        return self.session._ref(op)

    @property
    def rng(self) -> np.random.Generator:
        """A per-op, per-session generator: seeded ops repeat their sequence per session."""
        if self._rng is None:
            self._rng = self.session._rng_for(self.op)
        return self._rng

    @property
    def resources(self) -> dict:
        """Per-session state for stateful ops other than variables (iterators, queues)."""
        return self.session._resources


class RunOptions:
    """``tf.RunOptions``: ``trace_level`` asks for per-op timings in ``RunMetadata``."""

    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3

    def __init__(self, trace_level: int = 0, timeout_in_ms: int = 0, **kwargs: Any) -> None:
        self.trace_level = trace_level
        self.timeout_in_ms = timeout_in_ms


class RunMetadata:
    """``tf.RunMetadata``: filled with ``step_stats`` when a traced run asks for them."""

    def __init__(self) -> None:
        self.step_stats = None
        self.partition_graphs: list = []
        self.cost_graph = None


class ConfigProto:
    """``tf.ConfigProto``: accepted; ``device_count``, the placement flags and
    ``intra_op_parallelism_threads`` (the OpenMP threads of the kernels that run on oneDNN,
    for this session's runs) are read."""

    def __init__(self, device_count: dict | None = None, log_device_placement: bool = False,
                 allow_soft_placement: bool = False, **kwargs: Any) -> None:
        self.device_count = dict(device_count or {})
        self.log_device_placement = log_device_placement
        self.allow_soft_placement = allow_soft_placement
        self.gpu_options = kwargs.pop("gpu_options", None)
        for k, v in kwargs.items():
            setattr(self, k, v)


class GPUOptions:
    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


_session_stack: contextvars.ContextVar[tuple] = contextvars.ContextVar("flowgrad_sessions",
                                                                       default=())


def get_default_session() -> "BaseSession | None":
    stack = _session_stack.get()
    return stack[-1] if stack else None


def _resolve_session(session, graph: Graph) -> "BaseSession":
    sess = session or get_default_session()
    if sess is None:
        raise ValueError("Cannot evaluate tensor using `eval()`: No default session is "
                         "registered. Use `with sess.as_default()` or pass an explicit session "
                         "to `eval(session=sess)`")
    if sess.graph is not graph:
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph "
                         "is different from the session's graph.")
    return sess


class _RunState(threading.local):
    """What one ``run`` in progress keeps, per thread: several threads may run the same
    session at once (queue runners feed a queue while the main thread trains)."""

    undo: dict | None = None        # the run's rollback log (variable -> old value)
    timeout_ms: int = 0             # RunOptions.timeout_in_ms of the run (blocking ops)


class BaseSession:
    def __init__(self, target: str = "", graph: Graph | None = None, config=None) -> None:
        self._graph = graph if graph is not None else get_default_graph()
        self._config = config
        self._closed = False
        self._store: dict[Operation, Any] = {}
        self._refs: dict[Operation, VarRef] = {}
        self._rngs: dict[Operation, np.random.Generator] = {}
        self._resources: dict = {}
        self._plans: dict = {}
        self._run = _RunState()
        # TF1's intra-op thread count: the threads of the CPU kernels that run on oneDNN
        self._intra = int(getattr(config, "intra_op_parallelism_threads", 0) or 0)
        self._backend = _backend.select(config)
        self._on_device = self._backend is not _backend.cpu()
        if not self._on_device:
            keep_freed_memory()
        self._placer = Placer(self._backend, config)
        self._default_ctx: list = []
        self._owned: dict = {}      # variable -> the buffer in-place updates may write
        self._fetch_cache: dict = {}    # fetch structure -> (flat elements, rebuild)
        self._feed_specs: dict = {}     # fed tensor -> (tensor, dtype, last accepted shape)
        self._options = _compiler.resolve(_compiler.options,
                                          getattr(config, "graph_options", None))
        if self._on_device:
            # inlined numpy expressions and out= buffer reuse are host techniques; a device
            # plan fuses elementwise chains into generated kernels instead (compiler.fusion)
            self._options = self._options.copy(inline=False, buffer_reuse=False)
        self._env = _CodegenEnv(self._backend.xp, self._store, self._owned, self._take,
                                backend=self._backend)

    @property
    def _undo(self) -> dict | None:
        """The rollback log of this thread's run in progress (None outside a run)."""
        return self._run.undo

    @_undo.setter
    def _undo(self, value: dict | None) -> None:
        self._run.undo = value

    # --- properties -----------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def graph_def(self) -> dict:
        return self._graph.as_graph_def()

    @property
    def sess_str(self) -> str:
        return ""

    def list_devices(self) -> list:
        devs = [_DeviceAttributes("/job:localhost/replica:0/task:0/device:CPU:0", "CPU")]
        if self._on_device:
            devs.append(_DeviceAttributes("/job:localhost/replica:0/task:0/device:GPU:0", "GPU"))
        return devs

    # --- lifecycle ------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True
        self._store.clear()
        self._owned.clear()
        self._plans.clear()
        self._fetch_cache.clear()
        self._resources.clear()

    def __del__(self) -> None:
        try:
            self._closed = True
        except Exception:  # noqa: BLE001
            pass

    @contextlib.contextmanager
    def as_default(self) -> Iterator["BaseSession"]:
        token = _session_stack.set(_session_stack.get() + (self,))
        try:
            with self._graph.as_default():
                yield self
        finally:
            _session_stack.reset(token)

    def __enter__(self) -> "BaseSession":
        cm = self.as_default()
        cm.__enter__()
        self._default_ctx.append(cm)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._default_ctx.pop().__exit__(exc_type, exc, tb)
        self.close()

    # --- state ----------------------------------------------------------------------
    def _ref(self, op: Operation) -> VarRef:
        r = self._refs.get(op)
        if r is None:
            r = self._refs[op] = VarRef(self, op)
        return r

    def _rng_for(self, op: Operation) -> np.random.Generator:
        g = self._rngs.get(op)
        if g is None:
            gs, s = op.attrs.get("seed"), op.attrs.get("seed2")
            entropy = None if gs is None and s is None else [gs or 0, s or 0, 0x5EED]
            g = self._rngs[op] = np.random.default_rng(entropy)
        return g

    # --- running --------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs the ops and evaluates the tensors in ``fetches``; returns their values."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        try:
            fkey = (type(fetches), tuple(fetches) if type(fetches) is list else fetches)
            entry = self._fetch_cache.get(fkey)
        except TypeError:           # an unhashable structure (dicts, nested lists)
            fkey, entry = None, None
        if entry is None:
            els, rb = _flatten_fetches(self._graph, fetches)
            entry = (tuple(els), rb)
            if fkey is not None and len(self._fetch_cache) < 4096:
                self._fetch_cache[fkey] = entry
        elements, rebuild = entry
        feed_tensors, feed_values = self._feeds(feed_dict) if feed_dict else ((), ())
        key = (elements, tuple(feed_tensors))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._compile(elements, feed_tensors)
            self._plans[key] = plan
        if options is None and not self._on_device and not self._intra:
            # the fast path: no tracing, no copies, the default threads
            run = self._run
            run.undo = {}
            try:
                values = plan.fn(*feed_values)
            except BaseException as e:
                self._rollback()
                raise _translate(plan, e, self) from (None if isinstance(e, errors.OpError)
                                                      else e)
            finally:
                run.undo = None
        else:
            values = self._execute(plan, feed_values, options, run_metadata)
        return rebuild(values, plan)

    def make_callable(self, fetches, feed_list=None, accept_options: bool = False):
        """A function ``f(*feed_values)`` that runs ``fetches`` with a precompiled plan."""
        elements, rebuild = _flatten_fetches(self._graph, fetches)
        keys = [_feed_key(self._graph, k) for k in (feed_list or [])]
        # a composite feed (a SparseTensor, a tuple of placeholders) takes one value per part
        feed_tensors = [t for k in keys for t in (k if isinstance(k, tuple) else (k,))]
        plan = self._compile(elements, feed_tensors)

        def call(*feed_values, options=None, run_metadata=None):
            if self._closed:
                raise RuntimeError("Attempted to use a closed Session.")
            flat = [x for k, v in zip(keys, feed_values)
                    for x in (v if isinstance(k, tuple) else (v,))]
            vals = [_convert_feed(t, v) for t, v in zip(feed_tensors, flat)]
            return rebuild(self._execute(plan, vals, options, run_metadata), plan)
        return call

    def _compile(self, elements, feed_tensors):
        fetch_tensors = [e for e in elements if isinstance(e, Tensor)]
        targets = [e for e in elements if isinstance(e, Operation)]
        return compile_plan(fetch_tensors, targets, feed_tensors, self._bind, self._ref_of,
                            self._options, self._env)

    def compile_subplan(self, fetch_tensors, target_ops, feed_tensors):
        """A plan bound to this session (its variables, devices and compiler options);
        ops that run sub-graphs (control flow, fused collectives) compile theirs here.
        No in-place variable updates there: the enclosing run may still fail afterwards,
        and its rollback must find every variable's old value."""
        return compile_plan(list(fetch_tensors), list(target_ops), list(feed_tensors),
                            self._bind, self._ref_of,
                            self._options.copy(inplace_updates=False), self._env)

    def _take(self, ref: VarRef, shape: tuple, dtype, op: Operation):
        """For in-place updates: gives the variable a buffer of its own (undo-logged)."""
        xp = self._backend.xp

        def take(w):
            if getattr(w, "shape", None) != shape or getattr(w, "dtype", None) != dtype:
                raise errors.InvalidArgumentError(
                    None, op, f"{op.type} '{op.name}': variable '{ref.name}' holds a value of "
                    f"shape {getattr(w, 'shape', np.shape(w))} "
                    f"{getattr(w, 'dtype', type(w).__name__)}, but the plan was compiled for "
                    f"{shape} {np.dtype(dtype)}")
            own = xp.array(w, copy=True)
            ref.set(own)
            self._owned[ref.key] = own
            return own
        return take

    def _bind(self, op: Operation):
        d = op._opdef
        if d is None or d.kernel is None:
            raise errors.UnimplementedError(None, op, f"Operation '{op.name}' ({op.type}) has "
                                            "no kernel and cannot be run.")
        attrs = op.attrs
        if d.needs_ctx:
            attrs = dict(attrs, ctx=OpContext(self, op))
        return self._placer.bind(op, lambda dev: partial_kernel(d.kernel_for(dev.platform), dev.xp,
                                                               attrs))

    def _ref_of(self, t: Tensor) -> VarRef:
        return self._ref(t.op)

    def _feeds(self, feed_dict) -> tuple[list, list]:
        tensors, values = [], []
        specs = self._feed_specs
        ndarray = np.ndarray
        for k, v in feed_dict.items():
            spec = specs.get(k)
            if spec is not None and v.__class__ is ndarray and v.shape == spec[2] and \
                    v.dtype is spec[1]:
                tensors.append(spec[0])     # same dtype and shape as last time: accepted
                values.append(v)
                continue
            t = k if type(k) is Tensor else _feed_key(self._graph, k)
            if isinstance(t, tuple):  # a structure of placeholders fed with a structure
                for tt, vv in zip(t, v):
                    tensors.append(tt)
                    values.append(_convert_feed(tt, vv))
                continue
            if self._on_device and isinstance(v, self._backend.array_type):
                arr = _check_feed_shape(t, v if v.dtype == t.dtype.np else
                                        v.astype(t.dtype.np))     # already there: no copy
            else:
                arr = _convert_feed(t, v)
            tensors.append(t)
            values.append(arr)
            if type(k) is Tensor and arr is v:
                specs[k] = (t, arr.dtype, arr.shape)
        return tensors, values

    def _execute(self, plan, feed_values, options, run_metadata):
        trace = options is not None and getattr(options, "trace_level", 0) and \
            run_metadata is not None
        if plan.replayable and self._backend.platform == "cuda" and not trace and \
                self._options.cuda_graphs:
            out = self._replay(plan, feed_values)
            if out is not None:
                return out
        if self._on_device:
            dev = self._backend
            feed_values = [v if type(v) is dev.array_type else to_device(dev, v)
                           for v in feed_values]
        if self._intra and not self._on_device:
            with onednn.threads(self._intra):
                return self._execute_plan(plan, feed_values, options, run_metadata, trace)
        return self._execute_plan(plan, feed_values, options, run_metadata, trace)

    def _execute_plan(self, plan, feed_values, options, run_metadata, trace):
        if trace:
            from flowgrad.runtime import tracing  # noqa: PLC0415
            out = tracing.traced_run(self, plan, feed_values, run_metadata)
            return tuple(self._backend.to_host(v) for v in out) if self._on_device else out
        run = self._run
        run.undo = {}
        run.timeout_ms = int(getattr(options, "timeout_in_ms", 0) or 0)
        try:
            out = plan.fn(*feed_values)
        except BaseException as e:
            self._rollback()
            raise _translate(plan, e, self) from (None if isinstance(e, errors.OpError) else e)
        finally:
            run.undo = None
            run.timeout_ms = 0
        if self._on_device:
            out = tuple(self._backend.to_host(v) for v in out)
        return out

    #: runs of a specialized plan before it is recorded as a device graph (the memory pool
    #: and the kernels' compiled code are warm by then)
    REPLAY_AFTER = 3

    def _replay(self, plan, feed_values):
        """The step as a replay of the plan's recorded device graph (``runtime.cuda``):
        one launch instead of one per kernel.  None: run the plan as usual (not recorded
        yet, or not recordable, or the variables' buffers changed since)."""
        key = tuple(getattr(v, "shape", None) for v in feed_values)
        rep = plan.replays.get(key)
        if rep is None:
            count = plan.replays.get(("runs",) + key, 0) + 1
            plan.replays[("runs",) + key] = count
            if count <= self.REPLAY_AFTER or plan.specialized is None or \
                    [tuple(s) for s in plan.specialized[0]] != list(key):
                return None
            from flowgrad.runtime import cuda  # noqa: PLC0415 - imports CuPy
            dev = [self._backend.asarray(v) for v in feed_values]
            self._undo = {}
            try:
                rep = cuda.record(plan.fn, dev, self._store) or False
            finally:
                self._undo = None
            plan.replays[key] = rep
        if rep is False:
            return None
        if not rep.valid(self._store):
            plan.replays[key] = None            # record again after a few runs
            plan.replays[("runs",) + key] = 0
            return None
        out = rep.run(feed_values)
        return tuple(self._backend.to_host(v) for v in out)

    def _rollback(self) -> None:
        undo = self._run.undo or {}
        for key, old in reversed(list(undo.items())):
            if type(key) is _RowUndo:
                key.restore()
            elif old is _MISSING:
                self._store.pop(key, None)
            else:
                self._store[key] = old


def _translate(plan, e: BaseException, session=None) -> BaseException:
    op, local, line = failing_op(plan, e.__traceback__)
    if isinstance(e, KeyError) and op is not None and session is not None:
        # an inlined variable read (``S[key]``) of an uninitialized variable
        refs = op._opdef.ref_inputs if op._opdef is not None else ()
        for var in [op] if op.type == "VariableV2" else [op.inputs[i].op for i in refs]:
            if var not in session._store:
                try:
                    session._ref(var).get()
                except errors.OpError as err:
                    return err
    if isinstance(e, errors.OpError):
        if e.op is None:
            e.op = op
        return e
    if op is None or not isinstance(e, Exception):
        return e
    shapes = []
    line = line.split("  # ", 1)[0]
    rhs = line.split("=", 1)[1] if "=" in line.split("(", 1)[0] else line
    args = [a.strip() for a in rhs.split("(", 1)[1].rsplit(")", 1)[0].split(",")] \
        if "(" in rhs else [w for w in rhs.replace("*", " ").replace("+", " ").replace(
            "-", " ").replace("/", " ").split() if w]
    for a in args:
        v = local.get(a)
        if v is not None and hasattr(v, "shape"):
            shapes.append(f"{tuple(v.shape)} {getattr(v, 'dtype', '')}")
    detail = f"; input shapes: {', '.join(shapes)}" if shapes else ""
    cls = errors.InvalidArgumentError
    if isinstance(e, MemoryError):
        cls = errors.ResourceExhaustedError
    elif isinstance(e, NotImplementedError):
        cls = errors.UnimplementedError
    msg = (f"{op.type} '{op.name}'{op._where()} failed: {type(e).__name__}: {e}{detail}")
    return cls(None, op, msg)


class _DeviceAttributes:
    def __init__(self, name: str, device_type: str) -> None:
        self.name, self.device_type, self.memory_limit_bytes = name, device_type, 0


class Session(BaseSession):
    """``tf.Session(target='', graph=None, config=None)``."""


class InteractiveSession(BaseSession):
    """A session that installs itself as the default on construction (for shells)."""

    def __init__(self, target: str = "", graph: Graph | None = None, config=None) -> None:
        super().__init__(target, graph, config)
        self._token = _session_stack.set(_session_stack.get() + (self,))

    def close(self) -> None:
        super().close()
        stack = _session_stack.get()
        if stack and stack[-1] is self:
            _session_stack.set(stack[:-1])


# --- fetch and feed normalisation ------------------------------------------------------
def _element(graph: Graph, f):
    if type(f) is Tensor or type(f) is Operation:
        el = f
    elif isinstance(f, str):
        el = graph.as_graph_element(f)
    elif hasattr(f, "_as_graph_element"):
        el = f._as_graph_element()
    else:
        raise TypeError(f"Fetch argument {f!r} has invalid type {type(f).__name__}, must be a "
                        "string or Tensor. (Can not convert a "
                        f"{type(f).__name__} into a Tensor or Operation.)")
    if el.graph is not graph:
        raise ValueError(f"Fetch argument {f!r} cannot be interpreted as a Tensor. ({el!r} is "
                         "not an element of this graph.)")
    return el


def _flatten_fetches(graph: Graph, fetches):
    """Flat list of graph elements, and a function rebuilding the structure from values."""
    t = type(fetches)
    if t is Tensor or t is Operation or isinstance(fetches, str) or \
            (hasattr(fetches, "_as_graph_element") and not isinstance(fetches, list | tuple
                                                                      | Mapping)):
        el = _element(graph, fetches)

        def one(values, plan):
            return _values_for([el], values, plan)[0]
        return [el], one
    if t is list or t is tuple:
        if all(type(f) is Tensor or type(f) is Operation for f in fetches):
            els = [_element(graph, f) for f in fetches]

            def flat(values, plan):
                vals = _values_for(els, values, plan)
                return vals if t is list else tuple(vals)
            return els, flat
    leaves: list = []
    spec = _spec(graph, fetches, leaves)

    def rebuild(values, plan):
        vals = _values_for(leaves, values, plan)
        return _build(spec, iter(vals))
    return leaves, rebuild


def _spec(graph, f, leaves):
    if f is None:
        raise TypeError("Fetch argument None has invalid type <class 'NoneType'>")
    if isinstance(f, Mapping):
        return ("dict", type(f), [(k, _spec(graph, v, leaves)) for k, v in f.items()])
    if isinstance(f, tuple) and hasattr(f, "_fields"):
        return ("namedtuple", type(f), [_spec(graph, v, leaves) for v in f])
    if isinstance(f, list | tuple):
        return ("seq", type(f), [_spec(graph, v, leaves) for v in f])
    if hasattr(f, "_session_components"):     # a composite (SparseTensor): its parts' values
        return ("composite", f._session_value,
                [_spec(graph, t, leaves) for t in f._session_components()])
    leaves.append(_element(graph, f))
    return ("leaf",)


def _build(spec, it):
    kind = spec[0]
    if kind == "leaf":
        return next(it)
    if kind == "dict":
        out = {k: _build(s, it) for k, s in spec[2]}
        return out if spec[1] is dict else spec[1](out) if spec[1] is not dict else out
    if kind == "namedtuple" or kind == "composite":
        return spec[1](*[_build(s, it) for s in spec[2]])
    return spec[1](_build(s, it) for s in spec[2])


def _values_for(elements, values, plan) -> list:
    out = []
    vi = 0
    alias = plan.alias_out
    for el in elements:
        if type(el) is Operation:
            out.append(None)
            continue
        v = values[vi]
        if isinstance(v, np.ndarray):
            if v.ndim == 0:
                v = v[()]
            elif alias[vi] or not v.flags.owndata:
                v = v.copy()
        vi += 1
        out.append(v)
    return out


def _feed_key(graph: Graph, k):
    if isinstance(k, Tensor):
        return k
    if isinstance(k, str):
        return graph.as_graph_element(k, allow_operation=False)
    if isinstance(k, tuple | list):
        return tuple(_feed_key(graph, x) for x in k)
    if hasattr(k, "_session_components"):     # a SparseTensor is fed its parts' values
        return tuple(k._session_components())
    if hasattr(k, "_as_graph_element"):
        el = k._as_graph_element()
        if isinstance(el, Tensor):
            return el
    raise TypeError(f"Cannot interpret feed_dict key as Tensor: {k!r} of type "
                    f"{type(k).__name__}. Feed keys must be Tensors, tensor names, or "
                    "placeholders.")


def _convert_feed(t: Tensor, v):
    npd = t.dtype.np
    if type(v) is np.ndarray and v.dtype == npd and t.dtype != _dt.string:
        arr = v
    elif isinstance(v, Tensor):
        raise TypeError(f"The value of a feed cannot be a tf.Tensor object (feeding "
                        f"{t.name}). Acceptable feed values include Python scalars, strings, "
                        "lists, numpy ndarrays, or TensorHandles.")
    else:
        try:
            arr = np.asarray(v, dtype=npd) if t.dtype != _dt.string else _dt.string_array(v)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Cannot feed value {v!r} to Tensor '{t.name}' of dtype "
                            f"{t.dtype.name}: {e}") from None
    return _check_feed_shape(t, arr)


def _check_feed_shape(t: Tensor, arr):
    dims = t._shape._dims
    if dims is not None:
        shp = arr.shape
        if len(shp) != len(dims) or any(d is not None and d != s for d, s in zip(dims, shp)):
            raise ValueError(f"Cannot feed value of shape {shp} for Tensor '{t.name}', which "
                             f"has shape '{t._shape}'")
    return arr
