"""``cough-export`` end to end: the file, the card, and one-line errors with non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from fx_export import FAKE_MANIFEST_SHA, make_checkpoint, save_run

from export import cli, pipeline
from export.parity import check_parity
from monitor.scoring.modelfile import load_model

pytestmark = pytest.mark.train


def cough_export(*args: object) -> subprocess.CompletedProcess:
    """Run the installed console script (or the module when not installed)."""
    script = Path(sys.executable).with_name("cough-export")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "export.cli"]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, timeout=300)


def _assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cough-export: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_export_writes_checked_file_and_card(tmp_path: Path, default_run: Path):
    out = tmp_path / "models" / "cough.onnx"
    result = cough_export(default_run, "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "parity probes (11 windows)" in result.stdout
    assert "parity validation clips (12 windows)" in result.stdout
    model = load_model(out)
    assert model.info.extra["manifest_sha256"] == FAKE_MANIFEST_SHA
    assert model.info.name == "r1"  # no name recorded at training: the run folder's
    card = out.with_name("cough.onnx.md").read_text()
    for fragment in (FAKE_MANIFEST_SHA, "| sample_rate | 16000 |", "| roc_auc | 0.9300 |",
                     "| synthetic | CC0 |", model.sha256, "parity validation clips", "0.3700"):
        assert fragment in card
    assert not list(out.parent.glob(".*")), "no temp files left beside the output"


@pytest.mark.slow
def test_model_pt_path_and_no_card(tmp_path: Path, default_run: Path, capsys):
    out = tmp_path / "m.onnx"
    assert cli.main([str(default_run / "model.pt"), "--out", str(out), "--no-card",
                     "--parity-clips", "0"]) == 0
    assert out.is_file() and not out.with_name("m.onnx.md").exists()
    assert "validation clips" not in capsys.readouterr().out.split("\n")[1]


@pytest.mark.slow
def test_model_name_from_training_or_export_flag(tmp_path: Path):
    run = save_run(tmp_path / "runs" / "r2", make_checkpoint(extra={"model_name": "kitchen-v1"}))
    fast = ("--no-card", "--parity-clips", "0")
    assert cli.main([str(run), "--out", str(tmp_path / "a.onnx"), *fast]) == 0
    assert load_model(tmp_path / "a.onnx").info.name == "kitchen-v1"
    assert cli.main([str(run), "--out", str(tmp_path / "b.onnx"), "--name", "kitchen-v2", *fast]) == 0
    assert load_model(tmp_path / "b.onnx").info.name == "kitchen-v2"


def test_missing_run_dir(tmp_path: Path):
    _assert_one_line_error(cough_export(tmp_path / "nope", "--out", tmp_path / "m.onnx"),
                           "no such run directory")


def test_run_dir_without_checkpoint(tmp_path: Path):
    _assert_one_line_error(cough_export(tmp_path, "--out", tmp_path / "m.onnx"), "no model.pt")


def test_not_a_checkpoint(tmp_path: Path):
    (tmp_path / "model.pt").write_bytes(b"\x00garbage" * 100)
    _assert_one_line_error(cough_export(tmp_path, "--out", tmp_path / "m.onnx"),
                           "not a coughwatch checkpoint")


def test_unwritable_out(tmp_path: Path, default_run: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _assert_one_line_error(cough_export(default_run, "--out", blocker / "m.onnx"), "is not a directory")


def test_out_is_a_directory(tmp_path: Path, default_run: Path):
    _assert_one_line_error(cough_export(default_run, "--out", tmp_path), "is a directory")


def test_unsupported_opset(tmp_path: Path, default_run: Path):
    _assert_one_line_error(cough_export(default_run, "--out", tmp_path / "m.onnx", "--opset", "12"),
                           "opset 12 not supported")


@pytest.mark.slow
def test_parity_failure_exits_with_numbers(tmp_path: Path, default_run: Path, monkeypatch, capsys):
    """Fault injected into the exported file before the real check runs."""

    def corrupt_then_check(checkpoint, path, groups):
        proto = onnx.load(str(path))
        bias = next(t for t in proto.graph.initializer if t.name == "net.body.linear.bias")
        values = onnx.numpy_helper.to_array(bias) + 0.05
        bias.CopyFrom(onnx.numpy_helper.from_array(values, bias.name))
        onnx.save_model(proto, str(path))
        return check_parity(checkpoint, path, groups)

    monkeypatch.setattr(pipeline, "check_parity", corrupt_then_check)
    out = tmp_path / "m.onnx"
    assert cli.main([str(default_run), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("cough-export: error: ") and "\n" not in err
    assert "ONNX does not match torch" in err and "|Δscore| " in err and "(<= 0.0001)" in err
    assert not out.exists(), "a failed export must not leave a file"
