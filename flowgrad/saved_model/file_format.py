"""Reading and writing the SavedModel file: the meta-graphs of one export directory.

Binary (``saved_model.fgsm``): an ``.npz`` archive holding ``saved_model.json`` (each
meta-graph's JSON document, as in ``docs/metagraph.md``, with its ``tags``, signatures and
assets) and the meta-graphs' arrays, entry ``m<i>_<key>`` for array ``<key>`` of meta-graph
``i``.  Text (``saved_model.fgsm.txt``): one JSON document with the arrays inlined.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from types import SimpleNamespace

import numpy as np

from flowgrad.framework import errors
from flowgrad.saved_model import constants
from flowgrad.saved_model.signature_def_utils import SignatureDef
from flowgrad.train.graph_def import array_from_json, array_to_json, atomic_write
from flowgrad.train.meta_graph import MetaGraphDef

FORMAT = "flowgrad.saved_model"
_JSON = "saved_model.json"


class SavedModelMetaGraphDef(MetaGraphDef):
    """A meta-graph of a SavedModel: also its tags, signatures and assets."""

    @property
    def signature_def(self) -> dict[str, SignatureDef]:
        return {k: SignatureDef.from_json(v)
                for k, v in self.meta.get("signature_def", {}).items()}

    @property
    def meta_info_def(self):
        return SimpleNamespace(tags=list(self.meta.get("meta_info", {}).get("tags", [])),
                               **{k: v for k, v in self.meta.get("meta_info", {}).items()
                                  if k != "tags"})

    @property
    def tags(self) -> list[str]:
        return self.meta_info_def.tags

    @property
    def assets(self) -> list[dict]:
        return list(self.meta.get("assets", []))

    def __repr__(self) -> str:
        return (f"<MetaGraphDef tags={self.tags}: {len(self.meta['ops'])} ops, signatures "
                f"{sorted(self.meta.get('signature_def', {}))}>")


def write(export_dir: str, meta_graphs: list[MetaGraphDef], as_text: bool) -> str:
    if as_text:
        doc = {"format": FORMAT, "version": constants.SAVED_MODEL_SCHEMA_VERSION,
               "meta_graphs": [{"meta": m.meta,
                                "arrays": {k: array_to_json(a) for k, a in m.arrays.items()}}
                               for m in meta_graphs]}
        data = json.dumps(doc, indent=1).encode("utf-8")
        path = os.path.join(export_dir, constants.SAVED_MODEL_FILENAME_PBTXT)
    else:
        entries, listing = {}, []
        for i, m in enumerate(meta_graphs):
            names = {}
            for k, a in m.arrays.items():
                names[k] = f"m{i}_{k}"
                entries[names[k]] = a
            listing.append({"meta": m.meta, "arrays": names})
        doc = {"format": FORMAT, "version": constants.SAVED_MODEL_SCHEMA_VERSION,
               "meta_graphs": listing}
        entries[_JSON] = np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **entries)
        data = buf.getvalue()
        path = os.path.join(export_dir, constants.SAVED_MODEL_FILENAME_PB)
    atomic_write(path, data)
    return path


def saved_model_path(export_dir) -> str | None:
    export_dir = os.fspath(export_dir)
    for name in (constants.SAVED_MODEL_FILENAME_PBTXT, constants.SAVED_MODEL_FILENAME_PB):
        path = os.path.join(export_dir, name)
        if os.path.isfile(path):
            return path
    return None


def read(export_dir) -> list[SavedModelMetaGraphDef]:
    """The meta-graphs of the SavedModel in ``export_dir``."""
    path = saved_model_path(export_dir)
    if path is None:
        raise OSError(f"SavedModel file does not exist at: {os.fspath(export_dir)}/"
                      f"{{{constants.SAVED_MODEL_FILENAME_PBTXT}|"
                      f"{constants.SAVED_MODEL_FILENAME_PB}}}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        if path.endswith(constants.SAVED_MODEL_FILENAME_PB):
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                entries = {k: z[k] for k in z.files}
            doc = json.loads(entries.pop(_JSON).tobytes().decode("utf-8"))
            arrays_of = [{k: entries[e] for k, e in m["arrays"].items()}
                         for m in doc["meta_graphs"]]
        else:
            doc = json.loads(data.decode("utf-8"))
            arrays_of = [{k: array_from_json(v) for k, v in m["arrays"].items()}
                         for m in doc["meta_graphs"]]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError,
            UnicodeDecodeError) as e:
        raise errors.DataLossError(None, None, f"SavedModel file {path} is damaged or not a "
                                   f"flowgrad SavedModel: {type(e).__name__}: {e}") from None
    if doc.get("format") != FORMAT:
        raise errors.DataLossError(None, None, f"{path} is not a flowgrad SavedModel (format "
                                   f"{doc.get('format')!r})")
    if doc.get("version", 0) > constants.SAVED_MODEL_SCHEMA_VERSION:
        raise ValueError(f"SavedModel version {doc['version']} is newer than this flowgrad "
                         f"understands ({constants.SAVED_MODEL_SCHEMA_VERSION}); upgrade "
                         "flowgrad")
    return [SavedModelMetaGraphDef(m["meta"], arrays)
            for m, arrays in zip(doc["meta_graphs"], arrays_of)]
