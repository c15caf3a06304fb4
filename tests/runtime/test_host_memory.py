"""The CPU session asks glibc to keep freed memory (a caching allocator's effect)."""

import subprocess
import sys

import flowgrad as tf
from flowgrad.runtime import host_memory


def test_a_cpu_session_configures_malloc_once():
    with tf.Graph().as_default():
        tf.Session(config=tf.ConfigProto(device_count={"GPU": 0})).close()
    first = host_memory.keep_freed_memory()
    assert host_memory.keep_freed_memory() is first       # idempotent
    if sys.platform.startswith("linux"):
        import ctypes.util  # noqa: PLC0415
        if "libc" in (ctypes.util.find_library("c") or ""):
            assert first


def test_the_environment_switch_turns_it_off():
    code = ("import flowgrad as tf\n"
            "from flowgrad.runtime import host_memory\n"
            "tf.Session().close()\n"
            "print(host_memory.keep_freed_memory())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"FLOWGRAD_KEEP_HOST_MEMORY": "0", "PATH": "/usr/bin:/bin",
                              "PYTHONPATH": ":".join(sys.path)}, check=True)
    assert out.stdout.strip() == "False"
