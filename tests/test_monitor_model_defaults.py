"""Detector defaults carried by the model file, and flags overriding them."""

from __future__ import annotations

import json

from fx_audio import run_monitor
from fx_models import make_energy_model


def test_detector_defaults_in_the_model_apply_and_flags_override_them(cough_stream_wav, tmp_path):
    plain = make_energy_model(tmp_path / "plain.onnx")
    slow = make_energy_model(
        tmp_path / "refractory.onnx",
        info_override={"coughwatch.detector": json.dumps({"refractory_s": 1000.0, "onset_k": 1})},
    )
    wav = str(cough_stream_wav[0])
    every = run_monitor(["replay", wav, "--model", str(plain)]).json_lines()
    first_only = run_monitor(["replay", wav, "--model", str(slow)]).json_lines()
    overridden = run_monitor(["replay", wav, "--model", str(slow), "--refractory-ms", "0"]).json_lines()
    assert len(every) >= 3
    assert len(first_only) == 1  # the model's 1000 s refractory period holds back the rest
    assert len(overridden) == len(every)
