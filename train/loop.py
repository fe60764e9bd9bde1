"""One training run, end to end: the public API behind ``cough-train``.

>>> from train.data import load_manifest
>>> from train.loop import train
>>> from train.settings import TrainSettings
>>> result = train(TrainSettings(out_dir=Path("runs/a")), load_manifest(Path("data.csv")))

Pass ``val_clips`` to use your own validation set instead of the seeded split,
and ``backgrounds`` (clips of noise, speech, household sound) to widen what the
augmentation mixes coughs into.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio

from train.augment import Augmenter
from train.cache import WaveformCache
from train.data import Clip, clips_sha256
from train.dataset import TrainWindows, eval_batch
from train.errors import BadInputPolicy
from train.evaluation import SELECTED_BY, event_scores
from train.fit import FitResult, FitSettings, fit
from train.labels import LabelScheme, make_scheme
from train.models import Checkpoint, ModelConfig, build_model, preset_config
from train.outputs import (
    METRICS_NAME,
    SUMMARY_NAME,
    HistoryWriter,
    json_safe,
    save_checkpoint,
    write_json,
)
from train.plots import plot_history, plot_pred_vs_true, plot_roc_pr
from train.prepare import ClipSet, check_sets, encode, load_backgrounds, load_set, split
from train.settings import TrainSettings, prepare_out_dir
from train.summary import summary_text

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` produced."""

    run_dir: Path
    checkpoint_path: Path
    checkpoint: Checkpoint
    metrics: dict[str, Any]
    """The content of ``metrics.json``."""
    fit: FitResult
    train_clips: list[Clip]
    val_clips: list[Clip]
    skipped: list[str]
    """One line per file left out under ``skip_bad``."""

    @property
    def interrupted(self) -> bool:
        return self.fit.interrupted


def train(
    settings: TrainSettings,
    clips: Sequence[Clip],
    val_clips: Sequence[Clip] | None = None,
    backgrounds: Sequence[Clip] = (),
    policy: BadInputPolicy | None = None,
) -> TrainResult:
    """Train on ``clips`` (split off validation, or use ``val_clips``) and write the run folder.

    Raises :class:`~monitor.errors.CoughwatchError` subclasses for anything the
    user can fix. Ctrl-C during training keeps the best epoch so far and still
    writes every output (``result.interrupted`` is then True). ``policy``
    (default: from ``settings.skip_bad``) collects per-file problems, so files
    already skipped while reading the source are reported with the rest.
    """
    run_dir = prepare_out_dir(settings.out_dir)
    device = settings.torch_device()
    policy = policy or BadInputPolicy(settings.skip_bad)
    scheme = make_scheme(settings.task, [c.label for c in [*clips, *(val_clips or [])]])
    config = preset_config(settings.preset, settings.task, len(scheme.labels), **settings.spec_overrides)
    train_set, val_set, background_waves = _prepare(settings, scheme, config, policy, clips, val_clips, backgrounds)
    log.info("training %s/%s on %s: %d train + %d validation clips, crop %s, augmentation %s",
             settings.task, settings.preset, device, len(train_set.clips), len(val_set.clips),
             settings.crop_policy, "on" if settings.use_augment else "off")
    torch.manual_seed(settings.seed)
    net = build_model(config)
    _write_summary(net, config, run_dir)
    outcome = _fit(net, settings, config, scheme, train_set, val_set, background_waves, device, run_dir)
    checkpoint = _checkpoint(settings, config, scheme, outcome, train_set, val_set)
    path = save_checkpoint(checkpoint, run_dir)
    metrics = _metrics_json(settings, scheme, outcome, train_set, val_set, policy)
    write_json(metrics, run_dir / METRICS_NAME)
    _plots(run_dir, scheme, outcome, val_set)
    return TrainResult(run_dir, path, checkpoint, metrics, outcome, train_set.clips, val_set.clips,
                       list(policy.problems))


def _prepare(settings: TrainSettings, scheme: LabelScheme, config: ModelConfig, policy: BadInputPolicy,
             clips: Sequence[Clip], val_clips: Sequence[Clip] | None,
             backgrounds: Sequence[Clip]) -> tuple[ClipSet, ClipSet, list[np.ndarray]]:
    cache = WaveformCache(config.spec.sample_rate, settings.cache_dir)
    labelled = encode(clips, scheme, policy)
    if val_clips is None:
        train_set, val_set = split(labelled, scheme, settings.val_fraction, settings.seed)
    else:
        train_set, val_set = labelled, encode(val_clips, scheme, policy)
    train_set = load_set(train_set, cache, policy, settings.decode_threads, "training clips")
    val_set = load_set(val_set, cache, policy, settings.decode_threads, "validation clips")
    check_sets(train_set, val_set, scheme)
    non_events = ~scheme.is_event(train_set.targets)
    pool = [w for w, keep in zip(train_set.waves, non_events, strict=True) if keep]
    pool += load_backgrounds(backgrounds, cache, policy, settings.decode_threads)
    return train_set, val_set, pool


def _write_summary(net: torch.nn.Module, config: ModelConfig, run_dir: Path) -> None:
    text = summary_text(net, torch.zeros(1, config.spec.window_samples))
    (run_dir / SUMMARY_NAME).write_text(text + "\n", encoding="utf-8")
    print(text, flush=True)


def _fit(net: torch.nn.Module, settings: TrainSettings, config: ModelConfig, scheme: LabelScheme,
         train_set: ClipSet, val_set: ClipSet, background_waves: list[np.ndarray],
         device: torch.device, run_dir: Path) -> FitResult:
    spec = config.spec
    augmenter = Augmenter(settings.augment_settings, spec.sample_rate, background_waves) if settings.use_augment else None
    dataset = TrainWindows(train_set.waves, train_set.targets, scheme.is_event(train_set.targets),
                           spec.window_samples, spec.sample_rate, settings.crop_policy, augmenter, settings.seed)
    val_windows = eval_batch(val_set.waves, spec.window_samples, spec.sample_rate, settings.crop_policy)
    val_targets = torch.from_numpy(val_set.targets)
    if scheme.task != "multiclass":
        val_targets = val_targets.unsqueeze(-1)
    fit_settings = FitSettings(settings.epochs, settings.batch_size, settings.lr, settings.weight_decay,
                               settings.patience, device, settings.workers, settings.seed,
                               settings.loss_for_regression, settings.ema_decay, settings.keep)
    return fit(net, dataset, val_windows, val_targets, scheme, fit_settings, HistoryWriter(run_dir, scheme.task))


def _checkpoint(settings: TrainSettings, config: ModelConfig, scheme: LabelScheme, outcome: FitResult,
                train_set: ClipSet, val_set: ClipSet) -> Checkpoint:
    extra = {
        **settings.provenance,
        "seed": settings.seed,
        "epoch": outcome.best_epoch,
        "interrupted": outcome.interrupted,
        "torch_version": str(torch.__version__),
        "torchaudio_version": str(torchaudio.__version__),
        "data_sha256": clips_sha256([*train_set.clips, *val_set.clips]),
        "n_train": len(train_set.clips),
        "model_name": settings.model_name or settings.out_dir.resolve().name,
        "crop": settings.crop_policy,
        "augment": settings.use_augment,
        "validation_clips": [
            {"path": c.rel_path, "label": c.label, "file": str(c.path)} for c in val_set.clips
        ],
    }
    return Checkpoint(config, list(scheme.labels), list(scheme.event_labels), outcome.best_state,
                      threshold=float(outcome.best_metrics["threshold"]),
                      metrics=json_safe(outcome.best_metrics), extra=extra)


def _metrics_json(settings: TrainSettings, scheme: LabelScheme, outcome: FitResult, train_set: ClipSet,
                  val_set: ClipSet, policy: BadInputPolicy) -> dict[str, Any]:
    seconds = [r.seconds for r in outcome.history]
    return {
        "task": settings.task,
        "preset": settings.preset,
        "labels": list(scheme.labels),
        "event_labels": list(scheme.event_labels),
        "best_epoch": outcome.best_epoch,
        "keep": settings.keep,
        "selected_by": SELECTED_BY[settings.task] if settings.keep == "best" else "last epoch",
        "threshold": outcome.best_metrics["threshold"],
        "validation": outcome.best_metrics,
        "epochs_run": len(outcome.history),
        "seconds_per_epoch": float(np.mean(seconds)) if seconds else None,
        "interrupted": outcome.interrupted,
        "stopped_early": outcome.stopped_early,
        "n_train": len(train_set.clips),
        "n_val": len(val_set.clips),
        "skipped": list(policy.problems),
        "settings": _settings_dict(settings),
    }


def _settings_dict(settings: TrainSettings) -> dict[str, Any]:
    """The effective settings (preset-dependent defaults resolved), JSON-ready."""
    data = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items() if k != "provenance"}
    data.update(augment=settings.use_augment, crop=settings.crop_policy,
                regression_loss=settings.loss_for_regression)
    return data


def _plots(run_dir: Path, scheme: LabelScheme, outcome: FitResult, val_set: ClipSet) -> None:
    if outcome.history:
        plot_history(outcome.history, scheme.task, run_dir / "curves.png")
    scores = event_scores(scheme, outcome.best_probs)
    plot_roc_pr(scheme.is_event(val_set.targets), scores, outcome.best_metrics["threshold"], run_dir / "roc_pr.png")
    if scheme.task == "regression":
        plot_pred_vs_true(val_set.targets, outcome.best_probs[:, 0], run_dir / "pred_vs_true.png")
