"""The history file: every event in SQLite (WAL), bounded by age and by count.

One row per event, keyed by ``event_id``: writing the same event twice (a
replay run again, a re-emit) keeps one row. Times are stored as Unix seconds
(UTC). Old rows go when they pass ``retention_days`` or when more than
``max_events`` rows exist (the oldest first); :meth:`HistoryStore.prune` runs
at open and then at most once per :data:`PRUNE_EVERY_S`.

Several processes may use one file (the daemon writes, ``replay`` writes,
``report`` reads): SQLite's own locking with a busy timeout, no process lock.
A :class:`HistoryStore` belongs to one thread.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from monitor.errors import CoughwatchError
from monitor.output.events import CoughEvent

log = logging.getLogger(__name__)

FILENAME: Final = "history.sqlite3"
SCHEMA_VERSION: Final = 1
BUSY_TIMEOUT_MS: Final = 5000
"""Wait this long for another process's write (on the history thread, never the audio)."""
PRUNE_EVERY_S: Final = 3600.0
DAY_S: Final = 86400.0
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    label TEXT NOT NULL,
    start_unix_s REAL NOT NULL,
    end_unix_s REAL NOT NULL,
    peak_score REAL NOT NULL,
    mean_score REAL NOT NULL,
    source TEXT NOT NULL,
    model TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_start ON events (start_unix_s);
"""


class HistoryError(CoughwatchError):
    """The history file cannot be read (missing, not SQLite, not a coughwatch history)."""


@dataclass(frozen=True)
class HistoryEvent:
    """What the history keeps of one event (times in Unix seconds, UTC)."""

    event_id: str
    device_id: str
    label: str
    start_unix_s: float
    end_unix_s: float
    peak_score: float = 1.0
    mean_score: float = 1.0
    source: str = ""
    model: str = ""

    @classmethod
    def from_event(cls, event: CoughEvent) -> HistoryEvent:
        """The row for a live or replayed event."""
        return cls(
            event.event_id, event.device_id, event.label, event.start_time.timestamp(),
            event.end_time.timestamp(), round(event.peak_score, 4), round(event.mean_score, 4),
            event.source, f"{event.model_name}@{event.model_sha256}",
        )  # fmt: skip

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> HistoryEvent:
        """The row for one event object as printed by ``replay``/``listen`` (schema event/1).

        Raises ``KeyError``/``ValueError``/``TypeError`` for an object that is not an event.
        """
        model = obj.get("model") or {}
        return cls(
            str(obj["event_id"]), str(obj["device_id"]), str(obj["label"]),
            _unix_s(obj["start_time"]), _unix_s(obj["end_time"]),
            float(obj.get("peak_score", 1.0)), float(obj.get("mean_score", 1.0)),
            str(obj.get("source", "")), f"{model.get('name', '')}@{model.get('sha256', '')}",
        )  # fmt: skip

    def as_row(self) -> tuple[object, ...]:
        return (self.event_id, self.device_id, self.label, self.start_unix_s, self.end_unix_s,
                self.peak_score, self.mean_score, self.source, self.model)  # fmt: skip


def _unix_s(iso: object) -> float:
    if not isinstance(iso, str):
        raise TypeError("time is not a string")
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class HistoryStore:
    """Read/write access to one history file."""

    def __init__(self, path: Path, retention_days: float, max_events: int) -> None:
        """Open (create) ``path``; raises ``sqlite3.Error``/``OSError`` when that fails."""
        self.path = path
        self.retention_days = retention_days
        self.max_events = max_events
        self._next_prune = 0.0
        self._db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a convenience record: no fsync per row
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def in_dir(cls, state_dir: Path, retention_days: float, max_events: int) -> HistoryStore:
        """Open (create) ``state_dir/history.sqlite3``."""
        return cls(state_dir / FILENAME, retention_days, max_events)

    def add(self, events: Iterable[HistoryEvent], now_unix_s: float | None = None) -> int:
        """Insert events in one transaction (duplicates ignored); prune when due.

        Returns how many were new. Raises ``sqlite3.Error`` (disk full, read-only, ...).
        """
        rows = [event.as_row() for event in events]
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
            added = self._db.total_changes - before
        self.prune_if_due(time.time() if now_unix_s is None else now_unix_s)
        return added

    def prune_if_due(self, now_unix_s: float) -> int:
        """:meth:`prune` at most once per :data:`PRUNE_EVERY_S` (by the monotonic clock)."""
        if time.monotonic() < self._next_prune:
            return 0
        self._next_prune = time.monotonic() + PRUNE_EVERY_S
        return self.prune(now_unix_s)

    def prune(self, now_unix_s: float) -> int:
        """Delete events past the retention, then the oldest beyond ``max_events``."""
        horizon = now_unix_s - self.retention_days * DAY_S
        with self._transaction():
            aged = self._db.execute("DELETE FROM events WHERE end_unix_s < ?", (horizon,)).rowcount
            excess = self.count() - self.max_events
            if excess > 0:
                self._db.execute(
                    "DELETE FROM events WHERE event_id IN (SELECT event_id FROM events "
                    "ORDER BY start_unix_s LIMIT ?)", (excess,))  # fmt: skip
        removed = aged + max(0, excess)
        if removed:
            log.info("history %s: removed %d event(s) (older than %g days, or beyond %d)",
                     self.path, removed, self.retention_days, self.max_events)
        return removed

    def count(self) -> int:
        """Events stored."""
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def between(self, begin_unix_s: float, end_unix_s: float,
                device_id: str | None = None) -> list[tuple[str, float]]:
        """``(event_id, start_unix_s)`` of events starting in ``[begin, end)``, for one device."""
        sql = "SELECT event_id, start_unix_s FROM events WHERE start_unix_s >= ? AND start_unix_s < ?"
        params: list[object] = [begin_unix_s, end_unix_s]
        if device_id is not None:
            sql += " AND device_id = ?"
            params.append(device_id)
        return [(str(i), float(s)) for i, s in self._db.execute(sql, params)]

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, rolled back if anything in it fails."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def read_history(path: Path, begin_unix_s: float, end_unix_s: float) -> Iterator[HistoryEvent]:
    """Events starting in ``[begin, end)`` from the history file at ``path``, oldest first.

    Opens the file read-only; raises :class:`HistoryError` (one line) when it is
    missing or not a coughwatch history.
    """
    if not path.is_file():
        raise HistoryError(f"{path}: no history file (nothing recorded yet, or a wrong "
                           "--history/--state-dir)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                             timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: cannot open the history ({exc})") from None
    try:
        rows = db.execute(
            "SELECT event_id, device_id, label, start_unix_s, end_unix_s, peak_score, mean_score, "
            "source, model FROM events WHERE start_unix_s >= ? AND start_unix_s < ? "
            "ORDER BY start_unix_s", (begin_unix_s, end_unix_s)).fetchall()  # fmt: skip
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: not a readable coughwatch history ({exc})") from None
    finally:
        db.close()
    for row in rows:
        yield HistoryEvent(*row)


def read_events_jsonl(path: Path) -> tuple[list[HistoryEvent], int]:
    """Events from a JSON-lines file (``--events-out``, or ``replay``'s stdout saved).

    Returns the events and the number of lines that were not events (skipped).
    Raises :class:`HistoryError` when the file cannot be read.
    """
    events, skipped = [], 0
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    events.append(HistoryEvent.from_json(obj))
                except (ValueError, KeyError, TypeError, AttributeError):
                    skipped += 1
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read events ({exc.strerror or exc})") from None
    return events, skipped
