"""The lecture's examples run and show what they claim."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="example")
    finally:
        sys.path.remove(str(EXAMPLES))


def test_lecture_slide_and_autodiff_examples(capsys):
    runpy.run_path(str(EXAMPLES / "lecture_slide.py"))
    runpy.run_path(str(EXAMPLES / "autodiff.py"))
    out = capsys.readouterr().out
    assert "h has shape (1, 100)" in out
    assert "dy/dx1 = 4.583853   (x2 + cos x1 = 4.583853)" in out
    assert "gradients/Sin_grad/Cos" in out


def test_perceptron_learns_and_or_but_not_xor():
    results = _load("perceptron")["main"]()
    assert results == {"AND": True, "OR": True, "XOR": False}


@pytest.mark.parametrize("steps", [2000])
def test_hidden_layer_learns_xor(steps):
    loss, pred = _load("xor_hidden_layer")["main"](steps)
    assert pred == [0, 1, 1, 0] and loss < 0.05


def test_lenet5_example_trains_on_enlarged_digits():
    pytest.importorskip("sklearn")
    mod = _load("lenet")
    data = mod["digits_as_28x28"](0)
    assert data[0][0].shape[1:] == (28, 28)
    small = ((data[0][0][:320], data[0][1][:320]), (data[1][0][:128], data[1][1][:128]))
    acc = mod["train"](small, epochs=2, log=lambda *a: None)
    assert acc > 0.2          # far above chance after two short epochs
