"""The recurrent-network and word2vec examples learn what they claim."""

import runpy
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="example")
    finally:
        sys.path.remove(str(EXAMPLES))


def test_lstm_learns_a_sine_wave():
    before, after = _load("lstm_sine")["main"]()
    assert after < 0.05 * before


def test_rnn_classifies_digits():
    assert _load("rnn_digits")["main"]() >= 0.90


def test_skipgram_nce_loss_falls():
    first, last, vocab, table = _load("word2vec_skipgram")["main"]()
    assert last < 0.5 * first
    assert table.shape == (len(vocab), 16)


def test_classic_tf1_rnn_tutorial_runs_with_only_its_imports_changed():
    assert _load("tf1_rnn_tutorial")["main"]() >= 0.85
