"""The microphone source against a real PulseAudio null sink (sounddevice device 'pulse')."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from monitor.audio.mic import MicBlock, Microphone, MicSettings
from monitor.audio.mic_devices import (
    NO_DEVICES_HINT,
    find_input_device,
    reinitialize,
    sounddevice_module,
)
from monitor.errors import AudioInputError

RATE_HZ = 16000
CLI = [sys.executable, "-c", "import sys; from monitor.cli import main; sys.exit(main())"]


@pytest.fixture
def sd(pulse, monkeypatch) -> Iterator[Any]:
    """sounddevice talking to the test's PulseAudio (PortAudio re-initialised to see it)."""
    for key in ("XDG_RUNTIME_DIR", "HOME", "PULSE_SERVER"):
        monkeypatch.setenv(key, pulse.env[key])
    module = sounddevice_module()
    reinitialize(module)
    yield module
    monkeypatch.undo()
    reinitialize(module)


def tone_wav(path: Path, freq_hz: float, duration_s: float, rate_hz: int = RATE_HZ) -> Path:
    t = np.arange(int(duration_s * rate_hz)) / rate_hz
    soundfile.write(path, (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32), rate_hz)
    return path


def read_for(mic: Microphone, duration_s: float) -> list[MicBlock]:
    blocks, deadline = [], time.monotonic() + duration_s
    while time.monotonic() < deadline:
        block = mic.read(0.2)
        if block is not None:
            blocks.append(block)
    return blocks


def dominant_hz(samples: np.ndarray, rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate_hz / len(samples))


def loud_part(blocks: list[MicBlock]) -> np.ndarray:
    audio = np.concatenate([b.samples for b in blocks])
    loud = np.flatnonzero(np.abs(audio) > 0.1)
    assert loud.size > RATE_HZ // 2, "the played tone was not heard"
    return audio[loud[0]: loud[-1]]


def test_records_what_is_played_on_a_gapless_sample_clock(sd, pulse, tmp_path):
    mic = Microphone(MicSettings(sample_rate=RATE_HZ, device="pulse"), sd=sd)
    mic.open()
    try:
        player = pulse.play(tone_wav(tmp_path / "tone.wav", 440.0, 1.0), wait=False)
        blocks = read_for(mic, 2.0)
        player.wait(timeout=10)
    finally:
        mic.close()
    assert all(b.samples.dtype == np.float32 and b.samples.ndim == 1 for b in blocks)
    starts = [b.start_sample for b in blocks]
    ends = [b.start_sample + len(b.samples) for b in blocks]
    assert starts[0] == 0 and starts[1:] == ends[:-1]
    assert {b.segment for b in blocks} == {0}
    assert dominant_hz(loud_part(blocks), RATE_HZ) == pytest.approx(440.0, abs=5.0)
    health = mic.health()
    assert health.device_rate_hz == RATE_HZ and health.channels == 1


def test_stereo_only_device_without_the_model_rate_is_mixed_down_and_resampled(sd, pulse, tmp_path):
    """Fault injection: the device claims to support neither 16 kHz nor mono (PulseAudio
    accepts anything), so it is opened in stereo at its default rate."""

    class RateRefusing:
        def __getattr__(self, name: str) -> Any:
            return getattr(sd, name)

        def check_input_settings(self, **kwargs: Any) -> None:
            if kwargs.get("samplerate") == RATE_HZ:
                raise sd.PortAudioError("Invalid sample rate")
            if kwargs.get("channels") == 1:
                raise sd.PortAudioError("Invalid number of channels")
            sd.check_input_settings(**kwargs)

    mic = Microphone(MicSettings(sample_rate=RATE_HZ, device="pulse"), sd=RateRefusing())
    mic.open()
    try:
        player = pulse.play(tone_wav(tmp_path / "tone.wav", 1000.0, 1.0), wait=False)
        blocks = read_for(mic, 2.0)
        player.wait(timeout=10)
    finally:
        mic.close()
    device_rate = mic.health().device_rate_hz
    assert device_rate == find_input_device("pulse", sd).default_rate_hz != RATE_HZ
    assert mic.health().channels == 2
    assert all(b.samples.ndim == 1 for b in blocks)
    received_s = sum(len(b.samples) for b in blocks) / RATE_HZ
    assert received_s == pytest.approx(2.0, abs=0.5)  # model-rate samples, not device-rate ones
    assert dominant_hz(loud_part(blocks), RATE_HZ) == pytest.approx(1000.0, abs=10.0)


def test_full_queue_drops_and_counts_blocks(sd):
    mic = Microphone(MicSettings(sample_rate=RATE_HZ, device="pulse", block_ms=20,
                                 queue_blocks=2), sd=sd)
    mic.open()
    try:
        time.sleep(1.0)  # the worker "falls behind": nobody reads
        assert mic.health().counters.dropped_blocks > 10
        assert mic.read(1.0) is not None  # and it goes on afterwards
    finally:
        mic.close()


@pytest.mark.slow
def test_vanished_server_is_a_stall_and_the_device_is_reopened_when_back(sd, pulse):
    mic = Microphone(MicSettings(sample_rate=RATE_HZ, device="pulse", stall_timeout_s=1.0,
                                 backoff_initial_s=0.2, backoff_max_s=0.5), sd=sd)
    mic.open()
    try:
        assert read_for(mic, 0.5)
        pulse.kill()
        deadline = time.monotonic() + 5
        while mic.health().state != "stalled" and time.monotonic() < deadline:
            mic.read(0.2)
        health = mic.health()
        assert health.state == "stalled" and health.counters.stalls == 1
        assert not read_for(mic, 1.0)  # nothing while the server is gone
        pulse.start()
        blocks = read_for(mic, 4.0)
    finally:
        mic.close()
    assert blocks and blocks[-1].segment >= 1  # a new segment: its own clock from 0
    assert mic.health().counters.reopens >= 1


def test_device_lookup_by_name_index_and_default(sd):
    by_name = find_input_device("pulse", sd)
    assert find_input_device(str(by_name.index), sd) == by_name
    assert find_input_device(None, sd).is_default
    with pytest.raises(AudioInputError, match=r"'no-such-mic' matches no input device "
                                              r"\(available: .*pulse"):
        find_input_device("no-such-mic", sd)


def test_no_sound_server_and_no_cards_means_no_devices(sd, monkeypatch):
    if Path("/dev/snd").exists():
        pytest.skip("this machine has ALSA sound cards")
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent/pulse/native")
    reinitialize(sd)
    with pytest.raises(AudioInputError, match="no audio input devices found"):
        find_input_device(None, sd)


def test_devices_command_lists_inputs_and_marks_the_default(pulse):
    done = subprocess.run([*CLI, "devices"], env=pulse.env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()
    assert rows[0].split() == ["index", "name", "hostapi", "rate_hz", "channels"]
    names = {row.lstrip("* ").split()[1]: row for row in rows[1:]}
    assert {"pulse", "default"} <= set(names)
    assert names["default"].startswith("*")


def test_devices_command_without_any_device_is_one_clear_line(pulse):
    if Path("/dev/snd").exists():
        pytest.skip("this machine has ALSA sound cards")
    env = dict(pulse.env, PULSE_SERVER="unix:/nonexistent/pulse/native")
    done = subprocess.run([*CLI, "devices"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("cough-monitor:")]
    assert errors == [f"cough-monitor: error: {NO_DEVICES_HINT}"]
    assert "Traceback" not in done.stderr


def test_missing_portaudio_library_is_one_clear_line():
    """Fault injection: the dynamic loader finds no libportaudio (cannot uninstall it here)."""
    code = ("import ctypes.util, sys; ctypes.util.find_library = lambda name: None; "
            "from monitor.cli import main; sys.exit(main(['devices']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("cough-monitor: error: cannot use the microphone: PortAudio "
                                   "library not found (install the PortAudio library, e.g. "
                                   "'apt install libportaudio2')")
