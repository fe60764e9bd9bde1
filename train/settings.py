"""Settings of one training run: a frozen dataclass, validated when built.

Values left as ``None`` follow the preset: the tutorial presets (``seed``,
``seed-log``) keep the tutorial's data handling (first window, no augmentation,
MSE on the sigmoid for regression) so they stay comparable; ``default`` and
``fast`` train for the stream (energy crops, augmentation, BCE with soft targets).

Why BCE for regression: on a 1,200-clip coughset subset (400 cough, 0/1
targets, group split, 6 epochs, seed 0) MSE on the sigmoid left the tutorial's
raw-power ``seed`` model unlearnt (validation ROC AUC 0.54, RMSE 0.55: the
sigmoid saturates and its gradient vanishes) where BCE reached AUC 0.89 / RMSE
0.35; on ``default`` BCE was also ahead (AUC 0.994 / RMSE 0.211 vs 0.990 /
0.229). Both losses are minimised by the same calibrated score.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import torch

from monitor.errors import ConfigError
from train.augment import AugmentSettings
from train.crop import CROP_POLICIES
from train.models import PRESETS, TASKS

DEVICES: Final = ("auto", "cpu", "cuda")
REGRESSION_LOSSES: Final = ("bce", "mse")
TUTORIAL_PRESETS: Final = frozenset({"seed", "seed-log"})
KEEP_POLICIES: Final = ("best", "last")


@dataclass(frozen=True)
class TrainSettings:
    """Everything a run needs besides the clips (see ``cough-train --help`` for each flag)."""

    out_dir: Path
    """Run folder: model.pt, metrics.json, history.csv, plots, summary.txt."""
    task: str = "binary"
    """binary (cough vs rest), regression (score in [0, 1]) or multiclass."""
    preset: str = "default"
    """Model + features: seed (the tutorial), seed-log, default."""
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    """AdamW learning rate (cosine-annealed over ``epochs``)."""
    weight_decay: float = 1e-4
    ema_decay: float = 0.0
    """Keep (and validate) an exponential moving average of the weights with this decay per
    step; 0 = off."""
    seed: int = 0
    """Seeds the split, the weights, shuffling, crops and augmentation."""
    patience: int = 8
    """Early stopping: epochs without a better validation score (``keep="best"`` only)."""
    keep: str = "best"
    """Which weights to keep: ``best`` (the best validation epoch) or ``last`` (the final epoch)."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda."""
    workers: int = 0
    """DataLoader worker processes (0 = main process)."""
    decode_threads: int = 2
    """Threads decoding audio into the cache."""
    val_fraction: float = 0.2
    """Share of clips (whole groups) held out for validation."""
    augment: bool | None = None
    """None = preset default (on for ``default`` and ``fast``, off for the tutorial presets)."""
    crop: str | None = None
    """first or energy; None = preset default (first for the tutorial presets)."""
    regression_loss: str | None = None
    """bce or mse; None = preset default (mse for the tutorial presets)."""
    skip_bad: bool = False
    """Leave out unusable files with a warning instead of stopping."""
    cache_dir: Path | None = None
    """Disk cache root: decoded waveforms in ``waveforms/``, COUGHVID wavs in ``coughvid/``; None = memory only."""
    spec_overrides: dict[str, Any] = field(default_factory=dict)
    """FeatureSpec fields to change from the preset (e.g. ``{"sample_rate": 8000}``)."""
    augment_settings: AugmentSettings = field(default_factory=AugmentSettings)
    provenance: dict[str, Any] = field(default_factory=dict)
    """Copied into the checkpoint's ``extra``: command, source, manifest_sha256, ..."""
    model_name: str | None = None
    """Name the exported model carries (``cough-monitor info``, events' ``model.name``);
    None: the run folder's name."""

    def __post_init__(self) -> None:
        _check(self.task in TASKS, f"--task must be one of {', '.join(TASKS)}, not {self.task!r}")
        _check(self.preset in PRESETS, f"--preset must be one of {', '.join(PRESETS)}, not {self.preset!r}")
        _check(self.device in DEVICES, f"--device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        _check(self.crop is None or self.crop in CROP_POLICIES, f"--crop must be one of {', '.join(CROP_POLICIES)}")
        _check(self.regression_loss is None or self.regression_loss in REGRESSION_LOSSES,
               f"--regression-loss must be one of {', '.join(REGRESSION_LOSSES)}")
        for name in ("epochs", "batch_size", "patience", "decode_threads"):
            _check(getattr(self, name) >= 1, f"--{name.replace('_', '-')} must be at least 1")
        _check(self.workers >= 0, "--workers must be 0 or more")
        _check(self.lr > 0 and self.weight_decay >= 0, "--lr must be > 0 and weight decay >= 0")
        _check(0.0 <= self.ema_decay < 1.0, "--ema-decay must be in [0, 1)")
        _check(self.keep in KEEP_POLICIES, f"--keep must be one of {', '.join(KEEP_POLICIES)}, not {self.keep!r}")
        _check(0.0 < self.val_fraction < 1.0, "--val-fraction must be between 0 and 1")
        _check(self.model_name is None or bool(self.model_name.strip()), "--name must not be empty")

    @property
    def tutorial_data(self) -> bool:
        """True for the presets that keep the tutorial's data handling."""
        return self.preset in TUTORIAL_PRESETS

    @property
    def use_augment(self) -> bool:
        return (not self.tutorial_data) if self.augment is None else self.augment

    @property
    def crop_policy(self) -> str:
        return self.crop or ("first" if self.tutorial_data else "energy")

    @property
    def loss_for_regression(self) -> str:
        return self.regression_loss or ("mse" if self.tutorial_data else "bce")

    def torch_device(self) -> torch.device:
        """The device to train on (see :func:`resolve_device`)."""
        return resolve_device(self.device)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; :class:`ConfigError` for ``cuda`` without a GPU."""
    if name not in DEVICES:
        raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, not {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (use --device auto or cpu)")
    if name == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def prepare_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` and prove it writable; :class:`ConfigError` naming it otherwise."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{out_dir}: output folder is not writable ({exc.strerror or exc})") from None
    if not os.access(out_dir, os.W_OK):
        raise ConfigError(f"{out_dir}: output folder is not writable")
    return out_dir


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
