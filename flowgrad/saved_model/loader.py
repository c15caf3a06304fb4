"""``tf.saved_model.loader``: loads a SavedModel's meta-graph and variables into a session.

    meta = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING], "export/1")
    sig = meta.signature_def["serving_default"]
    y = sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: batch})
"""

from __future__ import annotations

import os

from flowgrad.saved_model import constants, file_format
from flowgrad.saved_model.file_format import SavedModelMetaGraphDef


def maybe_saved_model_directory(export_dir) -> bool:
    """Whether ``export_dir`` holds a SavedModel file."""
    return file_format.saved_model_path(export_dir) is not None


def load(sess, tags, export_dir, import_scope: str | None = None,
         **saver_kwargs) -> SavedModelMetaGraphDef:
    """Imports the meta-graph saved with exactly ``tags`` into ``sess.graph``, restores its
    variables, runs its main op (feeding the copied asset paths) and returns the meta-graph
    (``signature_def`` gives its signatures)."""
    from flowgrad.train.meta_graph import import_meta_graph, import_scoped_meta_graph  # noqa: PLC0415
    export_dir = os.fspath(export_dir)
    tags = [tags] if isinstance(tags, str) else list(tags)
    meta_graphs = file_format.read(export_dir)
    chosen = next((m for m in meta_graphs if set(m.tags) == set(tags)), None)
    if chosen is None:
        available = [m.tags for m in meta_graphs]
        raise RuntimeError(f"MetaGraphDef associated with tags {str(tags).strip('[]')} could "
                           f"not be found in SavedModel. The SavedModel at {export_dir} has "
                           f"the tag-sets {available}.")
    graph = sess.graph
    prefix = (import_scope.rstrip("/") + "/") if import_scope else ""
    var_names = (chosen.saver_def or {}).get("var_names")
    with graph.as_default():
        if var_names:
            saver = import_meta_graph(chosen, import_scope=import_scope, **saver_kwargs)
            saver.restore(sess, os.path.join(export_dir, constants.VARIABLES_DIRECTORY,
                                             constants.VARIABLES_FILENAME))
        else:
            import_scoped_meta_graph(chosen, graph=graph, import_scope=import_scope)
    feed = {graph.get_tensor_by_name(prefix + a["tensor"]):
            os.path.join(export_dir, constants.ASSETS_DIRECTORY, a["filename"])
            for a in chosen.assets}
    for key in (constants.MAIN_OP_KEY, constants.LEGACY_INIT_OP_KEY):
        items = chosen.collection_def.get(key)
        if items:
            sess.run(graph.get_operation_by_name(prefix + items[0]["op"]), feed_dict=feed)
            break
    return chosen
