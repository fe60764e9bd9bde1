"""``cough-monitor info``: what a model file says about itself."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from monitor.config import cliargs
from monitor.errors import EXIT_OK
from monitor.scoring.modelfile import LoadedModel, load_model


def add_parser(subparsers: argparse._SubParsersAction, help_line: str) -> argparse.ArgumentParser:
    """Register ``info``; ``help_line`` is its line in ``cough-monitor --help``."""
    parser = subparsers.add_parser(
        "info", parents=[cliargs.common_parent()],
        help=help_line,
        description="Print the metadata of a coughwatch ONNX model (default: the bundled one).",
    )  # fmt: skip
    parser.add_argument(
        "--model", type=Path, metavar="M.onnx",
        help="coughwatch ONNX model (default: the model bundled with the package)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the metadata of ``--model``."""
    model = load_model(args.model)
    if args.json:
        print(json.dumps(model_metadata(model), indent=2))
    else:
        sys.stdout.write(describe(model))
    return EXIT_OK


def model_metadata(model: LoadedModel) -> dict[str, Any]:
    """The model's metadata as plain JSON (JSON-valued extras decoded)."""
    info = model.info
    return {
        "path": str(model.path),
        "sha256": model.sha256,
        "model_id": model.model_id,
        "name": info.name,
        "preset": info.preset,
        "format_version": info.format_version,
        "task": info.task,
        "labels": list(info.labels),
        "event_labels": list(info.event_labels),
        "threshold": info.threshold,
        "feature_spec": asdict(info.spec),
        "detection": effective_detection(model),
        "extra": {key: _decoded(value) for key, value in sorted(info.extra.items())},
    }


def describe(model: LoadedModel) -> str:
    """Human-readable metadata, one ``key  value`` per line."""
    info, spec = model.info, model.info.spec
    scale = f"log(mel + {spec.log_offset:g})" if spec.log else "mel power (no log)"
    rows = [
        ("model", f"{info.name} (preset {info.preset or '-'}, format {info.format_version})"),
        ("file", str(model.path)),
        ("sha256", model.sha256),
        ("task", info.task),
        ("labels", ", ".join(info.labels)),
        ("event labels", ", ".join(info.event_labels)),
        ("threshold", f"{info.threshold:g}"),
        ("input", f"{spec.sample_rate} Hz mono, {spec.window_samples} samples per window "
                  f"({spec.window_s:.3f} s)"),
        ("front end", f"n_fft {spec.n_fft}, hop {spec.hop_length}, {spec.n_mels} mels "
                      f"{spec.f_min:g}-{spec.f_max:g} Hz, {scale}, normalize {spec.normalize}, "
                      f"{'centred' if spec.center else 'uncentred'} frames"),
        ("default hop", f"{info.default_hop_samples} samples "
                        f"({1000 * info.default_hop_samples / spec.sample_rate:g} ms)"),
        ("runs", f"windows {info.run_hop_samples} samples apart share frames (replay)"
                 if info.run_hop_samples else "one window per input row"),
        ("context", f"state of {info.state_size} floats carried from window to window (scored at its "
                    "default hop only)" if info.state_size else "none: each window scored on its own"),
        ("detection", _detection_line(effective_detection(model))),
    ]  # fmt: skip
    rows += [(key, value) for key, value in sorted(info.extra.items())]
    width = max(len(key) for key, _ in rows)
    return "".join(f"{key:<{width}}  {value}\n" for key, value in rows)


def effective_detection(model: LoadedModel) -> dict[str, float | int]:
    """The detection settings replay and listen use with this model when no flag overrides
    them (the model's stored defaults, else the monitor's); times in ms."""
    settings, framing = cliargs.model_detection_settings(model.info)
    return {
        "threshold": settings.threshold_on,
        "threshold_off": round(settings.threshold_off, 6),
        "onset_k": settings.onset_k,
        "onset_n": settings.onset_n,
        "min_duration_ms": round(settings.min_duration_s * 1000, 3),
        "merge_gap_ms": round(settings.merge_gap_s * 1000, 3),
        "refractory_ms": round(settings.refractory_s * 1000, 3),
        "hop_ms": round(1000 * framing.hop_samples / framing.sample_rate, 3),
    }


def _detection_line(values: dict[str, float | int]) -> str:
    return (
        f"threshold {values['threshold']:g} (off {values['threshold_off']:g}), "
        f"onset {values['onset_k']}-of-{values['onset_n']}, "
        f"min duration {values['min_duration_ms']:g} ms, merge gap {values['merge_gap_ms']:g} ms, "
        f"refractory {values['refractory_ms']:g} ms, hop {values['hop_ms']:g} ms "
        "(used when no flag or setting overrides them)"
    )


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
