"""``tf.train.Saver`` and the checkpoint helpers (``latest_checkpoint``, ...).

A checkpoint ``<prefix>`` is one safetensors file ``<prefix>.safetensors`` (see
``checkpoint_io``: atomic writes, per-tensor checksums). The directory's ``checkpoint``
state file (TF1's text format) lists the latest and the kept checkpoints; it is replaced
atomically *after* the checkpoint file is in place, so a save killed at any point leaves
the previous latest checkpoint loadable.

Random generators are not part of a checkpoint (as in TF1): a restored run replays the
same variable values, and its random ops draw from a fresh per-session sequence.

Meta-graphs: ``save(..., write_meta_graph=True)`` (the default, as in TF1) calls the
exporter registered in ``META_GRAPH_WRITERS`` (``fn(meta_path, saver)``) when a module
providing meta-graph export has registered one, and writes no ``.meta`` file otherwise. A
graph the exporter cannot encode (input pipelines, Python callbacks) still gets its
checkpoint; the missing ``.meta`` is logged once per Saver.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import time

import numpy as np

from flowgrad.framework import errors
from flowgrad.framework.graph import GraphKeys, get_default_graph, name_scope
from flowgrad.ops import array_ops as A
from flowgrad.ops import state_ops as S
from flowgrad.ops import variables as V
from flowgrad.train import checkpoint_io as io

_log = logging.getLogger("flowgrad")

# exporters for ``<prefix>.meta`` files: ``fn(meta_path, saver)``; empty unless a meta-graph
# module registers itself here
META_GRAPH_WRITERS: list = []


def _var_name(v) -> str:
    return v.op.name


def _as_saveable_dict(var_list) -> dict[str, V.Variable]:
    if var_list is None:
        var_list = get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES)
    if isinstance(var_list, dict):
        out = {}
        for name, v in var_list.items():
            if not isinstance(v, V.Variable):
                raise TypeError(f"Saver's var_list dict must map names to variables; "
                                f"{name!r} maps to {v!r}")
            out[str(name)] = v
        return out
    out = {}
    for v in var_list:
        if not isinstance(v, V.Variable):
            raise TypeError(f"Saver's var_list must contain variables, got {v!r}")
        name = _var_name(v)
        if name in out and out[name] is not v:
            raise ValueError(f"At least two variables have the same name: {name}")
        out[name] = v
    return out


class Saver:
    """Saves and restores variables (TF1's ``tf.train.Saver``)."""

    def __init__(self, var_list=None, reshape=False, sharded=False, max_to_keep=5,
                 keep_checkpoint_every_n_hours=10000.0, name=None, restore_sequentially=False,
                 saver_def=None, builder=None, defer_build=False, allow_empty=False,
                 write_version=2, pad_step_number=False, save_relative_paths=False,
                 filename=None) -> None:
        self._var_list = var_list
        self._max_to_keep = max_to_keep
        self._keep_every = keep_checkpoint_every_n_hours * 3600.0
        self._next_keep_time = time.time() + self._keep_every
        self._name = name or "save"
        self._allow_empty = allow_empty
        self._pad_step_number = pad_step_number
        self._filename = filename
        self._last_checkpoints: list[tuple[str, float]] = []
        self._built = False
        self._vars: dict[str, V.Variable] = {}
        if not defer_build:
            self.build()

    def build(self) -> None:
        """Builds the restore ops (one placeholder-fed Assign per variable)."""
        if self._built:
            return
        self._vars = _as_saveable_dict(self._var_list)
        if not self._vars and not self._allow_empty:
            raise ValueError("No variables to save")
        self._restore_feeds = {}
        if self._vars:
            g = next(iter(self._vars.values())).graph
            with g.as_default(), name_scope(self._name) as scope:
                assigns = []
                for name, v in self._vars.items():
                    ph = A.placeholder(v.dtype, v.shape, name="restore_value")
                    assigns.append(S.assign(v, ph, name="Assign"))
                    self._restore_feeds[name] = ph
                self._restore_op = S.group(*assigns, name="restore_all")
                self._scope = scope
        self._built = True

    # --- saving -------------------------------------------------------------------------
    def save(self, sess, save_path, global_step=None, latest_filename=None,
             meta_graph_suffix="meta", write_meta_graph=True, write_state=True,
             strip_default_attrs=False, save_debug_info=False) -> str:
        """Writes the variables to ``save_path[-global_step].safetensors``; returns the
        checkpoint prefix (what ``restore`` and ``latest_checkpoint`` use)."""
        self.build()
        if latest_filename is None:
            latest_filename = "checkpoint"
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        if global_step is not None:
            if not isinstance(global_step, (int, np.integer)):
                global_step = int(sess.run(global_step))
            prefix = f"{save_path}-{global_step:08d}" if self._pad_step_number else \
                f"{save_path}-{int(global_step)}"
        else:
            prefix = str(save_path)
        save_dir = os.path.dirname(prefix) or "."
        if not os.path.isdir(save_dir):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        for stale in _stale_temp_files(prefix):   # left by a save that was killed
            try:
                os.remove(stale)
            except OSError:
                pass
        names = list(self._vars)
        values = sess.run([self._vars[n].value() for n in names]) if names else []
        tensors = {n: np.asarray(val) for n, val in zip(names, values)}
        io.save(prefix + io.SUFFIX, tensors, {"format": "flowgrad-checkpoint-1"})
        if write_meta_graph and META_GRAPH_WRITERS:
            for writer in META_GRAPH_WRITERS:
                try:
                    writer(f"{prefix}.{meta_graph_suffix}", self)
                except TypeError as e:
                    # the checkpoint itself is saved; a graph holding ops that cannot be
                    # serialized (input pipelines, Python callbacks) just has no .meta
                    if not getattr(self, "_meta_warned", False):
                        self._meta_warned = True
                        _log.warning("checkpoints are saved without a meta-graph (.meta): %s",
                                     e)
        if write_state:
            expired = self._record(prefix)
            update_checkpoint_state(save_dir, prefix,
                                    [p for p, _ in self._last_checkpoints], latest_filename)
            # only now that the state file no longer names them
            for old in expired:
                remove_checkpoint(old, meta_graph_suffix=meta_graph_suffix)
        return prefix

    def _record(self, prefix: str) -> list[str]:
        """Adds ``prefix`` to the kept checkpoints; returns those that fall out."""
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        expired = []
        if not self._max_to_keep:
            return expired
        while len(self._last_checkpoints) > self._max_to_keep:
            old, stamp = self._last_checkpoints.pop(0)
            if stamp > self._next_keep_time:
                self._next_keep_time += self._keep_every   # kept for good, as in TF1
                continue
            expired.append(old)
        return expired

    @property
    def last_checkpoints(self) -> list[str]:
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints) -> None:
        self._last_checkpoints = [(p, time.time()) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time) -> None:
        self._last_checkpoints = list(last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths) -> None:
        stamps = []
        for p in checkpoint_paths:
            try:
                stamps.append((p, os.path.getmtime(p + io.SUFFIX)))
            except OSError:
                continue
        self._last_checkpoints = stamps

    # --- restoring ----------------------------------------------------------------------
    def restore(self, sess, save_path) -> None:
        """Loads every saved variable from checkpoint ``save_path`` (a prefix)."""
        self.build()
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        path = _resolve(save_path)
        reader = io.Reader(path)
        feed = {}
        for name, v in self._vars.items():
            if not reader.has_tensor(name):
                raise errors.NotFoundError(
                    None, None, f"Key {name} not found in checkpoint {path}: the checkpoint "
                    f"holds {reader.names()[:10]}{' ...' if len(reader.names()) > 10 else ''}")
            shape = reader.shape(name)
            if not v.shape.is_compatible_with(shape):
                raise errors.InvalidArgumentError(
                    None, None, f"Restoring {name} from {path}: the checkpoint has shape "
                    f"{list(shape)} but the variable has shape {v.shape}")
            if reader.dtype(name) != np.dtype(v.dtype.np):
                raise errors.InvalidArgumentError(
                    None, None, f"Restoring {name} from {path}: the checkpoint has dtype "
                    f"{reader.dtype(name)} but the variable has dtype {v.dtype.name}")
            feed[self._restore_feeds[name]] = reader.get_tensor(name)
        if feed:
            sess.run(self._restore_op, feed)

    def as_saver_def(self) -> dict:
        return {"filename_tensor_name": None,
                "restore_op_name": getattr(self, "_restore_op", None) and self._restore_op.name,
                "max_to_keep": self._max_to_keep, "version": 2}

    def export_meta_graph(self, filename=None, **kwargs):
        if not META_GRAPH_WRITERS:
            raise errors.UnimplementedError(
                None, None, "Saver.export_meta_graph needs the meta-graph module "
                "(tf.train.export_meta_graph); it is not part of this installation.")
        for writer in META_GRAPH_WRITERS:
            writer(filename, self)


def _resolve(save_path: str) -> str:
    """The file of checkpoint prefix ``save_path`` (the prefix itself if it is the file)."""
    for cand in (save_path + io.SUFFIX, save_path):
        if os.path.isfile(cand):
            return cand
    raise errors.NotFoundError(None, None, f"Failed to find any matching files for {save_path}"
                               f" (expected {save_path + io.SUFFIX})")


# ----- the ``checkpoint`` state file -------------------------------------------------------
class CheckpointState:
    """TF1's CheckpointState proto: the latest checkpoint and all kept ones."""

    def __init__(self, model_checkpoint_path: str = "",
                 all_model_checkpoint_paths=None) -> None:
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths or [])

    def __repr__(self) -> str:
        lines = [f'model_checkpoint_path: "{self.model_checkpoint_path}"']
        lines += [f'all_model_checkpoint_paths: "{p}"' for p in self.all_model_checkpoint_paths]
        return "\n".join(lines) + "\n"


def update_checkpoint_state(save_dir, model_checkpoint_path, all_model_checkpoint_paths=None,
                            latest_filename=None, all_model_checkpoint_timestamps=None,
                            last_preserved_timestamp=None) -> None:
    """Atomically rewrites ``save_dir/checkpoint`` (paths inside ``save_dir`` are stored
    relative to it, so the directory can be moved)."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths = [p for p in paths if p != model_checkpoint_path] + [model_checkpoint_path]

    def rel(p):
        if os.path.dirname(os.path.abspath(p)) == os.path.abspath(save_dir):
            return os.path.basename(p)
        return p
    state = CheckpointState(rel(model_checkpoint_path), [rel(p) for p in paths])
    io.write_atomic(os.path.join(save_dir, latest_filename or "checkpoint"),
                    repr(state).encode())


def get_checkpoint_state(checkpoint_dir, latest_filename=None) -> CheckpointState | None:
    """Parses ``checkpoint_dir/checkpoint``; relative paths are made relative to the dir."""
    path = os.path.join(checkpoint_dir, latest_filename or "checkpoint")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    state = CheckpointState()
    for line in text.splitlines():
        m = re.match(r'\s*(\w+)\s*:\s*"(.*)"\s*$', line)
        if not m:
            if line.strip():
                raise errors.DataLossError(None, None, f"Checkpoint state file {path} is "
                                           f"corrupt: cannot parse line {line!r}")
            continue
        key, value = m.groups()
        if not os.path.isabs(value):
            value = os.path.join(checkpoint_dir, value)
        if key == "model_checkpoint_path":
            state.model_checkpoint_path = value
        elif key == "all_model_checkpoint_paths":
            state.all_model_checkpoint_paths.append(value)
    if not state.model_checkpoint_path:
        raise errors.DataLossError(None, None, f"Checkpoint state file {path} names no "
                                   "model_checkpoint_path")
    return state


def latest_checkpoint(checkpoint_dir, latest_filename=None) -> str | None:
    """The prefix of the latest checkpoint in ``checkpoint_dir`` (None if there is none)."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state and checkpoint_exists(state.model_checkpoint_path):
        return state.model_checkpoint_path
    return None


def checkpoint_exists(checkpoint_prefix) -> bool:
    return os.path.isfile(checkpoint_prefix + io.SUFFIX) or (
        checkpoint_prefix.endswith(io.SUFFIX) and os.path.isfile(checkpoint_prefix))


def get_checkpoint_mtimes(checkpoint_prefixes) -> list[float]:
    return [os.path.getmtime(p + io.SUFFIX) for p in checkpoint_prefixes
            if checkpoint_exists(p)]


def remove_checkpoint(checkpoint_prefix, checkpoint_format_version=2,
                      meta_graph_suffix="meta") -> None:
    for p in (checkpoint_prefix + io.SUFFIX, f"{checkpoint_prefix}.{meta_graph_suffix}"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


# ----- reading checkpoints ----------------------------------------------------------------
def _file_of(ckpt_dir_or_file) -> str:
    if os.path.isdir(ckpt_dir_or_file):
        latest = latest_checkpoint(ckpt_dir_or_file)
        if latest is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given "
                             f"directory {ckpt_dir_or_file}")
        return _resolve(latest)
    return _resolve(ckpt_dir_or_file)


class CheckpointReader:
    """``tf.train.NewCheckpointReader``: names, shapes and values in one checkpoint."""

    def __init__(self, filepattern) -> None:
        self._reader = io.Reader(_file_of(filepattern))

    def has_tensor(self, name: str) -> bool:
        return self._reader.has_tensor(name)

    def get_tensor(self, name: str) -> np.ndarray:
        return self._reader.get_tensor(name)

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {n: list(self._reader.shape(n)) for n in self._reader.names()}

    def get_variable_to_dtype_map(self) -> dict:
        from flowgrad.framework.dtypes import as_dtype  # noqa: PLC0415
        return {n: as_dtype(self._reader.dtype(n)) for n in self._reader.names()}

    def debug_string(self) -> bytes:
        return "".join(f"{n} ({self._reader.dtype(n)}) {list(self._reader.shape(n))}\n"
                       for n in self._reader.names()).encode()


NewCheckpointReader = CheckpointReader


def load_checkpoint(ckpt_dir_or_file) -> CheckpointReader:
    return CheckpointReader(ckpt_dir_or_file)


def list_variables(ckpt_dir_or_file) -> list[tuple[str, list[int]]]:
    """``[(name, shape), ...]`` of a checkpoint (a prefix or a directory), sorted by name."""
    reader = CheckpointReader(ckpt_dir_or_file)
    return sorted(reader.get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file, name: str) -> np.ndarray:
    """The value of variable ``name`` (``"dense/kernel"`` or ``"dense/kernel:0"``)."""
    if name.endswith(":0"):
        name = name[:-2]
    return CheckpointReader(ckpt_dir_or_file).get_tensor(name)


def _stale_temp_files(prefix: str) -> list[str]:
    d = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix) + io.SUFFIX
    return glob.glob(os.path.join(glob.escape(d), "." + glob.escape(base) + ".*.tmp"))
