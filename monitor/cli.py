"""``cough-monitor``: the monitor's command line.

Each subcommand lives in its own module, which provides
``add_parser(subparsers) -> ArgumentParser`` and sets ``handler=run`` (a
function ``run(args) -> int`` returning the exit status). To add a
subcommand, append its module to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Final

from monitor.errors import EXIT_FAILURE, CoughwatchError, report_error

PROG: Final = "cough-monitor"
SUBCOMMANDS: Final[list[str]] = [
    "monitor.replay",
    "monitor.info",
    "monitor.listen",  # live helper: the daemon
    "monitor.devices",  # live helper: audio inputs
]
EXIT_INTERRUPTED: Final = 130


def build_parser() -> argparse.ArgumentParser:
    """The ``cough-monitor`` parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="coughwatch monitor: score audio with a coughwatch ONNX model and report "
        "cough events (stdout JSON lines, files, MQTT).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in SUBCOMMANDS:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def configure_logging(debug: bool) -> None:
    """Logs to stderr, no timestamps (journald adds them); ``--debug`` for detail."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if debug else f"{PROG}: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cough-monitor`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(getattr(args, "debug", False))
    try:
        return int(args.handler(args))
    except CoughwatchError as exc:
        return report_error(PROG, exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `cough-monitor replay x.wav | head -1`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
