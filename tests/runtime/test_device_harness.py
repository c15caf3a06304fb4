"""The op harness on a device against the CPU: on the real GPU when CuPy sees one, else on
the strict simulated device (which checks that every host/device copy is in place)."""

import importlib.util
from pathlib import Path

import pytest

from flowgrad.runtime import backend
from flowgrad.testing.fake_device import FakeDeviceBackend
from flowgrad.testing.op_test import check_device_parity

OPS_DIR = Path(__file__).resolve().parents[1] / "ops"


def _cases():
    out = []
    for path in sorted(OPS_DIR.glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"_dev_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out.extend(getattr(mod, "CASES", []))
    return out


CASES = _cases()
REAL_GPU = backend.gpu_available()


@pytest.fixture(scope="module")
def device():
    if REAL_GPU:
        yield backend.gpu()
    else:
        with backend.use_gpu_backend(FakeDeviceBackend()) as dev:
            yield dev


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op_on_device_matches_cpu(case, device):
    check_device_parity(case)
