"""Elementwise fusion and the one-call SGD update of device plans, on the simulated device.

The simulated device runs a fused cluster as its members' own kernels, so these tests check
the rewiring (which nodes join, what escapes, where the fused node runs) against the CPU;
the generated CUDA itself runs in the GPU harness (``benchmarks/gpu.py``) and, where NVRTC
is importable, is compiled here.
"""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.compiler import fusion
from flowgrad.runtime import backend
from flowgrad.testing.fake_device import FakeDeviceBackend


@pytest.fixture
def device():
    with backend.use_gpu_backend(FakeDeviceBackend()) as dev:
        yield dev


def _fused_nodes(sess):
    out = []
    for plan in sess._plans.values():
        if plan.specialized is not None:
            out += [n for n in plan.specialized[1].nodes if isinstance(n, fusion.FusedNode)]
    return out


def _train(steps=4):
    rng = np.random.RandomState(0)
    x0 = rng.randn(16, 5).astype(np.float32)
    y0 = np.eye(3, dtype=np.float32)[rng.randint(0, 3, 16)]
    x = tf.placeholder(tf.float32, (None, 5))
    y = tf.placeholder(tf.float32, (None, 3))
    w1 = tf.Variable(rng.randn(5, 8).astype(np.float32) * 0.5)
    b1 = tf.Variable(np.zeros(8, np.float32))
    w2 = tf.Variable(rng.randn(8, 3).astype(np.float32) * 0.5)
    h = tf.nn.relu(tf.matmul(x, w1) + b1)
    h = h * tf.sigmoid(h) + 0.5 * tf.square(h)           # a longer elementwise chain
    logits = tf.matmul(h, w2)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    losses = [sess.run([train, loss], {x: x0, y: y0})[1] for _ in range(steps)]
    return sess, np.array(losses), sess.run(w1)


def test_fused_training_matches_the_cpu(device):
    sess, losses, w1 = _train()
    fused = _fused_nodes(sess)
    assert fused, "no elementwise cluster was fused"
    kinds = [[m.type for m in n.members] for n in fused]
    # forward: bias add, relu, sigmoid, the products and the sum in one kernel; backward:
    # the chain rule's products and sums down to the relu gradient in another
    assert ["AddV2", "Relu", "Sigmoid", "Mul", "Square", "Mul", "AddV2"] in kinds
    assert any(k[-1] == "ReluGrad" and len(k) >= 8 for k in kinds)
    tf.reset_default_graph()
    with backend.use_gpu_backend(None):         # the same program on the CPU
        _, cpu_losses, cpu_w1 = _train()
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-6)
    np.testing.assert_allclose(w1, cpu_w1, rtol=1e-5, atol=1e-7)


def test_every_sgd_update_of_a_step_is_one_call(device):
    sess, _, _ = _train(steps=2)
    src = [p.specialized_source for p in sess._plans.values() if p.specialized_source]
    assert any(s.count("_sgd_all(") == 1 for s in src)
    assert not any("ApplyGradientDescent '" in s for s in src)


def test_a_value_used_before_the_chain_ends_is_not_hidden_inside_it(device):
    x = tf.placeholder(tf.float32, (4, 3))
    a = tf.exp(x)                   # used by a reduction that runs between a and c
    s = tf.reduce_sum(a, axis=1, keepdims=True)
    c = tf.tanh(a) * s              # joins a only if a stays an output of the kernel
    feed = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    with tf.Session() as sess:
        got = [sess.run(c, {x: feed}) for _ in range(3)]
        nodes = _fused_nodes(sess)
    want = np.tanh(np.exp(feed)) * np.exp(feed).sum(1, keepdims=True)
    for g in got:
        np.testing.assert_allclose(g, want, rtol=1e-6)
    for n in nodes:                 # whatever was fused, exp's value is still produced
        if any(m.type == "Exp" for m in n.members):
            assert any(o.producer is n and o.tensor is a for o in n.outs)


def test_generated_source_of_a_cluster(device):
    x = tf.placeholder(tf.float32, (2, 3))
    b = tf.constant(np.ones(3, np.float32))
    y = tf.nn.relu(x + b) * 2.0
    with tf.Session() as sess:
        for _ in range(2):
            sess.run(y, {x: np.zeros((2, 3), np.float32)})
        (node,) = _fused_nodes(sess)
    assert [m.type for m in node.members] == ["AddV2", "Relu", "Mul"]
    assert node.source.startswith("float32 i0, float32 i1 -> float32 o0")
    assert "v0 < 0 ? (float)0 : v0" in node.source and "v1 * ((float)2.0)" in node.source


def test_generated_cuda_compiles():
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
    try:
        nvrtc.getVersion()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"NVRTC not loadable: {e}")
    with backend.use_gpu_backend(FakeDeviceBackend()):
        sess, _, _ = _train(steps=2)
        sources = [n for n in _fused_nodes(sess)]
    ctype = {"float32": "float", "float64": "double", "bool": "bool", "int32": "int",
             "int64": "long long"}
    for k, n in enumerate(sources):
        params, body = n.source.split("\n", 1)
        ins, outs = params.split(" -> ")
        decl, args = [], []
        for p in ins.split(", ") + outs.split(", "):
            t, nm = p.split()
            args.append(f"{ctype[t]}* {nm}_p")
            decl.append(f"{ctype[t]} {nm} = {nm}_p[0];")
        src = f'extern "C" __global__ void k({", ".join(args)}) {{ {" ".join(decl)}\n{body}\n}}'
        prog = nvrtc.createProgram(src, f"k{k}.cu", [], [])
        nvrtc.compileProgram(prog, ["--gpu-architecture=compute_90", "--fmad=false"])
