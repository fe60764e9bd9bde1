"""The durable outbox: order, persistence across reopen, bound, process lock, threads."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

from monitor.mqtt.outbox import Outbox


def test_messages_come_back_in_order_and_survive_a_reopen(tmp_path):
    box = Outbox.in_dir(tmp_path, 100)
    seqs = [box.put("t/event", f"m{i}".encode(), 1) for i in range(5)]
    box.remove(seqs[:2])
    box.close()
    box = Outbox.in_dir(tmp_path, 100)
    rows = box.after(0, 10)
    assert [r.payload for r in rows] == [b"m2", b"m3", b"m4"]
    assert [r.seq for r in rows] == seqs[2:]
    assert box.after(seqs[3], 10)[0].payload == b"m4"
    box.close()


def test_seq_is_never_reused_after_the_outbox_empties(tmp_path):
    box = Outbox.in_dir(tmp_path, 10)
    first = box.put("t", b"a", 1)
    box.remove([first])
    assert box.put("t", b"b", 1) > first
    box.close()


def test_bound_drops_the_oldest_and_counts_persistently(tmp_path, caplog):
    box = Outbox.in_dir(tmp_path, 3)
    for i in range(5):
        box.put("t", f"m{i}".encode(), 1)
    assert [r.payload for r in box.after(0, 10)] == [b"m2", b"m3", b"m4"]
    assert box.dropped() == 2
    assert "dropped the oldest" in caplog.text
    box.close()
    box = Outbox.in_dir(tmp_path, 3)
    assert box.dropped() == 2 and box.depth() == 3
    box.close()


def test_a_second_process_cannot_open_the_same_outbox(tmp_path):
    box = Outbox.in_dir(tmp_path, 10)
    code = (f"from monitor.mqtt.outbox import Outbox\n"
            f"Outbox.in_dir(__import__('pathlib').Path({str(tmp_path)!r}), 10)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0 and "in use by another coughwatch process" in proc.stderr
    box.close()
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_file_that_is_not_a_database_is_moved_aside(tmp_path, caplog):
    garbage = b"this is not a database" * 100
    (tmp_path / "outbox.sqlite3").write_bytes(garbage)
    box = Outbox.in_dir(tmp_path, 10)
    assert box.depth() == 0
    box.close()
    (moved,) = tmp_path.glob("outbox.sqlite3.corrupt-*")
    assert moved.read_bytes() == garbage
    assert [r.message for r in caplog.records if "damaged" in r.message] != []


def test_concurrent_writers_and_a_remover_lose_nothing(tmp_path):
    box = Outbox.in_dir(tmp_path, 10_000)
    removed: list[int] = []

    def write(tag: int) -> None:
        for i in range(100):
            box.put("t", f"{tag}-{i}".encode(), 1)

    def drain() -> None:
        while len(removed) < 200:
            rows = box.after(removed[-1] if removed else 0, 50)
            box.remove([r.seq for r in rows])
            removed.extend(r.seq for r in rows)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(3)]
    threads.append(threading.Thread(target=drain))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert removed == sorted(removed)
    assert box.depth() + len(removed) == 300
    box.close()
    assert sqlite3.connect(tmp_path / "outbox.sqlite3").execute(
        "PRAGMA journal_mode").fetchone()[0] == "wal"
