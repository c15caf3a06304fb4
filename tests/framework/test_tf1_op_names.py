"""Default op names match TF1 (``tf.compat.v1`` graph mode).

TF1 code fetches and freezes tensors by name (``"Add:0"``, ``graph.get_tensor_by_name``,
``convert_variables_to_constants(..., ["Softmax"])``), so each call in ``CASES`` must give the
fetched tensor the name TF1 gives it.  The expected names are literal (written down from
TensorFlow 2.21's ``tf.compat.v1`` in graph mode with reference variables);
``test_names_agree_with_tensorflow`` rebuilds every call in TensorFlow when it is installed and
checks the table against it.
"""

import contextlib

import pytest

import flowgrad

SETUP = '''x = tf.placeholder(tf.float32, [2, 3], name="x")
y = tf.placeholder(tf.float32, [2, 3], name="y")
m = tf.placeholder(tf.float32, [3, 4], name="m")
v = tf.placeholder(tf.float32, [3], name="v")
i = tf.placeholder(tf.int32, [2, 3], name="i")
j = tf.placeholder(tf.int32, [2, 3], name="j")
b = tf.placeholder(tf.bool, [2, 3], name="b")
c = tf.placeholder(tf.bool, [2, 3], name="c")
img = tf.placeholder(tf.float32, [2, 8, 8, 3], name="img")
k = tf.placeholder(tf.float32, [3, 3, 3, 4], name="k")
lab = tf.placeholder(tf.int32, [2], name="lab")
ind = tf.placeholder(tf.int32, [2], name="ind")
'''

# (id, code: an expression, or statements that set ``out``; TF1's fetched name and op type)
CASES = [
    ('add', 'tf.add(x, y)', 'Add:0', 'AddV2'),
    ('add_const', 'tf.add(x, 2.0)', 'Add:0', 'AddV2'),
    ('subtract', 'tf.subtract(x, y)', 'Sub:0', 'Sub'),
    ('multiply', 'tf.multiply(x, y)', 'Mul:0', 'Mul'),
    ('divide', 'tf.divide(x, y)', 'truediv:0', 'RealDiv'),
    ('truediv', 'tf.truediv(x, y)', 'truediv:0', 'RealDiv'),
    ('truediv_int', 'tf.truediv(i, j)', 'truediv:0', 'RealDiv'),
    ('realdiv', 'tf.realdiv(x, y)', 'RealDiv:0', 'RealDiv'),
    ('div', 'tf.div(x, y)', 'div:0', 'RealDiv'),
    ('floordiv', 'tf.floordiv(x, y)', 'floordiv:0', 'FloorDiv'),
    ('floor_div', 'tf.floor_div(x, y)', 'FloorDiv:0', 'FloorDiv'),
    ('mod', 'tf.mod(x, y)', 'FloorMod:0', 'FloorMod'),
    ('floormod', 'tf.floormod(x, y)', 'FloorMod:0', 'FloorMod'),
    ('pow', 'tf.pow(x, y)', 'Pow:0', 'Pow'),
    ('maximum', 'tf.maximum(x, y)', 'Maximum:0', 'Maximum'),
    ('minimum', 'tf.minimum(x, y)', 'Minimum:0', 'Minimum'),
    ('squared_difference',
     'tf.squared_difference(x, y)',
     'SquaredDifference:0', 'SquaredDifference'),
    ('add_n', 'tf.add_n([x, y, x])', 'AddN:0', 'AddN'),
    ('square', 'tf.square(x)', 'Square:0', 'Square'),
    ('sqrt', 'tf.sqrt(x)', 'Sqrt:0', 'Sqrt'),
    ('rsqrt', 'tf.rsqrt(x)', 'Rsqrt:0', 'Rsqrt'),
    ('exp', 'tf.exp(x)', 'Exp:0', 'Exp'),
    ('log', 'tf.log(x)', 'Log:0', 'Log'),
    ('log1p', 'tf.log1p(x)', 'Log1p:0', 'Log1p'),
    ('abs', 'tf.abs(x)', 'Abs:0', 'Abs'),
    ('negative', 'tf.negative(x)', 'Neg:0', 'Neg'),
    ('sign', 'tf.sign(x)', 'Sign:0', 'Sign'),
    ('reciprocal', 'tf.reciprocal(x)', 'Reciprocal:0', 'Reciprocal'),
    ('sin', 'tf.sin(x)', 'Sin:0', 'Sin'),
    ('cos', 'tf.cos(x)', 'Cos:0', 'Cos'),
    ('tan', 'tf.tan(x)', 'Tan:0', 'Tan'),
    ('asin', 'tf.asin(x)', 'Asin:0', 'Asin'),
    ('acos', 'tf.acos(x)', 'Acos:0', 'Acos'),
    ('atan', 'tf.atan(x)', 'Atan:0', 'Atan'),
    ('sinh', 'tf.sinh(x)', 'Sinh:0', 'Sinh'),
    ('cosh', 'tf.cosh(x)', 'Cosh:0', 'Cosh'),
    ('floor', 'tf.floor(x)', 'Floor:0', 'Floor'),
    ('ceil', 'tf.ceil(x)', 'Ceil:0', 'Ceil'),
    ('round', 'tf.round(x)', 'Round:0', 'Round'),
    ('rint', 'tf.rint(x)', 'Rint:0', 'Rint'),
    ('erf', 'tf.erf(x)', 'Erf:0', 'Erf'),
    ('expm1', 'tf.expm1(x)', 'Expm1:0', 'Expm1'),
    ('atan2', 'tf.atan2(x, y)', 'Atan2:0', 'Atan2'),
    ('is_nan', 'tf.is_nan(x)', 'IsNan:0', 'IsNan'),
    ('is_inf', 'tf.is_inf(x)', 'IsInf:0', 'IsInf'),
    ('is_finite', 'tf.is_finite(x)', 'IsFinite:0', 'IsFinite'),
    ('math_log_sigmoid', 'tf.math.log_sigmoid(x)', 'LogSigmoid:0', 'Neg'),
    ('matmul', 'tf.matmul(x, m)', 'MatMul:0', 'MatMul'),
    ('matmul_t', 'tf.matmul(x, y, transpose_b=True)', 'MatMul:0', 'MatMul'),
    ('tensordot', 'tf.tensordot(x, m, 1)', 'Tensordot/MatMul:0', 'MatMul'),
    ('reduce_sum', 'tf.reduce_sum(x)', 'Sum:0', 'Sum'),
    ('reduce_sum_axis', 'tf.reduce_sum(x, axis=1)', 'Sum:0', 'Sum'),
    ('reduce_mean', 'tf.reduce_mean(x)', 'Mean:0', 'Mean'),
    ('reduce_max', 'tf.reduce_max(x, 0)', 'Max:0', 'Max'),
    ('reduce_min', 'tf.reduce_min(x)', 'Min:0', 'Min'),
    ('reduce_prod', 'tf.reduce_prod(x)', 'Prod:0', 'Prod'),
    ('reduce_any', 'tf.reduce_any(b)', 'Any:0', 'Any'),
    ('reduce_all', 'tf.reduce_all(b)', 'All:0', 'All'),
    ('reduce_logsumexp', 'tf.reduce_logsumexp(x, axis=1)', 'ReduceLogSumExp:0', 'AddV2'),
    ('argmax', 'tf.argmax(x, 1)', 'ArgMax:0', 'ArgMax'),
    ('argmin', 'tf.argmin(x, 1)', 'ArgMin:0', 'ArgMin'),
    ('cast', 'tf.cast(x, tf.int32)', 'Cast:0', 'Cast'),
    ('to_float', 'tf.to_float(i)', 'ToFloat:0', 'Cast'),
    ('equal', 'tf.equal(x, y)', 'Equal:0', 'Equal'),
    ('not_equal', 'tf.not_equal(x, y)', 'NotEqual:0', 'NotEqual'),
    ('less', 'tf.less(x, y)', 'Less:0', 'Less'),
    ('less_equal', 'tf.less_equal(x, y)', 'LessEqual:0', 'LessEqual'),
    ('greater', 'tf.greater(x, y)', 'Greater:0', 'Greater'),
    ('greater_equal', 'tf.greater_equal(x, y)', 'GreaterEqual:0', 'GreaterEqual'),
    ('logical_and', 'tf.logical_and(b, c)', 'LogicalAnd:0', 'LogicalAnd'),
    ('logical_or', 'tf.logical_or(b, c)', 'LogicalOr:0', 'LogicalOr'),
    ('logical_not', 'tf.logical_not(b)', 'LogicalNot:0', 'LogicalNot'),
    ('logical_xor', 'tf.logical_xor(b, c)', 'LogicalXor:0', 'LogicalAnd'),
    ('where3', 'tf.where(b, x, y)', 'Select:0', 'Select'),
    ('where1', 'tf.where(b)', 'Where:0', 'Where'),
    ('where_v2', 'tf.where_v2(b, x, y)', 'SelectV2:0', 'SelectV2'),
    ('cumsum', 'tf.cumsum(x, axis=1)', 'Cumsum:0', 'Cumsum'),
    ('cumprod', 'tf.cumprod(x)', 'Cumprod:0', 'Cumprod'),
    ('clip_by_value', 'tf.clip_by_value(x, 0.0, 1.0)', 'clip_by_value:0', 'Maximum'),
    ('count_nonzero', 'tf.count_nonzero(x)', 'count_nonzero/Sum:0', 'Sum'),
    ('reshape', 'tf.reshape(x, [3, 2])', 'Reshape:0', 'Reshape'),
    ('transpose', 'tf.transpose(x)', 'transpose:0', 'Transpose'),
    ('transpose_perm', 'tf.transpose(x, [1, 0])', 'transpose:0', 'Transpose'),
    ('concat', 'tf.concat([x, y], 0)', 'concat:0', 'ConcatV2'),
    ('stack', 'tf.stack([x, y])', 'stack:0', 'Pack'),
    ('unstack', 'tf.unstack(x)[1]', 'unstack:1', 'Unpack'),
    ('split', 'tf.split(x, 3, axis=1)[0]', 'split:0', 'Split'),
    ('split_sizes', 'tf.split(x, [1, 2], axis=1)[1]', 'split:1', 'SplitV'),
    ('squeeze', 'tf.squeeze(tf.expand_dims(x, 0))', 'Squeeze:0', 'Squeeze'),
    ('expand_dims', 'tf.expand_dims(x, -1)', 'ExpandDims:0', 'ExpandDims'),
    ('tile', 'tf.tile(x, [2, 1])', 'Tile:0', 'Tile'),
    ('pad', 'tf.pad(x, [[1, 1], [0, 0]])', 'Pad:0', 'Pad'),
    ('gather', 'tf.gather(x, ind)', 'GatherV2:0', 'GatherV2'),
    ('gather_nd', 'tf.gather_nd(x, [[0, 1]])', 'GatherNd:0', 'GatherNd'),
    ('slice', 'tf.slice(x, [0, 1], [1, 2])', 'Slice:0', 'Slice'),
    ('strided_slice', 'x[1:2]', 'strided_slice:0', 'StridedSlice'),
    ('getitem', 'x[0, 1]', 'strided_slice:0', 'StridedSlice'),
    ('getitem_ellipsis', 'x[..., 1]', 'strided_slice:0', 'StridedSlice'),
    ('one_hot', 'tf.one_hot(lab, 5)', 'one_hot:0', 'OneHot'),
    ('fill', 'tf.fill([2, 3], 1.0)', 'Fill:0', 'Fill'),
    ('zeros', 'tf.zeros([2, 3])', 'zeros:0', 'Const'),
    ('ones', 'tf.ones([2, 3])', 'ones:0', 'Const'),
    ('zeros_like', 'tf.zeros_like(x)', 'zeros_like:0', 'Const'),
    ('ones_like', 'tf.ones_like(x)', 'ones_like:0', 'Fill'),
    ('shape', 'tf.shape(x)', 'Shape:0', 'Const'),
    ('size', 'tf.size(x)', 'Size:0', 'Const'),
    ('rank', 'tf.rank(x)', 'Rank:0', 'Const'),
    ('identity', 'tf.identity(x)', 'Identity:0', 'Identity'),
    ('stop_gradient', 'tf.stop_gradient(x)', 'StopGradient:0', 'StopGradient'),
    ('boolean_mask', 'tf.boolean_mask(x, b)', 'boolean_mask/GatherV2:0', 'GatherV2'),
    ('reverse', 'tf.reverse(x, [1])', 'ReverseV2:0', 'ReverseV2'),
    ('range', 'tf.range(5)', 'range:0', 'Range'),
    ('range2', 'tf.range(1, 5, 2)', 'range:0', 'Range'),
    ('linspace', 'tf.linspace(0.0, 1.0, 5)', 'linspace/Slice:0', 'Slice'),
    ('broadcast_to', 'tf.broadcast_to(v, [2, 3])', 'BroadcastTo:0', 'BroadcastTo'),
    ('constant', 'tf.constant([1.0, 2.0])', 'Const:0', 'Const'),
    ('placeholder', 'tf.placeholder(tf.float32)', 'Placeholder:0', 'Placeholder'),
    ('placeholder_with_default',
     'tf.placeholder_with_default(1.0, [])',
     'PlaceholderWithDefault:0', 'PlaceholderWithDefault'),
    ('convert_to_tensor', 'tf.convert_to_tensor([1.0, 2.0])', 'Const:0', 'Const'),
    ('check_numerics', "tf.check_numerics(x, 'bad')", 'CheckNumerics:0', 'CheckNumerics'),
    ('matrix_transpose', 'tf.matrix_transpose(x)', 'matrix_transpose/transpose:0', 'Transpose'),
    ('scatter_nd', 'tf.scatter_nd([[0], [1]], [1.0, 2.0], [4])', 'ScatterNd:0', 'ScatterNd'),
    ('shape_n', 'tf.shape_n([x, m])[1]', 'ShapeN:1', 'ShapeN'),
    ('relu', 'tf.nn.relu(x)', 'Relu:0', 'Relu'),
    ('relu6', 'tf.nn.relu6(x)', 'Relu6:0', 'Relu6'),
    ('elu', 'tf.nn.elu(x)', 'Elu:0', 'Elu'),
    ('selu', 'tf.nn.selu(x)', 'Selu:0', 'Selu'),
    ('softplus', 'tf.nn.softplus(x)', 'Softplus:0', 'Softplus'),
    ('softsign', 'tf.nn.softsign(x)', 'Softsign:0', 'Softsign'),
    ('leaky_relu', 'tf.nn.leaky_relu(x)', 'LeakyRelu:0', 'LeakyRelu'),
    ('sigmoid', 'tf.sigmoid(x)', 'Sigmoid:0', 'Sigmoid'),
    ('nn_sigmoid', 'tf.nn.sigmoid(x)', 'Sigmoid:0', 'Sigmoid'),
    ('tanh', 'tf.tanh(x)', 'Tanh:0', 'Tanh'),
    ('nn_tanh', 'tf.nn.tanh(x)', 'Tanh:0', 'Tanh'),
    ('softmax', 'tf.nn.softmax(x)', 'Softmax:0', 'Softmax'),
    ('log_softmax', 'tf.nn.log_softmax(x)', 'LogSoftmax:0', 'LogSoftmax'),
    ('bias_add', 'tf.nn.bias_add(x, v)', 'BiasAdd:0', 'BiasAdd'),
    ('conv2d', "tf.nn.conv2d(img, k, [1, 1, 1, 1], 'SAME')", 'Conv2D:0', 'Conv2D'),
    ('max_pool',
     "tf.nn.max_pool(img, [1, 2, 2, 1], [1, 2, 2, 1], 'VALID')",
     'MaxPool:0', 'MaxPool'),
    ('avg_pool',
     "tf.nn.avg_pool(img, [1, 2, 2, 1], [1, 2, 2, 1], 'VALID')",
     'AvgPool:0', 'AvgPool'),
    ('dropout', 'tf.nn.dropout(x, keep_prob=0.5)', 'dropout/SelectV2:0', 'SelectV2'),
    ('dropout_rate', 'tf.nn.dropout(x, rate=0.5)', 'dropout/SelectV2:0', 'SelectV2'),
    ('l2_normalize', 'tf.nn.l2_normalize(x, axis=1)', 'l2_normalize:0', 'Mul'),
    ('softmax_xent',
     'tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=x)',
     'softmax_cross_entropy_with_logits_sg/Reshape_2:0', 'Reshape'),
    ('softmax_xent_v2',
     'tf.nn.softmax_cross_entropy_with_logits_v2(labels=y, logits=x)',
     'softmax_cross_entropy_with_logits/Reshape_2:0', 'Reshape'),
    ('sparse_softmax_xent',
     'tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=x)',
     'SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits:0',
     'SparseSoftmaxCrossEntropyWithLogits'),
    ('sigmoid_xent',
     'tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x)',
     'logistic_loss:0', 'AddV2'),
    ('moments', 'tf.nn.moments(x, [0])[1]', 'moments/Squeeze_1:0', 'Squeeze'),
    ('batch_normalization',
     'tf.nn.batch_normalization(x, v, v, v, v, 1e-3)',
     'batchnorm/add_1:0', 'AddV2'),
    ('fused_batch_norm',
     'tf.nn.fused_batch_norm(img, tf.ones([3]), tf.zeros([3]))[0]',
     'FusedBatchNormV3:0', 'FusedBatchNormV3'),
    ('embedding_lookup',
     'tf.nn.embedding_lookup(m, ind)',
     'embedding_lookup/Identity:0', 'Identity'),
    ('in_top_k', 'tf.nn.in_top_k(x, lab, 1)', 'in_top_k/InTopKV2:0', 'InTopKV2'),
    ('top_k', 'tf.nn.top_k(x, 2)[0]', 'TopKV2:0', 'TopKV2'),
    ('l2_loss', 'tf.nn.l2_loss(x)', 'L2Loss:0', 'L2Loss'),
    ('nn_softmax_axis', 'tf.nn.softmax(x, axis=0)', 'transpose_1:0', 'Transpose'),
    ('losses_mse', 'tf.losses.mean_squared_error(y, x)', 'mean_squared_error/value:0', 'DivNoNan'),
    ('losses_softmax',
     'tf.losses.softmax_cross_entropy(y, x)',
     'softmax_cross_entropy_loss/value:0', 'DivNoNan'),
    ('losses_sparse_softmax',
     'tf.losses.sparse_softmax_cross_entropy(lab, x)',
     'sparse_softmax_cross_entropy_loss/value:0', 'DivNoNan'),
    ('Variable', 'tf.Variable(tf.zeros([3]))', 'Variable:0', 'VariableV2'),
    ('Variable_named', "tf.Variable(1.0, name='w')", 'w:0', 'VariableV2'),
    ('Variable_read', "w = tf.Variable(1.0, name='w')\nout = w.read_value()", 'read:0', 'Identity'),
    ('Variable_value', "w = tf.Variable(1.0, name='w')\nout = w.value()", 'w/read:0', 'Identity'),
    ('Variable_plus', "w = tf.Variable(1.0, name='w')\nout = w + 1.0", 'add:0', 'AddV2'),
    ('get_variable', "tf.get_variable('w', [3, 4])", 'w:0', 'VariableV2'),
    ('get_variable_zeros',
     "tf.get_variable('w', [3], initializer=tf.zeros_initializer())",
     'w:0', 'VariableV2'),
    ('assign', "w = tf.Variable(1.0, name='w')\nout = tf.assign(w, 2.0)", 'Assign:0', 'Assign'),
    ('assign_method', "w = tf.Variable(1.0, name='w')\nout = w.assign(2.0)", 'Assign:0', 'Assign'),
    ('assign_add',
     "w = tf.Variable(1.0, name='w')\nout = tf.assign_add(w, 2.0)",
     'AssignAdd:0', 'AssignAdd'),
    ('assign_sub',
     "w = tf.Variable(1.0, name='w')\nout = tf.assign_sub(w, 2.0)",
     'AssignSub:0', 'AssignSub'),
    ('global_variables_initializer',
     "w = tf.Variable(1.0, name='w')\nout = tf.global_variables_initializer()",
     'init', 'NoOp'),
    ('random_normal', 'tf.random_normal([2, 3])', 'random_normal:0', 'AddV2'),
    ('random_uniform',
     'tf.random_uniform([2, 3])',
     'random_uniform/RandomUniform:0', 'RandomUniform'),
    ('truncated_normal', 'tf.truncated_normal([2, 3])', 'truncated_normal:0', 'AddV2'),
    ('random_uniform_int',
     'tf.random_uniform([2], maxval=5, dtype=tf.int32)',
     'random_uniform:0', 'RandomUniformInt'),
    ('random_shuffle', 'tf.random_shuffle(x)', 'RandomShuffle:0', 'RandomShuffle'),
    ('no_op', 'tf.no_op()', 'NoOp', 'NoOp'),
    ('group', 'tf.group(x, y)', 'group_deps', 'NoOp'),
    ('op_add', 'x + y', 'add:0', 'AddV2'),
    ('op_radd', '2.0 + x', 'add:0', 'AddV2'),
    ('op_sub', 'x - y', 'sub:0', 'Sub'),
    ('op_mul', 'x * y', 'mul:0', 'Mul'),
    ('op_div', 'x / y', 'truediv:0', 'RealDiv'),
    ('op_div_int', 'i / j', 'truediv:0', 'RealDiv'),
    ('op_floordiv', 'x // y', 'floordiv:0', 'FloorDiv'),
    ('op_mod', 'x % y', 'mod:0', 'FloorMod'),
    ('op_pow', 'x ** y', 'pow:0', 'Pow'),
    ('op_matmul', 'x @ m', 'matmul:0', 'MatMul'),
    ('op_neg', '-x', 'Neg:0', 'Neg'),
    ('op_abs', 'abs(x)', 'Abs:0', 'Abs'),
    ('op_lt', 'x < y', 'Less:0', 'Less'),
    ('op_le', 'x <= y', 'LessEqual:0', 'LessEqual'),
    ('op_gt', 'x > y', 'Greater:0', 'Greater'),
    ('op_ge', 'x >= y', 'GreaterEqual:0', 'GreaterEqual'),
    ('op_and', 'b & c', 'and:0', 'LogicalAnd'),
    ('op_or', 'b | c', 'or:0', 'LogicalOr'),
    ('op_xor', 'b ^ c', 'xor:0', 'LogicalAnd'),
    ('op_invert', '~b', 'LogicalNot:0', 'LogicalNot'),
    ('scope_add', "with tf.name_scope('s'):\n    out = tf.add(x, y)", 's/Add:0', 'AddV2'),
    ('scope_softmax',
     "with tf.name_scope('s'):\n    out = tf.nn.softmax(tf.matmul(x, m))",
     's/Softmax:0', 'Softmax'),
    ('scope_variable',
     "with tf.variable_scope('vs'):\n    out = tf.get_variable('w', [3])",
     'vs/w:0', 'VariableV2'),
    ('scope_op_add', "with tf.name_scope('s'):\n    out = x + y", 's/add:0', 'AddV2'),
    ('two_adds', 'tf.add(x, y)\nout = tf.add(x, y)', 'Add_1:0', 'AddV2'),
    ('layers_dense', 'tf.layers.dense(x, 4)', 'dense/BiasAdd:0', 'BiasAdd'),
    ('layers_dense_relu', 'tf.layers.dense(x, 4, activation=tf.nn.relu)', 'dense/Relu:0', 'Relu'),
    ('layers_conv2d', 'tf.layers.conv2d(img, 4, 3)', 'conv2d/BiasAdd:0', 'BiasAdd'),
    ('layers_max_pool', 'tf.layers.max_pooling2d(img, 2, 2)', 'max_pooling2d/MaxPool:0', 'MaxPool'),
    ('layers_flatten', 'tf.layers.flatten(img)', 'flatten/Reshape:0', 'Reshape'),
    ('layers_dropout',
     'tf.layers.dropout(x, 0.5, training=True)',
     'dropout/dropout/SelectV2:0', 'SelectV2'),
    ('grad_sin', 'tf.gradients(tf.sin(x), x)[0]', 'gradients/Sin_grad/mul:0', 'Mul'),
    ('grad_add', 'tf.gradients(tf.add(x, y), x)[0]', 'gradients/grad_ys_0:0', 'Fill'),
    ('grad_matmul',
     'tf.gradients(tf.matmul(x, m), m)[0]',
     'gradients/MatMul_grad/MatMul_1:0', 'MatMul'),
    ('grad_reduce_sum',
     'tf.gradients(tf.reduce_sum(x), x)[0]',
     'gradients/Sum_grad/Tile:0', 'Tile'),
    ('grad_relu',
     'tf.gradients(tf.nn.relu(x), x)[0]',
     'gradients/Relu_grad/ReluGrad:0', 'ReluGrad'),
    ('grad_sigmoid',
     'tf.gradients(tf.sigmoid(x), x)[0]',
     'gradients/Sigmoid_grad/SigmoidGrad:0', 'SigmoidGrad'),
    ('sgd_minimize',
     "w = tf.Variable(tf.ones([3, 4]), name='w')\n"
     'loss = tf.reduce_sum(tf.matmul(x, w))\n'
     'out = tf.train.GradientDescentOptimizer(0.1).minimize(loss)',
     'GradientDescent', 'NoOp'),
    ('adam_minimize',
     "w = tf.Variable(tf.ones([3, 4]), name='w')\n"
     'loss = tf.reduce_sum(tf.matmul(x, w))\n'
     'out = tf.train.AdamOptimizer(0.1).minimize(loss)',
     'Adam', 'NoOp'),
    ('momentum_minimize',
     "w = tf.Variable(tf.ones([3, 4]), name='w')\n"
     'loss = tf.reduce_sum(tf.matmul(x, w))\n'
     'out = tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)',
     'Momentum', 'NoOp'),
    ('global_step', 'out = tf.train.get_or_create_global_step()', 'global_step:0', 'VariableV2'),
    ('saver_like_identity',
     "out = tf.identity(tf.nn.softmax(x), name='probs')",
     'probs:0', 'Identity'),
    ('xw_plus_b', 'tf.nn.xw_plus_b(x, m, tf.zeros([4]))', 'xw_plus_b:0', 'BiasAdd'),
    ('relu_layer', 'tf.nn.relu_layer(x, m, tf.zeros([4]))', 'relu_layer:0', 'Relu'),
    ('conv2d_transpose',
     "tf.nn.conv2d_transpose(img, tf.ones([3, 3, 5, 3]), [2, 8, 8, 5], [1, 1, 1, 1], 'SAME')",
     'conv2d_transpose:0', 'Conv2DBackpropInput'),
    ('depthwise',
     "tf.nn.depthwise_conv2d(img, tf.ones([3, 3, 3, 2]), [1, 1, 1, 1], 'SAME')",
     'depthwise:0', 'DepthwiseConv2dNative'),
    ('layers_bn',
     'tf.layers.batch_normalization(img, training=True)',
     'batch_normalization/FusedBatchNormV3:0', 'FusedBatchNormV3'),
    ('layers_bn_vars',
     'tf.layers.batch_normalization(img, training=True)\nout = tf.global_variables()[2]',
     'batch_normalization/moving_mean:0', 'VariableV2'),
    ('layers_bn_update',
     'tf.layers.batch_normalization(img, training=True)\n'
     'out = tf.get_collection(tf.GraphKeys.UPDATE_OPS)[0]',
     'batch_normalization/AssignMovingAvg', 'AssignSub'),
    ('lstm_vars',
     'cell = tf.nn.rnn_cell.BasicLSTMCell(5)\n'
     "seq = tf.placeholder(tf.float32, [2, 4, 3], name='seq')\n"
     'o, s = tf.nn.dynamic_rnn(cell, seq, dtype=tf.float32)\n'
     'out = tf.trainable_variables()[0]',
     'rnn/basic_lstm_cell/kernel:0', 'VariableV2'),
    ('gru_vars',
     'cell = tf.nn.rnn_cell.GRUCell(5)\n'
     "seq = tf.placeholder(tf.float32, [2, 4, 3], name='seq')\n"
     'o, s = tf.nn.dynamic_rnn(cell, seq, dtype=tf.float32)\n'
     'out = tf.trainable_variables()[1]',
     'rnn/gru_cell/gates/bias:0', 'VariableV2'),
    ('metrics_acc', 'out = tf.metrics.accuracy(lab, ind)[1]', 'accuracy/update_op:0', 'DivNoNan'),
    ('metrics_acc_value', 'out = tf.metrics.accuracy(lab, ind)[0]', 'accuracy/value:0', 'DivNoNan'),
    ('metrics_mean', 'out = tf.metrics.mean(x)[1]', 'mean/update_op:0', 'DivNoNan'),
    ('exp_decay',
     'out = tf.train.exponential_decay(0.1, tf.train.get_or_create_global_step(), 100, 0.9)',
     'ExponentialDecay:0', 'Mul'),
    ('summary_scalar',
     "out = tf.summary.scalar('loss', tf.reduce_sum(x))",
     'loss:0', 'ScalarSummary'),
    ('summary_merge',
     "tf.summary.scalar('loss', tf.reduce_sum(x))\nout = tf.summary.merge_all()",
     'Merge/MergeSummary:0', 'MergeSummary'),
    ('local_init', 'out = tf.local_variables_initializer()', 'init', 'NoOp'),
    ('tables_init', 'out = tf.tables_initializer()', 'init_all_tables', 'NoOp'),
    ('nce_like_matmul', "out = tf.matmul(x, m, name='logits')", 'logits:0', 'MatMul'),
    ('sparse_to_dense',
     'out = tf.sparse_to_dense([[0, 1]], [2, 3], 1.0)',
     'SparseToDense:0', 'SparseToDense'),
    ('nn_softmax_named', "out = tf.nn.softmax(x, name='probs')", 'probs:0', 'Softmax'),
    ('argmax_named', "out = tf.argmax(x, axis=1, name='pred')", 'pred:0', 'ArgMax'),
    ('reduce_mean_named', "out = tf.reduce_mean(x, name='loss')", 'loss:0', 'Mean'),
    ('sqdiff', 'out = tf.squared_difference(x, y)', 'SquaredDifference:0', 'SquaredDifference'),
    ('reduce_sum_scope',
     "with tf.name_scope('loss'):\n    out = tf.reduce_mean(tf.square(x - y))",
     'loss/Mean:0', 'Mean'),
    ('accuracy_idiom',
     'out = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(x, 1), tf.argmax(y, 1)), tf.float32))',
     'Mean:0', 'Mean'),
    ('lrn', 'out = tf.nn.lrn(img)', 'LRN:0', 'LRN'),
    ('batch_matmul',
     'out = tf.matmul(img, tf.transpose(img, [0, 1, 3, 2]))',
     'MatMul:0', 'BatchMatMulV2'),
    ('einsum', "out = tf.einsum('ij,jk->ik', x, m)", 'einsum/Einsum:0', 'Einsum'),
    ('norm', 'out = tf.norm(x)', 'norm/Squeeze:0', 'Squeeze'),
    ('global_norm', 'out = tf.global_norm([x, y])', 'global_norm/global_norm:0', 'Sqrt'),
    ('clip_by_global_norm',
     'out = tf.clip_by_global_norm([x, y], 1.0)[0][0]',
     'clip_by_global_norm/clip_by_global_norm/_0:0', 'Identity'),
    ('clip_by_norm', 'out = tf.clip_by_norm(x, 1.0)', 'clip_by_norm:0', 'Identity'),
    ('ema_var',
     "w = tf.Variable(1.0, name='w')\n"
     'ema = tf.train.ExponentialMovingAverage(0.9)\n'
     'ema.apply([w])\n'
     'out = ema.average(w)',
     'w/ExponentialMovingAverage:0', 'VariableV2'),
]

# where flowgrad's fetched name (and op) differs from TensorFlow 2.21's, and why
NAME_DIFFERS = {
    'tensordot': ('Tensordot:0',
        'TF1.15 always reshapes the product back (Tensordot:0); TF 2.x skips that reshape'
        ' when shapes are static'),
    'linspace': ('LinSpace:0',
        'one LinSpace op, as TF1.15; TF 2.x builds linspace from ~70 small ops'),
    'shape_n': ('Shape_1:0', 'shape_n builds one Shape op per input instead of one ShapeN op'),
    'dropout': ('dropout:0',
        'x * scale * mask as TF1.15 (where it is dropout/mul_1); TF 2.x selects with '
        'SelectV2'),
    'dropout_rate': ('dropout:0', 'as dropout'),
    'nn_softmax_axis': ('Softmax:0',
        'one Softmax op over the axis; TF transposes the axis last and back'),
    'random_uniform': ('random_uniform:0',
        "TF1.15's (max - min) * u + min even for the default [0, 1); TF 2.x returns the "
        'raw RandomUniform'),
    'layers_dropout': ('dropout/dropout:0', 'as dropout'),
    'grad_reduce_sum': ('gradients/Sum_grad/BroadcastTo:0',
        "Sum's gradient broadcasts with BroadcastTo where TF tiles"),
    'grad_sigmoid': ('gradients/Sigmoid_grad/mul_1:0',
        "Sigmoid's gradient is built from Mul/Sub where TF has one SigmoidGrad op"),
    'layers_bn_update': ('batch_normalization/AssignMovingAvg:0',
        "UPDATE_OPS holds the AssignSub's tensor (as TF1.15's tf.layers); tf_keras adds "
        'the operation'),
}

# same name, another op type (a composition, or a V2 kernel), and why
TYPE_DIFFERS = {
    'math_log_sigmoid': ('Sub', 'composed (-softplus(-x) written out)'),
    'where3': ('SelectV2', 'the SelectV2 kernel; a rank-1 condition selects rows as Select does'),
    'split': ('SplitV', 'SplitV for equal splits too'),
    'pad': ('PadV2', 'PadV2 (constant_values input)'),
    'zeros_like': ('ZerosLike', 'ZerosLike op; TF folds static shapes to a Const'),
    'ones_like': ('OnesLike', 'OnesLike op; TF uses Fill'),
    'shape': ('Shape', 'Shape op; TF1 folds a fully-defined shape to a Const'),
    'size': ('Size', 'as shape'),
    'rank': ('Rank', 'as shape'),
    'relu6': ('Minimum', 'composed of Relu and Minimum'),
    'elu': ('SelectV2', 'composed'),
    'selu': ('Mul', 'composed'),
    'softplus': ('AddV2', 'composed'),
    'softsign': ('RealDiv', 'composed'),
    'leaky_relu': ('Maximum', 'composed'),
    'l2_loss': ('Mul', 'composed of Square, Sum and Mul'),
    'losses_mse': ('SelectV2',
        'the weighted mean divides with a guarded Select instead of DivNoNan'),
    'losses_softmax': ('SelectV2', 'as losses_mse'),
    'losses_sparse_softmax': ('SelectV2', 'as losses_mse'),
    'grad_add': ('OnesLike', 'grad_ys_0 is a OnesLike op; TF fills Shape(y) with 1'),
    'metrics_acc': ('SelectV2', 'as losses_mse'),
    'metrics_acc_value': ('SelectV2', 'as losses_mse'),
    'metrics_mean': ('SelectV2', 'as losses_mse'),
}

# cases whose every created op (name:type, in creation order) is as in TF1
EXACT_OPS = {
    'add': ['Add:AddV2'],
    'add_const': ['Add/y:Const', 'Add:AddV2'],
    'subtract': ['Sub:Sub'],
    'multiply': ['Mul:Mul'],
    'divide': ['truediv:RealDiv'],
    'truediv': ['truediv:RealDiv'],
    'truediv_int': ['truediv/Cast:Cast', 'truediv/Cast_1:Cast', 'truediv:RealDiv'],
    'realdiv': ['RealDiv:RealDiv'],
    'div': ['div:RealDiv'],
    'floordiv': ['floordiv:FloorDiv'],
    'floor_div': ['FloorDiv:FloorDiv'],
    'mod': ['FloorMod:FloorMod'],
    'floormod': ['FloorMod:FloorMod'],
    'pow': ['Pow:Pow'],
    'maximum': ['Maximum:Maximum'],
    'minimum': ['Minimum:Minimum'],
    'squared_difference': ['SquaredDifference:SquaredDifference'],
    'add_n': ['AddN:AddN'],
    'square': ['Square:Square'],
    'sqrt': ['Sqrt:Sqrt'],
    'rsqrt': ['Rsqrt:Rsqrt'],
    'exp': ['Exp:Exp'],
    'log': ['Log:Log'],
    'log1p': ['Log1p:Log1p'],
    'abs': ['Abs:Abs'],
    'negative': ['Neg:Neg'],
    'sign': ['Sign:Sign'],
    'reciprocal': ['Reciprocal:Reciprocal'],
    'sin': ['Sin:Sin'],
    'cos': ['Cos:Cos'],
    'tan': ['Tan:Tan'],
    'asin': ['Asin:Asin'],
    'acos': ['Acos:Acos'],
    'atan': ['Atan:Atan'],
    'sinh': ['Sinh:Sinh'],
    'cosh': ['Cosh:Cosh'],
    'floor': ['Floor:Floor'],
    'ceil': ['Ceil:Ceil'],
    'round': ['Round:Round'],
    'rint': ['Rint:Rint'],
    'erf': ['Erf:Erf'],
    'expm1': ['Expm1:Expm1'],
    'atan2': ['Atan2:Atan2'],
    'is_nan': ['IsNan:IsNan'],
    'is_inf': ['IsInf:IsInf'],
    'is_finite': ['IsFinite:IsFinite'],
    'matmul': ['MatMul:MatMul'],
    'matmul_t': ['MatMul:MatMul'],
    'cast': ['Cast:Cast'],
    'to_float': ['ToFloat:Cast'],
    'equal': ['Equal:Equal'],
    'not_equal': ['NotEqual:NotEqual'],
    'less': ['Less:Less'],
    'less_equal': ['LessEqual:LessEqual'],
    'greater': ['Greater:Greater'],
    'greater_equal': ['GreaterEqual:GreaterEqual'],
    'logical_and': ['LogicalAnd:LogicalAnd'],
    'logical_or': ['LogicalOr:LogicalOr'],
    'logical_not': ['LogicalNot:LogicalNot'],
    'logical_xor': [
        'LogicalOr:LogicalOr', 'LogicalAnd:LogicalAnd', 'LogicalNot:LogicalNot',
        'LogicalXor:LogicalAnd',
    ],
    'where1': ['Where:Where'],
    'where_v2': ['SelectV2:SelectV2'],
    'clip_by_value': [
        'clip_by_value/Minimum/y:Const', 'clip_by_value/Minimum:Minimum', 'clip_by_value/y:Const',
        'clip_by_value:Maximum',
    ],
    'reshape': ['Reshape/shape:Const', 'Reshape:Reshape'],
    'stack': ['stack:Pack'],
    'unstack': ['unstack:Unpack'],
    'gather_nd': ['GatherNd/indices:Const', 'GatherNd:GatherNd'],
    'slice': ['Slice/begin:Const', 'Slice/size:Const', 'Slice:Slice'],
    'fill': ['Fill/dims:Const', 'Fill/value:Const', 'Fill:Fill'],
    'zeros': ['zeros:Const'],
    'ones': ['ones:Const'],
    'identity': ['Identity:Identity'],
    'stop_gradient': ['StopGradient:StopGradient'],
    'broadcast_to': ['BroadcastTo/shape:Const', 'BroadcastTo:BroadcastTo'],
    'constant': ['Const:Const'],
    'placeholder': ['Placeholder:Placeholder'],
    'placeholder_with_default': [
        'PlaceholderWithDefault/input:Const', 'PlaceholderWithDefault:PlaceholderWithDefault',
    ],
    'convert_to_tensor': ['Const:Const'],
    'check_numerics': ['CheckNumerics:CheckNumerics'],
    'relu': ['Relu:Relu'],
    'sigmoid': ['Sigmoid:Sigmoid'],
    'nn_sigmoid': ['Sigmoid:Sigmoid'],
    'tanh': ['Tanh:Tanh'],
    'nn_tanh': ['Tanh:Tanh'],
    'softmax': ['Softmax:Softmax'],
    'log_softmax': ['LogSoftmax:LogSoftmax'],
    'bias_add': ['BiasAdd:BiasAdd'],
    'conv2d': ['Conv2D:Conv2D'],
    'max_pool': ['MaxPool:MaxPool'],
    'avg_pool': ['AvgPool:AvgPool'],
    'batch_normalization': [
        'batchnorm/add/y:Const', 'batchnorm/add:AddV2', 'batchnorm/Rsqrt:Rsqrt',
        'batchnorm/mul:Mul', 'batchnorm/mul_1:Mul', 'batchnorm/mul_2:Mul', 'batchnorm/sub:Sub',
        'batchnorm/add_1:AddV2',
    ],
    'fused_batch_norm': [
        'ones:Const', 'zeros:Const', 'Const:Const', 'Const_1:Const',
        'FusedBatchNormV3:FusedBatchNormV3',
    ],
    'Variable': [
        'zeros:Const', 'Variable:VariableV2', 'Variable/Assign:Assign', 'Variable/read:Identity',
    ],
    'Variable_named': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
    ],
    'Variable_read': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
        'read:Identity',
    ],
    'Variable_value': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
    ],
    'Variable_plus': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
        'add/y:Const', 'add:AddV2',
    ],
    'get_variable': [
        'w/Initializer/random_uniform/shape:Const', 'w/Initializer/random_uniform/min:Const',
        'w/Initializer/random_uniform/max:Const',
        'w/Initializer/random_uniform/RandomUniform:RandomUniform',
        'w/Initializer/random_uniform/sub:Sub', 'w/Initializer/random_uniform/mul:Mul',
        'w/Initializer/random_uniform:AddV2', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
    ],
    'get_variable_zeros': [
        'w/Initializer/zeros:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
    ],
    'assign': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
        'Assign/value:Const', 'Assign:Assign',
    ],
    'assign_method': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
        'Assign/value:Const', 'Assign:Assign',
    ],
    'assign_add': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
        'AssignAdd/value:Const', 'AssignAdd:AssignAdd',
    ],
    'assign_sub': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity',
        'AssignSub/value:Const', 'AssignSub:AssignSub',
    ],
    'global_variables_initializer': [
        'w/initial_value:Const', 'w:VariableV2', 'w/Assign:Assign', 'w/read:Identity', 'init:NoOp',
    ],
    'random_normal': [
        'random_normal/shape:Const', 'random_normal/mean:Const', 'random_normal/stddev:Const',
        'random_normal/RandomStandardNormal:RandomStandardNormal', 'random_normal/mul:Mul',
        'random_normal:AddV2',
    ],
    'truncated_normal': [
        'truncated_normal/shape:Const', 'truncated_normal/mean:Const',
        'truncated_normal/stddev:Const', 'truncated_normal/TruncatedNormal:TruncatedNormal',
        'truncated_normal/mul:Mul', 'truncated_normal:AddV2',
    ],
    'random_uniform_int': [
        'random_uniform/shape:Const', 'random_uniform/min:Const', 'random_uniform/max:Const',
        'random_uniform:RandomUniformInt',
    ],
    'random_shuffle': ['RandomShuffle:RandomShuffle'],
    'no_op': ['NoOp:NoOp'],
    'group': ['group_deps:NoOp'],
    'op_add': ['add:AddV2'],
    'op_radd': ['add/x:Const', 'add:AddV2'],
    'op_sub': ['sub:Sub'],
    'op_mul': ['mul:Mul'],
    'op_div': ['truediv:RealDiv'],
    'op_div_int': ['truediv/Cast:Cast', 'truediv/Cast_1:Cast', 'truediv:RealDiv'],
    'op_floordiv': ['floordiv:FloorDiv'],
    'op_mod': ['mod:FloorMod'],
    'op_pow': ['pow:Pow'],
    'op_matmul': ['matmul:MatMul'],
    'op_neg': ['Neg:Neg'],
    'op_abs': ['Abs:Abs'],
    'op_lt': ['Less:Less'],
    'op_le': ['LessEqual:LessEqual'],
    'op_gt': ['Greater:Greater'],
    'op_ge': ['GreaterEqual:GreaterEqual'],
    'op_and': ['and:LogicalAnd'],
    'op_or': ['or:LogicalOr'],
    'op_xor': [
        'xor/LogicalOr:LogicalOr', 'xor/LogicalAnd:LogicalAnd', 'xor/LogicalNot:LogicalNot',
        'xor:LogicalAnd',
    ],
    'op_invert': ['LogicalNot:LogicalNot'],
    'scope_add': ['s/Add:AddV2'],
    'scope_softmax': ['s/MatMul:MatMul', 's/Softmax:Softmax'],
    'scope_variable': [
        'vs/w/Initializer/random_uniform/shape:Const', 'vs/w/Initializer/random_uniform/min:Const',
        'vs/w/Initializer/random_uniform/max:Const',
        'vs/w/Initializer/random_uniform/RandomUniform:RandomUniform',
        'vs/w/Initializer/random_uniform/sub:Sub', 'vs/w/Initializer/random_uniform/mul:Mul',
        'vs/w/Initializer/random_uniform:AddV2', 'vs/w:VariableV2', 'vs/w/Assign:Assign',
        'vs/w/read:Identity',
    ],
    'scope_op_add': ['s/add:AddV2'],
    'two_adds': ['Add:AddV2', 'Add_1:AddV2'],
    'layers_dense': [
        'dense/kernel/Initializer/random_uniform/shape:Const',
        'dense/kernel/Initializer/random_uniform/min:Const',
        'dense/kernel/Initializer/random_uniform/max:Const',
        'dense/kernel/Initializer/random_uniform/RandomUniform:RandomUniform',
        'dense/kernel/Initializer/random_uniform/sub:Sub',
        'dense/kernel/Initializer/random_uniform/mul:Mul',
        'dense/kernel/Initializer/random_uniform:AddV2', 'dense/kernel:VariableV2',
        'dense/kernel/Assign:Assign', 'dense/kernel/read:Identity',
        'dense/bias/Initializer/zeros:Const', 'dense/bias:VariableV2', 'dense/bias/Assign:Assign',
        'dense/bias/read:Identity', 'dense/MatMul:MatMul', 'dense/BiasAdd:BiasAdd',
    ],
    'layers_dense_relu': [
        'dense/kernel/Initializer/random_uniform/shape:Const',
        'dense/kernel/Initializer/random_uniform/min:Const',
        'dense/kernel/Initializer/random_uniform/max:Const',
        'dense/kernel/Initializer/random_uniform/RandomUniform:RandomUniform',
        'dense/kernel/Initializer/random_uniform/sub:Sub',
        'dense/kernel/Initializer/random_uniform/mul:Mul',
        'dense/kernel/Initializer/random_uniform:AddV2', 'dense/kernel:VariableV2',
        'dense/kernel/Assign:Assign', 'dense/kernel/read:Identity',
        'dense/bias/Initializer/zeros:Const', 'dense/bias:VariableV2', 'dense/bias/Assign:Assign',
        'dense/bias/read:Identity', 'dense/MatMul:MatMul', 'dense/BiasAdd:BiasAdd',
        'dense/Relu:Relu',
    ],
    'layers_conv2d': [
        'conv2d/kernel/Initializer/random_uniform/shape:Const',
        'conv2d/kernel/Initializer/random_uniform/min:Const',
        'conv2d/kernel/Initializer/random_uniform/max:Const',
        'conv2d/kernel/Initializer/random_uniform/RandomUniform:RandomUniform',
        'conv2d/kernel/Initializer/random_uniform/sub:Sub',
        'conv2d/kernel/Initializer/random_uniform/mul:Mul',
        'conv2d/kernel/Initializer/random_uniform:AddV2', 'conv2d/kernel:VariableV2',
        'conv2d/kernel/Assign:Assign', 'conv2d/kernel/read:Identity',
        'conv2d/bias/Initializer/zeros:Const', 'conv2d/bias:VariableV2',
        'conv2d/bias/Assign:Assign', 'conv2d/bias/read:Identity', 'conv2d/Conv2D:Conv2D',
        'conv2d/BiasAdd:BiasAdd',
    ],
    'layers_max_pool': ['max_pooling2d/MaxPool:MaxPool'],
    'global_step': [
        'global_step/Initializer/zeros:Const', 'global_step:VariableV2',
        'global_step/Assign:Assign', 'global_step/read:Identity',
    ],
    'saver_like_identity': ['Softmax:Softmax', 'probs:Identity'],
    'xw_plus_b': ['zeros:Const', 'xw_plus_b/MatMul:MatMul', 'xw_plus_b:BiasAdd'],
    'relu_layer': [
        'zeros:Const', 'relu_layer/MatMul:MatMul', 'relu_layer/BiasAdd:BiasAdd', 'relu_layer:Relu',
    ],
    'local_init': ['init:NoOp'],
    'tables_init': ['init_all_tables:NoOp'],
    'nce_like_matmul': ['logits:MatMul'],
    'nn_softmax_named': ['probs:Softmax'],
    'sqdiff': ['SquaredDifference:SquaredDifference'],
    'lrn': ['LRN:LRN'],
    'einsum': ['einsum/Einsum:Einsum'],
}


def _build(tf, code: str, scope=None):
    """Builds SETUP then ``code`` in a fresh graph: (fetched name, its op type, new ops)."""
    g = tf.Graph()
    with g.as_default(), scope() if scope else contextlib.nullcontext():
        ns = {"tf": tf}
        exec(SETUP, ns)
        before = len(g.get_operations())
        if "\n" in code or code.startswith("out ="):
            exec(code, ns)
            out = ns["out"]
        else:
            out = eval(code, ns)
        ops = [f"{o.name}:{o.type}" for o in g.get_operations()[before:]]
        op = out.op if hasattr(out, "op") else out
        return out.name, op.type, ops


@pytest.mark.parametrize("cid, code, name, op_type", CASES, ids=[c[0] for c in CASES])
def test_default_names_are_tf1s(cid, code, name, op_type):
    got_name, got_type, ops = _build(flowgrad, code)
    if cid in NAME_DIFFERS:
        assert got_name == NAME_DIFFERS[cid][0]
        return
    assert got_name == name
    assert got_type == TYPE_DIFFERS.get(cid, (op_type,))[0]
    if cid in EXACT_OPS:
        assert ops == EXACT_OPS[cid]


def test_operators_keep_their_lower_case_names():
    with flowgrad.Graph().as_default() as g:
        x = flowgrad.placeholder(flowgrad.float32, [2], name="x")
        assert flowgrad.add(x, x).name == "Add:0"
        assert (x + x).name == "add_1:0"            # TF1 uniquifies case-insensitively
        assert (x - x).name == "sub:0" and flowgrad.subtract(x, x).name == "Sub_1:0"
        assert (2.0 * x).op.inputs[0].op.name == "mul/x"
        assert flowgrad.math.multiply(x, x).name == "Mul_1:0"
        assert g.get_tensor_by_name("Add:0").op.type == "AddV2"


def test_a_frozen_graph_keeps_the_tf1_names():
    with flowgrad.Graph().as_default() as g:
        x = flowgrad.placeholder(flowgrad.float32, [None, 3], name="x")
        w = flowgrad.Variable(flowgrad.ones([3, 2]), name="w")
        probs = flowgrad.nn.softmax(flowgrad.add(flowgrad.matmul(x, w), 1.0))
        assert probs.name == "Softmax:0"
        with flowgrad.Session() as s:
            s.run(flowgrad.global_variables_initializer())
            frozen = flowgrad.graph_util.convert_variables_to_constants(
                s, g.as_graph_def(), ["Softmax"])
    names = {n.name for n in frozen.node}
    assert {"x", "w", "MatMul", "Add", "Add/y", "Softmax"} <= names


def test_names_agree_with_tensorflow():
    tf = pytest.importorskip("tensorflow")
    v1 = tf.compat.v1

    def ref_variables():                  # TF1's variables, without changing TF's global mode
        return v1.variable_scope(v1.get_variable_scope(), use_resource=False)

    try:
        v1.layers.dense                   # noqa: B018 - Keras 3 has no tf.layers
        have_layers = True
    except (AttributeError, ImportError):
        have_layers = False
    for cid, code, name, op_type in CASES:
        keras_based = cid.startswith(("layers_", "lstm_", "gru_"))
        if keras_based and not have_layers:
            continue
        got_name, got_type, ops = _build(v1, code, ref_variables)
        if keras_based and (got_type, op_type) == ("VarHandleOp", "VariableV2"):
            got_type = op_type            # tf_keras's cells make resource variables regardless
        assert (got_name, got_type) == (name, op_type), cid
        if cid in EXACT_OPS and not keras_based:   # tf_keras's initializers follow TF's mode
            assert ops == EXACT_OPS[cid], cid
