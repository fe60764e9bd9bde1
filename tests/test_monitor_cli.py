"""``cough-monitor replay`` and ``info`` through the real command line (subprocesses)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from fx_audio import REPO, run_monitor, write_audio
from fx_models import make_energy_model

from monitor.scoring.modelfile import default_model_path
from train.synth import cough_stream

SCHEMA = json.loads((REPO / "monitor/schemas/event.schema.json").read_text())
START = "2024-05-01T12:00:00Z"


def events_and_summaries(lines: list[dict]) -> tuple[list[dict], list[dict]]:
    events = [line for line in lines if line.get("schema") == "coughwatch.event/1"]
    return events, [line for line in lines if "file" in line]


def test_replay_summary_replaces_the_event_lines_and_outputs_are_written(
    cough_stream_wav, energy_model, tmp_path
):
    wav, truth = cough_stream_wav
    events_file, scores_file = tmp_path / "out/events.jsonl", tmp_path / "scores.csv"
    result = run_monitor([
        "replay", str(wav), "--model", str(energy_model), "--summary", "--device-id", "kitchen",
        "--start-time", START, "--events-out", str(events_file), "--scores-out", str(scores_file),
    ])  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed_events, summaries = events_and_summaries(result.json_lines())
    assert printed_events == [] and len(result.stdout.splitlines()) == 1  # the summary only
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert len(events) == len(truth.cough_starts) == 4
    for event, truth_start in zip(events, truth.cough_starts, strict=True):
        jsonschema.validate(event, SCHEMA)
        assert abs(event["start_s"] - truth_start / 16000) <= 0.25 + 1e-3
        assert event["device_id"] == "kitchen" and event["source"] == str(wav)
        assert event["start_time"].startswith("2024-05-01T12:00:")
    assert summaries == [{"file": str(wav), "duration_s": 20.0, "score": summaries[0]["score"],
                          "mean_score": summaries[0]["mean_score"], "events": 4}]  # fmt: skip
    assert summaries[0]["score"] == max(e["peak_score"] for e in events)
    with scores_file.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == (20 * 16000 - 16000) // 4000 + 1 and set(rows[0]) == {
        "source", "start_s", "end_s", "cough"}  # fmt: skip
    assert "error" not in result.stderr


def test_regression_summary_is_the_tutorial_prediction_for_a_short_clip(tmp_path):
    model = make_energy_model(tmp_path / "reg.onnx", labels=("cough_detected",), task="regression")
    clip = cough_stream(np.random.default_rng(2), duration_s=3.0, n_coughs=1).audio[14000:24000]
    wav = write_audio(tmp_path / "clip.wav", clip, 16000)
    result = run_monitor(["replay", str(wav), "--model", str(model), "--summary"])
    assert result.returncode == 0, result.stderr
    summary = events_and_summaries(result.json_lines())[1][0]
    padded = np.zeros((1, 16000), np.float32)
    padded[0, : len(clip)] = clip  # the tutorial: right-pad to the window
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    expected = float(session.run(None, {"waveform": padded})[0][0, 0])
    assert summary["score"] == pytest.approx(expected, abs=1e-4)
    assert summary["duration_s"] == pytest.approx(len(clip) / 16000, abs=1e-3)


@pytest.mark.slow
def test_realtime_replay_is_paced_and_gives_the_same_events(energy_model, tmp_path):
    stream = cough_stream(np.random.default_rng(5), duration_s=4.0, n_coughs=1)
    wav = write_audio(tmp_path / "short.wav", stream.audio, 16000)
    args = ["replay", str(wav), "--model", str(energy_model), "--start-time", START]
    fast = run_monitor(args)
    began = time.monotonic()
    paced = run_monitor([*args, "--realtime"])
    assert time.monotonic() - began >= 3.8
    assert paced.returncode == fast.returncode == 0
    assert len(fast.json_lines()) == 1 and paced.json_lines() == fast.json_lines()


def test_stdin_raw_pcm_gives_the_same_events_as_the_file(cough_stream_wav, energy_model):
    wav, truth = cough_stream_wav
    pcm = (np.stack([truth.audio, truth.audio], axis=1) * 32767).astype("<i2").tobytes()
    result = run_monitor(
        ["replay", "-", "--raw", "s16le", "--rate", "16000", "--channels", "2",
         "--model", str(energy_model), "--start-time", START],
        stdin=pcm,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    events = result.json_lines()
    assert len(events) == 4 and {e["source"] for e in events} == {"stdin"}
    file_events = run_monitor(["replay", str(wav), "--model", str(energy_model)]).json_lines()
    assert [e["start_s"] for e in events] == [e["start_s"] for e in file_events]


def test_plot_draws_a_png(cough_stream_wav, energy_model, tmp_path):
    png = tmp_path / "timeline.png"
    result = run_monitor(["replay", str(cough_stream_wav[0]), "--model", str(energy_model),
                          "--plot", str(png)])  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"cough-monitor: score timeline plotted to {png}" in result.stderr.splitlines()


def test_plot_without_matplotlib_is_one_clear_error(cough_stream_wav, energy_model, tmp_path):
    fake = tmp_path / "fakepkgs/matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated: matplotlib not installed')\n")
    result = run_monitor(
        ["replay", str(cough_stream_wav[0]), "--model", str(energy_model), "--plot",
         str(tmp_path / "p.png")],
        env={"PYTHONPATH": str(fake.parent)},
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "cough-monitor: error: --plot needs matplotlib: install matplotlib"


def test_info_prints_the_metadata_as_text_and_json(energy_model):
    text = run_monitor(["info", "--model", str(energy_model)])
    assert text.returncode == 0
    assert "energy-test" in text.stdout and "16000 Hz mono" in text.stdout
    as_json = json.loads(run_monitor(["info", "--model", str(energy_model), "--json"]).stdout)
    assert as_json["labels"] == ["cough"] and as_json["feature_spec"]["window_samples"] == 16000
    assert as_json["threshold"] == 0.5 and len(as_json["sha256"]) == 64


def test_info_shows_the_effective_detection_settings_from_the_model(tmp_path):
    stored = {"threshold_off": 0.3, "onset_k": 1, "onset_n": 1, "merge_gap_s": 0.25}
    model = make_energy_model(tmp_path / "m.onnx",
                              info_override={"coughwatch.detector": json.dumps(stored)})
    as_json = json.loads(run_monitor(["info", "--model", str(model), "--json"]).stdout)
    assert as_json["detection"] == {
        "threshold": 0.5, "threshold_off": 0.3, "onset_k": 1, "onset_n": 1,
        "min_duration_ms": 0.0, "merge_gap_ms": 250.0, "refractory_ms": 0.0, "hop_ms": 250.0}
    text = run_monitor(["info", "--model", str(model)]).stdout
    assert "threshold 0.5 (off 0.3), onset 1-of-1, min duration 0 ms, merge gap 250 ms" in text


@pytest.mark.parametrize("command", ["replay", "listen"])
def test_help_says_detection_defaults_come_from_the_model(command):
    entries = re.split(r"\n  (?=-)", run_monitor([command, "--help"]).stdout)  # one per option
    for flag in ("--threshold X", "--threshold-off X", "--onset-k K", "--onset-n N",
                 "--min-duration-ms MS", "--merge-gap-ms MS", "--refractory-ms MS", "--hop-ms MS"):
        [described] = [" ".join(e.split()) for e in entries if e.startswith(f"{flag} ")]
        assert "(default: from the model" in described, (flag, described)


def test_replay_help_lists_every_exit_status():
    help_text = run_monitor(["replay", "--help"]).stdout
    statuses = help_text.split("exit status:", 1)[1].split()
    assert {"0", "1", "2", "3", "4", "130"} <= set(statuses)


# ---- bad input: one clear line on stderr, non-zero exit, never a traceback ----


def assert_one_clear_error(result, *fragments: str, returncode: int = 1) -> None:
    assert result.returncode == returncode, result.stderr
    assert "Traceback" not in result.stderr
    errors = result.error_lines()
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def make_bad_file(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.wav"
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        path.write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + np.random.default_rng(1).bytes(3000))
    elif kind == "no-frames":
        write_audio(path, np.zeros(0, np.float32), 16000)
    else:  # nan / inf
        audio = np.zeros(16000 * 2, np.float32)
        audio[20000] = np.nan if kind == "nan" else np.inf
        write_audio(path, audio, 16000)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [("missing", "no such file"), ("empty", "empty file"), ("corrupt", "corrupt or unsupported audio"),
     ("no-frames", "no audio"), ("nan", "non-finite sample (NaN or inf) at 1.250 s"),
     ("inf", "non-finite sample (NaN or inf) at 1.250 s")],
)  # fmt: skip
def test_bad_audio_files(kind, message, energy_model, tmp_path):
    path = make_bad_file(kind, tmp_path)
    result = run_monitor(["replay", str(path), "--model", str(energy_model)])
    assert_one_clear_error(result, str(path), message)


def test_several_files_good_ones_processed_exit_partial(cough_stream_wav, energy_model, tmp_path):
    bad = [make_bad_file(kind, tmp_path) for kind in ("missing", "nan")]
    args = [str(bad[0]), str(cough_stream_wav[0]), str(bad[1])]
    result = run_monitor(["replay", *args, "--model", str(energy_model), "--summary"])
    assert result.returncode == 3
    assert len(result.error_lines()) == 2 and "Traceback" not in result.stderr
    events, summaries = events_and_summaries(result.json_lines())
    assert events == [] and [s["file"] for s in summaries] == [str(cough_stream_wav[0])]
    assert summaries[0]["events"] == 4
    all_bad = run_monitor(["replay", str(bad[0]), str(bad[1]), "--model", str(energy_model)])
    assert all_bad.returncode == 1 and len(all_bad.error_lines()) == 2


def test_unsupported_format_without_ffmpeg(energy_model, tmp_path):
    clip = tmp_path / "clip.m4a"
    if shutil.which("ffmpeg"):  # a real AAC file that only ffmpeg could decode
        wav = write_audio(tmp_path / "src.wav", np.zeros(16000, np.float32), 16000)
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), str(clip)], check=True)
    else:
        clip.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    no_ffmpeg = tmp_path / "empty-bin"
    no_ffmpeg.mkdir()
    result = run_monitor(["replay", str(clip), "--model", str(energy_model)],
                         env={"PATH": str(no_ffmpeg)})  # fmt: skip
    assert_one_clear_error(result, str(clip), "install ffmpeg")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [(["--rate", "0"], b"\x00" * 100, "--rate 0 Hz is not a usable sample rate"),
     (["--rate", "1000000000"], b"\x00" * 100, "not a usable sample rate"),
     (["--rate", "16000"], b"\x00" * 32001, "truncated stream: 1 trailing bytes"),
     (["--rate", "16000"], b"", "stdin: no audio")],
)  # fmt: skip
def test_bad_stdin_streams(args, stdin, message, energy_model):
    result = run_monitor(
        ["replay", "-", "--raw", "s16le", *args, "--model", str(energy_model)], stdin=stdin
    )
    assert_one_clear_error(result, message)


def test_stdin_without_format_is_a_usage_error(energy_model):
    result = run_monitor(["replay", "-", "--model", str(energy_model)], stdin=b"")
    assert result.returncode == 2 and "needs --raw" in result.stderr


def test_models_that_are_not_coughwatch_models(energy_model, cough_stream_wav, tmp_path):
    plain = onnx.load(str(energy_model))
    del plain.metadata_props[:]
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    (tmp_path / "text.onnx").write_text("not a model\n")
    wav = str(cough_stream_wav[0])
    for name, message in [("plain.onnx", "not a coughwatch model"),
                          ("text.onnx", "not a loadable ONNX model"),
                          ("absent.onnx", "model file not found")]:  # fmt: skip
        result = run_monitor(["replay", wav, "--model", str(tmp_path / name)])
        assert_one_clear_error(result, name, message)
    info = run_monitor(["info", "--model", str(tmp_path / "plain.onnx")])
    assert_one_clear_error(info, "not a coughwatch model")


@pytest.mark.skipif(default_model_path().is_file(), reason="a default model is bundled")
def test_no_bundled_model_is_stated_clearly(cough_stream_wav):
    assert_one_clear_error(run_monitor(["replay", str(cough_stream_wav[0])]),
                           "no bundled default model", "--model")  # fmt: skip


def test_the_monitor_never_imports_torch(cough_stream_wav, energy_model, tmp_path):
    code = f"""
import sys
import monitor.cli
from monitor.audio import ringbuffer, sources
from monitor.commands import info, plot, replay
from monitor.config import cliargs
from monitor.output import local
from monitor.scoring import context, detector, pipeline, scorer, stats
assert "torch" not in sys.modules, "import"
rc = monitor.cli.main(["replay", {str(cough_stream_wav[0])!r}, "--model", {str(energy_model)!r},
                       "--summary", "--plot", {str(tmp_path / "p.png")!r},
                       "--scores-out", {str(tmp_path / "s.csv")!r}])
rc |= monitor.cli.main(["info", "--model", {str(energy_model)!r}])
assert rc == 0, rc
bad = sorted(m for m in sys.modules if m == "torch" or m.startswith(("torch.", "torchaudio")))
assert not bad, bad
print("NO-TORCH-OK")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("NO-TORCH-OK")
