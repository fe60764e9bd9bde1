"""Where detections go: the interface every output implements.

The detector never owns a transport; the pipeline hands its results to a list
of sinks (stdout JSON lines, an events file, MQTT, ...). Sinks must not block
the audio worker for long: MQTT queues into its durable outbox and returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from monitor.output.events import CoughEvent


class EventSink(Protocol):
    """An output for detections. All methods are called from one worker thread."""

    def bout_started(self, label: str, event_id: str, start_s: float) -> None:
        """A bout of ``label`` was confirmed (onset); MQTT publishes ``state`` ``ON``.

        ``event_id`` is the id the finished :class:`CoughEvent` will carry.
        """

    def bout_ended(self, event: CoughEvent) -> None:
        """The bout is over: publish the complete event (MQTT: ``event``, then ``state`` ``OFF``)."""

    def stats(self, snapshot: Mapping[str, Any]) -> None:
        """Periodic pipeline statistics (keys: see :data:`STATS_KEYS`)."""

    def close(self) -> None:
        """Flush and release resources (end of replay or daemon shutdown)."""


STATS_KEYS = (
    "coughs_last_hour",  # int, events that ended in the last 3600 s of stream time
    "coughs_today",  # int, events since local midnight (stream wall clock)
    "input_level_dbfs",  # float, RMS level of the last stats period, dBFS (-inf -> -120)
    "windows_scored",  # int, since start
    "overflows",  # int, input overflows + dropped blocks since start
    "realtime_factor",  # float, seconds of audio processed per second of compute
    "uptime_s",  # float, seconds since the pipeline started
    "outbox_depth",  # int, events waiting for delivery (MQTT); added by the MQTT sink
    "outbox_quarantined",  # int, outbox rows that can never be sent, kept aside; MQTT sink
    "outbox_error",  # str | None, why the outbox cannot be written now; MQTT sink
    "input_state",  # str, live microphone: "starting", "running" or "stalled"; added by listen
    "input_stalls",  # int, live microphone: stalls (device gone, no audio) since start; listen
    "paused",  # bool, listen: monitoring off by the privacy pause (monitor.live.pause)
    "coughs_last_night",  # int, listen: events in the latest night window (monitor.history.nights)
    "history_unsaved",  # int, listen: events the local history could not keep
)
