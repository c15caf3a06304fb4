"""Candidate samplers and the sampled losses built on them: ``nce_loss``,
``sampled_softmax_loss``.

Both losses score the true classes and ``num_sampled`` classes drawn from a sampler
(TF's log-uniform "Zipfian" sampler by default) instead of all ``num_classes``; the
weight and bias rows are gathered with ``embedding_lookup``, so their gradients are
``IndexedSlices`` of only those rows.
"""

from __future__ import annotations

import math

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import name_scope
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import nn_ops as N
from flowgrad.ops import reduce_ops as R
from flowgrad.ops import state_ops as S
from flowgrad.ops.embedding_ops import embedding_lookup
from flowgrad.runtime.placement import register_host_only


# ----- candidate samplers ---------------------------------------------------------------------
def _log_uniform_prob(xp, k, range_max: int):
    k = k.astype(np.float64)
    return (xp.log(k + 2.0) - xp.log(k + 1.0)) / math.log(range_max + 1.0)


def _sampler_shape(node: NodeSpec):
    t = node.inputs[0]
    if not t.dtype.is_integer:
        node.fail(f"true_classes must be int64, got {t.dtype.name}", TypeError)
    a = node.attrs
    if t.shape.ndims not in (None, 2):
        node.fail("true_classes must be a matrix [batch_size, num_true]")
    batch = t.shape[0] if t.shape.ndims == 2 else None
    return [(TensorShape([a["num_sampled"]]), _dt.int64),
            (TensorShape([batch, a["num_true"]]), _dt.float32),
            (TensorShape([a["num_sampled"]]), _dt.float32)]


@op("CandidateSampler", shape=_sampler_shape, stateful=True)
def _candidate_sampler(xp, true_classes, *, ctx, distribution, num_true, num_sampled,
                       unique, range_max, seed=None, seed2=None):
    rng = ctx.rng
    if unique and num_sampled > range_max:
        raise ValueError(f"num_sampled ({num_sampled}) must not exceed range_max "
                         f"({range_max}) when unique=True")

    def draw(n):
        if distribution == "log_uniform":
            # inverse CDF of P(k) = log((k+2)/(k+1)) / log(range_max+1)
            v = np.floor(np.exp(rng.uniform(size=n) * math.log(range_max + 1.0))) - 1
            return np.clip(v, 0, range_max - 1).astype(np.int64)
        return rng.integers(0, range_max, size=n, dtype=np.int64)

    def prob(k):
        if distribution == "log_uniform":
            return _log_uniform_prob(np, np.asarray(k), range_max)
        return np.full(np.shape(k), 1.0 / range_max)

    if unique:
        picked, seen, tries = [], set(), 0
        while len(picked) < num_sampled:
            for c in draw(max(num_sampled - len(picked), 1)):
                tries += 1
                if int(c) not in seen:
                    seen.add(int(c))
                    picked.append(int(c))
                    if len(picked) == num_sampled:
                        break
        sampled = np.array(picked, dtype=np.int64)

        def expected(k):    # P(k drawn at least once in `tries` draws)
            return -np.expm1(tries * np.log1p(-np.minimum(prob(k), 1 - 1e-12)))
    else:
        sampled = draw(num_sampled)

        def expected(k):
            return prob(k) * num_sampled
    return (xp.asarray(sampled), xp.asarray(expected(np.asarray(true_classes)), np.float32),
            xp.asarray(expected(sampled), np.float32))


NotDifferentiable("CandidateSampler")


def _sampler(distribution, true_classes, num_true, num_sampled, unique, range_max, seed,
             name):
    tc = convert_to_tensor(true_classes)
    if tc.dtype != _dt.int64:
        tc = M.cast(tc, _dt.int64)
    return _candidate_sampler(tc, distribution=distribution, num_true=int(num_true),
                              num_sampled=int(num_sampled), unique=bool(unique),
                              range_max=int(range_max), name=name, **S._seeds(seed))


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                  seed=None, name=None):
    """Samples classes with ``P(k) = log((k+2)/(k+1)) / log(range_max+1)`` (Zipfian).

    Returns ``(sampled_candidates, true_expected_count, sampled_expected_count)``.
    """
    return tuple(_sampler("log_uniform", true_classes, num_true, num_sampled, unique,
                          range_max, seed, name or "LogUniformCandidateSampler"))


def uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                              seed=None, name=None):
    """Samples classes uniformly from ``[0, range_max)``."""
    return tuple(_sampler("uniform", true_classes, num_true, num_sampled, unique, range_max,
                          seed, name or "UniformCandidateSampler"))


def _hits_shape(node: NodeSpec):
    return [(TensorShape([None]), _dt.int32), (TensorShape([None]), _dt.int64),
            (TensorShape([None]), _dt.float32)]


@op("ComputeAccidentalHits", shape=_hits_shape)
def _accidental_hits(xp, true_classes, sampled_candidates, *, num_true):
    tc = np.asarray(true_classes)
    sc = np.asarray(sampled_candidates)
    r, _, c = np.nonzero(tc[:, :, None] == sc[None, None, :])
    pairs = np.unique(np.stack([r, c], 1), axis=0) if r.size else np.zeros((0, 2), np.int64)
    w = np.full(len(pairs), -np.finfo(np.float32).max, np.float32)
    return (xp.asarray(pairs[:, 0].astype(np.int32)), xp.asarray(pairs[:, 1].astype(np.int64)),
            xp.asarray(w))


NotDifferentiable("ComputeAccidentalHits")
# the samplers draw on the host (numpy's generator); a device session copies around them
register_host_only("CandidateSampler", "ComputeAccidentalHits")


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """Where a sampled class equals a true class of a row: ``(rows, sampled positions,
    weights)`` with weight ``-FLT_MAX`` to knock those logits out."""
    tc = M.cast(convert_to_tensor(true_classes), _dt.int64)
    return tuple(_accidental_hits(tc, convert_to_tensor(sampled_candidates),
                                  num_true=int(num_true), name=name))


# ----- sampled logits and the losses ----------------------------------------------------------
def _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes,
                            num_true, sampled_values, subtract_log_q, remove_accidental_hits,
                            partition_strategy, name, seed=None):
    with name_scope(name, "compute_sampled_logits"):
        labels = convert_to_tensor(labels)
        if labels.dtype != _dt.int64:
            labels = M.cast(labels, _dt.int64)
        inputs = convert_to_tensor(inputs)
        labels_flat = A.reshape(labels, [-1])
        if sampled_values is None:
            sampled_values = log_uniform_candidate_sampler(labels, num_true, num_sampled, True,
                                                           num_classes, seed=seed)
        sampled, true_expected, sampled_expected = (A.stop_gradient(v)
                                                    for v in sampled_values)
        sampled = M.cast(sampled, _dt.int64)
        all_ids = A.concat([labels_flat, sampled], 0)
        all_w = embedding_lookup(weights, all_ids, partition_strategy=partition_strategy)
        n_true = A.shape(labels_flat)[0]
        dim = A.shape(all_w)[1:]
        true_w = A.slice(all_w, A.concat([[0], A.zeros_like(dim)], 0),
                         A.concat([A.expand_dims(n_true, 0), dim], 0))
        sampled_w = A.slice(all_w, A.concat([A.expand_dims(n_true, 0), A.zeros_like(dim)], 0),
                            A.concat([[-1], dim], 0))
        sampled_logits = M.matmul(inputs, sampled_w, transpose_b=True)
        all_b = embedding_lookup(biases, all_ids, partition_strategy=partition_strategy)
        true_b = A.slice(all_b, [0], A.expand_dims(n_true, 0))
        sampled_b = A.slice(all_b, A.expand_dims(n_true, 0), [-1])
        d = inputs.shape[-1] if inputs.shape.ndims is not None else None
        d = d if d is not None else A.shape(inputs)[1]
        true_w = A.reshape(true_w, A.stack([-1, num_true, d]) if not isinstance(d, int)
                           else [-1, num_true, d])
        true_logits = R.reduce_sum(A.expand_dims(inputs, 1) * true_w, axis=2)
        true_logits = true_logits + A.reshape(true_b, [-1, num_true])
        sampled_logits = sampled_logits + sampled_b
        if remove_accidental_hits:
            rows, cols, w = compute_accidental_hits(labels, sampled, num_true)
            idx = A.stack([M.cast(rows, _dt.int64), cols], 1)
            shape = A.stack([M.cast(A.shape(sampled_logits)[0], _dt.int64),
                             M.cast(A.shape(sampled_logits)[1], _dt.int64)])
            mask = A.scatter_nd(idx, M.cast(w, sampled_logits.dtype), shape)
            sampled_logits = sampled_logits + mask
        if subtract_log_q:
            true_logits = true_logits - M.log(M.cast(true_expected, true_logits.dtype))
            sampled_logits = sampled_logits - M.log(M.cast(sampled_expected,
                                                           sampled_logits.dtype))
        out_logits = A.concat([true_logits, sampled_logits], 1)
        out_labels = A.concat([A.ones_like(true_logits) / float(num_true),
                               A.zeros_like(sampled_logits)], 1)
    return out_logits, out_labels


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true: int = 1,
             sampled_values=None, remove_accidental_hits: bool = False,
             partition_strategy: str = "mod", name: str = "nce_loss"):
    """``tf.nn.nce_loss``: noise-contrastive estimation loss per example, shape [batch].

    ``weights`` ``[num_classes, dim]``, ``biases`` ``[num_classes]``, ``labels``
    ``[batch, num_true]`` (int64), ``inputs`` ``[batch, dim]``.
    """
    logits, targets = _compute_sampled_logits(
        weights, biases, labels, inputs, num_sampled, num_classes, num_true, sampled_values,
        True, remove_accidental_hits, partition_strategy, name)
    losses = N.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits,
                                                 name="sampled_losses")
    return R.reduce_sum(losses, axis=1)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes,
                         num_true: int = 1, sampled_values=None,
                         remove_accidental_hits: bool = True, partition_strategy: str = "mod",
                         name: str = "sampled_softmax_loss", seed=None):
    """``tf.nn.sampled_softmax_loss``: softmax cross-entropy over the true and sampled
    classes, shape [batch] (a cheap estimate of the full softmax loss for training)."""
    logits, targets = _compute_sampled_logits(
        weights, biases, labels, inputs, num_sampled, num_classes, num_true, sampled_values,
        True, remove_accidental_hits, partition_strategy, name, seed=seed)
    return N.softmax_cross_entropy_with_logits_v2(labels=A.stop_gradient(targets),
                                                  logits=logits)
