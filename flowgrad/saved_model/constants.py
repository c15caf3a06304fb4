"""``tf.saved_model.constants``: file and collection names of flowgrad's SavedModel layout.

An export directory holds ``saved_model.fgsm`` (binary) or ``saved_model.fgsm.txt`` (text),
``variables/variables.safetensors`` (a checkpoint written by ``tf.train.Saver``) and
``assets/`` (copied asset files).
"""

SAVED_MODEL_FILENAME_PB = "saved_model.fgsm"
SAVED_MODEL_FILENAME_PBTXT = "saved_model.fgsm.txt"
SAVED_MODEL_SCHEMA_VERSION = 1

VARIABLES_DIRECTORY = "variables"
VARIABLES_FILENAME = "variables"
ASSETS_DIRECTORY = "assets"
ASSETS_KEY = "saved_model_assets"

MAIN_OP_KEY = "saved_model_main_op"
LEGACY_INIT_OP_KEY = "legacy_init_op"
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
