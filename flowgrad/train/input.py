"""TF1's queue-based input pipelines: ``tf.train.batch``, ``shuffle_batch``, their ``_join``
and ``maybe_`` forms, the input
producers (``string_input_producer``, ``range_input_producer``, ``slice_input_producer``,
``input_producer``) and ``limit_epochs``. Each builds a queue and a ``QueueRunner`` that
fills it (``tf.train.start_queue_runners`` starts them). ``num_epochs`` counts in a local
variable (run ``tf.local_variables_initializer()``); once it is reached the producer's queue
closes and, when it is empty, dequeues raise OutOfRangeError.
"""

from __future__ import annotations

import numpy as np

from flowgrad.framework import dtypes as _dt
from flowgrad.framework import errors
from flowgrad.framework.graph import GraphKeys, Tensor, control_dependencies, name_scope
from flowgrad.framework.registry import NodeSpec, NotDifferentiable, convert_to_tensor, op
from flowgrad.framework.shapes import TensorShape
from flowgrad.ops import array_ops as A
from flowgrad.ops import indexing_ops as I
from flowgrad.ops import state_ops as S
from flowgrad.ops.array_extra_ops import boolean_mask
from flowgrad.ops.queue_ops import FIFOQueue, PaddingFIFOQueue, RandomShuffleQueue
from flowgrad.ops.variables import Variable
from flowgrad.train.queue_runner import QueueRunner, add_queue_runner


def _count_up_to_shape(node: NodeSpec):
    if not node.inputs[0].dtype.is_integer:
        node.fail(f"count_up_to needs an integer variable, got {node.inputs[0].dtype.name}",
                  TypeError)
    return node.inputs[0].shape, node.inputs[0].dtype


@op("CountUpTo", shape=_count_up_to_shape, ref_inputs=(0,), stateful=True)
def _count_up_to(xp, ref, *, limit, ctx):
    old = ref.get()
    if old >= limit:
        raise errors.OutOfRangeError(None, ctx.op, f"Reached limit of {limit} "
                                     f"(variable '{ref.name}').")
    ref.set(np.asarray(old + 1, dtype=np.asarray(old).dtype))
    return old


NotDifferentiable("CountUpTo")


def count_up_to(ref, limit, name=None) -> Tensor:
    """``tf.count_up_to``: increments the integer variable ``ref`` and returns its old
    value; OutOfRangeError once it has reached ``limit``."""
    return _count_up_to(S._ref_tensor(ref), limit=int(limit), name=name or "CountUpTo")


def limit_epochs(tensor, num_epochs=None, name=None) -> Tensor:
    """``tf.train.limit_epochs``: ``tensor``, which raises OutOfRangeError after it has been
    evaluated ``num_epochs`` times (counted in a local variable)."""
    if num_epochs is None:
        return convert_to_tensor(tensor)
    if num_epochs <= 0:
        raise ValueError(f"num_epochs must be > 0 not {num_epochs}.")
    with name_scope(name or "limit_epochs"):
        tensor = convert_to_tensor(tensor)
        epochs = Variable(np.int64(0), trainable=False, name="epochs",
                          collections=[GraphKeys.LOCAL_VARIABLES])
        counter = count_up_to(epochs, num_epochs)
        with control_dependencies([counter]):
            return A.identity(tensor, name="epochs_limited")


def _producer(input_tensor, element_shape, num_epochs, shuffle, seed, capacity, shared_name,
              cancel_op):
    shape = input_tensor.shape[1:] if element_shape is None else element_shape
    if not hasattr(shape, "is_fully_defined"):
        shape = TensorShape(shape)
    if not shape.is_fully_defined():
        raise ValueError("input_producer: the shape of the input's rows must be fully "
                         "defined; pass element_shape.")
    input_tensor = limit_epochs(input_tensor, num_epochs)
    if shuffle:
        input_tensor = S.random_shuffle(input_tensor, seed=seed)
    q = FIFOQueue(capacity, [input_tensor.dtype], shapes=[shape], shared_name=shared_name)
    enq = q.enqueue_many([input_tensor])
    add_queue_runner(QueueRunner(q, [enq], cancel_op=cancel_op))
    return q


def input_producer(input_tensor, element_shape=None, num_epochs=None, shuffle=True, seed=None,
                   capacity=32, shared_name=None, summary_name=None, name=None,
                   cancel_op=None):
    """``tf.train.input_producer``: a queue fed with the rows of ``input_tensor`` (shuffled
    per epoch when ``shuffle``), ``num_epochs`` times or forever."""
    with name_scope(name or "input_producer"):
        input_tensor = convert_to_tensor(input_tensor, name="input_tensor")
        return _producer(input_tensor, element_shape, num_epochs, shuffle, seed, capacity,
                         shared_name, cancel_op)


def string_input_producer(string_tensor, num_epochs=None, shuffle=True, seed=None, capacity=32,
                          shared_name=None, name=None, cancel_op=None):
    """``tf.train.string_input_producer``: a queue of the strings (file names) of a 1-D
    string tensor, ``num_epochs`` times (shuffled per epoch when ``shuffle``)."""
    with name_scope(name or "input_producer"):
        string_tensor = convert_to_tensor(string_tensor, _dt.string)
        if string_tensor.shape.rank not in (None, 1):
            raise ValueError(f"string_input_producer needs a 1-D tensor of strings, got shape "
                             f"{string_tensor.shape}.")
        return _producer(string_tensor, TensorShape([]), num_epochs, shuffle, seed, capacity,
                         shared_name, cancel_op)


def range_input_producer(limit, num_epochs=None, shuffle=True, seed=None, capacity=32,
                         shared_name=None, name=None):
    """``tf.train.range_input_producer``: a queue of the integers ``0 .. limit-1``."""
    with name_scope(name or "input_producer"):
        return _producer(A.range(limit), TensorShape([]), num_epochs, shuffle, seed, capacity,
                         shared_name, None)


def slice_input_producer(tensor_list, num_epochs=None, shuffle=True, seed=None, capacity=32,
                         shared_name=None, name=None) -> list:
    """``tf.train.slice_input_producer``: one row (the same index) of each tensor per
    dequeue, ``num_epochs`` times through them (shuffled when ``shuffle``)."""
    with name_scope(name or "input_producer"):
        tensor_list = [convert_to_tensor(t) for t in tensor_list]
        if not tensor_list:
            raise ValueError("Expected at least one tensor in slice_input_producer().")
        n = A.shape(tensor_list[0], out_type=_dt.int32)[0]
        q = _producer(A.range(n), TensorShape([]), num_epochs, shuffle, seed, capacity,
                      shared_name, None)
        index = q.dequeue()
        return [I.gather(t, index) for t in tensor_list]


# ----- batching ------------------------------------------------------------------------------
def _flatten(tensors):
    if isinstance(tensors, dict):
        keys = sorted(tensors)
        return [tensors[k] for k in keys], lambda outs: dict(zip(keys, outs))
    if isinstance(tensors, list | tuple):
        # a one-tensor list gives a tensor, as TF's (its queue's dequeue does)
        return list(tensors), lambda outs: outs[0] if len(outs) == 1 else list(outs)
    return [tensors], lambda outs: outs[0]


def _shapes(tensor_lists, shapes, enqueue_many: bool, dynamic_pad: bool):
    if shapes is not None:
        return [s for s in shapes]
    out = []
    for column in zip(*tensor_lists):
        s = None
        for t in column:
            ts = t.shape[1:] if enqueue_many and t.shape.rank is not None else t.shape
            if s is not None and not s.is_compatible_with(ts):
                raise ValueError(f"Shapes of the tensors to batch together differ: {s} and "
                                 f"{ts} ({t.name}).")
            s = ts if s is None else s.merge_with(ts)
        if s.rank is None or (not dynamic_pad and not s.is_fully_defined()):
            raise ValueError(f"All shapes must be fully defined: {column[0].name} has shape "
                             f"{s} (pass shapes=, or dynamic_pad=True for unknown "
                             "dimensions).")
        out.append(s)
    return out


def _join_lists(tensors_list, what: str):
    """The flat tensor lists of ``batch_join``'s inputs (all of one structure), and how to
    rebuild the first one's structure."""
    if not isinstance(tensors_list, list | tuple) or not tensors_list:
        raise ValueError(f"{what}: tensors_list must be a non-empty list of tensor lists "
                         "(or dictionaries), one per enqueueing thread.")
    flat, rebuild = _flatten(tensors_list[0])
    lists = [[convert_to_tensor(t) for t in flat]]
    for other in tensors_list[1:]:
        if isinstance(tensors_list[0], dict):
            if not isinstance(other, dict) or set(other) != set(tensors_list[0]):
                raise ValueError(f"{what}: every element of tensors_list must have the keys "
                                 f"{sorted(tensors_list[0])}.")
            items = [other[k] for k in sorted(other)]
        else:
            items = _flatten(other)[0]
        lists.append([convert_to_tensor(t) for t in items])
    types = [t.dtype for t in lists[0]]
    for tl in lists[1:]:
        if [t.dtype for t in tl] != types:
            raise TypeError(f"{what}: expected types {[d.name for d in types]} in every "
                            f"element of tensors_list, got {[t.dtype.name for t in tl]}.")
    return lists, rebuild


def _kept(tensors: list, keep_input, enqueue_many: bool):
    """The tensors to enqueue when ``keep_input`` decides which are kept: always an
    ``enqueue_many`` batch (of one element or none when ``keep_input`` is a scalar)."""
    keep = convert_to_tensor(keep_input, _dt.bool_, name="keep_input")
    if keep.shape.rank not in (0, 1):
        raise ValueError(f"keep_input must be a scalar or a vector, got shape {keep.shape}.")
    if keep.shape.rank == 1 and not enqueue_many:
        raise ValueError("keep_input cannot be a vector when enqueue_many=False.")
    if not enqueue_many:
        tensors = [A.expand_dims(t, 0) for t in tensors]
    if keep.shape.rank == 0:
        keep = A.fill(A.shape(tensors[0], out_type=_dt.int32)[:1], keep)
    return [boolean_mask(t, keep) for t in tensors]


def _batch(queue, tensor_lists, rebuild, batch_size, num_threads, enqueue_many,
           allow_smaller_final_batch, keep_input=None):
    enqueue_ops = []
    for tensors in tensor_lists:
        if keep_input is not None:
            enqueue_ops.append(queue.enqueue_many(_kept(tensors, keep_input, enqueue_many)))
        else:
            enqueue_ops.append(queue.enqueue_many(tensors) if enqueue_many
                               else queue.enqueue(tensors))
    add_queue_runner(QueueRunner(queue, enqueue_ops * num_threads))
    outs = queue.dequeue_up_to(batch_size) if allow_smaller_final_batch else \
        queue.dequeue_many(batch_size)
    return rebuild(outs if isinstance(outs, list) else [outs])


def _batch_queue(tensor_lists, batch_size, num_threads, capacity, enqueue_many, shapes,
                 dynamic_pad, allow_smaller_final_batch, shared_name, keep_input, rebuild):
    shp = _shapes(tensor_lists, shapes, enqueue_many, dynamic_pad)
    cls = PaddingFIFOQueue if dynamic_pad else FIFOQueue
    q = cls(capacity, [t.dtype for t in tensor_lists[0]], shp, shared_name=shared_name,
            name="padding_fifo_queue" if dynamic_pad else "fifo_queue")
    return _batch(q, tensor_lists, rebuild, batch_size, num_threads, enqueue_many,
                  allow_smaller_final_batch, keep_input)


def _shuffle_queue(tensor_lists, batch_size, capacity, min_after_dequeue, num_threads, seed,
                   enqueue_many, shapes, allow_smaller_final_batch, shared_name, keep_input,
                   rebuild):
    shp = _shapes(tensor_lists, shapes, enqueue_many, False)
    q = RandomShuffleQueue(capacity, min_after_dequeue, [t.dtype for t in tensor_lists[0]],
                           shp, seed=seed, shared_name=shared_name)
    return _batch(q, tensor_lists, rebuild, batch_size, num_threads, enqueue_many,
                  allow_smaller_final_batch, keep_input)


def batch(tensors, batch_size, num_threads=1, capacity=32, enqueue_many=False, shapes=None,
          dynamic_pad=False, allow_smaller_final_batch=False, shared_name=None, name=None):
    """``tf.train.batch``: batches of ``batch_size`` elements, filled in order by
    ``num_threads`` queue-runner threads; ``dynamic_pad`` pads unknown dimensions."""
    flat, rebuild = _flatten(tensors)
    with name_scope(name or "batch"):
        flat = [convert_to_tensor(t) for t in flat]
        return _batch_queue([flat], batch_size, num_threads, capacity, enqueue_many, shapes,
                            dynamic_pad, allow_smaller_final_batch, shared_name, None, rebuild)


def maybe_batch(tensors, keep_input, batch_size, num_threads=1, capacity=32,
                enqueue_many=False, shapes=None, dynamic_pad=False,
                allow_smaller_final_batch=False, shared_name=None, name=None):
    """``tf.train.maybe_batch``: ``batch`` of the inputs for which ``keep_input`` (a bool
    scalar, or with ``enqueue_many`` a vector over the batch) is true."""
    flat, rebuild = _flatten(tensors)
    with name_scope(name or "batch"):
        flat = [convert_to_tensor(t) for t in flat]
        return _batch_queue([flat], batch_size, num_threads, capacity, enqueue_many, shapes,
                            dynamic_pad, allow_smaller_final_batch, shared_name, keep_input,
                            rebuild)


def batch_join(tensors_list, batch_size, capacity=32, enqueue_many=False, shapes=None,
               dynamic_pad=False, allow_smaller_final_batch=False, shared_name=None,
               name=None):
    """``tf.train.batch_join``: batches from one queue fed by one thread per element of
    ``tensors_list`` (lists or dicts of tensors of the same types and shapes), e.g. one
    reader per thread; the output has the structure of ``tensors_list[0]``."""
    with name_scope(name or "batch_join"):
        lists, rebuild = _join_lists(tensors_list, "batch_join")
        return _batch_queue(lists, batch_size, 1, capacity, enqueue_many, shapes, dynamic_pad,
                            allow_smaller_final_batch, shared_name, None, rebuild)


def maybe_batch_join(tensors_list, keep_input, batch_size, capacity=32, enqueue_many=False,
                     shapes=None, dynamic_pad=False, allow_smaller_final_batch=False,
                     shared_name=None, name=None):
    """``tf.train.maybe_batch_join``: ``batch_join`` of the inputs ``keep_input`` keeps."""
    with name_scope(name or "batch_join"):
        lists, rebuild = _join_lists(tensors_list, "maybe_batch_join")
        return _batch_queue(lists, batch_size, 1, capacity, enqueue_many, shapes, dynamic_pad,
                            allow_smaller_final_batch, shared_name, keep_input, rebuild)


def shuffle_batch(tensors, batch_size, capacity, min_after_dequeue, num_threads=1, seed=None,
                  enqueue_many=False, shapes=None, allow_smaller_final_batch=False,
                  shared_name=None, name=None):
    """``tf.train.shuffle_batch``: batches of random elements of a RandomShuffleQueue that
    keeps at least ``min_after_dequeue`` elements (until its input ends)."""
    flat, rebuild = _flatten(tensors)
    with name_scope(name or "shuffle_batch"):
        flat = [convert_to_tensor(t) for t in flat]
        return _shuffle_queue([flat], batch_size, capacity, min_after_dequeue, num_threads,
                              seed, enqueue_many, shapes, allow_smaller_final_batch,
                              shared_name, None, rebuild)


def maybe_shuffle_batch(tensors, batch_size, capacity, min_after_dequeue, keep_input,
                        num_threads=1, seed=None, enqueue_many=False, shapes=None,
                        allow_smaller_final_batch=False, shared_name=None, name=None):
    """``tf.train.maybe_shuffle_batch``: ``shuffle_batch`` of the inputs for which
    ``keep_input`` is true."""
    flat, rebuild = _flatten(tensors)
    with name_scope(name or "shuffle_batch"):
        flat = [convert_to_tensor(t) for t in flat]
        return _shuffle_queue([flat], batch_size, capacity, min_after_dequeue, num_threads,
                              seed, enqueue_many, shapes, allow_smaller_final_batch,
                              shared_name, keep_input, rebuild)


def shuffle_batch_join(tensors_list, batch_size, capacity, min_after_dequeue, seed=None,
                       enqueue_many=False, shapes=None, allow_smaller_final_batch=False,
                       shared_name=None, name=None):
    """``tf.train.shuffle_batch_join``: ``shuffle_batch`` from one RandomShuffleQueue fed by
    one thread per element of ``tensors_list``."""
    with name_scope(name or "shuffle_batch_join"):
        lists, rebuild = _join_lists(tensors_list, "shuffle_batch_join")
        return _shuffle_queue(lists, batch_size, capacity, min_after_dequeue, 1, seed,
                              enqueue_many, shapes, allow_smaller_final_batch, shared_name,
                              None, rebuild)


def maybe_shuffle_batch_join(tensors_list, batch_size, capacity, min_after_dequeue,
                             keep_input, seed=None, enqueue_many=False, shapes=None,
                             allow_smaller_final_batch=False, shared_name=None, name=None):
    """``tf.train.maybe_shuffle_batch_join``: ``shuffle_batch_join`` of the inputs
    ``keep_input`` keeps."""
    with name_scope(name or "shuffle_batch_join"):
        lists, rebuild = _join_lists(tensors_list, "maybe_shuffle_batch_join")
        return _shuffle_queue(lists, batch_size, capacity, min_after_dequeue, 1, seed,
                              enqueue_many, shapes, allow_smaller_final_batch, shared_name,
                              keep_input, rebuild)
