"""tf.app.flags / tf.flags parsing and tf.app.run."""

import os
import subprocess
import sys
import textwrap

import pytest

import flowgrad as tf
from flowgrad.platform import flags as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tf.__file__)))


@pytest.fixture
def fv():
    v = F.FlagValues()
    F.DEFINE_string("name", "world", "who", flag_values=v)
    F.DEFINE_integer("steps", 10, "how many", lower_bound=0, flag_values=v)
    F.DEFINE_float("lr", 0.5, "rate", flag_values=v)
    F.DEFINE_boolean("verbose", False, "talk", flag_values=v)
    F.DEFINE_bool("fast", True, "hurry", flag_values=v)
    F.DEFINE_list("layers", "a,b", "names", flag_values=v)
    F.DEFINE_enum("mode", "train", ["train", "eval"], "what", flag_values=v)
    F.DEFINE_multi_string("tag", [], "tags", flag_values=v)
    return v


def test_defaults_and_lazy_values(fv):
    assert fv.name == "world" and fv.steps == 10 and fv.lr == 0.5
    assert fv.verbose is False and fv.fast is True and fv.layers == ["a", "b"]
    assert fv.mode == "train" and fv.is_parsed()


def test_parse_all_forms(fv):
    rest = fv(["prog", "--name=bob", "--steps", "7", "-lr=0.1", "--verbose", "--nofast",
               "--layers=x,y,z", "--mode", "eval", "pos1", "--tag=a", "--tag=b", "--",
               "--name=ignored"])
    assert rest == ["prog", "pos1", "--name=ignored"]
    assert (fv.name, fv.steps, fv.lr, fv.verbose, fv.fast) == ("bob", 7, 0.1, True, False)
    assert fv.layers == ["x", "y", "z"] and fv.mode == "eval" and fv.tag == ["a", "b"]
    fv(["prog", "--verbose=false", "--fast=1"])
    assert fv.verbose is False and fv.fast is True
    assert fv.flag_values_dict()["steps"] == 7
    fv.steps = 3
    assert fv.steps == 3 and fv["steps"].default == 10


def test_old_tf1_access_patterns(fv):
    assert fv._parse_flags(["--steps=4", "--unknown", "x"]) == ["--unknown", "x"]
    assert fv.steps == 4
    assert {k: f.value for k, f in getattr(fv, "__flags").items()}["steps"] == 4


def test_errors(fv):
    with pytest.raises(F.UnrecognizedFlagError, match="Did you mean: steps"):
        fv(["prog", "--stepz=3"])
    assert fv(["prog", "--stepz=3"], known_only=True) == ["prog", "--stepz=3"]
    with pytest.raises(F.IllegalFlagValueError, match="lower bound"):
        fv(["prog", "--steps=-1"])
    with pytest.raises(F.IllegalFlagValueError, match="train|eval"):
        fv(["prog", "--mode=test"])
    with pytest.raises(F.IllegalFlagValueError, match="needs a value"):
        fv(["prog", "--name"])
    with pytest.raises(F.DuplicateFlagError, match="defined twice"):
        F.DEFINE_string("name", "x", "again", flag_values=fv)
    with pytest.raises(AttributeError, match="Unknown command line flag"):
        fv.nope  # noqa: B018


def test_required_flag(fv):
    F.DEFINE_string("data_dir", None, "where", flag_values=fv)
    F.mark_flag_as_required("data_dir", flag_values=fv)
    with pytest.raises(F.IllegalFlagValueError, match="must be specified"):
        fv(["prog"])
    fv(["prog", "--data_dir=/x"])
    assert fv.data_dir == "/x"


def test_aliases():
    assert tf.app.flags is tf.flags
    assert tf.flags.FLAGS is tf.app.flags.FLAGS


SCRIPT = textwrap.dedent("""
    import flowgrad as tf
    tf.app.flags.DEFINE_integer("steps", 1, "steps")
    tf.flags.DEFINE_boolean("shout", False, "loud")
    FLAGS = tf.app.flags.FLAGS

    def main(argv):
        msg = "steps=%d shout=%s rest=%s" % (FLAGS.steps, FLAGS.shout, argv[1:])
        print(msg.upper() if FLAGS.shout else msg)
        return 0

    if __name__ == "__main__":
        tf.app.run()
""")


def test_app_run_in_a_subprocess(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    run = [sys.executable, str(script)]
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(run + ["--steps=5", "extra"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "steps=5 shout=False rest=['extra']"
    out = subprocess.run(run + ["--shout"], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "STEPS=1 SHOUT=TRUE REST=[]"
    out = subprocess.run(run + ["--help"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "--steps: steps" in out.stdout and "--[no]shout" in out.stdout
    out = subprocess.run(run + ["--bogus=1"], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and "rest=['--bogus=1']" in out.stdout   # passed through
    out = subprocess.run(run + ["--steps=many"], capture_output=True, text=True, env=env)
    assert out.returncode == 1 and "--steps='many'" in out.stderr
