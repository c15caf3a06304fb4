"""The CUDA kernels of the convolution and pooling ops (``ops.cuda_conv``, ``ops.cuda_pool``)
against the generic CPU kernels.

Three levels, each running where it can:

* on a real GPU (CuPy and a CUDA device): every CUDA kernel against the CPU kernel on a table
  of cases, through cuDNN and through the forced fallback (``$FLOWGRAD_CUDNN=0``), and a
  small training graph in a GPU session against a CPU session;
* without a GPU, where NVRTC is loadable: every generated CUDA C source compiled for
  ``compute_90`` (``$FLOWGRAD_NVRTC`` may name ``libnvrtc.so``);
* anywhere: the pooling sources compiled as C++ for the CPU (one loop iteration per CUDA
  thread, where a C++ compiler exists) and run through the kernels' own Python wrappers;
  the cuDNN wrappers against an emulated ``cudnn`` module that checks each graph's
  geometry as cuDNN would and computes it with direct loops -- layouts, filter transposes,
  padding and the fallback path are all exercised without a GPU.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import re
import shutil
import site
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.framework import registry
from flowgrad.ops import cuda_conv, cuda_pool
from flowgrad.runtime import backend, onednn

REAL_GPU = backend.gpu_available()

# ----- the case tables -------------------------------------------------------------------
# (NHWC input shape, filter HWIO, strides, padding, dilations)
CONV_CASES = [
    ((2, 7, 7, 3), (3, 3, 3, 4), (1, 1), "SAME", (1, 1)),
    ((2, 8, 6, 3), (3, 3, 3, 5), (2, 2), "SAME", (1, 1)),     # asymmetric SAME padding
    ((1, 9, 8, 2), (2, 3, 2, 3), (3, 2), "SAME", (1, 1)),
    ((2, 9, 9, 4), (3, 3, 4, 2), (1, 1), "VALID", (1, 1)),
    ((2, 10, 9, 3), (3, 2, 3, 4), (2, 3), "VALID", (1, 1)),   # leftover rows and columns
    ((1, 9, 10, 2), (3, 3, 2, 3), (1, 1), "SAME", (2, 2)),    # dilation 2
    ((1, 11, 9, 2), (2, 3, 2, 2), (1, 1), "VALID", (2, 2)),
    ((2, 6, 7, 3), (3, 3, 3, 2), (2, 1), ((1, 2), (0, 1)), (1, 1)),   # explicit padding
    ((2, 5, 5, 8), (1, 1, 8, 6), (1, 1), "VALID", (1, 1)),    # pointwise
    ((3, 8, 8, 1), (5, 5, 1, 6), (1, 1), "VALID", (1, 1)),    # LeNet's first layer
]
# (NHWC input shape, ksize, strides, padding, dilations)
POOL_CASES = [
    ((2, 8, 8, 3), (2, 2), (2, 2), "VALID", (1, 1)),
    ((2, 7, 9, 3), (3, 3), (2, 2), "SAME", (1, 1)),
    ((1, 6, 7, 2), (2, 3), (1, 2), "SAME", (1, 1)),
    ((2, 9, 8, 2), (3, 2), (3, 3), "VALID", (1, 1)),
    ((1, 9, 9, 2), (3, 3), (1, 1), "SAME", (2, 2)),           # dilated (tf.nn.pool)
    ((1, 1, 5, 2), (2, 2), (1, 1), "SAME", (3, 1)),           # windows of padding only
]
FORMATS = ("NHWC", "NCHW")
# windows of padding only: the CPU kernels' 0/0 (AvgPool's NaN) warns, as numpy does
_ZERO_COUNT = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def _layout(a, data_format):
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)) if data_format == "NCHW" else a


def _four(pair, data_format):
    return (1, 1) + tuple(pair) if data_format == "NCHW" else (1,) + tuple(pair) + (1,)


def _conv_attrs(padding, strides, dilations, data_format):
    if isinstance(padding, str):
        pad, explicit = padding, ()
    else:
        pairs = [(0, 0), (0, 0), padding[0], padding[1]] if data_format == "NCHW" else \
            [(0, 0), padding[0], padding[1], (0, 0)]
        pad, explicit = "EXPLICIT", tuple(v for p in pairs for v in p)
    return {"strides": _four(strides, data_format), "padding": pad,
            "explicit_paddings": explicit, "data_format": data_format,
            "dilations": _four(dilations, data_format)}


def _conv_inputs(case, data_format, dtype, seed=0):
    """``(x, w, dy, attrs)``: random inputs and an output gradient of the right shape."""
    xs, fs, strides, padding, dil = case
    rng = np.random.default_rng(seed)
    attrs = _conv_attrs(padding, strides, dil, data_format)
    x = _layout(rng.standard_normal(xs).astype(dtype), data_format)
    w = rng.standard_normal(fs).astype(dtype)
    y = _kernel("Conv2D", "cpu")(np, x, w, **attrs)
    dy = rng.standard_normal(y.shape).astype(dtype)
    return x, w, dy, attrs


def _pool_inputs(case, data_format, dtype, seed=0, ties=False):
    xs, k, strides, padding, dil = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs)
    if ties:                       # few distinct values: windows with several maxima
        x = np.round(x)
    attrs = {"ksize": _four(k, data_format), "strides": _four(strides, data_format),
             "padding": padding, "data_format": data_format,
             "dilations": _four(dil, data_format)}
    return _layout(x.astype(dtype), data_format), attrs


def _kernel(op_type, platform):
    return registry._OPS[op_type].kernel_for(platform)


def _close(got, want, dtype):
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _conv_runs(xp, x, w, dy, attrs):
    """The three conv kernels of ``platform`` (given its ``xp``) on one case."""
    plat = "cpu" if xp is np else "cuda"
    y = _kernel("Conv2D", plat)(xp, x, w, **attrs)
    dx = _kernel("Conv2DBackpropInput", plat)(xp, np.array(x.shape, np.int32), w, dy, **attrs)
    dw = _kernel("Conv2DBackpropFilter", plat)(xp, x, np.array(w.shape, np.int32), dy, **attrs)
    return y, dx, dw


def _pool_runs(xp, x, attrs):
    plat = "cpu" if xp is np else "cuda"
    y = _kernel("MaxPool", plat)(xp, x, **attrs)
    rng = np.random.default_rng(1)
    dy = xp.asarray(rng.standard_normal(y.shape).astype(x.dtype))
    dxm = _kernel("MaxPoolGrad", plat)(xp, x, y, dy, **attrs)
    a = _kernel("AvgPool", plat)(xp, x, **attrs)
    dxa = _kernel("AvgPoolGrad", plat)(xp, np.array(x.shape, np.int32), dy, **attrs)
    return y, dxm, a, dxa


def _conv_ids(case):
    xs, fs, s, p, d = case
    return f"{xs}-{fs[:2]}-s{s}-{p if isinstance(p, str) else 'EXPLICIT'}-d{d}"


def _pool_ids(case):
    xs, k, s, p, d = case
    return f"{xs}-k{k}-s{s}-{p}-d{d}"


# ----- a CPU stand-in for CuPy: numpy arrays with device pointers, RawKernels as C++ -------
class _DevArray(np.ndarray):
    """A numpy array that answers ``a.data.ptr`` as a CuPy array does."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)


def _dev(a):
    return np.ascontiguousarray(a).view(_DevArray)


_CXX_PRELUDE = """
#include <cstdint>
struct Idx { long long x; };
static Idx blockIdx, blockDim = {1}, threadIdx = {0};
#define __device__
#define __forceinline__ inline
#define __global__
template <class T> inline T atomicAdd(T* p, T v) { T old = *p; *p += v; return old; }
"""
_CTYPE_OF = {"int": ctypes.c_int, "long long": ctypes.c_longlong, "float": ctypes.c_float,
             "double": ctypes.c_double}


class _CpuRawKernel:
    """``cupy.RawKernel`` for the CPU: the CUDA C compiled as C++, one loop iteration per
    thread (``blockIdx.x`` runs over every flat index; the sources use no shared memory)."""

    _libs: dict = {}

    def __init__(self, source: str, name: str) -> None:
        m = re.search(r'extern "C" __global__ void ' + name + r"\((.*?)\)\s*\{", source, re.S)
        params = [p.strip() for p in m.group(1).split(",")]
        ctype = re.match(r"typedef (\w+) T;", source).group(1)
        self.argtypes, names = [], []
        for p in params:
            decl, pname = p.rsplit(None, 1)
            names.append(pname.lstrip("*"))
            base = decl.replace("const", "").strip()
            if "*" in p:
                self.argtypes.append(ctypes.c_void_p)
            else:
                self.argtypes.append(_CTYPE_OF[ctype if base == "T" else base])
        body = source.replace(f'extern "C" __global__ void {name}(',
                              f"static void {name}_thread(", 1)
        driver = (f'extern "C" void {name}({", ".join(params)}) {{\n'
                  f"    for (long long t = 0; t < total; ++t) {{ blockIdx.x = t; "
                  f"{name}_thread({', '.join(names)}); }}\n}}\n")
        self.fn = self._compile(_CXX_PRELUDE + body + driver, name)
        self.fn.argtypes = self.argtypes

    @classmethod
    def _compile(cls, code: str, name: str):
        digest = hashlib.sha1(code.encode()).hexdigest()[:16]
        if digest not in cls._libs:
            tmp = os.path.join(_CXX_DIR, digest)
            with open(tmp + ".cpp", "w") as f:
                f.write(code)
            subprocess.run([_CXX, "-O1", "-shared", "-fPIC", "-o", tmp + ".so", tmp + ".cpp"],
                           check=True, capture_output=True)
            cls._libs[digest] = ctypes.CDLL(tmp + ".so")
        return getattr(cls._libs[digest], name)

    def __call__(self, grid, block, args):
        conv = [a.ctypes.data if isinstance(a, np.ndarray) else a.item() for a in args]
        self.fn(*conv)


class _CpuCuda:
    """``xp.cuda`` for the stand-in: one device, one stream."""

    runtime = types.SimpleNamespace(getDevice=lambda: 0)

    @staticmethod
    def get_current_stream():
        return types.SimpleNamespace(ptr=1234)


class _CpuXp(types.ModuleType):
    """numpy with CuPy's ``RawKernel`` and ``cuda`` and arrays that have device pointers."""

    def __init__(self) -> None:
        super().__init__("cpu_cupy")
        self.cuda = _CpuCuda()
        self.RawKernel = _CpuRawKernel

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(shape, dtype=float):
        return np.empty(shape, dtype).view(_DevArray)

    @staticmethod
    def zeros(shape, dtype=float):
        return np.zeros(shape, dtype).view(_DevArray)

    @staticmethod
    def ascontiguousarray(a, dtype=None):
        return np.ascontiguousarray(a, dtype=dtype).view(_DevArray)


_CXX = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
_CXX_DIR = None


@pytest.fixture(autouse=True)
def _cuda_paths_on(monkeypatch):
    """The cuDNN and CUDA pooling paths are opt-in until they have run on a GPU: these tests
    turn them on (a test that checks the fallback sets its variable to 0 itself)."""
    monkeypatch.setenv("FLOWGRAD_CUDNN", "1")
    monkeypatch.setenv("FLOWGRAD_CUDA_POOL", "1")


@pytest.fixture(scope="module")
def cpu_xp(tmp_path_factory):
    global _CXX_DIR
    _CXX_DIR = str(tmp_path_factory.mktemp("cuda_as_cpp"))
    return _CpuXp()


# ----- the pooling kernels' CUDA C, run on the CPU ------------------------------------------
@pytest.mark.skipif(_CXX is None, reason="no C++ compiler to run the CUDA C sources on the CPU")
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@_ZERO_COUNT
def test_pool_sources_on_cpu(cpu_xp, dtype, data_format):
    for case in POOL_CASES:
        for ties in (False, True):
            x, attrs = _pool_inputs(case, data_format, dtype, ties=ties)
            want = _pool_runs(np, x, attrs)
            got = _pool_runs(cpu_xp, _dev(x), attrs)
            for g, w in zip(got, want):
                _close(np.asarray(g), w, dtype)


@pytest.mark.skipif(_CXX is None, reason="no C++ compiler to run the CUDA C sources on the CPU")
def test_max_pool_nan_and_all_padding_windows(cpu_xp):
    x = np.array([[[[1.0], [np.nan], [3.0], [2.0]]]])             # (1, 1, 4, 1)
    attrs = {"ksize": (1, 1, 2, 1), "strides": (1, 1, 1, 1), "padding": "SAME",
             "data_format": "NHWC", "dilations": (1, 1, 1, 1)}
    want, got = _pool_runs(np, x, attrs), _pool_runs(cpu_xp, _dev(x), attrs)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), w)


def test_pool_generic_dtypes_fall_back(cpu_xp):
    x, attrs = _pool_inputs(POOL_CASES[1], "NHWC", np.float16)
    for g, w in zip(_pool_runs(cpu_xp, _dev(x), attrs), _pool_runs(np, x, attrs)):
        np.testing.assert_array_equal(np.asarray(g), w)


# ----- the cuDNN wrappers against an emulated cudnn --------------------------------------
class _FakeTensor:
    def __init__(self, dim=None, stride=None, data_type=None, op=None) -> None:
        self.dim, self.stride, self.data_type, self.op = dim, stride, data_type, op
        self.output = False

    def set_output(self, flag):
        self.output = flag
        return self

    def set_dim(self, dim):
        self.dim = list(dim)
        return self

    def set_stride(self, stride):
        self.stride = list(stride)
        return self

    def set_data_type(self, dt):
        self.data_type = dt
        return self


def _view(ptr, t, dtype):
    """The array a fake tensor describes at device address ``ptr``."""
    item = np.dtype(dtype).itemsize
    n = 1 + sum((d - 1) * s for d, s in zip(t.dim, t.stride))
    buf = (ctypes.c_char * (n * item)).from_address(ptr)
    flat = np.frombuffer(buf, dtype=dtype)
    return np.lib.stride_tricks.as_strided(flat, t.dim, [s * item for s in t.stride])


def _taps_of(size, out, k, pre, stride, dil):
    """For kernel offset r: (output slice, input slice) of the taps inside the input."""
    res = []
    for r in range(k):
        o = [i for i in range(out) if 0 <= i * stride - pre + r * dil < size]
        if o:
            first = o[0] * stride - pre + r * dil
            res.append((r, slice(o[0], o[-1] + 1), slice(first, first + (len(o) - 1) * stride
                                                          + 1, stride)))
    return res


class _FakeGraph:
    """Checks a convolution graph as cuDNN's validate would, and computes it directly."""

    unsupported: set = set()       # data type names the fake refuses (like a missing engine)

    def __init__(self, io_data_type=None, intermediate_data_type=None, compute_data_type=None,
                 handle=None) -> None:
        assert handle == 7
        self.io = io_data_type
        self.node = None

    def tensor(self, dim, stride, data_type):
        assert len(dim) == len(stride) == 4
        return _FakeTensor(list(dim), list(stride), data_type)

    def _conv(self, kind, a, b, pre_padding, post_padding, stride, dilation,
              compute_data_type):
        out = _FakeTensor(op=kind)
        self.node = (kind, a, b, out, pre_padding, post_padding, stride, dilation)
        return out

    def conv_fprop(self, image, weight, **geom):
        return self._conv("fprop", image, weight, **geom)

    def conv_dgrad(self, loss, filter, **geom):  # noqa: A002
        return self._conv("dgrad", loss, filter, **geom)

    def conv_wgrad(self, image, loss, **geom):
        return self._conv("wgrad", image, loss, **geom)

    def validate(self):
        kind, a, b, out, pre, post, stride, dil = self.node
        assert out.output and out.data_type == self.io == a.data_type == b.data_type
        x, w, y = {"fprop": (a, b, out), "dgrad": (out, b, a), "wgrad": (a, out, b)}[kind]
        n, c, h, wd = x.dim
        k, cw, r, s = w.dim
        assert cw == c and y.dim[:2] == [n, k]
        for ax, (size, kk) in enumerate(((h, r), (wd, s))):
            span = (kk - 1) * dil[ax] + 1
            assert y.dim[2 + ax] == (size + pre[ax] + post[ax] - span) // stride[ax] + 1
        for t in (x, w, y):         # packed NCHW or NHWC strides, nothing else
            nn, cc, hh, ww = t.dim
            assert t.stride in ([cc * hh * ww, hh * ww, ww, 1], [hh * ww * cc, 1, ww * cc, cc])

    def build_operation_graph(self):
        pass

    def create_execution_plans(self, modes):
        assert modes
        self.planned = True

    def deselect_numeric_notes(self, notes):
        assert self.planned           # filters the plans created
        self.deselected = notes

    def check_support(self):
        if self.io in self.unsupported:
            raise _FakeCudnn.cudnnGraphNotSupportedError("no engine")

    def build_plans(self):
        pass

    def get_workspace_size(self):
        return 64

    def execute(self, buffers, workspace, handle=None):
        assert handle == 7 and workspace != 0
        kind, a, b, out, pre, post, stride, dil = self.node
        dt = {"FLOAT": np.float32, "DOUBLE": np.float64, "HALF": np.float16}[self.io]
        va, vb, vo = (_view(buffers[t], t, dt) for t in (a, b, out))
        x, w, y = {"fprop": (va, vb, vo), "dgrad": (vo, vb, va), "wgrad": (va, vo, vb)}[kind]
        th = _taps_of(x.shape[2], y.shape[2], w.shape[2], pre[0], stride[0], dil[0])
        tw = _taps_of(x.shape[3], y.shape[3], w.shape[3], pre[1], stride[1], dil[1])
        acc = np.zeros(vo.shape, np.float64)
        for r, oh, ih in th:
            for s, ow, iw in tw:
                if kind == "fprop":
                    acc[:, :, oh, ow] += np.einsum("nchw,kc->nkhw", x[:, :, ih, iw], w[:, :, r, s])
                elif kind == "dgrad":
                    acc[:, :, ih, iw] += np.einsum("nkhw,kc->nchw", y[:, :, oh, ow], w[:, :, r, s])
                else:
                    acc[:, :, r, s] += np.einsum("nchw,nkhw->kc", x[:, :, ih, iw], y[:, :, oh, ow])
        vo[...] = acc


class _FakeCudnn(types.ModuleType):
    class cudnnGraphNotSupportedError(Exception):  # noqa: N801 - cudnn's own name
        pass

    data_type = types.SimpleNamespace(FLOAT="FLOAT", DOUBLE="DOUBLE", HALF="HALF")
    heur_mode = types.SimpleNamespace(A="A", FALLBACK="FALLBACK")
    numerical_note = types.SimpleNamespace(TENSOR_CORE=1, DOWN_CONVERT_INPUTS=2,
                                           REDUCED_PRECISION_REDUCTION=3)
    pygraph = _FakeGraph

    def __init__(self) -> None:
        super().__init__("cudnn")
        self.streams = []

    def create_handle(self):
        return 7

    def set_stream(self, handle, stream):
        self.streams.append((handle, stream))


@pytest.fixture
def fake_cudnn(monkeypatch):
    state = cuda_conv._State()
    state.cudnn = _FakeCudnn()
    monkeypatch.setattr(cuda_conv, "_STATE", state)
    monkeypatch.setattr(_FakeGraph, "unsupported", set())
    return state


@pytest.mark.parametrize("data_format", FORMATS)
def test_cudnn_float64_runs_the_generic_kernels(fake_cudnn, cpu_xp, data_format):
    """float64 never goes to cuDNN (see ``cuda_conv._IO_TYPES``)."""
    x, w, dy, attrs = _conv_inputs(CONV_CASES[1], data_format, np.float64)
    for g, ww in zip(_conv_runs(cpu_xp, _dev(x), _dev(w), _dev(dy), attrs),
                     _conv_runs(np, x, w, dy, attrs)):
        _close(np.asarray(g), ww, np.float64)
    assert fake_cudnn.counts == {"cudnn": 0, "generic": 3} and not fake_cudnn.plans


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32])
def test_cudnn_wrappers_emulated(fake_cudnn, cpu_xp, dtype, data_format):
    for case in CONV_CASES:
        x, w, dy, attrs = _conv_inputs(case, data_format, dtype)
        want = _conv_runs(np, x, w, dy, attrs)
        got = _conv_runs(cpu_xp, _dev(x), _dev(w), _dev(dy), attrs)
        for g, ww in zip(got, want):
            _close(np.asarray(g), ww, dtype)
    counts = fake_cudnn.counts
    assert counts == {"cudnn": 3 * len(CONV_CASES), "generic": 0}
    assert len(fake_cudnn.plans) == 3 * len(CONV_CASES)
    # float32 keeps its own precision: no TF32 tensor-core engines
    assert all(p.graph.deselected == [1, 2, 3] for p in fake_cudnn.plans.values())
    # a second run uses the cached graphs
    _conv_runs(cpu_xp, _dev(x), _dev(w), _dev(dy), attrs)
    assert len(fake_cudnn.plans) == 3 * len(CONV_CASES)
    assert fake_cudnn.cudnn.streams == [(7, 1234)]


def test_cudnn_unsupported_and_disabled_fall_back(fake_cudnn, cpu_xp, monkeypatch):
    _FakeGraph.unsupported.add("FLOAT")
    x, w, dy, attrs = _conv_inputs(CONV_CASES[1], "NHWC", np.float32)
    want = _conv_runs(np, x, w, dy, attrs)
    for _ in range(2):
        got = _conv_runs(cpu_xp, _dev(x), _dev(w), _dev(dy), attrs)
        for g, ww in zip(got, want):
            _close(np.asarray(g), ww, np.float32)
    assert fake_cudnn.counts == {"cudnn": 0, "generic": 6}
    assert all("no engine" in r for r in cuda_conv.stats()["unsupported"].values())
    monkeypatch.setenv("FLOWGRAD_CUDNN", "0")
    x, w, dy, attrs = _conv_inputs(CONV_CASES[0], "NCHW", np.float32)
    _conv_runs(cpu_xp, _dev(x), _dev(w), _dev(dy), attrs)
    assert fake_cudnn.counts["cudnn"] == 0


def test_cudnn_execute_failure_warns_once_and_falls_back(fake_cudnn, cpu_xp, monkeypatch):
    def broken(self, buffers, workspace, handle=None):
        raise RuntimeError("CUDNN_STATUS_EXECUTION_FAILED")

    monkeypatch.setattr(_FakeGraph, "execute", broken)
    x, w, dy, attrs = _conv_inputs(CONV_CASES[0], "NHWC", np.float32)
    conv = _kernel("Conv2D", "cuda")
    with pytest.warns(RuntimeWarning, match="EXECUTION_FAILED"):
        y = conv(cpu_xp, _dev(x), _dev(w), **attrs)
    np.testing.assert_array_equal(np.asarray(y), _kernel("Conv2D", "cpu")(np, x, w, **attrs))
    conv(cpu_xp, _dev(x), _dev(w), **attrs)          # no second warning: the plan is gone
    assert fake_cudnn.counts == {"cudnn": 0, "generic": 2}
    assert list(fake_cudnn.plans.values()) == [None]


def test_cudnn_without_its_library_falls_back(fake_cudnn, cpu_xp, monkeypatch):
    monkeypatch.setattr(onednn, "ENABLED", False)      # the same generic kernels as on CPU
    def missing():
        raise RuntimeError("Unable to find symbol cudnnCreate")

    monkeypatch.setattr(fake_cudnn.cudnn, "create_handle", missing)
    x, w, dy, attrs = _conv_inputs(CONV_CASES[3], "NCHW", np.float32)
    with pytest.warns(RuntimeWarning, match="cudnnCreate"):
        got = _conv_runs(cpu_xp, _dev(x), _dev(w), _dev(dy), attrs)
    for g, ww in zip(got, _conv_runs(np, x, w, dy, attrs)):
        np.testing.assert_array_equal(np.asarray(g), ww)
    assert fake_cudnn.counts == {"cudnn": 0, "generic": 3}
    assert not cuda_conv.available() and "cudnnCreate" in cuda_conv.stats()["import_error"]


def test_without_cudnn_the_generic_kernels_run(monkeypatch, cpu_xp):
    monkeypatch.setattr(onednn, "ENABLED", False)      # the same generic kernels as on CPU
    state = cuda_conv._State()
    state.import_error = "ModuleNotFoundError: No module named 'cudnn'"
    monkeypatch.setattr(cuda_conv, "_STATE", state)
    x, w, dy, attrs = _conv_inputs(CONV_CASES[2], "NHWC", np.float32)
    for g, ww in zip(_conv_runs(cpu_xp, _dev(x), _dev(w), _dev(dy), attrs),
                     _conv_runs(np, x, w, dy, attrs)):
        np.testing.assert_array_equal(np.asarray(g), ww)
    assert state.counts == {"cudnn": 0, "generic": 3}


def test_cpu_import_loads_neither_cupy_nor_cudnn():
    code = "import sys, flowgrad; print('cupy' in sys.modules, 'cudnn' in sys.modules)"
    env = dict(os.environ, FLOWGRAD_DEVICE="cpu")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=os.path.dirname(os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.split() == ["False", "False"]


# ----- NVRTC: every CUDA C source compiles for the H100/H200 --------------------------------
def _nvrtc():
    """libnvrtc through ctypes, or None."""
    cands = [os.environ.get("FLOWGRAD_NVRTC", "")]
    for d in site.getsitepackages() + [site.getusersitepackages()] + sys.path:
        cands += sorted(glob.glob(os.path.join(d, "nvidia", "*", "lib", "libnvrtc.so*")))
        cands += sorted(glob.glob(os.path.join(d, "nvidia", "cuda_nvrtc", "lib",
                                               "libnvrtc.so*")))
    cands += ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"]
    for c in cands:
        if c and "builtins" not in c:
            try:
                return ctypes.CDLL(c)
            except OSError:
                continue
    return None


def nvrtc_compile(lib, source: str, name: str, arch: str = "compute_90") -> tuple[int, str]:
    """``(status, log)`` of compiling ``source`` with NVRTC (0: success)."""
    prog = ctypes.c_void_p()
    rc = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None,
                                None)
    assert rc == 0, f"nvrtcCreateProgram: {rc}"
    opts = [f"--gpu-architecture={arch}".encode(), b"-default-device"]
    arr = (ctypes.c_char_p * len(opts))(*opts)
    status = lib.nvrtcCompileProgram(prog, len(opts), arr)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return status, log.value.decode(errors="replace")


_NVRTC = _nvrtc()


@pytest.mark.skipif(_NVRTC is None, reason="NVRTC (libnvrtc) is not loadable here")
@pytest.mark.parametrize("name", sorted(cuda_pool.SOURCES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_sources_compile_with_nvrtc(name, dtype):
    status, log = nvrtc_compile(_NVRTC, cuda_pool.source(name, dtype), name + ".cu")
    assert status == 0, log
    assert "warning" not in log, log


# ----- on a real GPU -------------------------------------------------------------------------
gpu = pytest.mark.skipif(not REAL_GPU, reason="needs CuPy and a CUDA device")


def _cupy():
    return backend.gpu().xp


@gpu
@pytest.mark.parametrize("cudnn_on", ["1", "0"])
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_kernels_on_gpu(monkeypatch, cudnn_on, dtype, data_format):
    monkeypatch.setenv("FLOWGRAD_CUDNN", cudnn_on)
    cp = _cupy()
    cuda_conv.reset_stats()
    for case in CONV_CASES:
        x, w, dy, attrs = _conv_inputs(case, data_format, dtype)
        want = _conv_runs(np, x, w, dy, attrs)
        got = _conv_runs(cp, cp.asarray(x), cp.asarray(w), cp.asarray(dy), attrs)
        for g, ww in zip(got, want):
            assert isinstance(g, cp.ndarray) and g.flags.c_contiguous
            _close(cp.asnumpy(g), ww, dtype)
    st = cuda_conv.stats()
    if cudnn_on == "0":
        assert st["counts"]["cudnn"] == 0
    elif dtype == np.float32 and cuda_conv.available():
        assert st["counts"]["cudnn"] > 0, st         # cuDNN really ran
        if st["counts"]["generic"]:                   # refusals are legal, but worth seeing
            warnings.warn(f"cuDNN refused {st['counts']['generic']} of the float32 "
                          f"{data_format} convolutions: {st['unsupported']}")


@gpu
@pytest.mark.parametrize("data_format", FORMATS)
def test_conv_kernels_on_gpu_float16(data_format):
    """float16 (computed in float32 by cuDNN) against the float64 CPU kernels."""
    cp = _cupy()
    for case in CONV_CASES[:4]:
        x, w, dy, attrs = _conv_inputs(case, data_format, np.float64)
        want = _conv_runs(np, x, w, dy, attrs)
        h = [cp.asarray(a.astype(np.float16)) for a in (x, w, dy)]
        got = _conv_runs(cp, *h, attrs)
        for g, ww in zip(got, want):
            assert g.dtype == np.float16 and g.shape == ww.shape
            scale = np.abs(ww).max()
            np.testing.assert_allclose(cp.asnumpy(g).astype(np.float64), ww, rtol=0,
                                       atol=2e-2 * scale)


@gpu
@pytest.mark.parametrize("pool_on", ["1", "0"])
@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@_ZERO_COUNT
def test_pool_kernels_on_gpu(monkeypatch, pool_on, dtype, data_format):
    monkeypatch.setenv("FLOWGRAD_CUDA_POOL", pool_on)
    cp = _cupy()
    for case in POOL_CASES:
        for ties in (False, True):
            x, attrs = _pool_inputs(case, data_format, dtype, ties=ties)
            want = _pool_runs(np, x, attrs)
            got = _pool_runs(cp, cp.asarray(x), attrs)
            for g, w in zip(got, want):
                _close(cp.asnumpy(g), w, dtype)


@gpu
def test_conv_net_step_gpu_matches_cpu():
    """A conv / pool / dense training step in a GPU session against a CPU session."""
    rng = np.random.default_rng(0)
    xv = rng.standard_normal((4, 12, 12, 3)).astype(np.float32)
    yv = rng.integers(0, 5, 4)
    results = []
    for device in ({"GPU": 1}, {"GPU": 0}):
        with tf.Graph().as_default():
            tf.set_random_seed(1)
            x = tf.constant(xv)
            w1 = tf.Variable(tf.random_normal([3, 3, 3, 4], stddev=0.3, seed=2))
            w2 = tf.Variable(tf.random_normal([3 * 3 * 4, 5], stddev=0.3, seed=3))
            h = tf.nn.relu(tf.nn.conv2d(x, w1, [1, 2, 2, 1], "SAME"))
            h = tf.nn.avg_pool(tf.nn.max_pool(h, [1, 2, 2, 1], [1, 1, 1, 1], "SAME"),
                               [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
            logits = tf.matmul(tf.reshape(h, [4, -1]), w2)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.constant(yv), logits=logits))
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
            cfg = tf.ConfigProto(device_count=device)
            with tf.Session(config=cfg) as sess:
                sess.run(tf.global_variables_initializer())
                losses = [sess.run([loss, step])[0] for _ in range(3)]
                results.append((losses, sess.run(w1)))
    (lg, wg), (lc, wc) = results
    np.testing.assert_allclose(lg, lc, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(wg, wc, rtol=1e-4, atol=1e-5)


@gpu
@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
def test_sparse_xent_on_gpu_matches_cpu_and_gives_nan_for_bad_labels(label_dtype):
    """As TF's GPU kernel: an out-of-range label makes its row NaN instead of raising."""
    cp = _cupy()
    rng = np.random.default_rng(0)
    f = rng.standard_normal((5, 7))
    lab = np.array([0, 6, 3, 2, 1], label_dtype)
    want = _kernel("SparseSoftmaxCrossEntropyWithLogits", "cpu")(np, f, lab)
    got = _kernel("SparseSoftmaxCrossEntropyWithLogits", "cuda")(cp, cp.asarray(f),
                                                                  cp.asarray(lab))
    for g, w in zip(got, want):
        np.testing.assert_allclose(cp.asnumpy(g), w, rtol=1e-12, atol=1e-14)
    lab[[1, 3]] = [7, -1]
    loss, bp = (cp.asnumpy(a) for a in _kernel("SparseSoftmaxCrossEntropyWithLogits", "cuda")(
        cp, cp.asarray(f), cp.asarray(lab)))
    assert np.isnan(loss[[1, 3]]).all() and np.isnan(bp[[1, 3]]).all()
    assert np.isfinite(loss[[0, 2, 4]]).all() and np.isfinite(bp[[0, 2, 4]]).all()


@gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 20, 20, 64), (3, 7, 5, 200), (2, 1, 1, 5)])
def test_batch_norm_kernels_on_gpu_match_cpu(dtype, shape):
    """Training batch norm forward and gradient, large enough for many row groups and the
    four-row loop, with a mean far from zero (the shifted sums must not cancel)."""
    cp = _cupy()
    rng = np.random.default_rng(0)
    c = shape[-1]
    x = (100.0 + 3.0 * rng.standard_normal(shape)).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    scale, offset = (rng.standard_normal(c).astype(dtype) for _ in range(2))
    mean, var = rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype)
    tol = {np.float32: 2e-4, np.float64: 1e-10}[dtype]
    for stats in ((mean, var), (np.zeros(0, dtype), np.zeros(0, dtype))):
        factor = 0.3 if stats[0].size else 1.0
        args = (x, scale, offset, *stats)
        want = _kernel("FusedBatchNormV3", "cpu")(np, *args, epsilon=1e-3,
                                                   exponential_avg_factor=factor)
        got = _kernel("FusedBatchNormV3", "cuda")(cp, *(cp.asarray(a) for a in args),
                                                  epsilon=1e-3, exponential_avg_factor=factor)
        for g, w in zip(got[:5], want[:5]):
            np.testing.assert_allclose(cp.asnumpy(g), w, rtol=tol, atol=tol)
    mu, v = want[3], want[4]
    gargs = (dy, x, scale, mu, v, np.zeros(0, dtype))
    want = _kernel("FusedBatchNormGradV3", "cpu")(np, *gargs, epsilon=1e-3)
    got = _kernel("FusedBatchNormGradV3", "cuda")(cp, *(cp.asarray(a) for a in gargs),
                                                  epsilon=1e-3)
    for g, w in zip(got[:3], want[:3]):
        np.testing.assert_allclose(cp.asnumpy(g), w, rtol=tol, atol=tol * 10)
