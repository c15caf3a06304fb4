"""The benchmark workloads: each runs a step and its loss falls (no timing asserts)."""

import numpy as np
import pytest

from flowgrad import bench

FRAMEWORKS = [f for f in ("flowgrad", "numpy", "torch", "tensorflow", "jax")
              if bench.available(f)]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("workload", ["xor", "mlp", "lenet"])
def test_workload_trains(workload, framework):
    if not bench.workload_available(workload):
        pytest.skip("needs tf.nn.conv2d / tf.nn.max_pool")
    if framework not in ("flowgrad", "numpy") and workload != "xor":
        pytest.skip("other frameworks: the xor step is enough to check the wiring")
    try:
        r = bench.make_runner(framework, workload)
    except (ImportError, OSError) as e:      # an optional framework that does not load here
        if framework in ("flowgrad", "numpy"):
            raise
        pytest.skip(f"{framework} does not load: {e}")
    steps = {"xor": 40, "mlp": 4, "lenet": 3}[workload]
    losses = [r.loss() for _ in range(steps)]
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0]


def test_flowgrad_and_numpy_agree_on_the_first_loss():
    for w in ("xor", "mlp"):
        a = bench.make_runner("flowgrad", w).loss()
        b = bench.make_runner("numpy", w).loss()
        assert abs(a - b) <= 1e-5 * max(1.0, abs(b))


def test_measure_and_table():
    res = bench.measure("xor", ["flowgrad", "numpy"], rounds=2, steps=3, warmup=1)
    assert set(res) == {"flowgrad", "numpy"}
    assert all(r["median_ms"] > 0 and r["n"] == 6 for r in res.values())
    table = bench.format_table("xor", res)
    assert "flowgrad" in table and "numpy" in table


def test_main_runs(capsys):
    assert bench.main(["xor", "--frameworks", "flowgrad,numpy", "--rounds", "1", "--steps",
                       "2", "--warmup", "0", "--no-subprocess"]) == 0
    out = capsys.readouterr().out
    assert "xor: median ms/step" in out


def test_isolated_workers_report_peak_rss():
    res = bench.measure("xor", ["flowgrad"], rounds=1, steps=2, warmup=1, isolate=True)
    assert res["flowgrad"]["n"] == 2 and res["flowgrad"]["peak_rss_mb"] > 0
