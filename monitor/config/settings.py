"""Settings of `cough-monitor listen`: TOML file + ``COUGHWATCH_*`` environment + flags.

Built once at start (and again on SIGHUP) by :func:`load_settings`; later
sources win: file < environment < command-line flags. Every problem becomes
one line naming the key and where its value came from; unknown keys are
errors, never ignored. ``systemd/coughwatch.toml.example`` documents every key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Final

from msgspec import Meta, field
from msgspec.structs import asdict, force_setattr

from monitor.config.device_id import DEVICE_ID_PATTERN
from monitor.config.structs import SettingsStruct, to_builtins
from monitor.history.settings import HistorySettings
from monitor.mqtt.settings import MqttSettings
from monitor.netaudio.url import is_url, redact_args, redact_url


class DetectorOverrides(SettingsStruct):
    """Event-logic settings; unset keys take the model file's detector defaults, else the
    monitor's (the same rules as replay's flags)."""

    threshold: Annotated[float, Meta(
        ge=0.0, le=1.0,
        description="Onset threshold on the window score; unset: the model's threshold.",
    )] | None = None
    threshold_off: Annotated[float, Meta(
        ge=0.0, le=1.0,
        description="A bout continues while scores stay at or above this (hysteresis); "
        "<= threshold; unset: the model's default, else 0.7 x threshold.",
    )] | None = None
    onset_k: Annotated[int, Meta(
        ge=1, le=100, description="Positive windows among the last onset_n that confirm a cough.",
    )] | None = None
    onset_n: Annotated[int, Meta(
        ge=1, le=100, description="Look-back of the k-of-n onset rule, in windows.",
    )] | None = None
    min_duration_ms: Annotated[float, Meta(
        ge=0.0, le=60000.0, description="Shorter bouts are ignored, milliseconds.",
    )] | None = None
    merge_gap_ms: Annotated[float, Meta(
        ge=0.0, le=60000.0, description="Dips up to this long merge into one event, milliseconds.",
    )] | None = None
    refractory_ms: Annotated[float, Meta(
        ge=0.0, le=3600000.0,
        description="No new event starts this soon after one ended, milliseconds.",
    )] | None = None

    def given(self) -> dict[str, Any]:
        """Only the keys that were set."""
        return {name: value for name, value in asdict(self).items() if value is not None}


class AudioSettings(SettingsStruct):
    """The microphone and how it is supervised."""

    input_device: Annotated[str | int | None, Meta(
        description="Input device name (or a unique part of it) or index, as listed by "
        "`cough-monitor devices`; unset: the system default input.",
    )] = None
    """Always a string once built: a TOML index (``3``) becomes ``"3"``."""
    input_url: Annotated[str, Meta(
        min_length=1,
        description="Network audio instead of a sound card: any URL ffmpeg reads (rtsp://, "
        "http://, ...), e.g. an IP camera's microphone. Credentials in it are never logged. "
        "Unset: the sound card (input_device).",
    )] | None = None
    ffmpeg_input_args: Annotated[tuple[str, ...], Meta(
        description="ffmpeg options placed before `-i input_url`, e.g. "
        '["-rtsp_transport", "tcp"].',
    )] = ()
    connect_timeout_s: Annotated[float, Meta(
        ge=1.0, le=600.0,
        description="Network audio: seconds from starting ffmpeg to its first audio (connect, "
        "probe the stream) before that counts as a stall.",
    )] = 15.0
    block_ms: Annotated[int, Meta(
        ge=10, le=1000, description="Audio per PortAudio callback, in milliseconds. Smaller "
        "blocks alert sooner (50 ms: ~0.05 s sooner than 100 ms) for a little more CPU.",
    )] = 50
    queue_blocks: Annotated[int, Meta(
        ge=2, le=10000,
        description="Blocks the callback may queue ahead of the worker; beyond, blocks are "
        "dropped and counted.",
    )] = 100
    stall_timeout_s: Annotated[float, Meta(
        ge=0.5, le=600.0,
        description="No audio for this long counts as a stall: the device is reopened and the "
        "systemd watchdog is no longer fed.",
    )] = 5.0
    reopen_backoff_max_s: Annotated[float, Meta(
        ge=0.5, le=600.0,
        description="Longest wait between attempts to reopen a vanished device, seconds.",
    )] = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.input_device, int):
            force_setattr(self, "input_device", str(self.input_device))
        if self.input_url is not None:
            if not is_url(self.input_url):
                raise ValueError("input_url: must be a URL scheme://... (rtsp://, http://, ...)")
            if self.input_device is not None:
                raise ValueError("give input_device (a sound card) or input_url (network "
                                 "audio), not both")


class ListenSettings(SettingsStruct):
    """Everything `cough-monitor listen` needs (see ``systemd/coughwatch.toml.example``)."""

    model: Annotated[Path | None, Meta(
        description="ONNX model file; unset: the model bundled with the package.",
    )] = None
    threads: Annotated[int, Meta(ge=1, le=64, description="onnxruntime intra-op threads.")] = 1
    hop_ms: Annotated[float, Meta(
        gt=0.0, le=60000.0,
        description="Distance between scored windows, ms (at most the model's window); unset: "
        "the model's default hop (its run hop, else a quarter of its window).",
    )] | None = None
    device_id: Annotated[str, Meta(
        pattern=DEVICE_ID_PATTERN,
        description="Name of this monitor in events and MQTT topics; unset: the host name.",
    )] | None = None
    state_dir: Annotated[Path | None, Meta(
        description="Directory for the durable MQTT outbox; unset: $STATE_DIRECTORY "
        "(systemd), else ~/.local/state/coughwatch.",
    )] = None
    stats_interval_s: Annotated[float, Meta(
        ge=1.0, le=86400.0, description="Seconds between stats messages.",
    )] = 60.0
    debug: Annotated[bool, Meta(description="Log at debug level.")] = False
    paused: Annotated[bool, Meta(
        description="Privacy pause: true = monitoring off, the audio is dropped unscored. A "
        "reload that changes it applies it; an MQTT <prefix>/set command (ON/OFF) overrides it.",
    )] = False
    audio: Annotated[AudioSettings, Meta(
        description="The microphone ([audio] table).",
    )] = field(default_factory=AudioSettings)
    detector: Annotated[DetectorOverrides, Meta(
        description="Event-logic overrides ([detector] table).",
    )] = field(default_factory=DetectorOverrides)
    history: Annotated[HistorySettings, Meta(
        description="The local cough history ([history] table).",
    )] = field(default_factory=HistorySettings)
    mqtt: Annotated[MqttSettings | None, Meta(
        description="MQTT broker ([mqtt] table); unset: events go to stdout only.",
    )] = None

    def redacted(self) -> dict[str, Any]:
        """The effective settings for the log: no secret values, only where they come from."""
        shown = to_builtins(self)
        shown["mqtt"] = self.mqtt.redacted() if self.mqtt is not None else None
        audio = shown["audio"]
        if audio.get("input_url"):
            audio["input_url"] = redact_url(audio["input_url"])
        audio["ffmpeg_input_args"] = redact_args(audio.get("ffmpeg_input_args") or [])
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
