"""``cough-train`` as a user runs it: outputs of a run, ``predict``, every bad input, Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fx_train import write_manifest, write_wav

from train.cli import main
from train.models import Checkpoint

pytestmark = pytest.mark.train

OUTPUTS = ("model.pt", "metrics.json", "history.csv", "curves.png", "roc_pr.png", "summary.txt")


def _cli(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "cough-train"
    env = {**os.environ, "XDG_CACHE_HOME": str(cwd / "xdg-cache")}
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_two_epoch_run_writes_every_output_and_predict_scores_files(small_set, tmp_path):
    done = _cli("--manifest", str(small_set), "--out", "runs/a", "--epochs", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "runs" / "a"
    for name in OUTPUTS:
        assert (run / name).stat().st_size > 0, name
    assert "total parameters" in done.stdout and "best epoch" in done.stdout
    history = list(csv.DictReader((run / "history.csv").open()))
    assert [row["epoch"] for row in history] == ["1", "2"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "binary" and metrics["n_train"] + metrics["n_val"] == 24
    checkpoint = Checkpoint.from_dict(torch.load(run / "model.pt", weights_only=True))
    assert checkpoint.labels == ["cough"] and checkpoint.event_labels == ["cough"]
    assert checkpoint.threshold == pytest.approx(metrics["threshold"])
    extra = checkpoint.extra
    assert len(extra["manifest_sha256"]) == 64 and extra["seed"] == 0
    assert extra["command"].startswith("cough-train --manifest")
    assert {c["path"] for c in extra["validation_clips"]} <= {r["path"] for r in csv.DictReader(small_set.open())}
    assert extra["torch_version"] == torch.__version__
    assert extra["model_name"] == "a"  # named after the run folder (no --name)

    audio = small_set.parent / "audio"
    files = sorted(audio.glob("*.wav"))[:2]
    scored = _cli("predict", "--run", "runs/a", *map(str, files), "missing.wav", cwd=tmp_path)
    assert scored.returncode == 3
    lines = [json.loads(x) for x in scored.stdout.splitlines()]
    assert [Path(x["file"]).name for x in lines] == [f.name for f in files]
    assert all(0.0 <= x["max"]["cough"] <= 1.0 and x["windows"] >= 1 for x in lines)
    assert scored.stderr.strip() == "cough-train predict: error: missing.wav: no such file"


def _one_error_line(capsys, rc: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    errors = [line for line in err if line.startswith("cough-train: error:")]
    assert len(errors) == 1, err
    assert "Traceback" not in "\n".join(err)
    return errors[0]


def _bad_manifest(tmp_path: Path, damage) -> Path:
    """A 12-clip two-class manifest with one entry damaged by ``damage(audio_dir) -> (path, label)``."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        label = "cough" if i % 2 else "non_cough"
        write_wav(tmp_path / "audio" / f"{i}.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32))
        rows.append((f"audio/{i}.wav", label))
    rows.append(damage(tmp_path / "audio"))
    return write_manifest(tmp_path / "data.csv", rows)


def _garbage(d: Path) -> tuple[str, str]:
    (d / "bad.wav").write_bytes(b"RIFF\x00\x00garbage")
    return "audio/bad.wav", "cough"


def _empty(d: Path) -> tuple[str, str]:
    write_wav(d / "bad.wav", np.zeros(0, np.float32))
    return "audio/bad.wav", "cough"


def _nan(d: Path) -> tuple[str, str]:
    write_wav(d / "bad.wav", np.full(4000, np.nan, np.float32))
    return "audio/bad.wav", "cough"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: ("audio/nothere.wav", "cough"), r"data.csv:14: audio/nothere.wav: no such file"),
        (_garbage, r"bad.wav: unreadable audio"),
        (_empty, r"bad.wav: empty audio"),
        (_nan, r"bad.wav: audio holds NaN"),
        (lambda d: ("audio/0.wav", "0.75"), r"audio/0.wav: label '0.75' is a number"),
    ],
    ids=["missing-file", "unreadable", "empty", "nan", "unknown-label"],
)
def test_bad_file_is_one_clear_line_and_skip_bad_counts_it(tmp_path, capsys, damage, message):
    manifest = _bad_manifest(tmp_path, damage)
    out = tmp_path / "run"
    line = _one_error_line(capsys, main(["--manifest", str(manifest), "--out", str(out), "--epochs", "1",
                                         "--cache-dir", str(tmp_path / "c")]))
    assert __import__("re").search(message, line), line
    assert "--skip-bad" in line
    rc = main(["--manifest", str(manifest), "--out", str(out), "--epochs", "1", "--skip-bad",
               "--batch-size", "4", "--cache-dir", str(tmp_path / "c"), "--val-fraction", "0.35"])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["skipped"]) == 1 and metrics["n_train"] + metrics["n_val"] == 12
    assert "skipped 1 bad file" in capsys.readouterr().out


def test_unknown_regression_label(tmp_path, capsys):
    manifest = _bad_manifest(tmp_path, lambda d: ("audio/0.wav", "0.5"))
    rc = main(["--manifest", str(manifest), "--out", str(tmp_path / "r"), "--task", "regression"])
    assert "audio/0.wav: label 'non_cough' is not a number in [0, 1]" in _one_error_line(capsys, rc)


def test_single_class_training_set(tmp_path, capsys):
    for i in range(6):
        write_wav(tmp_path / f"{i}.wav", np.full(4000, 0.1, np.float32))
    manifest = write_manifest(tmp_path / "m.csv", [(f"{i}.wav", "cough") for i in range(6)])
    rc = main(["--manifest", str(manifest), "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")])
    line = _one_error_line(capsys, rc)
    assert "class 1 has 6 clip(s)" in line or "only class 'cough'" in line


def test_too_few_clips_for_a_split(tmp_path, capsys):
    for i in range(3):
        write_wav(tmp_path / f"{i}.wav", np.full(4000, 0.1, np.float32))
    manifest = write_manifest(tmp_path / "m.csv", [("0.wav", "cough"), ("1.wav", "speech"), ("2.wav", "speech")])
    rc = main(["--manifest", str(manifest), "--out", str(tmp_path / "r")])
    assert "too few clips for a train/validation split" in _one_error_line(capsys, rc)


def test_unwritable_output_folder(small_set, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    rc = main(["--manifest", str(small_set), "--out", str(blocker / "run")])
    assert f"{blocker / 'run'}: output folder is not writable" in _one_error_line(capsys, rc)


def test_missing_manifest_and_bad_flags(tmp_path, capsys):
    rc = main(["--manifest", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r")])
    assert "nope.csv: cannot read manifest" in _one_error_line(capsys, rc)
    rc = main(["--manifest", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r"), "--epochs", "0"])
    assert "--epochs must be at least 1" in _one_error_line(capsys, rc)
    rc = main(["--manifest", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r"), "--ema-decay", "1"])
    assert "--ema-decay must be in [0, 1)" in _one_error_line(capsys, rc)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu(small_set, tmp_path, capsys):
    rc = main(["--manifest", str(small_set), "--out", str(tmp_path / "r"), "--device", "cuda"])
    assert "no CUDA device" in _one_error_line(capsys, rc)


def test_predict_without_a_run(tmp_path, capsys):
    assert main(["predict", "--run", str(tmp_path), "x.wav"]) == 1
    assert "model.pt: no such checkpoint" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_saves_the_best_epoch_and_exits_cleanly(small_set, tmp_path):
    exe = shutil.which("cough-train", path=str(Path(sys.executable).parent))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    run = tmp_path / "run"
    proc = subprocess.Popen([exe, "--manifest", str(small_set), "--out", str(run), "--epochs", "100000",
                             "--patience", "100000"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    history = run / "history.csv"  # so many epochs that the run can't finish before the SIGINT
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and (not history.exists() or len(history.read_text().splitlines()) < 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["best_epoch"] >= 1
    assert (run / "model.pt").is_file() and "interrupted" in out
