"""Home Assistant MQTT discovery: config content, and re-sending when HA comes online."""

from __future__ import annotations

import json
import subprocess

from fx_mosquitto import make_event

from monitor.mqtt.discovery import DeviceDescription, discovery_messages, node_id
from monitor.mqtt.topics import Topics

TOPICS = Topics("coughwatch/kitchen")
DEVICE = DeviceDescription("kitchen", "energy-test@0123456789ab", ("cough",))


def configs() -> dict[str, dict]:
    return {topic: json.loads(payload) for topic, payload in
            discovery_messages("homeassistant", TOPICS, DEVICE)}


def by_component(component: str) -> list[dict]:
    return [c for t, c in configs().items() if t.split("/")[1] == component]


def test_every_config_has_the_keys_ha_requires():
    entities = configs()
    assert len(entities) == 10
    for topic, config in entities.items():
        _, component, node, object_id, tail = topic.split("/")
        assert (node, tail) == ("coughwatch_kitchen", "config")
        assert config["unique_id"] == f"{node}_{object_id}"
        assert config["state_topic"].startswith("coughwatch/kitchen/")
        assert config["availability_topic"] == "coughwatch/kitchen/status"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        assert config["device"]["identifiers"] == ["coughwatch_kitchen"]
        assert config["name"]


def test_binary_sensor_event_and_counters():
    (binary,) = by_component("binary_sensor")
    assert binary["device_class"] == "sound" and binary["name"] == "Coughing"
    assert binary["state_topic"] == TOPICS.state
    assert (binary["payload_on"], binary["payload_off"]) == ("ON", "OFF")
    (event,) = by_component("event")
    assert event["event_types"] == ["cough"] and event["state_topic"] == TOPICS.event
    sensors = {c["unique_id"].rsplit("_", 2)[-2] + "_" + c["unique_id"].rsplit("_", 1)[-1]: c
               for c in by_component("sensor")}
    today = sensors["coughs_today"]
    assert today["state_class"] == "total_increasing" and today["state_topic"] == TOPICS.stats
    assert today["value_template"] == "{{ value_json.coughs_today }}"
    diagnostic = {k for k, c in sensors.items() if c.get("entity_category") == "diagnostic"}
    assert {"input_level", "realtime_factor", "model_version"} <= diagnostic


def test_event_value_template_yields_the_event_type_ha_needs():
    """Render the template the way HA's Jinja would (here: plain substitution of value_json)."""
    (event,) = by_component("event")
    payload = make_event(0).to_dict()
    rendered = event["value_template"]
    for key in ("label", "event_id", "peak_score", "start_time", "end_time"):
        rendered = rendered.replace(f"{{{{ value_json.{key} }}}}", str(payload[key]))
    data = json.loads(rendered)
    assert data["event_type"] in event["event_types"]
    assert data["event_id"] == payload["event_id"]


def test_node_id_is_topic_safe():
    assert node_id("living room.1") == "coughwatch_living_room_1"


def test_discovery_is_published_and_resent_when_ha_comes_online(
        mosquitto, subscriber_factory, sink_factory):
    sub = subscriber_factory(mosquitto, ["homeassistant/+/+/+/config"])
    sink = sink_factory(mosquitto, device_id="kitchen", ha_discovery=True)
    first = sub.wait_for(lambda ms: sum(m.topic.endswith("/config") for m in ms) >= 10)
    published = {m.topic: json.loads(m.payload) for m in first if m.topic.endswith("/config")}
    expected = configs()
    assert set(published) == set(expected)
    for topic, config in published.items():  # no model given: the device model differs
        assert {**config, "device": None} == {**expected[topic], "device": None}
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto.port),
                    "-t", "homeassistant/status", "-m", "online"], check=True)
    sub.wait_for(lambda ms: sum(m.topic.endswith("/config") for m in ms) >= 20, what="re-sent configs")
    late = subscriber_factory(mosquitto, ["homeassistant/+/+/+/config"], client_id="late")
    retained = late.wait_for(lambda ms: sum(m.topic.endswith("/config") for m in ms) >= 10)
    assert all(m.retained for m in retained if m.topic.endswith("/config"))
    sink.close()


def test_pause_switch_and_coughs_last_night_sensor():
    (switch,) = by_component("switch")
    assert (switch["command_topic"], switch["state_topic"]) == (TOPICS.command, TOPICS.monitoring)
    assert (switch["payload_on"], switch["payload_off"], switch["retain"]) == ("ON", "OFF", True)
    night = configs()["homeassistant/sensor/coughwatch_kitchen/coughs_last_night/config"]
    assert night["state_topic"] == TOPICS.stats and night["name"] == "Coughs last night"
    assert night["value_template"] == "{{ value_json.coughs_last_night }}"

