"""CTC loss and decoders against brute-force enumeration of alignments, finite
differences, hand-computed numbers and (when installed) TensorFlow."""

import doctest
import itertools

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.ops import ctc_ops
from flowgrad.testing.op_test import OpCase, check_op

# two examples, 3 classes (blank = 2): labels "a b" and "a a"
LABELS = [[0, 1], [0, 0]]
SEQ = [4, 3]


def _sparse(labels):
    idx = [[b, i] for b, lab in enumerate(labels) for i in range(len(lab))]
    vals = [v for lab in labels for v in lab]
    width = max([len(lab) for lab in labels] + [0])
    return tf.SparseTensor(np.array(idx, np.int64).reshape(-1, 2), np.array(vals, np.int32),
                           np.array([len(labels), width], np.int64))


def _collapse(path, blank, merge=True):
    out, prev = [], None
    for c in path:
        if c != blank and not (merge and c == prev):
            out.append(c)
        prev = c
    return tuple(out)


def _log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _labelling_probs(x, merge=True):
    """{labelling: probability} over every alignment of one example's logits [T, C]."""
    y = np.exp(_log_softmax(x))
    T, C = x.shape
    probs = {}
    for path in itertools.product(range(C), repeat=T):
        key = _collapse(path, C - 1, merge)
        probs[key] = probs.get(key, 0.0) + np.prod(y[np.arange(T), path])
    return probs


def _brute_loss(x, labels, seq, merge=True, collapse=False):
    """Loss [batch] of time-major logits by enumerating alignments."""
    out = []
    for b, lab in enumerate(labels):
        if collapse:
            lab = _collapse(lab, -1, True)
        out.append(-np.log(_labelling_probs(x[:seq[b], b], merge).get(tuple(lab), 0.0)))
    return np.array(out)


def _parts(sp):
    return [sp.indices, sp.values, sp.dense_shape]


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _greedy_ref(x, seq, merge=True):
    T, B, C = x.shape
    paths = []
    for b in range(B):
        paths.append(_collapse(x[:seq[b], b].argmax(1), C - 1, merge))
    width = max(len(p) for p in paths)
    idx = np.array([[b, i] for b, p in enumerate(paths) for i in range(len(p))],
                   np.int64).reshape(-1, 2)
    vals = np.array([v for p in paths for v in p], np.int64)
    logp = -np.array([[x[:seq[b], b].max(1).sum()] for b in range(B)])
    return idx, vals, np.array([B, width], np.int64), logp


CASES = [
    OpCase("ctc_loss", lambda x: tf.nn.ctc_loss(_sparse(LABELS), x, SEQ),
           lambda x: _brute_loss(x, LABELS, SEQ), [(4, 2, 3)], order2=False, rtol=1e-10),
    OpCase("ctc_loss_no_merge",
           lambda x: tf.nn.ctc_loss(_sparse(LABELS), x, SEQ, ctc_merge_repeated=False),
           lambda x: _brute_loss(x, LABELS, SEQ, merge=False), [(4, 2, 3)], order2=False,
           rtol=1e-10),
    OpCase("ctc_loss_batch_major",
           lambda x: tf.nn.ctc_loss(_sparse(LABELS), x, SEQ, time_major=False,
                                    preprocess_collapse_repeated=True),
           lambda x: _brute_loss(x.transpose(1, 0, 2), LABELS, SEQ, collapse=True),
           [(2, 4, 3)], order2=False, rtol=1e-10),
    OpCase("ctc_loss_v2_dense",
           lambda x: tf.nn.ctc_loss_v2(np.array([[1, 2], [1, 1]]), x, [2, 2], SEQ),
           lambda x: _brute_loss(np.roll(x, -1, axis=2), LABELS, SEQ), [(4, 2, 3)],
           order2=False, rtol=1e-10),
    OpCase("ctc_greedy_decoder",
           lambda x: [*_parts(tf.nn.ctc_greedy_decoder(x, SEQ)[0][0]),
                      tf.nn.ctc_greedy_decoder(x, SEQ)[1]],
           lambda x: _greedy_ref(x, SEQ), [(4, 2, 3)], grad=False),
    OpCase("ctc_beam_search_decoder",
           lambda x: [tf.nn.ctc_beam_search_decoder(x, SEQ, top_paths=2)[1]],
           lambda x: np.array([sorted(np.log(list(_labelling_probs(x[:SEQ[b], b],
                                                                   True).values())))[:-3:-1]
                               for b in range(2)]),
           [(4, 2, 3)], grad=False, domain=(-3, 3)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)


def test_docstring_examples():
    failures, _ = doctest.testmod(ctc_ops, optionflags=doctest.ELLIPSIS)
    assert failures == 0


# ----- the loss ------------------------------------------------------------------------------
@pytest.mark.parametrize("merge", [True, False])
@pytest.mark.parametrize("collapse", [True, False])
def test_loss_equals_brute_force_over_alignments(merge, collapse):
    rng = np.random.default_rng(1)
    labels = [[0], [1, 1], [0, 1, 0], [], [1, 0]]
    seq = [5, 5, 4, 2, 3]
    x = rng.normal(size=(5, 5, 3)) * 1.5
    loss = _run(tf.nn.ctc_loss(_sparse(labels), tf.constant(x), seq,
                               preprocess_collapse_repeated=collapse,
                               ctc_merge_repeated=merge))
    np.testing.assert_allclose(loss, _brute_loss(x, labels, seq, merge, collapse), rtol=1e-11)


def test_gradient_equals_finite_differences_of_the_loss():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 3, 3))
    labels, seq = [[0, 1], [1, 1], [0]], [5, 4, 2]
    sp = _sparse(labels)
    xt = tf.placeholder(tf.float64, x.shape)
    w = rng.normal(size=3)
    loss = tf.reduce_sum(tf.nn.ctc_loss(sp, xt, seq) * w)
    grad = tf.gradients(loss, xt)[0]
    with tf.Session() as sess:
        g = sess.run(grad, {xt: x})
        num = np.zeros_like(x)
        eps = 1e-6
        for i in np.ndindex(x.shape):
            d = np.zeros_like(x)
            d[i] = eps
            num[i] = (sess.run(loss, {xt: x + d}) - sess.run(loss, {xt: x - d})) / (2 * eps)
    np.testing.assert_allclose(g, num, atol=1e-8)
    assert not g[4:, 1].any() and not g[2:, 2].any()   # nothing past an example's length


def test_gradient_output_is_dloss_dlogits_and_has_no_second_derivative():
    x = tf.constant(np.random.default_rng(3).normal(size=(3, 1, 3)))
    loss = tf.nn.ctc_loss(_sparse([[1]]), x, [3])
    op = loss.op
    assert op.type == "CTCLoss" and len(op.outputs) == 2
    g = tf.gradients(loss, x)[0]
    fused, got = _run([op.outputs[1], g])
    np.testing.assert_allclose(got, fused)
    with pytest.raises(LookupError, match="second derivative"):
        tf.gradients(tf.reduce_sum(g * g), x)


@pytest.mark.parametrize("collapse,merge,expected", [
    (False, True, np.log(27.0)),     # only "a _ a"
    (True, True, np.log(27 / 6)),    # label "a": one run of a's among blanks, 6 paths
    (False, False, np.log(9.0)),     # two a-frames, one blank: 3 paths
    (True, False, np.log(9.0)),      # label "a", one a-frame: 3 paths
])
def test_collapse_and_merge_combinations_on_uniform_logits(collapse, merge, expected):
    """Label "a a", 3 steps, uniform over {a, b, blank}: p = (number of paths) / 27."""
    loss = _run(tf.nn.ctc_loss(_sparse([[0, 0]]), tf.zeros([3, 1, 3], tf.float64), [3],
                               preprocess_collapse_repeated=collapse,
                               ctc_merge_repeated=merge))
    np.testing.assert_allclose(loss, [expected], rtol=1e-12)


def test_batch_with_different_lengths_equals_examples_run_alone():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 3, 4)).astype(np.float32)
    labels, seq = [[0, 1, 2], [2], [1, 1]], [6, 2, 4]
    xt = tf.constant(x)
    loss = tf.nn.ctc_loss(_sparse(labels), xt, seq)
    grad = tf.gradients(loss, xt)[0]
    got_l, got_g = _run([loss, grad])
    assert got_l.dtype == np.float32 and got_g.dtype == np.float32
    for b in range(3):
        alone = tf.constant(x[:seq[b], b:b + 1])
        lb = tf.nn.ctc_loss(_sparse([labels[b]]), alone, [seq[b]])
        lv, gv = _run([lb, tf.gradients(lb, alone)[0]])
        np.testing.assert_allclose(got_l[b], lv[0], rtol=1e-5)
        np.testing.assert_allclose(got_g[:seq[b], b], gv[:, 0], atol=1e-6)
        assert not got_g[seq[b]:, b].any()


def test_impossible_labelling_gives_infinite_loss_and_softmax_gradient():
    # "a a" needs a blank between the a's: 2 steps are not enough (TF1 returns inf, no error)
    x = np.random.default_rng(5).normal(size=(2, 1, 3))
    xt = tf.constant(x)
    loss = tf.nn.ctc_loss(_sparse([[0, 0]]), xt, [2])
    lv, gv = _run([loss, tf.gradients(loss, xt)[0]])
    assert np.isinf(lv[0])
    np.testing.assert_allclose(gv, np.exp(_log_softmax(x)), rtol=1e-12)


def test_errors_name_the_batch_entry():
    x = tf.zeros([2, 2, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"required: 3, available: 2\), "
                       r"batch: 1.*ignore_longer_outputs_than_inputs"):
        _run(tf.nn.ctc_loss(_sparse([[0], [0, 1, 0]]), x, [2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"sequence_length\(1\) <= 2"):
        _run(tf.nn.ctc_loss(_sparse([[0], [1]]), x, [2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="nonnegative.*batch: 1"):
        _run(tf.nn.ctc_loss(_sparse([[0], [-1]]), x, [2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="following a null label, batch: 0"):
        _run(tf.nn.ctc_loss(_sparse([[3, 0], [1]]), x, [2, 2]))
    with pytest.raises(TypeError, match="SparseTensor"):
        tf.nn.ctc_loss(np.zeros((2, 1), np.int32), x, [2, 2])
    with pytest.raises(ValueError, match="sequence_length has 3 entries"):
        tf.nn.ctc_loss(_sparse([[0], [1]]), x, [2, 2, 2])
    with pytest.raises(ValueError, match="3-D"):
        tf.nn.ctc_loss(_sparse([[0]]), tf.zeros([2, 3]), [2])


def test_labels_fed_through_a_sparse_placeholder():
    labels = tf.sparse_placeholder(tf.int32)
    x = np.random.default_rng(12).normal(size=(4, 2, 3))
    loss = tf.nn.ctc_loss(labels, tf.constant(x), [4, 3])
    fed = tf.SparseTensorValue(np.array([[0, 0], [0, 1], [1, 0]], np.int64),
                               np.array([0, 1, 1], np.int32), np.array([2, 2], np.int64))
    got = _run(loss, {labels: fed})
    np.testing.assert_allclose(got, _brute_loss(x, [[0, 1], [1]], [4, 3]), rtol=1e-11)


def test_empty_sequence_with_no_labels_has_zero_loss():
    x = tf.constant(np.random.default_rng(13).normal(size=(3, 2, 3)))
    loss = tf.nn.ctc_loss(_sparse([[0], []]), x, [3, 0])
    lv, gv = _run([loss, tf.gradients(loss, x)[0]])
    np.testing.assert_allclose(lv[1], 0.0)
    assert not gv[:, 1].any() and gv[:, 0].any()
    np.testing.assert_allclose(lv[0], _brute_loss(_run(x), [[0]], [3])[0], rtol=1e-12)


def test_trailing_null_labels_are_padding():
    """As in TF, labels >= num_classes - 1 at the end of an example are dropped."""
    x = tf.constant(np.random.default_rng(11).normal(size=(4, 3, 3)))
    padded = tf.nn.ctc_loss(_sparse([[0, 2, 5], [1, 1, 2], [2]]), x, [4, 4, 3])
    plain = tf.nn.ctc_loss(_sparse([[0], [1, 1], []]), x, [4, 4, 3])
    a, b = _run([padded, plain])
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_ignore_longer_outputs_than_inputs_gives_zero_loss_and_gradient():
    x = tf.constant(np.random.default_rng(6).normal(size=(2, 2, 3)))
    loss = tf.nn.ctc_loss(_sparse([[0, 1, 0], [1]]), x, [2, 2],
                          ignore_longer_outputs_than_inputs=True)
    lv, gv = _run([loss, tf.gradients(loss, x)[0]])
    assert lv[0] == 0 and not gv[:, 0].any()
    assert lv[1] > 0 and gv[:, 1].any()
    # as in TF the time needed is counted on the labels as given, before collapsing repeats
    collapsed = tf.nn.ctc_loss(_sparse([[1, 1, 1], [1]]), x, [2, 2],
                               preprocess_collapse_repeated=True,
                               ignore_longer_outputs_than_inputs=True)
    assert _run(collapsed)[0] == 0
    with pytest.raises(tf.errors.InvalidArgumentError, match="required: 3, available: 2"):
        _run(tf.nn.ctc_loss(_sparse([[1, 1, 1], [1]]), x, [2, 2],
                            preprocess_collapse_repeated=True))


def test_ctc_loss_v2_blank_index_and_batch_major():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 2, 3))
    # classes with the blank first: label 1 is "a", 2 is "b"
    dense = tf.nn.ctc_loss_v2(np.array([[1, 2], [2, 0]]), tf.constant(x.transpose(1, 0, 2)),
                              [2, 1], [4, 3], logits_time_major=False)
    sparse = tf.nn.ctc_loss_v2(_sparse([[1, 2], [2]]), tf.constant(x), None, [4, 3],
                               blank_index=0)
    last = tf.nn.ctc_loss_v2(np.array([[0, 1], [1, 0]]), tf.constant(np.roll(x, -1, 2)),
                             [2, 1], [4, 3], blank_index=-1)
    want = _brute_loss(np.roll(x, -1, axis=2), [[0, 1], [1]], [4, 3])
    for got in _run([dense, sparse, last]):
        np.testing.assert_allclose(got, want, rtol=1e-11)
    with pytest.raises(ValueError, match="blank_index"):
        tf.nn.ctc_loss_v2(_sparse([[1]]), tf.constant(x), None, [4, 3])


# ----- decoders ------------------------------------------------------------------------------
def _onehot_logits(path, num_classes=4):
    x = np.full((len(path), num_classes), -2.0)
    x[np.arange(len(path)), path] = 1.0
    return x


def test_greedy_decoder_merges_repeats_and_drops_blanks():
    # blank = 3; example 0: a a _ a b b; example 1 (length 4): c _ _ c | a a
    x = np.stack([_onehot_logits([0, 0, 3, 0, 1, 1]), _onehot_logits([2, 3, 3, 2, 0, 0])], 1)
    (dec,), logp = tf.nn.ctc_greedy_decoder(tf.constant(x), [6, 4])
    (raw,), _ = tf.nn.ctc_greedy_decoder(tf.constant(x), [6, 4], merge_repeated=False)
    d, lp, r = _run([dec, logp, raw])
    assert d.indices.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]]
    assert d.values.tolist() == [0, 0, 1, 2, 2] and d.dense_shape.tolist() == [2, 3]
    np.testing.assert_allclose(lp, [[-6.0], [-4.0]])       # minus the sum of the max logits
    assert r.values.tolist() == [0, 0, 0, 1, 1, 2, 2] and r.dense_shape.tolist() == [2, 5]
    assert d.values.dtype == np.int64 and lp.dtype == np.float64


@pytest.mark.parametrize("top_paths", [1, 2])
def test_beam_search_equals_brute_force(top_paths):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 3, 3)) * 2
    seq = [4, 3, 1]
    dec, logp = tf.nn.ctc_beam_search_decoder(tf.constant(x), seq, beam_width=50,
                                              top_paths=top_paths, merge_repeated=False)
    got = _run([dec, logp])
    for b in range(3):
        probs = sorted(_labelling_probs(x[:seq[b], b]).items(), key=lambda kv: -kv[1])
        for p in range(top_paths):
            sp = got[0][p]
            path = sp.values[sp.indices[:, 0] == b].tolist()
            assert tuple(path) == probs[p][0]
            np.testing.assert_allclose(got[1][b, p], np.log(probs[p][1]), rtol=1e-10)


def test_beam_search_merge_repeated_merges_the_output_labels():
    # the most likely labelling is "a a" (a _ a); TF1's merge_repeated reports it as "a"
    x = np.log(np.array([[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]]))[:, None]
    (merged,), lp1 = tf.nn.ctc_beam_search_decoder(tf.constant(x), [3], beam_width=10)
    (kept,), lp2 = tf.nn.ctc_beam_search_decoder(tf.constant(x), [3], beam_width=10,
                                                 merge_repeated=False)
    m, k, a, b = _run([merged, kept, lp1, lp2])
    assert m.values.tolist() == [0] and k.values.tolist() == [0, 0]
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, [[np.log(_labelling_probs(x[:, 0])[(0, 0)])]], rtol=1e-10)


def test_beam_search_errors():
    x = tf.zeros([2, 1, 3])
    with pytest.raises(ValueError, match="top_paths"):
        tf.nn.ctc_beam_search_decoder(x, [2], beam_width=2, top_paths=3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Less leaves.*batch: 0"):
        _run(tf.nn.ctc_beam_search_decoder(x, [0], beam_width=4, top_paths=2)[1])


# ----- training ------------------------------------------------------------------------------
def test_linear_model_over_time_steps_learns_the_labels():
    rng = np.random.default_rng(9)
    T, B, D, C = 8, 4, 5, 4
    feats = rng.normal(size=(T, B, D)).astype(np.float32)
    labels = [[0, 1], [2], [1, 2, 0], [0, 0]]
    w = tf.Variable(rng.normal(size=(D, C)).astype(np.float32) * 0.1)
    logits = tf.reshape(tf.matmul(tf.reshape(tf.constant(feats), [-1, D]), w), [T, B, C])
    loss = tf.reduce_mean(tf.nn.ctc_loss(_sparse(labels), logits, [T] * B))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(60):
            sess.run(train)
        last = sess.run(loss)
    assert last < 0.6 * first


# ----- TensorFlow cross-check (optional) ----------------------------------------------------
def test_matches_tensorflow_when_installed():
    real = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(10)
    x = rng.normal(size=(6, 3, 4)) * 2
    labels, seq = [[0, 1, 1], [2, 3], [1, 0]], [6, 4, 5]   # 3: trailing null label
    sp = _sparse(labels)
    ix, vals, shape = _run(_parts(sp))
    tsp = real.SparseTensor(ix, vals, shape)
    for collapse, merge in itertools.product([False, True], [False, True]):
        xv = real.constant(x)
        with real.GradientTape() as tape:
            tape.watch(xv)
            want = real.compat.v1.nn.ctc_loss(tsp, xv, seq, preprocess_collapse_repeated=collapse,
                                              ctc_merge_repeated=merge)
        want_g = tape.gradient(want, xv)
        xt = tf.constant(x)
        loss = tf.nn.ctc_loss(sp, xt, seq, preprocess_collapse_repeated=collapse,
                              ctc_merge_repeated=merge)
        got, got_g = _run([loss, tf.gradients(loss, xt)[0]])
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-6)
        np.testing.assert_allclose(got_g, want_g.numpy(), atol=1e-6)
    dense, lengths = np.array([[1, 2, 2], [3, 0, 0], [2, 1, 0]]), [3, 1, 2]
    for blank in (0, 2):
        want = real.nn.ctc_loss(dense, real.constant(x, real.float32), lengths, seq,
                                blank_index=blank)
        got = _run(tf.nn.ctc_loss_v2(dense, tf.constant(x, tf.float32), lengths, seq,
                                     blank_index=blank))
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5)
    for merge in (True, False):
        (want,), want_p = real.compat.v1.nn.ctc_greedy_decoder(real.constant(x), seq, merge)
        (dec,), logp = tf.nn.ctc_greedy_decoder(tf.constant(x), seq, merge)
        d, p = _run([dec, logp])
        assert d.values.tolist() == want.values.numpy().tolist()
        assert d.indices.tolist() == want.indices.numpy().tolist()
        np.testing.assert_allclose(p, want_p.numpy(), rtol=1e-6)
    for width, merge in itertools.product([2, 3, 100], [True, False]):
        want, want_p = real.compat.v1.nn.ctc_beam_search_decoder(
            real.constant(x), seq, beam_width=width, top_paths=2, merge_repeated=merge)
        dec, logp = tf.nn.ctc_beam_search_decoder(tf.constant(x), seq, beam_width=width,
                                                  top_paths=2, merge_repeated=merge)
        got = _run([dec, logp])
        for p in range(2):
            assert got[0][p].indices.tolist() == want[p].indices.numpy().tolist()
            assert got[0][p].values.tolist() == want[p].values.numpy().tolist()
            assert got[0][p].dense_shape.tolist() == want[p].dense_shape.numpy().tolist()
        np.testing.assert_allclose(got[1], want_p.numpy(), rtol=1e-5)
