"""The bundled default model: complete metadata, finds the example's coughs, quiet elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

from fx_audio import run_monitor

from monitor.scoring.modelfile import DETECTOR_KEYS, default_model_path, load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "monitor" / "examples"
SLACK_S = 1.0
"""An event may spill up to one window past the sound that caused it."""


def test_bundled_model_loads_with_complete_metadata():
    model = load_model(None)
    assert model.path == default_model_path()
    info = model.info
    assert info.task == "binary" and info.labels == ("cough",) and info.event_labels == ("cough",)
    assert info.spec.sample_rate == 16000 and info.spec.window_samples == 16000
    assert 0.0 < info.threshold < 1.0
    assert set(info.detector_defaults) <= set(DETECTOR_KEYS) and "onset_k" in info.detector_defaults
    for key in ("metrics", "manifest_sha256", "recipe", "command", "seed", "stream_eval",
                "created_utc", "torch_version"):
        assert info.extra.get(key), key
    assert "train.recipes.default_model" in info.extra["command"]
    assert info.name == "coughwatch-default"
    stream = json.loads(info.extra["stream_eval"])
    assert stream["negative_stream"]["false_alarms_per_hour"] <= 1.0


def test_bundled_model_detects_the_example_coughs_and_nothing_else():
    truth = json.loads((EXAMPLES / "example.json").read_text())
    result = run_monitor(["replay", str(EXAMPLES / "example.ogg")])
    assert result.returncode == 0, result.stderr
    events = result.json_lines()
    for start, end in truth["coughs"]:
        assert any(e["start_s"] <= end + SLACK_S and e["end_s"] >= start - SLACK_S for e in events), (start, events)
    for event in events:
        assert any(event["start_s"] <= end + SLACK_S and event["end_s"] >= start - SLACK_S
                   for start, end in truth["coughs"]), f"event outside any cough: {event}"
    assert len(events) <= len(truth["coughs"])
