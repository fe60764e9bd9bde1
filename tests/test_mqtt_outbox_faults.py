"""The outbox's disk misbehaving, for real: a full tmpfs, a read-only bind mount, a file with
a good header and damaged pages. Detection and stdout go on; MQTT resumes when the disk does."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fx_mosquitto import event_ids, make_event

from monitor.mqtt.outbox import Outbox

EVENT = "coughwatch/dev1/event"
STATS = "coughwatch/dev1/stats"
PAGE_BYTES = 4096


def mount(*args: str) -> None:
    """Run ``mount ARGS``; skip the test (saying why) where mounting is not permitted."""
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"needs mount (root): `mount {' '.join(args)}` said {result.stderr.strip()!r}")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 512 KiB tmpfs: the outbox's disk, to be filled up."""
    point = tmp_path / "tmpfs"
    point.mkdir()
    mount("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(point))
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system says ENOSPC; return it (delete it to make room)."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as fh:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def outbox_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.message for r in caplog.records if "cannot be written" in r.message]


def test_full_disk_holds_events_reports_once_and_resumes_when_there_is_room(
        mosquitto, subscriber_factory, sink_factory, small_tmpfs, caplog):
    sub = subscriber_factory(mosquitto, [EVENT, STATS])
    sink = sink_factory(mosquitto, state_dir=small_tmpfs)
    assert sink.publisher.wait_connected(5)
    sink.bout_ended(make_event(0))
    sub.wait_count(EVENT, 1)
    filler = fill(small_tmpfs)
    for i in range(1, 6):
        sink.bout_ended(make_event(i))  # must not raise: the audio worker calls this
    assert sink.publisher.outbox_error == "database or disk is full"
    assert sink.publisher.held() >= 1
    sink.stats({"coughs_today": 6})
    stats = json.loads(sub.wait_count(STATS, 1)[-1].payload)
    assert stats["outbox_error"] == "database or disk is full" and stats["outbox_depth"] >= 1
    assert len(outbox_errors(caplog)) == 1  # reported once, not per event or retry

    filler.unlink()
    messages = sub.wait_for(lambda ms: len(event_ids([m for m in ms if m.topic == EVENT])) == 6,
                            timeout_s=10, what="all 6 events after room was made")
    assert event_ids([m for m in messages if m.topic == EVENT]) == [make_event(i).event_id
                                                                   for i in range(6)]
    assert sink.publisher.outbox_error is None
    assert any("can be written again" in r.message for r in caplog.records)
    sink.close()
    assert sink.undelivered == 0 and len(outbox_errors(caplog)) == 1


def test_read_only_outbox_file_holds_events_and_resumes_when_writable(
        mosquitto, subscriber_factory, sink_factory, tmp_path, caplog):
    state = tmp_path / "state"
    state.mkdir()
    Outbox.in_dir(state, 10).close()
    db = state / "outbox.sqlite3"
    mount("--bind", str(db), str(db))
    try:
        mount("-o", "remount,bind,ro", str(db))
        sub = subscriber_factory(mosquitto, [EVENT])
        sink = sink_factory(mosquitto, state_dir=state)
        assert sink.publisher.wait_connected(5)
        sink.bout_ended(make_event(0))
        sink.bout_ended(make_event(1))
        assert sink.publisher.outbox_error == "attempt to write a readonly database"
        assert sink.publisher.pending() == 2 and len(outbox_errors(caplog)) == 1
    finally:
        subprocess.run(["umount", "-l", str(db)], check=True)
    messages = sub.wait_count(EVENT, 2, timeout_s=10)
    assert event_ids(messages) == [make_event(0).event_id, make_event(1).event_id]
    assert sink.publisher.outbox_error is None


def replay(monitor_cli, wav: Path, model: Path, *extra: str):
    return monitor_cli(["replay", str(wav), "--model", str(model), "--device-id", "dev1", *extra])


def test_replay_onto_a_full_disk_prints_every_event_and_exits_4(
        mosquitto, monitor_cli, cough_stream_wav, energy_model, small_tmpfs):
    wav, _ = cough_stream_wav
    alone = replay(monitor_cli, wav, energy_model)
    Outbox.in_dir(small_tmpfs, 10).close()
    fill(small_tmpfs)
    full = replay(monitor_cli, wav, energy_model, "--mqtt-host", "127.0.0.1", "--mqtt-port",
                  str(mosquitto.port), "--state-dir", str(small_tmpfs), "--flush-timeout", "1")
    assert [e["event_id"] for e in full.json_lines()] == [e["event_id"] for e in alone.json_lines()]
    assert len(alone.json_lines()) == 4
    assert full.returncode == 4, full.stderr
    assert "Traceback" not in full.stderr and full.error_lines() == []
    assert len([line for line in full.stderr.splitlines() if "cannot be written" in line]) == 1
    assert "4 event(s) could not be stored" in full.stderr


def damage(db: Path, rows: int = 300) -> bytes:
    """An outbox of ``rows`` events whose 3rd page is overwritten; the 100-byte header is intact.
    Returns the damaged file's bytes."""
    db.parent.mkdir(parents=True, exist_ok=True)
    box = Outbox(db, 10_000)
    for i in range(rows):
        box.put(EVENT, make_event(i).to_json().encode(), 1)
    box.close()
    data = bytearray(db.read_bytes())
    assert data[:16] == b"SQLite format 3\0" and len(data) > 4 * PAGE_BYTES
    data[2 * PAGE_BYTES: 3 * PAGE_BYTES] = os.urandom(PAGE_BYTES)
    db.write_bytes(bytes(data))
    return bytes(data)


def test_damaged_outbox_is_moved_aside_and_a_fresh_one_delivers(
        mosquitto, subscriber_factory, monitor_cli, cough_stream_wav, energy_model, tmp_path):
    wav, _ = cough_stream_wav
    state = tmp_path / "state"
    damaged = damage(state / "outbox.sqlite3")
    sub = subscriber_factory(mosquitto, ["coughwatch/e2e/event"])
    result = monitor_cli(["replay", str(wav), "--model", str(energy_model), "--device-id", "e2e",
                          "--mqtt-host", "127.0.0.1", "--mqtt-port", str(mosquitto.port),
                          "--state-dir", str(state)])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "damaged" in line]
    assert len(lines) == 1, result.stderr
    (moved,) = state.glob("outbox.sqlite3.corrupt-*")
    assert moved.read_bytes() == damaged and str(moved) in lines[0]
    printed = [e["event_id"] for e in result.json_lines()]
    assert event_ids(sub.wait_count("coughwatch/e2e/event", len(printed))) == printed
    fresh = sqlite3.connect(state / "outbox.sqlite3")
    assert fresh.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert fresh.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_outbox_that_cannot_even_be_opened_does_not_stop_the_sink(
        mosquitto, subscriber_factory, sink_factory, small_tmpfs, caplog):
    """A disk already full at start: the sink starts, holds events, and opens the outbox
    once there is room."""
    filler = fill(small_tmpfs)
    sub = subscriber_factory(mosquitto, [EVENT])
    sink = sink_factory(mosquitto, state_dir=small_tmpfs)
    sink.bout_ended(make_event(0))
    assert sink.publisher.outbox_error is not None and sink.publisher.pending() == 1
    time.sleep(0.2)
    filler.unlink()
    assert event_ids(sub.wait_count(EVENT, 1, timeout_s=10)) == [make_event(0).event_id]
    assert len(outbox_errors(caplog)) == 1
