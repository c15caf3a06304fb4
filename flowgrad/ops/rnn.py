"""``tf.nn.static_rnn``, ``tf.nn.dynamic_rnn`` and ``tf.nn.bidirectional_dynamic_rnn``.

``dynamic_rnn`` is one ``While`` op over the time axis: the inputs are sliced per step and
the outputs stacked by the loop, so memory and graph size do not grow with the sequence
length, and the gradient is the loop's (recorded forward values replayed backwards).
With ``sequence_length``, steps past a row's length emit zeros and keep its state, as in
TF1.
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import structure as nest
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import variables as V
from flowgrad.ops.control_flow import build_loop


def _time_major(x):
    nd = x.shape.ndims
    if nd is None or nd < 2:
        raise ValueError(f"RNN inputs must have rank >= 2 ([batch, time, ...]), got {x!r}")
    return A.transpose(x, [1, 0] + list(range(2, nd)))


def _batch_size(flat_inputs, time_major: bool):
    x = flat_inputs[0]
    axis = 1 if time_major else 0
    d = x.shape[axis] if x.shape.ndims is not None else None
    return d if d is not None else A.shape(x)[axis]


def _initial_state(cell, initial_state, batch, dtype, flat_inputs):
    if initial_state is not None:
        return initial_state
    if dtype is None:
        raise ValueError("If there is no initial_state, you must give a dtype.")
    return cell.zero_state(batch, dtype)


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None,
                parallel_iterations=None, swap_memory: bool = False, time_major: bool = False,
                scope=None):
    """Runs ``cell`` over the time axis of ``inputs``; returns ``(outputs, final_state)``.

    ``inputs``: ``[batch, time, depth]`` (``[time, batch, depth]`` if ``time_major``), or
    a nested structure of such tensors.  ``outputs`` has the structure of the cell's
    output with the same batch/time layout.
    """
    flat_in = [convert_to_tensor(x) for x in nest.flatten(inputs)]
    with V.variable_scope(scope or "rnn"):
        batch = _batch_size(flat_in, time_major)
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        state = _initial_state(cell, initial_state, batch, dt, flat_in)
        seqs = flat_in if time_major else [_time_major(x) for x in flat_in]
        flat_state = [convert_to_tensor(s) for s in nest.flatten(state)]
        n_state = len(flat_state)
        seq_len = None
        if sequence_length is not None:
            seq_len = M.cast(convert_to_tensor(sequence_length), _dt.int32)
            if seq_len.shape.ndims not in (None, 1):
                raise ValueError(f"sequence_length must be a vector of length batch_size, got "
                                 f"shape {seq_len.shape}")
        out_struct: list = []

        def body(vars_, xs):
            st = nest.pack_sequence_as(state, vars_[:n_state])
            x_t = nest.pack_sequence_as(inputs, list(xs))
            out, new_st = cell(x_t, st)
            flat_out = [convert_to_tensor(o) for o in nest.flatten(out)]
            flat_new = [convert_to_tensor(s) for s in nest.flatten(new_st)]
            out_struct.append(out)
            if seq_len is None:
                return flat_new, flat_out
            t = vars_[n_state]
            keep = M.cast(M.less(t, seq_len), flat_out[0].dtype)
            keep = A.expand_dims(keep, 1)
            flat_out = [o * M.cast(keep, o.dtype) for o in flat_out]
            flat_new = [n * M.cast(keep, n.dtype) + o * (1 - M.cast(keep, o.dtype))
                        for n, o in zip(flat_new, vars_[:n_state])]
            return flat_new + [t + 1], flat_out

        init = flat_state + ([A.zeros([], _dt.int32)] if seq_len is not None else [])
        final, outs = build_loop(None, body, init, seqs, name="while")
        if not time_major:
            outs = [_time_major(o) for o in outs]
        outputs = nest.pack_sequence_as(out_struct[0], outs)
        final_state = nest.pack_sequence_as(state, final[:n_state])
    return outputs, final_state


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None,
               scope=None):
    """Unrolls ``cell`` over a Python list of ``[batch, depth]`` inputs (one op per step)."""
    if not isinstance(inputs, list | tuple) or not inputs:
        raise TypeError("inputs must be a non-empty list of tensors")
    with V.variable_scope(scope or "rnn"):
        first = [convert_to_tensor(x) for x in nest.flatten(inputs[0])]
        batch = first[0].shape[0] if first[0].shape.ndims else None
        batch = batch if batch is not None else A.shape(first[0])[0]
        dt = _dt.as_dtype(dtype) if dtype is not None else None
        state = _initial_state(cell, initial_state, batch, dt, first)
        seq_len = None if sequence_length is None else \
            M.cast(convert_to_tensor(sequence_length), _dt.int32)
        outputs = []
        for t, x in enumerate(inputs):
            out, new_state = cell(x, state)
            if seq_len is not None:
                keep = A.expand_dims(M.less(t, seq_len), 1)
                out = nest.map_structure(lambda o: o * M.cast(keep, o.dtype), out)
                new_state = nest.map_structure(
                    lambda n, o: n * M.cast(keep, n.dtype) + o * (1 - M.cast(keep, o.dtype)),
                    new_state, state)
            outputs.append(out)
            state = new_state
    return outputs, state


def _reverse_time(x, seq_len, time_axis: int):
    """Reverses each row's first ``seq_len`` steps (all steps without ``seq_len``)."""
    if seq_len is None:
        return A.reverse(x, [time_axis])
    # gather along time with per-row reversed indices
    xt = x if time_axis == 0 else _time_major(x)
    T = A.shape(xt)[0]
    t = A.expand_dims(A.range(T), 1)                        # [T, 1]
    L = A.expand_dims(M.cast(seq_len, _dt.int32), 0)        # [1, B]
    src = M.where(M.less(t, L), L - 1 - t, A.zeros_like(t) + t)   # [T, B]
    B = A.shape(xt)[1]
    b = A.zeros_like(src) + A.expand_dims(A.range(B), 0)
    idx = A.stack([src, b], axis=2)
    out = A.gather_nd(xt, idx)
    return out if time_axis == 0 else _time_major(out)


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None,
                              initial_state_fw=None, initial_state_bw=None, dtype=None,
                              parallel_iterations=None, swap_memory: bool = False,
                              time_major: bool = False, scope=None):
    """Forward and backward ``dynamic_rnn``; returns ``((out_fw, out_bw), (st_fw, st_bw))``.

    The backward direction reads each row's valid steps in reverse and its outputs are
    reversed back, so ``out_bw[:, t]`` lines up with ``inputs[:, t]``.
    """
    time_axis = 0 if time_major else 1
    seq_len = None if sequence_length is None else convert_to_tensor(sequence_length)
    with V.variable_scope(scope or "bidirectional_rnn"):
        with V.variable_scope("fw") as fw_scope:
            out_fw, st_fw = dynamic_rnn(cell_fw, inputs, sequence_length, initial_state_fw,
                                        dtype, time_major=time_major, scope=fw_scope)
        with V.variable_scope("bw") as bw_scope:
            rev = nest.map_structure(lambda x: _reverse_time(convert_to_tensor(x), seq_len,
                                                             time_axis), inputs)
            tmp, st_bw = dynamic_rnn(cell_bw, rev, sequence_length, initial_state_bw, dtype,
                                     time_major=time_major, scope=bw_scope)
            out_bw = nest.map_structure(lambda x: _reverse_time(x, seq_len, time_axis), tmp)
    return (out_fw, out_bw), (st_fw, st_bw)


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None,
                             initial_state_bw=None, dtype=None, sequence_length=None,
                             scope=None):
    """Unrolled forward and backward RNNs over a list of inputs.

    Returns ``(outputs, state_fw, state_bw)`` where ``outputs[t]`` is the depth-concatenation
    of the forward and backward outputs at step ``t``.
    """
    if not isinstance(inputs, list | tuple) or not inputs:
        raise TypeError("inputs must be a non-empty list of tensors")
    with V.variable_scope(scope or "bidirectional_rnn"):
        with V.variable_scope("fw") as fw_scope:
            out_fw, st_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype,
                                       sequence_length, scope=fw_scope)
        with V.variable_scope("bw") as bw_scope:
            if sequence_length is None:
                rev = list(reversed(inputs))
            else:
                stacked = A.stack([convert_to_tensor(x) for x in inputs], 0)
                rev = A.unstack(_reverse_time(stacked, convert_to_tensor(sequence_length), 0),
                                len(inputs), 0)
            tmp, st_bw = static_rnn(cell_bw, rev, initial_state_bw, dtype, sequence_length,
                                    scope=bw_scope)
            if sequence_length is None:
                out_bw = list(reversed(tmp))
            else:
                back = _reverse_time(A.stack(tmp, 0), convert_to_tensor(sequence_length), 0)
                out_bw = A.unstack(back, len(inputs), 0)
    outputs = [A.concat([f, b], 1) for f, b in zip(out_fw, out_bw)]
    return outputs, st_fw, st_bw
