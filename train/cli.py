"""``cough-train``: train a cough model from a manifest, class folders or COUGHVID; ``predict`` scores files.

Parser, settings and run are separate steps: :func:`build_parser`,
:func:`settings_from_args`, :func:`load_clips`, then :func:`train.loop.train`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Final

from monitor.errors import EXIT_OK, ConfigError, CoughwatchError, report_error
from train.cache import default_cache_dir
from train.coughvid import load_coughvid, wav_dir_for
from train.crop import CROP_POLICIES
from train.data import Clip, file_sha256, load_folders, load_manifest
from train.errors import BadInputPolicy
from train.loop import TrainResult, train
from train.models import PRESETS, TASKS
from train.settings import DEVICES, KEEP_POLICIES, REGRESSION_LOSSES, TrainSettings

PROG: Final = "cough-train"
EXIT_INTERRUPTED: Final = 130
"""Ctrl-C: the best epoch so far was saved (128 + SIGINT, as shells report it)."""

log = logging.getLogger(__name__)

EPILOG: Final = """\
data: exactly one of --manifest, --folders, --coughvid.
  manifest CSV: columns path,label[,group,...]; paths relative to the CSV; clips
  sharing a group stay on one side of the validation split.
  binary: label 'cough' is positive, anything else negative; regression: a number
  in [0, 1]; multiclass: one output per class name.

outputs in --out: model.pt, metrics.json, history.csv, curves.png, roc_pr.png
(pred_vs_true.png for regression), summary.txt.

score files with a trained run:  cough-train predict --run RUN_DIR FILE...
"""


def build_parser() -> argparse.ArgumentParser:
    """The training command line (every flag documented in ``--help``)."""
    p = argparse.ArgumentParser(prog=PROG, description="Train a cough detector (log-mel CNN).",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, metavar="CSV",
                        help="CSV with path,label[,group] (paths relative to it)")
    source.add_argument("--folders", type=Path, metavar="DIR", help="folder with one sub-folder of audio per class")
    source.add_argument("--coughvid", type=Path, metavar="DIR", help="COUGHVID folder (<uuid>.json + .webm/.ogg/.wav)")
    p.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="run folder to write (created if missing)")
    p.add_argument("--name", metavar="NAME",
                   help="model name in the exported file and in every event's model.name "
                   "(default: the name of the RUN_DIR folder)")
    p.add_argument("--task", choices=TASKS, help="binary (default), regression (default for --coughvid), multiclass")
    p.add_argument("--preset", choices=list(PRESETS), default="default",
                   help="seed = the tutorial exactly, seed-log = it with log-mel, default = BN CNN (default), "
                   "fast = a CNN whose frames and convolutions are shared by overlapping windows "
                   "(replay ~2x faster, 0.125 s hop, fewer coughs found), ctx = fast's network with context "
                   "across windows (a causal stage whose state the monitor carries; trained on 6 s "
                   "sequences built from the clips, binary only, no validation split)")
    p.add_argument("--epochs", metavar="N", type=int, default=30, help="maximum epochs (default 30)")
    p.add_argument("--batch-size", metavar="N", type=int, default=32, help="windows per batch (default 32)")
    p.add_argument("--lr", metavar="LR", type=float, default=1e-3, help="AdamW learning rate, cosine-annealed (default 1e-3)")
    p.add_argument("--ema-decay", metavar="D", type=float, default=0.0,
                   help="keep and validate a moving average of the weights, decay D per step (e.g. 0.998; default 0 = off)")
    p.add_argument("--seed", metavar="N", type=int, default=0, help="seed of split, weights, shuffling, augmentation (default 0)")
    p.add_argument("--patience", metavar="N", type=int, default=8, help="early stopping: epochs without improvement (default 8)")
    p.add_argument("--keep", choices=KEEP_POLICIES, default="best",
                   help="weights to keep: best = the best validation epoch (early stopping), "
                   "last = the final epoch of the cosine schedule (default best)")
    p.add_argument("--val-fraction", metavar="F", type=float, default=0.2, help="share held out for validation (default 0.2)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto = CUDA when present (default)")
    p.add_argument("--workers", metavar="N", type=int, default=0, help="DataLoader worker processes (default 0)")
    aug = p.add_mutually_exclusive_group()
    aug.add_argument("--augment", dest="augment", action="store_true", default=None,
                     help="augment (gain, SNR mixing, telephone band, shift, noise floor); default except seed presets")
    aug.add_argument("--no-augment", dest="augment", action="store_false", help="no augmentation")
    p.add_argument("--crop", choices=CROP_POLICIES,
                   help="first = tutorial's first window; energy = energy-anchored crops (default except seed presets)")
    p.add_argument("--regression-loss", choices=REGRESSION_LOSSES,
                   help="bce = soft-target BCE (default), mse = MSE on the sigmoid (seed presets)")
    p.add_argument("--min-cough-detected", type=float, metavar="X",
                   help="COUGHVID: keep recordings with cough_detected >= X")
    p.add_argument("--skip-bad", action="store_true", help="leave out unusable files with a warning")
    p.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                   help="cache of decoded audio and COUGHVID wavs (default $XDG_CACHE_HOME/coughwatch, "
                        "else ~/.cache/coughwatch)")
    p.add_argument("--debug", action="store_true", help="debug logging")
    return p


def settings_from_args(args: argparse.Namespace, argv: list[str]) -> TrainSettings:
    """Validated settings (raises :class:`~monitor.errors.ConfigError`)."""
    task = args.task or ("regression" if args.coughvid else "binary")
    source_kind, source_path = _source(args)
    provenance = {"command": shlex.join([PROG, *argv]),
                  "source": {"kind": source_kind, "path": str(source_path)},
                  "manifest_sha256": file_sha256(args.manifest) if args.manifest and args.manifest.is_file() else None}
    return TrainSettings(
        out_dir=args.out, task=task, preset=args.preset, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, ema_decay=args.ema_decay, seed=args.seed, patience=args.patience, keep=args.keep,
        device=args.device, workers=args.workers,
        decode_threads=min(8, os.cpu_count() or 1), val_fraction=args.val_fraction, augment=args.augment,
        crop=args.crop, regression_loss=args.regression_loss, skip_bad=args.skip_bad,
        cache_dir=args.cache_dir or default_cache_dir(), provenance=provenance,
        model_name=args.name,
    )


def _source(args: argparse.Namespace) -> tuple[str, Path]:
    if args.manifest:
        return "manifest", args.manifest
    if args.folders:
        return "folders", args.folders
    return "coughvid", args.coughvid


def load_clips(args: argparse.Namespace, settings: TrainSettings, policy: BadInputPolicy) -> list[Clip]:
    """The clips of the chosen source."""
    kind, path = _source(args)
    if kind == "manifest":
        return load_manifest(path, policy)
    if kind == "folders":
        return load_folders(path, policy)
    cache_dir = settings.cache_dir or default_cache_dir()
    return load_coughvid(path, settings.task, wav_dir_for(path, cache_dir), policy, args.min_cough_detected)


def configure_logging(debug: bool) -> None:
    """Log to stderr, no timestamps (journald and terminals add their own)."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(levelname)s: %(message)s",
                        stream=sys.stderr)


def report(result: TrainResult) -> None:
    """The closing lines on stdout: where things went and the headline metrics."""
    v = result.metrics["validation"]
    names = {"regression": ("mae", "rmse", "r2"), "multiclass": ("accuracy", "macro_f1")}
    headline = ", ".join(f"{k} {_fmt(v.get(k))}" for k in
                         ("roc_auc", "average_precision", "f1", *names.get(result.metrics["task"], ())))
    state = "interrupted; " if result.interrupted else ""
    print(f"{state}{result.metrics.get('keep', 'best')} epoch {result.metrics['best_epoch']}: validation {headline}, "
          f"threshold {_fmt(v['threshold'])}")
    if result.skipped:
        print(f"skipped {len(result.skipped)} bad file(s) (listed in metrics.json)")
    print(f"wrote {result.run_dir}/ (model.pt, metrics.json, history.csv, plots, summary.txt)")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def run(argv: list[str]) -> int:
    """Train from a parsed command line; exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(args.debug)
    try:
        settings = settings_from_args(args, argv)
        policy = BadInputPolicy(settings.skip_bad)
        clips = load_clips(args, settings, policy)
        if settings.preset == "ctx":
            return _train_context(settings, clips)
        result = train(settings, clips, policy=policy)
    except (CoughwatchError, OSError) as exc:
        return report_error(PROG, exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted before training started; nothing saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    report(result)
    return EXIT_INTERRUPTED if result.interrupted else EXIT_OK


def _train_context(settings: TrainSettings, clips: list[Clip]) -> int:
    """``--preset ctx``: the context model, trained on multi-second sequences built from ``clips``
    (:mod:`train.sequence_fit`; every clip is training data, there is no validation split;
    4 sequences per clip and epoch, at most 3,000)."""
    from train.sequence_fit import SequenceTrainSettings, train_sequences

    if settings.task != "binary":
        raise ConfigError("--preset ctx trains a binary cough detector: use --task binary")
    sequence = SequenceTrainSettings(
        out_dir=settings.out_dir, epochs=settings.epochs, seed=settings.seed, cache_dir=settings.cache_dir,
        sequences_per_epoch=min(SequenceTrainSettings.sequences_per_epoch, max(64, 4 * len(clips))),
        workers=settings.workers, provenance={**settings.provenance,
                                              "model_name": settings.model_name or settings.out_dir.resolve().name})
    run_dir = train_sequences(sequence, clips)
    print(f"wrote {run_dir}/ (model.pt, metrics.json, history.json): a context model trained on "
          f"{sequence.epochs} x {sequence.sequences_per_epoch} sequences; judge it on your own recordings "
          "(cough-export, then cough-monitor replay)")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Console entry point: ``cough-train [predict] ...``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "predict":
        from train.cli_predict import run_predict

        return run_predict(argv[1:])
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
