"""Pipeline statistics for the MQTT ``stats`` topic (keys: :data:`monitor.output.sinks.STATS_KEYS`).

Counts come from the sample clock and finished events; only ``uptime_s`` and
``realtime_factor`` read a monotonic clock, and they never feed the detection logic.
"""

from __future__ import annotations

import math
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np

from monitor.output.events import CoughEvent

HOUR: Final = timedelta(hours=1)
SILENCE_DBFS: Final = -120.0
"""Level reported for digital silence (instead of -inf)."""


class CoughCounter:
    """Counts events that ended in the last hour and since local midnight."""

    def __init__(self) -> None:
        self._ends: deque[datetime] = deque()

    def add(self, event: CoughEvent) -> None:
        """Record a finished event (events arrive in end-time order)."""
        self._ends.append(event.end_time)

    def counts(self, now: datetime) -> tuple[int, int]:
        """``(last_hour, today)`` at ``now`` (aware datetime; "today" in local time)."""
        midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        horizon = min(now - HOUR, midnight)
        while self._ends and self._ends[0] < horizon:
            self._ends.popleft()
        last_hour = sum(1 for end in self._ends if now - HOUR < end <= now)
        today = sum(1 for end in self._ends if midnight <= end <= now)
        return last_hour, today


class PipelineStats:
    """Running figures of one pipeline; :meth:`snapshot` starts a new level period."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.windows_scored = 0
        self.samples_processed = 0
        self.overflows = 0
        self.compute_s = 0.0
        self.counter = CoughCounter()
        self._started = time.monotonic()
        self._sum_squares = 0.0
        self._level_samples = 0

    def add_audio(self, block: np.ndarray) -> None:
        """Account float32 mono ``block`` (model rate) for the level and the sample count."""
        self._sum_squares += float(np.dot(block, block))
        self._level_samples += len(block)
        self.samples_processed += len(block)

    def level_dbfs(self) -> float:
        """RMS level in dBFS since the last snapshot (``SILENCE_DBFS`` for silence)."""
        if self._level_samples == 0 or self._sum_squares <= 0.0:
            return SILENCE_DBFS
        return max(SILENCE_DBFS, 10.0 * math.log10(self._sum_squares / self._level_samples))

    def realtime_factor(self) -> float:
        """Seconds of audio processed per second of compute (0 before any work)."""
        if self.compute_s <= 0.0:
            return 0.0
        return self.samples_processed / self.sample_rate / self.compute_s

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """The stats at stream wall time ``now``; resets the level period."""
        last_hour, today = self.counter.counts(now)
        snap = {
            "coughs_last_hour": last_hour,
            "coughs_today": today,
            "input_level_dbfs": round(self.level_dbfs(), 1),
            "windows_scored": self.windows_scored,
            "overflows": self.overflows,
            "realtime_factor": round(self.realtime_factor(), 1),
            "uptime_s": round(time.monotonic() - self._started, 1),
        }
        self._sum_squares, self._level_samples = 0.0, 0
        return snap
