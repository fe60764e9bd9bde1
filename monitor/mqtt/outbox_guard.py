"""The outbox as the publisher sees it: a disk that is full or read-only never raises into
the audio path.

When the outbox cannot be written (``database or disk is full``, ``attempt to
write a readonly database``, an I/O error, or it could not even be opened at
start), events are held in memory, oldest first, up to :data:`HOLD_MAX`; the
problem is logged once, and :attr:`GuardedOutbox.error` says what it is (the
``stats`` message and systemd's ``STATUS=`` show it). Every
:data:`RETRY_S` seconds (and at the next event) the database is opened again
and the held events are written in order; from then on it is an ordinary
outbox again. Events held when the process ends are lost to MQTT (stdout and
the journal still had every one); :meth:`GuardedOutbox.held` says how many.

Only one start-up problem is fatal: another process holding the outbox
(:class:`~monitor.mqtt.outbox.OutboxBusy`).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from monitor.mqtt.outbox import FILENAME, Outbox, OutboxBusy, OutboxError, OutboxMessage

log = logging.getLogger(__name__)

HOLD_MAX: Final = 1000
"""Events kept in memory while the outbox cannot be written (~1 kB each); beyond, the
oldest are dropped and counted in ``outbox_dropped``."""
RETRY_S: Final = 1.0
"""Seconds between attempts to write to a failing outbox again."""

_Held = tuple[str, bytes, int]
_STORE_ERRORS: Final = (sqlite3.Error, OutboxError, OSError)


class GuardedOutbox:
    """The outbox in ``state_dir`` with write failures turned into a reported state."""

    def __init__(self, state_dir: Path, max_messages: int) -> None:
        self.path = state_dir / FILENAME
        self.max_messages = max_messages
        self._lock = threading.RLock()
        self._box: Outbox | None = None
        self._held: deque[_Held] = deque()
        self._lost = 0
        self._error: str | None = None
        self._next_try = 0.0
        self._counts = (0, 0)  # last known (dropped, quarantined), for when reads fail
        try:
            self._box = Outbox(self.path, max_messages)
        except OutboxBusy:
            raise
        except OutboxError as exc:
            self._fail(exc.__cause__ or exc)

    # ----- writing (worker thread) -----

    def put(self, topic: str, payload: bytes, qos: int) -> int | None:
        """Store a message; its ``seq``, or None when it is held in memory instead."""
        with self._lock:
            if self._error is not None and not self._try_recover():
                self._hold((topic, payload, qos))
                return None
            assert self._box is not None
            try:
                return self._box.put(topic, payload, qos)
            except _STORE_ERRORS as exc:
                self._fail(exc)
                self._hold((topic, payload, qos))
                return None

    def retry(self) -> bool:
        """If failing and due, try to write again (held events first); True when healthy."""
        with self._lock:
            return self._error is None or self._try_recover()

    # ----- reading and removing (sender thread) -----

    def after(self, seq: int, limit: int) -> list[OutboxMessage]:
        """Stored messages after ``seq`` (none while the database cannot be read)."""
        with self._lock:
            if self._box is None:
                return []
            try:
                return self._box.after(seq, limit)
            except _STORE_ERRORS as exc:
                self._fail(exc)
                return []

    def remove(self, seqs: Iterable[int]) -> bool:
        """Forget delivered messages; False when that could not be written (try again later)."""
        with self._lock:
            if self._box is None:
                return False
            try:
                self._box.remove(seqs)
                return True
            except _STORE_ERRORS as exc:
                self._fail(exc)
                return False

    def quarantine(self, seq: int, reason: str) -> bool:
        """Move row ``seq`` to quarantine; False when that could not be written."""
        with self._lock:
            if self._box is None:
                return False
            try:
                self._box.quarantine(seq, reason)
                return True
            except _STORE_ERRORS as exc:
                self._fail(exc)
                return False

    # ----- figures -----

    @property
    def error(self) -> str | None:
        """Why the outbox cannot be written now (``database or disk is full``), else None."""
        with self._lock:
            return self._error

    def stored(self) -> int:
        """Messages waiting in the database."""
        with self._lock:
            if self._box is None:
                return 0
            try:
                return self._box.depth()
            except _STORE_ERRORS:
                return 0

    def held(self) -> int:
        """Messages waiting in memory because the database could not be written."""
        with self._lock:
            return len(self._held)

    def depth(self) -> int:
        """Messages waiting: stored plus held."""
        return self.stored() + self.held()

    def dropped(self) -> int:
        """Dropped over the outbox bound (ever, for this file) plus held ones dropped here."""
        return self._read_counts()[0] + self._lost

    def quarantined(self) -> int:
        """Rows in quarantine."""
        return self._read_counts()[1]

    def close(self) -> None:
        """Close the database and release the process lock."""
        with self._lock:
            if self._box is not None:
                self._box.close()
                self._box = None

    # ----- internals (call with the lock held) -----

    def _read_counts(self) -> tuple[int, int]:
        with self._lock:
            if self._box is not None:
                try:
                    self._counts = (self._box.dropped(), self._box.quarantined())
                except _STORE_ERRORS:
                    pass
            return self._counts

    def _hold(self, message: _Held) -> None:
        if len(self._held) >= HOLD_MAX:
            self._held.popleft()
            self._lost += 1
            if self._lost == 1:
                log.error("outbox %s still cannot be written and %d events wait in memory: "
                          "dropping the oldest (counted in outbox_dropped)", self.path, HOLD_MAX)
        self._held.append(message)

    def _fail(self, exc: BaseException) -> None:
        reason = _reason(exc)
        if self._error is None:
            log.error("outbox %s cannot be written (%s): events still go to stdout; MQTT events "
                      "wait in memory (up to %d) until it can, retried every %g s",
                      self.path, reason, HOLD_MAX, RETRY_S)
        elif reason != self._error:
            log.debug("outbox %s: now %s", self.path, reason)
        self._error = reason
        self._next_try = time.monotonic() + RETRY_S

    def _try_recover(self) -> bool:
        """Reopen the database and write the held messages in order; True when all went in."""
        if time.monotonic() < self._next_try:
            return False
        try:
            if self._box is None:
                self._box = Outbox(self.path, self.max_messages)
            else:
                self._box.reopen()
            written = 0
            while self._held:
                self._box.put(*self._held[0])
                self._held.popleft()
                written += 1
        except OutboxBusy as exc:
            self._fail(exc)
            return False
        except _STORE_ERRORS as exc:
            self._fail(exc)
            return False
        log.warning("outbox %s can be written again (%s before); stored %d event(s) held in memory",
                    self.path, self._error, written)
        self._error = None
        return True


def _reason(exc: BaseException) -> str:
    """A short reason: SQLite's own words (``database or disk is full``), else the error."""
    cause = exc.__cause__ if isinstance(exc, OutboxError) and exc.__cause__ else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return " ".join(str(cause).split()) or type(cause).__name__
