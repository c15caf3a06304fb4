"""Connectionist temporal classification: ``tf.nn.ctc_loss`` (TF1's ``CTCLoss`` op),
``ctc_loss_v2``, ``ctc_greedy_decoder`` and ``ctc_beam_search_decoder``.

The loss runs the forward-backward recursion in log space over the extended label
sequence ``l' = (blank, l1, blank, l2, ..., blank)``, vectorised over the batch and the
extended positions (one numpy step per time step).  As in TF1 the op returns the loss and
its gradient with respect to the unnormalized logits, and the gradient rule reads the
second output; the blank is the last class (``num_classes - 1``).  The kernels are
host-only (small, sequential recursions).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.errors import InvalidArgumentError
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops.array_extra_ops import sequence_mask
from flowgrad.ops.indexing_ops import gather_nd
from flowgrad.ops.sparse_tensor import SparseTensor, SparseTensorValue
from flowgrad.runtime.placement import register_host_only

_NEG_INF = -np.inf


# ----- shared checks -------------------------------------------------------------------------
def _require_logits(node: NodeSpec, i: int = 0) -> None:
    x = node.inputs[i]
    if not x.dtype.is_floating:
        node.fail(f"inputs must be float32 or float64 logits, got {x.dtype.name}", TypeError)
    if x.shape.ndims is not None and x.shape.ndims != 3:
        node.fail(f"inputs must be 3-D [max_time, batch_size, num_classes], got {x.shape}")


def _check_lengths(seq_len: np.ndarray, batch: int, max_time: int, what: str) -> None:
    if seq_len.shape != (batch,):
        raise InvalidArgumentError(None, None, f"{what}: len(sequence_length) != batch_size. "
                                   f"len(sequence_length): {seq_len.size} batch_size: {batch}")
    for b in np.nonzero((seq_len > max_time) | (seq_len < 0))[0]:
        raise InvalidArgumentError(None, None, f"{what}: sequence_length({b}) <= {max_time} "
                                   f"and >= 0 is required, got {int(seq_len[b])}")


def _labels_by_batch(indices, values, batch: int):
    """(batch of each label, label values), ordered by (batch, position); checks TF's rules."""
    idx = np.asarray(indices, np.int64).reshape(-1, 2)
    val = np.asarray(values).astype(np.int64).reshape(-1)
    if idx.shape[0] != val.shape[0]:
        raise InvalidArgumentError(None, None, f"CTCLoss: labels_indices and labels_values "
                                   f"must have the same length, got {idx.shape[0]} and "
                                   f"{val.shape[0]}")
    bad = (idx[:, 0] < 0) | (idx[:, 0] >= batch)
    if bad.any():
        raise InvalidArgumentError(None, None, f"CTCLoss: labels batch index must be between "
                                   f"0 and {batch - 1}, got {int(idx[bad][0, 0])}")
    order = np.lexsort((idx[:, 1], idx[:, 0]))
    return idx[order, 0], val[order]


def _dense_labels(lb: np.ndarray, lv: np.ndarray, batch: int):
    """Labels as a padded [batch, max_len] matrix and per-entry lengths."""
    lengths = np.bincount(lb, minlength=batch).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos = np.arange(lb.size) - start[lb]
    dense = np.zeros((batch, int(lengths.max(initial=0))), np.int64)
    dense[lb, pos] = lv
    return dense, lengths


def _strip_null_labels(lb: np.ndarray, lv: np.ndarray, num_classes: int):
    """Drops the trailing "null" labels (values >= num_classes - 1: TF's padding) of each
    example; a label after a null one is an error, as in TF."""
    null = lv >= num_classes - 1
    seen = np.cumsum(null) - null                     # nulls before each entry, all batches
    first = np.searchsorted(lb, lb)                   # each entry's batch starts here
    after_null = ~null & (seen - seen[first] > 0)
    if after_null.any():
        b = int(lb[after_null][0])
        raise InvalidArgumentError(None, None, f"CTCLoss: Saw a non-null label (index >= "
                                   f"num_classes - 1) following a null label, batch: {b} "
                                   f"num_classes: {num_classes} labels: "
                                   f"{','.join(str(v) for v in lv[lb == b])}")
    return lb[~null], lv[~null]


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - m).sum(axis=axis)) + np.squeeze(m, axis)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - _logsumexp(x, -1)[..., None]


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """``a`` moved k places right along the last axis, -inf filled in."""
    out = np.full_like(a, _NEG_INF)
    out[..., k:] = a[..., :-k]
    return out


def _shift_left(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, _NEG_INF)
    out[..., :-k] = a[..., k:]
    return out


# ----- the loss --------------------------------------------------------------------------------
def _ctc_loss_shape(node: NodeSpec):
    _require_logits(node)
    x, indices, values, seq_len = node.inputs
    if not values.dtype.is_integer or not seq_len.dtype.is_integer:
        node.fail(f"labels_values and sequence_length must be int32, got "
                  f"{values.dtype.name} and {seq_len.dtype.name}", TypeError)
    if indices.shape.ndims not in (None, 2):
        node.fail(f"labels_indices must be a matrix [num_labels, 2], got {indices.shape}")
    if seq_len.shape.ndims not in (None, 1):
        node.fail(f"sequence_length must be a vector [batch_size], got {seq_len.shape}")
    shp = x.shape if x.shape.ndims == 3 else TensorShape([None, None, None])
    n = seq_len.shape[0] if seq_len.shape.ndims == 1 else None
    if shp[1] is not None and n is not None and shp[1] != n:
        node.fail(f"sequence_length has {int(n)} entries but inputs have batch size "
                  f"{int(shp[1])}")
    batch = shp[1] if shp[1] is not None else n
    return [(TensorShape([batch]), x.dtype), (TensorShape([shp[0], batch, shp[2]]), x.dtype)]


def _ctc_forward_backward(logy, ext, ext_len, seq_len, merge):
    """Log-likelihoods ``[batch]`` and log state posteriors ``[T, batch, S]`` (unnormalized:
    alpha + beta) of the extended labels ``ext`` ``[batch, S]``.

    ``alpha[t, b, s]`` includes the emission at ``t``; ``beta[t, b, s]`` covers steps
    ``t+1 .. seq_len[b]-1``.  Entries past an example's length stay at -inf.
    """
    T, B, _ = logy.shape
    S = ext.shape[1]
    blank = logy.shape[2] - 1
    emit = np.take_along_axis(logy, np.broadcast_to(ext[None], (T, B, S)), axis=2)
    pos = np.arange(S)
    valid = pos[None, :] < ext_len[:, None]                               # [B, S]
    is_blank = ext == blank
    stay_ok = np.ones_like(is_blank) if merge else is_blank
    same2 = np.zeros_like(is_blank)
    same2[:, 2:] = ext[:, 2:] == ext[:, :-2]
    skip_ok = ~is_blank & (pos[None, :] >= 2) & ~(same2 if merge else np.zeros_like(same2))
    emit = np.where(valid[None], emit, _NEG_INF)

    alpha = np.full((T, B, S), _NEG_INF)
    if T:
        alpha[0, :, :2] = emit[0, :, :2]
        alpha[0][~valid] = _NEG_INF
    for t in range(1, T):
        a = alpha[t - 1]
        cand = np.stack([np.where(stay_ok, a, _NEG_INF), _shift(a, 1),
                         np.where(skip_ok, _shift(a, 2), _NEG_INF)])
        alpha[t] = _logsumexp(cand, 0) + emit[t]

    beta = np.full((T, B, S), _NEG_INF)
    last = seq_len - 1
    end = np.where(valid & (pos[None, :] >= ext_len[:, None] - 2), 0.0, _NEG_INF)
    stay_next = np.where(stay_ok, 0.0, _NEG_INF)
    skip_next = _shift_left(np.where(skip_ok, 0.0, _NEG_INF), 2)
    for t in range(T - 1, -1, -1):
        if t + 1 < T:
            nxt = beta[t + 1] + emit[t + 1]
            cand = np.stack([nxt + stay_next, _shift_left(nxt, 1), _shift_left(nxt, 2)
                             + skip_next])
            rec = _logsumexp(cand, 0)
        else:
            rec = np.full((B, S), _NEG_INF)
        beta[t] = np.where((t == last)[:, None], end, np.where((t < last)[:, None], rec,
                                                               _NEG_INF))

    fin = alpha[np.maximum(last, 0), np.arange(B)] + end if T else np.full((B, S), _NEG_INF)
    # an empty sequence emits only the empty labelling (longer ones were rejected before)
    log_p = np.where(seq_len == 0, 0.0, _logsumexp(fin, 1))
    return log_p, alpha + beta


@op("CTCLoss", shape=_ctc_loss_shape)
def _ctc_loss(xp, inputs, labels_indices, labels_values, sequence_length, *,
              preprocess_collapse_repeated=False, ctc_merge_repeated=True,
              ignore_longer_outputs_than_inputs=False):
    x = np.asarray(inputs)
    if x.ndim != 3:
        raise InvalidArgumentError(None, None, f"CTCLoss: inputs must be 3-D [max_time, "
                                   f"batch_size, num_classes], got shape {x.shape}")
    T, B, C = x.shape
    seq_len = np.asarray(sequence_length).astype(np.int64).reshape(-1)
    _check_lengths(seq_len, B, T, "CTCLoss")
    lb, lv = _labels_by_batch(labels_indices, labels_values, B)
    for b in np.unique(lb[lv < 0]):
        raise InvalidArgumentError(None, None, f"CTCLoss: All labels must be nonnegative "
                                   f"integers, batch: {b} labels: "
                                   f"{','.join(str(v) for v in lv[lb == b])}")
    # TF checks the time needed on the labels as given: nulls and repeats count
    required = np.bincount(lb, minlength=B).astype(np.int64)
    lb, lv = _strip_null_labels(lb, lv, C)
    if preprocess_collapse_repeated and lb.size:
        keep = np.ones(lb.size, bool)
        keep[1:] = (lb[1:] != lb[:-1]) | (lv[1:] != lv[:-1])
        lb, lv = lb[keep], lv[keep]
    labels, lengths = _dense_labels(lb, lv, B)
    too_long = required > seq_len
    if too_long.any() and not ignore_longer_outputs_than_inputs:
        b = int(np.nonzero(too_long)[0][0])
        raise InvalidArgumentError(None, None, f"CTCLoss: Not enough time for target "
                                   f"transition sequence (required: {required[b]}, available: "
                                   f"{seq_len[b]}), batch: {b}. You can turn this error into "
                                   "a warning by using the flag "
                                   "ignore_longer_outputs_than_inputs")
    S = 2 * labels.shape[1] + 1
    ext = np.full((B, S), C - 1, np.int64)
    ext[:, 1::2] = labels
    logy = _log_softmax(x.astype(np.float64))
    log_p, log_post = _ctc_forward_backward(logy, ext, 2 * lengths + 1, seq_len,
                                            bool(ctc_merge_repeated))
    y = np.exp(logy)
    with np.errstate(invalid="ignore", over="ignore"):
        post = np.exp(log_post - log_p[None, :, None])
    post[:, ~np.isfinite(log_p)] = 0.0           # no valid path: the gradient is softmax
    flat = (np.arange(T)[:, None, None] * B + np.arange(B)[None, :, None]) * C + ext[None]
    occupancy = np.bincount(flat.ravel(), weights=post.ravel(),
                            minlength=T * B * C).reshape(T, B, C)
    grad = y - occupancy
    live = (np.arange(T)[:, None] < seq_len[None, :]) & ~too_long[None, :]
    grad = np.where(live[..., None], grad, 0.0)
    loss = np.where(too_long, 0.0, 0.0 - log_p)
    return xp.asarray(loss.astype(x.dtype)), xp.asarray(grad.astype(x.dtype))


@_ctc_loss.grad
def _ctc_loss_grad(op, dloss, dgrad) -> list:
    # TF1: the fused gradient output, scaled per example; no second derivative
    grad = A.prevent_gradient(op.outputs[1], message="Currently there is no way to take the "
                              "second derivative of ctc_loss due to the fused "
                              "implementation's interaction with tf.gradients()")
    return [A.expand_dims(A.expand_dims(dloss, 0), -1) * grad, None, None, None]


def ctc_loss(labels, inputs=None, sequence_length=None, preprocess_collapse_repeated=False,
             ctc_merge_repeated=True, ignore_longer_outputs_than_inputs=False,
             time_major=True, logits=None) -> Tensor:
    """``tf.nn.ctc_loss`` (TF1): the negative log-probability of ``labels`` per example.

    ``labels`` is an int32 ``SparseTensor`` (``labels.indices[i] = [b, position]``),
    ``inputs`` the unnormalized logits ``[max_time, batch, num_classes]`` (``[batch,
    max_time, num_classes]`` with ``time_major=False``), and the blank is the last class.

    >>> import flowgrad as tf
    >>> x = tf.zeros([2, 1, 3])        # uniform over {a, b, blank} for 2 steps
    >>> lab = tf.SparseTensor([[0, 0]], tf.constant([0]), [1, 1])
    >>> round(float(tf.Session().run(tf.nn.ctc_loss(lab, x, [2]))[0]), 4)  # -log(3/9)
    1.0986
    """
    if isinstance(labels, SparseTensorValue):
        labels = SparseTensor.from_value(labels)
    if not isinstance(labels, SparseTensor):
        raise TypeError("Expected labels (first argument) to be a SparseTensor")
    if inputs is None:
        inputs = logits
    elif logits is not None:
        raise ValueError("Cannot specify both 'inputs' and 'logits' (its deprecated name).")
    inputs = convert_to_tensor(inputs, name="logits")
    if not time_major:
        inputs = A.transpose(inputs, [1, 0, 2])
    return _loss_op(inputs, labels.indices, labels.values, sequence_length,
                    preprocess_collapse_repeated, ctc_merge_repeated,
                    ignore_longer_outputs_than_inputs)


def _loss_op(inputs, indices, values, sequence_length, preprocess_collapse_repeated=False,
             ctc_merge_repeated=True, ignore_longer_outputs_than_inputs=False) -> Tensor:
    values = M.cast(values, _dt.int32) if values.dtype != _dt.int32 else values
    seq = convert_to_tensor(sequence_length, name="sequence_length")
    if seq.dtype != _dt.int32:
        seq = M.cast(seq, _dt.int32)
    loss, _ = _ctc_loss(inputs, indices, values, seq,
                        preprocess_collapse_repeated=bool(preprocess_collapse_repeated),
                        ctc_merge_repeated=bool(ctc_merge_repeated),
                        ignore_longer_outputs_than_inputs=bool(
                            ignore_longer_outputs_than_inputs),
                        name="CTCLoss")
    return loss


def _move_blank_last(logits: Tensor, values: Tensor, blank_index: int):
    """Logits with class ``blank_index`` moved last, label values renumbered to match."""
    nc = logits.shape[2] if logits.shape.ndims == 3 else None
    if blank_index < 0:
        if nc is None:
            raise ValueError("A negative blank_index needs logits with a known number of "
                             "classes.")
        blank_index += nc
    if nc is not None and blank_index == nc - 1:
        return logits, values
    logits = A.concat([logits[:, :, :blank_index], logits[:, :, blank_index + 1:],
                       logits[:, :, blank_index:blank_index + 1]], axis=2)
    values = M.where(values < blank_index, values, values - 1)
    return logits, values


def ctc_loss_v2(labels, logits, label_length, logit_length, logits_time_major=True,
                unique=None, blank_index=None, name=None) -> Tensor:
    """``tf.nn.ctc_loss_v2``: dense ``[batch, max_label_length]`` labels with
    ``label_length``, or a ``SparseTensor`` (then ``blank_index`` is required).

    ``blank_index`` (default 0 for dense labels) may be any class; negative counts from the
    end.  ``unique`` (TF's precomputed ``ctc_unique_labels``) only speeds TF up and is
    accepted and unused.  Returns the per-example loss ``[batch]``.
    """
    del unique
    with name_scope(name, "ctc_loss_dense"):
        logits = convert_to_tensor(logits, name="logits")
        if not logits_time_major:
            logits = A.transpose(logits, [1, 0, 2])
        if isinstance(labels, SparseTensor | SparseTensorValue):
            if blank_index is None:
                raise ValueError("blank_index must be given when using SparseTensor labels.")
            labels = SparseTensor.from_value(labels)
            indices, values = labels.indices, labels.values
        else:
            blank_index = 0 if blank_index is None else blank_index
            labels = convert_to_tensor(labels, name="labels")
            if label_length is None:
                raise ValueError("label_length is required with dense labels.")
            length = convert_to_tensor(label_length, name="label_length")
            mask = sequence_mask(length, A.shape(labels)[1])
            indices = A.where_indices(mask)
            values = gather_nd(labels, indices)
        values = M.cast(values, _dt.int32) if values.dtype != _dt.int32 else values
        logits, values = _move_blank_last(logits, values, int(blank_index))
        return _loss_op(logits, indices, values, logit_length)


# ----- decoders ------------------------------------------------------------------------------
def _sparse_outputs():
    return [(TensorShape([None, 2]), _dt.int64), (TensorShape([None]), _dt.int64),
            (TensorShape([2]), _dt.int64)]


def _decoder_shape(node: NodeSpec, paths: int):
    _require_logits(node)
    x = node.inputs[0]
    batch = x.shape[1] if x.shape.ndims == 3 else None
    outs = _sparse_outputs() * paths
    # TF's output order: all indices, then all values, then all shapes
    outs = [outs[3 * p + k] for k in range(3) for p in range(paths)]
    return outs + [(TensorShape([batch, paths]), x.dtype)]


def _to_sparse(paths: list[list[int]]):
    """(indices, values, dense_shape) of one decoded path per batch entry."""
    lens = np.array([len(p) for p in paths], np.int64)
    rows = np.repeat(np.arange(len(paths), dtype=np.int64), lens)
    cols = np.concatenate([np.arange(n, dtype=np.int64) for n in lens]) if len(paths) else \
        np.zeros(0, np.int64)
    values = np.array([v for p in paths for v in p], np.int64)
    return (np.stack([rows, cols], 1).reshape(-1, 2), values,
            np.array([len(paths), int(lens.max(initial=0))], np.int64))


@op("CTCGreedyDecoder", shape=lambda node: _decoder_shape(node, 1))
def _ctc_greedy_decoder(xp, inputs, sequence_length, *, merge_repeated=True):
    x = np.asarray(inputs)
    T, B, C = x.shape
    seq_len = np.asarray(sequence_length).astype(np.int64).reshape(-1)
    _check_lengths(seq_len, B, T, "CTCGreedyDecoder")
    best = x.argmax(axis=2).T                                        # [B, T], first maximum
    live = np.arange(T)[None, :] < seq_len[:, None]
    prev = np.full_like(best, -1)
    prev[:, 1:] = best[:, :-1]
    keep = live & (best != C - 1)
    if merge_repeated:
        keep &= best != prev
    rows, cols = np.nonzero(keep)                                    # row-major: (b, t)
    counts = keep.sum(axis=1)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    pos = np.arange(rows.size, dtype=np.int64) - start[rows]
    indices = np.stack([rows.astype(np.int64), pos], 1).reshape(-1, 2)
    values = best[rows, cols].astype(np.int64)
    shape = np.array([B, int(counts.max(initial=0))], np.int64)
    log_prob = 0.0 - np.where(live.T, x.max(axis=2), 0).sum(axis=0, keepdims=True).T
    return (xp.asarray(indices), xp.asarray(values), xp.asarray(shape),
            xp.asarray(log_prob.astype(x.dtype)))


class _Beam:
    """A prefix in the beam: its label, parent, the children grown so far (by label), and
    the (blank, label, total) log-probs of the previous (``old``) and current (``new``)
    step."""

    __slots__ = ("label", "parent", "children", "old", "new")

    def __init__(self, parent, label: int) -> None:
        self.label, self.parent, self.children = label, parent, {}
        self.old = _ZERO
        self.new = _ZERO

    def active(self) -> bool:
        return self.new[2] != _NEG_INF

    def labels(self, merge_repeated: bool) -> list[int]:
        out, prev, node = [], None, self
        while node.parent is not None:
            if not merge_repeated or node.label != prev:
                out.append(node.label)
            prev, node = node.label, node.parent
        return out[::-1]


_ZERO = (_NEG_INF, _NEG_INF, _NEG_INF)


def _lse(a: float, b: float) -> float:
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


class _Leaves:
    """The beam: at most ``width`` entries, the lowest ``new`` total found in O(log n).
    Entries' probabilities do not change while they are in it."""

    def __init__(self, width: int, entries=()) -> None:
        self.width, self._n = width, 0
        self.heap = [(e.new[2], i, e) for i, e in enumerate(entries)]
        heapq.heapify(self.heap)
        self._n = len(self.heap)

    def __len__(self) -> int:
        return len(self.heap)

    def floor(self) -> float:
        """The total a new entry must beat: -inf while the beam has room."""
        return self.heap[0][0] if len(self.heap) == self.width else _NEG_INF

    def push(self, e: _Beam) -> None:
        if len(self.heap) == self.width:        # the lowest entry leaves the beam
            heapq.heappop(self.heap)[2].new = _ZERO
        self._n += 1
        heapq.heappush(self.heap, (e.new[2], self._n, e))

    def best_first(self) -> list[_Beam]:
        return [e for _, _, e in sorted(self.heap, key=lambda t: (-t[0], t[1]))]


def _beam_search(logy: np.ndarray, beam_width: int, top_paths: int, merge_repeated: bool):
    """TF's CTC prefix beam search over one example's log-probabilities ``[T, C]``."""
    blank = logy.shape[1] - 1
    root = _Beam(None, -1)
    root.new = (0.0, _NEG_INF, 0.0)
    leaves = _Leaves(beam_width, [root])
    for lp_arr in logy:
        lp = lp_arr.tolist()
        branches = leaves.best_first()
        for e in branches:
            e.old = e.new
        for e in branches:          # extend every prefix in the beam by this step
            label = e.new[1]
            if e.parent is not None:
                par = e.parent
                if par.active():
                    label = _lse(label, par.old[0] if e.label == par.label else par.old[2])
                label += lp[e.label]
            blank_p = e.old[2] + lp[blank]
            e.new = (blank_p, label, _lse(blank_p, label))
        leaves = _Leaves(beam_width, branches)
        for e in branches:          # grow children: candidates must beat the beam's floor
            if e.old[2] == _NEG_INF or e.old[2] <= leaves.floor():
                continue
            grow = lp_arr[:blank] + e.old[2]
            if 0 <= e.label < blank:
                grow[e.label] = lp[e.label] + e.old[0]
            # children above the floor, and grown ones (which a failed try resets, as TF does)
            ks = set(np.nonzero(grow > leaves.floor())[0].tolist()) | e.children.keys()
            for k in sorted(ks):
                c = e.children.get(k)
                if c is not None and c.active():
                    continue
                p = float(grow[k])
                if p > leaves.floor():  # the floor rises as the beam fills
                    if c is None:
                        c = e.children[k] = _Beam(e, k)
                    c.new = (_NEG_INF, p, p)
                    leaves.push(c)
                elif c is not None:
                    c.old = c.new = _ZERO
    best = leaves.best_first()
    if top_paths > len(best):
        return None
    return [e.labels(merge_repeated) for e in best[:top_paths]], \
        [e.new[2] for e in best[:top_paths]]


@op("CTCBeamSearchDecoder", shape=lambda node: _decoder_shape(node, node.attrs["top_paths"]))
def _ctc_beam_search_decoder(xp, inputs, sequence_length, *, beam_width, top_paths,
                             merge_repeated=True):
    x = np.asarray(inputs)
    T, B, C = x.shape
    seq_len = np.asarray(sequence_length).astype(np.int64).reshape(-1)
    _check_lengths(seq_len, B, T, "CTCBeamSearchDecoder")
    logy = _log_softmax(x.astype(np.float64))
    paths = [[None] * B for _ in range(top_paths)]
    log_probs = np.zeros((B, top_paths))
    for b in range(B):
        found = _beam_search(logy[:seq_len[b], b], beam_width, top_paths, merge_repeated)
        if found is None:
            raise InvalidArgumentError(None, None, f"CTCBeamSearchDecoder: Less leaves in the "
                                       f"beam search than requested (top_paths={top_paths}), "
                                       f"batch: {b}")
        for p, (labels, score) in enumerate(zip(*found)):
            paths[p][b] = labels
            log_probs[b, p] = score
    sparse = [_to_sparse(p) for p in paths]
    outs = [xp.asarray(s[k]) for k in range(3) for s in sparse]
    return (*outs, xp.asarray(log_probs.astype(x.dtype)))


NotDifferentiable("CTCGreedyDecoder")
NotDifferentiable("CTCBeamSearchDecoder")
# sequential, data-dependent recursions: a device session copies around them
register_host_only("CTCLoss", "CTCGreedyDecoder", "CTCBeamSearchDecoder")


def _decoder_args(inputs, sequence_length):
    inputs = convert_to_tensor(inputs, name="inputs")
    seq = convert_to_tensor(sequence_length, name="sequence_length")
    return inputs, (M.cast(seq, _dt.int32) if seq.dtype != _dt.int32 else seq)


def ctc_greedy_decoder(inputs, sequence_length, merge_repeated=True):
    """``tf.nn.ctc_greedy_decoder``: the most likely class per step, repeats merged (if
    ``merge_repeated``) and blanks (the last class) removed.

    Returns ``([decoded], log_probability)``: ``decoded`` an int64 ``SparseTensor``
    ``[batch, max_decoded_length]`` and ``log_probability`` ``[batch, 1]``, minus the sum
    of each step's largest logit.
    """
    inputs, seq = _decoder_args(inputs, sequence_length)
    ix, vals, shape, log_prob = _ctc_greedy_decoder(inputs, seq,
                                                    merge_repeated=bool(merge_repeated),
                                                    name="CTCGreedyDecoder")
    return [SparseTensor(ix, vals, shape)], log_prob


def ctc_beam_search_decoder(inputs, sequence_length, beam_width=100, top_paths=1,
                            merge_repeated=True):
    """``tf.nn.ctc_beam_search_decoder`` (TF1): CTC prefix beam search over the logits.

    Returns ``(decoded, log_probabilities)``: ``top_paths`` int64 ``SparseTensor`` s (the
    j-th holds every example's j-th best labelling) and ``[batch, top_paths]`` log
    probabilities of those labellings.  With ``merge_repeated`` (TF1's default) equal
    consecutive labels of a beam are merged in the output, so "a blank a" decodes as "a".
    """
    beam_width, top_paths = int(beam_width), int(top_paths)
    if beam_width < 1 or top_paths < 1:
        raise ValueError(f"beam_width and top_paths must be >= 1, got {beam_width} and "
                         f"{top_paths}")
    if top_paths > beam_width:
        raise ValueError(f"top_paths ({top_paths}) must be <= beam_width ({beam_width})")
    inputs, seq = _decoder_args(inputs, sequence_length)
    outs = _ctc_beam_search_decoder(inputs, seq, beam_width=beam_width, top_paths=top_paths,
                                    merge_repeated=bool(merge_repeated),
                                    name="CTCBeamSearchDecoder")
    n = top_paths
    decoded = [SparseTensor(outs[p], outs[n + p], outs[2 * n + p]) for p in range(n)]
    return decoded, outs[3 * n]
