"""Runs of windows: one pass of log-mel frames scores many overlapping windows,
with the same numbers as scoring each window alone (graph, scorer, replay)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

import numpy as np
import pytest
from fx_export import make_checkpoint

from export.onnx_export import export_onnx
from export.window_runs import run_hop_samples
from monitor.scoring.context import StreamContext
from monitor.scoring.detector import DetectorSettings
from monitor.scoring.modelfile import load_model
from monitor.scoring.pipeline import Pipeline
from monitor.scoring.scorer import Scorer
from train.models import preset_config

pytestmark = pytest.mark.train


def _audio(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 0.01, int(seconds * 16000)).astype(np.float32)
    for start in rng.integers(0, len(audio) - 4000, 6):  # a few loud bursts
        audio[start : start + 3000] += rng.normal(0, 0.3, 3000).astype(np.float32)
    return audio


def test_run_hop_is_the_largest_whole_number_of_frames_up_to_the_hop_fraction():
    config = preset_config("default", "binary", 1, hop_length=400, center=False)
    spec = config.spec

    def hop(**changes: object) -> int:
        return run_hop_samples(replace(config, spec=replace(spec, **changes)))

    assert run_hop_samples(config) == 4000
    assert hop(hop_length=320) == 3840  # 12 frames: 0.24 s
    assert hop(center=True) == 0  # reflect-padded edges differ per window
    assert hop(hop_length=300) == 0  # the window is not whole frames
    assert replace(spec, center=True).n_frames == 41 and spec.n_frames == 39
    assert run_hop_samples(replace(config, hop_fraction=0.125)) == 2000
    fast = preset_config("fast", "binary", 1)  # whole multiples of 8 frames of 250 samples
    assert run_hop_samples(fast) == 2000
    assert run_hop_samples(replace(fast, hop_fraction=0.2)) == 2000
    assert run_hop_samples(replace(fast, hop_fraction=0.25)) == 4000


RUN_MODELS: Final = {
    "fast": {},  # frames and convolutions shared, a window every 8 frames of 15.625 ms
    "uncentred-default": {"hop_length": 400, "center": False},  # frames shared, one CNN per window
}


@pytest.fixture(scope="module", params=list(RUN_MODELS))
def runs_onnx(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model that scores runs, random weights, exported."""
    path = tmp_path_factory.mktemp("runs") / f"{request.param}.onnx"
    preset = "fast" if request.param == "fast" else "default"
    export_onnx(make_checkpoint(preset, spec_overrides=RUN_MODELS[request.param]), path)
    return path


def test_run_scores_equal_window_scores(runs_onnx: Path):
    model = load_model(runs_onnx)
    hop = model.info.run_hop_samples
    window = model.info.spec.window_samples
    expected_hop = {"fast": 2000, "default": 4000}[model.info.preset]  # 8 frames of 15.625 ms; 10 of 25 ms
    assert hop == model.info.default_hop_samples == expected_hop
    audio = _audio(4.0)
    windows = np.stack([audio[i : i + window] for i in range(0, len(audio) - window + 1, hop)])
    one_by_one = np.concatenate([model.session.run(None, {"waveform": w[None]})[0] for w in windows])
    run = model.session.run(None, {"waveform": audio[None, : (len(windows) - 1) * hop + window]})[0]
    assert run.shape == (len(windows), 1)
    np.testing.assert_allclose(run, one_by_one, atol=1e-5)
    two_rows = model.session.run(None, {"waveform": np.stack([audio[:window + hop], audio[hop:window + 2 * hop]])})[0]
    np.testing.assert_allclose(two_rows[:, 0], one_by_one[[0, 1, 1, 2], 0], atol=1e-5)  # row-major windows
    scorer = Scorer(model)
    np.testing.assert_allclose(scorer.score_consecutive(windows, hop), one_by_one, atol=1e-5)
    np.testing.assert_array_equal(scorer.score_consecutive(windows[:3], hop + 1), scorer.score(windows[:3]))


def test_centred_spec_exports_a_one_window_graph(default_onnx: Path):
    model = load_model(default_onnx)  # the default preset: centred frames
    assert model.info.run_hop_samples == 0 and model.info.default_hop_samples == 4000
    assert model.session.get_inputs()[0].shape[1] == model.info.spec.window_samples


def test_run_scores_ignore_the_input_gain(runs_onnx: Path):
    model = load_model(runs_onnx)  # default: window-mean normalisation; fast: zero-sum first layer
    audio = _audio(1.5, seed=3)[None, :]
    scores = [model.session.run(None, {"waveform": audio * gain})[0] for gain in (1.0, 0.05, 8.0)]
    assert np.ptp(scores[0]) > 1e-3  # the windows differ ...
    for other in scores[1:]:  # ... but not with the level (log(g^2 P + 1e-6) ~ log P + 2 log g)
        np.testing.assert_allclose(other, scores[0], atol=2e-4)


def test_replay_in_runs_gives_the_scores_of_one_window_at_a_time(runs_onnx: Path):
    model = load_model(runs_onnx)
    audio = _audio(6.3, seed=2)
    context = StreamContext.for_model(model, "test", "test", datetime.now(timezone.utc))
    settings = DetectorSettings(threshold_on=0.5, threshold_off=0.35)
    results = []
    for batch in (1, 32):
        seen: list[np.ndarray] = []
        pipeline = Pipeline(Scorer(model), context, settings, model.info.run_hop_samples,
                            score_listeners=[lambda _starts, scores, out=seen: out.append(scores[:, 0])],
                            batch_windows=batch)
        for start in range(0, len(audio), 1234):
            pipeline.process_block(audio[start : start + 1234], start)
        pipeline.finish()
        results.append(np.concatenate(seen))
    assert len(results[0]) == len(results[1]) > 10
    np.testing.assert_allclose(results[1], results[0], atol=1e-5)
