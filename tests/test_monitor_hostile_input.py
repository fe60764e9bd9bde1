"""Hostile or broken input to the real command line: one line and a non-zero exit, never a
traceback or a hang; a closed stdout is nobody's input fault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from fx_audio import REPO, write_audio
from fx_models import make_energy_model

from monitor.scoring.modelfile import FeatureSpecInfo
from train.synth import cough_stream

SPEC = FeatureSpecInfo(16000, 16000, 512, 256, 64, 50.0, 8000.0, 1e-6)


def one_clean_error(result, *words: str) -> None:
    """Exactly one ``error:`` line naming ``words``, a non-zero exit, no traceback."""
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def spec_json(**changes: object) -> str:
    from dataclasses import asdict

    return json.dumps({**asdict(SPEC), **changes})


@pytest.mark.parametrize(("override", "words"), [
    ({"coughwatch.detector": "[0.5, 2]"}, ("detector", "JSON object")),
    ({"coughwatch.detector": '{"onset_k": "many"}'}, ("detector.onset_k", "'many'")),
    ({"coughwatch.detector": '{"min_duration_s": 1e308}'}, ("min_duration_s",)),
    ({"coughwatch.feature_spec": spec_json(sample_rate="16000")}, ("feature_spec.sample_rate",)),
    ({"coughwatch.feature_spec": spec_json(window_samples=True)}, ("feature_spec.window_samples",)),
])
@pytest.mark.parametrize("command", ["replay", "info"])
def test_malformed_model_metadata_is_one_line(command, override, words, monitor_cli,
                                              cough_stream_wav, tmp_path):
    model = make_energy_model(tmp_path / "odd.onnx", info_override=override)
    wav, _ = cough_stream_wav
    args = [command, str(wav)] if command == "replay" else [command]
    result = monitor_cli([*args, "--model", str(model)])
    one_clean_error(result, *words)  # info too: it shows the effective detection settings


@pytest.mark.parametrize("flag", ["--min-duration-ms", "--refractory-ms", "--merge-gap-ms",
                                  "--hop-ms"])
def test_absurd_times_are_refused_not_overflowed(flag, monitor_cli, cough_stream_wav,
                                                 energy_model):
    wav, _ = cough_stream_wav
    result = monitor_cli(["replay", str(wav), "--model", str(energy_model), flag, "1e308"])
    one_clean_error(result, flag, "at most")


def test_a_huge_batch_is_refused_not_allocated(monitor_cli, cough_stream_wav, energy_model):
    wav, _ = cough_stream_wav
    result = monitor_cli(["replay", str(wav), "--model", str(energy_model), "--batch", "100000000"])
    one_clean_error(result, "--batch")


def test_a_batch_too_big_for_the_model_window_is_refused(monitor_cli, cough_stream_wav, tmp_path):
    model = make_energy_model(tmp_path / "long.onnx", window_samples=160000)  # 10 s windows
    wav, _ = cough_stream_wav
    result = monitor_cli(["replay", str(wav), "--model", str(model), "--batch", "1000"])
    one_clean_error(result, "--batch 1000", "MiB")


def test_replay_threads_are_capped_like_listen(monitor_cli, cough_stream_wav, energy_model):
    wav, _ = cough_stream_wav
    began = time.monotonic()
    result = monitor_cli(["replay", str(wav), "--model", str(energy_model), "--threads", "100000"],
                         timeout_s=60)
    one_clean_error(result, "--threads", "64")
    assert time.monotonic() - began < 30


def test_truncated_wav_is_scored_then_reported_like_truncated_stdin(monitor_cli, energy_model,
                                                                    tmp_path):
    stream = cough_stream(np.random.default_rng(7), duration_s=20.0, n_coughs=4)
    path = write_audio(tmp_path / "cut.wav", stream.audio, stream.sample_rate)
    args = ["replay", str(path), "--model", str(energy_model), "--start-time", "2026-01-01T00:00:00Z"]
    whole = monitor_cli(args).json_lines()
    os.truncate(path, path.stat().st_size // 2)  # the header still says 20 s
    result = monitor_cli(args)
    one_clean_error(result, "cut.wav", "truncated", "20.000 s")
    assert result.returncode == 1
    got = result.json_lines()
    assert 0 < len(got) < len(whole)  # what is there was scored
    assert [e["event_id"] for e in got] == [e["event_id"] for e in whole[:len(got)]]


def test_contradicting_mqtt_flags_are_all_named_in_one_line(monitor_cli, cough_stream_wav,
                                                            energy_model, tmp_path):
    wav, _ = cough_stream_wav
    secret = tmp_path / "pw"
    secret.write_text("x")
    result = monitor_cli(["replay", str(wav), "--model", str(energy_model), "--mqtt-host", "h",
                          "--mqtt-topic-prefix", "a/#", "--mqtt-password-file", str(secret),
                          "--mqtt-password-env", "PW"])
    one_clean_error(result, "topic_prefix", "at most one of", "needs a username")


def test_closed_stdout_is_not_blamed_on_the_input(energy_model, cough_stream_wav):
    """`replay a.wav - | head -1`: the reader goes away while stdin's audio is being scored."""
    wav, stream = cough_stream_wav
    pcm = np.asarray(stream.audio * 32767, dtype="<i2").tobytes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "replay", str(wav), "-", "--raw", "s16le",
         "--rate", "16000", "--model", str(energy_model)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    assert json.loads(proc.stdout.readline())["source"] == str(wav)  # `head -1` read its line
    proc.stdout.close()  # ... and exited
    time.sleep(0.5)
    try:
        proc.stdin.write(pcm)  # stdin's coughs are found and written to the closed pipe
        proc.stdin.close()
    except BrokenPipeError:  # it stopped reading: it has already met the closed stdout
        pass
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, stderr  # 128 + SIGPIPE, as a shell reports it
    assert "error" not in stderr and "Traceback" not in stderr and "Broken pipe" not in stderr

