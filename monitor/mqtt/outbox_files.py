"""The outbox's files on disk: telling corruption from other SQLite errors, and moving a
damaged outbox aside so the monitor can start with a fresh one.

A damaged file is never deleted: ``outbox.sqlite3`` (with its ``-wal`` and
``-shm``) becomes ``outbox.sqlite3.corrupt-<UTC time>``, where what can still be
read can be recovered by hand (see docs/reliability.md).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

SQLITE_CORRUPT: Final = 11
SQLITE_NOTADB: Final = 26
SIDE_FILES: Final = ("-wal", "-shm")
"""SQLite's companions of a database in WAL mode; they move with it."""
_CORRUPT_WORDS: Final = ("malformed", "not a database", "corrupt")


def is_corruption(exc: BaseException) -> bool:
    """True when ``exc`` says the database file is damaged (not busy, full or read-only)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)
    return any(word in str(exc).lower() for word in _CORRUPT_WORDS)


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename ``path`` (and its ``-wal``/``-shm``) to ``<path>.corrupt-<UTC time>``; return it.

    Raises :class:`OSError` when the rename fails.
    """
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    target = path.with_name(f"{path.name}.corrupt-{moment:%Y%m%dT%H%M%SZ}")
    suffix = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{moment:%Y%m%dT%H%M%SZ}.{suffix}")
        suffix += 1
    path.rename(target)
    for side in SIDE_FILES:
        companion = path.with_name(path.name + side)
        if companion.exists():
            companion.rename(target.with_name(target.name + side))
    return target
