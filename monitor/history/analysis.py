"""From a list of events to what the report shows: nights, coughs per hour, bouts, busy hours.

Pure functions over :class:`~monitor.history.store.HistoryEvent` rows; no I/O,
no plotting. Each event counts as one cough (the detector already merges
coughs less than ``merge_gap_ms`` apart into one event).

A **bout** is a run of coughs in which each one starts at most ``bout_gap_s``
(default :data:`DEFAULT_BOUT_GAP_S`) after the previous one ended: a coughing
fit. A bout belongs to the night and the hour its first cough is in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from monitor.history.nights import HOUR, NightWindow, local_time
from monitor.history.store import HistoryEvent

DEFAULT_BOUT_GAP_S: Final = 60.0
"""Coughs closer than this (end of one to start of the next) form one bout."""
BUSY_HOURS_SHOWN: Final = 3


@dataclass(frozen=True)
class Bout:
    """One coughing fit: ``coughs`` events, from the first one's start to the last one's end."""

    start_unix_s: float
    end_unix_s: float
    coughs: int

    @property
    def duration_s(self) -> float:
        return self.end_unix_s - self.start_unix_s

    @property
    def start_local(self) -> datetime:
        return local_time(self.start_unix_s)


def group_bouts(events: Sequence[HistoryEvent], gap_s: float) -> list[Bout]:
    """Bouts of ``events`` (sorted by start); a gap longer than ``gap_s`` starts a new one."""
    bouts: list[Bout] = []
    for event in events:
        if bouts and event.start_unix_s - bouts[-1].end_unix_s <= gap_s:
            last = bouts[-1]
            bouts[-1] = Bout(last.start_unix_s, max(last.end_unix_s, event.end_unix_s),
                             last.coughs + 1)  # fmt: skip
        else:
            bouts.append(Bout(event.start_unix_s, event.end_unix_s, 1))
    return bouts


@dataclass(frozen=True)
class Night:
    """One night: coughs per hour bin and its bouts."""

    night: date
    """The date of the night's evening."""
    begin: datetime
    """Naive local start (e.g. 22:00 on ``night``)."""
    hourly: tuple[int, ...]
    """Coughs that started in each hour bin, from ``begin``."""
    bouts: tuple[Bout, ...]
    running: bool = False
    """The night had not ended when the report was made."""

    @property
    def coughs(self) -> int:
        return sum(self.hourly)

    @property
    def longest_bout(self) -> Bout | None:
        return max(self.bouts, key=lambda b: (b.coughs, b.duration_s), default=None)

    @property
    def busiest_hour(self) -> int | None:
        """Index of the hour with most coughs (None for a night without any)."""
        return max(range(len(self.hourly)), key=lambda i: self.hourly[i]) if self.coughs else None

    def bouts_in_hour(self, index: int) -> int:
        start = self.begin + index * HOUR
        return sum(1 for b in self.bouts if start <= b.start_local < start + HOUR)


@dataclass(frozen=True)
class HourStat:
    """One hour of the night (e.g. 02:00-03:00) over all the nights of the report."""

    index: int
    label: str
    """``"02:00"``: the bin's start on the wall clock."""
    total: int
    mean: float
    """Coughs per night in this hour."""
    worst: int
    """Most coughs in this hour in any one night."""


@dataclass(frozen=True)
class CoughReport:
    """Everything the CSV, PNG and HTML outputs show."""

    window: NightWindow
    nights: tuple[Night, ...]
    devices: tuple[str, ...]
    bout_gap_s: float
    outside_nights: int
    """Coughs in the period that fell outside the night window (daytime)."""
    source: str
    """Where the events came from (history file or events file), for the title."""

    @property
    def coughs(self) -> int:
        return sum(n.coughs for n in self.nights)

    @property
    def bouts(self) -> int:
        return sum(len(n.bouts) for n in self.nights)

    def hour_label(self, index: int) -> str:
        return (datetime.combine(date(2000, 1, 1), self.window.start) + index * HOUR).strftime("%H:%M")

    def hour_profile(self) -> list[HourStat]:
        """Each hour of the night over all nights."""
        n = max(1, len(self.nights))
        stats = []
        for index in range(self.window.hours):
            counts = [night.hourly[index] for night in self.nights]
            stats.append(HourStat(index, self.hour_label(index), sum(counts), sum(counts) / n,
                                  max(counts, default=0)))  # fmt: skip
        return stats

    def loudest_hours(self) -> list[HourStat]:
        """Up to :data:`BUSY_HOURS_SHOWN` hours with the most coughs, busiest first; none when
        every hour had as many coughs as the quietest."""
        profile = self.hour_profile()
        least = min((h.total for h in profile), default=0)
        ranked = sorted(profile, key=lambda h: (-h.total, h.index))
        return [h for h in ranked[:BUSY_HOURS_SHOWN] if h.total > least]

    def quietest_hours(self) -> list[HourStat]:
        """The hours with the fewest coughs (all of them when several tie); none when every
        hour had as many as the busiest."""
        profile = self.hour_profile()
        totals = [h.total for h in profile]
        if not totals or min(totals) == max(totals):
            return []
        return [h for h in profile if h.total == min(totals)]


def nights_between(window: NightWindow, since: datetime, until: datetime) -> list[date]:
    """Nights whose start lies in ``[since, until)`` (naive local times), oldest first."""
    nights = []
    day = since.date() - timedelta(days=1)
    while day <= until.date():
        begin, _ = window.bounds(day)
        if since <= begin < until:
            nights.append(day)
        day += timedelta(days=1)
    return nights


def build_report(
    events: Iterable[HistoryEvent], window: NightWindow, nights: Sequence[date],
    now: datetime, bout_gap_s: float = DEFAULT_BOUT_GAP_S, source: str = "",
) -> CoughReport:
    """Bin ``events`` into ``nights``; ``now`` (naive local) marks a night still running."""
    wanted = set(nights)
    per_night: dict[date, list[HistoryEvent]] = {night: [] for night in nights}
    outside, devices = 0, set()
    for event in sorted(events, key=lambda e: e.start_unix_s):
        night = window.night_of(local_time(event.start_unix_s))
        if night in wanted:
            per_night[night].append(event)
            devices.add(event.device_id)
        elif night is None and _within(event, window, nights):
            outside += 1
            devices.add(event.device_id)
    built = tuple(_night(window, night, per_night[night], now, bout_gap_s) for night in nights)
    return CoughReport(window, built, tuple(sorted(devices)), bout_gap_s, outside, source)


def _within(event: HistoryEvent, window: NightWindow, nights: Sequence[date]) -> bool:
    """The event lies between the first night's start and the last night's end."""
    if not nights:
        return False
    begin, _ = window.bounds(nights[0])
    _, end = window.bounds(nights[-1])
    return begin <= local_time(event.start_unix_s) < end


def _night(window: NightWindow, night: date, events: list[HistoryEvent], now: datetime,
           bout_gap_s: float) -> Night:
    begin, end = window.bounds(night)
    hourly = [0] * window.hours
    for event in events:
        hourly[window.hour_index(local_time(event.start_unix_s))] += 1
    bouts = tuple(group_bouts(events, bout_gap_s))
    return Night(night, begin, tuple(hourly), bouts, running=begin <= now < end)
