"""Settings of `cough-monitor listen`: TOML file + ``COUGHWATCH_*`` environment + flags.

Built once at start (and again on SIGHUP) by :func:`load_settings`; later
sources win: file < environment < command-line flags. Every problem becomes
one line naming the key and where its value came from; unknown keys are
errors, never ignored. ``systemd/coughwatch.toml.example`` documents every key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.mqtt.settings import MqttSettings

DEVICE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Device ids become an MQTT topic level: no '/', '+', '#' or spaces."""


class DetectorOverrides(BaseModel):
    """Event-logic settings; unset keys take the model file's detector defaults, else the
    monitor's (the same rules as replay's flags)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Onset threshold on the window score; unset: the model's threshold.")
    threshold_off: float | None = Field(
        None, ge=0.0, le=1.0,
        description="A bout continues while scores stay at or above this (hysteresis); "
        "<= threshold; unset: the model's default, else 0.7 x threshold.")
    onset_k: int | None = Field(
        None, ge=1, le=100, description="Positive windows among the last onset_n that confirm a cough.")
    onset_n: int | None = Field(
        None, ge=1, le=100, description="Look-back of the k-of-n onset rule, in windows.")
    min_duration_ms: float | None = Field(
        None, ge=0.0, le=60000.0, description="Shorter bouts are ignored, milliseconds.")
    merge_gap_ms: float | None = Field(
        None, ge=0.0, le=60000.0, description="Dips up to this long merge into one event, milliseconds.")
    refractory_ms: float | None = Field(
        None, ge=0.0, le=3600000.0,
        description="No new event starts this soon after one ended, milliseconds.")

    def given(self) -> dict[str, Any]:
        """Only the keys that were set."""
        return self.model_dump(exclude_none=True)


class AudioSettings(BaseModel):
    """The microphone and how it is supervised."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_device: str | None = Field(
        None, description="Input device name (or a unique part of it) or index, as listed by "
        "`cough-monitor devices`; unset: the system default input.")
    block_ms: int = Field(
        100, ge=10, le=1000, description="Audio per PortAudio callback, in milliseconds.")
    queue_blocks: int = Field(
        50, ge=2, le=10000,
        description="Blocks the callback may queue ahead of the worker; beyond, blocks are "
        "dropped and counted.")
    stall_timeout_s: float = Field(
        5.0, ge=0.5, le=600.0,
        description="No audio for this long counts as a stall: the device is reopened and the "
        "systemd watchdog is no longer fed.")
    reopen_backoff_max_s: float = Field(
        10.0, ge=0.5, le=600.0,
        description="Longest wait between attempts to reopen a vanished device, seconds.")

    @field_validator("input_device", mode="before")
    @classmethod
    def _device_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ListenSettings(BaseModel):
    """Everything `cough-monitor listen` needs (see ``systemd/coughwatch.toml.example``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: Path | None = Field(
        None, description="ONNX model file; unset: the model bundled with the package.")
    threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads.")
    hop_ms: float | None = Field(
        None, gt=0.0, le=60000.0,
        description="Distance between scored windows, ms (at most the model's window); unset: "
        "a quarter of the model's window.")
    device_id: str | None = Field(
        None, pattern=DEVICE_ID_PATTERN,
        description="Name of this monitor in events and MQTT topics; unset: the host name.")
    state_dir: Path | None = Field(
        None, description="Directory for the durable MQTT outbox; unset: $STATE_DIRECTORY "
        "(systemd), else ~/.local/state/coughwatch.")
    stats_interval_s: float = Field(
        60.0, ge=1.0, le=86400.0, description="Seconds between stats messages.")
    debug: bool = Field(False, description="Log at debug level.")
    audio: AudioSettings = Field(
        default_factory=AudioSettings, description="The microphone ([audio] table).")
    detector: DetectorOverrides = Field(
        default_factory=DetectorOverrides, description="Event-logic overrides ([detector] table).")
    mqtt: MqttSettings | None = Field(
        None, description="MQTT broker ([mqtt] table); unset: events go to stdout only.")

    def redacted(self) -> dict[str, Any]:
        """The effective settings for the log: no secret values, only where they come from."""
        shown = self.model_dump(mode="json", exclude={"mqtt"})
        shown["mqtt"] = self.mqtt.redacted() if self.mqtt is not None else None
        return _mask_secrets(shown)


_SECRET_KEY: Final = re.compile(r"pass(word)?$|secret|token", re.IGNORECASE)


def _mask_secrets(tree: Any) -> Any:
    """Belt and braces: mask any value whose key looks like a secret."""
    if isinstance(tree, dict):
        return {
            key: "<redacted>" if _SECRET_KEY.search(str(key)) and value else _mask_secrets(value)
            for key, value in tree.items()
        }
    return tree
