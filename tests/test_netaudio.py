"""Network audio (`listen --input URL`): ffmpeg itself serving a stream on loopback, killed and
restarted under the real daemon; the input class against real ffmpeg; credentials never shown."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from fx_listen import RATE_HZ, cough_bout
from fx_mosquitto import free_port

from monitor.errors import AudioInputError
from monitor.history.store import FILENAME
from monitor.netaudio.source import NetSettings, NetworkInput
from monitor.netaudio.url import redact_text, redact_url

PASSWORD = "hunter2-secret"
PREFIX = "coughwatch/livetest"

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


class StreamServer:
    """``ffmpeg -re -i FILE -f wav -listen 1 http://127.0.0.1:PORT/mic.wav``: one client, paced
    like a live microphone; ``kill``/``start`` again on the same port."""

    def __init__(self, wav: Path) -> None:
        self.wav, self.port = wav, free_port()
        self.url = f"http://127.0.0.1:{self.port}/mic.wav"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> StreamServer:
        self.proc = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "quiet", "-re", "-i",
             str(self.wav), "-f", "wav", "-listen", "1", self.url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # ffmpeg binds its port within a few ms
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def coughs_every_3_5_s(tmp_path: Path) -> Path:
    """60 s of audio: a cough bout every 3.5 s (16 kHz mono s16 WAV)."""
    rng = np.random.default_rng(11)
    audio = np.concatenate([cough_bout(rng, 1.0, 1.6) for _ in range(17)])
    path = tmp_path / "coughs.wav"
    soundfile.write(path, audio, RATE_HZ, subtype="PCM_16")
    return path


@pytest.fixture
def server(coughs_every_3_5_s):
    servers: list[StreamServer] = []

    def make() -> StreamServer:
        servers.append(StreamServer(coughs_every_3_5_s).start())
        return servers[-1]

    yield make
    for one in servers:
        one.kill()


def with_password(url: str) -> str:
    return url.replace("http://", f"http://cam:{PASSWORD}@")


@pytest.mark.slow
def test_events_arrive_the_stall_is_reported_and_the_stream_comes_back(
    listen_factory, notify, server, mosquitto, subscriber_factory, tmp_path
):
    first = server()
    sub = subscriber_factory(mosquitto, [f"{PREFIX}/stats", f"{PREFIX}/status"])
    daemon = listen_factory("--input", with_password(first.url), "--stall-timeout-s", "1",
                            broker=mosquitto)  # fmt: skip
    notify.wait_for("READY", "1", timeout_s=30)
    events = daemon.wait_events(2, timeout_s=20)
    shown = f"http://***@127.0.0.1:{first.port}/mic.wav"
    assert {e["source"] for e in events} == {shown}

    first.kill()
    killed_at = time.monotonic()
    stalled_at = notify.wait_for("STATUS", "stalled", since=killed_at, timeout_s=10)
    time.sleep(3.5)
    # as for a sound card: no WATCHDOG=1 once no audio came for the stall timeout (1 s)
    assert notify.times("WATCHDOG", since=stalled_at + 1.1) == []
    sub.wait_for(lambda ms: any(json.loads(m.payload).get("input_state") == "stalled"
                                for m in ms if m.topic.endswith("/stats")), what="stats stalled")
    before = len(daemon.stdout)

    server_again = StreamServer(first.wav)
    server_again.port, server_again.url = first.port, first.url
    server_again.start()
    try:
        back_at = time.monotonic()
        notify.wait_for("WATCHDOG", "1", since=back_at, timeout_s=30)
        daemon.wait_events(before + 2, timeout_s=30)
        sub.wait_for(lambda ms: [json.loads(m.payload)["input_state"] for m in ms
                                 if m.topic.endswith("/stats")][-1] == "running",
                     what="stats running again")  # fmt: skip
        assert daemon.proc.poll() is None
        assert daemon.stop() == 0
    finally:
        server_again.kill()
    log = daemon.log()
    assert "stalled: the stream ended" in log and "recovered" in log
    assert "Traceback" not in log
    everything = log + "".join(daemon.stdout) + json.dumps(notify.messages) + json.dumps(
        [m.payload for m in sub.messages])
    assert PASSWORD not in everything and shown in log
    sources = sqlite3.connect(tmp_path / "state" / FILENAME).execute(
        "SELECT DISTINCT source FROM events").fetchall()
    assert sources == [(shown,)]


def test_an_unreachable_stream_is_retried_with_backoff_and_never_shows_the_password(
    listen_factory, notify
):
    url = with_password(f"http://127.0.0.1:{free_port()}/mic.wav")
    daemon = listen_factory("--input", url, "--stall-timeout-s", "1")
    daemon.wait_log("next try in 2.0 s", timeout_s=20)  # 0.5 s, 1 s, 2 s ...
    assert notify.wait_for("STATUS", "stalled", timeout_s=5)
    assert daemon.proc.poll() is None  # a camera that is off is not fatal
    assert daemon.stop() == 0
    log = daemon.log()
    assert "Connection refused" in log and PASSWORD not in log and "http://***@127.0.0.1" in log
    assert "Traceback" not in log


@pytest.mark.parametrize(("args", "message"), [
    (["--input", f"cam:{PASSWORD}@camera/stream"], "audio.input_url: must be a URL"),
    (["--input", f"rtsp://cam:{PASSWORD}@camera/s", "--input-device", "pulse"],
     "give input_device (a sound card) or input_url (network audio), not both"),
])
def test_bad_input_settings_are_one_line_without_the_password(listen_factory, args, message):
    daemon = listen_factory(*args)
    assert daemon.proc.wait(timeout=30) == 1
    assert len(daemon.stderr) == 1 and message in daemon.stderr[0], daemon.log()
    assert PASSWORD not in daemon.log()


def test_without_ffmpeg_listen_says_so_in_one_line(listen_factory):
    daemon = listen_factory("--input", "rtsp://camera/stream", env={"PATH": "/nonexistent"})
    assert daemon.proc.wait(timeout=30) == 1
    errors = [line for line in daemon.stderr if "error" in line]
    assert errors == ["cough-monitor: error: network audio needs ffmpeg, which is not "
                      "installed (Debian: apt install ffmpeg)\n"], daemon.log()
    assert "Traceback" not in daemon.log()


def test_the_input_delivers_mono_blocks_at_the_model_rate_then_reports_the_end(tmp_path):
    t = np.arange(int(2.0 * 48000)) / 48000
    tone = 0.4 * np.sin(2 * np.pi * 440.0 * t)
    wav = tmp_path / "tone.wav"
    soundfile.write(wav, np.stack([tone, tone], axis=1).astype(np.float32), 48000)
    source = NetworkInput(NetSettings(RATE_HZ, f"file://{wav}", block_ms=50, queue_blocks=1000,
                                      stall_timeout_s=5.0))  # fmt: skip
    source.open()
    blocks, deadline = [], time.monotonic() + 10
    while time.monotonic() < deadline and source.health().state != "stalled":
        block = source.read(0.2)
        if block is not None:
            blocks.append(block)
    health = source.health()
    source.close()
    assert {b.segment for b in blocks} == {0}
    assert [b.start_sample for b in blocks] == list(np.cumsum([0] + [b.samples.size for b in blocks[:-1]]))
    assert all(b.samples.size == 800 for b in blocks[:-1])  # 50 ms at 16 kHz
    audio = np.concatenate([b.samples for b in blocks])
    assert abs(audio.size - 2 * RATE_HZ) <= 800
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    assert abs(np.argmax(spectrum) * RATE_HZ / audio.size - 440.0) < 2.0
    assert health.counters.stalls == 1 and "the stream ended" in health.reason


def test_open_fails_only_without_ffmpeg():
    with pytest.raises(AudioInputError, match="needs no-such-ffmpeg"):
        NetworkInput(NetSettings(RATE_HZ, "rtsp://x/y", ffmpeg="no-such-ffmpeg")).open()


@pytest.mark.parametrize(("url", "shown"), [
    ("rtsp://admin:p4ss@192.168.1.20:554/stream2", "rtsp://***@192.168.1.20:554/stream2"),
    ("rtsp://admin:p@ss@cam/s", "rtsp://***@cam/s"),  # an unencoded '@' in the password
    ("http://cam/audio?user=a&password=xyz&x=1", "http://cam/audio?user=a&password=***&x=1"),
    ("https://cam/live?token=abc.def", "https://cam/live?token=***"),
    ("srt://cam:9000", "srt://cam:9000"),
])
def test_urls_are_shown_without_their_secrets(url, shown):
    assert redact_url(url) == shown


def test_ffmpeg_messages_lose_the_secret_even_percent_decoded():
    url = "rtsp://admin:p%40ss%21@cam/s"
    message = "[rtsp @ 0x1] method DESCRIBE failed: 401 Unauthorized for admin:p@ss! at rtsp://admin:p%40ss%21@cam/s"
    shown = redact_text(message, url)
    assert "p@ss!" not in shown and "p%40ss%21" not in shown and "rtsp://***@cam/s" in shown


def test_a_reload_to_another_url_switches_streams(listen_factory, notify, server, tmp_path):
    first, second = server(), server()
    config = tmp_path / "coughwatch.toml"
    config.write_text(f'[audio]\ninput_url = "{with_password(first.url)}"\nstall_timeout_s = 1\n')
    daemon = listen_factory("--config", str(config))
    daemon.wait_events(1, timeout_s=30)
    config.write_text(f'[audio]\ninput_url = "{second.url}"\nstall_timeout_s = 1\n')
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_log("configuration reloaded")
    deadline = time.monotonic() + 30
    while not any(e["source"] == second.url for e in daemon.events()):
        assert time.monotonic() < deadline, daemon.log()
        time.sleep(0.1)
    assert daemon.stop() == 0
    assert PASSWORD not in daemon.log()
