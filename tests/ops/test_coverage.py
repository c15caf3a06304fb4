"""Every registered op is exercised by some op-harness row (forward, shape, gradients),
or is listed here with the reason it is tested elsewhere."""

from pathlib import Path

import numpy as np

import flowgrad as tf
from flowgrad.framework.registry import registered_ops
from flowgrad.testing.op_test import load_cases

# op types whose behaviour is not a pure function of their inputs, checked by dedicated tests
TESTED_ELSEWHERE = {
    "Placeholder": "fed, never run (tests/framework/test_session.py)",
    "PlaceholderWithDefault": "test_session.py::test_placeholder_with_default",
    "Const": "every row builds constants",
    "VariableV2": "state: test_session.py, test_semantics.py",
    "Assign": "state", "AssignAdd": "state", "AssignSub": "state",
    "IsVariableInitialized": "state", "ReportUninitialized": "state",
    "ApplyGradientDescent": "optimizer tests",
    "NoOp": "control", "Assert": "test_extras.py", "Print": "side effect only",
    "PyFunc": "test_extras.py", "CheckNumerics": "test_session.py (rollback test)",
    "RandomUniform": "statistics: test_nondiff_ops.py",
    "RandomStandardNormal": "statistics", "TruncatedNormal": "statistics",
    "RandomUniformInt": "statistics", "RandomShuffle": "statistics", "Multinomial": "statistics",
    "PreventGradient": "raises by design",
    # input pipeline and summaries: stateful / serialized outputs
    "MakeIterator": "tests/data/test_dataset.py (iterators, switching datasets)",
    "IteratorGetNext": "tests/data/test_dataset.py (ordering, seeds, end of data)",
    "ReduceDataset": "runs a dataset: tests/data/test_dataset_extras.py (Dataset.reduce)",
    "ScalarSummary": "tests/summary/test_summary.py (events read back)",
    "HistogramSummary": "tests/summary/test_summary.py",
    "ImageSummary": "tests/summary/test_summary.py",
    "TextSummary": "tests/summary/test_summary.py", "MergeSummary": "tests/summary/test_summary.py",
    "CandidateSampler": "random: test_embedding_ops.py (distribution, expected counts)",
    "CaseCheck": "test_control_flow.py::test_case_dict_default_exclusive",
    "SparseApplyGradientDescent": "state: test_embedding_ops.py (sparse SGD, rollback)",
    # training stack: optimizer updates against hand-computed values, in-top-k semantics
    "ApplyMomentum": "tests/train/test_optimizers.py", "ApplyAdam": "test_optimizers.py",
    "ApplyRMSProp": "test_optimizers.py", "ApplyCenteredRMSProp": "test_optimizers.py",
    "ApplyAdagrad": "test_optimizers.py", "ApplyAdadelta": "test_optimizers.py",
    "SparseApplyMomentum": "test_optimizers.py (embedding rows)",
    "SparseApplyRMSProp": "test_optimizers.py",
    "SparseApplyCenteredRMSProp": "test_optimizers.py",
    "SparseApplyAdagrad": "test_optimizers.py", "SparseApplyAdadelta": "test_optimizers.py",
    "InTopKV2": "boolean output: test_nn_training_ops.py::test_in_top_k_counts_ties_...",
    "MPIAggregateApply": "a train op holding a sub-plan: tests/distributed (2-rank jobs)",
    "RandomGamma": "statistics and seeds: tests/train/test_train_extras.py",
    "RandomPoissonV2": "statistics and seeds: tests/train/test_train_extras.py",
    # string inputs (serialized protocol buffers), no gradient
    "ParseExample": "tests/data/test_tfrecord.py (dense, sparse, defaults, errors)",
    "ParseSingleSequenceExample": "tests/data/test_tfrecord.py",
    # strings: the harness compares numbers, these ops make strings (or booleans/ints from
    # strings); tests/ops/test_string_ops.py checks TF1's values for each
    **{t: "string values: tests/ops/test_string_ops.py" for t in (
        "AsString", "StringJoin", "StringLength", "Substr", "StringSplit", "StringSplitV2",
        "RegexReplace", "RegexFullMatch", "StringStrip", "StringLower", "StringUpper",
        "ReduceJoin", "StringFormat", "StringToHashBucketFast", "StringToHashBucketStrong",
        "StringToHashBucket")},
    # lookup tables: session state
    **{t: "table state: tests/ops/test_lookup_ops.py" for t in (
        "InitializeTableV2", "InitializeTableFromTextFileV2", "LookupTableFindV2",
        "LookupTableSizeV2", "LookupTableExportV2", "LookupTableInsertV2",
        "LookupTableRemoveV2")},
    # queues: blocking session state, not differentiable
    **{t: "queue state: tests/train/test_queues.py" for t in (
        "QueueEnqueueV2", "QueueEnqueueManyV2", "QueueDequeueV2", "QueueDequeueManyV2",
        "QueueCloseV2", "QueueSizeV2", "QueueIsClosedV2")},
    "CountUpTo": "variable state (num_epochs): tests/train/test_queues.py",
    # readers: session state over files and a queue, not differentiable
    **{t: "reader state: tests/train/test_readers.py" for t in (
        "ReaderReadV2", "ReaderReadUpToV2", "ReaderNumRecordsProducedV2",
        "ReaderNumWorkUnitsCompletedV2", "ReaderResetV2", "ReaderSerializeStateV2",
        "ReaderRestoreStateV2")},
}


def _all_cases():
    here = Path(__file__).parent
    return load_cases(here, here.parent / "nn")


def _op_types_built_by(case) -> set[str]:
    if case.setup is not None:
        case.setup()
    g = tf.Graph()
    with g.as_default():
        shapes = [np.shape(v) for v in case.inputs] if case.inputs is not None else case.shapes
        dts = [np.asarray(v).dtype for v in case.inputs] if case.inputs is not None else \
            [np.float64] * len(shapes)
        phs = [tf.placeholder(tf.as_dtype(d), s) for s, d in zip(shapes, dts)]
        out = case.fn(*phs)
        outs = [t for t in (out if isinstance(out, list | tuple) else [out])
                if t.dtype.is_floating]
        if case.grad and outs:
            grads = tf.gradients(tf.add_n([tf.reduce_sum(t) for t in outs]),
                                 [p for p in phs if p.dtype.is_floating])
            if case.order2:
                tf.gradients(tf.add_n([tf.reduce_sum(d) for d in grads if d is not None]),
                             [p for p in phs if p.dtype.is_floating])
        return {op.type for op in g.get_operations()}


def test_every_registered_op_has_a_harness_row():
    covered = set()
    for case in _all_cases():
        covered |= _op_types_built_by(case)
    missing = sorted(set(registered_ops()) - covered - set(TESTED_ELSEWHERE))
    assert not missing, f"ops without an op-harness row: {missing}"
