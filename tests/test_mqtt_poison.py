"""Rows that can never be sent: device ids that would make them, and quarantine for the ones
already in an outbox (left by an older version): kept, counted, logged once, never in the way."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fx_mosquitto import Broker, event_ids, make_event

from monitor.config.sources import ConfigErrors, ConfigSources, load_settings
from monitor.errors import ConfigError
from monitor.mqtt.outbox import Outbox
from monitor.mqtt.poison import MAX_DURABLE_PAYLOAD_BYTES

EVENT = "coughwatch/dev1/event"
STATS = "coughwatch/dev1/stats"


@pytest.mark.parametrize("bad_id", ["a/#", "kitchen\n", "a+b", "", "x" * 65])
def test_replay_rejects_a_device_id_that_cannot_be_a_topic_level(
        bad_id, monitor_cli, cough_stream_wav, energy_model, tmp_path):
    wav, _ = cough_stream_wav
    state = tmp_path / "state"
    result = monitor_cli(["replay", str(wav), "--model", str(energy_model), "--device-id", bad_id,
                          "--mqtt-host", "127.0.0.1", "--mqtt-port", "1", "--state-dir", str(state)])
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""  # nothing scored, nothing stored
    assert len(result.error_lines()) == 1 and "device id" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (state / "outbox.sqlite3").exists()


def test_replay_without_mqtt_checks_the_device_id_too(monitor_cli, cough_stream_wav, energy_model):
    wav, _ = cough_stream_wav
    result = monitor_cli(["replay", str(wav), "--model", str(energy_model), "--device-id", "a/b"])
    assert result.returncode == 1 and len(result.error_lines()) == 1, result.stderr


def test_listen_config_rejects_a_trailing_newline_in_the_device_id(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('device_id = "kitchen\\n"\n')
    with pytest.raises(ConfigErrors, match="device_id"):
        load_settings(ConfigSources(config_file=config, environ={}))
    with pytest.raises(ConfigError, match="device_id"):  # and from the environment
        load_settings(ConfigSources(environ={"COUGHWATCH_DEVICE_ID": "kitchen\n"}))


def poisoned_outbox(state_dir) -> list[str]:
    """An outbox as an older version left it: good events around a wildcard topic (from
    ``--device-id 'a/#'``) and an oversize payload. Returns the good events' ids in order."""
    state_dir.mkdir()
    box = Outbox.in_dir(state_dir, 100)
    good = [make_event(i) for i in range(4)]
    box.put(EVENT, good[0].to_json().encode(), 1)
    box.put("coughwatch/a/#/event", make_event(9, device_id="a/#").to_json().encode(), 1)
    box.put(EVENT, good[1].to_json().encode(), 1)
    box.put(EVENT, b"x" * (MAX_DURABLE_PAYLOAD_BYTES + 1), 1)
    box.put(EVENT, good[2].to_json().encode(), 1)
    box.put(EVENT, good[3].to_json().encode(), 1)
    box.close()
    return [event.event_id for event in good]


def test_poisoned_rows_go_to_quarantine_and_the_rest_is_delivered_in_order(
        mosquitto, subscriber_factory, sink_factory, tmp_path, caplog):
    state = tmp_path / "state"
    expected = poisoned_outbox(state)
    sub = subscriber_factory(mosquitto, [EVENT, STATS])
    sink = sink_factory(mosquitto, state_dir=state)
    messages = sub.wait_for(lambda ms: len([m for m in ms if m.topic == EVENT]) >= 4,
                            what="the 4 good events")
    assert event_ids([m for m in messages if m.topic == EVENT]) == expected
    assert sink.publisher.wait_drained(5) == 0
    sink.stats({"coughs_today": 0})
    stats = json.loads(sub.wait_count(STATS, 1)[-1].payload)
    assert (stats["outbox_quarantined"], stats["outbox_depth"]) == (2, 0)
    quarantine_lines = [r for r in caplog.records if "moved to quarantine" in r.message]
    assert len(quarantine_lines) == 2
    assert "wildcard" in quarantine_lines[0].message and "exceeds" in quarantine_lines[1].message
    sink.close()
    assert sink.undelivered == 0

    rows = sqlite3.connect(state / "outbox.sqlite3").execute(
        "SELECT seq, topic, length(payload), reason FROM quarantine ORDER BY seq").fetchall()
    assert [(seq, topic) for seq, topic, _, _ in rows] == [(2, "coughwatch/a/#/event"), (4, EVENT)]
    assert rows[1][2] == MAX_DURABLE_PAYLOAD_BYTES + 1  # kept whole, for a person to look at

    caplog.clear()
    again = sink_factory(mosquitto, state_dir=state)  # a restart: said once, not per row again
    assert again.publisher.quarantined() == 2
    assert [r.message for r in caplog.records if "quarantine" in r.message] == [
        f"MQTT: 2 message(s) that can never be sent are kept in quarantine in "
        f"{state / 'outbox.sqlite3'} (see docs/reliability.md)"]


def test_a_row_the_broker_refuses_is_kept_in_quarantine_not_dropped(sink_factory, tmp_path):
    """MQTT 5: a broker ACL that denies the event topic answers each PUBACK 'Not authorized'."""
    broker = Broker(tmp_path / "acl-broker")
    acl = tmp_path / "acl"
    acl.write_text("topic readwrite coughwatch/dev1/status\ntopic readwrite coughwatch/dev1/state\n")
    with broker.conf.open("a") as conf:
        conf.write(f"acl_file {acl}\n")
    broker.start()
    try:
        sink = sink_factory(broker, protocol="5")
        assert sink.publisher.wait_connected(5)
        sink.bout_ended(make_event(0))
        sink.bout_ended(make_event(1))
        assert sink.publisher.wait_drained(5) == 0  # nothing blocks: both answered
        assert sink.publisher.quarantined() == 2
        sink.close()
    finally:
        broker.kill()
    reasons = sqlite3.connect(tmp_path / "state" / "outbox.sqlite3").execute(
        "SELECT reason FROM quarantine ORDER BY seq").fetchall()
    assert reasons == [("refused by the broker: Not authorized",)] * 2
