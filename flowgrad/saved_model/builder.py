"""``tf.saved_model.builder.SavedModelBuilder``: writes an export directory.

    builder = tf.saved_model.builder.SavedModelBuilder("export/1")
    builder.add_meta_graph_and_variables(
        sess, [tf.saved_model.tag_constants.SERVING],
        signature_def_map={"serving_default": tf.saved_model.predict_signature_def(
            {"x": x}, {"y": y})})
    builder.save()

The variables are checkpointed (through ``tf.train.Saver``, atomically, with checksums) into
``variables/`` when ``add_meta_graph_and_variables`` runs; ``save`` writes the meta-graphs.
"""

from __future__ import annotations

import os
import shutil

from flowgrad.framework.graph import Operation, Tensor, get_default_graph
from flowgrad.framework.registry import constant_value
from flowgrad.saved_model import constants, file_format
from flowgrad.saved_model.signature_def_utils import SignatureDef


class SavedModelBuilder:
    """Builds a SavedModel in ``export_dir``, which must not exist or be empty."""

    def __init__(self, export_dir) -> None:
        self._export_dir = os.fspath(export_dir)
        if os.path.exists(self._export_dir):
            if not os.path.isdir(self._export_dir) or os.listdir(self._export_dir):
                raise AssertionError(
                    "Export directory already exists, and isn't empty. Please choose a "
                    "different export directory, or delete all the contents of the specified "
                    f"directory: {self._export_dir}")
        else:
            os.makedirs(self._export_dir)
        self._meta_graphs: list = []
        self._tag_sets: list[frozenset] = []
        self._has_saved_variables = False

    # --- meta-graphs ------------------------------------------------------------------------
    def add_meta_graph_and_variables(self, sess, tags, signature_def_map=None,
                                     assets_collection=None, legacy_init_op=None,
                                     clear_devices: bool = False, main_op=None,
                                     strip_default_attrs: bool = False, saver=None) -> None:
        """Checkpoints ``sess``'s variables and adds the session's graph under ``tags``."""
        if self._has_saved_variables:
            raise AssertionError("Graph state including variables and assets has already been "
                                 "saved. Please invoke `add_meta_graph()` instead.")
        graph = sess.graph
        saver = self._saver(graph, saver)
        var_dir = os.path.join(self._export_dir, constants.VARIABLES_DIRECTORY)
        os.makedirs(var_dir, exist_ok=True)
        if saver._vars:
            saver.save(sess, os.path.join(var_dir, constants.VARIABLES_FILENAME),
                       write_meta_graph=False, write_state=False)
        self._add(graph, tags, signature_def_map, assets_collection, legacy_init_op, main_op,
                  clear_devices, saver)
        self._has_saved_variables = True

    def add_meta_graph(self, tags, signature_def_map=None, assets_collection=None,
                       legacy_init_op=None, clear_devices: bool = False, main_op=None,
                       strip_default_attrs: bool = False, saver=None) -> None:
        """Adds the default graph under ``tags``; it shares the variables saved by
        ``add_meta_graph_and_variables`` (matched by name)."""
        if not self._has_saved_variables:
            raise AssertionError("Graph state including variables and assets has not been "
                                 "saved yet. Please invoke `add_meta_graph_and_variables()` "
                                 "first.")
        graph = get_default_graph()
        saver = self._saver(graph, saver)
        self._add(graph, tags, signature_def_map, assets_collection, legacy_init_op, main_op,
                  clear_devices, saver)

    def save(self, as_text: bool = False) -> str:
        """Writes the SavedModel file (``saved_model.fgsm``, or ``saved_model.fgsm.txt`` when
        ``as_text``) atomically; returns its path."""
        if not self._meta_graphs:
            raise AssertionError("SavedModelBuilder.save: no meta-graph was added; call "
                                 "add_meta_graph_and_variables() first.")
        return file_format.write(self._export_dir, self._meta_graphs, as_text)

    # --- helpers ----------------------------------------------------------------------------
    @staticmethod
    def _saver(graph, saver):
        if saver is not None:
            return saver
        from flowgrad.train.saver import Saver  # noqa: PLC0415
        with graph.as_default():
            return Saver(allow_empty=True)

    def _add(self, graph, tags, signature_def_map, assets_collection, legacy_init_op,
             main_op, clear_devices, saver) -> None:
        from flowgrad.train.meta_graph import export_meta_graph  # noqa: PLC0415
        tags = _check_tags(tags)
        if frozenset(tags) in self._tag_sets:
            raise ValueError(f"SavedModelBuilder: a meta-graph with tags {tags} was already "
                             "added; every meta-graph needs its own set of tags.")
        signatures = _check_signatures(graph, signature_def_map)
        init_op = main_op if main_op is not None else legacy_init_op
        if init_op is not None:
            if not isinstance(init_op, Operation):
                raise TypeError(f"main_op / legacy_init_op needs to be an Operation, got "
                                f"{init_op!r}")
            if init_op.graph is not graph:
                raise ValueError(f"main_op '{init_op.name}' is not in the graph being saved")
        assets = self._copy_assets(assets_collection)
        main_key = constants.MAIN_OP_KEY
        saved = graph.get_collection_ref(main_key)
        old = list(saved)
        saved[:] = [init_op] if init_op is not None else []
        try:
            try:
                meta = export_meta_graph(graph=graph, saver=saver, clear_devices=clear_devices,
                                         meta_info_def={"tags": tags})
            except TypeError:
                meta = _export_without_python_objects(graph, saver, clear_devices, tags,
                                                      signatures, init_op)
        finally:
            saved[:] = old
        meta.meta["signature_def"] = {k: s.to_json() for k, s in signatures.items()}
        meta.meta["assets"] = assets
        self._meta_graphs.append(file_format.SavedModelMetaGraphDef(meta.meta, meta.arrays))
        self._tag_sets.append(frozenset(tags))

    def _copy_assets(self, assets_collection) -> list[dict]:
        """Copies each asset file (a string constant holding its path) into ``assets/``."""
        out = []
        for t in assets_collection or ():
            if not isinstance(t, Tensor):
                raise TypeError(f"assets_collection must hold string tensors (constants "
                                f"holding file paths), got {t!r}")
            value = constant_value(t)
            if value is None or t.dtype.name != "string":
                raise ValueError(f"asset tensor {t.name} must be a string constant holding a "
                                 "file path")
            value = value.item() if hasattr(value, "item") else value
            path = value.decode() if isinstance(value, bytes) else str(value)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"asset file {path} (tensor {t.name}) does not exist")
            name = os.path.basename(path)
            dest_dir = os.path.join(self._export_dir, constants.ASSETS_DIRECTORY)
            os.makedirs(dest_dir, exist_ok=True)
            dest = os.path.join(dest_dir, name)
            if not os.path.exists(dest):
                shutil.copyfile(path, dest)
            out.append({"tensor": t.name, "filename": name})
        return out


def _check_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    tags = list(tags or [])
    if not tags or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"SavedModel tags must be a non-empty list of strings, got {tags!r}")
    return tags


def _check_signatures(graph, signature_def_map) -> dict[str, SignatureDef]:
    out = {}
    for key, sig in (signature_def_map or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"signature_def_map keys must be strings, got {key!r}")
        if not isinstance(sig, SignatureDef):
            raise TypeError(f"signature_def_map['{key}'] must be a SignatureDef "
                            f"(tf.saved_model.signature_def_utils.predict_signature_def / "
                            f"build_signature_def), got {sig!r}")
        for what, infos in (("input", sig.inputs), ("output", sig.outputs)):
            for k, info in infos.items():
                if not info.name:
                    raise ValueError(f"signature '{key}': {what} '{k}' has no tensor name")
                try:
                    graph.get_tensor_by_name(info.name)
                except (KeyError, ValueError):
                    raise ValueError(f"signature '{key}': {what} '{k}' names tensor "
                                     f"'{info.name}', which is not in the graph being "
                                     "saved") from None
        out[key] = sig
    return out


# ----- graphs that hold Python objects ---------------------------------------------------------
def _holds_object(v) -> bool:
    if isinstance(v, list):
        return any(_holds_object(x) for x in v)
    if isinstance(v, dict):
        return "opaque" in v and len(v) == 1 or any(_holds_object(x) for x in v.values())
    return False


def _export_without_python_objects(graph, saver, clear_devices, tags, signatures, init_op):
    """The meta-graph of ``graph`` less the ops that hold Python objects (input pipelines,
    ``py_func``) and every op that depends on them; a ``placeholder_with_default`` over them
    becomes a plain placeholder.  A training graph fed by ``tf.data`` can so be saved for
    serving, as long as the signatures do not read the pipeline otherwise."""
    from flowgrad.platform import tf_logging  # noqa: PLC0415
    from flowgrad.train import meta_graph as mg  # noqa: PLC0415
    from flowgrad.train.graph_def import GraphDef, rebuild, references  # noqa: PLC0415
    gd = GraphDef.from_graph(graph)
    left_out: dict[str, str] = {}              # op name -> the op that holds the object
    entries = []
    for e in gd._ops:
        if any(_holds_object(v) for v in e["attrs"].values()):
            left_out[e["name"]] = e["name"]
            continue
        tensors, ops = references(e)
        deps = [n.split(":")[0] for n in e["inputs"] + tensors] + e["control_inputs"] + ops
        cause = next((left_out[d] for d in deps if d in left_out), None)
        if cause is not None and e["type"] == "PlaceholderWithDefault":
            # x = placeholder_with_default(iterator.get_next(), ...): the saved graph keeps
            # x as a plain placeholder, which serving feeds anyway
            (shape, dtype), = e["outputs"]
            e = {**e, "type": "Placeholder", "inputs": [], "control_inputs": [],
                 "attrs": {"dtype": {"dtype": dtype}, "shape": shape}}
        elif cause is not None:
            left_out[e["name"]] = cause
            continue
        entries.append(e)
    for key, sig in signatures.items():
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            op_name = info.name.split(":")[0]
            if op_name in left_out:
                cause = graph.get_operation_by_name(left_out[op_name])
                raise TypeError(f"signature '{key}': tensor {info.name} depends on op "
                                f"'{cause.name}' ({cause.type}), which holds a Python object "
                                "and cannot be saved; feed the model through a placeholder "
                                "for serving.")
    if init_op is not None and init_op.name in left_out:
        raise TypeError(f"main_op '{init_op.name}' depends on op '{left_out[init_op.name]}', "
                        "which holds a Python object and cannot be saved.")
    pruned = rebuild(gd, entries)
    ops = pruned._ops
    if clear_devices:
        ops = [{k: v for k, v in e.items() if k != "device"} for e in ops]
    collections = {}
    for key in graph.get_all_collection_keys():
        items = []
        for item in graph.get_collection(key):
            name = getattr(item, "name", None)
            if isinstance(name, str) and name.split(":")[0] in left_out:
                continue
            e = mg._collection_item(item, None)
            if e is False and key == "savers":
                continue
            if e is False:
                tf_logging.warning("Issue encountered when serializing %s: %r cannot be "
                                   "exported and is left out of the meta-graph.", key, item)
                continue
            items.append(e)
        if items:
            collections[str(key)] = items
    tf_logging.warning("SavedModel: %d ops that hold Python objects (input pipelines, "
                       "py_func) or depend on them are left out of the saved graph.",
                       len(left_out))
    meta = {"format": mg.FORMAT, "version": mg.VERSION, "meta_info": {"tags": tags},
            "graph_seed": graph.seed, "ops": ops, "collections": collections,
            "saver": mg._saver_json(mg._saver_def_of(saver), None)}
    return mg.MetaGraphDef(meta, pruned._used_arrays())
