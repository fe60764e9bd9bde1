"""`cough-monitor listen` end to end: PulseAudio null sink as the microphone, real mosquitto,
a NOTIFY_SOCKET bound by the test in place of systemd."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from fx_notify import NotifySocket

from monitor.audio.mic_devices import NO_DEVICES_HINT
from train.synth import cough_burst

RATE_HZ = 16000
DEVICE_ID = "livetest"
PREFIX = f"coughwatch/{DEVICE_ID}"
CLI = [sys.executable, "-c", "import sys; from monitor.cli import main; sys.exit(main())"]


class NotifyListener(NotifySocket):
    """The notify socket, failing the test when an expected message does not come."""

    def wait_for(self, key: str, value: str | None = None, since: float = 0.0,
                 timeout_s: float = 15.0) -> float:
        found = self.first(key, value, since, timeout_s)
        if found is None:
            pytest.fail(f"no {key}={value or '*'} within {timeout_s} s; got {self.messages}")
        return found


class Listen:
    """A running `cough-monitor listen` subprocess with its output collected."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen([*CLI, "listen", *args], env=env, cwd=cwd, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True).start()

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout_s)

    def log(self) -> str:
        return "".join(self.stderr)


def input_states(messages: list) -> list[str]:
    """``input_state`` of every stats message, in order."""
    return [json.loads(m.payload)["input_state"] for m in messages
            if m.topic == f"{PREFIX}/stats"]


@pytest.fixture
def notify() -> Iterator[NotifyListener]:
    listener = NotifyListener()
    yield listener
    listener.close()


@pytest.fixture
def cough_wav(tmp_path: Path) -> Path:
    """0.5 s silence, a bout of three cough-like bursts, 1.5 s silence (16 kHz mono)."""
    rng = np.random.default_rng(7)
    audio = np.zeros(int(2.8 * RATE_HZ), dtype=np.float32)
    for k in range(3):
        burst = cough_burst(rng, RATE_HZ)
        start = int((0.5 + 0.3 * k) * RATE_HZ)
        audio[start: start + len(burst)] += burst
    path = tmp_path / "cough.wav"
    soundfile.write(path, np.clip(audio, -1, 1), RATE_HZ)
    return path


@pytest.fixture
def start_listen(pulse, notify, energy_model, tmp_path) -> Iterator:
    """``start(*extra_args, broker=None, env=None)`` -> a running :class:`Listen`."""
    started: list[Listen] = []

    def start(*extra: str, broker=None, env: dict[str, str] | None = None) -> Listen:
        args = ["--model", str(energy_model), "--input-device", "pulse", "--device-id",
                DEVICE_ID, "--state-dir", str(tmp_path / "state"), "--stats-interval-s", "1",
                "--stall-timeout-s", "1", *extra]
        if broker is not None:
            args += ["--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port)]
        full_env = dict(pulse.env, NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="1000000",
                        **(env or {}))
        listen = Listen(args, full_env, tmp_path)
        started.append(listen)
        return listen

    yield start
    for listen in started:
        if listen.proc.poll() is None:
            listen.proc.kill()
            listen.proc.wait()


@pytest.mark.slow
def test_played_cough_reaches_mqtt_and_stdout_then_sigterm_says_offline(
    start_listen, notify, pulse, mosquitto, subscriber_factory, cough_wav
):
    sub = subscriber_factory(mosquitto, [f"{PREFIX}/#"])
    listen = start_listen(broker=mosquitto)
    notify.wait_for("READY", "1")
    notify.wait_for("WATCHDOG", "1")
    sub.wait_for(lambda ms: any(m.topic == f"{PREFIX}/status" and m.payload == "online"
                                for m in ms), what="status online")
    pulse.play(cough_wav)
    (event_msg,) = sub.wait_count(f"{PREFIX}/event", 1, timeout_s=10)
    event = json.loads(event_msg.payload)
    assert (event["label"], event["device_id"], event["source"]) == ("cough", DEVICE_ID, "mic:pulse")
    assert event_msg.qos == 1 and not event_msg.retained
    sub.wait_for(lambda ms: [m.payload for m in ms if m.topic == f"{PREFIX}/state"][-2:]
                 == ["ON", "OFF"], what="state ON then OFF")
    assert any("STATUS" in fields and "listening on pulse" in fields["STATUS"]
               for _, fields in notify.messages)

    stop_at = time.monotonic()
    assert listen.stop(signal.SIGTERM) == 0, listen.log()
    notify.wait_for("STOPPING", "1", since=stop_at)
    sub.wait_for(lambda ms: ms[-1].topic == f"{PREFIX}/status" and ms[-1].payload == "offline",
                 what="status offline")
    assert [json.loads(line)["event_id"] for line in listen.stdout] == [event["event_id"]]
    assert "Traceback" not in listen.log()


@pytest.mark.slow
def test_killed_sound_server_stops_the_watchdog_until_it_is_back(
    start_listen, notify, pulse, mosquitto, subscriber_factory
):
    sub = subscriber_factory(mosquitto, [f"{PREFIX}/stats"])
    listen = start_listen(broker=mosquitto)
    notify.wait_for("READY", "1")
    notify.wait_for("WATCHDOG", "1")

    pulse.kill()
    killed_at = time.monotonic()
    stalled_at = notify.wait_for("STATUS", "stalled", since=killed_at, timeout_s=10)
    time.sleep(2.5)
    # after the stall was noticed (1 s stall timeout): no WATCHDOG=1 for 2.5 s (pings: every 0.5 s)
    assert notify.times("WATCHDOG", since=stalled_at) == []
    sub.wait_for(lambda ms: "stalled" in input_states(ms), what="stats with input_state stalled")
    assert "stalled" in listen.log()

    pulse.start()
    back_at = time.monotonic()
    notify.wait_for("WATCHDOG", "1", since=back_at, timeout_s=15)
    sub.wait_for(lambda ms: input_states(ms)[-1] == "running",
                 what="stats with input_state running again")
    assert listen.proc.poll() is None
    assert listen.stop() == 0
    assert "recovered" in listen.log()


@pytest.mark.slow
def test_sighup_reloads_thresholds_and_rejects_a_bad_config(start_listen, notify, pulse,
                                                            cough_wav, tmp_path):
    config = tmp_path / "coughwatch.toml"
    config.write_text("[detector]\nthreshold = 0.999\n")  # nothing is a cough
    listen = start_listen("--config", str(config))
    notify.wait_for("READY", "1")
    pulse.play(cough_wav)
    time.sleep(1.0)
    assert listen.stdout == []

    config.write_text("[detector]\nthreshold = 0.4\n")
    hup_at = time.monotonic()
    listen.proc.send_signal(signal.SIGHUP)
    notify.wait_for("RELOADING", "1", since=hup_at)
    notify.wait_for("READY", "1", since=hup_at)
    time.sleep(0.5)
    pulse.play(cough_wav)
    deadline = time.monotonic() + 5
    while not listen.stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(listen.stdout) == 1, listen.log()
    assert json.loads(listen.stdout[0])["label"] == "cough"

    config.write_text("[detector]\nthreshold = 7\n")
    listen.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "reload rejected" not in listen.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "reload rejected: config: detector.threshold" in listen.log()
    assert listen.proc.poll() is None  # still listening with the previous settings
    assert listen.stop(signal.SIGINT) == 0


def test_no_input_device_at_all_is_one_clear_error(start_listen, tmp_path):
    if Path("/dev/snd").exists():
        pytest.skip("this machine has ALSA sound cards")
    listen = start_listen(env={"PULSE_SERVER": "unix:/nonexistent/pulse/native"})
    assert listen.proc.wait(timeout=30) == 1
    errors = [line for line in listen.stderr if "error" in line]
    assert errors == [f"cough-monitor: error: {NO_DEVICES_HINT}\n"], listen.log()
    assert "Traceback" not in listen.log()


def test_unknown_input_device_names_the_available_ones(start_listen):
    listen = start_listen("--input-device", "usb-mic-that-is-not-there")
    assert listen.proc.wait(timeout=30) == 1
    errors = [line for line in listen.stderr if "error" in line]
    assert len(errors) == 1, listen.log()
    assert "'usb-mic-that-is-not-there' matches no input device (available:" in errors[0]
    assert "pulse" in errors[0]


def test_sighup_moves_to_another_broker(start_listen, notify, broker_factory, subscriber_factory,
                                        tmp_path):
    first, second = broker_factory(), broker_factory()
    subs = [subscriber_factory(b, [f"{PREFIX}/status"], client_id=f"cw-sub-{i}")
            for i, b in enumerate((first, second))]
    config = tmp_path / "coughwatch.toml"
    config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {first.port}\n')
    listen = start_listen("--config", str(config))
    notify.wait_for("READY", "1")
    subs[0].wait_for(lambda ms: ms[-1].payload == "online", what="online on the first broker")

    config.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {second.port}\n')
    listen.proc.send_signal(signal.SIGHUP)
    subs[1].wait_for(lambda ms: ms[-1].payload == "online", what="online on the second broker")
    subs[0].wait_for(lambda ms: ms[-1].payload == "offline", what="offline on the first broker")
    assert listen.stop() == 0
    subs[1].wait_for(lambda ms: ms[-1].payload == "offline", what="offline on the second broker")
