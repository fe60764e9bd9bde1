"""The history in ``listen``: the history sink plus the "coughs last night" counter."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from monitor.history.nights import LastNightCounter
from monitor.history.sink import HistorySink
from monitor.output.events import CoughEvent
from monitor.output.local import NullSink

if TYPE_CHECKING:
    from monitor.config.settings import ListenSettings


def history_inputs(settings: ListenSettings, device_id: str) -> tuple[object, ...]:
    """The settings :class:`LiveHistory` depends on (rebuild it when they change)."""
    return (settings.history, settings.state_dir, device_id)


class LiveHistory(NullSink):
    """An :class:`~monitor.output.sinks.EventSink`: this device's events counted per night, and every
    event written to the history when it is enabled. Never raises for disk problems (the
    history thread logs them)."""

    def __init__(self, settings: ListenSettings, device_id: str) -> None:
        self.device_id = device_id
        self.counter = LastNightCounter(settings.history.night)
        self.store: HistorySink | None = None
        if settings.history.enabled:
            self.store = HistorySink(settings.state_dir, settings.history, self.counter, device_id)

    def bout_ended(self, event: CoughEvent) -> None:
        """Count the event (this device only) and queue it for the history."""
        if event.device_id == self.device_id:
            self.counter.add(event.event_id, event.start_time.timestamp())
        if self.store is not None:
            self.store.bout_ended(event)

    def close(self) -> None:
        """Write what is queued and close the file."""
        if self.store is not None:
            self.store.close()

    def stats_fields(self, now_unix_s: float | None = None) -> dict[str, Any]:
        """``coughs_last_night`` and ``history_unsaved`` for the stats payload."""
        now = time.time() if now_unix_s is None else now_unix_s
        unsaved = self.store.unsaved if self.store is not None else 0
        return {"coughs_last_night": self.counter.count(now), "history_unsaved": unsaved}
