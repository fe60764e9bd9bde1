"""The one worker thread of `listen`: microphone blocks -> pipeline -> sinks, plus stats.

It blocks on the microphone queue (no polling), pushes each block into the
:class:`~monitor.scoring.pipeline.Pipeline`, sends stats every ``stats_interval_s``
(and at once when the input stalls or recovers), and applies reloaded
settings between blocks. All sink calls happen on this thread.

A pipeline covers one *epoch*: a stretch of uninterrupted audio scored with
one engine. A microphone reopen (new segment) or a reload that changes the
engine starts a new epoch: the old pipeline is finished (open bouts become
events) and the "coughs today" counter carries over.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from monitor.audio.mic import MicBlock, MicHealth
from monitor.config.settings import ListenSettings
from monitor.history.live import LiveHistory
from monitor.live.engine import (
    Engine,
    build_engine,
    build_mqtt_sink,
    device_id,
)
from monitor.live.inputs import input_settings, make_input
from monitor.live.pause import PauseControl
from monitor.live.reload import apply_reload
from monitor.output.sinks import EventSink
from monitor.scoring.context import StreamContext
from monitor.scoring.pipeline import Pipeline
from monitor.scoring.stats import CoughCounter

log = logging.getLogger(__name__)

LIVE_BATCH_WINDOWS: Final = 1
"""Live audio completes at most one window per hop: score them one at a time."""


@dataclass(frozen=True)
class LiveStatus:
    """What the supervisor needs from the worker (read from the main thread)."""

    input_state: str
    last_block_at: float | None
    """``time.monotonic()`` of the last block processed, None before the first."""
    summary: str
    """One line for systemd's STATUS=."""


class LiveWorker:
    """Owns the microphone, the pipeline and the sinks; runs on its own thread."""

    def __init__(self, settings: ListenSettings, local_sinks: list[EventSink]) -> None:
        self.settings = settings
        self.engine: Engine = build_engine(settings)
        self.mic = make_input(input_settings(settings, self.engine.sample_rate))
        self._local_sinks = local_sinks
        self._pipeline: Pipeline | None = None
        self._epoch = (-1, 0)  # (mic segment, first sample of the epoch in that segment)
        self._counter: CoughCounter | None = None
        self._retired_windows = 0
        self._started = time.monotonic()
        self._last_block_at: float | None = None
        self._input_state = "starting"
        self._settled_state: str | None = None
        self._summary = "starting: waiting for audio"
        self._pending: ListenSettings | None = None
        self._outbox_error: str | None = None
        self.mqtt_sink: EventSink | None = None
        self.history: LiveHistory | None = None
        self.pause = PauseControl(settings.paused)
        self._paused_seen = settings.paused
        self._pause_attached_to: EventSink | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.first_block = threading.Event()
        self.failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="listen-worker", daemon=True)

    # -- control (main thread) ---------------------------------------------
    def start(self) -> None:
        """Open the microphone and MQTT, then start the thread (errors raise here)."""
        self.mic.open()
        self.mqtt_sink = build_mqtt_sink(self.settings, self.engine.model)
        self.history = LiveHistory(self.settings, device_id(self.settings))
        self._attach_pause()
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Ask the worker to finish (last blocks, open bouts, sinks) and wait for it."""
        self._stop.set()
        self.mic.wake()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error("the worker did not stop within %.0f s", timeout_s)

    def reload(self, settings: ListenSettings) -> None:
        """Hand new settings to the worker; applied before the next block."""
        with self._lock:
            self._pending = settings
        self.mic.wake()

    def is_alive(self) -> bool:
        """True while the worker thread runs."""
        return self._thread.is_alive()

    def status(self) -> LiveStatus:
        """A consistent snapshot for the watchdog and STATUS=."""
        with self._lock:
            return LiveStatus(self._input_state, self._last_block_at, self._summary)

    # -- the thread -------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug: report it, let the supervisor exit non-zero
            log.exception("the worker failed")
            self.failure = exc
        finally:
            self._shutdown()

    def _loop(self) -> None:
        next_stats = time.monotonic() + self.settings.stats_interval_s
        while not self._stop.is_set():
            self._apply_pending()
            block = self.mic.read(max(0.0, next_stats - time.monotonic()))
            first = block is not None and not self.first_block.is_set()
            if block is not None:
                self._process(block)
            changed = self._track_input_state()
            if changed == "stalled":
                self.finish_epoch()  # no audio: end an open bout now, not after the outage
            if self._pause_changed():
                changed = "paused" if self.pause.paused else "resumed"
            if first or changed or self._outbox_error_changed() or time.monotonic() >= next_stats:
                self._emit_stats()
                next_stats = time.monotonic() + self.settings.stats_interval_s
            if first:
                self.first_block.set()  # after the first stats: READY carries a real STATUS

    def _process(self, block: MicBlock) -> None:
        if self.pause.paused:  # privacy pause: the audio is dropped unscored
            self.finish_epoch()
            with self._lock:
                self._last_block_at = time.monotonic()
            return
        if self._pipeline is None or block.segment != self._epoch[0]:
            self.finish_epoch()
            self._new_epoch(block)
        assert self._pipeline is not None
        self._pipeline.process_block(block.samples, block.start_sample - self._epoch[1])
        with self._lock:
            self._last_block_at = time.monotonic()

    def finish_epoch(self) -> None:
        """Finish the current pipeline (open bouts become events); the next block starts one."""
        if self._pipeline is None:
            return
        self._pipeline.finish()
        self._retired_windows += self._pipeline.stats.windows_scored
        self._counter = self._pipeline.stats.counter
        self._pipeline, self._epoch = None, (-1, 0)

    def _new_epoch(self, block: MicBlock) -> None:
        """A pipeline whose sample 0 is the first sample of ``block``."""
        offset = timedelta(seconds=block.start_sample / self.engine.sample_rate)
        context = StreamContext.for_model(
            self.engine.model, device_id(self.settings), self.mic.source_name,
            block.segment_start + offset,
        )  # fmt: skip
        self._pipeline = Pipeline(
            self.engine.scorer, context, self.engine.detector, self.engine.framing.hop_samples,
            sinks=self._sinks(), batch_windows=LIVE_BATCH_WINDOWS,
        )  # fmt: skip
        if self._counter is not None:
            self._pipeline.stats.counter = self._counter
        self._epoch = (block.segment, block.start_sample)

    def replace_sinks(self) -> None:
        """Point the running pipeline at the current sinks (after an MQTT or history rebuild)."""
        self._attach_pause()
        if self._pipeline is not None:
            self._pipeline.sinks = self._sinks()

    def _sinks(self) -> list[EventSink]:
        extra = [sink for sink in (self.history, self.mqtt_sink) if sink is not None]
        return [*self._local_sinks, *extra]

    def _attach_pause(self) -> None:
        """Let a new MQTT sink carry the pause switch (commands in, state out)."""
        if self.mqtt_sink is None:
            self.pause.on_change(None)
        elif self.mqtt_sink is not self._pause_attached_to:
            from monitor.mqtt.pause import attach_pause

            attach_pause(self.mqtt_sink, self.pause)  # type: ignore[arg-type]
        self._pause_attached_to = self.mqtt_sink

    def _pause_changed(self) -> bool:
        """True once after each pause/resume (the stats go out at once)."""
        paused = self.pause.paused
        changed, self._paused_seen = paused != self._paused_seen, paused
        return changed

    # -- stats and state ----------------------------------------------------
    def _track_input_state(self) -> str | None:
        """Update the input state; return it when it settled into a new one (running/stalled)."""
        health = self.mic.health()
        with self._lock:
            self._input_state = health.state
        if health.state not in ("running", "stalled") or health.state == self._settled_state:
            return None
        was, self._settled_state = self._settled_state, health.state
        if was == "stalled":
            log.warning("audio input %s recovered", health.device)
        return health.state if was is not None else None

    def _outbox_error_changed(self) -> bool:
        """True once when the MQTT outbox starts or stops failing (stats and STATUS= say so)."""
        error = getattr(getattr(self.mqtt_sink, "publisher", None), "outbox_error", None)
        changed, self._outbox_error = error != self._outbox_error, error
        return changed

    def _emit_stats(self) -> None:
        health = self.mic.health()
        snapshot = self._snapshot(health)
        for sink in self._sinks():
            sink.stats(snapshot)
        log.debug("stats %s", snapshot)
        with self._lock:
            self._summary = _summary_line(health, snapshot, self.mqtt_sink)

    def _snapshot(self, health: MicHealth) -> dict[str, Any]:
        counters = health.counters
        snapshot: dict[str, Any] = {
            "coughs_last_hour": 0, "coughs_today": 0, "input_level_dbfs": -120.0,
            "windows_scored": 0, "overflows": 0, "realtime_factor": 0.0,
        }  # fmt: skip
        if self._pipeline is not None:
            snapshot.update(self._pipeline.stats_snapshot())
        elif self._counter is not None:  # between epochs (input stalled): no stream clock
            last_hour, today = self._counter.counts(datetime.now(timezone.utc))
            snapshot.update(coughs_last_hour=last_hour, coughs_today=today)
        snapshot["windows_scored"] += self._retired_windows
        snapshot["overflows"] = counters.input_overflows + counters.dropped_blocks
        snapshot["uptime_s"] = round(time.monotonic() - self._started, 1)
        snapshot["input_state"] = health.state
        snapshot["input_stalls"] = counters.stalls
        snapshot["paused"] = self.pause.paused
        if self.history is not None:
            snapshot.update(self.history.stats_fields())
        return snapshot

    # -- reload and shutdown -------------------------------------------------
    def _apply_pending(self) -> None:
        with self._lock:
            new, self._pending = self._pending, None
        if new is not None:
            apply_reload(self, new)

    def _shutdown(self) -> None:
        """Score what is queued, close open bouts, close the sinks (MQTT: flush, offline)."""
        for block in self.mic.stop_and_drain():
            if self._pipeline is not None and block.segment == self._epoch[0]:
                self._pipeline.process_block(block.samples, block.start_sample - self._epoch[1])
        if self._pipeline is not None:
            self._pipeline.finish()
        for sink in self._sinks():
            try:
                sink.close()
            except Exception:  # one failing sink must not keep the others open
                log.exception("closing %s failed", type(sink).__name__)


def _summary_line(health: MicHealth, snapshot: dict[str, Any], mqtt: EventSink | None) -> str:
    """STATUS= text, e.g. ``listening on pulse; 2 coughs in the last hour; -43 dBFS; ...``."""
    if health.state == "stalled":
        return f"audio input {health.device} stalled: {health.reason}"
    if snapshot.get("paused"):
        return f"paused: monitoring off, audio from {health.device} dropped unscored"
    text = (
        f"listening on {health.device}; {snapshot['coughs_last_hour']} coughs in the last hour; "
        f"{snapshot['input_level_dbfs']:.0f} dBFS"
    )
    publisher = getattr(mqtt, "publisher", None)
    if publisher is not None:
        link = "connected" if publisher.connected else "disconnected"
        text += f"; MQTT {link}, {publisher.pending()} waiting"
        if publisher.outbox_error:  # first: STATUS= is cut at 200 characters
            text = f"outbox cannot be written ({publisher.outbox_error}); {text}"
    return text
