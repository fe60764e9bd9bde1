"""The MQTT output: an :class:`~monitor.output.sinks.EventSink` on top of :class:`Publisher`.

``bout_started`` -> ``…/state`` ``ON``; ``bout_ended`` -> the event JSON on
``…/event`` (durable, QoS 1, not retained) then ``…/state`` ``OFF``;
``stats`` -> ``…/stats`` JSON with ``outbox_depth`` and the outbox's health;
``close`` flushes as far as the broker allows, publishes ``offline`` and
disconnects. Home Assistant's ``online`` is answered at most once per
:data:`HA_RESEND_MIN_INTERVAL_S` (a burst gets one more answer at its end).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from monitor.mqtt.discovery import DeviceDescription, discovery_messages
from monitor.mqtt.outbox_guard import GuardedOutbox
from monitor.mqtt.publisher import Publisher
from monitor.mqtt.ratelimit import Coalescing
from monitor.mqtt.settings import MqttSettings, load_password
from monitor.mqtt.state_dir import resolve_state_dir
from monitor.mqtt.topics import STATE_OFF, STATE_ON, Topics
from monitor.output.events import CoughEvent
from monitor.scoring.modelfile import LoadedModel

log = logging.getLogger(__name__)

DEFAULT_EVENT_TYPES: Final = ("cough",)
HA_RESEND_MIN_INTERVAL_S: Final = 10.0
"""Shortest time between two discovery re-sends asked for by ``homeassistant/status``."""


class MqttSink:
    """Publishes detections; all ``EventSink`` methods come from one worker thread."""

    def __init__(
        self, publisher: Publisher, topics: Topics, flush_timeout_s: float,
        discovery: list[tuple[str, str]] | None = None, ha_status_topic: str | None = None,
        model_id: str = "",
    ) -> None:
        self.publisher = publisher
        self.topics = topics
        self.flush_timeout_s = flush_timeout_s
        self.outbox_path: Path = publisher.outbox_path
        self._closed = False
        self.undelivered = 0
        """Events still waiting in the outbox after :meth:`close`."""
        self._discovery = discovery or []
        self._model_id = model_id
        self._lock = threading.Lock()  # state shared with paho's thread (connect hook)
        self._active: set[str] = set()
        self._last_stats: bytes | None = None
        self._ha_resend = Coalescing(self._resend_for_ha, HA_RESEND_MIN_INTERVAL_S)
        publisher.add_connect_hook(self._republish)
        if ha_status_topic is not None:
            publisher.subscribe(ha_status_topic, self._on_ha_status)

    @classmethod
    def create(
        cls, settings: MqttSettings, device_id: str, state_dir: Path,
        model: LoadedModel | None = None,
    ) -> MqttSink:
        """Same as :func:`make_mqtt_sink` (the daemon's spelling)."""
        return make_mqtt_sink(settings, model, device_id, state_dir)

    def bout_started(self, label: str, event_id: str, start_s: float) -> None:
        """Publish ``state`` ``ON`` (volatile, retained)."""
        with self._lock:
            self._active.add(event_id)
        log.debug("MQTT: %s bout %s started at %.3f s", label, event_id, start_s)
        self.publisher.publish_volatile(self.topics.state, STATE_ON.encode(), ordered=True)

    def bout_ended(self, event: CoughEvent) -> None:
        """Store the event durably (it goes out when the broker has it), then ``state`` ``OFF``."""
        self.publisher.publish_durable(self.topics.event, event.to_json().encode())
        with self._lock:
            self._active.discard(event.event_id)
            still_active = bool(self._active)
        if not still_active:
            self.publisher.publish_volatile(self.topics.state, STATE_OFF.encode(), ordered=True)

    def stats(self, snapshot: Mapping[str, Any]) -> None:
        """Publish the snapshot plus ``outbox_depth``, ``outbox_dropped``,
        ``outbox_quarantined``, ``outbox_error`` (null when it can be written) and ``model``."""
        payload = {key: _finite(value) for key, value in snapshot.items()}
        payload["outbox_depth"] = self.publisher.pending()
        payload["outbox_dropped"] = self.publisher.dropped()
        payload["outbox_quarantined"] = self.publisher.quarantined()
        payload["outbox_error"] = self.publisher.outbox_error
        payload.setdefault("model", self._model_id)
        encoded = json.dumps(payload, separators=(",", ":")).encode()
        with self._lock:
            self._last_stats = encoded
        self.publisher.publish_volatile(self.topics.stats, encoded)

    def close(self) -> None:
        """Flush up to ``flush_timeout_s``, say ``offline``, disconnect; sets :attr:`undelivered`."""
        if self._closed:
            return
        self._closed = True
        self._ha_resend.close()
        self.undelivered = self.publisher.stop(self.flush_timeout_s)
        error, held = self.publisher.outbox_error, self.publisher.held()
        if self.undelivered > held:
            log.warning("MQTT: %d event(s) not delivered to %s within %g s; they wait in %s "
                        "for the next run", self.undelivered - held, self.publisher.broker,
                        self.flush_timeout_s, self.outbox_path)
        if held:
            log.error("MQTT: %d event(s) could not be stored in %s (%s) and are lost to MQTT; "
                      "stdout had them", held, self.outbox_path, error)

    def _republish(self) -> None:
        """After each (re)connect: discovery, the current state, the last stats."""
        for topic, payload in self._discovery:
            self.publisher.publish_volatile(topic, payload.encode())
        with self._lock:
            state = STATE_ON if self._active else STATE_OFF
            stats = self._last_stats
        self.publisher.publish_volatile(self.topics.state, state.encode())
        if stats is not None:
            self.publisher.publish_volatile(self.topics.stats, stats)

    def _on_ha_status(self, payload: bytes) -> None:
        if payload.strip().lower() == b"online" and not self._ha_resend.request():
            log.debug("MQTT: Home Assistant online again within %g s: one re-send follows",
                      self._ha_resend.interval_s)

    def _resend_for_ha(self) -> None:
        log.info("MQTT: Home Assistant is online: re-sending discovery")
        self._republish()


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: non-finite floats become ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def make_mqtt_sink(
    settings: MqttSettings, model: LoadedModel | None, device_id: str, state_dir: Path
) -> MqttSink:
    """Open the outbox in ``state_dir`` (created if missing), start connecting, and return the sink.

    ``model`` (optional) names the model in discovery and stats and gives HA
    its ``event_types``; without it they are ``coughwatch`` and ``["cough"]``.
    Raises :class:`~monitor.errors.ConfigError` / :class:`OutboxError` with one
    line for a missing password source, unusable TLS files or a busy outbox; an
    outbox that cannot be written is not an error here (see :class:`GuardedOutbox`).
    """
    password = load_password(settings)
    topics = Topics(settings.prefix_for(device_id))
    client_id = settings.client_id or f"coughwatch-{device_id}-{secrets.token_hex(3)}"
    outbox = GuardedOutbox(resolve_state_dir(state_dir), settings.outbox_max_events)
    try:
        publisher = Publisher(settings, client_id, topics.status, outbox, password)
    except Exception:
        outbox.close()
        raise
    model_id = model.model_id if model is not None else "coughwatch"
    discovery, ha_status = None, None
    if settings.ha_discovery:
        labels = tuple(model.info.event_labels) if model is not None else DEFAULT_EVENT_TYPES
        device = DeviceDescription(device_id, model_id, labels)
        discovery = discovery_messages(settings.ha_prefix, topics, device)
        ha_status = f"{settings.ha_prefix}/status"
    sink = MqttSink(publisher, topics, settings.flush_timeout_s, discovery, ha_status, model_id)
    waiting = publisher.pending()
    if waiting:
        log.info("MQTT: %d event(s) from earlier runs wait in %s", waiting, outbox.path)
    quarantined = publisher.quarantined()
    if quarantined:
        log.warning("MQTT: %d message(s) that can never be sent are kept in quarantine in %s "
                    "(see docs/reliability.md)", quarantined, outbox.path)
    publisher.start()
    return sink
