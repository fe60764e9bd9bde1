"""Durable, bounded, ordered outbox for MQTT messages (SQLite in WAL mode).

Every event is written here *before* it is handed to the network and removed
only when the broker acknowledged it (PUBACK), so neither a broker outage nor
a crash or restart of the monitor loses it. Rows come back in insertion order
(``seq`` never reused: ``AUTOINCREMENT``). When more than ``max_messages``
wait, the oldest are dropped; drops are counted persistently and logged.

A row that can never be sent (see :mod:`monitor.mqtt.poison`) is moved to the
``quarantine`` table of the same file: kept for a person to look at, counted,
and out of the way of the rows behind it. A file that SQLite finds damaged
at start is moved aside (``outbox.sqlite3.corrupt-<time>``) and a fresh one
is started. Write errors (disk full, read-only) are raised as
:class:`sqlite3.Error` with the transaction rolled back; what to do about them
is :class:`~monitor.mqtt.outbox_guard.GuardedOutbox`'s job.

One process owns an outbox at a time (an ``flock`` on ``outbox.sqlite3.lock``).
All methods are thread-safe: the audio worker adds, the MQTT sender reads and
removes.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from monitor.errors import CoughwatchError
from monitor.mqtt.outbox_files import is_corruption, move_aside

log = logging.getLogger(__name__)

FILENAME: Final = "outbox.sqlite3"
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_unix_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_unix_s REAL NOT NULL,
    quarantined_unix_s REAL NOT NULL,
    reason TEXT NOT NULL
);
"""


class OutboxError(CoughwatchError):
    """The outbox file cannot be opened, is corrupt, or is in use by another process."""


class OutboxBusy(OutboxError):
    """Another process holds the outbox (its ``flock``)."""


@dataclass(frozen=True)
class OutboxMessage:
    """One waiting message; ``seq`` orders delivery."""

    seq: int
    topic: str
    """Undecodable UTF-8 bytes are kept as surrogate escapes (such a row is poison)."""
    payload: bytes
    qos: int
    retain: bool


class Outbox:
    """The SQLite outbox at ``path`` holding at most ``max_messages`` rows."""

    def __init__(self, path: Path, max_messages: int) -> None:
        self.path = path
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self._lock_file = _take_lock(path.with_name(path.name + ".lock"))
        try:
            self._db = self._open_or_move_aside()
        except (sqlite3.Error, OSError) as exc:
            self._lock_file.close()
            raise OutboxError(f"outbox {path}: {exc}") from exc

    def _open_or_move_aside(self) -> sqlite3.Connection:
        try:
            return _connect(self.path)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            moved = move_aside(self.path)
            log.error("outbox %s is damaged (%s): moved it to %s and started a fresh one "
                      "(see docs/reliability.md to recover what it held)", self.path, exc, moved)
            return _connect(self.path)

    def reopen(self) -> None:
        """Close and open the database again (the process lock stays held): after the file
        system was read-only or full, a fresh connection sees it writable again."""
        with self._lock:
            self._db.close()
            self._db = _connect(self.path, check=False)

    @classmethod
    def in_dir(cls, state_dir: Path, max_messages: int) -> Outbox:
        """Open (or create) ``state_dir/outbox.sqlite3``."""
        return cls(state_dir / FILENAME, max_messages)

    def put(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> int:
        """Store a message durably and return its ``seq``; drops the oldest beyond the bound."""
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, created_unix_s) VALUES (?,?,?,?,?)",
                (topic, payload, qos, int(retain), time.time()),
            )
            excess = self._count() - self.max_messages
            if excess > 0:
                self._drop_oldest(excess)
            seq = cursor.lastrowid
        assert seq is not None
        return seq

    def after(self, seq: int, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages with ``seq`` greater than the given one, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, CAST(topic AS BLOB), payload, qos, retain FROM outbox "
                "WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit),
            ).fetchall()
        return [OutboxMessage(s, bytes(t).decode("utf-8", "surrogateescape"), bytes(p), q, bool(r))
                for s, t, p, q, r in rows]

    def remove(self, seqs: Iterable[int]) -> None:
        """Forget delivered messages (unknown ``seq`` values are ignored)."""
        params = [(s,) for s in seqs]
        if params:
            with self._lock, self._transaction():
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", params)

    def quarantine(self, seq: int, reason: str) -> None:
        """Move row ``seq`` to the ``quarantine`` table with ``reason`` (a no-op if it is gone)."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO quarantine SELECT seq, topic, payload, qos, retain, "
                "created_unix_s, ?, ? FROM outbox WHERE seq = ?", (time.time(), reason, seq))
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def quarantined(self) -> int:
        """Rows in quarantine (kept until a person deals with them)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0])

    def depth(self) -> int:
        """Messages waiting."""
        with self._lock:
            return self._count()

    def dropped(self) -> int:
        """Messages dropped over the bound since the outbox file was created."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the database and release the process lock."""
        with self._lock:
            self._db.close()
            self._lock_file.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; on any error ``ROLLBACK`` (SQLite leaves a
        failed transaction open after some errors, e.g. a read-only file) and re-raise."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error as exc:  # the original error is the one to report
                    log.debug("outbox rollback failed: %s", exc)
            raise

    def _count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def _drop_oldest(self, n: int) -> None:
        doomed = self._db.execute("SELECT seq, topic FROM outbox ORDER BY seq LIMIT ?", (n,)).fetchall()
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s, _ in doomed])
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('dropped', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            (len(doomed),),
        )
        log.warning(
            "outbox %s full (%d): dropped the oldest %d message(s), first seq %d on %s",
            self.path, self.max_messages, len(doomed), doomed[0][0], doomed[0][1],
        )


def _connect(path: Path, check: bool = True) -> sqlite3.Connection:
    """Open (or create) the database, check it is readable throughout, ensure the schema.

    ``PRAGMA quick_check`` reads every page (a full outbox is a few MB: milliseconds),
    so a damaged file is found at start, not in the middle of a delivery; ``check=False``
    skips it (a reopen of a file already checked).
    """
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # an event survives power loss too
        verdict = db.execute("PRAGMA quick_check").fetchone()[0] if check else "ok"
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"database disk image is malformed ({verdict})")
        if db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'quarantine'").fetchone()[0] == 0:
            db.executescript(_SCHEMA)  # only when something is missing: a read-only file still opens
    except BaseException:
        db.close()
        raise
    return db


def _take_lock(lock_path: Path) -> IO[bytes]:
    """Hold an exclusive ``flock`` on ``lock_path`` for the life of the returned file."""
    try:
        handle = open(lock_path, "a+b")  # noqa: SIM115 - kept open on purpose
    except OSError as exc:
        raise OutboxError(f"outbox lock {lock_path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise OutboxBusy(
            f"outbox {lock_path.with_suffix('')} is in use by another coughwatch process; "
            "give this one its own --state-dir"
        ) from exc
    return handle
