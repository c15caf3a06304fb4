"""Training, layers, control flow, RNNs and metrics with the strict simulated device as
the default GPU: device plans (specialized and folded on the device, fused elementwise
kernels run member by member, one-call updates, placed constants, planned copies) against
the same tests' CPU expectations.  One subprocess, so it runs on CPU CI; ~30 s."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["tests/framework", "tests/layers", "tests/train", "tests/nn", "tests/losses",
         "tests/ops/test_control_flow.py", "tests/ops/test_rnn.py", "tests/metrics"]


def test_training_suites_pass_on_the_simulated_device():
    env = dict(os.environ, FLOWGRAD_TEST_DEVICE="simulated",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          "-p", "no:xdist", *PARTS], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout.strip().splitlines()[-1]
