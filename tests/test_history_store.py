"""The cough history: the SQLite file (real sqlite3), the sink's thread and its fault rules
(a real full / read-only tmpfs), night windows and the "coughs last night" counter."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import date, datetime
from datetime import time as clock

import pytest
from fx_mosquitto import make_event

from monitor.history.nights import LastNightCounter, NightWindow
from monitor.history.settings import HistorySettings
from monitor.history.sink import HistorySink
from monitor.history.store import FILENAME, HistoryEvent, HistoryStore, read_history

DAY_S = 86400.0


def row(index: int, start_unix_s: float, device_id: str = "dev1") -> HistoryEvent:
    return HistoryEvent(f"id-{device_id}-{index}", device_id, "cough", start_unix_s,
                        start_unix_s + 0.4)


def wait_until(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_events_survive_a_reopen_and_duplicates_are_kept_once(tmp_path):
    now = time.time()
    store = HistoryStore.in_dir(tmp_path, 365, 1000)
    assert store.add([row(i, now - 60 * i) for i in range(5)]) == 5
    assert store.add([row(0, now), row(5, now)]) == 1  # the same event again: ignored
    store.close()
    rows = list(read_history(tmp_path / FILENAME, now - 3600, now + 1))
    assert [r.event_id for r in rows] == [f"id-dev1-{i}" for i in (4, 3, 2, 1, 0, 5)]


def test_retention_and_the_size_bound_drop_the_oldest(tmp_path):
    now = time.time()
    store = HistoryStore.in_dir(tmp_path, retention_days=30, max_events=100)
    store.add([row(i, now - DAY_S * (40 - i)) for i in range(20)])  # days -40 .. -21
    assert store.count() == 10  # the first write prunes: 10 were older than 30 days
    store.add([row(100 + i, now - i) for i in range(100)])
    assert store.prune(now) == 10  # 110 events: the oldest 10 go
    kept = list(read_history(tmp_path / FILENAME, 0, now + 1))
    assert len(kept) == 100
    assert min(e.start_unix_s for e in kept) >= now - 30 * DAY_S
    assert "id-dev1-100" in {e.event_id for e in kept}  # the newest stay
    store.close()


def test_the_sink_writes_on_its_own_thread_and_flushes_on_close(tmp_path):
    sink = HistorySink(tmp_path / "state", HistorySettings())
    for i in range(50):
        sink.bout_ended(make_event(i))
    sink.close()
    assert sink.unsaved == 0
    stored = list(read_history(tmp_path / "state" / FILENAME, 0, time.time() + DAY_S))
    assert [e.event_id for e in stored] == [make_event(i).event_id for i in range(50)]


def test_a_full_disk_is_logged_once_and_writing_resumes_when_space_is_back(small_disk, caplog):
    disk = small_disk(256)
    caplog.set_level(logging.INFO)
    sink = HistorySink(disk.path, HistorySettings())
    sink.bout_ended(make_event(0))
    wait_until(lambda: (disk.path / FILENAME).exists() and sink.path is not None)
    time.sleep(0.3)
    filler = disk.fill()
    began = time.monotonic()
    for i in range(1, 200):  # never blocks the caller, whatever the disk does
        sink.bout_ended(make_event(i))
    assert time.monotonic() - began < 0.5
    wait_until(lambda: sink.unsaved > 0)
    filler.unlink()
    sink.bout_ended(make_event(500))
    sink.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "monitor.history.sink"]
    assert sum("cannot write" in w for w in warnings) == 1, warnings
    assert any("writing to" in w and "again" in w for w in warnings), warnings
    stored = {e.event_id for e in read_history(disk.path / FILENAME, 0, time.time() + DAY_S)}
    assert make_event(0).event_id in stored and make_event(500).event_id in stored
    assert len(stored) + sink.unsaved == 201


def test_a_read_only_history_costs_nothing_but_one_warning(small_disk, caplog):
    disk = small_disk(1024)
    HistoryStore.in_dir(disk.path, 365, 1000).close()
    disk.read_only()
    sink = HistorySink(disk.path, HistorySettings())
    for i in range(20):
        sink.bout_ended(make_event(i))
    sink.close()
    disk.read_only(False)
    assert sink.unsaved == 20
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "history" in warnings[0], warnings


def test_a_file_that_is_not_a_history_is_one_warning(tmp_path, caplog):
    (tmp_path / FILENAME).write_bytes(b"this is not sqlite " * 100)
    sink = HistorySink(tmp_path, HistorySettings())
    sink.bout_ended(make_event(0))
    sink.close()
    assert sink.unsaved == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "history: cannot open the history (file is not a database); events still reach the "
        "other outputs; will retry"]


@pytest.mark.parametrize(("local", "night", "hour"), [
    (datetime(2026, 1, 5, 22, 0), date(2026, 1, 5), 0),
    (datetime(2026, 1, 5, 23, 59), date(2026, 1, 5), 1),
    (datetime(2026, 1, 6, 3, 30), date(2026, 1, 5), 5),
    (datetime(2026, 1, 6, 7, 59), date(2026, 1, 5), 9),
    (datetime(2026, 1, 6, 8, 0), None, None),
    (datetime(2026, 1, 6, 21, 59), None, None),
])
def test_nights_belong_to_the_date_of_their_evening(local, night, hour):
    window = NightWindow.parse("22:00", "08:00")
    assert window.night_of(local) == night
    if hour is not None:
        assert window.hour_index(local) == hour
    assert window.hours == 10


def test_equal_start_and_end_make_whole_days():
    window = NightWindow.parse_range("00:00-00:00")
    assert window.hours == 24
    assert window.night_of(datetime(2026, 1, 5, 13, 0)) == date(2026, 1, 5)


def test_coughs_last_night_counts_up_holds_and_resets():
    window = NightWindow.parse("22:00", "08:00")
    counter = LastNightCounter(window)
    at = lambda d, h, m=0: datetime.combine(d, clock(h, m)).timestamp()  # noqa: E731
    monday, tuesday = date(2026, 1, 5), date(2026, 1, 6)
    counter.seed([("a", at(monday, 23)), ("b", at(tuesday, 2))])
    counter.add("c", at(tuesday, 5))
    counter.add("c", at(tuesday, 5))  # the same event twice counts once
    assert counter.count(at(tuesday, 6)) == 3  # the night is still running
    counter.add("day", at(tuesday, 14))  # daytime: not part of any night
    assert counter.count(at(tuesday, 15)) == 3  # held all day
    assert counter.count(at(tuesday, 22, 1)) == 0  # the next night began


def test_history_sink_seeds_the_counter_from_earlier_runs(tmp_path):
    window = NightWindow.parse("00:00", "00:00")  # today, whatever the time of the test
    midnight = datetime.combine(date.today(), clock(0, 0)).timestamp()
    store = HistoryStore.in_dir(tmp_path, 365, 1000)
    store.add([row(i, midnight + 1 + i, "kitchen") for i in range(4)] + [row(9, midnight + 5, "attic")])
    store.close()
    counter = LastNightCounter(window)
    sink = HistorySink(tmp_path, HistorySettings(), counter, device_id="kitchen")
    wait_until(lambda: counter.count(time.time()) == 4)
    sink.close()


def test_what_a_row_keeps_of_an_event():
    event = make_event(3)
    kept = HistoryEvent.from_event(event)
    assert kept == HistoryEvent.from_json(event.to_dict())
    assert kept.start_unix_s == pytest.approx(event.start_time.timestamp())
    assert kept.end_unix_s - kept.start_unix_s == pytest.approx(0.4)


def test_history_uses_wal_so_a_report_can_read_while_the_daemon_writes(tmp_path):
    store = HistoryStore.in_dir(tmp_path, 365, 1000)
    store.add([row(0, time.time())])
    mode = sqlite3.connect(tmp_path / FILENAME).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert len(list(read_history(tmp_path / FILENAME, 0, time.time() + 1))) == 1
    store.close()
