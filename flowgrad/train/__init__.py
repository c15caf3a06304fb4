"""``tf.train``: optimizers, global step, checkpoints and schedules."""

from flowgrad.train.gradient_descent import GradientDescentOptimizer
from flowgrad.train.optimizer import (Optimizer, create_global_step, get_global_step,
                                      get_or_create_global_step, global_step)

# --- training stack (optimizers, schedules, Saver) -----------------------------------------
from flowgrad.ops.clip_ops import (clip_by_average_norm, clip_by_global_norm, clip_by_norm,
                                   global_norm)
from flowgrad.train.adagrad import AdadeltaOptimizer, AdagradOptimizer
from flowgrad.train.adam import AdamOptimizer
from flowgrad.train.learning_rate_decay import (cosine_decay, exponential_decay,
                                                inverse_time_decay, natural_exp_decay,
                                                piecewise_constant, polynomial_decay)
from flowgrad.train.momentum import MomentumOptimizer
from flowgrad.train.rmsprop import RMSPropOptimizer

# --- meta-graphs and the rest of TF1 ------------------------------------------------------

# --- distributed -----------------------------------------------------------------------------
