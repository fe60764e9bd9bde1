"""COUGHVID adapter on a small COUGHVID-style folder whose webm/ogg files ffmpeg makes in the test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fx_train import write_wav

from train.coughvid import load_coughvid, wav_dir_for
from train.errors import BadInputPolicy, DataError
from train.synth import positive_clip

pytestmark = [pytest.mark.train, pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")]

ENTRIES = [  # uuid, suffix, cough_detected, status
    ("00a1", ".webm", "0.9813", "healthy"),
    ("00b2", ".webm", "0.0123", "COVID-19"),
    ("00c3", ".ogg", "0.55", None),
    ("00d4", ".wav", "0.7", "symptomatic"),
]


def _encode(wav: Path, out: Path) -> None:
    codec = ["-c:a", "libopus"] if out.suffix == ".webm" else ["-c:a", "libvorbis"]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), *codec, str(out)], check=True)


@pytest.fixture()
def coughvid_dir(tmp_path: Path) -> Path:
    root = tmp_path / "public_dataset"
    rng = np.random.default_rng(0)
    for uuid, suffix, score, status in ENTRIES:
        wav = write_wav(tmp_path / "src" / f"{uuid}.wav", positive_clip(rng, 1.5, 48000), 48000, "PCM_16")
        target = root / f"{uuid}{suffix}"
        root.mkdir(exist_ok=True)
        shutil.copy(wav, target) if suffix == ".wav" else _encode(wav, target)
        meta = {"datetime": "2020-04-13T21:30:59", "cough_detected": score}
        if status:
            meta["status"] = status
        (root / f"{uuid}.json").write_text(json.dumps(meta))
    return root


def test_regression_targets_come_from_cough_detected(coughvid_dir, tmp_path):
    clips = load_coughvid(coughvid_dir, "regression", tmp_path / "wav", BadInputPolicy())
    assert [(c.rel_path, float(c.label)) for c in clips] == [
        ("00a1.webm", 0.9813), ("00b2.webm", 0.0123), ("00c3.ogg", 0.55), ("00d4.wav", 0.7)]
    converted = [c.path for c in clips[:3]]
    assert all(p.parent == tmp_path / "wav" and p.suffix == ".wav" for p in converted)
    import soundfile

    info = soundfile.info(str(converted[0]))
    assert (info.subtype, info.channels) == ("PCM_16", 1)
    assert clips[3].path == coughvid_dir / "00d4.wav"
    assert clips[0].extra["status"] == "healthy"


def test_conversion_is_cached(coughvid_dir, tmp_path):
    wav_dir = tmp_path / "wav"
    first = load_coughvid(coughvid_dir, "regression", wav_dir, BadInputPolicy())
    stamps = [c.path.stat().st_mtime_ns for c in first]
    second = load_coughvid(coughvid_dir, "regression", wav_dir, BadInputPolicy())
    assert [c.path.stat().st_mtime_ns for c in second] == stamps


def test_min_cough_detected_and_status_labels(coughvid_dir, tmp_path):
    kept = load_coughvid(coughvid_dir, "regression", tmp_path / "wav", BadInputPolicy(), min_cough_detected=0.6)
    assert [c.rel_path for c in kept] == ["00a1.webm", "00d4.wav"]
    classes = load_coughvid(coughvid_dir, "multiclass", tmp_path / "wav", BadInputPolicy())
    assert [c.label for c in classes] == ["healthy", "COVID-19", "symptomatic"]  # no status: left out
    binary = load_coughvid(coughvid_dir, "binary", tmp_path / "wav", BadInputPolicy())
    assert [c.label for c in binary] == ["cough", "non_cough", "cough", "cough"]


def test_broken_entries_are_named_or_skipped(coughvid_dir, tmp_path):
    (coughvid_dir / "00e5.json").write_text('{"cough_detected": "high"}')
    (coughvid_dir / "00e5.webm").write_bytes(b"not a webm")
    (coughvid_dir / "00f6.json").write_text('{"cough_detected": "0.5"}')  # no audio beside it
    with pytest.raises(DataError, match="00e5.json: no usable 'cough_detected'"):
        load_coughvid(coughvid_dir, "regression", tmp_path / "wav", BadInputPolicy())
    (coughvid_dir / "00e5.json").write_text('{"cough_detected": "0.5"}')
    policy = BadInputPolicy(skip=True)
    clips = load_coughvid(coughvid_dir, "regression", tmp_path / "wav", policy)
    assert len(clips) == 4 and policy.skipped == 2
    assert any("00f6.json: no .webm" in p for p in policy.problems)
    assert any("00e5.webm: ffmpeg failed" in p for p in policy.problems)


def test_missing_ffmpeg_is_one_clear_error(coughvid_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DataError, match="ffmpeg not found"):
        load_coughvid(coughvid_dir, "regression", tmp_path / "wav", BadInputPolicy())


def test_wav_dir_is_per_dataset(tmp_path):
    assert wav_dir_for(tmp_path / "a", tmp_path / "c") != wav_dir_for(tmp_path / "b", tmp_path / "c")


@pytest.mark.slow
def test_cough_train_on_a_coughvid_folder_is_a_regression_run(coughvid_dir, tmp_path, capsys):
    from train.cli import main

    rng = np.random.default_rng(5)
    for uuid, score in (("00x1", "0.1"), ("00x2", "0.2")):
        write_wav(coughvid_dir / f"{uuid}.wav", (0.05 * rng.standard_normal(24000)).astype(np.float32), 48000)
        (coughvid_dir / f"{uuid}.json").write_text(json.dumps({"cough_detected": score}))
    out = tmp_path / "run"
    rc = main(["--coughvid", str(coughvid_dir), "--out", str(out), "--epochs", "1", "--batch-size", "2",
               "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "regression" and metrics["n_train"] + metrics["n_val"] == 6
    assert {"mae", "rmse", "r2"} <= set(metrics["validation"])
    assert (out / "pred_vs_true.png").is_file()
    assert any((tmp_path / "cache" / "coughvid").rglob("00a1.wav"))
