"""The exported file scores a recording exactly like ``cough-train predict`` (within 1e-4)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from export.pipeline import ExportSettings, run_export
from train import synth

pytestmark = [
    pytest.mark.train,
    pytest.mark.skipif(importlib.util.find_spec("train.predict") is None,
                       reason="train/predict.py (cough-train predict) is not written yet"),
]


def _recording(path: Path, sample_rate: int = 16000) -> Path:
    """3.3 s: speech-like babble, a cough, a quiet noise floor (not a whole number of windows)."""
    rng = np.random.default_rng(12)
    audio = synth.noise(rng, 3.3, 0.01, sample_rate)
    audio[: sample_rate] += synth.speech_like(rng, 1.0, sample_rate)
    burst = synth.cough_burst(rng, sample_rate)
    start = int(1.7 * sample_rate)
    audio[start : start + len(burst)] += burst
    soundfile.write(str(path), np.clip(audio, -1, 1), sample_rate, subtype="FLOAT")
    return path


def _cough_train_predict(run: Path, wav: Path) -> dict:
    script = Path(sys.executable).with_name("cough-train")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "train.cli"]
    result = subprocess.run([*command, "predict", "--run", str(run), "--device", "cpu", str(wav)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_exported_scores_equal_cough_train_predict(tmp_path: Path, default_run: Path):
    from train.audio import load_waveform
    from train.predict import HOP_FRACTION, sliding_windows

    out = tmp_path / "m.onnx"
    model = run_export(ExportSettings(run=default_run, out=out, card=False)).model
    wav = _recording(tmp_path / "rec.wav")
    spec = model.info.spec
    windows = sliding_windows(load_waveform(wav, spec.sample_rate), spec.window_samples,
                              int(spec.window_samples * HOP_FRACTION))
    scores = model.session.run(["scores"], {"waveform": windows})[0]
    expected = _cough_train_predict(default_run, wav)
    assert expected["windows"] == len(windows) > 1
    for column, label in enumerate(model.info.labels):
        assert abs(float(scores[:, column].max()) - expected["max"][label]) <= 1e-4
        assert abs(float(scores[:, column].mean()) - expected["mean"][label]) <= 1e-4
