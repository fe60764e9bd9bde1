"""What the monitor reads from the broker, bounded: no message on a subscribed topic can
make it hold more than :data:`MAX_INCOMING_PACKET_BYTES` of it in memory.

The monitor subscribes only to small control topics (``homeassistant/status``:
``online``/``offline``). Anyone who may publish there could leave a retained
150 MB message that every (re)connect delivers again; paho reads a packet
whole into memory before any callback sees it, so a check in ``on_message``
alone comes too late. Three layers, each logged once:

* MQTT 5: the CONNECT packet carries Maximum Packet Size, so the broker does
  not send bigger packets at all.
* :class:`BoundedClient` (any protocol): a bigger PUBLISH is read off the
  socket in chunks and thrown away, never assembled. Subscriptions use QoS 0,
  so a discarded message needs no acknowledgement.
* :meth:`IncomingGuard.wrap`: handlers get payloads of at most
  :data:`MAX_INCOMING_PAYLOAD_BYTES`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

MAX_INCOMING_PACKET_BYTES: Final = 64 * 1024
"""Largest incoming packet read into memory (remaining length, bytes)."""
MAX_INCOMING_PAYLOAD_BYTES: Final = 1024
"""Largest payload handed to a handler; ``online`` is 6 bytes."""
DISCARD_CHUNK_BYTES: Final = 64 * 1024
_PUBLISH: Final = 0x30

MessageHandler = Callable[[bytes], None]
PahoCallback = Callable[[Any, Any, mqtt.MQTTMessage], None]


class IncomingGuard:
    """Counts and logs (once) incoming messages ignored for their size."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.ignored = 0
        """Messages ignored since start (packets discarded plus payloads refused)."""

    def note(self, what: str, size_bytes: int, limit_bytes: int) -> None:
        """Count one ignored message; the first is logged at warning level, the rest at debug."""
        with self._lock:
            self.ignored += 1
            first = self.ignored == 1
        (log.warning if first else log.debug)(
            "MQTT: ignored an incoming %s of %d bytes (more than %d)%s", what, size_bytes,
            limit_bytes, "; further ones are counted, not logged" if first else "")

    def wrap(self, handler: MessageHandler) -> PahoCallback:
        """A paho message callback calling ``handler(payload)`` for payloads within the bound."""

        def on_message(_client: Any, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
            if len(msg.payload) > MAX_INCOMING_PAYLOAD_BYTES:
                self.note(f"message on {msg.topic!r}", len(msg.payload), MAX_INCOMING_PAYLOAD_BYTES)
                return
            handler(msg.payload)

        return on_message

    @staticmethod
    def connect_properties(protocol: str) -> Properties | None:
        """MQTT 5 CONNECT properties announcing :data:`MAX_INCOMING_PACKET_BYTES`; None for 3.1.1."""
        if protocol != "5":
            return None
        properties = Properties(PacketTypes.CONNECT)
        properties.MaximumPacketSize = MAX_INCOMING_PACKET_BYTES
        return properties


class BoundedClient(mqtt.Client):
    """paho's client, except that an incoming PUBLISH larger than ``max_packet_bytes`` is
    read and discarded chunk by chunk instead of being assembled in memory.

    paho reads the fixed header and the body in one call of ``_packet_read``; this
    reads the fixed header itself (the same few lines as paho), so it can decide
    before the body arrives. Everything else is paho's own code.
    """

    max_packet_bytes: int = MAX_INCOMING_PACKET_BYTES
    on_oversize: Callable[[int], None] | None = None
    """Called with the packet size of each discarded packet."""
    _noted = False

    def _packet_read(self) -> mqtt.MQTTErrorCode:
        packet = self._in_packet
        if packet["command"] == 0 or not packet["have_remaining"]:
            rc = self._read_fixed_header()
            if rc is not None:
                return rc
        if (packet["command"] & 0xF0) == _PUBLISH and packet["remaining_length"] > self.max_packet_bytes:
            return self._discard_body()
        return super()._packet_read()

    def _read_fixed_header(self) -> mqtt.MQTTErrorCode | None:
        """Command byte and remaining length into ``_in_packet``; an error code, or None when done."""
        packet = self._in_packet
        while packet["command"] == 0 or not packet["have_remaining"]:
            try:
                byte = self._sock_recv(1)
            except BlockingIOError:
                return mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError:
                return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
            if not byte:
                return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
            if packet["command"] == 0:
                packet["command"] = byte[0]
                continue
            packet["remaining_count"].append(byte[0])
            if len(packet["remaining_count"]) > 4:
                return mqtt.MQTTErrorCode.MQTT_ERR_PROTOCOL
            packet["remaining_length"] += (byte[0] & 127) * packet["remaining_mult"]
            packet["remaining_mult"] *= 128
            if byte[0] & 128 == 0:
                packet["have_remaining"] = 1
                packet["to_process"] = packet["remaining_length"]
        return None

    def _discard_body(self) -> mqtt.MQTTErrorCode:
        packet = self._in_packet
        if not self._noted and self.on_oversize is not None:
            self._noted = True
            self.on_oversize(packet["remaining_length"])
        while packet["to_process"] > 0:
            try:
                data = self._sock_recv(min(packet["to_process"], DISCARD_CHUNK_BYTES))
            except BlockingIOError:
                return mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError:
                return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
            if not data:
                return mqtt.MQTTErrorCode.MQTT_ERR_CONN_LOST
            packet["to_process"] -= len(data)
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()
        self._noted = False
        self._in_packet = {
            "command": 0, "have_remaining": 0, "remaining_count": [], "remaining_mult": 1,
            "remaining_length": 0, "packet": bytearray(b""), "to_process": 0, "pos": 0,
        }  # fmt: skip
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
