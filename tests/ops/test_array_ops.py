"""Op harness rows for shape, slicing, gather/scatter and nn primitives."""

import numpy as np
import pytest

import flowgrad as tf
from flowgrad.testing.op_test import OpCase, check_op

IDX = np.array([2, 0, 2, 1])


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _onehot(n, k):
    rng = np.random.default_rng(3)
    return np.eye(k)[rng.integers(0, k, n)]


CASES = [
    OpCase("reshape", lambda x: tf.reshape(x, [4, -1]), lambda x: x.reshape(4, -1), [(2, 6)]),
    OpCase("reshape_dynamic", lambda x: tf.reshape(x, [tf.shape(x)[0], -1]),
           lambda x: x.reshape(x.shape[0], -1), [(3, 2, 2)]),
    OpCase("transpose", lambda x: tf.transpose(x, [2, 0, 1]),
           lambda x: x.transpose(2, 0, 1), [(2, 3, 4)]),
    OpCase("transpose_default", tf.transpose, np.transpose, [(2, 3)]),
    OpCase("expand_dims", lambda x: tf.expand_dims(x, 1), lambda x: x[:, None], [(3, 2)]),
    OpCase("squeeze", lambda x: tf.squeeze(x, [1]), lambda x: x.squeeze(1), [(3, 1, 2)]),
    OpCase("squeeze_all", tf.squeeze, np.squeeze, [(1, 3, 1)]),
    OpCase("concat", lambda a, b: tf.concat([a, b], 1), lambda a, b: np.concatenate([a, b], 1),
           [(2, 3), (2, 2)]),
    OpCase("concat_neg_axis", lambda a, b: tf.concat([a, b], -1),
           lambda a, b: np.concatenate([a, b], -1), [(2, 1), (2, 2)]),
    OpCase("stack", lambda a, b: tf.stack([a, b], axis=1), lambda a, b: np.stack([a, b], 1),
           [(2, 3), (2, 3)]),
    # as in TF, unstack and even splits need the static size of the split axis
    OpCase("unstack", lambda x: tf.unstack(x, axis=1), lambda x: [x[:, i] for i in range(3)],
           [(2, 3)], dynamic=False),
    OpCase("split_even", lambda x: tf.split(x, 2, axis=1), lambda x: np.split(x, 2, 1),
           [(3, 4)], dynamic=False),
    OpCase("split_sizes", lambda x: tf.split(x, [1, 3], axis=0),
           lambda x: np.split(x, [1], 0), [(4, 2)]),
    OpCase("tile", lambda x: tf.tile(x, [2, 3]), lambda x: np.tile(x, (2, 3)), [(2, 2)]),
    OpCase("pad", lambda x: tf.pad(x, [[1, 0], [2, 1]]),
           lambda x: np.pad(x, ((1, 0), (2, 1))), [(2, 3)]),
    OpCase("pad_value", lambda x: tf.pad(x, [[1, 1]], constant_values=3.0),
           lambda x: np.pad(x, (1, 1), constant_values=3.0), [(3,)]),
    OpCase("slice", lambda x: tf.slice(x, [1, 0], [2, -1]), lambda x: x[1:3, :], [(4, 3)]),
    OpCase("getitem_int", lambda x: x[1], lambda x: x[1], [(3, 4)]),
    OpCase("getitem_slices", lambda x: x[::2, 1:-1], lambda x: x[::2, 1:-1], [(5, 4)]),
    OpCase("getitem_neg_step", lambda x: x[::-1, 2], lambda x: x[::-1, 2], [(3, 4)]),
    OpCase("getitem_ellipsis_newaxis", lambda x: x[..., tf.newaxis, 0],
           lambda x: x[..., None, 0], [(2, 3, 4)]),
    OpCase("getitem_tensor_bounds", lambda x, n, i: x[:n, i], lambda x, n, i: x[:n, i],
           [(4, 3), (), ()], inputs=[np.arange(12.0).reshape(4, 3) / 7, np.int32(2),
                                    np.int32(1)], grad_inputs=[0]),
    OpCase("getitem_tensor_step", lambda x, k: x[1::k], lambda x, k: x[1::k], [(5, 2), ()],
           inputs=[np.arange(10.0).reshape(5, 2) / 3, np.int32(2)], grad_inputs=[0]),
    OpCase("strided_slice_masks",
           lambda x: tf.strided_slice(x, [0, 1], [0, 3], [1, 1], begin_mask=1, end_mask=1),
           lambda x: x[:, 1:3], [(3, 4)]),
    OpCase("gather", lambda x: tf.gather(x, IDX), lambda x: x[IDX], [(3, 2)]),
    OpCase("gather_axis1", lambda x: tf.gather(x, IDX, axis=1), lambda x: x[:, IDX],
           [(2, 3)]),
    OpCase("gather_2d_indices", lambda x: tf.gather(x, IDX.reshape(2, 2)),
           lambda x: x[IDX.reshape(2, 2)], [(3, 2)]),
    OpCase("gather_batch_dims",
           lambda p: tf.gather(p, np.array([[2, 0], [1, 1]]), axis=1, batch_dims=1),
           lambda p: np.stack([p[0][[2, 0]], p[1][[1, 1]]]), [(2, 3, 4)], dynamic=False),
    OpCase("gather_nd", lambda x: tf.gather_nd(x, [[0, 1], [2, 0], [0, 1]]),
           lambda x: x[[0, 2, 0], [1, 0, 1]], [(3, 2)]),
    OpCase("scatter_nd", lambda u: tf.scatter_nd([[0], [2], [0]], u, [4, 2]),
           lambda u: np.add.at(z := np.zeros((4, 2)), [0, 2, 0], u) or z, [(3, 2)]),
    OpCase("broadcast_to", lambda x: tf.broadcast_to(x, [3, 2]),
           lambda x: np.broadcast_to(x, (3, 2)), [(1, 2)]),
    OpCase("reverse", lambda x: tf.reverse(x, [1]), lambda x: x[:, ::-1], [(2, 3)]),
    OpCase("identity", tf.identity, lambda x: x, [(2, 2)]),
    OpCase("fill_grad", lambda v: tf.fill([2, 3], v), lambda v: np.full((2, 3), v), [()]),
    OpCase("zeros_like_mul", lambda x: x * tf.ones_like(x) + tf.zeros_like(x),
           lambda x: x, [(2, 3)]),
    OpCase("sum_to_shape_dynamic", lambda x, y: x * y, np.multiply, [(4, 3), (1, 3)]),
    # nn primitives
    OpCase("relu", tf.nn.relu, lambda x: np.maximum(x, 0), [(3, 4)], order2=False),
    OpCase("relu_second_order", lambda x: tf.nn.relu(x) * x, lambda x: np.maximum(x, 0) * x,
           [(3, 4)]),
    OpCase("softmax", tf.nn.softmax, _softmax, [(3, 4)]),
    OpCase("softmax_axis0", lambda x: tf.nn.softmax(x, axis=0), lambda x: _softmax(x, 0),
           [(3, 4)]),
    OpCase("log_softmax", tf.nn.log_softmax, lambda x: np.log(_softmax(x)), [(3, 4)]),
    OpCase("bias_add", tf.nn.bias_add, np.add, [(2, 3, 4), (4,)]),
    OpCase("bias_add_nchw", lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
           lambda x, b: x + b[:, None, None], [(2, 3, 2, 2), (3,)]),
    OpCase("softmax_xent",
           lambda x: tf.nn.softmax_cross_entropy_with_logits_v2(labels=_onehot(4, 3), logits=x),
           lambda x: -(_onehot(4, 3) * np.log(_softmax(x))).sum(1), [(4, 3)]),
    OpCase("softmax_xent_labels_grad",
           lambda x, y: tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x),
           lambda x, y: -(y * np.log(_softmax(x))).sum(1), [(4, 3), (4, 3)],
           domain=[(-2, 2), (0, 1)]),
    OpCase("sparse_softmax_xent",
           lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(
               labels=np.array([0, 2, 1, 2]), logits=x),
           lambda x: -np.log(_softmax(x))[np.arange(4), [0, 2, 1, 2]], [(4, 3)]),
    OpCase("sigmoid_xent",
           lambda x, z: tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
           lambda x, z: np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x))),
           [(3, 2), (3, 2)], domain=[(-3, 3), (0, 1)], order2=False),
    OpCase("l2_loss", tf.nn.l2_loss, lambda x: (x ** 2).sum() / 2, [(3, 4)]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_op(case):
    check_op(case)
