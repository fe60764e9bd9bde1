"""`cough-monitor report` (the real CLI): CSV/PNG/HTML from events files and from the history
that `replay` writes; matplotlib missing; bad input; a full disk under `replay`."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from fx_audio import run_monitor
from fx_history import event_dict, night_cough_events, write_jsonl

from monitor.history.store import FILENAME

NO_MATPLOTLIB = [sys.executable, "-c", "import sys; sys.modules['matplotlib'] = None; "
                 "from monitor.cli import main; sys.exit(main())"]


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def night_totals(rows: list[dict[str, str]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row["night"]] += int(row["coughs"])
    return dict(totals)


def test_csv_counts_every_night_cough_once_in_its_hour(tmp_path):
    first = date.today() - timedelta(days=9)
    events = night_cough_events(first, 7)
    source = write_jsonl(tmp_path / "events.jsonl", events + events[:10])  # 10 repeated
    out = tmp_path / "report.csv"
    done = run_monitor(["report", "--events", str(source), "--since", first.isoformat(),
                        "--until", (first + timedelta(days=7)).isoformat(), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    rows = csv_rows(out)
    assert len(rows) == 7 * 10  # 7 nights x 10 hours (22:00-08:00), zeros included
    expected: Counter[str] = Counter()
    for event in events:  # independently: 22:00-23:59 -> that date, 00:00-07:59 -> the day before
        local = datetime.fromisoformat(event["start_time"].replace("Z", "+00:00")).astimezone()
        if local.hour >= 22:
            expected[local.date().isoformat()] += 1
        elif local.hour < 8:
            expected[(local.date() - timedelta(days=1)).isoformat()] += 1
    assert night_totals(rows) == {night: expected[night] for night in night_totals(rows)}
    assert sum(expected.values()) > 100  # the generator made a real week
    assert all(int(r["night_coughs"]) == night_totals(rows)[r["night"]] for r in rows)


def test_bouts_group_coughs_closer_than_the_gap(tmp_path):
    night = date.today() - timedelta(days=3)
    at = lambda h, m, s=0: datetime.combine(night + timedelta(days=h < 12), time(h, m, s))  # noqa: E731
    events = [event_dict(at(23, 0, 0), 0.5, index=0), event_dict(at(23, 0, 5), 0.5, index=1),
              event_dict(at(23, 0, 20), 0.5, index=2), event_dict(at(23, 30), 0.5, index=3),
              event_dict(at(3, 10), 0.5, index=4), event_dict(at(14, 0), 0.5, index=5)]
    source = write_jsonl(tmp_path / "events.jsonl", events)
    by_gap = {}
    for gap in ("60", "5"):
        out = tmp_path / f"gap{gap}.csv"
        done = run_monitor(["report", "--events", str(source), "--since", night.isoformat(),
                            "--until", (night + timedelta(days=1)).isoformat(),
                            "--bout-gap-s", gap, "--out", str(out)])
        assert done.returncode == 0, done.stderr
        by_gap[gap] = {r["hour_start"][11:16]: (int(r["coughs"]), int(r["bouts_started"]))
                       for r in csv_rows(out)}
    assert by_gap["60"]["23:00"] == (4, 2) and by_gap["60"]["03:00"] == (1, 1)
    assert by_gap["5"]["23:00"] == (4, 3)  # 23:00:20 is 14.5 s after the previous cough
    assert sum(c for c, _ in by_gap["60"].values()) == 5  # 14:00 is daytime


def test_png_and_html_are_complete_and_self_contained(tmp_path, week_of_nights):
    source, first, _ = week_of_nights
    span = ["--since", first.isoformat(), "--until", (first + timedelta(days=7)).isoformat()]
    png, page = tmp_path / "report.png", tmp_path / "report.html"
    for out in (png, page):
        done = run_monitor(["report", "--events", str(source), *span, "--out", str(out)])
        assert done.returncode == 0, done.stderr
        assert f"{out}: 7 night(s)" in done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    html = page.read_text()
    assert html.count('src="data:image/png;base64,') == 1
    assert "http://" not in html and "https://" not in html and "<script" not in html
    for heading in ("Night by night", "Hour by hour", "Longest bouts", "busiest", "quietest"):
        assert heading in html
    first_night = f"{first:%a %d %b}"
    assert html.count(first_night) >= 2  # in the nights table and the bouts table


def test_without_matplotlib_csv_works_and_png_html_name_the_extra(tmp_path, week_of_nights):
    import subprocess

    source, _, _ = week_of_nights
    for suffix in ("png", "html", "csv"):
        out = tmp_path / f"r.{suffix}"
        done = subprocess.run([*NO_MATPLOTLIB, "report", "--events", str(source), "--out",
                               str(out)], capture_output=True, text=True, timeout=60)
        if suffix == "csv":
            assert done.returncode == 0 and out.exists(), done.stderr
        else:
            assert done.returncode == 1 and not out.exists()
            assert done.stderr.count("\n") == 1, done.stderr
            assert "coughwatch[report]" in done.stderr and "Traceback" not in done.stderr


def test_replay_keeps_a_history_that_report_reads(tmp_path, energy_model, cough_stream_wav):
    wav, stream = cough_stream_wav
    state = tmp_path / "state"
    evening = datetime.combine(date.today() - timedelta(days=2), time(23, 30))
    replay = ["replay", str(wav), "--model", str(energy_model), "--device-id", "nursery",
              "--state-dir", str(state), "--start-time", evening.astimezone().isoformat()]
    done = run_monitor(replay)
    assert done.returncode == 0, done.stderr
    printed = [e["event_id"] for e in done.json_lines()]
    assert len(printed) == len(stream.cough_starts)
    assert run_monitor(replay).returncode == 0  # the same file again: no duplicates
    stored = sqlite3.connect(state / FILENAME).execute(
        "SELECT event_id, device_id FROM events").fetchall()
    assert sorted(stored) == sorted((i, "nursery") for i in printed)

    out = tmp_path / "r.csv"
    done = run_monitor(["report", "--state-dir", str(state), "--device", "nursery",
                        "--out", str(out)])
    assert done.returncode == 0, done.stderr
    assert night_totals(csv_rows(out))[evening.date().isoformat()] == len(printed)
    other = run_monitor(["report", "--history", str(state / FILENAME), "--device", "attic",
                         "--out", str(out)])
    assert other.returncode == 0 and sum(night_totals(csv_rows(out)).values()) == 0


def test_replay_no_history_writes_none(tmp_path, energy_model, cough_stream_wav):
    wav, _ = cough_stream_wav
    done = run_monitor(["replay", str(wav), "--model", str(energy_model), "--no-history",
                        "--state-dir", str(tmp_path / "state")])
    assert done.returncode == 0 and done.json_lines()
    assert not (tmp_path / "state" / FILENAME).exists()


def test_replay_onto_a_full_disk_still_prints_every_event(tmp_path, small_disk, energy_model,
                                                         cough_stream_wav):
    wav, stream = cough_stream_wav
    disk = small_disk(128)
    disk.fill()
    done = run_monitor(["replay", str(wav), "--model", str(energy_model), "--state-dir",
                        str(disk.path)])
    assert done.returncode == 0, done.stderr
    assert len(done.json_lines()) == len(stream.cough_starts)
    warnings = [line for line in done.stderr.splitlines() if "history" in line]
    assert len(warnings) == 1 and "disk is full" in warnings[0], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "r.pdf"], "the name must end in .html, .png or .csv"),
    (["--history", "nope.sqlite3", "--out", "r.csv"], "nope.sqlite3: no history file"),
    (["--since", "2026-01-05", "--until", "2026-01-05", "--out", "r.csv"], "no night"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    done = run_monitor(["report", *[str(tmp_path / a) if a.startswith(("r.", "nope")) else a
                                    for a in args]])
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr


def test_a_bad_time_is_a_usage_error(tmp_path):
    done = run_monitor(["report", "--since", "last tuesday", "--out", str(tmp_path / "r.csv")])
    assert done.returncode == 2 and "not a date, time or span" in done.stderr


def test_non_event_lines_are_skipped_with_a_warning(tmp_path):
    night = date.today() - timedelta(days=2)
    good = event_dict(datetime.combine(night, time(23, 15)), 0.4)
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps(good) + "\nnot json\n" + json.dumps({"file": "x.wav"}) + "\n")
    out = tmp_path / "r.csv"
    done = run_monitor(["report", "--events", str(source), "--out", str(out)])
    assert done.returncode == 0 and "2 line(s) that are not events skipped" in done.stderr
    assert night_totals(csv_rows(out))[night.isoformat()] == 1
