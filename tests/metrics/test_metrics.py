"""tf.metrics: TF1's streaming metrics — values (hand-computed or from scikit-learn),
streaming over several batches, weights, variable names and collections, resets, errors."""

import collections
import doctest

import numpy as np
import pytest
from sklearn import metrics as skm

import flowgrad as tf
from flowgrad.metrics import means as _means_module


def _run_stream(value, update, feeds, placeholders):
    """Initializes the local variables, runs ``update`` once per batch, returns the updates'
    results and the final value."""
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        ups = [s.run(update, dict(zip(placeholders, batch))) for batch in feeds]
        return ups, s.run(value)


# ----- mean family -----------------------------------------------------------------------
def test_accuracy_streams_weights_names_and_collections():
    labels = tf.placeholder(tf.int64, [None])
    preds = tf.placeholder(tf.int64, [None])
    weights = tf.placeholder(tf.float32, [None])
    acc, update = tf.metrics.accuracy(labels, preds, weights=weights,
                                      metrics_collections=["my_metrics"],
                                      updates_collections=["my_updates"])
    assert acc.name == "accuracy/value:0" and update.name == "accuracy/update_op:0"
    names = [v.name for v in tf.local_variables()]
    assert names == ["accuracy/total:0", "accuracy/count:0"]
    assert tf.get_collection(tf.GraphKeys.METRIC_VARIABLES) == tf.local_variables()
    assert tf.trainable_variables() == [] and tf.global_variables() == []
    assert tf.get_collection("my_metrics") == [acc]
    assert tf.get_collection("my_updates") == [update]
    batches = [([1, 2, 3, 4], [1, 2, 0, 4], [1.0, 1.0, 1.0, 1.0]),   # 3 of 4
               ([5, 6], [5, 0], [2.0, 0.0])]                         # 2 of 2 (one masked)
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run(acc) == 0.0                                     # nothing seen yet
        first = s.run(update, dict(zip([labels, preds, weights], batches[0])))
        second = s.run(update, dict(zip([labels, preds, weights], batches[1])))
        np.testing.assert_allclose([first, second, s.run(acc)], [0.75, 5 / 6, 5 / 6],
                                   rtol=1e-6)
        s.run(tf.local_variables_initializer())                      # a new stream
        assert s.run(acc) == 0.0
        np.testing.assert_allclose(
            s.run(update, dict(zip([labels, preds, weights], batches[1]))), 1.0)


def test_accuracy_name_squeezes_and_casts():
    acc, update = tf.metrics.accuracy([[1], [0], [1]], [1.0, 1.0, 1.0], name="my_acc")
    assert [v.name for v in tf.local_variables()] == ["my_acc/total:0", "my_acc/count:0"]
    acc2, _ = tf.metrics.accuracy([1], [1])
    assert acc2.name == "accuracy/value:0"
    acc3, _ = tf.metrics.accuracy([1], [1])                          # scopes are uniquified
    assert acc3.name == "accuracy_1/value:0"
    ups, value = _run_stream(acc, update, [()], [])                 # labels squeezed to [3]
    np.testing.assert_allclose([ups[0], value], [2 / 3, 2 / 3], rtol=1e-6)


def test_compat_v1_metrics_is_tf_metrics():
    assert tf.compat.v1.metrics.accuracy is tf.metrics.accuracy
    assert tf.compat.v1.metrics.auc is tf.metrics.auc
    assert tf.compat.v1.GraphKeys.METRIC_VARIABLES == "metric_variables"


def test_mean_weights_broadcast_and_reset():
    values = tf.placeholder(tf.float32, [None, 2])
    weights = tf.placeholder(tf.float32, [None])                     # expanded to [n, 1]
    m, update = tf.metrics.mean(values, weights)
    assert [v.name for v in tf.local_variables()] == ["mean/total:0", "mean/count:0"]
    feeds = [(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 0.0])),
             (np.array([[5.0, 7.0]]), np.array([2.0]))]
    ups, value = _run_stream(m, update, feeds, [values, weights])
    # (1 + 2 + 2 * (5 + 7)) / (2 + 4)
    np.testing.assert_allclose(ups, [1.5, 27 / 6], rtol=1e-6)
    np.testing.assert_allclose(value, 27 / 6, rtol=1e-6)


def test_mean_unweighted_and_docstring_example():
    m, update = tf.metrics.mean([1.0, 2.0, 3.0, 6.0])
    ups, value = _run_stream(m, update, [(), ()], [])
    np.testing.assert_allclose(ups + [value], [3.0, 3.0, 3.0])
    failures, _ = doctest.testmod(_means_module)
    assert failures == 0


def test_mean_tensor_elementwise():
    values = tf.placeholder(tf.float32, [2, 2])
    m, update = tf.metrics.mean_tensor(values, weights=[[1.0], [0.5]])
    assert [v.name for v in tf.local_variables()] == ["mean/total_tensor:0",
                                                      "mean/count_tensor:0"]
    feeds = [(np.array([[1.0, 2.0], [3.0, 4.0]]),), (np.array([[3.0, 0.0], [5.0, 6.0]]),)]
    ups, value = _run_stream(m, update, feeds, [values])
    np.testing.assert_allclose(value, [[2.0, 1.0], [4.0, 5.0]], rtol=1e-6)
    np.testing.assert_allclose(ups[0], [[1.0, 2.0], [3.0, 4.0]], rtol=1e-6)


def test_regression_errors():
    labels = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    preds = np.array([[1.5, 2.0], [2.0, 6.0]], np.float32)
    w = np.array([[1.0], [2.0]], np.float32)
    mse, mse_up = tf.metrics.mean_squared_error(labels, preds, weights=w)
    mae, mae_up = tf.metrics.mean_absolute_error(labels, preds)
    rmse, rmse_up = tf.metrics.root_mean_squared_error(labels, preds)
    mre, mre_up = tf.metrics.mean_relative_error(labels, preds, normalizer=[[1.0, 0.0],
                                                                           [2.0, 4.0]])
    below, below_up = tf.metrics.percentage_below([1.0, 5.0, 3.0, 2.0], 3.0,
                                                  weights=[1.0, 1.0, 1.0, 2.0])
    names = {v.name.split("/")[0] for v in tf.local_variables()}
    assert names == {"mean_squared_error", "mean_absolute_error", "root_mean_squared_error",
                     "mean_relative_error", "percentage_below_threshold"}
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        s.run([mse_up, mae_up, rmse_up, mre_up, below_up])
        got = s.run([mse, mae, rmse, mre, below])
    # squared errors [[.25, 0], [1, 4]] weighted by rows [1, 2]: (0.25 + 10) / 6
    want = [10.25 / 6, (0.5 + 0 + 1 + 2) / 4, np.sqrt(5.25 / 4),
            (0.5 / 1 + 0 + 1 / 2 + 2 / 4) / 4, 3 / 5]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_mean_cosine_distance():
    labels = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], np.float32)
    preds = np.array([[1.0, 0.0], [1.0, 0.0], [0.8, 0.6]], np.float32)
    d, update = tf.metrics.mean_cosine_distance(labels, preds, dim=1)
    ups, value = _run_stream(d, update, [()], [])
    # cosines 1, 0, 0.96 -> mean 0.65333 -> distance 0.34667
    np.testing.assert_allclose([ups[0], value], [1 - 1.96 / 3] * 2, rtol=1e-6)


# ----- counts, precision, recall ----------------------------------------------------------
LAB = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1])
PRED = np.array([1, 1, 0, 1, 0, 1, 1, 0, 0, 1])
SCORES = np.array([0.9, 0.6, 0.3, 0.7, 0.2, 0.55, 0.8, 0.1, 0.45, 0.95], np.float32)


def test_counts_precision_recall_against_sklearn_streaming():
    labels = tf.placeholder(tf.int64, [None])
    preds = tf.placeholder(tf.int64, [None])
    made = [tf.metrics.true_positives(labels, preds), tf.metrics.false_positives(labels, preds),
            tf.metrics.true_negatives(labels, preds), tf.metrics.false_negatives(labels, preds),
            tf.metrics.precision(labels, preds), tf.metrics.recall(labels, preds)]
    names = [v.name for v in tf.local_variables()]
    assert names[:4] == ["true_positives/count:0", "false_positives/count:0",
                         "true_negatives/count:0", "false_negatives/count:0"]
    assert names[4:] == ["precision/true_positives/count:0",
                         "precision/false_positives/count:0",
                         "recall/true_positives/count:0", "recall/false_negatives/count:0"]
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run([m[0] for m in made]) == [0.0] * 6              # nothing seen yet
        for lo, hi in [(0, 4), (4, 7), (7, 10)]:
            s.run([m[1] for m in made], {labels: LAB[lo:hi], preds: PRED[lo:hi]})
        tp, fp, tn, fn, p, r = s.run([m[0] for m in made])
    tn_, fp_, fn_, tp_ = skm.confusion_matrix(LAB, PRED).ravel()
    assert (tp, fp, tn, fn) == (tp_, fp_, tn_, fn_)
    np.testing.assert_allclose([p, r], [skm.precision_score(LAB, PRED),
                                        skm.recall_score(LAB, PRED)], rtol=1e-6)


def test_precision_recall_weighted_match_sklearn_sample_weight():
    w = np.linspace(0.5, 2.0, 10).astype(np.float32)
    p, p_up = tf.metrics.precision(LAB, PRED, weights=w)
    r, r_up = tf.metrics.recall(LAB.reshape(-1, 1), PRED, weights=w.reshape(-1, 1))
    tp, tp_up = tf.metrics.true_positives(LAB, PRED, weights=w)
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        s.run([p_up, r_up, tp_up])
        got = s.run([p, r, tp])
    want = [skm.precision_score(LAB, PRED, sample_weight=w),
            skm.recall_score(LAB, PRED, sample_weight=w), w[(LAB == 1) & (PRED == 1)].sum()]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_counts_and_curves_at_thresholds():
    th = [0.15, 0.5, 0.85]
    made = {name: getattr(tf.metrics, name + "_at_thresholds")(LAB, SCORES, th)
            for name in ("true_positives", "false_positives", "true_negatives",
                         "false_negatives")}
    prec, prec_up = tf.metrics.precision_at_thresholds(LAB, SCORES, th)
    rec, rec_up = tf.metrics.recall_at_thresholds(LAB, SCORES, th)
    assert [v.name for v in tf.local_variables()][:2] == ["true_positives/true_positives:0",
                                                          "false_positives/false_positives:0"]
    assert {v.name for v in tf.local_variables()} >= {
        "precision_at_thresholds/true_positives:0", "precision_at_thresholds/false_positives:0",
        "recall_at_thresholds/true_positives:0", "recall_at_thresholds/false_negatives:0"}
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        s.run([u for _, u in made.values()] + [prec_up, rec_up])
        got = s.run({k: v for k, (v, _) in made.items()})
        p, r = s.run([prec, rec])
    for i, t in enumerate(th):
        pos = SCORES > t
        assert got["true_positives"][i] == np.sum(pos & (LAB == 1))
        assert got["false_positives"][i] == np.sum(pos & (LAB == 0))
        assert got["true_negatives"][i] == np.sum(~pos & (LAB == 0))
        assert got["false_negatives"][i] == np.sum(~pos & (LAB == 1))
        tp, fp, fn = np.sum(pos & (LAB == 1)), np.sum(pos & (LAB == 0)), np.sum(~pos & (LAB == 1))
        np.testing.assert_allclose([p[i], r[i]], [tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)],
                                   rtol=1e-6)


# ----- AUC and operating points -----------------------------------------------------------
def test_auc_roc_matches_sklearn_streaming():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    # scores on a grid coarser than the thresholds: the discretised curve is exact
    s = np.round(np.clip(0.35 * y + 0.65 * rng.random(300), 0, 1) * 20) / 20
    labels = tf.placeholder(tf.int64, [None])
    scores = tf.placeholder(tf.float32, [None])
    a, update = tf.metrics.auc(labels, scores)
    assert {v.name for v in tf.local_variables()} == {
        "auc/true_positives:0", "auc/false_negatives:0", "auc/true_negatives:0",
        "auc/false_positives:0"}
    assert all(v.shape.as_list() == [200] for v in tf.local_variables())
    feeds = [(y[i:i + 100], s[i:i + 100]) for i in (0, 100, 200)]
    ups, value = _run_stream(a, update, feeds, [labels, scores])
    np.testing.assert_allclose(value, skm.roc_auc_score(y, s), atol=1e-5)
    np.testing.assert_allclose(ups[-1], value)


# labels [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8] (scikit-learn's roc_auc example: 0.75)
Y4 = np.array([0, 0, 1, 1])
S4 = np.array([0.1, 0.4, 0.35, 0.8], np.float32)


@pytest.mark.parametrize("curve,method,want", [
    ("ROC", "trapezoidal", 0.75), ("ROC", "careful_interpolation", 0.75),
    # no score is shared by a positive and a negative: each step moves one coordinate only
    ("ROC", "minoring", 0.75), ("ROC", "majoring", 0.75),
    # PR, precision interpolated through TP and P = TP + FP (Davis & Goadrich): intervals
    # P 0->1 (TP 0->1): 1/2; P 2->3 (TP 1->2): slope 1, intercept -1: (1 - ln 1.5) / 2
    ("PR", "careful_interpolation", 0.5 + (1 - np.log(1.5)) / 2),
])
def test_auc_summation_methods_hand_computed(curve, method, want):
    a, update = tf.metrics.auc(Y4, S4, curve=curve, summation_method=method)
    ups, value = _run_stream(a, update, [()], [])
    np.testing.assert_allclose([ups[0], value], [want, want], atol=1e-5)


def test_auc_ties_bound_the_area():
    # a positive and a negative with the same score: ROC goes (0, 0) -> (1, 1) in one step
    got = {}
    for method in ("trapezoidal", "minoring", "majoring"):
        a, update = tf.metrics.auc([0, 1], [0.5, 0.5], summation_method=method)
        got[method] = _run_stream(a, update, [()], [])[1]
    np.testing.assert_allclose([got["minoring"], got["trapezoidal"], got["majoring"]],
                               [0.0, 0.5, 1.0], atol=1e-5)


def test_auc_pr_trapezoidal_and_custom_thresholds():
    a, update = tf.metrics.auc(Y4, S4, curve="PR", thresholds=[0.2, 0.5])
    # thresholds [-eps, .2, .5, 1+eps]: (recall, precision) = (1, .5), (1, 2/3), (.5, 1), (0, 1)
    want = 0 * (0.5 + 2 / 3) / 2 + 0.5 * (2 / 3 + 1) / 2 + 0.5 * 1.0
    ups, value = _run_stream(a, update, [()], [])
    np.testing.assert_allclose(value, want, atol=1e-5)
    assert all(v.shape.as_list() == [4] for v in tf.local_variables())


def test_auc_weights_match_sklearn_sample_weight():
    w = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
    a, update = tf.metrics.auc(Y4, S4, weights=w)
    np.testing.assert_allclose(_run_stream(a, update, [()], [])[1],
                               skm.roc_auc_score(Y4, S4, sample_weight=w), atol=1e-5)


def test_sensitivity_and_specificity_operating_points():
    sens, sens_up = tf.metrics.sensitivity_at_specificity(Y4, S4, specificity=0.5)
    spec, spec_up = tf.metrics.specificity_at_sensitivity(Y4, S4, sensitivity=0.5)
    assert {v.name.split("/")[0] for v in tf.local_variables()} == {
        "sensitivity_at_specificity", "specificity_at_sensitivity"}
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        s.run([sens_up, spec_up])
        got = s.run([sens, spec])
    # specificity 1/2 first holds at thresholds in [0.1, 0.35): both positives above -> 1.
    # sensitivity 1/2 holds for thresholds in [0.35, 0.8); the last one leaves both
    # negatives below -> specificity 1.
    np.testing.assert_allclose(got, [1.0, 1.0], atol=1e-6)
    sens2, up2 = tf.metrics.sensitivity_at_specificity(Y4, S4, specificity=1.0)
    # specificity 1 from threshold 0.4 on: only 0.8 is above -> sensitivity 1/2
    np.testing.assert_allclose(_run_stream(sens2, up2, [()], [])[1], 0.5, atol=1e-6)


# ----- multi-class ------------------------------------------------------------------------
def test_mean_iou_and_mean_per_class_accuracy_against_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 60)
    p = np.where(rng.random(60) < 0.6, y, rng.integers(0, 4, 60))
    labels = tf.placeholder(tf.int32, [None])
    preds = tf.placeholder(tf.int32, [None])
    iou, iou_up = tf.metrics.mean_iou(labels, preds, num_classes=4)
    mpa, mpa_up = tf.metrics.mean_per_class_accuracy(labels, preds, num_classes=4)
    assert [v.name for v in tf.local_variables()] == [
        "mean_iou/total_confusion_matrix:0", "mean_accuracy/total:0", "mean_accuracy/count:0"]
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run([iou, mpa]) == [0.0, 0.0]
        for lo in (0, 20, 40):
            cm, per_class = s.run([iou_up, mpa_up], {labels: y[lo:lo + 20],
                                                     preds: p[lo:lo + 20]})
        got_iou, got_mpa = s.run([iou, mpa])
    sk_cm = skm.confusion_matrix(y, p, labels=range(4))
    np.testing.assert_array_equal(cm, sk_cm)
    inter = np.diag(sk_cm)
    union = sk_cm.sum(0) + sk_cm.sum(1) - inter
    np.testing.assert_allclose(got_iou, np.mean(inter / union), rtol=1e-6)
    np.testing.assert_allclose(got_iou, skm.jaccard_score(y, p, average="macro"), rtol=1e-6)
    np.testing.assert_allclose(per_class, skm.recall_score(y, p, average=None), rtol=1e-6)
    np.testing.assert_allclose(got_mpa, skm.balanced_accuracy_score(y, p), rtol=1e-6)


def test_mean_iou_ignores_absent_classes_and_weights():
    iou, up = tf.metrics.mean_iou([[0, 1], [2, 2]], [[0, 2], [2, 1]], num_classes=5,
                                  weights=[[1.0, 1.0], [1.0, 0.0]])
    # weighted cm rows: 0 -> {0: 1}; 1 -> {2: 1}; 2 -> {2: 1}; classes 3, 4 never seen
    # IoU: class 0: 1, class 1: 0 / 1, class 2: 1 / 2 -> mean over 3 seen classes
    np.testing.assert_allclose(_run_stream(iou, up, [()], [])[1], 0.5, rtol=1e-6)


# ----- ranking metrics --------------------------------------------------------------------
PK = np.array([[0.1, 0.5, 0.2, 0.9], [0.8, 0.1, 0.3, 0.2]], np.float32)
LK = np.array([[1, 3, 3], [2, -1, 0]])        # row sets {1, 3} and {2, -1, 0}


def test_recall_and_precision_at_k_hand_computed():
    r, r_up = tf.metrics.recall_at_k(LK, PK, k=2)
    p, p_up = tf.metrics.precision_at_k(LK, PK, k=1)
    rc, rc_up = tf.metrics.recall_at_k(LK, PK, k=1, class_id=3)
    pc, pc_up = tf.metrics.precision_at_k(LK, PK, k=2, class_id=2)
    assert r.name == "recall_at_2:0" and r_up.name == "recall_at_2/update:0"
    assert [v.name for v in tf.local_variables()][:2] == [
        "recall_at_2/true_positive_at_2:0", "recall_at_2/false_negative_at_2:0"]
    assert "precision_at_2_class2/false_positive_at_2_class2:0" in [
        v.name for v in tf.local_variables()]
    assert all(v.dtype == tf.float64 for v in tf.local_variables())
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        with np.errstate(invalid="ignore"):
            assert np.isnan(s.run(r))                                # 0 / 0 as in TF1
        s.run([r_up, p_up, rc_up, pc_up])
        got = s.run([r, p, rc, pc])
    # top 2: row 0 {3, 1} -> tp 2, fn 0; row 1 {0, 2} -> tp 2, fn 1 (the -1 label)
    # top 1: row 0 {3}, row 1 {0}: both hit; class 3 is a label of row 0 and its top 1;
    # class 2 is in row 1's top 2 and labels
    np.testing.assert_allclose(got, [4 / 5, 1.0, 1.0, 1.0])


def test_precision_at_k_streams_with_weights_and_sparse_labels():
    preds = tf.placeholder(tf.float32, [None, 4])
    labels = tf.placeholder(tf.int64, [None, 2])
    weights = tf.placeholder(tf.float64, [None])
    p, p_up = tf.metrics.precision_at_k(labels, preds, k=2, weights=weights)
    feeds = [(PK, [[1, 0], [1, 1]], [1.0, 2.0]),        # row 0: 1 hit of 2; row 1: 0 of 2
             (PK[:1], [[3, 2]], [1.0])]                  # 1 hit of 2
    ups, value = _run_stream(p, p_up, feeds, [preds, labels, weights])
    np.testing.assert_allclose(ups, [1 / 6, 2 / 8])
    sparse = collections.namedtuple("SparseTensorValue", "indices values dense_shape")
    sp = sparse(indices=[[0, 0], [0, 1], [1, 0]], values=[1, 3, 2], dense_shape=[2, 3])
    r, r_up = tf.metrics.recall_at_top_k(sp, [[3, 1], [0, 1]], k=2, name="sparse_recall")
    # row 0 {1, 3} both found; row 1 {2} missed (the empty slots are not labels)
    np.testing.assert_allclose(_run_stream(r, r_up, [()], [])[1], 2 / 3)
    # the same labels as graph tensors (a SparseTensor's fields)
    sp_t = sparse(indices=tf.constant(sp.indices, tf.int64), values=tf.constant(sp.values),
                  dense_shape=tf.constant(sp.dense_shape, tf.int64))
    r2, r2_up = tf.metrics.recall_at_top_k(sp_t, [[3, 1], [0, 1]], k=2)
    np.testing.assert_allclose(_run_stream(r2, r2_up, [()], [])[1], 2 / 3)


def test_out_of_range_labels_count_for_recall_only():
    preds = np.array([[0.5, 0.1, 0.6, 0.3, 0.8, 0.0, 0.7, 0.2, 0.4, 0.9],
                      [0.3, 0.0, 0.7, 0.2, 0.4, 0.9, 0.5, 0.8, 0.1, 0.6]], np.float32)
    # top 5: row 0 {9, 4, 6, 2, 0}, row 1 {5, 7, 2, 9, 6}; -1 and 10 are no class
    dense = np.array([[2, 7, -1, 8], [1, 2, 5, 10]])
    sparse = collections.namedtuple("SparseTensorValue", "indices values dense_shape")(
        indices=[[0, 0], [0, 1], [0, 2], [0, 3], [1, 0], [1, 1], [1, 2], [1, 3]],
        values=dense.ravel(), dense_shape=[2, 4])
    made = []
    for labels in (dense, sparse):
        made += [tf.metrics.recall_at_k(labels, preds, 5),                 # 3 of 8 labels
                 tf.metrics.recall_at_k(labels, preds, 5, class_id=2),     # 2 of 2
                 tf.metrics.recall_at_k(labels, preds, 5, class_id=7),     # 0 of 1
                 tf.metrics.precision_at_k(labels, preds, 5),              # 3 of 10
                 tf.metrics.precision_at_k(labels, preds, 5, class_id=5)]  # 1 of 1
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        got = s.run([u for _, u in made])
    np.testing.assert_allclose(got, [3 / 8, 1.0, 0.0, 3 / 10, 1.0] * 2)


def test_average_precision_at_k():
    ap, up = tf.metrics.average_precision_at_k(np.array([[3, 5], [0, 7]]), PK, k=3)
    assert ap.name == "average_precision_at_3/mean:0"
    assert {v.name for v in tf.local_variables()} == {"average_precision_at_3/max:0",
                                                      "average_precision_at_3/total:0"}
    # row 0 ranks 3, 1, 2: label 3 at rank 1; 5 is out of range (ignored) -> AP 1/1
    # row 1 ranks 0, 2, 3: label 0 at rank 1; 7 ignored -> 1
    # with k=3 both rows count min(#labels in range, 3) = 1 relevant item
    np.testing.assert_allclose(_run_stream(ap, up, [()], [])[1], 1.0)
    ap2, up2 = tf.metrics.average_precision_at_k(np.array([[1, 2], [2, 1]]), PK, k=3)
    # row 0 ranks 3, 1, 2: hits at ranks 2, 3 -> (1/2 + 2/3) / 2; row 1 ranks 0, 2, 3:
    # hit at rank 2 -> (1/2) / 2
    np.testing.assert_allclose(_run_stream(ap2, up2, [()], [])[1],
                               ((0.5 + 2 / 3) / 2 + 0.25) / 2)


# ----- graph-build errors -----------------------------------------------------------------
def test_mismatched_shapes_fail_at_graph_build():
    with pytest.raises(ValueError, match=r"accuracy.*\(3,\).*\(4,\)|accuracy.*3.*4"):
        tf.metrics.accuracy([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        tf.metrics.mean(tf.zeros([4, 3]), weights=tf.ones([4, 2]))
    with pytest.raises(ValueError, match="incompatible"):
        tf.metrics.auc(tf.zeros([5]), tf.zeros([6]))
    with pytest.raises(ValueError, match="incompatible"):
        tf.metrics.mean_iou(tf.zeros([5], tf.int32), tf.zeros([6], tf.int32), 3)
    with pytest.raises(ValueError, match="labels shape"):
        tf.metrics.recall_at_k(tf.zeros([2, 2, 2], tf.int64), tf.zeros([2, 4]), k=1)
    with pytest.raises(ValueError, match="fully defined"):
        tf.metrics.mean_tensor(tf.placeholder(tf.float32, [None, 2]))


def test_argument_errors():
    with pytest.raises(ValueError, match="Curve must be either ROC or PR"):
        tf.metrics.auc([0, 1], [0.2, 0.7], curve="XY")
    with pytest.raises(ValueError, match="Invalid summation_method"):
        tf.metrics.auc([0, 1], [0.2, 0.7], summation_method="simpson")
    with pytest.raises(ValueError, match="specificity"):
        tf.metrics.sensitivity_at_specificity([0, 1], [0.2, 0.7], specificity=1.5)
    with pytest.raises(ValueError, match="sensitivity"):
        tf.metrics.specificity_at_sensitivity([0, 1], [0.2, 0.7], sensitivity=-0.1)
    with pytest.raises(ValueError, match="Invalid k"):
        tf.metrics.precision_at_k([[0]], [[0.5, 0.5]], k=0)
    with pytest.raises(ValueError, match="num_classes"):
        tf.metrics.mean_iou([0, 1], [0, 1], num_classes=None)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"predictions must be in \[0, 1\]"):
        tf.metrics.auc([0, 1], [0.2, 1.7])                          # constants: at build
    scores = tf.placeholder(tf.float32, [None])
    a, update = tf.metrics.auc([0, 1], scores)
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"predictions must be in"):
            s.run(update, {scores: [0.2, 1.7]})
