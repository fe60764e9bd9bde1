"""The history output: an :class:`~monitor.output.sinks.EventSink` writing on a thread of its own.

Detection never waits for the disk: :meth:`HistorySink.bout_ended` puts the
event on a bounded queue and returns; the ``history`` thread opens the file
and writes what is queued in one transaction per batch. The fault rules are
the outbox's: a failure (no state directory, disk full, read-only file,
corrupt file) is logged once, counted (``unsaved``, the ``history_unsaved``
stats key), and writing resumes by itself when the cause is gone; every
other output still gets every event.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Final

from monitor.errors import CoughwatchError
from monitor.history.nights import LastNightCounter
from monitor.history.settings import HistorySettings
from monitor.history.store import FILENAME, HistoryEvent, HistoryStore
from monitor.output.events import CoughEvent
from monitor.output.local import NullSink

log = logging.getLogger(__name__)

QUEUE_EVENTS: Final = 10_000
"""Events waiting for the disk, at most; beyond, they are counted as unsaved."""
BATCH_EVENTS: Final = 500
REOPEN_EVERY_S: Final = 60.0
"""After a failed open, try again at most this often (on the next event)."""
CLOSE_TIMEOUT_S: Final = 5.0
_STOP: Final = None


class HistorySink(NullSink):
    """Keeps every finished event in ``<state_dir>/history.sqlite3``."""

    def __init__(
        self, state_dir: Path | None, settings: HistorySettings,
        seed: LastNightCounter | None = None, device_id: str | None = None,
    ) -> None:
        """``state_dir`` None: the default state directory. ``seed``: a counter to fill with
        ``device_id``'s events of the latest night once the file is open."""
        self.settings = settings
        self.state_dir = state_dir
        self.seed = seed
        self.device_id = device_id
        self.unsaved = 0
        """Events that could not be written (queue full or write failures)."""
        self.path: Path | None = None
        self._queue: queue.Queue[HistoryEvent | None] = queue.Queue(maxsize=QUEUE_EVENTS)
        self._store: HistoryStore | None = None
        self._failing = False
        self._next_open = 0.0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="history", daemon=True)
        self._thread.start()

    # -- EventSink (the worker thread) ------------------------------------------
    def bout_ended(self, event: CoughEvent) -> None:
        """Queue the event for the disk (never blocks)."""
        try:
            self._queue.put_nowait(HistoryEvent.from_event(event))
        except queue.Full:
            self._failed(1, f"more than {QUEUE_EVENTS} events wait for the disk")

    def close(self) -> None:
        """Write what is queued (up to :data:`CLOSE_TIMEOUT_S`), then close the file."""
        try:
            self._queue.put(_STOP, timeout=CLOSE_TIMEOUT_S)
        except queue.Full:
            pass
        self._thread.join(CLOSE_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("history: %d event(s) still queued at exit, not saved", self._queue.qsize())

    # -- the history thread --------------------------------------------------------
    def _run(self) -> None:
        self._open()
        while True:
            batch = self._next_batch()
            if batch is None:
                break
            if batch:
                self._write(batch)
        if self._store is not None:
            self._store.close()

    def _next_batch(self) -> list[HistoryEvent] | None:
        """Up to :data:`BATCH_EVENTS` queued events; None once closing and drained."""
        item = self._queue.get()
        batch = []
        while item is not _STOP:
            assert item is not None
            batch.append(item)
            if len(batch) >= BATCH_EVENTS:
                return batch
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch
        if batch:
            self._write(batch)
        return None

    def _open(self) -> bool:
        """Open the file (again); False (logged once) when it cannot be used now."""
        if self._store is not None:
            return True
        if time.monotonic() < self._next_open:
            return False
        self._next_open = time.monotonic() + REOPEN_EVERY_S
        try:
            from monitor.mqtt.state_dir import resolve_state_dir

            directory = resolve_state_dir(self.state_dir)
            self.path = directory / FILENAME
            self._store = HistoryStore(
                self.path, self.settings.retention_days, self.settings.max_events)
            self._store.prune_if_due(time.time())
            self._seed(self._store)
        except (CoughwatchError, sqlite3.Error, OSError) as exc:
            self._store = None
            self._report(f"cannot open the history ({_reason(exc)})")
            return False
        log.debug("history: %s", self.path)
        return True

    def _seed(self, store: HistoryStore) -> None:
        if self.seed is not None:
            begin, end = self.seed.seed_range(time.time())
            self.seed.seed(store.between(begin, end, self.device_id))

    def _write(self, batch: list[HistoryEvent]) -> None:
        if not self._open():
            self._failed(len(batch))
            return
        assert self._store is not None
        try:
            self._store.add(batch)
        except (sqlite3.Error, OSError) as exc:
            self._failed(len(batch), f"cannot write to {self.path} ({_reason(exc)})")
            return
        if self._failing:
            self._failing = False
            log.warning("history: writing to %s again", self.path)

    def _failed(self, n_events: int, reason: str | None = None) -> None:
        with self._lock:
            self.unsaved += n_events
        if reason is not None:
            self._report(reason)

    def _report(self, reason: str) -> None:
        """Log the first failure of a run of failures (detection goes on regardless)."""
        if not self._failing:
            self._failing = True
            log.warning("history: %s; events still reach the other outputs; will retry", reason)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
