"""The one seam between ops and a device: which array module (``xp``) kernels receive.

CPU kernels get numpy.  The GPU backend hands them CuPy; this is the only module that
imports cupy, and only when a GPU is asked for or probed, so CPU-only use never touches it.
A session picks its device once (``select``): the GPU when one is visible and the config
does not say ``device_count={'GPU': 0}``, else the CPU — TF's default.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np


class Backend:
    """A device's array module plus conversions to and from host numpy arrays."""

    name = "cpu"
    device_name = "/device:CPU:0"
    #: which device-specific kernels (``OpBuilder.device_kernel``) apply: "cuda" on CuPy
    platform = "cpu"
    xp = np
    array_type = np.ndarray     # what a fed value becomes on this device (plans guard it)

    def asarray(self, value, dtype=None):
        return np.asarray(value, dtype=dtype)

    def to_host(self, value):
        return value

    def synchronize(self) -> None:
        pass


class CupyBackend(Backend):
    name = "gpu"
    device_name = "/device:GPU:0"
    platform = "cuda"

    def __init__(self) -> None:
        import cupy  # noqa: PLC0415 - the only cupy import in flowgrad
        self.xp = cupy
        self.array_type = cupy.ndarray

    def asarray(self, value, dtype=None):
        return self.xp.asarray(value, dtype=dtype)

    def to_host(self, value):
        return self.xp.asnumpy(value) if isinstance(value, self.xp.ndarray) else value

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()


_CPU = Backend()
_GPU: list = []            # probed once: [CupyBackend] or [None]


def cpu() -> Backend:
    return _CPU


def gpu() -> Backend | None:
    """The GPU backend, or None when CuPy or a CUDA device is missing."""
    if not _GPU:
        try:
            import cupy  # noqa: PLC0415
            _GPU.append(CupyBackend() if cupy.cuda.runtime.getDeviceCount() > 0 else None)
        except Exception:  # noqa: BLE001 - any import or driver failure means "no GPU"
            _GPU.append(None)
    return _GPU[0]


def gpu_available() -> bool:
    return gpu() is not None


@contextlib.contextmanager
def use_gpu_backend(backend: Backend | None):
    """Installs ``backend`` as "the GPU" (tests use a strict simulated device)."""
    saved = list(_GPU)
    _GPU[:] = [backend]
    try:
        yield backend
    finally:
        _GPU[:] = saved


def select(config=None) -> Backend:
    """The session's device: ``$FLOWGRAD_DEVICE`` (cpu/gpu), then the config, then the GPU
    if one is visible."""
    want = os.environ.get("FLOWGRAD_DEVICE", "").lower()
    if want == "cpu":
        return _CPU
    count = getattr(config, "device_count", {}) or {}
    if count.get("GPU", 1) == 0:
        return _CPU
    if want == "gpu" and not gpu_available():
        raise RuntimeError("FLOWGRAD_DEVICE=gpu but no GPU is usable: install flowgrad[gpu] "
                           "(CuPy) on a machine with a CUDA device.")
    if not _GPU and not want:
        # probing imports cupy: only do it when cupy is installed at all
        import importlib.util  # noqa: PLC0415
        if importlib.util.find_spec("cupy") is None:
            return _CPU
    return gpu() or _CPU


class PhysicalDevice:
    def __init__(self, name: str, device_type: str) -> None:
        self.name, self.device_type = name, device_type

    def __repr__(self) -> str:
        return f"PhysicalDevice(name='{self.name}', device_type='{self.device_type}')"


def list_physical_devices(device_type: str | None = None) -> list[PhysicalDevice]:
    """``tf.config.list_physical_devices``: the CPU, and the GPU when one is usable."""
    devs = [PhysicalDevice("/physical_device:CPU:0", "CPU")]
    import importlib.util  # noqa: PLC0415
    if importlib.util.find_spec("cupy") is not None or _GPU:
        if gpu_available():
            devs.append(PhysicalDevice("/physical_device:GPU:0", "GPU"))
    if device_type is not None:
        devs = [d for d in devs if d.device_type == device_type.upper()]
    return devs
