"""The benchmark workloads: each runs a step and its loss falls (no timing asserts)."""

import numpy as np
import pytest

from flowgrad import bench

FRAMEWORKS = [f for f in ("flowgrad", "numpy", "torch", "tensorflow", "jax")
              if bench.available(f)]


# resnet50 runs as its small variant (same network, 4 channels, one block per stage)
OPTIONS = {"resnet50": bench.RESNET_TINY}


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("workload", ["xor", "mlp", "lenet", "resnet50"])
def test_workload_trains(workload, framework):
    if not bench.workload_available(workload):
        pytest.skip("needs tf.nn.conv2d / tf.nn.max_pool / tf.nn.fused_batch_norm")
    if framework not in ("flowgrad", "numpy") and workload != "xor":
        pytest.skip("other frameworks: the xor step is enough to check the wiring")
    try:
        r = bench.make_runner(framework, workload, **OPTIONS.get(workload, {}))
    except (ImportError, OSError) as e:      # an optional framework that does not load here
        if framework in ("flowgrad", "numpy"):
            raise
        pytest.skip(f"{framework} does not load: {e}")
    steps = {"xor": 40, "mlp": 4, "lenet": 3, "resnet50": 3}[workload]
    losses = [r.loss() for _ in range(steps)]
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0]


def test_flowgrad_and_numpy_agree_on_the_first_loss():
    for w in ("xor", "mlp"):
        a = bench.make_runner("flowgrad", w).loss()
        b = bench.make_runner("numpy", w).loss()
        assert abs(a - b) <= 1e-5 * max(1.0, abs(b))


def test_resnet50_parameters():
    x, y, params, _ = bench._resnet50_data()
    assert x.shape == (4, 224, 224, 3) and y.shape == (4, 1000)
    assert sum(p.size for p in params) == 25_557_032          # ResNet-50 v1.5
    assert len(params) == 3 * 53 + 2                             # 53 conv + BN, dense
    assert bench._resnet_blocks((3, 4, 6, 3))[3:5] == [(2, True), (1, False)]


def test_same_padding_matches_tf():
    assert bench._same_pad(112, 3, 2) == (0, 1)
    assert bench._same_pad(224, 7, 2) == (2, 3)
    assert bench._same_pad(7, 3, 2) == (1, 1)
    assert bench._same_pad(56, 3, 1) == (1, 1)


def _directional_errors(f, grads, params, rng, eps=1e-6):
    """|finite difference - analytic| / scale along a random direction, per tensor."""
    errs = []
    for i, p in enumerate(params):
        v = rng.standard_normal(p.shape)
        up, down = list(params), list(params)
        up[i], down[i] = p + eps * v, p - eps * v
        num = (f(up) - f(down)) / (2 * eps)
        ana = float((grads[i] * v).sum())
        errs.append(abs(num - ana) / max(abs(num) + abs(ana), 1e-8))
    return errs


def _tiny_resnet_float64():
    """The small ResNet variant's data and initial weights, in float64."""
    x, y, params, _ = bench._resnet50_data(**bench.RESNET_TINY)
    return x.astype(np.float64), y.astype(np.float64), [p.astype(np.float64) for p in params]


def test_numpy_resnet_gradients_match_finite_differences():
    opts = bench.RESNET_TINY
    x, y, params = _tiny_resnet_float64()
    loss, grads, stats = bench._np_resnet_grads(x, y, params, opts["blocks"])
    assert len(stats) == (len(params) - 2) // 3
    assert [g.shape for g in grads] == [p.shape for p in params]

    def f(ps):
        return bench._np_resnet_grads(x, y, ps, opts["blocks"])[0]
    errs = _directional_errors(f, grads, params, np.random.default_rng(1))
    assert max(errs) < 1e-6, errs


def test_flowgrad_resnet_gradients_match_numpy_in_float64():
    import flowgrad as tf

    opts = bench.RESNET_TINY
    x, y, params = _tiny_resnet_float64()
    want_loss, want, _ = bench._np_resnet_grads(x, y, params, opts["blocks"])
    with tf.Graph().as_default():
        ws = [tf.Variable(p) for p in params]
        loss, updates = bench._tf_resnet(tf, tf.constant(x), tf.constant(y), ws,
                                         opts["blocks"])
        assert len(updates) == 2 * len(ws[:-2:3])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            got_loss, got = sess.run([loss, tf.gradients(loss, ws)])
    assert abs(got_loss - want_loss) < 1e-12
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


def test_resnet_frameworks_agree_over_steps():
    a = bench.make_runner("flowgrad", "resnet50", **bench.RESNET_TINY)
    b = bench.make_runner("numpy", "resnet50", **bench.RESNET_TINY)
    for _ in range(2):
        la, lb = a.loss(), b.loss()
        assert abs(la - lb) <= 1e-4 * max(1.0, abs(lb))


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


def test_profile_of_a_traced_step(capsys):
    assert bench.main(["xor", "--frameworks", "flowgrad", "--rounds", "1", "--steps", "1",
                       "--warmup", "0", "--no-subprocess", "--profile", "3"]) == 0
    out = capsys.readouterr().out
    assert "op type" in out and "MatMul" in out and "slowest ops:" in out


def test_isolated_workers_report_peak_rss():
    res = bench.measure("xor", ["flowgrad"], rounds=1, steps=2, warmup=1, isolate=True)
    assert res["flowgrad"]["n"] == 2 and res["flowgrad"]["peak_rss_mb"] > 0


def test_isolated_profile_keeps_the_timed_peak_rss():
    res = bench.measure("xor", ["flowgrad"], rounds=1, steps=1, warmup=0, isolate=True,
                        profile=2)
    assert "op type" in res["flowgrad"]["profile"] and res["flowgrad"]["peak_rss_mb"] > 0


def test_measure_passes_workload_options():
    res = bench.measure("resnet50", ["numpy"], rounds=2, steps=1, warmup=0,
                        options=bench.RESNET_TINY)
    assert res["numpy"]["n"] == 2 and res["numpy"]["first_ms"] > 0
