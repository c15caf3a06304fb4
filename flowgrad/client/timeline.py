"""``tf.client.timeline``: turns a traced run's ``StepStats`` into a Chrome trace.

    run_metadata = tf.RunMetadata()
    sess.run(train, feed, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
             run_metadata=run_metadata)
    trace = timeline.Timeline(run_metadata.step_stats).generate_chrome_trace_format()
    open("timeline.json", "w").write(trace)      # load in chrome://tracing or Perfetto
"""

from __future__ import annotations

import json


class Timeline:
    """A Chrome-trace view of one step's ``StepStats``."""

    def __init__(self, step_stats, graph=None) -> None:
        if step_stats is None:
            raise ValueError("Timeline needs step_stats: run with "
                             "options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE) and "
                             "run_metadata=tf.RunMetadata().")
        self._step_stats = step_stats
        self._graph = graph

    def generate_chrome_trace_format(self, show_dataflow: bool = True,
                                     show_memory: bool = False) -> str:
        """The trace as a JSON string (Chrome's Trace Event Format)."""
        events: list[dict] = []
        producers: dict[str, tuple] = {}
        flow = 0
        for pid, dev in enumerate(self._step_stats.dev_stats):
            events.append({"name": "process_name", "ph": "M", "pid": pid,
                           "args": {"name": f"{dev.device} Compute"}})
            events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": 0,
                           "args": {"name": "ops"}})
            for ns in dev.node_stats:
                start = ns.all_start_micros + ns.op_start_rel_micros
                dur = max(ns.op_end_rel_micros - ns.op_start_rel_micros, 0)
                args = {"name": ns.node_name, "op": ns.op_type}
                for i, name in enumerate(ns.inputs):
                    args[f"input{i}"] = name
                args["output_shapes"] = ns.output_shapes
                events.append({"name": ns.op_type, "cat": "Op", "ph": "X", "ts": start,
                               "dur": dur, "pid": pid, "tid": 0, "args": args})
                if show_dataflow:
                    for name in ns.inputs:
                        src = producers.get(name.split(":")[0])
                        if src is None:
                            continue
                        events.append({"name": name, "cat": "DataFlow", "ph": "s",
                                       "ts": src[0], "pid": src[1], "tid": 0, "id": flow})
                        events.append({"name": name, "cat": "DataFlow", "ph": "t",
                                       "ts": start, "pid": pid, "tid": 0, "id": flow})
                        flow += 1
                if show_memory:
                    total = sum(o.allocation_description.requested_bytes for o in ns.output)
                    events.append({"name": "Memory", "ph": "C", "ts": start, "pid": pid,
                                   "args": {"output_bytes": total}})
                producers[ns.node_name] = (start + dur, pid)
        return json.dumps({"traceEvents": events, "displayTimeUnit": "ns"}, indent=None)
