"""``tf.saved_model``: export directories holding a graph, its variables and signatures.

    tf.saved_model.simple_save(sess, "export/1", inputs={"x": x}, outputs={"y": y})

    with tf.Session(graph=tf.Graph()) as sess:
        meta = tf.saved_model.loader.load(sess, [tf.saved_model.SERVING], "export/1")
        sig = meta.signature_def[tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
        sess.run(sig.outputs["y"].name, {sig.inputs["x"].name: batch})

An export directory holds flowgrad's SavedModel file (the meta-graphs, see
``saved_model/file_format.py``), ``variables/`` (a ``tf.train.Saver`` checkpoint) and
``assets/``.  It is flowgrad's own format, not TensorFlow's protocol buffers.
"""

from flowgrad.saved_model import (builder, constants, loader, main_op, signature_constants,
                                  signature_def_utils, tag_constants, utils)
from flowgrad.saved_model.builder import SavedModelBuilder
from flowgrad.saved_model.loader import load, maybe_saved_model_directory
from flowgrad.saved_model.signature_constants import (CLASSIFY_INPUTS, CLASSIFY_METHOD_NAME,
                                                      CLASSIFY_OUTPUT_CLASSES,
                                                      CLASSIFY_OUTPUT_SCORES,
                                                      DEFAULT_SERVING_SIGNATURE_DEF_KEY,
                                                      PREDICT_INPUTS, PREDICT_METHOD_NAME,
                                                      PREDICT_OUTPUTS, REGRESS_INPUTS,
                                                      REGRESS_METHOD_NAME, REGRESS_OUTPUTS)
from flowgrad.saved_model.signature_def_utils import (SignatureDef, TensorInfo,
                                                      build_signature_def,
                                                      classification_signature_def,
                                                      is_valid_signature,
                                                      predict_signature_def,
                                                      regression_signature_def)
from flowgrad.saved_model.tag_constants import EVAL, GPU, SERVING, TPU, TRAINING
from flowgrad.saved_model.utils import build_tensor_info, get_tensor_from_tensor_info

Builder = SavedModelBuilder
contains_saved_model = maybe_saved_model_directory
ASSETS_DIRECTORY = constants.ASSETS_DIRECTORY
ASSETS_KEY = constants.ASSETS_KEY
LEGACY_INIT_OP_KEY = constants.LEGACY_INIT_OP_KEY
MAIN_OP_KEY = constants.MAIN_OP_KEY
SAVED_MODEL_FILENAME_PB = constants.SAVED_MODEL_FILENAME_PB
SAVED_MODEL_FILENAME_PBTXT = constants.SAVED_MODEL_FILENAME_PBTXT
SAVED_MODEL_SCHEMA_VERSION = constants.SAVED_MODEL_SCHEMA_VERSION
VARIABLES_DIRECTORY = constants.VARIABLES_DIRECTORY
VARIABLES_FILENAME = constants.VARIABLES_FILENAME


def simple_save(session, export_dir, inputs, outputs, legacy_init_op=None) -> None:
    """Saves ``session``'s graph and variables for serving: one meta-graph tagged
    ``SERVING`` with a predict signature under ``DEFAULT_SERVING_SIGNATURE_DEF_KEY``."""
    from flowgrad.framework.graph import GraphKeys  # noqa: PLC0415
    signature_def_map = {DEFAULT_SERVING_SIGNATURE_DEF_KEY: predict_signature_def(inputs,
                                                                                  outputs)}
    b = SavedModelBuilder(export_dir)
    b.add_meta_graph_and_variables(
        session, tags=[SERVING], signature_def_map=signature_def_map,
        assets_collection=session.graph.get_collection(GraphKeys.ASSET_FILEPATHS),
        main_op=legacy_init_op, clear_devices=True)
    b.save()
