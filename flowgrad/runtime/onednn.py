"""oneDNN for float32 convolutions, pooling, batch norm and large matrix products on
the CPU.

oneDNN (Intel's deep-learning primitives, the library TensorFlow's and PyTorch's CPU
convolutions run on) JIT-compiles a kernel for each operation's exact geometry and the
machine's vector units.  It is an optional dependency, ``pip install flowgrad[onednn]``
(the ``onednn-cpu-gomp`` wheel: ``libdnnl.so`` on GNU OpenMP, no Python code; part of
the ``train`` and ``test`` extras), bound here through ctypes to its C API.  Without it,
or where it refuses a configuration, the numpy kernels run.

What goes through it: float32 numpy arrays, channels-last (``N, *spatial, C``) with TF's
window geometry (``Window``: padding before/after, stride, dilation) for convolutions
(forward, input and filter gradients; 2-D and 3-D) and pooling; channels-last batch norm
(training, inference, gradient); 2-D products of at least ``MATMUL_MIN_MACS``
multiply-adds (any positive strides: transposed views run as they are), also as the
``w = alpha * a @ b + w`` GEMM that folds an SGD update.  Each distinct geometry's
primitive is created once and cached (``_MAX_PRIMITIVES``); a call points the primitive's
memory objects (kept per thread) at the numpy buffers and executes it.

Threads: oneDNN runs on OpenMP (``OMP_NUM_THREADS``; default: every core).  Every product
large enough for OpenBLAS to spread over its own threads goes to oneDNN instead, so a
step's parallel work runs on one pool: OpenBLAS's workers spin for a while after each
threaded call, and two spinning pools on two cores took LeNet's step from 4 to 16 ms.
A process forked after oneDNN ran uses the numpy kernels (GNU OpenMP's threads do not
survive ``fork``).

``FLOWGRAD_ONEDNN=0`` turns it off (``FLOWGRAD_ONEDNN_LIB`` names the library file when it
is not where pip puts it).  ``available()`` says whether it loaded; ``ENABLED`` can be set
to False at run time (tests run both paths).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import site
import sys
import threading

import numpy as np

#: set False to run the numpy kernels even where oneDNN is present
ENABLED = os.environ.get("FLOWGRAD_ONEDNN", "1") != "0"

# C API constants of oneDNN 3.x; each is checked against the library's own names on load
_F32 = 3
_FWD_TRAINING, _FWD_INFERENCE, _BWD_DATA, _BWD_WEIGHTS, _BACKWARD = 64, 96, 160, 192, 128
_CONV_DIRECT = 0x1
_POOL_MAX, _POOL_AVG_EXCLUDE = 0x1FF, 0x3FF
_CHECKS = (("dnnl_dt2str", _F32, "f32"),
           ("dnnl_prop_kind2str", _FWD_TRAINING, "forward_training"),
           ("dnnl_prop_kind2str", _FWD_INFERENCE, "forward_inference"),
           ("dnnl_prop_kind2str", _BWD_DATA, "backward_data"),
           ("dnnl_prop_kind2str", _BWD_WEIGHTS, "backward_weights"),
           ("dnnl_prop_kind2str", _BACKWARD, "backward"),
           ("dnnl_alg_kind2str", _CONV_DIRECT, "convolution_direct"),
           ("dnnl_alg_kind2str", _POOL_MAX, "pooling_max"),
           ("dnnl_alg_kind2str", _POOL_AVG_EXCLUDE, "pooling_avg_exclude_padding"),
           ("dnnl_fmt_tag2str", 1, "any"))
_CPU_ENGINE, _STREAM_IN_ORDER, _SCRATCHPAD_USER, _ANY = 1, 1, 1, 1
_QUERY_EXEC_ARG_MD = 255
_SRC, _DST, _WEIGHTS, _WORKSPACE, _SCRATCHPAD = 1, 17, 33, 64, 80
_DIFF_SRC, _DIFF_DST, _DIFF_WEIGHTS = 129, 145, 161
_MEAN, _VARIANCE, _SCALE, _SHIFT, _DIFF_SCALE, _DIFF_SHIFT = 49, 50, 51, 52, 255, 256
_BIAS = 41
_GLOBAL_STATS, _USE_SCALE, _USE_SHIFT = 0x1, 0x2, 0x4

_vp = ctypes.c_void_p
_Dims = ctypes.c_int64 * 12


class _Arg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _vp)]


_state: dict = {}
_lock = threading.Lock()


def _paths() -> list[str]:
    env = os.environ.get("FLOWGRAD_ONEDNN_LIB")
    if env:
        return [env]
    roots = [sys.prefix, sys.base_prefix, getattr(site, "USER_BASE", None) or ""]
    paths = [os.path.join(r, "lib", name) for r in roots if r
             for name in ("libdnnl.so.3", "libdnnl.3.dylib")]
    import ctypes.util  # noqa: PLC0415 - imports subprocess: only where pip's paths fail

    found = None if any(os.path.exists(p) for p in paths) else ctypes.util.find_library("dnnl")
    return [p for p in paths if os.path.exists(p)] + ([found] if found else [])


def _bind(path: str):
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    try:
        for fn, value, name in _CHECKS:
            f = getattr(lib, fn)
            f.restype, f.argtypes = ctypes.c_char_p, [ctypes.c_int]
            if f(value) != name.encode():
                return None
        lib.dnnl_primitive_desc_query_md.restype = _vp
        lib.dnnl_primitive_desc_query_md.argtypes = [_vp, ctypes.c_int, ctypes.c_int]
        lib.dnnl_memory_desc_get_size.restype = ctypes.c_size_t
        lib.dnnl_memory_desc_get_size.argtypes = [_vp]
        lib.dnnl_memory_desc_create_with_strides.argtypes = [
            ctypes.POINTER(_vp), ctypes.c_int, _Dims, ctypes.c_int, _Dims]
        lib.dnnl_memory_create.argtypes = [ctypes.POINTER(_vp), _vp, _vp, _vp]
        lib.dnnl_memory_set_data_handle.argtypes = [_vp, _vp]
        lib.dnnl_memory_destroy.argtypes = [_vp]
        lib.dnnl_primitive_execute.argtypes = [_vp, _vp, ctypes.c_int, ctypes.POINTER(_Arg)]
        engine = _vp()
        if lib.dnnl_engine_create(ctypes.byref(engine), _CPU_ENGINE, 0) != 0:
            return None
    except AttributeError:
        return None
    return {"lib": lib, "engine": engine, "path": path, "prims": {},
            "threads": threading.local(), "omp": _openmp()}


def _openmp():
    """``(omp_get_max_threads, omp_set_num_threads)`` of the OpenMP oneDNN runs on (GNU
    OpenMP, loaded with it), or None."""
    try:
        gomp = ctypes.CDLL("libgomp.so.1")
        get, set_ = gomp.omp_get_max_threads, gomp.omp_set_num_threads
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    set_.restype, set_.argtypes = None, [ctypes.c_int]
    return get, set_


@contextlib.contextmanager
def threads(n: int):
    """Runs this thread's oneDNN primitives on ``n`` OpenMP threads inside the block
    (``ConfigProto(intra_op_parallelism_threads=n)``); the thread's setting is restored
    after it.  A primitive is created per thread count (oneDNN plans its work for the
    count it was created with)."""
    d = _get()
    omp = d["omp"] if d is not None else None
    if omp is None or n <= 0:
        yield
        return
    get, set_ = omp
    before = get()
    set_(n)
    try:
        yield
    finally:
        set_(before)


class _Stream:
    """A thread's oneDNN stream (a stream is not to be shared between threads), destroyed
    with the thread's locals."""

    def __init__(self, d):
        self.lib, self.handle = d["lib"], _vp()
        if self.lib.dnnl_stream_create(ctypes.byref(self.handle), d["engine"],
                                       _STREAM_IN_ORDER) != 0:
            raise RuntimeError("oneDNN could not create a stream")

    def __del__(self):
        try:
            self.lib.dnnl_stream_destroy(self.handle)
        except (TypeError, AttributeError):   # interpreter shutdown
            pass


def _stream(d):
    """This thread's stream handle."""
    s = getattr(d["threads"], "stream", None)
    if s is None:
        s = d["threads"].stream = _Stream(d)
    return s.handle


def _get():
    """The bound library (a dict), or None where oneDNN is absent or turned off."""
    if not ENABLED:
        return None
    if "lib" not in _state:
        with _lock:
            if "lib" not in _state:
                bound = None
                for p in _paths():
                    bound = _bind(p)
                    if bound is not None:
                        break
                _state["lib"] = bound
    return _state["lib"]


def _after_fork_in_child():
    """GNU OpenMP's thread pool does not survive ``fork``: a child whose parent has run a
    parallel region hangs in its first one.  Such a child runs the numpy kernels."""
    d = _state.get("lib")
    if d is not None and d.get("ran"):
        _state["lib"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def available() -> bool:
    """Whether oneDNN loaded (and is not turned off)."""
    return _get() is not None


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint),
                ("gpu_runtime", ctypes.c_uint)]


def version() -> str | None:
    """oneDNN's version (``"3.2.0"``), or None where it is not in use."""
    d = _get()
    if d is None:
        return None
    fn = d["lib"].dnnl_version
    fn.restype = ctypes.POINTER(_Version)
    v = fn().contents
    return f"{v.major}.{v.minor}.{v.patch}"


def library_path() -> str | None:
    """The oneDNN library in use, or None."""
    d = _get()
    return d["path"] if d else None


def usable(*arrays) -> bool:
    """Whether oneDNN can take these numpy arrays: aligned float32, non-empty, oneDNN
    present."""
    return (ENABLED and all(type(a) is np.ndarray and a.dtype == np.float32 and a.size
                            and a.flags.aligned for a in arrays) and _get() is not None)


# ----- memory descriptors and primitives -------------------------------------------------
def _md(lib, dims, strides):
    m = _vp()
    n = len(dims)
    if lib.dnnl_memory_desc_create_with_strides(ctypes.byref(m), n, _Dims(*dims), _F32,
                                                _Dims(*strides)) != 0:
        raise _Refused
    return m


def _channels_last(shape):
    """oneDNN dims ``(N, C, *spatial)`` and element strides of a contiguous channels-last
    array."""
    st = _contiguous_strides(shape)
    return ((shape[0], shape[-1], *shape[1:-1]), (st[0], st[-1], *st[1:-1]))


def _contiguous_strides(shape):
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def _filter_dims(shape):
    """oneDNN ``(O, I, *K)`` dims and strides of a contiguous ``(*K, I, O)`` filter."""
    st = _contiguous_strides(shape)
    return ((shape[-1], shape[-2], *shape[:-2]), (st[-1], st[-2], *st[:-2]))


class _Refused(Exception):
    """oneDNN has no implementation for this configuration."""


class _Primitive:
    """A created primitive, ready to run on numpy buffers in the user's (plain) layouts.

    ``user`` maps each argument to the descriptor of the buffer the caller passes.  Where
    the primitive chose another layout (weights are created with "any": oneDNN's fast
    kernels for few channels want blocked filters), the argument runs through a buffer
    of the chosen layout and a reorder primitive: before the primitive for an input,
    after it for an output.  Scratchpad and workspace buffers are sized here.  Owns every
    oneDNN handle it keeps (descriptors are cloned)."""

    def __init__(self, d, pd, user: dict):
        lib = self.lib = d["lib"]
        self.prim, self.handles = _vp(), []
        if lib.dnnl_primitive_create(ctypes.byref(self.prim), pd) != 0:
            raise _Refused
        self.user, self.mds, self.reorders, self.sizes = {}, {}, {}, {}
        self.buffers, self._local = [], threading.local()
        try:
            for arg, umd in user.items():
                self.user[arg] = self._clone(umd)
                if arg & _ATTR_SCALES:           # runtime scalars: taken as given
                    self.mds[arg] = self.user[arg]
                    continue
                pmd = _vp(lib.dnnl_primitive_desc_query_md(pd, _QUERY_EXEC_ARG_MD, arg))
                if lib.dnnl_memory_desc_equal(umd, pmd):
                    self.mds[arg] = self.user[arg]
                    continue
                self.mds[arg] = self._clone(pmd)
                pair = ((self.user[arg], self.mds[arg]) if arg in _INPUTS
                        else (self.mds[arg], self.user[arg]))
                self.reorders[arg] = (self._reorder(d, *pair),
                                      lib.dnnl_memory_desc_get_size(self.mds[arg]))
            for arg in (_SCRATCHPAD, _WORKSPACE):
                md = lib.dnnl_primitive_desc_query_md(pd, _QUERY_EXEC_ARG_MD, arg)
                size = lib.dnnl_memory_desc_get_size(_vp(md)) if md else 0
                if size:
                    self.mds[arg], self.sizes[arg] = self._clone(_vp(md)), size
        except _Refused:
            self.__del__()
            raise
        self.workspace = self.sizes.get(_WORKSPACE, 0)

    def _clone(self, md):
        copy = _vp()
        if self.lib.dnnl_memory_desc_clone(ctypes.byref(copy), md) != 0:
            raise _Refused
        self.handles.append((self.lib.dnnl_memory_desc_destroy, copy))
        return copy

    def _reorder(self, d, src, dst):
        lib, pd, prim = self.lib, _vp(), _vp()
        if lib.dnnl_reorder_primitive_desc_create(ctypes.byref(pd), src, d["engine"], dst,
                                                  d["engine"], None) != 0:
            raise _Refused
        ok = lib.dnnl_primitive_create(ctypes.byref(prim), pd) == 0
        lib.dnnl_primitive_desc_destroy(pd)
        if not ok:
            raise _Refused
        self.handles.append((lib.dnnl_primitive_destroy, prim))
        return prim

    def __del__(self):
        handles, self.handles = getattr(self, "handles", []), []
        prim, self.prim = getattr(self, "prim", None), None
        try:
            if prim:
                self.lib.dnnl_primitive_destroy(prim)
            for destroy, handle in reversed(handles):
                destroy(handle)
        except (TypeError, AttributeError):   # interpreter shutdown: nothing left to free
            pass

    def __call__(self, d, **arrays):
        """Executes with numpy ``arrays`` keyed by argument name (``src``, ``dst``, ...):
        inputs reordered in, the primitive, outputs reordered out.  Each thread keeps its
        memory objects (and scratch buffers) per set of argument names; a call only points
        them at this call's buffers."""
        lib, stream = self.lib, _stream(d)
        names = tuple(arrays)
        bound = self._local.__dict__.get(names)
        if bound is None:
            bound = self._local.__dict__[names] = self._bind(d, names)
        user, pre, main, post = bound
        for m, buf in zip(user, arrays.values()):
            lib.dnnl_memory_set_data_handle(m, buf.ctypes.data)
        for prim, args in pre:
            if lib.dnnl_primitive_execute(prim, stream, len(args), args) != 0:
                raise RuntimeError("oneDNN failed to reorder an argument")
        d["ran"] = True                  # this process has OpenMP threads now (see fork)
        if lib.dnnl_primitive_execute(self.prim, stream, len(main), main) != 0:
            raise RuntimeError("oneDNN failed to execute a primitive")
        for prim, args in post:
            if lib.dnnl_primitive_execute(prim, stream, len(args), args) != 0:
                raise RuntimeError("oneDNN failed to reorder an argument")
        lib.dnnl_stream_wait(stream)

    def _bind(self, d, names):
        """``(user memories in ``names`` order, reorders before, the primitive's arguments,
        reorders after)`` for this thread; scratch and primitive-layout buffers are
        allocated here and kept with the memories."""
        lib, engine = self.lib, d["engine"]

        def mem(md, buf=None):
            m = _vp()
            if lib.dnnl_memory_create(ctypes.byref(m), md, engine,
                                      None if buf is None else buf.ctypes.data) != 0:
                raise RuntimeError("oneDNN could not create a memory object")
            with _lock:
                self.handles.append((lib.dnnl_memory_destroy, m))
                if buf is not None:
                    self.buffers.append(buf)
            return m

        def args(pairs):
            return (_Arg * len(pairs))(*[_Arg(a, m) for a, m in pairs])

        user, pre, main, post = [], [], [], []
        if _SCRATCHPAD in self.sizes:
            main.append((_SCRATCHPAD, mem(self.mds[_SCRATCHPAD],
                                          np.empty(self.sizes[_SCRATCHPAD], np.uint8))))
        for name in names:
            arg = _ARG[name]
            umem = mem(self.user[arg] if arg in self.user else self.mds[arg])
            user.append(umem)
            if arg not in self.reorders:
                main.append((arg, umem))
                continue
            reorder, size = self.reorders[arg]
            pmem = mem(self.mds[arg], np.empty(size, np.uint8))
            main.append((arg, pmem))
            if arg in _INPUTS:
                pre.append((reorder, args([(_SRC, umem), (_DST, pmem)])))
            else:
                post.append((reorder, args([(_SRC, pmem), (_DST, umem)])))
        return user, pre, args(main), post


_ARG = {"src": _SRC, "dst": _DST, "weights": _WEIGHTS, "workspace": _WORKSPACE,
        "scratchpad": _SCRATCHPAD, "diff_src": _DIFF_SRC, "diff_dst": _DIFF_DST,
        "diff_weights": _DIFF_WEIGHTS, "mean": _MEAN, "variance": _VARIANCE, "scale": _SCALE,
        "shift": _SHIFT, "diff_scale": _DIFF_SCALE, "diff_shift": _DIFF_SHIFT, "bias": _BIAS}
_ATTR_SCALES = 4096
_ARG["src_scale"] = _ATTR_SCALES | _SRC
_INPUTS = frozenset((_SRC, _WEIGHTS, _DIFF_DST, _MEAN, _VARIANCE, _SCALE, _SHIFT, _BIAS))
_MAX_PRIMITIVES = 512


def _cached(key, build):
    """The primitive for ``key`` (None where oneDNN refuses it), built on first use, one
    per OpenMP thread count."""
    d = _get()
    if d["omp"] is not None:
        key = (key, d["omp"][0]())
    prims = d["prims"]
    p = prims.get(key, False)
    if p is False:
        with _lock:
            p = prims.get(key, False)
            if p is False:
                try:
                    p = build(d)
                except _Refused:
                    p = None
                if len(prims) >= _MAX_PRIMITIVES:
                    prims.pop(next(iter(prims)))
                prims[key] = p
    return p


class _Build:
    """Creates a primitive's descriptors and frees what the primitive does not keep (the
    primitive descriptors and attributes) once it exists, or when creation fails."""

    def __init__(self, d):
        self.d, self.lib, self.temp, self.mds = d, d["lib"], [], []

    def md(self, dims, strides):
        m = _md(self.lib, dims, strides)
        self.mds.append(m)
        return m

    def attr(self):
        attr = _vp()
        if self.lib.dnnl_primitive_attr_create(ctypes.byref(attr)) != 0:
            raise _Refused
        self.temp.append((self.lib.dnnl_primitive_attr_destroy, attr))
        self.lib.dnnl_primitive_attr_set_scratchpad_mode(attr, _SCRATCHPAD_USER)
        return attr

    def pd(self, fn, *args):
        pd = _vp()
        if fn(ctypes.byref(pd), self.d["engine"], *args) != 0:
            raise _Refused
        self.temp.append((self.lib.dnnl_primitive_desc_destroy, pd))
        return pd

    def any(self, dims):
        """A descriptor that lets the primitive choose the layout."""
        m = _vp()
        if self.lib.dnnl_memory_desc_create_with_tag(ctypes.byref(m), len(dims),
                                                     _Dims(*dims), _F32, _ANY) != 0:
            raise _Refused
        self.mds.append(m)
        return m

    def primitive(self, pd, user: dict):
        return _Primitive(self.d, pd, user)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for destroy, handle in self.temp:
            destroy(handle)
        for m in self.mds:
            self.lib.dnnl_memory_desc_destroy(m)
        return False


def _geometry(wins):
    return (_Dims(*[w.stride for w in wins]), _Dims(*[w.dilation - 1 for w in wins]),
            _Dims(*[w.pad_before for w in wins]), _Dims(*[w.pad_after for w in wins]))


def _out_shape(xshape, wins, channels):
    return (xshape[0], *[w.out for w in wins], channels)


# ----- convolutions ------------------------------------------------------------------------
def _conv(b: _Build, xshape, fshape, wins, blocked=False, bias=None):
    """The user's (src, weights, dst) descriptors, the primitive's (the filter's layout is
    oneDNN's choice; with ``blocked`` the activations' too, reordered from and to the
    user's around the primitive), the forward primitive descriptor and the geometry.
    ``bias``: the bias vector's descriptor, for a convolution that adds one."""
    user = (b.md(*_channels_last(xshape)), b.md(*_filter_dims(fshape)),
            b.md(*_channels_last(_out_shape(xshape, wins, fshape[-1]))))
    dims = (_channels_last(xshape)[0], _filter_dims(fshape)[0],
            _channels_last(_out_shape(xshape, wins, fshape[-1]))[0])
    prim = tuple(b.any(dm) if blocked or i == 1 else u
                 for i, (u, dm) in enumerate(zip(user, dims)))
    geo = _geometry(wins)
    fwd = b.pd(b.lib.dnnl_convolution_forward_primitive_desc_create, _FWD_TRAINING,
               _CONV_DIRECT, prim[0], prim[1], bias, prim[2], *geo, b.attr())
    return user, prim, fwd, geo


def conv_forward(x, filt, wins, bias=None):
    """Channels-last convolution of contiguous float32 ``x`` by a ``(*K, I, O)`` filter,
    plus ``bias`` (one value per output channel) where given; None where oneDNN refuses
    the configuration."""
    def build(d):
        with _Build(d) as b:
            bmd = b.md((filt.shape[-1],), (1,)) if bias is not None else None
            (src, wts, dst), _, fwd, _ = _conv(b, x.shape, filt.shape, wins, bias=bmd)
            args = {_SRC: src, _WEIGHTS: wts, _DST: dst}
            if bmd is not None:
                args[_BIAS] = bmd
            return b.primitive(fwd, args)
    p = _cached(("conv", x.shape, filt.shape, tuple(wins), bias is not None), build)
    if p is None:
        return None
    y = np.empty(_out_shape(x.shape, wins, filt.shape[-1]), np.float32)
    if bias is None:
        p(_get(), src=x, weights=filt, dst=y)
    else:
        p(_get(), src=x, weights=filt, bias=bias, dst=y)
    return y


def conv_backward_data(dy, filt, xshape, wins, blocked: bool = False):
    """``dx`` (channels-last ``xshape``) of a convolution, or None.  ``blocked``: let
    oneDNN lay out the activations too (faster for few channels)."""
    def build(d):
        with _Build(d) as b:
            (src, wts, dst), prim, fwd, geo = _conv(b, xshape, filt.shape, wins, blocked)
            pd = b.pd(b.lib.dnnl_convolution_backward_data_primitive_desc_create,
                      _CONV_DIRECT, *prim, *geo, fwd, b.attr())
            return b.primitive(pd, {_DIFF_SRC: src, _WEIGHTS: wts, _DIFF_DST: dst})
    p = _cached(("conv_bwd_data", tuple(xshape), filt.shape, tuple(wins), blocked), build)
    if p is None:
        return None
    dx = np.empty(xshape, np.float32)
    p(_get(), diff_dst=dy, weights=filt, diff_src=dx)
    return dx


def conv_backward_weights(x, dy, fshape, wins):
    """``dW`` (``(*K, I, O)`` ``fshape``) of a convolution, or None."""
    def build(d):
        with _Build(d) as b:
            (src, wts, dst), prim, fwd, geo = _conv(b, x.shape, fshape, wins)
            pd = b.pd(b.lib.dnnl_convolution_backward_weights_primitive_desc_create,
                      _CONV_DIRECT, prim[0], prim[1], None, prim[2], *geo, fwd, b.attr())
            return b.primitive(pd, {_SRC: src, _DIFF_WEIGHTS: wts, _DIFF_DST: dst})
    p = _cached(("conv_bwd_weights", x.shape, tuple(fshape), tuple(wins)), build)
    if p is None:
        return None
    dw = np.empty(fshape, np.float32)
    p(_get(), src=x, diff_dst=dy, diff_weights=dw)
    return dw


# ----- pooling -----------------------------------------------------------------------------
def _pool(b: _Build, xshape, wins, alg, prop):
    src = b.md(*_channels_last(xshape))
    dst = b.md(*_channels_last(_out_shape(xshape, wins, xshape[-1])))
    strides, dil, pl, pr = _geometry(wins)
    kernel = _Dims(*[w.k for w in wins])
    fwd = b.pd(b.lib.dnnl_pooling_forward_primitive_desc_create, prop, alg, src, dst,
               strides, kernel, dil, pl, pr, b.attr())
    return src, dst, fwd, (strides, kernel, dil, pl, pr)


_POOL_ALG = {"max": _POOL_MAX, "avg": _POOL_AVG_EXCLUDE}


def pool_forward(x, wins, kind: str, workspace: bool = False):
    """Max (``kind="max"``; padding never wins) or average (``"avg"``: over the cells
    inside the input, as TF divides) pooling of contiguous float32 channels-last ``x``.
    With ``workspace`` (max only) returns ``(y, ws)``, the record of each window's
    maximum that ``max_pool_backward`` takes.  None where oneDNN refuses, and for a max
    pool where some window's maximum is -inf (oneDNN gives the lowest finite float)."""
    prop = _FWD_TRAINING if workspace else _FWD_INFERENCE

    def build(d):
        with _Build(d) as b:
            src, dst, fwd, _ = _pool(b, x.shape, wins, _POOL_ALG[kind], prop)
            return b.primitive(fwd, {_SRC: src, _DST: dst})
    p = _cached(("pool", kind, prop, x.shape, tuple(wins)), build)
    if p is None:
        return None
    y = np.empty(_out_shape(x.shape, wins, x.shape[-1]), np.float32)
    ws = np.empty(p.workspace, np.uint8) if workspace else None
    if workspace:
        p(_get(), src=x, dst=y, workspace=ws)
    else:
        p(_get(), src=x, dst=y)
    if kind == "max" and y.size and y.min() <= _F32_LOWEST:
        # oneDNN starts each window at the lowest finite float, so a window of -inf
        # inputs comes out as that, where the numpy kernels (and the maximum) give -inf
        return None
    return (y, ws) if workspace else y


_F32_LOWEST = np.finfo(np.float32).min


def pool_backward(dy, xshape, wins, kind: str, workspace=None):
    """``dx`` of a pooling given its output gradient (and, for max, the forward's
    workspace: the gradient goes to the window's first maximum), or None."""
    def build(d):
        with _Build(d) as b:
            src, dst, fwd, geo = _pool(b, xshape, wins, _POOL_ALG[kind], _FWD_TRAINING)
            pd = b.pd(b.lib.dnnl_pooling_backward_primitive_desc_create, _POOL_ALG[kind],
                      src, dst, *geo, fwd, b.attr())
            return b.primitive(pd, {_DIFF_SRC: src, _DIFF_DST: dst})
    p = _cached(("pool_bwd", kind, tuple(xshape), tuple(wins)), build)
    if p is None:
        return None
    dx = np.empty(xshape, np.float32)
    if workspace is None:
        p(_get(), diff_dst=dy, diff_src=dx)
    else:
        p(_get(), diff_dst=dy, diff_src=dx, workspace=workspace)
    return dx


# ----- batch normalization -----------------------------------------------------------------
def _bn_fwd(b: _Build, shape, epsilon, training):
    data = b.md(*_channels_last(shape))
    flags = _USE_SCALE | _USE_SHIFT | (0 if training else _GLOBAL_STATS)
    pd = b.pd(b.lib.dnnl_batch_normalization_forward_primitive_desc_create,
              _FWD_TRAINING if training else _FWD_INFERENCE, data, data,
              ctypes.c_float(epsilon), flags, b.attr())
    vec = b.md((shape[-1],), (1,))
    return data, vec, pd, flags


def batch_norm(x, scale, offset, epsilon: float, mean=None, variance=None):
    """Batch normalization of contiguous float32 channels-last ``x``: with ``mean`` and
    ``variance`` None, over the batch statistics, returning ``(y, mean, biased variance)``;
    else with the given statistics, returning ``y``.  None where oneDNN refuses."""
    training = mean is None

    def build(d):
        with _Build(d) as b:
            data, vec, pd, _ = _bn_fwd(b, x.shape, epsilon, training)
            return b.primitive(pd, {_SRC: data, _DST: data, _MEAN: vec, _VARIANCE: vec,
                                    _SCALE: vec, _SHIFT: vec})
    p = _cached(("bn", x.shape, float(epsilon), training), build)
    if p is None:
        return None
    y = np.empty(x.shape, np.float32)
    c = x.shape[-1]
    if training:
        mean, variance = np.empty(c, np.float32), np.empty(c, np.float32)
    p(_get(), src=x, dst=y, mean=mean, variance=variance, scale=scale, shift=offset)
    return (y, mean, variance) if training else y


def batch_norm_backward(dy, x, scale, mean, variance, epsilon: float, training: bool):
    """``(dx, dscale, doffset)`` of ``batch_norm`` on contiguous float32 channels-last
    arrays, given the statistics it normalized with (``training``: the batch's, whose own
    dependence on ``x`` the gradient then includes).  None where oneDNN refuses."""
    def build(d):
        with _Build(d) as b:
            data, vec, fwd, flags = _bn_fwd(b, x.shape, epsilon, training)
            pd = b.pd(b.lib.dnnl_batch_normalization_backward_primitive_desc_create,
                      _BACKWARD, data, data, data, ctypes.c_float(epsilon), flags, fwd,
                      b.attr())
            return b.primitive(pd, {_SRC: data, _DIFF_DST: data, _DIFF_SRC: data,
                                    _MEAN: vec, _VARIANCE: vec, _SCALE: vec,
                                    _DIFF_SCALE: vec, _DIFF_SHIFT: vec})
    p = _cached(("bn_bwd", x.shape, float(epsilon), training), build)
    if p is None:
        return None
    c = x.shape[-1]
    dx = np.empty(x.shape, np.float32)
    dscale, doffset = np.empty(c, np.float32), np.empty(c, np.float32)
    p(_get(), src=x, diff_dst=dy, mean=mean, variance=variance, scale=scale, diff_src=dx,
      diff_scale=dscale, diff_shift=doffset)
    return dx, dscale, doffset


# ----- matrix products ---------------------------------------------------------------------
def _strided_md(b: _Build, arr_shape, arr_strides):
    return b.md(tuple(arr_shape), tuple(s // 4 for s in arr_strides))


#: multiply-adds from which a float32 matrix product goes to oneDNN: below, a call's ~15 us
#: of binding overhead outweighs its faster GEMM (10-30 % over OpenBLAS on mlp's shapes)
MATMUL_MIN_MACS = 1 << 18


def matmul_pays(m: int, k: int, n: int) -> bool:
    """Whether an ``(m, k) @ (k, n)`` float32 product should go to oneDNN."""
    return m * k * n >= MATMUL_MIN_MACS and available()


def product(a, b):
    """``a @ b`` for 2-D numpy arrays: through oneDNN for float32 products large enough to
    pay (``matmul_pays``), else numpy's."""
    if a.dtype == b.dtype == np.float32 and a.ndim == b.ndim == 2 and ENABLED and \
            matmul_pays(a.shape[0], a.shape[1], b.shape[1]) and matmul_takes(a, b):
        out = matmul(a, b)
        if out is not None:
            return out
    return np.matmul(a, b)


def matmul_takes(*arrays) -> bool:
    """Whether ``matmul`` can take these 2-D float32 arrays as they are (aligned, positive
    strides that are whole elements; transposed views are fine)."""
    return all(a.ndim == 2 and a.flags.aligned and all(s > 0 and s % 4 == 0 for s in a.strides)
               for a in arrays)


def matmul(a, b, out=None, alpha: float = 1.0, beta: float = 0.0):
    """``out = alpha * (a @ b) + beta * out`` for 2-D float32 arrays (any positive strides:
    transposed views run without a copy); ``out`` is allocated when None (then ``beta`` must
    be 0).  Returns ``out``, or None where oneDNN refuses."""
    m, n = a.shape[0], b.shape[1]
    if out is None:
        out = np.empty((m, n), np.float32)
    scaled = alpha != 1.0

    def build(d):
        with _Build(d) as bd:
            lib = bd.lib
            src = _strided_md(bd, a.shape, a.strides)
            wts = _strided_md(bd, b.shape, b.strides)
            dst = _strided_md(bd, out.shape, out.strides)
            attr = bd.attr()
            user = {_SRC: src, _WEIGHTS: wts, _DST: dst}
            if scaled:
                if lib.dnnl_primitive_attr_set_scales_mask(attr, _SRC, 0) != 0:
                    raise _Refused
                user[_ATTR_SCALES | _SRC] = bd.md((1,), (1,))
            if beta:
                po = _vp()
                if lib.dnnl_post_ops_create(ctypes.byref(po)) != 0:
                    raise _Refused
                bd.temp.append((lib.dnnl_post_ops_destroy, po))
                if lib.dnnl_post_ops_append_sum(po, ctypes.c_float(beta), 0, 0) != 0 or \
                        lib.dnnl_primitive_attr_set_post_ops(attr, po) != 0:
                    raise _Refused
            pd = bd.pd(lib.dnnl_matmul_primitive_desc_create, src, wts, None, dst, attr)
            return bd.primitive(pd, user)
    key = ("matmul", a.shape, a.strides, b.shape, b.strides, out.strides, scaled, float(beta))
    p = _cached(key, build)
    if p is None:
        return None
    if scaled:
        p(_get(), src=a, weights=b, dst=out, src_scale=np.array([alpha], np.float32))
    else:
        p(_get(), src=a, weights=b, dst=out)
    return out
