"""``cough-monitor report``: coughs per hour, bouts and per-night totals as CSV, PNG or HTML.

Reads the local history (default: the one in the state directory, as written
by ``listen`` and ``replay``), another history file (``--history``) or events
saved as JSON lines (``--events``). The output type follows the file name.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from monitor.config import cliargs
from monitor.errors import EXIT_OK, CoughwatchError
from monitor.history.analysis import DEFAULT_BOUT_GAP_S, CoughReport, build_report, nights_between
from monitor.history.nights import NightWindow
from monitor.history.settings import HistorySettings
from monitor.history.store import FILENAME, HistoryEvent, read_events_jsonl, read_history

log = logging.getLogger(__name__)

FORMATS: Final = (".csv", ".png", ".html")
DEFAULT_SINCE: Final = "7d"
_RELATIVE: Final = re.compile(r"^(?P<n>\d+(\.\d+)?)(?P<unit>[dh])$")
_DEFAULTS: Final = HistorySettings()


def add_parser(subparsers: argparse._SubParsersAction, help_line: str) -> argparse.ArgumentParser:
    """Register ``report``; ``help_line`` is its line in ``cough-monitor --help``."""
    parser = subparsers.add_parser(
        "report", parents=[cliargs.common_parent()], help=help_line,
        description="Draw coughs per hour over the chosen nights (bar charts), bouts, per-night "
        "totals and the busiest and quietest hours, from the local history or an events file. "
        "--out F.csv needs nothing more; F.png and F.html need the [report] extra (matplotlib). "
        "Times are local; a night belongs to the date of its evening.",
    )  # fmt: skip
    add = parser.add_argument
    add("--out", type=Path, required=True, metavar="F.html|F.png|F.csv",
        help="output file; its suffix picks the format")
    add("--since", type=parse_when, default=DEFAULT_SINCE, metavar="WHEN",
        help="first night: nights starting at or after WHEN: a date (2026-01-05), a local time "
        "(2026-01-05T20:00), or a span back from now (7d, 36h); default: 7d")
    add("--until", type=parse_when, default="now", metavar="WHEN",
        help="nights starting before WHEN (same forms, plus 'now'); default: now")
    add("--device", metavar="ID", help="only this device id (default: all)")
    add("--label", metavar="LABEL", help="only events of this label (default: all)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--history", type=Path, metavar="FILE",
                        help=f"history file to read (default: {FILENAME} in the state directory)")
    source.add_argument("--events", type=Path, action="append", metavar="F.jsonl",
                        help="read events from JSON lines instead (repeatable)")
    add("--state-dir", type=Path, metavar="DIR",
        help="state directory whose history to read (default: $STATE_DIRECTORY, else "
        "$XDG_STATE_HOME/coughwatch or ~/.local/state/coughwatch)")
    add("--night", type=_window, default=NightWindow.parse(_DEFAULTS.night_start, _DEFAULTS.night_end),
        metavar="HH:MM-HH:MM",
        help=f"the night window, local time (default: {_DEFAULTS.night_start}-"
        f"{_DEFAULTS.night_end}; 00:00-00:00 for whole days)")
    add("--bout-gap-s", type=cliargs.positive_float, default=DEFAULT_BOUT_GAP_S, metavar="S",
        help="coughs at most S seconds apart form one bout (default: %(default)g)")
    parser.set_defaults(handler=run)
    return parser


def parse_when(text: str) -> datetime:
    """``--since``/``--until``: naive local time from a date, a time, ``Nd``/``Nh`` or ``now``."""
    text = text.strip()
    now = datetime.now()
    if text == "now":
        return now
    relative = _RELATIVE.match(text)
    if relative:
        amount = float(relative["n"])
        return now - (timedelta(days=amount) if relative["unit"] == "d" else timedelta(hours=amount))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date, time or span: {text!r} (e.g. 2026-01-05, 2026-01-05T20:00, 7d, now)"
        ) from None
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def _window(text: str) -> NightWindow:
    try:
        return NightWindow.parse_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Read the events, build the report, write it."""
    kind = args.out.suffix.lower()
    if kind not in FORMATS:
        raise CoughwatchError(f"--out {args.out}: the name must end in .html, .png or .csv")
    if kind != ".csv":
        from monitor.history.render_png import pyplot

        pyplot()  # fail now, not after reading a year of history
    nights = nights_between(args.night, args.since, args.until)
    if not nights:
        raise CoughwatchError(f"no night ({args.night}) starts between {args.since:%Y-%m-%d %H:%M} "
                              f"and {args.until:%Y-%m-%d %H:%M}")
    begin, _ = args.night.bounds(nights[0])
    _, end = args.night.bounds(nights[-1])
    events, where = _load(args, begin.timestamp(), end.timestamp())
    chosen = [e for e in events if (args.device is None or e.device_id == args.device)
              and (args.label is None or e.label == args.label)]  # fmt: skip
    report = build_report(chosen, args.night, nights, datetime.now(), args.bout_gap_s, where)
    _write(report, args.out, kind)
    log.info("%s: %d night(s), %d cough(s) in %d bout(s)", args.out, len(report.nights),
             report.coughs, report.bouts)  # fmt: skip
    return EXIT_OK


def _load(args: argparse.Namespace, begin_s: float, end_s: float) -> tuple[list[HistoryEvent], str]:
    """The events starting in ``[begin_s, end_s)`` and a name for where they came from."""
    if args.events:
        events: list[HistoryEvent] = []
        for path in args.events:
            found, skipped = read_events_jsonl(path)
            if skipped:
                log.warning("%s: %d line(s) that are not events skipped", path, skipped)
            events += found
        chosen = _deduplicated(e for e in events if begin_s <= e.start_unix_s < end_s)
        return chosen, ", ".join(str(p) for p in args.events)
    path = args.history
    if path is None:
        from monitor.mqtt.state_dir import default_state_dir

        path = (args.state_dir or default_state_dir()) / FILENAME
    return list(read_history(path, begin_s, end_s)), str(path)


def _deduplicated(events: Iterable[HistoryEvent]) -> list[HistoryEvent]:
    """One event per ``event_id`` (the same file given twice, re-emitted events)."""
    return list({event.event_id: event for event in events}.values())


def _write(report: CoughReport, out: Path, kind: str) -> None:
    if kind == ".csv":
        from monitor.history.render_csv import write_csv

        write_csv(report, out)
    elif kind == ".png":
        from monitor.history.render_png import write_png

        write_png(report, out)
    else:
        from monitor.history.render_html import write_html

        write_html(report, out, datetime.now())
