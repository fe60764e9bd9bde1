"""Home Assistant MQTT discovery: the config messages that describe this monitor.

One HA device per monitor with: a ``binary_sensor`` "Coughing" (device_class
``sound``) on ``…/state``; an ``event`` entity fed by ``…/event`` (HA needs an
``event_type`` key, so a ``value_template`` maps the event JSON to one); a
``total_increasing`` sensor for coughs today and measurements for the last
hour and the last night (see :mod:`monitor.history.nights`), all from ``…/stats``;
a ``switch`` "Monitoring" for the privacy pause (``…/set``, ``…/monitoring``); diagnostic sensors for input level, real-time
factor, model and outbox depth. Every entity is available only while
``…/status`` says ``online``. Configs are retained and re-sent whenever
``homeassistant/status`` says ``online`` (HA restarted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from monitor.mqtt.topics import OFFLINE, ONLINE, STATE_OFF, STATE_ON, Topics

_UNSAFE: Final = re.compile(r"[^a-zA-Z0-9_-]")
EVENT_VALUE_TEMPLATE: Final = (
    '{"event_type": "{{ value_json.label }}", "event_id": "{{ value_json.event_id }}", '
    '"peak_score": {{ value_json.peak_score }}, "start_time": "{{ value_json.start_time }}", '
    '"end_time": "{{ value_json.end_time }}"}'
)


@dataclass(frozen=True)
class DeviceDescription:
    """What HA shows about the monitor."""

    device_id: str
    model_name: str
    """``name@sha256-prefix`` of the model file."""
    event_labels: Sequence[str]
    """The labels that produce events: HA ``event_types``."""


@dataclass(frozen=True)
class _Sensor:
    object_id: str
    name: str
    stats_key: str
    unit: str | None = None
    state_class: str | None = "measurement"
    diagnostic: bool = False


_SENSORS: Final = (
    _Sensor("coughs_today", "Coughs today", "coughs_today", state_class="total_increasing"),
    _Sensor("coughs_last_hour", "Coughs last hour", "coughs_last_hour"),
    _Sensor("coughs_last_night", "Coughs last night", "coughs_last_night"),
    _Sensor("input_level", "Input level", "input_level_dbfs", unit="dBFS", diagnostic=True),
    _Sensor("realtime_factor", "Real-time factor", "realtime_factor", diagnostic=True),
    _Sensor("model_version", "Model", "model", state_class=None, diagnostic=True),
    _Sensor("outbox_depth", "Events waiting", "outbox_depth", diagnostic=True),
)


def node_id(device_id: str) -> str:
    """The HA discovery node id: ``coughwatch_<device_id>`` with unsafe characters as ``_``."""
    return _UNSAFE.sub("_", f"coughwatch_{device_id}")


def discovery_messages(
    ha_prefix: str, topics: Topics, device: DeviceDescription
) -> list[tuple[str, str]]:
    """``(config topic, JSON payload)`` for every entity, to publish retained."""
    node = node_id(device.device_id)
    common = _common(topics, device, node)
    configs: list[tuple[str, str, dict[str, Any]]] = [
        ("binary_sensor", "coughing", {
            "name": "Coughing", "device_class": "sound", "state_topic": topics.state,
            "payload_on": STATE_ON, "payload_off": STATE_OFF,
        }),
        ("event", "cough", {
            "name": "Cough", "state_topic": topics.event, "qos": 1,
            "event_types": list(device.event_labels), "value_template": EVENT_VALUE_TEMPLATE,
        }),
        ("switch", "monitoring", {  # the privacy pause: OFF = paused (monitor.live.pause)
            "name": "Monitoring", "command_topic": topics.command, "state_topic": topics.monitoring,
            "payload_on": STATE_ON, "payload_off": STATE_OFF, "retain": True, "qos": 1,
            "icon": "mdi:microphone",
        }),
    ]
    configs += [("sensor", s.object_id, _sensor_config(s, topics)) for s in _SENSORS]
    return [
        (f"{ha_prefix}/{component}/{node}/{object_id}/config",
         json.dumps({**body, **common, "unique_id": f"{node}_{object_id}"}))
        for component, object_id, body in configs
    ]


def _sensor_config(sensor: _Sensor, topics: Topics) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": sensor.name, "state_topic": topics.stats,
        "value_template": f"{{{{ value_json.{sensor.stats_key} }}}}",
    }
    if sensor.unit:
        config["unit_of_measurement"] = sensor.unit
    if sensor.state_class:
        config["state_class"] = sensor.state_class
    if sensor.diagnostic:
        config["entity_category"] = "diagnostic"
    return config


def _common(topics: Topics, device: DeviceDescription, node: str) -> dict[str, Any]:
    version = _version()
    return {
        "availability_topic": topics.status,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": {
            "identifiers": [node],
            "name": f"coughwatch {device.device_id}",
            "manufacturer": "coughwatch",
            "model": device.model_name,
            "sw_version": version,
        },
        "origin": {"name": "coughwatch", "sw_version": version},
    }


def _version() -> str:
    from importlib import metadata  # ~1 MB (email, zipfile, ...): only with discovery on

    try:
        return metadata.version("coughwatch")
    except metadata.PackageNotFoundError:
        return "unknown"
