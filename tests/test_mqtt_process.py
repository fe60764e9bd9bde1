"""Whole processes: SIGKILL and the last will, a backlog that survives a killed monitor,
and ``cough-monitor replay --mqtt-host`` end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from fx_mosquitto import event_ids, make_event

TESTS = Path(__file__).resolve().parent
SCHEMA = json.loads((TESTS.parent / "monitor/schemas/event.schema.json").read_text())
STATUS = "coughwatch/dev1/status"
EVENT = "coughwatch/dev1/event"

DRIVER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from fx_mosquitto import make_event
from monitor.mqtt.settings import MqttSettings
from monitor.mqtt.sink import make_mqtt_sink
port, state_dir, n_events = int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
settings = MqttSettings(host="127.0.0.1", port=port, reconnect_min_s=1, reconnect_max_s=1)
sink = make_mqtt_sink(settings, None, "dev1", state_dir)
for i in range(n_events):
    sink.bout_ended(make_event(i))
print("queued", flush=True)
if sink.publisher.wait_connected(10):
    print("connected", flush=True)
time.sleep(600)
"""


def start_driver(port: int, state_dir: Path, n_events: int) -> subprocess.Popen[str]:
    """A separate monitor-like process publishing ``n_events`` through the MQTT sink."""
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(port), str(state_dir),
                             str(n_events), str(TESTS)],
                            stdout=subprocess.PIPE, text=True, cwd=TESTS.parent)


def read_until(proc: subprocess.Popen[str], word: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == word:
            return
    pytest.fail(f"driver exited ({proc.wait()}) before saying {word!r}")


def sigkill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_sigkill_leaves_the_last_will_offline_retained(mosquitto, subscriber_factory, tmp_path):
    sub = subscriber_factory(mosquitto, [STATUS])
    driver = start_driver(mosquitto.port, tmp_path / "state", 0)
    try:
        read_until(driver, "connected")
        assert sub.wait_count(STATUS, 1)[-1].payload == "online"
    finally:
        sigkill(driver)
    assert sub.wait_count(STATUS, 2)[-1].payload == "offline"
    fresh = subscriber_factory(mosquitto, [STATUS], client_id="fresh")
    status = fresh.wait_count(STATUS, 1)[0]
    assert (status.payload, status.retained) == ("offline", True)


def test_backlog_of_a_monitor_killed_during_an_outage_arrives(
        mosquitto, subscriber_factory, sink_factory, tmp_path):
    sub = subscriber_factory(mosquitto, [EVENT])  # persistent session: survives the restart
    mosquitto.stop()
    driver = start_driver(mosquitto.port, tmp_path / "state", 5)
    try:
        read_until(driver, "queued")
    finally:
        sigkill(driver)
    mosquitto.start()
    restarted = sink_factory(mosquitto, state_dir=tmp_path / "state")
    assert restarted.publisher.pending() == 5
    restarted.close()
    assert restarted.undelivered == 0
    sub.wait_for(lambda ms: len(event_ids([m for m in ms if m.topic == EVENT])) == 5, 10)
    assert event_ids(sub.on(EVENT)) == [make_event(i).event_id for i in range(5)]


def replay_args(wav: Path, model: Path, port: int, state_dir: Path, *extra: str) -> list[str]:
    return ["replay", str(wav), "--model", str(model), "--device-id", "e2e", "--mqtt-host",
            "127.0.0.1", "--mqtt-port", str(port), "--state-dir", str(state_dir), *extra]


def test_replay_publishes_every_event_it_prints(
        mosquitto, subscriber_factory, monitor_cli, cough_stream_wav, energy_model, tmp_path):
    wav, _ = cough_stream_wav
    sub = subscriber_factory(mosquitto, ["coughwatch/e2e/#"])
    result = monitor_cli(replay_args(wav, energy_model, mosquitto.port, tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    printed = [e["event_id"] for e in result.json_lines()]
    assert printed, "the synthetic stream should produce events"
    messages = sub.wait_count("coughwatch/e2e/event", len(printed))
    assert event_ids(messages) == printed
    for message in messages:
        jsonschema.validate(json.loads(message.payload), SCHEMA)
    assert sub.wait_count("coughwatch/e2e/status", 2)[-1].payload == "offline"


def test_replay_with_the_broker_down_exits_4_and_the_next_run_delivers(
        mosquitto, subscriber_factory, monitor_cli, cough_stream_wav, energy_model, tmp_path):
    wav, _ = cough_stream_wav
    sub = subscriber_factory(mosquitto, ["coughwatch/e2e/event"])
    mosquitto.stop()
    state = tmp_path / "state"
    first = monitor_cli(replay_args(wav, energy_model, mosquitto.port, state, "--flush-timeout", "0.5"))
    printed = [e["event_id"] for e in first.json_lines()]
    assert first.returncode == 4, first.stderr
    lines = [line for line in first.stderr.splitlines() if "not delivered" in line]
    assert len(lines) == 1 and f"{len(printed)} event(s)" in lines[0]
    assert str(state / "outbox.sqlite3") in lines[0]
    mosquitto.start()
    second = monitor_cli(replay_args(wav, energy_model, mosquitto.port, state))
    assert second.returncode == 0, second.stderr
    messages = sub.wait_count("coughwatch/e2e/event", 2 * len(printed))  # backlog + this run
    assert event_ids(messages) == printed  # same audio, same stable ids: subscribers de-dup
