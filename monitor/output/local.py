"""Local outputs: JSON lines on stdout or in a file, per-window scores as CSV, recorders.

Event sinks implement :class:`monitor.output.sinks.EventSink`; score listeners are
called by the pipeline with window starts and scores (see
:data:`monitor.scoring.pipeline.ScoreListener`).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from monitor.errors import CoughwatchError
from monitor.output.events import CoughEvent


class NullSink:
    """An :class:`~monitor.output.sinks.EventSink` that ignores everything (a base for the others)."""

    def bout_started(self, label: str, event_id: str, start_s: float) -> None:
        """Onsets are not written by the local outputs (the finished event is)."""

    def bout_ended(self, event: CoughEvent) -> None:
        """Ignore the event."""

    def stats(self, snapshot: Mapping[str, Any]) -> None:
        """Ignore the stats."""

    def close(self) -> None:
        """Nothing to release."""


class StdoutSink(NullSink):
    """One JSON event per line on stdout (flushed per event, so pipes see it at once)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def bout_ended(self, event: CoughEvent) -> None:
        """Print the event as one JSON line."""
        write_json_line(self._stream or sys.stdout, event.to_dict())


class EventsFileSink(NullSink):
    """Appends one JSON event per line to a file (created with its folder if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open_for_writing(path, "a")

    def bout_ended(self, event: CoughEvent) -> None:
        """Append the event."""
        write_json_line(self._file, event.to_dict())

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class EventRecorder(NullSink):
    """Keeps the finished events in memory (for ``--plot`` and tests)."""

    def __init__(self) -> None:
        self.events: list[CoughEvent] = []
        self.onsets: list[tuple[str, str, float]] = []
        """``(label, event_id, start_s)`` of every onset, in order."""

    def bout_started(self, label: str, event_id: str, start_s: float) -> None:
        """Record the onset."""
        self.onsets.append((label, event_id, start_s))

    def bout_ended(self, event: CoughEvent) -> None:
        """Record the event."""
        self.events.append(event)


class ScoresCsvWriter:
    """``--scores-out``: one CSV row per window: ``source,start_s,end_s,<label>...``."""

    def __init__(self, path: Path, labels: Sequence[str]) -> None:
        self.path = path
        self._file = open_for_writing(path, "w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(["source", "start_s", "end_s", *labels])

    def listener(
        self, source: str, sample_rate: int, window_samples: int
    ) -> Callable[[np.ndarray, np.ndarray], None]:
        """A score listener for one stream (see :data:`monitor.scoring.pipeline.ScoreListener`)."""

        def write(starts: np.ndarray, scores: np.ndarray) -> None:
            for start, row in zip(starts.tolist(), scores.tolist(), strict=True):
                times = (round(start / sample_rate, 4), round((start + window_samples) / sample_rate, 4))
                self._csv.writerow([source, *times, *(f"{value:.6f}" for value in row)])

        return write

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class ScoreRecorder:
    """Collects a stream's window starts and scores in memory (for ``--plot``)."""

    def __init__(self) -> None:
        self._starts: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def __call__(self, starts: np.ndarray, scores: np.ndarray) -> None:
        self._starts.append(starts.copy())
        self._scores.append(scores.copy())

    def arrays(self, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
        """Window starts int64 ``[n]`` (samples) and scores float32 ``[n, n_labels]``."""
        if not self._starts:
            return np.zeros(0, np.int64), np.zeros((0, n_labels), np.float32)
        return np.concatenate(self._starts), np.concatenate(self._scores)


def write_json_line(stream: TextIO, obj: Mapping[str, Any]) -> None:
    """Write ``obj`` as one compact JSON line and flush."""
    stream.write(json.dumps(obj, separators=(",", ":")) + "\n")
    stream.flush()


def open_for_writing(path: Path, mode: str, newline: str | None = None) -> TextIO:
    """Open an output file, creating its folder; one clear error if that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open(mode, encoding="utf-8", newline=newline)
    except OSError as exc:
        raise CoughwatchError(f"{path}: cannot write ({exc.strerror or exc})") from None
