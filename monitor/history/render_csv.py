"""``report --out F.csv``: one row per hour of every night (no matplotlib needed).

Columns: ``night`` (date of the evening), ``hour_start``/``hour_end`` (local
ISO 8601 with the UTC offset), ``coughs`` (events that started in the hour),
``bouts_started`` (bouts whose first cough is in the hour), ``night_coughs``
(the whole night's total, repeated on each of its rows).
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Final

from monitor.history.analysis import CoughReport
from monitor.history.nights import HOUR
from monitor.output.local import open_for_writing

COLUMNS: Final = ("night", "hour_start", "hour_end", "coughs", "bouts_started", "night_coughs")


def write_csv(report: CoughReport, path: Path) -> None:
    """Write the hourly table of ``report`` to ``path`` (raises CoughwatchError on I/O errors)."""
    with open_for_writing(path, "w", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(COLUMNS)
        for night in report.nights:
            for index, coughs in enumerate(night.hourly):
                start = night.begin + index * HOUR
                end = min(start + HOUR, night.begin + report.window.duration)
                rows.writerow([
                    night.night.isoformat(), _iso(start), _iso(end), coughs,
                    night.bouts_in_hour(index), night.coughs,
                ])  # fmt: skip


def _iso(local: datetime) -> str:
    """Naive local time as ISO 8601 with its UTC offset."""
    return local.astimezone().isoformat(timespec="minutes")
