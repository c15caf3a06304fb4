"""``tf.train``: optimizers, global step, checkpoints and schedules."""

from flowgrad.train.gradient_descent import GradientDescentOptimizer
from flowgrad.train.optimizer import (Optimizer, create_global_step, get_global_step,
                                      get_or_create_global_step, global_step)

# --- training stack (optimizers, schedules, Saver) -----------------------------------------

# --- meta-graphs and the rest of TF1 ------------------------------------------------------
from flowgrad.train.meta_graph import (MetaGraphDef, export_meta_graph, import_meta_graph,
                                       read_meta_graph_file)

# --- distributed -----------------------------------------------------------------------------
