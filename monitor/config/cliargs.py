"""Argument groups shared by the ``cough-monitor`` subcommands, and their settings.

``replay`` and ``listen`` take the same model, detection and identity flags;
each subcommand adds the groups it needs and turns them into settings with
:func:`detection_settings` once the model (and so its defaults) is known.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from monitor.config.device_id import resolve_device_id
from monitor.errors import ConfigError
from monitor.scoring.detector import (
    MAX_MERGE_GAP_S,
    MAX_MIN_DURATION_S,
    MAX_ONSET_WINDOWS,
    MAX_REFRACTORY_S,
    DetectorSettings,
    Framing,
)
from monitor.scoring.modelfile import ModelInfo

OFF_RATIO: Final = 0.7
"""Default ``threshold_off`` = this × ``threshold_on``."""
MAX_THREADS: Final = 64
"""onnxruntime threads at most (as ``threads`` in the listen config); more only hangs."""
MAX_HOP_MS: Final = 60000.0
"""Longest ``--hop-ms`` (as ``hop_ms`` in the listen config)."""


def common_parent() -> argparse.ArgumentParser:
    """Flags every subcommand has (``--debug``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", help="verbose logging on stderr")
    return parent


class KeepLineBreaks(argparse.HelpFormatter):
    """argparse's formatter, except that a text with line breaks of its own (a table such as
    the exit statuses) is printed as written instead of re-wrapped."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model`` and ``--threads``."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model", type=Path, metavar="M.onnx",
        help="coughwatch ONNX model (default: the model bundled with the package)",
    )  # fmt: skip
    group.add_argument(
        "--threads", type=int_in(1, MAX_THREADS), default=1, metavar="N",
        help=f"onnxruntime threads for scoring, 1..{MAX_THREADS} (default: 1)",
    )  # fmt: skip


FROM_MODEL: Final = "default: from the model"
"""What ``--help`` says for a flag whose default is stored in the model file."""


def add_detection_arguments(parser: argparse.ArgumentParser) -> None:
    """Hop and event-detector flags (defaults come from the model, else DetectorSettings)."""
    fallback = DetectorSettings(threshold_on=1.0, threshold_off=OFF_RATIO)
    group = parser.add_argument_group(
        "event detection (times on the sample clock)",
        "Unset flags take the values stored in the model, chosen with it on validation "
        "streams; `cough-monitor info` shows the effective values. A model that stores none "
        f"uses its threshold, threshold-off {OFF_RATIO} x threshold, onset "
        f"{fallback.onset_k}-of-{fallback.onset_n}, min duration "
        f"{fallback.min_duration_s * 1000:g} ms, merge gap {fallback.merge_gap_s * 1000:g} ms, "
        f"refractory {fallback.refractory_s * 1000:g} ms.",
    )
    add = group.add_argument
    add("--hop-ms", type=float_in(0.0, MAX_HOP_MS, low_open=True), metavar="MS",
        help=f"distance between scored windows ({FROM_MODEL}: its run hop if it has one, "
        "else a quarter of its window)")
    add("--threshold", type=unit_float, metavar="X",
        help=f"onset threshold on the window score ({FROM_MODEL})")
    add("--threshold-off", type=unit_float, metavar="X",
        help="a bout continues while scores stay at or above this "
        f"({FROM_MODEL}; with --threshold: {OFF_RATIO} x --threshold)")
    add("--onset-k", type=int_in(1, MAX_ONSET_WINDOWS), metavar="K",
        help=f"positive windows needed among the last --onset-n ({FROM_MODEL})")
    add("--onset-n", type=int_in(1, MAX_ONSET_WINDOWS), metavar="N",
        help=f"k-of-n onset look-back in windows ({FROM_MODEL})")
    add("--min-duration-ms", type=float_in(0.0, 1000 * MAX_MIN_DURATION_S), metavar="MS",
        help=f"shorter bouts are ignored ({FROM_MODEL})")
    add("--merge-gap-ms", type=float_in(0.0, 1000 * MAX_MERGE_GAP_S), metavar="MS",
        help=f"dips up to this long merge into one event ({FROM_MODEL})")
    add("--refractory-ms", type=float_in(0.0, 1000 * MAX_REFRACTORY_S), metavar="MS",
        help=f"no new event starts this soon after one ended ({FROM_MODEL})")  # fmt: skip


def add_identity_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device-id``."""
    parser.add_argument(
        "--device-id", default=None, metavar="ID",
        help="device id in events and event ids (default: the host name)",
    )  # fmt: skip


def device_id(args: argparse.Namespace) -> str:
    """The effective device id (``--device-id``, else the host name), checked.

    Raises :class:`ConfigError` (one line) for an id that cannot be an MQTT topic level.
    """
    return resolve_device_id(args.device_id)


def detection_settings(args: argparse.Namespace, info: ModelInfo) -> tuple[DetectorSettings, Framing]:
    """Detector settings and framing from the flags, with the model's defaults."""
    model = info.detector_defaults  # chosen with the model on validation streams
    threshold_on = args.threshold if args.threshold is not None else info.threshold
    if args.threshold_off is not None:
        threshold_off = args.threshold_off
    elif args.threshold is None and "threshold_off" in model:
        threshold_off = model["threshold_off"]
    else:
        threshold_off = OFF_RATIO * threshold_on
    overrides = {
        "onset_k": args.onset_k,
        "onset_n": args.onset_n,
        "min_duration_s": _seconds(args.min_duration_ms),
        "merge_gap_s": _seconds(args.merge_gap_ms),
        "refractory_s": _seconds(args.refractory_ms),
    }
    for key, value in overrides.items():
        if value is None and key in model:
            overrides[key] = int(model[key]) if key.startswith("onset") else model[key]
    settings = DetectorSettings(
        threshold_on=threshold_on,
        threshold_off=threshold_off,
        **{key: value for key, value in overrides.items() if value is not None},
    )
    spec = info.spec
    if args.hop_ms is None:
        hop_samples = info.default_hop_samples
    else:
        hop_exact = args.hop_ms * spec.sample_rate / 1000
        hop_samples = round(hop_exact) if math.isfinite(hop_exact) else 0
        if not 1 <= hop_samples <= spec.window_samples:
            raise ConfigError(
                f"--hop-ms {args.hop_ms:g} must be between one sample and the model's window "
                f"({1000 * spec.window_s:g} ms)"
            )
    return settings, Framing(spec.sample_rate, spec.window_samples, hop_samples)


def model_detection_settings(info: ModelInfo) -> tuple[DetectorSettings, Framing]:
    """What replay and listen use for ``info``'s model when no detection flag is given."""
    unset = dict.fromkeys(
        ("hop_ms", "threshold", "threshold_off", "onset_k", "onset_n",
         "min_duration_ms", "merge_gap_ms", "refractory_ms"))  # fmt: skip
    return detection_settings(argparse.Namespace(**unset), info)


def _seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000.0


def parse_start_time(text: str) -> datetime:
    """``--start-time``: ISO 8601; ``Z`` or no zone means UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def int_in(low: int, high: int) -> Callable[[str], int]:
    """argparse type: an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        value = positive_int(text) if low == 1 else _int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, not {value}")
        return value

    return parse


def float_in(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""

    def parse(text: str) -> float:
        value = _float(text)
        if value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(
                f"must be {'more than' if low_open else 'at least'} {low:g}, not {value:g}")
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, not {value:g}")
        return value

    return parse


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {value:g}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value:g}")
    return value


def unit_float(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value:g}")
    return value
