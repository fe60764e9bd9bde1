"""The privacy pause end to end: the real daemon, a PulseAudio null sink as the microphone,
a real mosquitto, HA discovery, the command topic, restarts and SIGHUP reloads."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import pytest

from monitor.history.store import FILENAME

PREFIX = "coughwatch/livetest"
TOPICS = [f"{PREFIX}/{leaf}" for leaf in ("status", "monitoring", "stats", "event", "state")]
"""Not ``set``: the test sends garbage there (mosquitto_sub prints payloads as text)."""
WHOLE_DAY = {"COUGHWATCH_HISTORY__NIGHT_START": "00:00", "COUGHWATCH_HISTORY__NIGHT_END": "00:00"}


def publish(broker, topic: str, payload: str | bytes, retain: bool = False) -> None:
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic]
    data = payload if isinstance(payload, bytes) else payload.encode()
    subprocess.run([*args, *(["-r"] if retain else []), "-s"], input=data, check=True,
                   capture_output=True)  # fmt: skip


def monitoring(messages) -> list[str]:
    return [m.payload for m in messages if m.topic == f"{PREFIX}/monitoring"]


def last_stats(sub) -> dict:
    return json.loads(sub.on(f"{PREFIX}/stats")[-1].payload)


def wait_stats(sub, predicate, what: str, timeout_s: float = 10.0) -> dict:
    sub.wait_for(lambda ms: any(m.topic == f"{PREFIX}/stats" and predicate(json.loads(m.payload))
                                for m in ms[-5:]), timeout_s, what)  # fmt: skip
    return last_stats(sub)


@pytest.mark.slow
def test_pause_over_mqtt_drops_audio_keeps_the_watchdog_and_resumes(
    listen_factory, notify, pulse, mosquitto, subscriber_factory, cough_bout_wav, tmp_path
):
    sub = subscriber_factory(mosquitto, [*TOPICS, "homeassistant/#"])
    daemon = listen_factory("--input-device", "pulse", broker=mosquitto,
                            env={**pulse.env, **WHOLE_DAY, "COUGHWATCH_MQTT__HA_DISCOVERY": "true"})
    notify.wait_for("READY", "1")
    configs = {m.topic: json.loads(m.payload) for m in sub.wait_for(
        lambda ms: sum(m.topic.endswith("/config") for m in ms) >= 10, what="discovery")
        if m.topic.endswith("/config")}  # fmt: skip
    switch = configs["homeassistant/switch/coughwatch_livetest/monitoring/config"]
    assert (switch["command_topic"], switch["state_topic"]) == (f"{PREFIX}/set", f"{PREFIX}/monitoring")
    assert switch["retain"] is True and (switch["payload_on"], switch["payload_off"]) == ("ON", "OFF")
    night = configs["homeassistant/sensor/coughwatch_livetest/coughs_last_night/config"]
    assert night["value_template"] == "{{ value_json.coughs_last_night }}"
    sub.wait_for(lambda ms: monitoring(ms) == ["ON"], what="monitoring ON")

    pulse.play(cough_bout_wav)
    (event,) = daemon.wait_events(1)
    stats = wait_stats(sub, lambda s: s["coughs_last_night"] == 1, "coughs_last_night 1")
    assert stats["paused"] is False and stats["history_unsaved"] == 0

    publish(mosquitto, f"{PREFIX}/set", "OFF", retain=True)
    sub.wait_for(lambda ms: monitoring(ms)[-1:] == ["OFF"], what="monitoring OFF")
    wait_stats(sub, lambda s: s["paused"] is True, "stats paused")
    paused_at = notify.wait_for("STATUS", "paused")
    publish(mosquitto, f"{PREFIX}/set", "maybe")
    publish(mosquitto, f"{PREFIX}/set", b"O" * 100_000)
    publish(mosquitto, f"{PREFIX}/set", b"\xff\xfe")
    pulse.play(cough_bout_wav)
    time.sleep(2.0)
    assert len(daemon.stdout) == 1, "a cough was scored while paused"
    assert len(notify.times("WATCHDOG", since=paused_at)) >= 3  # the daemon is healthy, paused
    assert [m.payload for m in sub.on(f"{PREFIX}/status")][-1] == "online"
    scored = wait_stats(sub, lambda s: s["paused"], "still paused")["windows_scored"]
    time.sleep(1.5)
    assert last_stats(sub)["windows_scored"] == scored  # nothing is scored while paused

    publish(mosquitto, f"{PREFIX}/set", "on")  # any case
    sub.wait_for(lambda ms: monitoring(ms)[-1:] == ["ON"], what="monitoring ON again")
    time.sleep(0.5)
    pulse.play(cough_bout_wav)
    daemon.wait_events(2)
    wait_stats(sub, lambda s: s["coughs_last_night"] == 2 and not s["paused"], "2 coughs, resumed")
    assert daemon.stop() == 0
    log = daemon.log()
    assert log.count("ignoring a command") == 1, log  # three bad payloads, one line
    assert "monitoring paused (MQTT command)" in log and "monitoring resumed (MQTT command)" in log
    assert "Traceback" not in log
    assert event["event_id"] != daemon.events()[1]["event_id"]
    kept = sqlite3.connect(tmp_path / "state" / FILENAME).execute(
        "SELECT event_id, device_id FROM events ORDER BY start_unix_s").fetchall()
    assert kept == [(e["event_id"], "livetest") for e in daemon.events()]  # the history has both


@pytest.mark.slow
def test_a_retained_pause_survives_a_restart_and_a_config_change_lifts_it(
    listen_factory, notify, pulse, mosquitto, subscriber_factory, cough_bout_wav, tmp_path
):
    config = tmp_path / "coughwatch.toml"
    config.write_text("paused = false\n")
    sub = subscriber_factory(mosquitto, TOPICS)
    publish(mosquitto, f"{PREFIX}/set", "OFF", retain=True)  # paused from HA while it was down
    daemon = listen_factory("--input-device", "pulse", "--config", str(config), broker=mosquitto,
                            env=pulse.env)
    notify.wait_for("READY", "1")
    wait_stats(sub, lambda s: s["paused"] is True, "paused at start by the retained command")
    pulse.play(cough_bout_wav)
    time.sleep(1.5)
    assert daemon.stdout == []

    config.write_text("paused = true\n")  # changed, but the same state: nothing happens
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_log("configuration reloaded")
    config.write_text("paused = false\n")  # the later change wins over the older MQTT command
    hup_at = time.monotonic()
    daemon.proc.send_signal(signal.SIGHUP)
    notify.wait_for("READY", "1", since=hup_at)
    wait_stats(sub, lambda s: s["paused"] is False, "resumed by the reload")
    daemon.wait_log("monitoring resumed (config)")

    mosquitto.stop()  # the retained OFF comes again on the reconnect: it must not re-pause
    mosquitto.start()
    sub.wait_for(lambda ms: [m.payload for m in ms if m.topic == f"{PREFIX}/status"][-1:] ==
                 ["online"] and len([m for m in ms if m.topic == f"{PREFIX}/status"]) >= 2,
                 timeout_s=20, what="online after the broker restart")
    time.sleep(1.5)
    assert last_stats(sub)["paused"] is False
    pulse.play(cough_bout_wav)
    daemon.wait_events(1)
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log()
