"""Fixtures for the cough history: a private state directory for every test session, and
realistic multi-night cough events (a child's night cough getting better over a week).

``isolated_state_dir`` (autouse, session): ``replay`` and ``listen`` keep a history in
the state directory by default; tests must not write into the user's.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest

from monitor.output.events import iso_utc, stable_event_id

SCHEMA = "coughwatch.event/1"


@pytest.fixture(scope="session", autouse=True)
def isolated_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$XDG_STATE_HOME`` in a temp dir for this session (the default state dir lives there)."""
    state_home = tmp_path_factory.mktemp("xdg-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(state_home))
        patch.delenv("STATE_DIRECTORY", raising=False)
        yield state_home


def event_dict(start: datetime, duration_s: float, device_id: str = "nursery",
               label: str = "cough", source: str = "mic:pulse", index: int = 0) -> dict:
    """One event object as ``replay``/``listen`` print it; ``start`` naive local time."""
    stream_start = start.astimezone()  # local -> aware
    end = stream_start + timedelta(seconds=duration_s)
    return {
        "schema": SCHEMA,
        "event_id": stable_event_id(device_id, source, stream_start, label, index),
        "device_id": device_id, "label": label, "start_s": 0.0, "end_s": round(duration_s, 3),
        "start_time": iso_utc(stream_start), "end_time": iso_utc(end), "peak_score": 0.9,
        "mean_score": 0.8, "windows": 2, "model": {"name": "test", "sha256": "0123456789ab"},
        "source": source,
    }


def night_cough_events(first_night: date, nights: int, seed: int = 1,
                       device_id: str = "nursery") -> list[dict]:
    """Events of ``nights`` nights from ``first_night``: fits after falling asleep (~23:00)
    and in the early morning (04:00-06:00), fewer night by night, a few daytime coughs."""
    rng = np.random.default_rng(seed)
    events: list[dict] = []
    for n in range(nights):
        evening = datetime.combine(first_night + timedelta(days=n), time(22, 0))
        severity = max(0.15, 1.0 - n / (nights + 1))
        centres = [(1.2, 0.6), (6.8, 0.9), (3.5, 2.5)]  # hours after 22:00, spread
        weights = [0.35, 0.45, 0.20]
        for _ in range(rng.poisson(9 * severity) + 1):
            centre, spread = centres[rng.choice(3, p=weights)]
            at = evening + timedelta(hours=float(np.clip(rng.normal(centre, spread), 0.02, 9.95)))
            for _ in range(rng.poisson(5 * severity) + 1):  # one fit: coughs seconds apart
                duration = float(rng.uniform(0.3, 0.8))
                events.append(event_dict(at, duration, device_id, index=len(events)))
                at += timedelta(seconds=duration + float(rng.uniform(1.5, 12.0)))
        for _ in range(rng.poisson(2)):  # daytime coughs (outside the night window)
            at = evening + timedelta(hours=float(rng.uniform(10.5, 23.5)))
            events.append(event_dict(at, 0.5, device_id, index=len(events)))
    return sorted(events, key=lambda e: e["start_time"])


def write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


@pytest.fixture
def week_of_nights(tmp_path: Path) -> tuple[Path, date, list[dict]]:
    """An events file of 7 nights ending with last night, its first night and the events."""
    first = datetime.now().date() - timedelta(days=8)
    events = night_cough_events(first, 7)
    return write_jsonl(tmp_path / "events.jsonl", events), first, events


class SmallDisk:
    """A real tmpfs of ``size_kib`` mounted at ``path`` (root only); can be filled and made
    read-only, to make real ``database or disk is full`` / ``readonly database`` errors."""

    def __init__(self, path: Path, size_kib: int) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs",
                               str(path)], capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def fill(self) -> Path:
        """Write a file until the disk is full; returns it (delete it to free the space)."""
        filler = self.path / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def read_only(self, on: bool = True) -> None:
        subprocess.run(["mount", "-o", f"remount,{'ro' if on else 'rw'}", str(self.path)],
                       check=True, capture_output=True)  # fmt: skip

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], SmallDisk]]:
    """``make(size_kib)`` -> a mounted :class:`SmallDisk`; unmounted at teardown."""
    disks: list[SmallDisk] = []

    def make(size_kib: int) -> SmallDisk:
        disk = SmallDisk(tmp_path / f"disk{len(disks)}", size_kib)
        disks.append(disk)
        return disk

    yield make
    for disk in disks:
        disk.unmount()
