"""Prints where flowgrad's default op names differ from TensorFlow's ``tf.compat.v1``.

    python tools/compare_tf1_names.py          # needs tensorflow (tf_keras for tf.layers)

Builds every call of ``tests/framework/test_tf1_op_names.py``'s table in a fresh graph of
each framework and prints one row per call whose fetched tensor (name, op type) or created
ops differ: ``name`` (the fetched name differs), ``type`` (same name, another op type),
``ops`` (same fetched tensor, other ops around it), with the ops only one side created.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "framework"))

import flowgrad  # noqa: E402
from test_tf1_op_names import CASES, _build  # noqa: E402


def main() -> int:
    import tensorflow as tf  # noqa: PLC0415
    v1 = tf.compat.v1
    v1.disable_v2_behavior()            # TF1's graph mode (this process only runs this)
    rows, same = [], 0
    for cid, code, _, _ in CASES:
        try:
            ref = _build(v1, code)
        except (AttributeError, ImportError) as e:      # e.g. tf.layers without tf_keras
            rows.append((cid, "skip", str(e)[:60], "", "", ""))
            continue
        got = _build(flowgrad, code)
        kind = "name" if ref[0] != got[0] else "type" if ref[1] != got[1] else \
            "ops" if ref[2] != got[2] else ""
        if not kind:
            same += 1
            continue
        only_tf = [o for o in ref[2] if o not in got[2]]
        only_fg = [o for o in got[2] if o not in ref[2]]
        rows.append((cid, kind, f"{ref[0]} ({ref[1]})", f"{got[0]} ({got[1]})",
                     " ".join(only_tf[:4]) + (" ..." if len(only_tf) > 4 else ""),
                     " ".join(only_fg[:4]) + (" ..." if len(only_fg) > 4 else "")))
    print(f"{same} of {len(CASES)} calls create the same ops with the same names\n")
    print("| call | differs | TF | flowgrad | TF-only ops | flowgrad-only ops |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
