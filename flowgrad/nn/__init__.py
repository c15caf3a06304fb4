"""``tf.nn``: activations, softmax, cross-entropies, convolutions and pooling."""

from flowgrad.ops.math_ops import sigmoid, tanh
from flowgrad.ops.nn_ops import (bias_add, l2_loss, log_softmax, relu,
                                 sigmoid_cross_entropy_with_logits, softmax,
                                 softmax_cross_entropy_with_logits,
                                 softmax_cross_entropy_with_logits_v2,
                                 sparse_softmax_cross_entropy_with_logits,
                                 weighted_cross_entropy_with_logits)

# --- training stack (more activations, dropout, moments, batch norm, embeddings) ----------

# --- convolutions and pooling -------------------------------------------------------------

# --- recurrent networks and sampled losses -------------------------------------------------
from flowgrad.nn import rnn_cell
from flowgrad.ops.rnn import (bidirectional_dynamic_rnn, dynamic_rnn,
                              static_bidirectional_rnn, static_rnn)
from flowgrad.ops.embedding_ops import embedding_lookup
from flowgrad.ops.sampled_loss_ops import (compute_accidental_hits,
                                           log_uniform_candidate_sampler, nce_loss,
                                           sampled_softmax_loss, uniform_candidate_sampler)
