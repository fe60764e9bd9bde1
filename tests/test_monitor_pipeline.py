"""The pipeline with real onnxruntime: invariance, accuracy against known coughs, stats."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from fx_audio import write_audio
from fx_models import make_energy_model

from monitor.audio.sources import FileSource
from monitor.errors import AudioInputError
from monitor.output.local import EventRecorder, ScoreRecorder
from monitor.output.sinks import STATS_KEYS
from monitor.scoring.context import StreamContext
from monitor.scoring.detector import DetectorSettings
from monitor.scoring.modelfile import load_model
from monitor.scoring.pipeline import Pipeline
from monitor.scoring.scorer import Scorer
from train.synth import cough_stream

HOP = 4000  # a quarter of the energy model's 1 s window at 16 kHz
SCHEMA = json.loads((Path(__file__).parents[1] / "monitor/schemas/event.schema.json").read_text())


def make_pipeline(model_path: Path, batch: int = 32, **settings_overrides) -> tuple:
    model = load_model(model_path)
    context = StreamContext.for_model(
        model, "test-device", "test", datetime(2024, 1, 1, tzinfo=timezone.utc)
    )
    threshold = model.info.threshold
    settings = DetectorSettings(threshold, 0.7 * threshold, **settings_overrides)
    events, scores = EventRecorder(), ScoreRecorder()
    pipeline = Pipeline(Scorer(model), context, settings, HOP, sinks=[events],
                        score_listeners=[scores], batch_windows=batch)  # fmt: skip
    return pipeline, events, scores


def push(pipeline: Pipeline, audio: np.ndarray, block_sizes: list[int]) -> None:
    start = 0
    for size in block_sizes:
        pipeline.process_block(audio[start : start + size], start)
        start += size
    assert start == len(audio)
    pipeline.finish()


def random_blocks(rng: np.random.Generator, total: int, low: int, high: int) -> list[int]:
    sizes = []
    while sum(sizes) < total:
        sizes.append(int(min(rng.integers(low, high), total - sum(sizes))))
    return sizes


@pytest.fixture(scope="module")
def stream():
    return cough_stream(np.random.default_rng(11), duration_s=24.0, n_coughs=5)


def timing(events: EventRecorder) -> list[tuple]:
    """What must not change at all: ids, label, samples, window counts."""
    return [(e.event_id, e.label, e.start_sample, e.end_sample, e.windows) for e in events.events]


def test_events_and_scores_do_not_depend_on_block_size_or_batch(energy_model, stream):
    """Block size changes no bit; batch size may change float rounding in onnxruntime (~1e-7)."""
    rng = np.random.default_rng(0)
    runs = []
    for blocks, batch in [
        ([len(stream.audio)], 64),  # one huge block
        ([1600] * 240, 1),  # live-like 0.1 s blocks, window by window
        (random_blocks(rng, len(stream.audio), 1, 9000), 5),
        (random_blocks(rng, len(stream.audio), 3000, 70000), 64),
    ]:
        pipeline, events, scores = make_pipeline(energy_model, batch=batch)
        push(pipeline, stream.audio, blocks)
        runs.append((events, scores.arrays(1)))
    ref_events, (ref_starts, ref_scores) = runs[0]
    assert len(ref_events.events) == 5
    for events, (starts, scores) in runs[1:]:
        assert timing(events) == timing(ref_events)
        assert events.onsets == ref_events.onsets
        np.testing.assert_array_equal(starts, ref_starts)
        np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-6)
    # same batch, different blocks: bit for bit
    np.testing.assert_array_equal(runs[3][1][1], ref_scores)
    assert [e.to_dict() for e in runs[3][0].events] == [e.to_dict() for e in ref_events.events]


def test_each_known_cough_gives_one_event_within_one_hop(energy_model, stream):
    pipeline, events, _ = make_pipeline(energy_model)
    push(pipeline, stream.audio, [len(stream.audio)])
    starts = [e.start_sample for e in events.events]
    assert len(starts) == len(stream.cough_starts)
    for event_start, truth in zip(sorted(starts), stream.cough_starts, strict=True):
        assert abs(event_start - truth) <= HOP
    for event in events.events:
        jsonschema.validate(event.to_dict(), SCHEMA)


def test_every_event_was_announced_by_an_onset_with_its_id(energy_model, stream):
    pipeline, events, _ = make_pipeline(energy_model)
    push(pipeline, stream.audio, [8000] * 48)
    assert [(o[1], o[2]) for o in events.onsets] == [(e.event_id, e.start_s) for e in events.events]


def test_multiclass_models_get_one_detector_per_event_label(tmp_path, stream):
    path = make_energy_model(
        tmp_path / "multi.onnx", labels=("cough", "quiet", "other"), task="multiclass",
        info_override={"coughwatch.event_labels": json.dumps(["cough", "quiet"])},
    )  # fmt: skip
    pipeline, events, scores = make_pipeline(path)
    push(pipeline, stream.audio, [len(stream.audio)])
    labels = {e.label for e in events.events}
    assert labels == {"cough", "quiet"}  # 'quiet' fires between the coughs
    assert scores.arrays(3)[1].shape[1] == 3


def test_a_stream_shorter_than_a_window_is_padded_and_scored_once(energy_model):
    loud = (0.5 * np.sin(np.arange(8000) * 0.3)).astype(np.float32)
    pipeline, _, scores = make_pipeline(energy_model)
    push(pipeline, loud, [3000, 5000])
    summary = pipeline.summary()
    assert summary.windows == 1 and summary.duration_s == 0.5
    assert summary.score == pytest.approx(float(scores.arrays(1)[1][0, 0])) and summary.score > 0.5


def test_a_gap_in_the_blocks_is_filled_and_counted(energy_model):
    pipeline, _, scores = make_pipeline(energy_model)
    pipeline.process_block(np.zeros(16000, np.float32), 0)
    pipeline.process_block(np.zeros(16000, np.float32), 20000)
    pipeline.finish()
    assert pipeline.stats.overflows == 1
    assert pipeline.summary().duration_s == pytest.approx(36000 / 16000)
    assert scores.arrays(1)[0].tolist() == list(range(0, 20001, HOP))


def test_stats_snapshot_reports_level_windows_and_recent_coughs(energy_model, stream):
    pipeline, events, _ = make_pipeline(energy_model)
    push(pipeline, stream.audio, [len(stream.audio)])
    snapshot = pipeline.stats_snapshot()
    assert set(snapshot) <= set(STATS_KEYS)
    assert snapshot["windows_scored"] == (len(stream.audio) - 16000) // HOP + 1
    assert snapshot["coughs_last_hour"] == len(events.events) == 5
    assert snapshot["realtime_factor"] > 1
    rms = np.sqrt(np.mean(stream.audio.astype(np.float64) ** 2))
    assert snapshot["input_level_dbfs"] == pytest.approx(20 * np.log10(rms), abs=0.1)
    full_scale = np.sin(np.arange(16000) * 0.1).astype(np.float32)
    pipeline2, _, _ = make_pipeline(energy_model)
    pipeline2.process_block(full_scale, 0)
    assert pipeline2.stats_snapshot()["input_level_dbfs"] == pytest.approx(-3.0, abs=0.1)
    assert pipeline2.stats_snapshot()["input_level_dbfs"] == -120.0  # new period: no audio yet


def test_a_source_failing_midway_still_closes_the_open_bout(energy_model, tmp_path):
    audio = np.full(16000 * 3, 0.3, np.float32)
    audio[16000 * 2 + 8000] = np.nan
    path = write_audio(tmp_path / "loud_then_nan.wav", audio, 16000)
    pipeline, events, _ = make_pipeline(energy_model)
    with pytest.raises(AudioInputError, match="non-finite"):
        pipeline.run(FileSource(path, 16000, block_s=0.5))
    assert len(events.onsets) == 1 and len(events.events) == 1


def test_a_scoring_failure_is_not_hidden_by_the_end_of_stream(energy_model: Path) -> None:
    """A scorer that fails mid-stream: that error reaches the caller (finish() used to try the
    short-stream path on a long stream and raise IndexError from the ring buffer instead)."""
    pipeline, _, _ = make_pipeline(energy_model, batch=4)

    def broken(*_args: object, **_kwargs: object) -> np.ndarray:
        raise RuntimeError("onnxruntime went away")

    pipeline.scorer.score_consecutive = broken  # fault injection: a real session cannot be made to fail
    audio = np.zeros(16000 * 5, np.float32)
    with pytest.raises(RuntimeError, match="went away"):
        try:
            push(pipeline, audio, [8000] * 10)
        finally:
            pipeline.finish()
