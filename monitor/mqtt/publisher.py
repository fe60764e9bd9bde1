"""The MQTT publisher: paho's network thread plus one sender thread fed by the outbox.

Delivery model (at least once, in order):

* Durable messages (events) go to the :class:`Outbox` first. The sender thread
  hands them to paho in ``seq`` order, at most :data:`WINDOW` unacknowledged at
  a time, and removes each row when its PUBACK arrives (``on_publish``).
* A row handed to paho stays paho's to resend while the process lives: on a
  reconnect paho re-sends its unacknowledged messages itself, so the sender
  waits until those are acknowledged before handing newer rows (otherwise a
  new row could overtake an old one). After a restart of the process nothing is
  in paho's memory and every row in the outbox is sent again, in order.
  Subscribers de-duplicate by ``event_id``.
* A row that can never be sent (wildcard topic, oversize, refused by the
  broker) goes to quarantine (:mod:`monitor.mqtt.poison`) and the next row goes
  on; an outbox that cannot be written holds events in memory
  (:mod:`monitor.mqtt.outbox_guard`). Neither stops delivery of the others.
* Volatile messages (state, stats, discovery) are only sent while connected and
  never stored; the owner re-publishes the current ones from a connect hook.

Nothing here blocks the caller for long: ``publish_durable`` is one SQLite
insert, the network I/O happens on paho's and the sender's threads.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import paho.mqtt.client as mqtt

from monitor.mqtt.client import build_client, describe_connect_error, describe_early_close
from monitor.mqtt.inbound import MAX_INCOMING_PACKET_BYTES, IncomingGuard
from monitor.mqtt.outbox import OutboxMessage
from monitor.mqtt.outbox_guard import RETRY_S, GuardedOutbox
from monitor.mqtt.poison import poison_reason
from monitor.mqtt.settings import MqttSettings
from monitor.mqtt.topics import OFFLINE, ONLINE

log = logging.getLogger(__name__)

WINDOW: Final = 10
"""Outbox rows handed to paho and not yet acknowledged, at most."""
VOLATILE_MAX: Final = 256
"""Volatile messages waiting for the sender, at most (oldest dropped)."""
OFFLINE_ACK_TIMEOUT_S: Final = 2.0
_AUTH_REASONS: Final = frozenset({"Not authorized", "Bad user name or password"})
_AUTH_HINT: Final = " - check the MQTT username and password"

ConnectHook = Callable[[], None]
MessageHandler = Callable[[bytes], None]


@dataclass(frozen=True)
class _Volatile:
    after_seq: int
    """Send only once every outbox row up to this seq has been handed to paho."""
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Publisher:
    """Connects to the broker described by ``settings`` and delivers messages."""

    def __init__(
        self, settings: MqttSettings, client_id: str, status_topic: str,
        outbox: GuardedOutbox, password: str | None,
    ) -> None:
        self._settings = settings
        self._where = f"{settings.host}:{settings.effective_port}"
        self._status_topic = status_topic
        self._client_id = client_id
        self._outbox = outbox
        self._client = build_client(settings, client_id, password, status_topic)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._cond = threading.Condition()
        self._connected = False
        self._answered = False  # a CONNACK (accepting or refusing) came on this connection
        self._generation = 0  # +1 per successful connection
        self._inflight: dict[int, tuple[int, int]] = {}  # mid -> (seq, generation)
        self._registering = False  # sender is between publish() and recording its mid
        self._early_acks: set[int] = set()
        self._acked: list[int] = []  # seqs acknowledged, not yet removed from the outbox
        self._rejected: list[tuple[int, str]] = []  # (seq, reason) the broker refused
        self._broker_max_packet: int | None = None  # MQTT 5 CONNACK Maximum Packet Size
        self._last_handed = 0
        self._last_put = 0
        self._dirty = True
        self._volatile: deque[_Volatile] = deque(maxlen=VOLATILE_MAX)
        self._stopping = False
        self._connect_hooks: list[ConnectHook] = []
        self._handlers: dict[str, MessageHandler] = {}
        self._incoming = IncomingGuard()
        self._client.on_oversize = lambda size: self._incoming.note(
            "packet", size, MAX_INCOMING_PACKET_BYTES)
        self._sender = threading.Thread(target=self._run_sender, name="mqtt-sender", daemon=True)

    # ----- owner API (called from the worker thread) -----

    @property
    def connected(self) -> bool:
        """True only between a CONNACK that accepted us and the next disconnect."""
        with self._cond:
            return self._connected

    def wait_connected(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for an accepted connection; True when connected."""
        with self._cond:
            return self._cond.wait_for(lambda: self._connected, timeout_s)

    def add_connect_hook(self, hook: ConnectHook) -> None:
        """Call ``hook`` (on paho's thread) after every successful (re)connect."""
        self._connect_hooks.append(hook)

    def subscribe(self, topic: str, handler: MessageHandler) -> None:
        """Subscribe on every (re)connect; ``handler(payload)`` runs on paho's thread."""
        self._handlers[topic] = handler
        self._client.message_callback_add(topic, self._incoming.wrap(handler))

    def subscribe_message(self, topic: str, handler: Callable[[mqtt.MQTTMessage], None]) -> None:
        """Like :meth:`subscribe`, but ``handler`` gets the whole message (``retain`` is set on
        a retained copy the broker sends on subscribing)."""
        self._handlers[topic] = lambda _payload: None  # the key: re-subscribed on connect
        self._client.message_callback_add(topic, lambda _c, _u, msg: handler(msg))
        if self.connected:  # added after the connection was made: subscribe now as well
            self._client.subscribe(topic, qos=1)

    def start(self) -> None:
        """Start connecting in the background (paho retries with backoff)."""
        log.info("MQTT: connecting to %s as %s%s%s", self._where, self._client_id,
                 " over TLS" if self._settings.tls else "",
                 f" (user {self._settings.username})" if self._settings.username else "")
        log.debug("MQTT settings: %s", self._settings.redacted())
        self._client.connect_async(
            self._settings.host, self._settings.effective_port, self._settings.keepalive_s,
            properties=self._incoming.connect_properties(self._settings.protocol))
        self._client.loop_start()
        self._sender.start()

    def publish_durable(self, topic: str, payload: bytes) -> int | None:
        """Store in the outbox, then deliver when possible; returns the outbox ``seq``
        (None: the outbox cannot be written now and the message waits in memory)."""
        seq = self._outbox.put(topic, payload, self._settings.qos)
        with self._cond:
            if seq is not None:  # None: held in memory, the outbox cannot be written
                self._last_put = max(self._last_put, seq)
            self._poke()
        return seq

    def publish_volatile(
        self, topic: str, payload: bytes, retain: bool = True, ordered: bool = False
    ) -> None:
        """Send (QoS 0) if connected, else drop. ``ordered``: not before earlier durable ones."""
        with self._cond:
            if not self._connected or self._stopping:
                return
            after = self._last_put if ordered else 0
            self._volatile.append(_Volatile(after, topic, payload, 0, retain))
            self._poke()

    @property
    def broker(self) -> str:
        """``host:port`` of the broker, for messages."""
        return self._where

    @property
    def outbox_path(self) -> Path:
        """The SQLite file the durable messages wait in."""
        return self._outbox.path

    def pending(self) -> int:
        """Durable messages not yet acknowledged by the broker (stored or held in memory)."""
        return self._outbox.depth()

    def held(self) -> int:
        """Durable messages waiting in memory because the outbox cannot be written."""
        return self._outbox.held()

    def quarantined(self) -> int:
        """Outbox rows that can never be sent, kept in quarantine."""
        return self._outbox.quarantined()

    @property
    def outbox_error(self) -> str | None:
        """Why the outbox cannot be written now, or None."""
        return self._outbox.error

    @property
    def ignored_incoming(self) -> int:
        """Incoming messages ignored for their size since start."""
        return self._incoming.ignored

    def in_flight(self) -> int:
        """Durable messages handed to the network and not yet acknowledged."""
        with self._cond:
            return len(self._inflight)

    def dropped(self) -> int:
        """Durable messages dropped because the outbox was full (ever, for this outbox)."""
        return self._outbox.dropped()

    def wait_drained(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` until every durable message is acknowledged; return the rest."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._drained():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.5))
        return self._outbox.depth()

    def stop(self, flush_timeout_s: float) -> int:
        """Flush up to ``flush_timeout_s``, publish ``offline``, disconnect.

        Returns how many durable messages remain in the outbox for the next run.
        """
        self._outbox.retry()  # the disk may have room again by now
        with self._cond:
            must_flush = bool(self._volatile) or self._outbox.depth() > 0
        if must_flush:
            self.wait_drained(flush_timeout_s)
        with self._cond:
            self._stopping = True
            connected = self._connected
            self._cond.notify_all()
        if connected:
            self._say_offline()
        self._client.disconnect()
        self._client.loop_stop()
        self._sender.join(timeout=5)
        self._remove_acked()
        remaining = self._outbox.depth()
        self._outbox.close()
        return remaining

    # ----- paho callbacks (paho's network thread) -----

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any,
                    reason: Any, _props: Any) -> None:
        with self._cond:
            self._answered = True
        if reason.is_failure:
            hint = _AUTH_HINT if str(reason) in _AUTH_REASONS else ""
            log.error("MQTT: broker %s refused the connection: %s%s (retrying)",
                      self._where, reason, hint)
            return
        with self._cond:
            self._connected = True
            self._generation += 1
            self._broker_max_packet = getattr(_props, "MaximumPacketSize", None)
            self._poke()
        log.info("MQTT: connected to %s", self._where)
        client.publish(self._status_topic, ONLINE, qos=1, retain=True)
        for topic in self._handlers:
            client.subscribe(topic, qos=0)  # QoS 0: a discarded oversize message needs no ack
        for hook in self._connect_hooks:
            hook()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        # paho calls this from inside its `except OSError:` block: the cause is still current.
        reason = describe_connect_error(sys.exc_info()[1])
        log.warning("MQTT: cannot connect to %s: %s (retrying)", self._where, reason)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason: Any, _props: Any) -> None:
        with self._cond:
            was_connected, self._connected = self._connected, False
            answered, self._answered = self._answered, False
            self._volatile.clear()
            stopping = self._stopping
            self._poke()
        if was_connected and not stopping:
            log.warning("MQTT: lost connection to %s: %s (reconnecting; events wait in %s)",
                        self._where, reason, self._outbox.path)
        elif not stopping and not answered:  # it ended before the broker said anything
            log.warning("MQTT: %s (retrying)", describe_early_close(
                self._where, reason, self._settings.keepalive_s, self._settings.tls is not None))

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int,
                    reason: Any, _props: Any) -> None:
        with self._cond:
            entry = self._inflight.pop(mid, None)
            if entry is None:
                if self._registering:
                    self._early_acks.add(mid)
                return
            if reason.is_failure:  # kept in quarantine, not retried: it would be refused again
                self._rejected.append((entry[0], f"refused by the broker: {reason}"))
            else:
                self._acked.append(entry[0])
            self._poke()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        log.debug("MQTT: unexpected message on %s", msg.topic)

    # ----- sender thread -----

    def _poke(self) -> None:
        """Something changed (call with ``_cond`` held): the sender takes another look."""
        self._dirty = True
        self._cond.notify_all()

    def _run_sender(self) -> None:
        while True:
            retry_s = None if self._outbox.error is None else RETRY_S
            with self._cond:
                self._cond.wait_for(lambda: self._dirty or self._stopping, retry_s)
                self._dirty = False
                if self._stopping:
                    return
            try:
                self._outbox.retry()
                self._remove_acked()
                while self._send_one():
                    pass
            except Exception:  # the sender must outlive any one bad message or DB hiccup
                log.exception("MQTT: sender error (will retry on the next change)")
            with self._cond:
                self._cond.notify_all()  # wake drain waiters

    def _may_hand_rows(self) -> bool:
        stale = any(gen < self._generation for _, gen in self._inflight.values())
        return not stale and len(self._inflight) < WINDOW

    def _send_one(self) -> bool:
        """Hand the next message (row or volatile, in order) to paho; False when none may go."""
        with self._cond:
            if not self._connected or self._stopping:
                return False
            may_hand = self._may_hand_rows()
            head = self._volatile[0] if self._volatile else None
            last_handed = self._last_handed
        rows = self._outbox.after(last_handed, 1)
        row = rows[0] if rows else None
        if head is not None and (row is None or head.after_seq < row.seq):
            self._send_volatile()
            return True
        if row is None or not may_hand:
            return False
        return self._hand_row(row)

    def _send_volatile(self) -> None:
        with self._cond:
            if not self._volatile:  # cleared by a disconnect meanwhile
                return
            msg = self._volatile.popleft()
        self._client.publish(msg.topic, msg.payload, msg.qos, msg.retain)

    def _hand_row(self, row: OutboxMessage) -> bool:
        with self._cond:
            generation = self._generation
            max_packet = self._broker_max_packet
        reason = poison_reason(row, max_packet)
        if reason is not None:
            self._set_aside(row.seq, row.topic, reason)
            return True
        with self._cond:
            self._registering = True
        try:
            info = self._client.publish(row.topic, row.payload, row.qos, row.retain)
        except ValueError as exc:  # paho's own checks: a row it will never take
            with self._cond:
                self._registering = False
            self._set_aside(row.seq, row.topic, str(exc))
            return True
        with self._cond:
            self._registering = False
            early, self._early_acks = self._early_acks, set()
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                accepted = False  # paho did not keep it: try again on the next change
            else:
                accepted = True
                self._last_handed = row.seq
                if info.mid in early:
                    self._acked.append(row.seq)
                else:  # with NO_CONN paho keeps it and re-sends it after the reconnect
                    self._inflight[info.mid] = (row.seq, generation)
        if not accepted:
            log.error("MQTT: publish of outbox message %d failed: %s", row.seq,
                      mqtt.error_string(info.rc))
        return accepted

    def _set_aside(self, seq: int, topic: str | None, reason: str) -> None:
        """Quarantine row ``seq`` (logged once: the row leaves the outbox) and go past it."""
        what = f"outbox message {seq}" + (f" on {topic[:120]!r}" if topic is not None else "")
        if self._outbox.quarantine(seq, reason):
            log.error("MQTT: %s can never be sent (%s): moved to quarantine in %s, delivery "
                      "goes on (see docs/reliability.md)", what, reason, self._outbox.path)
        else:
            log.error("MQTT: %s can never be sent (%s); skipped for this run", what, reason)
        with self._cond:
            self._last_handed = max(self._last_handed, seq)

    def _remove_acked(self) -> None:
        with self._cond:
            acked, self._acked = self._acked, []
            rejected, self._rejected = self._rejected, []
        for seq, reason in rejected:
            self._set_aside(seq, None, reason)
        if acked and not self._outbox.remove(acked):
            with self._cond:  # the outbox cannot be written: remove them later
                self._acked = acked + self._acked
        if acked or rejected:
            with self._cond:
                self._cond.notify_all()

    def _drained(self) -> bool:
        return (not self._inflight and not self._acked and not self._rejected
                and self._outbox.depth() == 0 and not self._volatile)

    def _say_offline(self) -> None:
        info = self._client.publish(self._status_topic, OFFLINE, qos=1, retain=True)
        try:
            info.wait_for_publish(OFFLINE_ACK_TIMEOUT_S)
        except (RuntimeError, ValueError) as exc:
            log.debug("MQTT: offline status not confirmed: %s", exc)
