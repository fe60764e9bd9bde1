"""``[history]`` settings of ``cough-monitor listen`` (also used by ``replay``'s defaults)."""

from __future__ import annotations

from typing import Annotated, Final

from msgspec import Meta

from monitor.config.structs import SettingsStruct
from monitor.history.nights import CLOCK_PATTERN, NightWindow

DEFAULT_RETENTION_DAYS: Final = 365
DEFAULT_MAX_EVENTS: Final = 200_000
"""About 54 MB of SQLite at ~270 bytes per event (measured: docs/history.md); ~550 coughs
a day for a year."""


class HistorySettings(SettingsStruct):
    """The local cough history (``history.sqlite3`` in the state directory)."""

    enabled: Annotated[bool, Meta(
        description="Keep every event in the local history (for `cough-monitor report` and the "
        "'coughs last night' counter).",
    )] = True
    retention_days: Annotated[float, Meta(
        gt=0.0, le=36500.0, description="Events older than this many days are deleted.",
    )] = DEFAULT_RETENTION_DAYS
    max_events: Annotated[int, Meta(
        ge=100, le=100_000_000,
        description="Size bound: beyond this many events the oldest are deleted.",
    )] = DEFAULT_MAX_EVENTS
    night_start: Annotated[str, Meta(
        pattern=CLOCK_PATTERN,
        description="Local time a night starts (HH:MM), for 'coughs last night'.",
    )] = "22:00"
    night_end: Annotated[str, Meta(
        pattern=CLOCK_PATTERN,
        description="Local time a night ends (HH:MM); equal to night_start: 24-hour nights.",
    )] = "08:00"

    @property
    def night(self) -> NightWindow:
        """The night window these settings describe."""
        return NightWindow.parse(self.night_start, self.night_end)
