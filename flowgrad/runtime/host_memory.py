"""Keep freed host memory for reuse: the CPU side's caching allocator.

A training step allocates and frees the same large arrays every time (activations,
gradients, im2col chunks).  glibc's malloc serves blocks above its mmap threshold with
fresh ``mmap`` calls and gives freed memory back to the kernel (``munmap``, heap trimming),
so every step page-faults and zero-fills its working set again: a quarter of a ResNet-50
step at batch 4, measured.  PyTorch's and TF's CPU allocators avoid this by holding on
to memory; flowgrad asks glibc to do the same once, when the first CPU session starts:
blocks up to 32 MiB (glibc's ceiling for the threshold) come from the heap, and the heap
is not trimmed below 1 GiB of free space, so resident memory stays near the peak of a
step instead of being returned and faulted back in.

``FLOWGRAD_KEEP_HOST_MEMORY=0`` turns this off; on other C libraries it does nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20      # glibc's maximum on 64-bit systems
_TRIM_THRESHOLD = 1 << 30
_TOP_PAD = 64 << 20

_state: dict = {"done": False, "active": False}


def keep_freed_memory() -> bool:
    """Configure glibc malloc to keep freed memory (once per process). True if active."""
    if _state["done"]:
        return _state["active"]
    _state["done"] = True
    if os.environ.get("FLOWGRAD_KEEP_HOST_MEMORY", "1") == "0" or \
            not sys.platform.startswith("linux"):
        return False
    try:
        libc = _libc()
        mallopt = libc.mallopt
    except (OSError, AttributeError):       # musl and others: no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, _TRIM_THRESHOLD),
        (_M_TOP_PAD, _TOP_PAD)))
    _state["active"] = ok
    return ok


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")     # glibc's name: no ctypes.util (it imports subprocess)
    except OSError:
        from ctypes.util import find_library  # noqa: PLC0415
        return ctypes.CDLL(find_library("c"))
