"""``cough-monitor listen``: the live daemon's command line.

Flags override the TOML file (``--config``) and ``COUGHWATCH_*`` variables;
see :mod:`monitor.config.sources`. Start-up problems are one line each on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, Final

from monitor.config import cliargs
from monitor.config.device_id import resolve_device_id
from monitor.config.settings import AudioSettings
from monitor.config.sources import ConfigErrors, ConfigSources, load_settings
from monitor.errors import EXIT_FAILURE, ConfigError, report_error
from monitor.live.daemon import Daemon
from monitor.output.local import StdoutSink

PROG: Final = "cough-monitor"

FLAG_KEYS: Final[dict[str, str]] = {
    "model": "model",
    "threads": "threads",
    "hop_ms": "hop_ms",
    "threshold": "detector.threshold",
    "threshold_off": "detector.threshold_off",
    "onset_k": "detector.onset_k",
    "onset_n": "detector.onset_n",
    "min_duration_ms": "detector.min_duration_ms",
    "merge_gap_ms": "detector.merge_gap_ms",
    "refractory_ms": "detector.refractory_ms",
    "device_id": "device_id",
    "state_dir": "state_dir",
    "stats_interval_s": "stats_interval_s",
    "input_device": "audio.input_device",
    "input_url": "audio.input_url",
    "block_ms": "audio.block_ms",
    "stall_timeout_s": "audio.stall_timeout_s",
    "mqtt_host": "mqtt.host",
    "mqtt_port": "mqtt.port",
}
"""argparse destination -> settings key (dotted)."""


def add_parser(subparsers: argparse._SubParsersAction, help_line: str) -> argparse.ArgumentParser:
    """Register ``listen``; ``help_line`` is its line in ``cough-monitor --help``."""
    parser = subparsers.add_parser(
        "listen", parents=[cliargs.common_parent()],
        help=help_line,
        description="Score live microphone audio and report cough events: JSON lines on stdout "
        "(the journal under systemd) and MQTT when configured. Settings come from --config, "
        "COUGHWATCH_* environment variables (COUGHWATCH_MQTT__HOST, ...) and these flags, "
        "flags winning. SIGTERM/SIGINT stop cleanly, SIGHUP reloads the configuration.",
    )  # fmt: skip
    parser.add_argument("--config", type=Path, metavar="FILE.toml",
                        help="settings file (see systemd/coughwatch.toml.example); "
                        "default: $COUGHWATCH_CONFIG if set")  # fmt: skip
    cliargs.add_model_arguments(parser)
    cliargs.add_detection_arguments(parser)
    _add_audio_arguments(parser)
    _add_output_arguments(parser)
    parser.set_defaults(handler=run, threads=None)  # None: not given, the config decides
    return parser


def _add_audio_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("audio input")
    add = group.add_argument
    defaults = AudioSettings()
    add("--input-device", metavar="NAME|INDEX",
        help="input device name (a unique part is enough) or index from `cough-monitor devices` "
        "(default: the system default input)")
    add("--input", dest="input_url", metavar="URL",
        help="read a network stream instead of a sound card: any URL ffmpeg reads "
        "(rtsp://, http://, ...), through an ffmpeg process; credentials in it are never "
        "logged (see docs/network-audio.md)")
    add("--block-ms", type=cliargs.positive_int, metavar="MS",
        help=f"audio per callback in ms (default: {defaults.block_ms})")
    add("--stall-timeout-s", type=cliargs.positive_float, metavar="S",
        help="no audio for this long = stalled: reopen the device, stop feeding the systemd "
        f"watchdog (default: {defaults.stall_timeout_s:g})")  # fmt: skip


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("identity and outputs")
    add = group.add_argument
    add("--device-id", metavar="ID", help="name of this monitor in events and MQTT topics "
        "(default: the host name)")
    add("--mqtt-host", metavar="HOST", help="MQTT broker (other MQTT settings: [mqtt] in the "
        "config or COUGHWATCH_MQTT__*); default: no MQTT")
    add("--mqtt-port", type=cliargs.positive_int, metavar="PORT",
        help="MQTT broker port (default: 1883, 8883 with TLS)")
    add("--state-dir", type=Path, metavar="DIR",
        help="directory of the durable MQTT outbox and the cough history (default: $STATE_DIRECTORY, else "
        "~/.local/state/coughwatch)")
    add("--stats-interval-s", type=cliargs.positive_float, metavar="S",
        help="seconds between stats messages (default: 60)")  # fmt: skip


def flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that were given, as dotted settings keys."""
    flags = {key: getattr(args, dest, None) for dest, key in FLAG_KEYS.items()}
    if args.debug:
        flags["debug"] = True
    return {key: value for key, value in flags.items() if value is not None}


def run(args: argparse.Namespace) -> int:
    """Load and validate the settings, then run the daemon until stopped."""
    sources = ConfigSources(config_file=args.config, environ=dict(os.environ),
                            flags=flag_overrides(args))  # fmt: skip
    try:
        settings = load_settings(sources)
    except ConfigErrors as exc:
        for line in exc.lines:
            report_error(PROG, ConfigError(line))
        return EXIT_FAILURE
    resolve_device_id(settings.device_id)  # unset: the host name must be usable too
    if settings.debug:
        logging.getLogger().setLevel(logging.DEBUG)
    return Daemon(sources, settings, [StdoutSink()]).run()
