"""``cough-train predict --run RUN_DIR FILE...``: one JSON line per file on stdout.

A file that cannot be read gives one error line on stderr; the other files are
still scored and the exit status is 3 (some failed) or 1 (all failed).
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path
from typing import Final

from monitor.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, CoughwatchError, report_error
from train.outputs import CHECKPOINT_NAME, load_checkpoint
from train.predict import HOP_FRACTION, Predictor
from train.settings import DEVICES, resolve_device

PROG: Final = "cough-train predict"


def build_predict_parser() -> argparse.ArgumentParser:
    """The ``predict`` command line."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description=f"Score audio files with a trained run: sliding windows every {HOP_FRACTION:g} window, "
        "per-file max and mean score per label, one JSON object per line.",
    )
    p.add_argument("--run", type=Path, required=True, help=f"run folder holding {CHECKPOINT_NAME} (or the file)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto = CUDA when present (default)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="audio files (wav, flac, ogg, ...)")
    return p


def open_predictor(run: Path, device: str) -> Predictor:
    """Load the run's checkpoint; :class:`CoughwatchError` naming the file when it is unusable."""
    path = run / CHECKPOINT_NAME if run.is_dir() else run
    if not path.is_file():
        raise CoughwatchError(f"{path}: no such checkpoint (train first: cough-train --manifest ... --out {run})")
    try:
        checkpoint = load_checkpoint(path)
    except (pickle.UnpicklingError, EOFError, ValueError, RuntimeError, OSError, KeyError) as exc:
        raise CoughwatchError(f"{path}: not a coughwatch checkpoint ({' '.join(str(exc).split())[:200]})") from None
    return Predictor(checkpoint, resolve_device(device))


def run_predict(argv: list[str]) -> int:
    """Score every file; exit status 0, 3 (some files failed) or 1."""
    args = build_predict_parser().parse_args(argv)
    try:
        predictor = open_predictor(args.run, args.device)
    except CoughwatchError as exc:
        return report_error(PROG, exc)
    failed = 0
    for path in args.files:
        try:
            score = predictor.score_file(path)
        except CoughwatchError as exc:
            report_error(PROG, exc)
            failed += 1
            continue
        print(json.dumps(score.to_dict()), flush=True)
    if failed == 0:
        return EXIT_OK
    return EXIT_FAILURE if failed == len(args.files) else EXIT_PARTIAL
