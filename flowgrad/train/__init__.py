"""``tf.train``: optimizers, global step, checkpoints and schedules."""

from flowgrad.train.gradient_descent import GradientDescentOptimizer
from flowgrad.train.optimizer import (Optimizer, create_global_step, get_global_step,
                                      get_or_create_global_step, global_step)

# --- training stack (optimizers, schedules, Saver) -----------------------------------------
from flowgrad.train.adagrad import AdadeltaOptimizer, AdagradOptimizer
from flowgrad.train.adam import AdamOptimizer
from flowgrad.train.learning_rate_decay import (cosine_decay, exponential_decay,
                                                inverse_time_decay, natural_exp_decay,
                                                piecewise_constant, polynomial_decay)
from flowgrad.train.momentum import MomentumOptimizer
from flowgrad.train.rmsprop import RMSPropOptimizer
from flowgrad.train.saver import (CheckpointState, NewCheckpointReader, Saver,
                                  checkpoint_exists, get_checkpoint_mtimes,
                                  get_checkpoint_state, latest_checkpoint, list_variables,
                                  load_checkpoint, load_variable, remove_checkpoint,
                                  update_checkpoint_state)

# --- meta-graphs and the rest of TF1 ------------------------------------------------------
from flowgrad.train.meta_graph import (MetaGraphDef, export_meta_graph, import_meta_graph,
                                       read_meta_graph_file)

# --- monitored sessions and hooks ---------------------------------------------------------
from flowgrad.summary.summary_iterator import summary_iterator
from flowgrad.train.basic_session_run_hooks import (
    CheckpointSaverHook, CheckpointSaverListener, FeedFnHook, FinalOpsHook,
    GlobalStepWaiterHook, LoggingTensorHook, NanLossDuringTrainingError, NanTensorHook,
    NeverTriggerTimer, ProfilerHook, SecondOrStepTimer, StepCounterHook, StopAtStepHook,
    SummarySaverHook)
from flowgrad.train.monitored_session import (ChiefSessionCreator, MonitoredSession,
                                              MonitoredTrainingSession, SessionCreator,
                                              SingularMonitoredSession, WorkerSessionCreator)
from flowgrad.train.input import (batch, input_producer, limit_epochs, range_input_producer,
                                  shuffle_batch, slice_input_producer, string_input_producer)
from flowgrad.train.input import (batch_join, maybe_batch, maybe_batch_join,
                                  maybe_shuffle_batch, maybe_shuffle_batch_join,
                                  shuffle_batch_join)
from flowgrad.train.queue_runner import (Coordinator, QueueRunner, add_queue_runner,
                                         start_queue_runners)
from flowgrad.train.scaffold import Scaffold
from flowgrad.train.session_manager import SessionManager
from flowgrad.train.session_run_hook import (SessionRunArgs, SessionRunContext,
                                             SessionRunHook, SessionRunValues)

# --- moving averages and warm starts ---------------------------------------------------------
from flowgrad.train.moving_averages import ExponentialMovingAverage, assign_moving_average
from flowgrad.train.warm_start import init_from_checkpoint, warm_start

# --- graph files (write_graph) -------------------------------------------------------------
from flowgrad.train.graph_def import write_graph

# --- distributed -----------------------------------------------------------------------------
