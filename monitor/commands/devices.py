"""``cough-monitor devices``: list the audio inputs the monitor can listen to."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from monitor.audio.mic_devices import NO_DEVICES_HINT, format_device_table, list_input_devices
from monitor.config import cliargs
from monitor.errors import EXIT_OK, AudioInputError


def add_parser(subparsers: argparse._SubParsersAction, help_line: str) -> argparse.ArgumentParser:
    """Register ``devices``; ``help_line`` is its line in ``cough-monitor --help``."""
    parser = subparsers.add_parser(
        "devices", parents=[cliargs.common_parent()],
        help=help_line,
        description="List the audio input devices PortAudio sees: index, name, host API, "
        "default sample rate and input channels; '*' marks the system default input. "
        "Use the index or (part of) the name with `listen --input-device`.",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="one JSON object per device")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON lines); no input device at all is an error."""
    devices = list_input_devices()
    if not devices:
        raise AudioInputError(NO_DEVICES_HINT)
    if args.json:
        for device in devices:
            print(json.dumps(asdict(device)))
    else:
        print(format_device_table(devices))
    return EXIT_OK
