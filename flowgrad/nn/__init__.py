"""``tf.nn``: activations, softmax, cross-entropies, convolutions and pooling."""

from flowgrad.ops.math_ops import sigmoid, tanh
from flowgrad.ops.nn_ops import (bias_add, l2_loss, log_softmax, relu,
                                 sigmoid_cross_entropy_with_logits, softmax,
                                 softmax_cross_entropy_with_logits,
                                 softmax_cross_entropy_with_logits_v2,
                                 sparse_softmax_cross_entropy_with_logits,
                                 weighted_cross_entropy_with_logits)

# --- training stack (more activations, dropout, moments, batch norm, embeddings) ----------
from flowgrad.ops.nn_impl import (batch_normalization, dropout, fused_batch_norm,
                                  l2_normalize, moments, weighted_moments)
from flowgrad.ops.nn_ops import (crelu, elu, gelu, in_top_k, leaky_relu, relu6, selu, silu,
                                 softplus, softsign, swish, top_k)

# --- convolutions and pooling -------------------------------------------------------------
from flowgrad.ops.conv_ops import (conv1d, conv2d, conv2d_backprop_filter,
                                   conv2d_backprop_input, conv2d_transpose, convolution,
                                   depthwise_conv2d, depthwise_conv2d_native)
from flowgrad.ops.pool_ops import (avg_pool, avg_pool1d, avg_pool2d, max_pool, max_pool1d,
                                   max_pool2d, pool)

# --- recurrent networks and sampled losses -------------------------------------------------
from flowgrad.nn import rnn_cell
from flowgrad.ops.rnn import (bidirectional_dynamic_rnn, dynamic_rnn,
                              static_bidirectional_rnn, static_rnn)
from flowgrad.ops.embedding_ops import embedding_lookup
from flowgrad.ops.sampled_loss_ops import (compute_accidental_hits,
                                           log_uniform_candidate_sampler, nce_loss,
                                           sampled_softmax_loss, uniform_candidate_sampler)

# --- 3-D convolutions, separable and atrous convolutions, LRN, space/batch ------------------
from flowgrad.ops.conv3d_ops import (conv3d, conv3d_backprop_filter,
                                     conv3d_backprop_filter_v2, conv3d_transpose)
from flowgrad.ops.pool3d_ops import avg_pool3d, max_pool3d
from flowgrad.ops.conv_extra import (atrous_conv2d, atrous_conv2d_transpose, conv1d_transpose,
                                     separable_conv2d)
from flowgrad.ops.nn_extra_ops import (dilation2d, erosion2d, local_response_normalization,
                                       lrn, max_pool_with_argmax)
from flowgrad.ops.space_batch_ops import space_to_batch, with_space_to_batch

# --- sparse embeddings ----------------------------------------------------------------------

# --- CTC loss and decoders -------------------------------------------------------------------
from flowgrad.ops.ctc_ops import (ctc_beam_search_decoder, ctc_greedy_decoder, ctc_loss,
                                  ctc_loss_v2)

# --- TF1's composite layers (xw_plus_b, relu_layer) ----------------------------------------
from flowgrad.ops.nn_ops import relu_layer, xw_plus_b  # noqa: E402
