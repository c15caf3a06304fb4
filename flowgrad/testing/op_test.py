"""The table-driven op harness: one ``OpCase`` row checks an op end to end.

For each case it builds the op on float64 placeholders and checks

* the forward value against a numpy reference,
* the static shape inferred at build time against the runtime shape (and that the op also
  builds and runs when the placeholders' shapes are unknown),
* first-order gradients against central finite differences, along random directions
  (``v^T J u`` — the check autograd and JAX use),
* second-order gradients the same way, for smooth ops.

Usage::

    CASES = [OpCase("sin", tf.sin, np.sin, [(3, 4)]), ...]

    @pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
    def test_op(case):
        check_op(case)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass
class OpCase:
    name: str
    fn: Callable                       # builds the output tensor(s) from input tensors
    ref: Callable | None               # numpy reference on arrays; None: skip forward check
    shapes: Sequence[tuple]            # one shape per input
    domain: tuple | Sequence[tuple] = (-2.0, 2.0)   # sampling range (per input, optional)
    inputs: Sequence | None = None     # explicit input arrays (override sampling)
    grad_inputs: Sequence[int] | None = None   # which inputs to differentiate (default: floats)
    order2: bool = True                # also check second-order gradients
    grad: bool = True                  # check gradients at all
    dynamic: bool = True               # also build with unknown-shape placeholders
    rtol: float = 1e-6
    atol: float = 1e-8
    grad_tol: float = 1e-5
    eps: float = 1e-6
    seed: int = 0
    setup: Callable | None = None       # called before the row runs (e.g. an MPI init)
    extra: dict = field(default_factory=dict)


def _sample(case: OpCase, rng: np.random.Generator) -> list[np.ndarray]:
    if case.setup is not None:
        case.setup()
    if case.inputs is not None:
        return [np.array(a, copy=True) for a in case.inputs]
    doms = case.domain if isinstance(case.domain[0], tuple | list) else [case.domain] * len(
        case.shapes)
    return [rng.uniform(lo, hi, size=shape).astype(np.float64)
            for shape, (lo, hi) in zip(case.shapes, doms)]


def check_op(case: OpCase) -> None:
    """Runs every check of ``case``; raises AssertionError naming the failing check."""
    import flowgrad as tf  # noqa: PLC0415 - the harness sits above the whole package

    rng = np.random.default_rng(case.seed)
    values = _sample(case, rng)
    graph = tf.Graph()
    with graph.as_default():
        phs = [tf.placeholder(tf.as_dtype(v.dtype), v.shape, name=f"in{i}")
               for i, v in enumerate(values)]
        out = case.fn(*phs)
        outs = list(out) if isinstance(out, list | tuple) else [out]
        feed = dict(zip(phs, values))
        with tf.Session(graph=graph) as sess:
            got = sess.run(outs, feed)
            # forward vs reference
            if case.ref is not None:
                ref = case.ref(*[np.array(v, copy=True) for v in values])
                refs = list(ref) if isinstance(ref, list | tuple) else [ref]
                assert len(refs) == len(got), \
                    f"{case.name}: {len(got)} outputs, ref has {len(refs)}"
                for i, (g, r) in enumerate(zip(got, refs)):
                    np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=case.rtol,
                                               atol=case.atol,
                                               err_msg=f"{case.name}: forward output {i}")
            # static vs runtime shape
            for i, (t, g) in enumerate(zip(outs, got)):
                rt = np.shape(g)
                assert t.shape.is_compatible_with(rt), \
                    f"{case.name}: output {i} static shape {t.shape} vs runtime {rt}"
                if t.shape.ndims is not None:
                    assert t.shape.ndims == len(rt), f"{case.name}: rank of output {i}"
                assert np.asarray(g).dtype == t.dtype.np or t.dtype.name == "string", \
                    f"{case.name}: output {i} dtype {np.asarray(g).dtype} vs static {t.dtype}"
            if case.grad:
                _check_grads(tf, case, sess, phs, outs, values, rng)
    if case.dynamic:
        _check_dynamic(tf, case, values, got)
    _check_float32(tf, case, values, got)


def _check_float32(tf, case, values, expected) -> None:
    """The same op on float32 inputs computes in float32: no silent float64 upcast."""
    if not any(v.dtype == np.float64 for v in values):
        return
    low = [v.astype(np.float32) if v.dtype == np.float64 else v for v in values]
    graph = tf.Graph()
    with graph.as_default():
        phs = [tf.placeholder(tf.as_dtype(v.dtype), v.shape, name=f"in{i}")
               for i, v in enumerate(low)]
        try:
            out = case.fn(*phs)
        except TypeError:
            return      # the op's other arguments are float64 constants: not comparable
        outs = list(out) if isinstance(out, list | tuple) else [out]
        with tf.Session(graph=graph) as sess:
            got = sess.run(outs, dict(zip(phs, low)))
    for i, (t, g, e) in enumerate(zip(outs, got, expected)):
        assert np.asarray(g).dtype == t.dtype.np, \
            (f"{case.name}: float32 run gives output {i} dtype {np.asarray(g).dtype}, "
             f"static {t.dtype}")
        if t.dtype == tf.float32:
            np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=2e-3, atol=2e-3,
                                       err_msg=f"{case.name}: float32 output {i}")


def _float_outputs(outs):
    return [t for t in outs if t.dtype.is_floating]


def _check_grads(tf, case, sess, phs, outs, values, rng) -> None:
    idx = case.grad_inputs if case.grad_inputs is not None else \
        [i for i, v in enumerate(values) if v.dtype.kind == "f"]
    if not idx:
        return
    fouts = _float_outputs(outs)
    us = [tf.constant(rng.standard_normal(_shape_of(sess, t, phs, values)))
          for t in fouts]
    loss = tf.add_n([tf.reduce_sum(t * u) for t, u in zip(fouts, us)])
    xs = [phs[i] for i in idx]
    grads = tf.gradients(loss, xs)
    for i, g in zip(idx, grads):
        assert g is not None, f"{case.name}: no gradient for input {i}"
        assert g.shape.is_compatible_with(values[i].shape), \
            f"{case.name}: gradient shape {g.shape} vs input shape {values[i].shape}"
    feed = dict(zip(phs, values))
    gvals = sess.run(grads, feed)
    _directional(case, sess, loss, phs, values, idx, gvals, rng, "first-order")
    if case.order2:
        ws = [tf.constant(rng.standard_normal(values[i].shape)) for i in idx]
        loss2 = tf.add_n([tf.reduce_sum(g * w) for g, w in zip(grads, ws)])
        grads2 = tf.gradients(loss2, xs)
        g2 = [np.zeros_like(values[i]) if g is None else v for i, g, v in
              zip(idx, grads2, sess.run([g if g is not None else loss2 for g in grads2], feed))]
        _directional(case, sess, loss2, phs, values, idx, g2, rng, "second-order")


def _shape_of(sess, t, phs, values):
    return np.shape(sess.run(t, dict(zip(phs, values))))


def _directional(case, sess, loss, phs, values, idx, gvals, rng, what) -> None:
    for trial in range(2):
        dirs = {i: rng.standard_normal(values[i].shape) for i in idx}
        plus = [v + case.eps * dirs[i] if i in dirs else v for i, v in enumerate(values)]
        minus = [v - case.eps * dirs[i] if i in dirs else v for i, v in enumerate(values)]
        lp = sess.run(loss, dict(zip(phs, plus)))
        lm = sess.run(loss, dict(zip(phs, minus)))
        numeric = (lp - lm) / (2 * case.eps)
        analytic = sum(float(np.sum(np.asarray(g) * dirs[i])) for i, g in zip(idx, gvals))
        scale = max(1.0, abs(numeric), abs(analytic))
        assert abs(numeric - analytic) <= case.grad_tol * scale, \
            (f"{case.name}: {what} gradient mismatch along a random direction: analytic "
             f"{analytic:.10g} vs finite differences {numeric:.10g}")


def _check_dynamic(tf, case, values, expected) -> None:
    graph = tf.Graph()
    with graph.as_default():
        phs = [tf.placeholder(tf.as_dtype(v.dtype), None if v.ndim else (), name=f"in{i}")
               for i, v in enumerate(values)]
        out = case.fn(*phs)
        outs = list(out) if isinstance(out, list | tuple) else [out]
        with tf.Session(graph=graph) as sess:
            got = sess.run(outs, dict(zip(phs, values)))
    for i, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-12, atol=0,
                                   err_msg=f"{case.name}: output {i} differs when shapes are "
                                   "unknown at build time")


def check_device_parity(case: OpCase, rtol: float = 1e-5, atol: float = 1e-7) -> None:
    """Forward values and first-order gradients of ``case`` on the session's default device
    (the GPU when one is usable) equal those on the CPU."""
    import flowgrad as tf  # noqa: PLC0415

    values = _sample(case, np.random.default_rng(case.seed))
    graph = tf.Graph()
    with graph.as_default():
        phs = [tf.placeholder(tf.as_dtype(v.dtype), v.shape, name=f"in{i}")
               for i, v in enumerate(values)]
        out = case.fn(*phs)
        outs = list(out) if isinstance(out, list | tuple) else [out]
        fetches = list(outs)
        idx = [i for i, v in enumerate(values) if v.dtype.kind == "f"] \
            if case.grad_inputs is None else list(case.grad_inputs)
        fouts = _float_outputs(outs)
        if case.grad and idx and fouts:
            loss = tf.add_n([tf.reduce_sum(t) for t in fouts])
            fetches += [g for g in tf.gradients(loss, [phs[i] for i in idx]) if g is not None]
        feed = dict(zip(phs, values))
        with tf.Session(graph=graph, config=tf.ConfigProto(device_count={"GPU": 0})) as s:
            host = s.run(fetches, feed)
        with tf.Session(graph=graph) as s:
            dev = s.run(fetches, feed)
    for i, (h, d) in enumerate(zip(host, dev)):
        assert type(d) is not object and np.asarray(d).dtype == np.asarray(h).dtype, \
            f"{case.name}: fetch {i} dtype differs between devices"
        np.testing.assert_allclose(np.asarray(d), np.asarray(h), rtol=rtol, atol=atol,
                                   err_msg=f"{case.name}: fetch {i} differs from the CPU")


def load_cases(*folders) -> list[OpCase]:
    """Every ``CASES`` row of the ``test_*.py`` modules in ``folders`` (for checks that run
    all op rows in another setting: passes off, another device, coverage)."""
    import importlib.util  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    cases: list[OpCase] = []
    for folder in folders:
        for path in sorted(Path(folder).glob("test_*.py")):
            if "OpCase(" not in path.read_text():
                continue
            spec = importlib.util.spec_from_file_location(
                f"_rows_{path.parent.name}_{path.stem}", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            cases += [c for c in getattr(mod, "CASES", []) if isinstance(c, OpCase)]
    return cases

