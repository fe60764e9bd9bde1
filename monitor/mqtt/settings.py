"""MQTT connection settings: frozen msgspec structs, validated at start.

The live daemon embeds :class:`MqttSettings` as the ``[mqtt]`` table of its
TOML config; ``cough-monitor replay`` builds it from ``--mqtt-*`` flags. The
password itself is never a setting: only where to read it from (a file, an
environment variable or a systemd credential), so it never appears on a
command line, in the config or in logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from msgspec import Meta
from msgspec.structs import force_setattr

from monitor.config.structs import SettingsStruct, raise_all, to_builtins
from monitor.errors import ConfigError

DEFAULT_PORT: Final = 1883
DEFAULT_TLS_PORT: Final = 8883
DEFAULT_FLUSH_TIMEOUT_S: Final = 10.0
TOPIC_ROOT: Final = "coughwatch"
_WILDCARDS: Final = ("#", "+")
_PASSWORD_SOURCES: Final = ("password_file", "password_env", "password_credential")


class TlsSettings(SettingsStruct):
    """TLS towards the broker. An empty table means TLS with the system's CA store."""

    ca_file: Annotated[Path | None, Meta(
        description="PEM file of the CA(s) that signed the broker's certificate; "
        "unset: the system CA store.",
    )] = None
    certfile: Annotated[Path | None, Meta(
        description="PEM client certificate, for brokers that require client certificates.",
    )] = None
    keyfile: Annotated[Path | None, Meta(description="PEM private key of `certfile`.")] = None
    insecure: Annotated[bool, Meta(
        description="Skip the broker hostname check. For tests only: it defeats TLS.",
    )] = False

    def __post_init__(self) -> None:
        if self.keyfile is not None and self.certfile is None:
            raise ValueError("tls.keyfile given without tls.certfile")


class MqttSettings(SettingsStruct):
    """Where and how the monitor publishes (see docs/mqtt.md)."""

    host: Annotated[str, Meta(min_length=1, description="Broker host name or IP address.")]
    port: Annotated[int, Meta(
        ge=1, le=65535, description="Broker TCP port; unset: 1883, or 8883 with TLS.",
    )] | None = None
    client_id: Annotated[str, Meta(
        max_length=128,
        description="MQTT client id; unset: coughwatch-<device_id>-<random>, unique per process.",
    )] | None = None
    keepalive_s: Annotated[int, Meta(
        ge=5, le=3600,
        description="Keepalive interval in seconds (how fast a dead link is noticed).",
    )] = 30
    protocol: Annotated[Literal["3.1.1", "5", 5], Meta(
        description="MQTT protocol version.",
    )] = "3.1.1"
    """Always a string once built: a TOML ``5`` becomes ``"5"``."""
    tls: Annotated[TlsSettings | None, Meta(description="TLS settings; unset: plain TCP.")] = None
    username: Annotated[str, Meta(
        min_length=1, description="User name for the broker.",
    )] | None = None
    password_file: Annotated[Path | None, Meta(
        description="File whose content (trailing newline stripped) is the password.",
    )] = None
    password_env: Annotated[str, Meta(
        min_length=1, description="Name of the environment variable holding the password.",
    )] | None = None
    password_credential: Annotated[str, Meta(
        min_length=1,
        description="Name of a systemd credential (LoadCredential=) holding the password, "
        "read from $CREDENTIALS_DIRECTORY.",
    )] | None = None
    topic_prefix: Annotated[str, Meta(
        min_length=1, description="Topic prefix; unset: coughwatch/<device_id>.",
    )] | None = None
    qos: Annotated[Literal[1, 2], Meta(
        description="QoS of `event` messages (at least once: 1).",
    )] = 1
    ha_discovery: Annotated[bool, Meta(
        description="Publish Home Assistant MQTT discovery configs.",
    )] = False
    ha_prefix: Annotated[str, Meta(
        min_length=1, description="Home Assistant discovery prefix.",
    )] = "homeassistant"
    flush_timeout_s: Annotated[float, Meta(
        ge=0, le=3600,
        description="On shutdown, seconds to wait for the outbox to drain before giving up.",
    )] = DEFAULT_FLUSH_TIMEOUT_S
    outbox_max_events: Annotated[int, Meta(
        ge=1,
        description="Outbox bound; beyond it the oldest events are dropped (and counted).",
    )] = 10000
    reconnect_min_s: Annotated[int, Meta(
        ge=1, le=3600, description="First reconnect delay in seconds.",
    )] = 1
    reconnect_max_s: Annotated[int, Meta(
        ge=1, le=3600,
        description="Reconnect delay cap in seconds (the delay doubles up to it).",
    )] = 60

    def __post_init__(self) -> None:
        if isinstance(self.protocol, int):
            force_setattr(self, "protocol", str(self.protocol))
        problems = [_plain_topic_problem(name, getattr(self, name))
                    for name in ("topic_prefix", "ha_prefix")]
        sources = [name for name in _PASSWORD_SOURCES if getattr(self, name)]
        if len(sources) > 1:
            problems.append("give at most one of password_file, password_env, password_credential")
        if sources and self.username is None:
            problems.append("a password needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            problems.append("reconnect_max_s must be >= reconnect_min_s")
        raise_all(problems)

    @property
    def effective_port(self) -> int:
        """The port to connect to."""
        if self.port is not None:
            return self.port
        return DEFAULT_TLS_PORT if self.tls is not None else DEFAULT_PORT

    def prefix_for(self, device_id: str) -> str:
        """The topic prefix: ``topic_prefix`` or ``coughwatch/<device_id>``."""
        return self.topic_prefix or f"{TOPIC_ROOT}/{device_id}"

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict fit for logging: says where the password comes from, never it."""
        shown = _without_none(to_builtins(self))
        for key in _PASSWORD_SOURCES:
            if key in shown:
                shown[key] = f"<{shown[key]}>"
        return shown


def _plain_topic_problem(name: str, value: str | None) -> str | None:
    """A topic prefix is literal: no wildcards, no empty first or last level."""
    if value is not None:
        if any(w in value for w in _WILDCARDS) or value.startswith("/") or value.endswith("/"):
            return f"{name}: {value!r}: no '#', '+' and no leading or trailing '/'"
    return None


def _without_none(tree: dict[str, Any]) -> dict[str, Any]:
    return {key: _without_none(value) if isinstance(value, dict) else value
            for key, value in tree.items() if value is not None}


def load_password(settings: MqttSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """Read the password from its configured source; ``None`` when none is configured.

    Raises :class:`ConfigError` naming the file, variable or credential that is missing.
    """
    env = os.environ if environ is None else environ
    if settings.password_file is not None:
        return _read_secret(settings.password_file, "MQTT password file")
    if settings.password_env is not None:
        if settings.password_env not in env:
            raise ConfigError(f"MQTT password variable ${settings.password_env} is not set")
        return env[settings.password_env]
    if settings.password_credential is not None:
        directory = env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise ConfigError(
                f"MQTT password credential {settings.password_credential!r} configured but "
                "$CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")
        return _read_secret(Path(directory) / settings.password_credential, "MQTT credential")
    return None


def _read_secret(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror or exc}") from exc
