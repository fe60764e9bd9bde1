"""False alarms traced to the sound behind them (train.stream_eval, train.streams, the recipe)."""

from __future__ import annotations

import json

import numpy as np

from monitor.scoring.detector import DetectorSettings
from monitor.scoring.modelfile import default_model_path
from train.recipes import default_model
from train.recipes.report import false_alarm_table
from train.stream_eval import NOISE_FLOOR, WindowScores, evaluate, false_alarm_sources
from train.streams import Stream, concat_streams, negative_stream, positive_stream
from train.synth import cough_burst, speech_like, write_dataset

RATE_HZ = 16000
WINDOW = RATE_HZ
HOP = RATE_HZ // 4


def _scores(n_windows: int, high: dict[int, float]) -> WindowScores:
    scores = np.full(n_windows, 0.01, np.float32)
    for index, value in high.items():
        scores[index] = value
    return WindowScores(np.arange(n_windows, dtype=np.int64) * HOP, scores, WINDOW, RATE_HZ)


def test_each_false_alarm_is_traced_to_the_clip_it_overlaps_most_or_the_noise_floor():
    # clips "a" 0-3 s, "b" 3.25-9 s, "c" 9.25-12 s, then a gap; a cough inserted at 16-16.3 s.
    played = [(0, 3 * RATE_HZ, "a"), (int(3.25 * RATE_HZ), 9 * RATE_HZ, "b"), (int(9.25 * RATE_HZ), 12 * RATE_HZ, "c")]
    stream = Stream(np.zeros(20 * RATE_HZ, np.float32), RATE_HZ, truth=[(16 * RATE_HZ, int(16.3 * RATE_HZ))],
                    truth_source=["synth"], played=played)
    high = {10: 0.99,   # window 2.5-3.5 s: 0.5 s of "a", 0.25 s of "b" -> "a"
            35: 0.99,   # 8.75-9.75 s: 0.25 s of "b", 0.5 s of "c" -> "c"
            56: 0.99,   # 14-15 s: gap only -> noise floor
            64: 0.99}   # 16-17 s: the cough, no false alarm
    scores = _scores(77, high)
    settings = DetectorSettings(threshold_on=0.9, threshold_off=0.6, onset_k=1, onset_n=1, merge_gap_s=0.0)

    sources = false_alarm_sources(scores, stream, settings)

    assert sources == ["a", "c", NOISE_FLOOR]
    assert len(sources) == evaluate(scores, stream, settings).false_alarms


def test_streams_record_what_they_played_and_passes_shift_it():
    rng = np.random.default_rng(3)
    clips = {f"s{i}": speech_like(rng, 1.0 + 0.25 * i) for i in range(4)}
    clips["cough"] = np.concatenate([np.zeros(800, np.float32), cough_burst(rng), np.zeros(800, np.float32)])
    passes = [negative_stream([f"s{i}" for i in range(4)], clips.__getitem__, RATE_HZ, rng) for _ in range(2)]

    for one in passes:
        assert [path for _, _, path in one.played] == ["s0", "s1", "s2", "s3"]
        assert [end - start for start, end, _ in one.played] == [len(clips[f"s{i}"]) for i in range(4)]
        ends = [0] + [end for _, end, _ in one.played]
        assert all(start >= previous for (start, _, _), previous in zip(one.played, ends, strict=False))
        for start, end, _ in one.played:  # the clip is there, well above the noise floor
            assert float(np.sqrt(np.mean(one.audio[start:end] ** 2))) > 1e-3
    joined = concat_streams(passes)
    offset = len(passes[0].audio)
    assert joined.played == passes[0].played + [(s + offset, e + offset, p) for s, e, p in passes[1].played]
    mixed = positive_stream(["cough"], ["synth"], passes[0], clips.__getitem__, rng, spacing_s=(1.0, 1.0))
    assert mixed.played == passes[0].played


def test_report_lists_false_alarms_at_the_chosen_point_and_at_the_target_recall():
    result = {"operating_point": {"threshold_on": 0.99, "onset_k": 1, "onset_n": 1},
              "false_alarms": {
                  "operating_point": {"esc50/sneezing": {"false_alarms": 2, "clips": 1}},
                  "target_recall": {"recall": 0.91, "threshold": 0.8, "false_alarms_per_hour": 12.5, "sources": {
                      "speech/word": {"false_alarms": 30, "clips": 9},
                      "esc50/sneezing": {"false_alarms": 7, "clips": 3},
                      NOISE_FLOOR: {"false_alarms": 2, "clips": 0}}}}}
    table = false_alarm_table(result).splitlines()
    assert "threshold 0.990, 1-of-1" in table[0] and "event recall 0.910 (threshold 0.800, 12.5 / h)" in table[0]
    assert table[2:] == ["| speech/word | 0 | 30 (9 clips) |", "| esc50/sneezing | 2 (1 clip) | 7 (3 clips) |",
                         f"| {NOISE_FLOOR} | 0 | 2 |"]
    assert false_alarm_table({"operating_point": result["operating_point"]}) == ""


def test_recipe_judges_a_model_file_without_training(tmp_path):
    """``--judge``: the bundled model on a small synthetic set; every false alarm counted is traced."""
    write_dataset(tmp_path / "data", n_clips=60, seed=5)
    out = tmp_path / "out"
    model = default_model_path()

    rc = default_model.main(["--data", str(tmp_path / "data"), "--out", str(out), "--judge", str(model)])

    assert rc == 0
    result = json.loads((out / "report.json").read_text())["default"]
    counted = result["negative_stream"]["false_alarms"] + result["positive_stream"]["false_alarms"]
    traced = result["false_alarms"]["operating_point"]
    assert sum(v["false_alarms"] for v in traced.values()) == counted
    assert not (out / "default").exists()  # nothing trained
    assert "| default |" in (out / "report.md").read_text()


def test_recipe_refuses_to_install_what_it_only_judged(tmp_path, capsys):
    rc = default_model.main(["--data", str(tmp_path), "--judge", "model.onnx", "--install"])
    assert rc != 0
    assert "nothing to --install" in capsys.readouterr().err


def test_recipe_judge_fails_fast_on_a_missing_model_file(tmp_path, capsys):
    rc = default_model.main(["--data", str(tmp_path / "no-data"), "--judge", str(tmp_path / "none.onnx")])
    assert rc != 0
    assert "none.onnx: model file not found" in capsys.readouterr().err
