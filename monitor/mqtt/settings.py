"""MQTT connection settings: one frozen pydantic model, validated at start.

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
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.errors import ConfigError

DEFAULT_PORT: Final = 1883
DEFAULT_TLS_PORT: Final = 8883
TOPIC_ROOT: Final = "coughwatch"
_WILDCARDS: Final = ("#", "+")


class TlsSettings(BaseModel):
    """TLS towards the broker. An empty table means TLS with the system's CA store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_file: Path | None = Field(
        None, description="PEM file of the CA(s) that signed the broker's certificate; "
        "unset: the system CA store.")
    certfile: Path | None = Field(
        None, description="PEM client certificate, for brokers that require client certificates.")
    keyfile: Path | None = Field(
        None, description="PEM private key of `certfile`.")
    insecure: bool = Field(
        False, description="Skip the broker hostname check. For tests only: it defeats TLS.")

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TlsSettings:
        if self.keyfile is not None and self.certfile is None:
            raise ValueError("tls.keyfile given without tls.certfile")
        return self


class MqttSettings(BaseModel):
    """Where and how the monitor publishes (see the MQTT section of the README)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(min_length=1, description="Broker host name or IP address.")
    port: int | None = Field(
        None, ge=1, le=65535, description="Broker TCP port; unset: 1883, or 8883 with TLS.")
    client_id: str | None = Field(
        None, max_length=128,
        description="MQTT client id; unset: coughwatch-<device_id>-<random>, unique per process.")
    keepalive_s: int = Field(
        30, ge=5, le=3600, description="Keepalive interval in seconds (how fast a dead link is noticed).")
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version.")
    tls: TlsSettings | None = Field(None, description="TLS settings; unset: plain TCP.")
    username: str | None = Field(None, min_length=1, description="User name for the broker.")
    password_file: Path | None = Field(
        None, description="File whose content (trailing newline stripped) is the password.")
    password_env: str | None = Field(
        None, min_length=1, description="Name of the environment variable holding the password.")
    password_credential: str | None = Field(
        None, min_length=1,
        description="Name of a systemd credential (LoadCredential=) holding the password, "
        "read from $CREDENTIALS_DIRECTORY.")
    topic_prefix: str | None = Field(
        None, min_length=1, description="Topic prefix; unset: coughwatch/<device_id>.")
    qos: Literal[1, 2] = Field(1, description="QoS of `event` messages (at least once: 1).")
    ha_discovery: bool = Field(False, description="Publish Home Assistant MQTT discovery configs.")
    ha_prefix: str = Field(
        "homeassistant", min_length=1, description="Home Assistant discovery prefix.")
    flush_timeout_s: float = Field(
        10.0, ge=0, le=3600,
        description="On shutdown, seconds to wait for the outbox to drain before giving up.")
    outbox_max_events: int = Field(
        10000, ge=1, description="Outbox bound; beyond it the oldest events are dropped (and counted).")
    reconnect_min_s: int = Field(1, ge=1, le=3600, description="First reconnect delay in seconds.")
    reconnect_max_s: int = Field(
        60, ge=1, le=3600, description="Reconnect delay cap in seconds (the delay doubles up to it).")

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) else value

    @field_validator("topic_prefix", "ha_prefix")
    @classmethod
    def _plain_topic(cls, value: str | None) -> str | None:
        if value is not None:
            if any(w in value for w in _WILDCARDS) or value.startswith("/") or value.endswith("/"):
                raise ValueError(f"{value!r}: no '#', '+' and no leading or trailing '/'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttSettings:
        sources = [s for s in (self.password_file, self.password_env, self.password_credential) if s]
        if len(sources) > 1:
            raise ValueError("give at most one of password_file, password_env, password_credential")
        if sources and self.username is None:
            raise ValueError("a password needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self

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
        shown = self.model_dump(mode="json", exclude_none=True)
        for key in ("password_file", "password_env", "password_credential"):
            if key in shown:
                shown[key] = f"<{shown[key]}>"
        return shown


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
