"""Night windows in local wall-clock time, and the "coughs last night" counter.

A night is named by the date of its evening: the night ``2026-01-05`` with the
default window runs from 2026-01-05 22:00 to 2026-01-06 08:00 local time. A
window whose start equals its end is a whole day (24 hours from the start).
All arithmetic is on naive local wall-clock times, so a night that crosses a
daylight-saving change still has its hours labelled as the clock on the wall
showed them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

CLOCK_PATTERN: Final = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
"""``HH:MM``, 00:00 to 23:59."""
_CLOCK: Final = re.compile(CLOCK_PATTERN)
DAY: Final = timedelta(days=1)
HOUR: Final = timedelta(hours=1)


def parse_clock(text: str) -> time:
    """``"22:00"`` -> ``time(22, 0)``; raises ``ValueError`` naming the expected form."""
    if not _CLOCK.match(text.strip()):
        raise ValueError(f"not a time of day HH:MM (00:00..23:59): {text!r}")
    hours, minutes = text.strip().split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class NightWindow:
    """From ``start`` to ``end`` local time, crossing midnight when ``end <= start``."""

    start: time
    end: time

    @classmethod
    def parse(cls, start: str, end: str) -> NightWindow:
        """From two ``HH:MM`` strings; ``ValueError`` for a malformed one."""
        return cls(parse_clock(start), parse_clock(end))

    @classmethod
    def parse_range(cls, text: str) -> NightWindow:
        """From ``"22:00-08:00"``."""
        start, sep, end = text.partition("-")
        if not sep:
            raise ValueError(f"not a window HH:MM-HH:MM: {text!r}")
        return cls.parse(start, end)

    @property
    def duration(self) -> timedelta:
        """Length of one night (24 h when start == end)."""
        span = _minutes(self.end) - _minutes(self.start)
        return timedelta(minutes=span if span > 0 else span + 24 * 60)

    @property
    def hours(self) -> int:
        """Hour bins per night (the last one may be partial)."""
        return -(-int(self.duration.total_seconds()) // 3600)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def bounds(self, night: date) -> tuple[datetime, datetime]:
        """Naive local start and end of the night of ``night``."""
        begin = datetime.combine(night, self.start)
        return begin, begin + self.duration

    def night_of(self, local: datetime) -> date | None:
        """The night (its evening's date) that naive local ``local`` falls in, or None (daytime)."""
        shifted = local - timedelta(hours=self.start.hour, minutes=self.start.minute)
        night = shifted.date()
        return night if local - datetime.combine(night, self.start) < self.duration else None

    def hour_index(self, local: datetime) -> int:
        """Hour bin of ``local`` inside its night (0 = the first hour); ``local`` must be in one."""
        night = self.night_of(local)
        if night is None:
            raise ValueError(f"{local} is outside the night window {self}")
        return int((local - datetime.combine(night, self.start)) // HOUR)

    def latest_night(self, local_now: datetime) -> date:
        """The night that most recently started at or before ``local_now`` (may be running)."""
        shifted = local_now - timedelta(hours=self.start.hour, minutes=self.start.minute)
        return shifted.date()


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def local_time(unix_s: float) -> datetime:
    """Naive local wall-clock time of a Unix timestamp (the machine's time zone)."""
    return datetime.fromtimestamp(unix_s)


class LastNightCounter:
    """Events that started in the latest night window: the HA "Coughs last night" sensor.

    "Last night" is the night that most recently *started*: while a night runs it
    counts up, and after it ends it holds that night's total until the next
    night starts. Seeded from the history at start, so a restart at 3 a.m. does
    not reset it. Thread-safe (the history thread seeds, the worker adds and reads).
    """

    def __init__(self, window: NightWindow) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._starts: dict[str, float] = {}  # event_id -> start (Unix s): replays de-duplicate

    def seed(self, events: Iterable[tuple[str, float]]) -> None:
        """Add ``(event_id, start_unix_s)`` pairs (from the history)."""
        with self._lock:
            for event_id, start in events:
                self._starts[event_id] = start

    def add(self, event_id: str, start_unix_s: float) -> None:
        """Count one finished event."""
        with self._lock:
            self._starts[event_id] = start_unix_s

    def count(self, now_unix_s: float) -> int:
        """Events in the latest night as of ``now_unix_s``; forgets older ones."""
        night = self.window.latest_night(local_time(now_unix_s))
        begin, end = self.window.bounds(night)
        begin_s, end_s = begin.timestamp(), end.timestamp()
        with self._lock:
            self._starts = {k: s for k, s in self._starts.items() if s >= begin_s}
            return sum(1 for s in self._starts.values() if s < end_s)

    def seed_range(self, now_unix_s: float) -> tuple[float, float]:
        """``(begin, end)`` Unix seconds of the night to seed from the history."""
        begin, end = self.window.bounds(self.window.latest_night(local_time(now_unix_s)))
        return begin.timestamp(), end.timestamp()
