"""Outbox rows that can never be sent ("poison"), told apart before they reach paho.

Delivery is in order, so one row that paho refuses (``ValueError: Publish topic
cannot contain wildcards``) or that the broker would answer by dropping the
connection would hold up every row behind it, forever. Such a row is moved to
quarantine instead (see :meth:`monitor.mqtt.outbox.Outbox.quarantine`).
"""

from __future__ import annotations

from typing import Final

from monitor.mqtt.outbox import OutboxMessage

MAX_TOPIC_BYTES: Final = 65535
"""MQTT topic names are at most 65,535 bytes of UTF-8."""
MAX_DURABLE_PAYLOAD_BYTES: Final = 256 * 1024
"""A coughwatch event is under 2 kB; a row this big did not come from this monitor
as it is now, and would tie up the link (or exceed a broker's limit) on every retry."""
_PACKET_OVERHEAD_BYTES: Final = 1 + 4 + 2 + 2 + 1
"""PUBLISH fixed header, longest remaining length, topic length, packet id, v5 properties."""
_WILDCARDS: Final = ("+", "#")


def poison_reason(row: OutboxMessage, max_packet_bytes: int | None = None) -> str | None:
    """Why ``row`` can never be published, or None when it can.

    ``max_packet_bytes``: the broker's Maximum Packet Size (MQTT 5 CONNACK), if it sent one.
    """
    try:
        topic_bytes = row.topic.encode("utf-8")
    except UnicodeEncodeError:
        return "topic is not valid UTF-8"
    if not topic_bytes:
        return "empty topic"
    if any(w in row.topic for w in _WILDCARDS):
        return f"topic {row.topic[:80]!r} contains a wildcard ('+' or '#')"
    if "\0" in row.topic:
        return "topic contains a NUL character"
    if len(topic_bytes) > MAX_TOPIC_BYTES:
        return f"topic is {len(topic_bytes)} bytes (MQTT allows {MAX_TOPIC_BYTES})"
    if row.qos not in (0, 1, 2):
        return f"QoS {row.qos} is not 0, 1 or 2"
    if len(row.payload) > MAX_DURABLE_PAYLOAD_BYTES:
        return f"payload of {len(row.payload)} bytes exceeds {MAX_DURABLE_PAYLOAD_BYTES}"
    packet_bytes = len(topic_bytes) + len(row.payload) + _PACKET_OVERHEAD_BYTES
    if max_packet_bytes is not None and packet_bytes > max_packet_bytes:
        return f"{packet_bytes}-byte packet exceeds the broker's maximum of {max_packet_bytes}"
    return None
