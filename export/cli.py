"""``cough-export RUN_DIR --out model.onnx``: one checked ONNX file (+ model card) per run."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from export.preflight import check_opset, check_writable, checkpoint_path
from export.settings import (
    DEFAULT_EVAL_CLIPS,
    DEFAULT_OPSET,
    DEFAULT_PARITY_CLIPS,
    MAX_AUC_DROP,
    ExportSettings,
)
from monitor.errors import EXIT_OK, CoughwatchError, report_error

if TYPE_CHECKING:
    from export.pipeline import ExportResult

PROG: Final = "cough-export"
OWN_LOGGERS: Final = ("export", "train", "monitor")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``cough-export``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export a trained run to ONE ONNX file (log-mel front end + network + "
        "sigmoid/softmax, metadata inside), check it scores like torch, write a model card.",
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR",
                        help="run directory from cough-train (holds model.pt), or a model.pt file")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.onnx",
                        help="ONNX file to write (replaced if it exists; written only if every check passes)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, metavar="N",
                        help=f"ONNX opset (default {DEFAULT_OPSET}; 18 or newer)")
    parser.add_argument("--quantize", choices=["int8"], default=None,
                        help="int8: static int8 quantisation of the network (front end stays float32); "
                        "reports size, speed and validation AUC change")
    parser.add_argument("--max-auc-drop", type=float, default=MAX_AUC_DROP, metavar="X",
                        help=f"refuse an int8 file whose AUC drops by more than X (default {MAX_AUC_DROP})")
    parser.add_argument("--force", action="store_true",
                        help="write the int8 file even when its AUC drops by more than --max-auc-drop")
    parser.add_argument("--card", action=argparse.BooleanOptionalAction, default=True,
                        help="write the model card FILE.onnx.md beside the model (default: yes)")
    parser.add_argument("--parity-clips", type=int, default=DEFAULT_PARITY_CLIPS, metavar="N",
                        help="validation clips (when the run recorded them) added to the parity probes "
                        f"(default {DEFAULT_PARITY_CLIPS})")
    parser.add_argument("--eval-clips", type=int, default=DEFAULT_EVAL_CLIPS, metavar="N",
                        help=f"validation clips for the int8 AUC comparison (default {DEFAULT_EVAL_CLIPS})")
    parser.add_argument("--name", metavar="NAME",
                        help="model name (cough-monitor info, events' model.name); default: the name "
                        "given to cough-train (--name, else its run folder's name)")
    parser.add_argument("--debug", action="store_true", help="verbose logging on stderr")
    return parser


def settings_from_args(args: argparse.Namespace) -> ExportSettings:
    """Validated settings; raises :class:`CoughwatchError` naming a bad value."""
    for flag, value in (("--parity-clips", args.parity_clips), ("--eval-clips", args.eval_clips)):
        if value < 0:
            raise CoughwatchError(f"{flag} must be >= 0, not {value}")
    if args.force and args.quantize is None:
        logging.getLogger(__name__).warning("--force only matters with --quantize int8")
    return ExportSettings(
        run=args.run, out=args.out, opset=args.opset, quantize=args.quantize, force=args.force,
        max_auc_drop=args.max_auc_drop, card=args.card, parity_clips=args.parity_clips,
        eval_clips=args.eval_clips, name=args.name,
    )


def print_summary(result: ExportResult) -> None:
    """A short report on stdout: the file, its checks, int8 numbers, the card."""
    info = result.model.info
    print(f"wrote {result.model.path} ({result.model.path.stat().st_size / 1024:.0f} KiB, "
          f"sha256 {result.model.sha256[:12]}): {info.name}, {info.task}, labels {list(info.labels)}, "
          f"{info.spec.window_samples} samples at {info.spec.sample_rate} Hz, "
          f"export {result.export_s:.1f} s")
    for line in result.parity.lines() + (result.quant.lines() if result.quant else []) + result.notes:
        print(f"  {line}")
    if result.card is not None:
        print(f"model card: {result.card}")


def configure_logging(debug: bool) -> None:
    """Warnings on stderr; ``--debug`` adds coughwatch's own debug lines (not torch's)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cough-export``; returns the exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(args.debug)
    try:
        settings = settings_from_args(args)
        check_opset(settings.opset)  # the cheap checks first: torch takes seconds to import
        checkpoint_path(settings.run)
        check_writable(settings.out)
        from export.pipeline import run_export

        print_summary(run_export(settings))
    except CoughwatchError as exc:
        return report_error(PROG, exc)
    except KeyboardInterrupt:
        return report_error(PROG, CoughwatchError("interrupted; nothing written"))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
