"""``report --out F.html``: one self-contained page (the figure embedded as PNG, plain tables).

No scripts, no external files or fonts: it opens offline, prints, and can be
mailed to a doctor as it is.
"""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Final

from monitor.errors import CoughwatchError
from monitor.history.analysis import Bout, CoughReport, HourStat, Night
from monitor.history.nights import local_time
from monitor.history.render_png import night_label, png_bytes

_RANKS: Final = ("busiest", "2nd busiest", "3rd busiest")
BOUTS_LISTED: Final = 5
"""Longest bouts listed per night."""
_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
p.meta { color: #666; margin-top: 0; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 9em; }
.card b { display: block; font-size: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; font-size: .92em; }
th, td { border-bottom: 1px solid #e5e5e5; padding: .3em .8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.loud td { background: #fbe3e0; } tr.quiet td { background: #e3f5e9; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def write_html(report: CoughReport, path: Path, generated: datetime) -> None:
    """Write the page to ``path``."""
    page = render(report, generated)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CoughwatchError(f"{path}: cannot write ({exc.strerror or exc})") from None


def render(report: CoughReport, generated: datetime) -> str:
    """The whole page as a string."""
    image = base64.b64encode(png_bytes(report, dpi=110)).decode("ascii")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>coughwatch: coughs at night</title>", f"<style>{_STYLE}</style></head><body>",
        "<h1>Coughs at night</h1>",
        f'<p class="meta">{escape(_period(report))}. Night = {report.window} local time. '
        f"Made {generated:%Y-%m-%d %H:%M} from {escape(report.source)}.</p>",
        _cards(report),
        f'<img alt="coughs per night and per hour" src="data:image/png;base64,{image}">',
        "<h2>Night by night</h2>", _nights_table(report),
        "<h2>Hour by hour (all nights)</h2>", _hours_table(report),
        "<h2>Longest bouts</h2>", _bouts_table(report),
        f'<p class="meta">A cough is one detected event; a bout is a run of coughs less than '
        f"{report.bout_gap_s:g} s apart. Nights without monitoring look like quiet nights: "
        "check that the monitor was running.</p>",
        "</body></html>",
    ]  # fmt: skip
    return "\n".join(parts) + "\n"


def _period(report: CoughReport) -> str:
    if not report.nights:
        return "No nights in the chosen period"
    first, last = report.nights[0], report.nights[-1]
    devices = ", ".join(report.devices) if report.devices else "no events"
    return (f"{len(report.nights)} night(s), {first.night:%a %d %b %Y} to "
            f"{last.night:%a %d %b %Y}; device(s): {devices}")


def _cards(report: CoughReport) -> str:
    n = max(1, len(report.nights))
    loud = report.loudest_hours()
    busiest = f"{loud[0].label}" if loud else "-"
    worst = max(report.nights, key=lambda night: night.coughs, default=None)
    cards = [
        ("coughs", str(report.coughs)), ("bouts", str(report.bouts)),
        ("coughs per night (mean)", f"{report.coughs / n:.1f}"),
        ("worst night", f"{worst.night:%a %d %b}" if worst and worst.coughs else "-"),
        ("busiest hour", busiest),
    ]  # fmt: skip
    if report.outside_nights:
        cards.append(("coughs outside the night window", str(report.outside_nights)))
    body = "".join(f'<div class="card"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in cards)
    return f'<div class="cards">{body}</div>'


def _nights_table(report: CoughReport) -> str:
    rows = "".join(_night_row(report, night) for night in report.nights)
    return ("<table><tr><th>night</th><th>coughs</th><th>bouts</th><th>longest bout</th>"
            f"<th>busiest hour</th><th>first cough</th><th>last cough</th></tr>{rows}</table>")


def _night_row(report: CoughReport, night: Night) -> str:
    longest = night.longest_bout
    busiest = night.busiest_hour
    first = night.bouts[0].start_local.strftime("%H:%M") if night.bouts else "-"
    last = _last_cough(night)
    cells = [
        night_label(night), str(night.coughs), str(len(night.bouts)),
        _bout_text(longest) if longest else "-",
        f"{report.hour_label(busiest)} ({night.hourly[busiest]})" if busiest is not None else "-",
        first, last,
    ]  # fmt: skip
    return "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


def _last_cough(night: Night) -> str:
    if not night.bouts:
        return "-"
    return local_time(night.bouts[-1].end_unix_s).strftime("%H:%M")


def _hours_table(report: CoughReport) -> str:
    loud = {h.index: rank for rank, h in enumerate(report.loudest_hours())}
    quiet = {h.index for h in report.quietest_hours()}
    rows = "".join(_hour_row(report, h, loud, quiet) for h in report.hour_profile())
    return ("<table><tr><th>hour</th><th>coughs</th><th>per night</th><th>worst night</th>"
            f"<th></th></tr>{rows}</table>")


def _hour_row(report: CoughReport, hour: HourStat, loud: dict[int, int], quiet: set[int]) -> str:
    end = report.hour_label(hour.index + 1)
    css, note = ("loud", _RANKS[loud[hour.index]]) if hour.index in loud else (
        ("quiet", "quietest") if hour.index in quiet else ("", ""))
    cells = [f"{hour.label}-{end}", str(hour.total), f"{hour.mean:.1f}", str(hour.worst), note]
    return f'<tr class="{css}">' + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


def _bouts_table(report: CoughReport) -> str:
    bouts = [(night, bout) for night in report.nights for bout in night.bouts]
    bouts.sort(key=lambda nb: (-nb[1].coughs, -nb[1].duration_s))
    if not bouts:
        return "<p>No bouts.</p>"
    rows = "".join(
        f"<tr><td>{escape(night_label(night))}</td><td>{bout.start_local:%H:%M:%S}</td>"
        f"<td>{bout.coughs}</td><td>{_duration(bout.duration_s)}</td></tr>"
        for night, bout in bouts[: BOUTS_LISTED * max(1, min(len(report.nights), 4))]
    )
    return ("<table><tr><th>night</th><th>start</th><th>coughs</th><th>duration</th></tr>"
            f"{rows}</table>")


def _bout_text(bout: Bout) -> str:
    return f"{bout.coughs} coughs, {_duration(bout.duration_s)} at {bout.start_local:%H:%M}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
