"""Building the paho-mqtt client from :class:`MqttSettings`, and naming connect failures."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from monitor.errors import ConfigError
from monitor.mqtt.inbound import BoundedClient
from monitor.mqtt.settings import MqttSettings, TlsSettings
from monitor.mqtt.topics import OFFLINE

PAHO_MAX_INFLIGHT: Final = 100
"""paho's in-flight cap; well above what the publisher hands it, so paho never holds back."""


def build_client(
    settings: MqttSettings, client_id: str, password: str | None, will_topic: str
) -> BoundedClient:
    """A paho client with auth, TLS, last will (``offline``, retained) and reconnect backoff,
    reading no incoming packet bigger than :data:`~monitor.mqtt.inbound.MAX_INCOMING_PACKET_BYTES`.

    Raises :class:`ConfigError` when a TLS file is missing or unusable.
    """
    protocol = mqtt.MQTTv5 if settings.protocol == "5" else mqtt.MQTTv311
    client = BoundedClient(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    if settings.username is not None:
        client.username_pw_set(settings.username, password)
    if settings.tls is not None:
        _configure_tls(client, settings.tls)
    client.will_set(will_topic, OFFLINE, qos=1, retain=True)
    client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
    client.max_inflight_messages_set(PAHO_MAX_INFLIGHT)
    client.on_socket_open = _no_delay
    return client


def _no_delay(_client: mqtt.Client, _userdata: object, sock: object) -> None:
    """Disable Nagle: an event right behind a state message must not wait ~40 ms for an ACK."""
    setsockopt = getattr(sock, "setsockopt", None)
    if setsockopt is not None:
        try:
            setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (e.g. a unix socket): nothing to tune
            pass


def _configure_tls(client: mqtt.Client, tls: TlsSettings) -> None:
    for label, path in (("tls.ca_file", tls.ca_file), ("tls.certfile", tls.certfile),
                        ("tls.keyfile", tls.keyfile)):
        _check_readable(label, path)
    try:
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.certfile) if tls.certfile else None,
            keyfile=str(tls.keyfile) if tls.keyfile else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(f"MQTT TLS files unusable: {exc}") from exc
    if tls.insecure:
        client.tls_insecure_set(True)


def _check_readable(label: str, path: Path | None) -> None:
    if path is None:
        return
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"MQTT {label} {path}: {exc.strerror or exc}") from exc


def describe_connect_error(exc: BaseException | None) -> str:
    """One line naming why a connection attempt failed (TLS, refused, DNS, timeout, ...)."""
    if exc is None:
        return "connection failed"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is a broker listening on that port?)"
    if isinstance(exc, socket.gaierror):
        return f"host name not resolved: {exc.strerror or exc}"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "connection timed out (host unreachable?)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def describe_early_close(where: str, reason: object, keepalive_s: int, tls: bool) -> str:
    """One line for a connection that ended before the broker accepted it (no CONNACK):
    something that is not an MQTT broker, or a TLS port spoken to without TLS (or back)."""
    hint = ("is that port an MQTT broker with TLS?" if tls else
            "is that port an MQTT broker, and not a TLS port (then set TLS)?")
    if "keep alive" in str(reason).lower():
        return f"no answer (CONNACK) from {where} within {keepalive_s} s: {hint}"
    return f"{where} closed the connection before accepting it ({reason}): {hint}"
