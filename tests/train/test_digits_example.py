"""examples/digits_mlp.py runs, checkpoints, and resumes from its checkpoint."""

import runpy
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.py"


def test_digits_example_trains_saves_and_resumes(tmp_path, capsys):
    main = runpy.run_path(str(EXAMPLE), run_name="example")["main"]
    acc = main(["--epochs", "2", "--save-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "epoch   2" in out and f"final test accuracy: {acc:.4f}" in out
    assert acc > 0.85
    assert (tmp_path / "checkpoint").exists()
    main(["--epochs", "1", "--save-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "resumed from" in out and "model.ckpt-132" in out
