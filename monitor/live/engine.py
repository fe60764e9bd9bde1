"""What one version of the listen settings builds: model, scorer, detector, sinks.

Kept apart from the worker so that a SIGHUP reload can build the new pieces,
fail with one clear line, and leave the running ones untouched.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from msgspec.structs import asdict

from monitor.audio.mic import MicSettings
from monitor.config import cliargs
from monitor.config.settings import ListenSettings
from monitor.output.sinks import EventSink
from monitor.scoring.context import default_device_id
from monitor.scoring.detector import DetectorSettings, Framing
from monitor.scoring.modelfile import LoadedModel, load_model
from monitor.scoring.scorer import Scorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engine:
    """A loaded model and the event logic configured for it."""

    model: LoadedModel
    scorer: Scorer
    detector: DetectorSettings
    framing: Framing

    @property
    def sample_rate(self) -> int:
        """The model's rate in Hz (the sample clock)."""
        return self.framing.sample_rate


def build_engine(settings: ListenSettings) -> Engine:
    """Load the model and derive detector settings and framing from it.

    Raises :class:`~monitor.errors.ModelFileError` or :class:`~monitor.errors.ConfigError`.
    """
    model = load_model(settings.model, threads=settings.threads)
    detector, framing = cliargs.detection_settings(_as_flags(settings), model.info)
    log.info(
        "model %s: %d Hz, %.3f s windows every %.3f s, labels %s, threshold %.3f/%.3f",
        model.model_id, framing.sample_rate, framing.window_samples / framing.sample_rate,
        framing.hop_samples / framing.sample_rate, ",".join(model.info.event_labels),
        detector.threshold_on, detector.threshold_off,
    )  # fmt: skip
    return Engine(model, Scorer(model), detector, framing)


def engine_inputs(settings: ListenSettings) -> tuple[object, ...]:
    """The settings an :class:`Engine` depends on (rebuild when they change)."""
    return (settings.model, settings.threads, settings.hop_ms, settings.detector)


def mic_settings(settings: ListenSettings, sample_rate: int) -> MicSettings:
    """Microphone settings for a model running at ``sample_rate`` Hz."""
    audio = settings.audio
    return MicSettings(
        sample_rate=sample_rate,
        device=audio.input_device,
        block_ms=audio.block_ms,
        queue_blocks=audio.queue_blocks,
        stall_timeout_s=audio.stall_timeout_s,
        backoff_max_s=audio.reopen_backoff_max_s,
    )


def device_id(settings: ListenSettings) -> str:
    """``device_id`` or the host name."""
    return settings.device_id or default_device_id()


def mqtt_inputs(settings: ListenSettings) -> tuple[object, ...]:
    """The settings the MQTT sink depends on (rebuild when they change; the model is
    named in its stats and discovery)."""
    return (settings.mqtt, device_id(settings), settings.state_dir, settings.model)


def build_mqtt_sink(settings: ListenSettings, model: LoadedModel) -> EventSink | None:
    """The MQTT sink for ``settings.mqtt``, or None when MQTT is not configured.

    Raises :class:`~monitor.errors.CoughwatchError` (bad password source,
    unusable state directory, outbox locked by another monitor, ...).
    """
    if settings.mqtt is None:
        return None
    from monitor.mqtt.sink import MqttSink  # paho is only imported when MQTT is used
    from monitor.mqtt.state_dir import resolve_state_dir

    state_dir: Path = resolve_state_dir(settings.state_dir)
    return MqttSink.create(settings.mqtt, device_id(settings), state_dir, model=model)


def _as_flags(settings: ListenSettings) -> argparse.Namespace:
    """The detection settings in the shape of replay's flags, so both share one code path."""
    return argparse.Namespace(hop_ms=settings.hop_ms, **asdict(settings.detector))
