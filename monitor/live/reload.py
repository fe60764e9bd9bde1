"""SIGHUP: apply a new version of the listen settings to the running worker.

Only what changed is rebuilt: the engine (model, threads, hop, detector), the
microphone (audio settings, or a model at another rate), the MQTT sink (broker
settings, device id, state directory). A new engine that cannot be built (bad
model file, inconsistent thresholds) leaves everything as it was.
"""

from __future__ import annotations

import logging
from typing import Final, Protocol

from monitor.config.settings import ListenSettings
from monitor.errors import CoughwatchError
from monitor.history.live import LiveHistory, history_inputs
from monitor.live.engine import (
    Engine,
    build_engine,
    build_mqtt_sink,
    device_id,
    engine_inputs,
    mqtt_inputs,
)
from monitor.live.inputs import AudioInput, input_settings, make_input
from monitor.live.pause import PauseControl
from monitor.output.sinks import EventSink

log = logging.getLogger(__name__)

RELOAD_FLUSH_S: Final = 2.0
"""Longest wait for the old MQTT sink's outbox when the MQTT settings change."""


class Reloadable(Protocol):
    """What a reload replaces: the worker's settings, engine, audio input, MQTT sink and history.

    :class:`monitor.live.worker.LiveWorker` is one; this module does not import it,
    so the worker imports :func:`apply_reload` without an import cycle.
    """

    settings: ListenSettings
    engine: Engine
    mic: AudioInput
    mqtt_sink: EventSink | None
    history: LiveHistory | None
    pause: PauseControl

    def finish_epoch(self) -> None:
        """End the current pipeline (open bouts become events) before anything changes."""

    def replace_sinks(self) -> None:
        """Hand the running pipeline the current list of sinks."""


def apply_reload(worker: Reloadable, new: ListenSettings) -> None:
    """Rebuild what ``new`` changes, on the worker thread (between two blocks)."""
    old = worker.settings
    logging.getLogger().setLevel(logging.DEBUG if new.debug else logging.INFO)
    engine = worker.engine
    if engine_inputs(new) != engine_inputs(old):
        try:
            engine = build_engine(new)
        except CoughwatchError as exc:
            log.error("reload rejected, keeping the running configuration: %s", exc)
            return
    restart_epoch = engine is not worker.engine or device_id(new) != device_id(old)
    new_mic = input_settings(new, engine.sample_rate)
    if restart_epoch or new_mic != worker.mic.settings:
        worker.finish_epoch()
    worker.engine, worker.settings = engine, new
    if new_mic != worker.mic.settings:
        _replace_microphone(worker, make_input(new_mic))
    if mqtt_inputs(new) != mqtt_inputs(old):
        _replace_mqtt(worker, old)
    if history_inputs(new, device_id(new)) != history_inputs(old, device_id(old)):
        _replace_history(worker)
    worker.pause.config_changed(old.paused, new.paused)
    log.info("configuration reloaded")


def _replace_history(worker: Reloadable) -> None:
    """Close the old history (it writes what is queued) and open the new one."""
    if worker.history is not None:
        worker.history.close()
    worker.history = LiveHistory(worker.settings, device_id(worker.settings))
    worker.replace_sinks()


def _replace_microphone(worker: Reloadable, mic: AudioInput) -> None:
    log.info("reload: reopening the audio input (%s)", mic.settings)
    worker.mic.close()
    worker.mic = mic
    mic.open_or_retry()


def _replace_mqtt(worker: Reloadable, old: ListenSettings) -> None:
    """Close the old sink (its outbox keeps what is undelivered), open the new one."""
    if worker.mqtt_sink is not None:
        # Undelivered events stay in the durable outbox and the new sink sends them:
        # do not hold up the audio for a long flush.
        if hasattr(worker.mqtt_sink, "flush_timeout_s"):
            worker.mqtt_sink.flush_timeout_s = min(worker.mqtt_sink.flush_timeout_s, RELOAD_FLUSH_S)
        worker.mqtt_sink.close()
        worker.mqtt_sink = None
    try:
        worker.mqtt_sink = build_mqtt_sink(worker.settings, worker.engine.model)
    except CoughwatchError as exc:
        log.error("reload: MQTT settings unusable (%s); going back to the previous ones", exc)
        try:
            worker.mqtt_sink = build_mqtt_sink(old, worker.engine.model)
        except CoughwatchError as again:
            log.error("MQTT stays off until the next reload: %s", again)
    worker.replace_sinks()
