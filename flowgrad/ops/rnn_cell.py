"""Recurrent cells (``tf.nn.rnn_cell`` / ``tf.contrib.rnn``) with TF1's variable names.

A cell is called as ``output, new_state = cell(inputs, state)``.  On its first call it
creates its variables with ``get_variable`` under ``<current scope>/<cell name>`` --
``rnn/basic_lstm_cell/kernel``, ``rnn/multi_rnn_cell/cell_0/gru_cell/gates/kernel``, … --
so TF1 checkpoints line up, and later calls reuse them.
"""

from __future__ import annotations

import collections

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import structure as nest
from flowgrad.framework.graph import Tensor, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import init_ops as I
from flowgrad.ops import math_ops as M
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """``(c, h)``: an LSTM's cell state and output (``tf.nn.rnn_cell.LSTMStateTuple``)."""

    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent internal state: {c.dtype.name} vs {h.dtype.name}")
        return c.dtype


def _activation(fn):
    if fn is None:
        return M.tanh
    if isinstance(fn, str):
        from flowgrad.ops import nn_ops  # noqa: PLC0415
        table = {"tanh": M.tanh, "sigmoid": M.sigmoid, "relu": nn_ops.relu}
        if fn not in table:
            raise ValueError(f"Unknown activation '{fn}'; pass a function such as tf.tanh.")
        return table[fn]
    return fn


def _concat_inputs(args) -> Tensor:
    return A.concat(list(args), 1)


class RNNCell:
    """Base class: ``state_size``, ``output_size``, ``zero_state`` and a scoped ``__call__``."""

    _default_name = "rnn_cell"

    def __init__(self, reuse=None, name: str | None = None, dtype=None) -> None:
        self._reuse = reuse
        self._name = name
        self._dtype = _dt.as_dtype(dtype) if dtype is not None else None
        self._scope: str | None = None      # full variable-scope name, fixed at first call
        self._vars: dict[str, V.Variable] = {}

    @property
    def state_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define state_size")

    @property
    def output_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_size")

    @property
    def name(self) -> str:
        return self._name or self._default_name

    @property
    def trainable_variables(self) -> list:
        return list(self._vars.values())

    @property
    def variables(self) -> list:
        return list(self._vars.values())

    trainable_weights = trainable_variables
    weights = variables

    def zero_state(self, batch_size, dtype):
        """Zeros of ``state_size`` (nested like it) for ``batch_size`` rows."""
        dtype = _dt.as_dtype(dtype)

        def zeros(n):
            return A.zeros(A.stack([batch_size, n]) if hasattr(batch_size, "_as_graph_element")
                           else [batch_size, n], dtype)
        with name_scope(type(self).__name__ + "ZeroState"):
            return nest.map_structure(zeros, self.state_size)

    def __call__(self, inputs, state, scope=None):
        if self._scope is not None:       # variables exist: reuse them, scope only the ops
            with name_scope(self._scope.rsplit("/", 1)[-1]):
                return self.call(inputs, state)
        if scope is not None:
            ctx = V.variable_scope(scope, reuse=self._reuse)
        elif self._name is not None:
            ctx = V.variable_scope(self._name, reuse=self._reuse)
        else:
            ctx = V.variable_scope(None, default_name=self._default_name, reuse=self._reuse)
        with ctx as vs:
            self._scope = vs.name
            return self.call(inputs, state)

    def _get(self, name: str, shape, dtype, initializer=None):
        """``get_variable`` inside the cell's scope, remembered for later calls."""
        v = self._vars.get(name)
        if v is None:
            v = V.get_variable(name, shape, dtype=dtype, initializer=initializer)
            self._vars[name] = v
        return v

    def call(self, inputs, state):
        raise NotImplementedError(f"{type(self).__name__} must implement call")


def _depth(x, what: str) -> int:
    d = x.shape[-1] if x.shape.ndims is not None else None
    if d is None:
        raise ValueError(f"{what}: the last dimension of the inputs must be known at graph "
                         f"build time, got shape {x.shape}")
    return int(d)


class BasicRNNCell(RNNCell):
    """``output = new_state = act(W [x, h] + b)``."""

    _default_name = "basic_rnn_cell"

    def __init__(self, num_units: int, activation=None, reuse=None, name=None, dtype=None,
                 **kwargs) -> None:
        super().__init__(reuse, name, dtype)
        self._num_units = int(num_units)
        self._act = _activation(activation)

    @property
    def state_size(self) -> int:
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units

    def call(self, inputs, state):
        x = convert_to_tensor(inputs)
        d = _depth(x, "BasicRNNCell")
        w = self._get("kernel", [d + self._num_units, self._num_units], x.dtype)
        b = self._get("bias", [self._num_units], x.dtype, I.zeros_initializer())
        h = self._act(M.matmul(_concat_inputs([x, state]), w) + b)
        return h, h


class BasicLSTMCell(RNNCell):
    """The basic LSTM (no peepholes): gates i, j, f, o from one kernel, ``forget_bias``."""

    _default_name = "basic_lstm_cell"

    def __init__(self, num_units: int, forget_bias: float = 1.0, state_is_tuple: bool = True,
                 activation=None, reuse=None, name=None, dtype=None, **kwargs) -> None:
        super().__init__(reuse, name, dtype)
        self._num_units = int(num_units)
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._act = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self) -> int:
        return self._num_units

    def call(self, inputs, state):
        x = convert_to_tensor(inputs)
        n = self._num_units
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = A.split(state, 2, axis=1)
        d = _depth(x, "BasicLSTMCell")
        w = self._get("kernel", [d + n, 4 * n], x.dtype)
        b = self._get("bias", [4 * n], x.dtype, I.zeros_initializer())
        gates = M.matmul(_concat_inputs([x, h]), w) + b
        i, j, f, o = A.split(gates, 4, axis=1)
        fb = convert_to_tensor(self._forget_bias, dtype=x.dtype)
        new_c = c * M.sigmoid(f + fb) + M.sigmoid(i) * self._act(j)
        new_h = self._act(new_c) * M.sigmoid(o)
        new_state = LSTMStateTuple(new_c, new_h) if self._state_is_tuple else \
            A.concat([new_c, new_h], 1)
        return new_h, new_state


class LSTMCell(RNNCell):
    """LSTM with optional peepholes, cell clipping and an output projection (``num_proj``)."""

    _default_name = "lstm_cell"

    def __init__(self, num_units: int, use_peepholes: bool = False, cell_clip=None,
                 initializer=None, num_proj=None, proj_clip=None, num_unit_shards=None,
                 num_proj_shards=None, forget_bias: float = 1.0, state_is_tuple: bool = True,
                 activation=None, reuse=None, name=None, dtype=None, **kwargs) -> None:
        super().__init__(reuse, name, dtype)
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = num_proj
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._act = _activation(activation)

    @property
    def state_size(self):
        n, p = self._num_units, self._num_proj or self._num_units
        return LSTMStateTuple(n, p) if self._state_is_tuple else n + p

    @property
    def output_size(self) -> int:
        return self._num_proj or self._num_units

    def call(self, inputs, state):
        x = convert_to_tensor(inputs)
        n = self._num_units
        p = self._num_proj or n
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev, m_prev = A.split(state, [n, p], axis=1)
        d = _depth(x, "LSTMCell")
        w = self._get("kernel", [d + p, 4 * n], x.dtype, self._initializer)
        b = self._get("bias", [4 * n], x.dtype, I.zeros_initializer())
        i, j, f, o = A.split(M.matmul(_concat_inputs([x, m_prev]), w) + b, 4, axis=1)
        fb = convert_to_tensor(self._forget_bias, dtype=x.dtype)
        if self._use_peepholes:
            wf = self._get("w_f_diag", [n], x.dtype, self._initializer)
            wi = self._get("w_i_diag", [n], x.dtype, self._initializer)
            wo = self._get("w_o_diag", [n], x.dtype, self._initializer)
            c = M.sigmoid(f + fb + wf * c_prev) * c_prev + \
                M.sigmoid(i + wi * c_prev) * self._act(j)
        else:
            c = M.sigmoid(f + fb) * c_prev + M.sigmoid(i) * self._act(j)
        if self._cell_clip is not None:
            c = M.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = M.sigmoid(o + wo * c) * self._act(c)
        else:
            m = M.sigmoid(o) * self._act(c)
        if self._num_proj is not None:
            with V.variable_scope("projection"):
                wp = V.get_variable("kernel", [n, self._num_proj], dtype=x.dtype,
                                    initializer=self._initializer) \
                    if "projection/kernel" not in self._vars else self._vars["projection/kernel"]
            self._vars["projection/kernel"] = wp
            m = M.matmul(m, wp)
            if self._proj_clip is not None:
                m = M.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else A.concat([c, m], 1)
        return m, new_state


class GRUCell(RNNCell):
    """Gated recurrent unit: ``gates/{kernel,bias}`` (r, u) and ``candidate/{kernel,bias}``."""

    _default_name = "gru_cell"

    def __init__(self, num_units: int, activation=None, reuse=None, kernel_initializer=None,
                 bias_initializer=None, name=None, dtype=None, **kwargs) -> None:
        super().__init__(reuse, name, dtype)
        self._num_units = int(num_units)
        self._act = _activation(activation)
        self._kernel_init = kernel_initializer
        self._bias_init = bias_initializer

    @property
    def state_size(self) -> int:
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units

    def call(self, inputs, state):
        x = convert_to_tensor(inputs)
        n = self._num_units
        d = _depth(x, "GRUCell")
        gk = self._get("gates/kernel", [d + n, 2 * n], x.dtype, self._kernel_init)
        gb = self._get("gates/bias", [2 * n], x.dtype,
                       self._bias_init or I.constant_initializer(1.0))
        ck = self._get("candidate/kernel", [d + n, n], x.dtype, self._kernel_init)
        cb = self._get("candidate/bias", [n], x.dtype, self._bias_init or I.zeros_initializer())
        r, u = A.split(M.sigmoid(M.matmul(_concat_inputs([x, state]), gk) + gb), 2, axis=1)
        c = self._act(M.matmul(_concat_inputs([x, r * state]), ck) + cb)
        h = u * state + (1.0 - u) * c
        return h, h


class MultiRNNCell(RNNCell):
    """Cells stacked in layers: ``multi_rnn_cell/cell_<i>/...``; the state is a tuple."""

    _default_name = "multi_rnn_cell"

    def __init__(self, cells, state_is_tuple: bool = True) -> None:
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple

    @property
    def state_size(self):
        sizes = tuple(c.state_size for c in self._cells)
        return sizes if self._state_is_tuple else sum(sizes)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    def zero_state(self, batch_size, dtype):
        if self._state_is_tuple:
            return tuple(c.zero_state(batch_size, dtype) for c in self._cells)
        return super().zero_state(batch_size, dtype)

    @property
    def variables(self) -> list:
        return [v for c in self._cells for v in c.variables]

    trainable_variables = variables

    def call(self, inputs, state):
        cur = inputs
        new_states = []
        pos = 0
        for i, cell in enumerate(self._cells):
            with V.variable_scope(f"cell_{i}"):
                if self._state_is_tuple:
                    s = state[i]
                else:
                    size = cell.state_size
                    s = A.slice(state, [0, pos], [-1, size])
                    pos += size
                cur, ns = cell(cur, s)
                new_states.append(ns)
        return cur, (tuple(new_states) if self._state_is_tuple else A.concat(new_states, 1))


class _Wrapper(RNNCell):
    """A cell around a cell: sizes and zero state are the wrapped cell's."""

    def __init__(self, cell) -> None:
        super().__init__()
        self._cell = cell

    @property
    def state_size(self):
        return self._cell.state_size

    @property
    def output_size(self):
        return self._cell.output_size

    def zero_state(self, batch_size, dtype):
        return self._cell.zero_state(batch_size, dtype)

    @property
    def variables(self) -> list:
        return self._cell.variables + list(self._vars.values())

    trainable_variables = variables

    def __call__(self, inputs, state, scope=None):
        # wrappers add no variable scope of their own (TF1's names stay the wrapped cell's)
        return self.call(inputs, state)


def _dropout(x, keep_prob, seed):
    if isinstance(keep_prob, int | float) and keep_prob == 1.0:
        return x
    x = convert_to_tensor(x)
    keep = convert_to_tensor(keep_prob, dtype=x.dtype)
    u = S.random_uniform(A.shape(x), dtype=x.dtype, seed=seed)
    mask = M.floor(keep + u)
    return x * mask / keep


class DropoutWrapper(_Wrapper):
    """Dropout on a cell's inputs, outputs and state (``keep_prob`` may be a tensor)."""

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=1.0,
                 variational_recurrent: bool = False, input_size=None, dtype=None, seed=None,
                 dropout_state_filter_visitor=None) -> None:
        super().__init__(cell)
        if variational_recurrent:
            raise ValueError("DropoutWrapper(variational_recurrent=True) is not supported: use "
                             "per-step dropout (variational_recurrent=False).")
        for nm, p in (("input", input_keep_prob), ("output", output_keep_prob),
                      ("state", state_keep_prob)):
            if isinstance(p, int | float) and not 0.0 < p <= 1.0:
                raise ValueError(f"Parameter {nm}_keep_prob must be between 0 and 1: {p}")
        self._in, self._out, self._st = input_keep_prob, output_keep_prob, state_keep_prob
        self._seed = seed

    def call(self, inputs, state):
        inputs = _dropout(inputs, self._in, self._seed)
        out, new_state = self._cell(inputs, state)
        if not (isinstance(self._st, int | float) and self._st == 1.0):
            flat = nest.flatten(new_state)
            # TF1 drops the hidden part only: an LSTM's c passes unchanged
            if isinstance(new_state, LSTMStateTuple):
                new_state = LSTMStateTuple(new_state.c, _dropout(new_state.h, self._st,
                                                                 self._seed))
            else:
                new_state = nest.pack_sequence_as(new_state, [_dropout(s, self._st, self._seed)
                                                              for s in flat])
        return _dropout(out, self._out, self._seed), new_state


class ResidualWrapper(_Wrapper):
    """Adds the cell's input to its output (``residual_fn(inputs, outputs)``)."""

    def __init__(self, cell, residual_fn=None) -> None:
        super().__init__(cell)
        self._residual_fn = residual_fn

    def call(self, inputs, state):
        out, new_state = self._cell(inputs, state)
        if self._residual_fn is not None:
            return self._residual_fn(inputs, out), new_state
        return nest.map_structure(lambda i, o: o + i, inputs, out), new_state


class DeviceWrapper(_Wrapper):
    """Runs the cell's ops on ``device``."""

    def __init__(self, cell, device: str) -> None:
        super().__init__(cell)
        self._device = device

    def call(self, inputs, state):
        from flowgrad.framework.graph import device as _device  # noqa: PLC0415
        with _device(self._device):
            return self._cell(inputs, state)


class OutputProjectionWrapper(RNNCell):
    """Projects a cell's output to ``output_size`` (``output_projection_wrapper/kernel``)."""

    _default_name = "output_projection_wrapper"

    def __init__(self, cell, output_size: int, activation=None, reuse=None) -> None:
        super().__init__(reuse)
        self._cell = cell
        self._output_size = int(output_size)
        self._act = activation

    @property
    def state_size(self):
        return self._cell.state_size

    @property
    def output_size(self) -> int:
        return self._output_size

    def zero_state(self, batch_size, dtype):
        return self._cell.zero_state(batch_size, dtype)

    @property
    def variables(self) -> list:
        return self._cell.variables + list(self._vars.values())

    trainable_variables = variables

    def call(self, inputs, state):
        out, new_state = self._cell(inputs, state)
        d = _depth(out, "OutputProjectionWrapper")
        w = self._get("kernel", [d, self._output_size], out.dtype)
        b = self._get("bias", [self._output_size], out.dtype, I.zeros_initializer())
        y = M.matmul(out, w) + b
        return (self._act(y) if self._act is not None else y), new_state
