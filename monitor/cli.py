"""``cough-monitor``: the monitor's command line.

Each subcommand lives in its own module, which provides
``add_parser(subparsers, help_line) -> ArgumentParser`` and sets
``handler=run`` (a function ``run(args) -> int`` returning the exit status).
Only the module of the subcommand being run is imported, so ``listen`` does
not load what ``replay`` needs (soundfile, plotting, ...); ``--help`` lists
them all from :data:`SUBCOMMANDS`. To add a subcommand, add its row there.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from collections.abc import Collection, Sequence
from typing import Final, NamedTuple

from monitor.errors import EXIT_INTERRUPTED, CoughwatchError, report_error

PROG: Final = "cough-monitor"
EXIT_BROKEN_PIPE: Final = 128 + signal.SIGPIPE
"""141: what a shell reports for a writer stopped by SIGPIPE (``yes | head -1``)."""


class Subcommand(NamedTuple):
    """Where a subcommand is defined, and its line in ``cough-monitor --help``."""

    module: str
    help_line: str


SUBCOMMANDS: Final[dict[str, Subcommand]] = {
    "replay": Subcommand(
        "monitor.commands.replay",
        "score audio files through the live pipeline; JSON events on stdout"),
    "info": Subcommand("monitor.commands.info", "print a model's metadata"),
    "listen": Subcommand(  # live helper: the daemon
        "monitor.commands.listen", "listen to a microphone and report cough events (the daemon)"),
    "devices": Subcommand("monitor.commands.devices", "list audio input devices"),  # live helper
    "report": Subcommand(
        "monitor.history.report_cli", "coughs per hour and per night from the history (CSV/PNG/HTML)"),
}


def build_parser(load: Collection[str] = tuple(SUBCOMMANDS)) -> argparse.ArgumentParser:
    """The ``cough-monitor`` parser, listing every subcommand.

    Only the subcommands named in ``load`` (default: all) have their module
    imported and their flags defined; the others are just names in ``--help``.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="coughwatch monitor: score audio with a coughwatch ONNX model and report "
        "cough events (stdout JSON lines, files, MQTT).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, sub in SUBCOMMANDS.items():
        if name in load:
            importlib.import_module(sub.module).add_parser(subparsers, sub.help_line)
        else:
            subparsers.add_parser(name, help=sub.help_line)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line: its first argument that is not an option
    (``cough-monitor`` itself has no option that takes a value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def configure_logging(debug: bool) -> None:
    """Logs to stderr, no timestamps (journald adds them); ``--debug`` for detail."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if debug else f"{PROG}: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cough-monitor`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = chosen_command(argv)
    args = build_parser(load=(command,) if command else ()).parse_args(argv)
    configure_logging(getattr(args, "debug", False))
    try:
        return int(args.handler(args))
    except CoughwatchError as exc:
        return report_error(PROG, exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `cough-monitor replay x.wav | head -1`: the reader is gone
        # As the Python docs advise: point stdout at /dev/null so the interpreter's final
        # flush does not fail again, and exit quietly with the conventional status.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
