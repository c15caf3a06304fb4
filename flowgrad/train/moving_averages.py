"""``tf.train.ExponentialMovingAverage`` and ``tf.train.assign_moving_average``.

An average is a non-trainable "shadow" variable ``<var>/ExponentialMovingAverage`` updated
by ``shadow -= (shadow - value) * (1 - decay)``. As in TF1, the shadow of a variable starts
at the variable's (initialized) value, the shadow of any other tensor at zeros, and only
tensors' averages are zero-debiased when ``zero_debias=True``.
"""

from __future__ import annotations

from flowgrad.framework import dtypes as _dt
from flowgrad.framework.graph import GraphKeys, Tensor, get_default_graph, name_scope
from flowgrad.framework.registry import convert_to_tensor
from flowgrad.ops import array_ops as A
from flowgrad.ops import math_ops as M
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V

_FLOATS = (_dt.float16, _dt.float32, _dt.float64)


def assign_moving_average(variable, value, decay, zero_debias: bool = True, name=None):
    """``variable -= (variable - value) * (1 - decay)``; returns the updated value.

    With ``zero_debias`` the update goes through a biased accumulator
    ``<variable>/biased`` and a step counter ``<variable>/local_step`` (both starting at
    zero), and ``variable`` receives ``biased / (1 - decay ** local_step)``: the average of
    a series that started at zero, without the bias towards zero.
    """
    if not isinstance(variable, V.Variable):
        raise TypeError(f"assign_moving_average needs a tf.Variable to update, got "
                        f"{variable!r}")
    with name_scope(name, "AssignMovingAvg") as scope:
        if isinstance(decay, Tensor):
            one_minus = M.subtract(convert_to_tensor(1.0, dtype=decay.dtype), decay,
                                   name="decay")
        else:       # as TF1: 1 - decay in Python, then a float32 constant
            one_minus = convert_to_tensor(1.0 - float(decay), dtype=_dt.float32, name="decay")
        if one_minus.dtype != variable.dtype:
            one_minus = M.cast(one_minus, variable.dtype)
        value = convert_to_tensor(value)
        if value.dtype != variable.dtype:
            raise TypeError(f"assign_moving_average: value {value.name} is "
                            f"{value.dtype.name} but variable {variable.op.name} is "
                            f"{variable.dtype.name}")
        if not zero_debias:
            return S.assign_sub(variable, (variable.value() - value) * one_minus, name=scope)
        return _zero_debias(variable, value, one_minus, scope)


def _zero_debias(unbiased, value, one_minus, scope):
    g = get_default_graph()
    base = unbiased.op.name
    with g.control_dependencies(None), g.name_scope(None):
        biased = V.Variable(lambda: A.zeros(unbiased.shape.as_list(), unbiased.dtype),
                            trainable=False, name=f"{base}/biased")
        local_step = V.Variable(lambda: A.zeros([], unbiased.dtype), trainable=False,
                                name=f"{base}/local_step")
    update_biased = S.assign_sub(biased, (biased.value() - value) * one_minus)
    update_step = S.assign_add(local_step, convert_to_tensor(1.0, dtype=unbiased.dtype))
    one = convert_to_tensor(1.0, dtype=unbiased.dtype)
    bias_factor = one - M.pow(one - one_minus, update_step)
    return S.assign(unbiased, update_biased / bias_factor, name=scope)


class ExponentialMovingAverage:
    """Maintains moving averages of variables and tensors (TF1's class of the same name).

        ema = tf.train.ExponentialMovingAverage(0.999, num_updates=global_step)
        with tf.control_dependencies([train_op]):
            train_op = ema.apply(tf.trainable_variables())
        ...
        saver = tf.train.Saver(ema.variables_to_restore())   # evaluate with the averages
    """

    def __init__(self, decay, num_updates=None, zero_debias: bool = False,
                 name: str = "ExponentialMovingAverage") -> None:
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages: dict[int, tuple] = {}      # id(var or tensor) -> (var, shadow)

    @property
    def name(self) -> str:
        return self._name

    def apply(self, var_list=None):
        """Creates the shadows (once per variable or tensor) and returns an op updating
        every average in ``var_list`` (default: the trainable variables)."""
        if var_list is None:
            var_list = V.trainable_variables()
        var_list = list(var_list)
        debiased = set()
        for var in var_list:
            if not isinstance(var, V.Variable):
                var = _as_tensor(var)
            if var.dtype.base_dtype not in _FLOATS:
                raise TypeError(f"ExponentialMovingAverage: the variables must be half, float, "
                                f"or double: {var.name} is {var.dtype.name}")
            if id(var) in self._averages:
                continue
            avg = self._create_shadow(var)
            if not isinstance(var, V.Variable) and self._zero_debias:
                debiased.add(id(avg))
            self._averages[id(var)] = (var, avg)
        with name_scope(self._name) as scope:
            decay = convert_to_tensor(self._decay, dtype=_dt.float32, name="decay")
            if self._num_updates is not None:
                n = M.cast(_as_tensor(self._num_updates), _dt.float32, name="num_updates")
                decay = M.minimum(decay, (1.0 + n) / (10.0 + n))
            updates = []
            for var in var_list:
                if not isinstance(var, V.Variable):
                    var = _as_tensor(var)
                avg = self._averages[id(var)][1]
                # a fresh read under the caller's control dependencies, so that
                # ``with tf.control_dependencies([train_op]): ema.apply(...)`` averages the
                # values after the step
                value = var.read_value() if isinstance(var, V.Variable) else var
                updates.append(assign_moving_average(avg, value, decay,
                                                     zero_debias=id(avg) in debiased))
            return S.group(*updates, name=scope)

    def _create_shadow(self, var):
        g = get_default_graph()
        name = f"{var.op.name}/{self._name}"
        with g.control_dependencies(None), g.name_scope(None):
            if isinstance(var, V.Variable):
                avg = V.Variable(var.initialized_value, trainable=False, name=name,
                                 dtype=var.dtype)
                g.add_to_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, var)
            else:
                if not var.shape.is_fully_defined():
                    raise ValueError(f"ExponentialMovingAverage: cannot average {var.name} of "
                                     f"shape {var.shape}: its shadow variable needs a fully "
                                     "defined shape (set it with tensor.set_shape).")
                avg = V.Variable(lambda: A.zeros(var.shape.as_list(), var.dtype),
                                 trainable=False, name=name)
        return avg

    def average(self, var):
        """The shadow variable of ``var`` (``None`` if ``apply`` has not seen it)."""
        entry = self._averages.get(id(var))
        return None if entry is None else entry[1]

    def average_name(self, var) -> str:
        """The name of ``var``'s shadow: what a checkpoint calls its average."""
        entry = self._averages.get(id(var))
        if entry is not None:
            return entry[1].op.name
        return get_default_graph().unique_name(f"{var.op.name}/{self._name}",
                                               mark_as_used=False)

    def variables_to_restore(self, moving_avg_variables=None) -> dict:
        """``{checkpoint name: variable}`` for a Saver that loads each average into its
        variable (and every other global variable under its own name)."""
        if moving_avg_variables is None:
            moving_avg_variables = V.trainable_variables() + V.moving_average_variables()
        seen, unique = set(), []
        for v in moving_avg_variables:
            if id(v) not in seen:
                seen.add(id(v))
                unique.append(v)
        name_map = {self.average_name(v): v for v in unique}
        averaged = {v.name for v in unique}
        for v in V.global_variables():
            if v.name not in averaged and v.op.name not in name_map:
                name_map[v.op.name] = v
        return name_map


def _as_tensor(x):
    if isinstance(x, V.Variable):
        return x.value()
    return convert_to_tensor(x)
